import type { KeyObject } from 'node:crypto';
import { PortcullisError, printable } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import type { Descriptor, ImageManifest } from '../oci/manifest.js';
import { parseDockerReference } from '../oci/reference.js';
import { parseStatement, type Statement, subjectMatches } from './attestation.js';
import { DSSE_MEDIA_TYPE, envelopeVerifies, INTOTO_PAYLOAD_TYPE, parseEnvelope } from './dsse.js';
import { isDerEcdsaSignature, verifyBytes } from './keys.js';
import { cosignRepositoryName, parsePayload, SIMPLE_SIGNING_MEDIA_TYPE, type SimpleSigningClaims } from './payload.js';
import {
  PREDICATE_TYPE_ANNOTATION,
  parseSignatureManifest,
  SIGNATURE_ANNOTATION,
  SIGNER_KEY_ANNOTATION,
} from './sigimage.js';

/**
 * Verification of signatures and attestations, pure over bytes already fetched: no I/O, no clock. Each signature
 * layer is checked in a fixed order (blob digest, signature encoding, signature math with each trusted key, payload,
 * the digest it names, the repository it names), and the first check that fails is what the layer reports.
 */

/** What went wrong with one layer, or with the whole signature image. */
export type FailureKind =
  | 'missing'
  | 'malformed'
  | 'payload-edited'
  | 'wrong-key'
  | 'digest-mismatch'
  | 'repository-mismatch'
  /** A verified assessment attestation whose latest decision is not PASS (verify --attestation assessment). */
  | 'assessment-failed'
  /** A verified assessment made under a policy the trust policy does not name for the repository. */
  | 'other-policy';

/** One failure, with a one-line message that names the layer and says which kind of tampering it is. */
export interface Failure {
  readonly kind: FailureKind;
  readonly message: string;
}

/** A public key the verifier trusts, with a name for messages (a file path, a policy entry). */
export interface TrustedKey {
  readonly key: KeyObject;
  readonly id: string;
  readonly name: string;
}

/** A blob as read from the store: its bytes as stored (unverified), or why it could not be read. */
export type FetchedBlob =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly error: Failure };

/** A `.sig` or `.att` image as fetched: absent, or its manifest bytes and the blobs its layers name. */
export type FetchedSignatureImage =
  | { readonly found: false; readonly tag: string; readonly where: string }
  | {
      readonly found: true;
      readonly tag: string;
      readonly where: string;
      readonly manifest: Buffer;
      readonly blobs: ReadonlyMap<string, FetchedBlob>;
    };

/** What the verified image must be. */
export interface Expectation {
  /** The image's manifest digest, resolved once. */
  readonly digest: string;
  /** The repository it lives in, as cosign names it (`cosignRepositoryName`). */
  readonly repository: string;
}

/** A signature that verified: which layer, which key, what it claims. */
export interface VerifiedSignature {
  readonly layer: number;
  readonly key: string;
  readonly keyId: string;
  readonly claims: SimpleSigningClaims;
  readonly payload: Buffer;
}

/** An attestation that verified. */
export interface VerifiedAttestation {
  readonly layer: number;
  readonly key: string;
  readonly keyId: string;
  readonly statement: Statement;
}

/** The outcome: verified when `verified` is not empty; `failures` lists every layer that did not verify. */
export interface Verdict<T> {
  readonly verified: readonly T[];
  readonly failures: readonly Failure[];
}

type LayerOutcome<T> = { ok: true; value: T } | { ok: false; failure: Failure };

