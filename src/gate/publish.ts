import { fail, printable } from '../errors.js';
import { attestImage, fetchSignatureImage, signImage } from '../sign/actions.js';
import { PREDICATE_TYPES } from '../sign/attestation.js';
import type { KeyPair } from '../sign/keys.js';
import { signatureTag } from '../sign/sigimage.js';
import type { SignatureStore } from '../sign/store.js';
import {
  describeFailures,
  type TrustedKey,
  type VerifiedAttestation,
  verifyAttestations,
  verifySignatures,
} from '../sign/verify.js';
import type { AssessmentPredicate, Promotion } from './model.js';

/**
 * The writing steps after the copy: sign the digest, attach the attestations, and verify what was written by reading
 * it back. All of them converge on a rerun: the signature is not added twice (same payload, same key), and
 * attestations already there for this digest, policy and key are kept.
 */

export const ASSESSMENT_TYPE = PREDICATE_TYPES.assessment as string;
export const SBOM_TYPE = PREDICATE_TYPES.cyclonedx as string;

/** Sign `digest` in production under the production repository's name. */
export async function signStep(
  store: SignatureStore,
  digest: string,
  key: KeyPair,
  identity: string,
): Promise<Promotion['signature']> {
  const r = await signImage(store, digest, key, { identity });
  return { tag: r.tag, added: r.added };
}

/** The assessment predicate a verified attestation carries, when it is a PASS for this policy. */
/** What a decision was made under: the policy's digest and the check settings. */
export interface DecisionInputs {
  readonly policy: string;
  readonly settings: AssessmentPredicate['checkSettings'];
}

/** The attested assessment, when it is a PASS made under `inputs` (any inputs when undefined). */
function passingAssessment(
  a: VerifiedAttestation,
  inputs: DecisionInputs | undefined,
): AssessmentPredicate | undefined {
  const p = a.statement.predicate as Partial<AssessmentPredicate> | null;
  if (!p || typeof p !== 'object' || p.decision !== 'PASS' || !Array.isArray(p.platforms)) return undefined;
  if (inputs !== undefined) {
    if (p.policy?.digest !== inputs.policy) return undefined;
    // Other check settings (rules disabled, paths skipped) could have decided otherwise: not the same decision.
    const s = p.checkSettings;
    const same =
      inputs.settings === 'defaults'
        ? s === 'defaults'
        : typeof s === 'object' && s !== null && s.digest === inputs.settings.digest;
    if (!same) return undefined;
  }
  return p as AssessmentPredicate;
}

/**
 * Attach the assessment and the SBOM as in-toto attestations of `digest`. Each type already there, verified with this
 * key (and for the assessment: a PASS under this policy), is kept; otherwise it is written, replacing older ones of
 * its type, so a rerun never piles up attestations.
 */
export async function attestStep(
  store: SignatureStore,
  digest: string,
  key: KeyPair,
  trusted: TrustedKey,
  identity: string,
  predicate: AssessmentPredicate,
  sbom: unknown,
): Promise<Promotion['attestations']> {
  const existing = await fetchSignatureImage(store, digest, 'att');
  const have = (type: string, ok: (a: VerifiedAttestation) => boolean) =>
    verifyAttestations(existing, { digest }, [trusted], type).verified.some(ok);
  const want: [string, unknown, (a: VerifiedAttestation) => boolean][] = [
    [
      ASSESSMENT_TYPE,
      predicate,
      (a) => passingAssessment(a, { policy: predicate.policy.digest, settings: predicate.checkSettings }) !== undefined,
    ],
    [SBOM_TYPE, sbom, () => true],
  ];
  for (const [type, body, ok] of want) {
    if (have(type, ok)) continue;
    await attestImage(store, digest, key, { identity, predicateType: type, predicate: body, replace: 'own' });
  }
  return { tag: signatureTag(digest, 'att'), types: want.map(([t]) => t) };
}

/**
 * Read back what production holds for `digest` and verify it with the gate's own key: a signature naming the
 * production repository, and both attestations. Throws GATE_UNVERIFIED (the tag is then not set) when any is missing.
 */
export async function verifyPublished(
  store: SignatureStore,
  digest: string,
  identity: string,
  trusted: TrustedKey,
): Promise<AssessmentPredicate> {
  const found = await readPublished(store, digest, identity, trusted, undefined);
  if (found.kind === 'missing') {
    fail(
      'GATE_UNVERIFIED',
      `${store.description}: what was just written for ${digest} does not verify (${printable(found.why, 600)}); not tagging`,
    );
  }
  return found.predicate;
}

/** What production holds for a digest: signed and attested with the gate's key (and its assessment), or why not. */
export type Published =
  | { readonly kind: 'published'; readonly predicate: AssessmentPredicate }
  | { readonly kind: 'missing'; readonly why: string };

/** Whether `digest` carries a signature, an SBOM and a passing assessment (under `policyDigest`, when given). */
export async function readPublished(
  store: SignatureStore,
  digest: string,
  identity: string,
  trusted: TrustedKey,
  inputs: DecisionInputs | undefined,
): Promise<Published> {
  const sig = verifySignatures(await fetchSignatureImage(store, digest, 'sig'), { digest, repository: identity }, [
    trusted,
  ]);
  if (sig.verified.length === 0) return { kind: 'missing', why: describeFailures(sig.failures) };
  const att = await fetchSignatureImage(store, digest, 'att');
  const sbom = verifyAttestations(att, { digest }, [trusted], SBOM_TYPE);
  if (sbom.verified.length === 0) return { kind: 'missing', why: describeFailures(sbom.failures) };
  const assessments = verifyAttestations(att, { digest }, [trusted], ASSESSMENT_TYPE);
  for (const a of [...assessments.verified].reverse()) {
    const p = passingAssessment(a, inputs);
    if (p) return { kind: 'published', predicate: p };
  }
  const why =
    assessments.verified.length > 0
      ? 'no attested assessment is a PASS under this policy and these check settings'
      : describeFailures(assessments.failures);
  return { kind: 'missing', why };
}
