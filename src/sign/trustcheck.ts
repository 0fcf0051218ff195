import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { fail } from '../errors.js';
import { fetchSignatureImage } from './actions.js';
import { loadTrustedKey, type SignTarget } from './open.js';
import { findTrustEntry, MAX_POLICY_BYTES, parseTrustPolicy, type TrustPolicy } from './trustpolicy.js';
import { type Failure, type TrustedKey, type VerifiedSignature, verifySignatures } from './verify.js';

/** Read a trust policy file (`--trust-policy`), at most 1 MiB. */
export async function loadTrustPolicyFile(file: string): Promise<TrustPolicy> {
  const st = await stat(file).catch(() => fail('NOT_FOUND', `${file}: no such trust policy file`));
  if (st.size > MAX_POLICY_BYTES) fail('CONFIG_INVALID', `${file}: over ${MAX_POLICY_BYTES} bytes`);
  return parseTrustPolicy(await readFile(file, 'utf8'), file);
}

/**
 * The keys (and required attestation types) the trust policy names for a repository; undefined when no entry matches,
 * which means nothing is trusted for it. Key paths are relative to the policy file; inline PEM is allowed.
 */
export async function trustedKeysFor(
  policy: TrustPolicy,
  repository: string,
): Promise<{ keys: TrustedKey[]; attestations: readonly string[] } | undefined> {
  const entry = findTrustEntry(policy, repository);
  if (!entry) return undefined;
  const base = dirname(policy.file);
  const keys = await Promise.all(
    entry.keys.map((k, i) =>
      k.trimStart().startsWith('-----BEGIN')
        ? loadTrustedKey(k, `${policy.file}:${entry.line} key ${i + 1}`)
        : loadTrustedKey(isAbsolute(k) ? k : join(base, k)),
    ),
  );
  return { keys, attestations: entry.attestations };
}

/** Whether a digest carries a cosign signature, for this repository, by a key the trust policy names for it. */
export interface SignatureVerdict {
  readonly verified: readonly VerifiedSignature[];
  readonly failures: readonly Failure[];
  /** Set when no trust entry matches the repository. */
  readonly untrusted?: string;
}

/** Fetch and verify the signatures of `digest` in the target's store against the trust policy. */
export async function checkSignature(
  target: SignTarget,
  digest: string,
  policy: TrustPolicy,
): Promise<SignatureVerdict> {
  const trusted = await trustedKeysFor(policy, target.repository);
  if (!trusted)
    return {
      verified: [],
      failures: [],
      untrusted: `${target.repository}: no entry of ${policy.file} matches this repository, so no key is trusted for it`,
    };
  const fetched = await fetchSignatureImage(target.store, digest, 'sig');
  return verifySignatures(fetched, { digest, repository: target.repository }, trusted.keys);
}
