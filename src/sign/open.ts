import { readFile, stat } from 'node:fs/promises';
import { fail, printable } from '../errors.js';
import { describeLocation, parseImageLocation } from '../oci/reference.js';
import { RegistryClient, type RegistryOptions } from '../oci/registry/client.js';
import { RegistryRepository } from '../oci/registry/push.js';
import { decryptPrivateKey, type KeyPair, keyId, MAX_KEY_FILE_BYTES, parsePublicKey } from './keys.js';
import { LayoutSignatureStore } from './layoutstore.js';
import { cosignRepositoryName, normalizeRepository } from './payload.js';
import { RegistrySignatureStore } from './registrystore.js';
import type { SignatureStore } from './store.js';
import type { TrustedKey } from './verify.js';

/** An image to sign or verify: the store its repository lives in, the tag or digest, the repository's name. */
export interface SignTarget {
  readonly store: SignatureStore;
  readonly ref: string;
  readonly repository: string;
  readonly description: string;
  /** Release connections (a registry's); a no-op for a layout. */
  close(): void;
}

/**
 * Open `oci:DIR:TAG` (or `oci:DIR:@sha256:...`), or a registry image (`docker://host/repo:tag`, `host/repo@sha256:...`).
 * An OCI layout has no repository name, so `identity` (the repository the image is published under, `host/path`) is
 * required there; in a registry the repository itself is the identity, and `identity` is refused.
 */
export function openSignTarget(
  input: string,
  identity: string | undefined,
  registry: RegistryOptions = {},
): SignTarget {
  const loc = parseImageLocation(input);
  switch (loc.transport) {
    case 'oci': {
      const ref = loc.ref?.replace(/^@/, '');
      if (!ref)
        fail('USAGE', `'${printable(input, 200)}': name the image in the layout: oci:DIR:TAG or oci:DIR:@sha256:...`);
      if (identity === undefined) {
        fail(
          'USAGE',
          `'${printable(input, 200)}': an OCI layout has no repository name; give --identity host/repo, the repository the image is published under`,
        );
      }
      return {
        store: new LayoutSignatureStore(loc.path),
        ref,
        repository: normalizeRepository(identity),
        description: describeLocation(loc),
        close: () => {},
      };
    }
    case 'docker': {
      const repository = cosignRepositoryName(loc.ref.registry, loc.ref.repository);
      if (identity !== undefined) {
        fail(
          'USAGE',
          `${describeLocation(loc)}: --identity is for OCI layouts; in a registry the signature names the repository itself (${repository})`,
        );
      }
      const client = new RegistryClient(loc.ref.registry, registry);
      return {
        store: new RegistrySignatureStore(new RegistryRepository(client, loc.ref.repository)),
        // A digest wins over a tag written beside it, as docker and cosign read `repo:tag@digest`.
        ref: loc.ref.digest ?? (loc.ref.tag as string),
        repository,
        description: describeLocation(loc),
        close: () => client.close(),
      };
    }
    default:
      return fail(
        'BAD_REFERENCE',
        `'${printable(input, 200)}': sign and verify take oci:DIR:TAG or a registry image (docker://host/repo:tag)`,
      );
  }
}

async function readKeyFile(path: string): Promise<string> {
  const st = await stat(path).catch(() => fail('NOT_FOUND', `${path}: no such key file`));
  if (!st.isFile()) fail('NOT_FOUND', `${path}: not a regular file`);
  if (st.size > MAX_KEY_FILE_BYTES) fail('KEY_INVALID', `${path}: ${st.size} bytes, too large to be a key`);
  return readFile(path, 'utf8');
}

/** Read and decrypt a cosign private key file. */
export async function loadPrivateKey(path: string, password: Uint8Array): Promise<KeyPair> {
  return decryptPrivateKey(await readKeyFile(path), password, path);
}

/** Read a public key from a file path or from inline PEM text (trust policies allow both). */
export async function loadTrustedKey(pathOrPem: string, name?: string): Promise<TrustedKey> {
  const inline = pathOrPem.trimStart().startsWith('-----BEGIN');
  const where = name ?? (inline ? 'inline public key' : pathOrPem);
  const key = parsePublicKey(inline ? pathOrPem : await readKeyFile(pathOrPem), where);
  return { key, id: keyId(key), name: where };
}