/** Parse the manifest and run `check` on each layer's blob; a manifest that cannot be read fails everything. */
function eachLayer<T>(
  image: FetchedSignatureImage,
  what: string,
  check: (layer: Descriptor, bytes: Buffer, label: string, index: number) => LayerOutcome<T>,
): Verdict<T> {
  if (!image.found) {
    return {
      verified: [],
      failures: [{ kind: 'missing', message: `no ${what}: ${image.tag} is not in ${image.where}` }],
    };
  }
  let manifest: ImageManifest;
  try {
    manifest = parseSignatureManifest(image.manifest, `${image.where}:${image.tag}`);
  } catch (err) {
    return { verified: [], failures: [{ kind: 'malformed', message: `${what} malformed: ${messageOf(err)}` }] };
  }
  if (manifest.layers.length === 0) {
    return { verified: [], failures: [{ kind: 'missing', message: `no ${what}: ${image.tag} has no layers` }] };
  }
  const verified: T[] = [];
  const failures: Failure[] = [];
  manifest.layers.forEach((layer, i) => {
    const label = `${what === 'signatures' ? 'signature' : 'attestation'} ${i + 1} of ${manifest.layers.length}`;
    const blob = image.blobs.get(layer.digest);
    let outcome: LayerOutcome<T>;
    if (!blob) {
      outcome = fail('missing', `${label}: blob ${layer.digest} was not fetched`);
    } else if (!blob.ok) {
      outcome = { ok: false, failure: { kind: blob.error.kind, message: `${label}: ${blob.error.message}` } };
    } else if (digestOf(blob.bytes, digestAlgorithm(layer.digest)) !== layer.digest) {
      outcome = fail(
        'payload-edited',
        `${label}: payload edited: its blob hashes to ${digestOf(blob.bytes)}, the signature manifest says ${layer.digest}`,
      );
    } else {
      try {
        outcome = check(layer, blob.bytes, label, i);
      } catch (err) {
        outcome = fail('malformed', `${label}: malformed: ${messageOf(err)}`);
      }
    }
    if (outcome.ok) verified.push(outcome.value);
    else failures.push(outcome.failure);
  });
  return { verified, failures };
}

function fail<T>(kind: FailureKind, message: string): LayerOutcome<T> {
  return { ok: false, failure: { kind, message } };
}

function messageOf(err: unknown): string {
  if (err instanceof PortcullisError) return err.message;
  throw err; // a bug, not a verdict: let it surface as INTERNAL
}

function digestAlgorithm(digest: string): 'sha256' | 'sha512' {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

/** The verdict when no trusted key verified the signature: "another key" or "edited", from the unsigned hint. */
function keyFailure<T>(layer: Descriptor, keys: readonly TrustedKey[], label: string): LayerOutcome<T> {
  const names = keys.map((k) => k.name).join(', ');
  const hint = layer.annotations?.[SIGNER_KEY_ANNOTATION];
  const signer = hint ? keys.find((k) => k.id === hint) : undefined;
  if (signer) {
    return fail(
      'payload-edited',
      `${label}: payload edited after signing: it was signed with ${signer.name}, which no longer verifies it`,
    );
  }
  const made = hint ? `it was made with key ${printable(hint, 80)}` : 'made with another key, or edited after signing';
  return fail('wrong-key', `${label}: wrong key: the signature does not verify with ${names} (${made})`);
}

function sameRepository(claimed: string, expected: string): boolean {
  try {
    const ref = parseDockerReference(claimed);
    return cosignRepositoryName(ref.registry, ref.repository) === expected;
  } catch {
    return false;
  }
}

/** Verify the simple-signing signatures of a `.sig` image against the trusted keys and the expected image. */
export function verifySignatures(
  image: FetchedSignatureImage,
  expect: Expectation,
  keys: readonly TrustedKey[],
): Verdict<VerifiedSignature> {
  return eachLayer<VerifiedSignature>(image, 'signatures', (layer, payload, label, layerIndex) => {
    if (layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) {
      return fail(
        'malformed',
        `${label}: malformed: media type '${printable(layer.mediaType, 100)}' is not a signature`,
      );
    }
    const b64 = layer.annotations?.[SIGNATURE_ANNOTATION];
    if (!b64) return fail('malformed', `${label}: malformed: no ${SIGNATURE_ANNOTATION} annotation`);
    if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
      return fail('malformed', `${label}: malformed: the ${SIGNATURE_ANNOTATION} annotation is not base64`);
    }
    const sig = Buffer.from(b64, 'base64');
    if (!isDerEcdsaSignature(sig)) {
      return fail('malformed', `${label}: malformed: the signature is not an ASN.1 DER ECDSA signature`);
    }
    const key = keys.find((k) => verifyBytes(k.key, payload, sig));
    if (!key) return keyFailure(layer, keys, label);
    const claims = parsePayload(payload, label);
    if (claims.digest !== expect.digest) {
      return fail(
        'digest-mismatch',
        `${label}: digest mismatch: the signature is for ${printable(claims.digest, 80)}, the image is ${expect.digest} (moved tag or swapped manifest)`,
      );
    }
    if (!sameRepository(claims.dockerReference, expect.repository)) {
      return fail(
        'repository-mismatch',
        `${label}: repository mismatch: signed for '${printable(claims.dockerReference, 200)}', expected '${expect.repository}'`,
      );
    }
    return { ok: true, value: { layer: layerIndex, key: key.name, keyId: key.id, claims, payload } };
  });
}

