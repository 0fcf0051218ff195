import { dirname, resolve } from 'node:path';
import { fail, printable } from '../errors.js';
import { type DockerReference, parseDockerReference } from '../oci/reference.js';
import { matchBaseImage } from '../policy/baseimage.js';
import type { ImageFacts, Policy, SignatureCheck } from '../policy/model.js';
import { fetchSignatureImage } from '../sign/actions.js';
import { loadTrustedKey } from '../sign/open.js';
import { cosignRepositoryName } from '../sign/payload.js';
import type { SignatureStore } from '../sign/store.js';
import { type TrustedKey, verifySignatures } from '../sign/verify.js';

/** The keys a policy's base-image-signature rule names, read for verification. */
export interface PolicyKeys {
  readonly keys: readonly TrustedKey[];
  /** Keys named by fingerprint only: nothing to verify with, said in every check. */
  readonly unusable: readonly string[];
}

/**
 * Read the public keys the policy's `baseImage.signature.keys` names (paths relative to the policy file, as the
 * policy loader read them). A key given as a bare fingerprint cannot verify anything: it is reported, never trusted.
 */
export async function loadPolicyKeys(policy: Policy): Promise<PolicyKeys> {
  const named = policy.rules.baseImage?.signature?.keys ?? [];
  const keys: TrustedKey[] = [];
  const unusable: string[] = [];
  for (const k of named) {
    if (k.source === k.fingerprint) {
      unusable.push(
        `the policy names key ${k.fingerprint} by fingerprint only; the gate needs the PEM public key to verify with it`,
      );
      continue;
    }
    const key = await loadTrustedKey(resolve(dirname(policy.file), k.source), k.source);
    if (key.id !== k.fingerprint) {
      fail('KEY_INVALID', `${k.source}: the key changed while the policy was read (${key.id}, not ${k.fingerprint})`);
    }
    keys.push(key);
  }
  return { keys, unusable };
}

/**
 * The verifier the policy's base-image-signature rule needs: find the approved base the image is built on (as the rule
 * does), fetch the cosign signature of the base's digest from the repository its name gives, and verify it with the
 * policy's keys. Results are cached per base. Registry errors propagate (an unreachable registry is not a verdict).
 */
export function baseSignatureVerifier(
  policy: Policy,
  keys: PolicyKeys,
  storeFor: (ref: DockerReference) => SignatureStore,
): (facts: ImageFacts) => Promise<readonly SignatureCheck[] | undefined> {
  const cache = new Map<string, Promise<SignatureCheck[]>>();
  return async (facts) => {
    const rules = policy.rules.baseImage;
    if (!rules?.signature) return undefined;
    const m = matchBaseImage(rules, facts);
    // No base, or one without a digest: the rule says why; there is nothing to verify.
    if (m.kind === 'none' || !m.base.digest) return [];
    const digest = m.base.digest;
    const key = `${m.base.name}@${digest}`;
    let checks = cache.get(key);
    if (!checks) {
      checks = check(m.base.name, digest, keys, storeFor);
      cache.set(key, checks);
    }
    return checks;
  };
}

async function check(
  name: string,
  digest: string,
  keys: PolicyKeys,
  storeFor: (ref: DockerReference) => SignatureStore,
): Promise<SignatureCheck[]> {
  const notes = keys.unusable.map((detail) => ({ digest, verified: false, detail }));
  let ref: DockerReference;
  try {
    ref = parseDockerReference(name);
  } catch {
    return [
      ...notes,
      {
        digest,
        verified: false,
        detail: `approved base image name '${printable(name, 120)}' is not a registry repository, so its signature cannot be fetched`,
      },
    ];
  }
  if (keys.keys.length === 0) return notes;
  const store = storeFor(ref);
  const fetched = await fetchSignatureImage(store, digest, 'sig');
  const verdict = verifySignatures(
    fetched,
    { digest, repository: cosignRepositoryName(ref.registry, ref.repository) },
    [...keys.keys],
  );
  return [
    ...verdict.verified.map((v) => ({
      digest,
      verified: true,
      keyFingerprint: v.keyId,
      detail: `signature ${v.layer + 1} in ${store.description} verifies with ${v.key}`,
    })),
    ...verdict.failures.map((f) => ({ digest, verified: false, detail: f.message })),
    ...notes,
  ];
}
