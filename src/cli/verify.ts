import { Command, Option } from 'commander';
import { ExitCode, fail } from '../errors.js';
import { fetchSignatureImage, resolveDigest } from '../sign/actions.js';
import { PREDICATE_TYPES, predicateTypeOf } from '../sign/attestation.js';
import { loadTrustedKey, openSignTarget, type SignTarget } from '../sign/open.js';
import { loadTrustPolicyFile, trustedKeysFor, underPolicies } from '../sign/trustcheck.js';
import {
  describeFailures,
  type Failure,
  type TrustedKey,
  type VerifiedAttestation,
  type VerifiedSignature,
  verifyAttestations,
  verifySignatures,
} from '../sign/verify.js';
import { latestAssessment } from '../watch/classify.js';
import { addConnectionOptions, collect, type RegistryFlags, registryOptions } from './common.js';
import { setCommandExitCode } from './exitcode.js';

interface VerifyFlags extends RegistryFlags {
  key: string[];
  trustPolicy?: string;
  identity?: string;
  attestation: string[];
  output: 'text' | 'json';
}

/** `portcullis verify IMAGE --key PUB`: exit 0 when a trusted signature names this digest and repository, else 1. */
export function verifyCommand(): Command {
  const cmd = new Command('verify')
    .description('verify an image signature (and attestations) as cosign does, with the digest and repository checked')
    .argument('<image>', 'the image: docker://host/repo:tag, host/repo@sha256:..., oci:DIR:TAG or oci:DIR:@sha256:...')
    .option('--key <file>', 'trusted public key (PEM); repeatable: any one of them may have signed', collect, [])
    .option('--trust-policy <file>', 'trust policy (YAML): repository patterns to keys and required attestations')
    .option(
      '--identity <repo>',
      'repository the image is published under (host/path); required for an OCI layout, refused for a registry image',
    )
    .option(
      '--attestation <type>',
      'also require a verified attestation: assessment, cyclonedx or a URI; repeatable',
      collect,
      [],
    )
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .exitOverride();
  return addConnectionOptions(cmd).action(async (image: string, flags: VerifyFlags) => {
    if (flags.key.length === 0 && flags.trustPolicy === undefined)
      fail('USAGE', 'give --key PUB or --trust-policy FILE');
    if (flags.key.length > 0 && flags.trustPolicy !== undefined) {
      fail('USAGE', '--key and --trust-policy do not go together; put the key in the policy');
    }
    const target = openSignTarget(image, flags.identity, registryOptions(flags));
    try {
      await verifyTarget(target, flags);
    } finally {
      target.close();
    }
    setCommandExitCode(ExitCode.ok);
  });
}

async function verifyTarget(target: SignTarget, flags: VerifyFlags): Promise<void> {
  const required = flags.attestation.map(predicateTypeOf);
  let keys: TrustedKey[];
  /** The gate policies the trust policy accepts assessments under (undefined: any). */
  let policies: ReadonlySet<string> | undefined;
  if (flags.trustPolicy !== undefined) {
    const policy = await loadTrustPolicyFile(flags.trustPolicy);
    const trusted = await trustedKeysFor(policy, target.repository);
    if (!trusted) {
      fail(
        'NOT_VERIFIED',
        `${target.repository}: no entry of ${policy.file} matches this repository, so no key is trusted for it`,
      );
    }
    keys = trusted.keys;
    policies = trusted.policies;
    for (const a of trusted.attestations) required.push(predicateTypeOf(a));
    // Naming the policies an assessment must be made under requires one, as the webhook and registry watch do.
    if (policies) required.push(predicateTypeOf('assessment'));
  } else {
    keys = await Promise.all(flags.key.map((k) => loadTrustedKey(k)));
  }
  const digest = await resolveDigest(target.store, target.ref);
  const expect = { digest, repository: target.repository };
  const sigs = verifySignatures(await fetchSignatureImage(target.store, digest, 'sig'), expect, keys);
  const failures: Failure[] = [...sigs.failures];
  const attestations: VerifiedAttestation[] = [];
  let attOk = true;
  if (required.length > 0) {
    const fetched = await fetchSignatureImage(target.store, digest, 'att');
    for (const type of [...new Set(required)]) {
      const all = verifyAttestations(fetched, expect, keys, type);
      const v = type === PREDICATE_TYPES.assessment ? underPolicies(all, policies) : all;
      attestations.push(...v.verified);
      if (v.verified.length === 0) {
        attOk = false;
        failures.push(...v.failures);
      } else if (type === PREDICATE_TYPES.assessment) {
        // A required assessment is one that passed: a signed FAIL verifies as a statement, not as an approval.
        const latest = latestAssessment(v.verified);
        if (latest?.decision !== 'PASS') {
          attOk = false;
          failures.push({
            kind: 'assessment-failed',
            message: latest
              ? `the latest verified assessment (${latest.assessedAt}, key ${latest.key}) says ${latest.decision}`
              : `${v.verified.length} verified assessment attestation(s) without a PASS/FAIL decision and assessedAt`,
          });
        }
      }
    }
  }
  const ok = sigs.verified.length > 0 && attOk;
  report(flags.output, ok, target.description, expect, sigs.verified, attestations, failures);
  if (!ok) {
    const what = sigs.verified.length === 0 ? 'signature' : 'attestation';
    const relevant = sigs.verified.length === 0 ? sigs.failures : failures;
    fail('NOT_VERIFIED', `${target.description} (${digest}): no valid ${what}: ${describeFailures(dedupe(relevant))}`);
  }
}

function dedupe(failures: readonly Failure[]): Failure[] {
  const seen = new Set<string>();
  return failures.filter((f) => {
    if (seen.has(f.message)) return false;
    seen.add(f.message);
    return true;
  });
}

function report(
  format: 'text' | 'json',
  ok: boolean,
  image: string,
  expect: { digest: string; repository: string },
  sigs: readonly VerifiedSignature[],
  atts: readonly VerifiedAttestation[],
  failures: readonly Failure[],
): void {
  if (format === 'json') {
    const doc = {
      verified: ok,
      image,
      digest: expect.digest,
      repository: expect.repository,
      signatures: sigs.map((s) => ({
        layer: s.layer,
        key: s.key,
        keyId: s.keyId,
        dockerReference: s.claims.dockerReference,
        optional: s.claims.optional,
      })),
      attestations: atts.map((a) => ({
        layer: a.layer,
        key: a.key,
        keyId: a.keyId,
        predicateType: a.statement.predicateType,
      })),
      failures: failures.map((f) => ({ kind: f.kind, message: f.message })),
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  if (!ok) return; // the NOT_VERIFIED line on stderr says why
  const lines = [`Verified ${image} (${expect.digest}) for ${expect.repository}`];
  for (const s of sigs) lines.push(`  signature ${s.layer + 1}: key ${s.key} (${s.keyId})`);
  for (const a of atts) lines.push(`  attestation ${a.layer + 1}: ${a.statement.predicateType}, key ${a.key}`);
  // Layers that did not verify beside one that did: cosign ignores them; say so rather than hide them.
  for (const f of failures) lines.push(`  ignored: ${f.message}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