/**
 * Verify the DSSE attestations of an `.att` image: envelope signature (over PAE) with a trusted key, an in-toto
 * statement whose subject names the image digest. With `predicateType`, only statements of that type count, and none
 * verifying is a `missing` failure.
 */
export function verifyAttestations(
  image: FetchedSignatureImage,
  expect: Pick<Expectation, 'digest'>,
  keys: readonly TrustedKey[],
  predicateType?: string,
): Verdict<VerifiedAttestation> {
  const verdict = eachLayer<VerifiedAttestation>(image, 'attestations', (layer, bytes, label, layerIndex) => {
    if (layer.mediaType !== DSSE_MEDIA_TYPE) {
      return fail(
        'malformed',
        `${label}: malformed: media type '${printable(layer.mediaType, 100)}' is not a DSSE envelope`,
      );
    }
    const env = parseEnvelope(bytes, label);
    if (env.payloadType !== INTOTO_PAYLOAD_TYPE) {
      return fail('malformed', `${label}: malformed: payloadType '${printable(env.payloadType, 100)}' is not in-toto`);
    }
    const key = keys.find((k) => envelopeVerifies(env, k.key));
    if (!key) return keyFailure(layer, keys, label);
    const statement = parseStatement(env.payload, label);
    if (!subjectMatches(statement, expect.digest)) {
      const named = statement.subjects.flatMap((s) => Object.entries(s.digest).map(([a, h]) => `${a}:${h}`));
      return fail(
        'digest-mismatch',
        `${label}: digest mismatch: the attestation's subject is ${printable(named.join(', '), 200)}, the image is ${expect.digest} (moved tag or swapped manifest)`,
      );
    }
    const annotated = layer.annotations?.[PREDICATE_TYPE_ANNOTATION];
    if (annotated !== undefined && annotated !== statement.predicateType) {
      return fail(
        'malformed',
        `${label}: malformed: the layer's predicateType annotation '${printable(annotated, 200)}' disagrees with the signed statement's '${printable(statement.predicateType, 200)}'`,
      );
    }
    return { ok: true, value: { layer: layerIndex, key: key.name, keyId: key.id, statement } };
  });
  if (predicateType === undefined) return verdict;
  const verified = verdict.verified.filter((a) => a.statement.predicateType === predicateType);
  const failures = [...verdict.failures];
  if (verified.length === 0 && !failures.some((f) => f.kind === 'missing')) {
    failures.push({ kind: 'missing', message: `no verified attestation of type ${predicateType}` });
  }
  return { verified, failures };
}

/** One line for a failed verdict: the failures in layer order. */
export function describeFailures(failures: readonly Failure[]): string {
  return failures.map((f) => f.message).join('; ');
}
