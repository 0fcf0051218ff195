import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { fail, printable } from '../errors.js';
import { readBoundedFile } from '../util/boundedfile.js';
import { fetchSignatureImage } from './actions.js';
import { loadTrustedKey, type SignTarget } from './open.js';
import { findTrustEntry, MAX_POLICY_BYTES, parseTrustPolicy, type TrustPolicy } from './trustpolicy.js';
import {
  type Failure,
  type TrustedKey,
  type Verdict,
  type VerifiedAttestation,
  type VerifiedSignature,
  verifySignatures,
} from './verify.js';

/** Read a trust policy file (`--trust-policy`), at most 1 MiB. */
export async function loadTrustPolicyFile(file: string): Promise<TrustPolicy> {
  const st = await stat(file).catch(() => fail('NOT_FOUND', `${file}: no such trust policy file`));
  if (st.size > MAX_POLICY_BYTES) fail('CONFIG_INVALID', `${file}: over ${MAX_POLICY_BYTES} bytes`);
  return parseTrustPolicy(await readFile(file, 'utf8'), file);
}

/** What a trust policy entry trusts for a repository. */
export interface Trusted {
  readonly keys: TrustedKey[];
  readonly attestations: readonly string[];
  /** Digests of the gate policies an assessment must have been made under; undefined: any. */
  readonly policies?: ReadonlySet<string>;
}

/**
 * The keys (and required attestation types, and gate policies) the trust policy names for a repository; undefined
 * when no entry matches, which means nothing is trusted for it. Key and policy paths are relative to the policy file;
 * inline PEM is allowed.
 */
export async function trustedKeysFor(policy: TrustPolicy, repository: string): Promise<Trusted | undefined> {
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
  if (entry.policies.length === 0) return { keys, attestations: entry.attestations };
  const policies = entry.policies.map((x) =>
    x.startsWith('sha256:') ? x : gatePolicyDigest(isAbsolute(x) ? x : join(base, x), `${policy.file}:${entry.line}`),
  );
  return { keys, attestations: entry.attestations, policies: new Set(policies) };
}

/** The digest the gate records for a policy file (sha256 of its bytes, as `loadPolicy`), within the size limit. */
function gatePolicyDigest(file: string, where: string): string {
  const r = readBoundedFile(file, MAX_POLICY_BYTES);
  if (!r.ok) {
    const at = `${where}: policies: ${printable(file)}`;
    if (r.problem === 'missing') fail('NOT_FOUND', `${at}: no such policy file`);
    const why = { 'too-large': `over ${MAX_POLICY_BYTES} bytes`, 'not-a-file': 'not a regular file' }[
      r.problem as string
    ];
    fail('CONFIG_INVALID', `${at}: ${why ?? `cannot be read (${r.code ?? 'error'})`}`);
  }
  return `sha256:${createHash('sha256').update(r.bytes).digest('hex')}`;
}

/**
 * The verified assessments made under one of `policies` (all of them when undefined). Those under other policies
 * become failures that say so: a PASS under a laxer policy signed with the same key approves nothing here.
 */
export function underPolicies(
  v: Verdict<VerifiedAttestation>,
  policies: ReadonlySet<string> | undefined,
): Verdict<VerifiedAttestation> {
  if (policies === undefined) return v;
  const digestOf = (a: VerifiedAttestation): unknown =>
    (a.statement.predicate as { policy?: { digest?: unknown } } | null)?.policy?.digest;
  const kept = v.verified.filter((a) => policies.has(digestOf(a) as string));
  const others = v.verified.length - kept.length;
  if (others === 0) return v;
  const failure: Failure = {
    kind: 'other-policy',
    message: `${others} verified assessment${others === 1 ? '' : 's'} made under a policy the trust policy does not name for this repository`,
  };
  return { ...v, verified: kept, failures: [...v.failures, failure] };
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
