import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { fail, printable } from '../errors.js';
import { attestImage, resolveDigest, signImage } from '../sign/actions.js';
import { predicateTypeOf } from '../sign/attestation.js';
import { loadPrivateKey, openSignTarget } from '../sign/open.js';
import { readPassword } from '../sign/password.js';
import { addConnectionOptions, collect, type RegistryFlags, registryOptions } from './common.js';

interface SignFlags extends RegistryFlags {
  key: string;
  identity?: string;
  annotation: string[];
}

interface AttestFlags extends RegistryFlags {
  key: string;
  identity?: string;
  predicate: string;
  type: string;
  replace?: boolean;
}

/** Predicate files larger than this are refused (an SBOM of a large image is a few MiB). */
const MAX_PREDICATE_BYTES = 32 * 1024 * 1024;

/** `portcullis sign IMAGE --key KEY`: a cosign simple-signing signature in the image's `.sig` tag. */
export function signCommand(): Command {
  const cmd = new Command('sign')
    .description('sign an image as cosign does: a signature of its digest under the tag sha256-<hex>.sig')
    .argument('<image>', 'the image: docker://host/repo:tag, host/repo@sha256:..., oci:DIR:TAG or oci:DIR:@sha256:...')
    .requiredOption(
      '--key <file>',
      'cosign private key (ENCRYPTED SIGSTORE/COSIGN PRIVATE KEY); password: COSIGN_PASSWORD or a prompt',
    )
    .option(
      '--identity <repo>',
      'repository to name in the signature (host/path); required for an OCI layout, refused for a registry image',
    )
    .option('-a, --annotation <key=value>', 'extra signed annotation (payload "optional"); repeatable', collect, [])
    .exitOverride();
  return addConnectionOptions(cmd).action(async (image: string, flags: SignFlags) => {
    const annotations: Record<string, string> = {};
    for (const a of flags.annotation) {
      const eq = a.indexOf('=');
      if (eq <= 0) fail('USAGE', `--annotation '${printable(a, 100)}' is not key=value`);
      annotations[a.slice(0, eq)] = a.slice(eq + 1);
    }
    // Opening a target only parses and reads local files; the key is decrypted before the registry is contacted.
    const target = openSignTarget(image, flags.identity, registryOptions(flags));
    try {
      const key = await loadPrivateKey(flags.key, (await readPassword(false)).bytes);
      const digest = await resolveDigest(target.store, target.ref);
      const r = await signImage(target.store, digest, key, { identity: target.repository, annotations });
      process.stdout.write(
        r.added
          ? `Signed ${digest} for ${target.repository}: ${target.store.description}:${r.tag}\n`
          : `Already signed ${digest} with this key: ${target.store.description}:${r.tag} (nothing written)\n`,
      );
    } finally {
      target.close();
    }
  });
}

/** `portcullis attest IMAGE --key KEY --predicate FILE --type T`: an in-toto attestation in the `.att` tag. */
export function attestCommand(): Command {
  const cmd = new Command('attest')
    .description('attest an image as cosign does: a DSSE-signed in-toto statement under the tag sha256-<hex>.att')
    .argument('<image>', 'the image: docker://host/repo:tag, host/repo@sha256:..., oci:DIR:TAG or oci:DIR:@sha256:...')
    .requiredOption('--key <file>', 'cosign private key; password: COSIGN_PASSWORD or a prompt')
    .requiredOption('--predicate <file>', 'the predicate, a JSON file (an assessment, a CycloneDX SBOM, ...)')
    .addOption(new Option('--type <type>', 'predicate type: assessment, cyclonedx or a URI').default('assessment'))
    .option(
      '--identity <repo>',
      'repository to name as the subject (host/path); required for an OCI layout, refused for a registry image',
    )
    .option('--replace', 'drop earlier attestations of the same type')
    .exitOverride();
  return addConnectionOptions(cmd).action(async (image: string, flags: AttestFlags) => {
    const predicateType = predicateTypeOf(flags.type);
    const text = await readFile(flags.predicate).catch(() =>
      fail('NOT_FOUND', `${flags.predicate}: cannot read the predicate`),
    );
    if (text.length > MAX_PREDICATE_BYTES)
      fail('FILE_TOO_LARGE', `${flags.predicate}: over ${MAX_PREDICATE_BYTES} bytes`);
    let predicate: unknown;
    try {
      predicate = JSON.parse(text.toString('utf8'));
    } catch (err) {
      fail('CONFIG_INVALID', `${flags.predicate}: not JSON (${printable((err as Error).message, 120)})`);
    }
    const target = openSignTarget(image, flags.identity, registryOptions(flags));
    try {
      const key = await loadPrivateKey(flags.key, (await readPassword(false)).bytes);
      const digest = await resolveDigest(target.store, target.ref);
      const r = await attestImage(target.store, digest, key, {
        identity: target.repository,
        predicateType,
        predicate,
        ...(flags.replace ? { replace: true } : {}),
      });
      process.stdout.write(`Attested ${digest} (${predicateType}): ${target.store.description}:${r.tag}\n`);
    } finally {
      target.close();
    }
  });
}
