import { fail, PortcullisError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import type { Descriptor, ImageManifest } from '../oci/manifest.js';
import { MediaType } from '../oci/mediatypes.js';
import { buildStatement } from './attestation.js';
import { DSSE_MEDIA_TYPE, INTOTO_PAYLOAD_TYPE, signEnvelope } from './dsse.js';
import { type KeyPair, keyId, signBytes, verifyBytes } from './keys.js';
import { buildPayload, MAX_PAYLOAD_BYTES, SIMPLE_SIGNING_MEDIA_TYPE } from './payload.js';
import {
  appendSignatureLayer,
  type NewLayer,
  PREDICATE_TYPE_ANNOTATION,
  parseSignatureManifest,
  SIGNATURE_ANNOTATION,
  SIGNER_KEY_ANNOTATION,
  type SignatureKind,
  signatureTag,
} from './sigimage.js';
import type { SignatureStore } from './store.js';
import type { FetchedBlob, FetchedSignatureImage } from './verify.js';

/**
 * The signing and fetching steps around a `SignatureStore`: resolve the image once, build the payload, append the
 * layer to the signature image, write blobs before the manifest that names them. Verification itself is `verify.ts`.
 */

/** Attestation envelopes can carry a whole SBOM; larger ones are refused. */
export const MAX_ATTESTATION_BYTES = 64 * 1024 * 1024;
/** All the blobs of one signature or attestation image together: memory stays bounded however many layers. */
const MAX_SIGNATURE_IMAGE_BYTES = 16 * 1024 * 1024;
const MAX_ATTESTATION_IMAGE_BYTES = 256 * 1024 * 1024;

/** The manifest digest a tag or digest names in the store; NOT_FOUND when there is none. */
export async function resolveDigest(store: SignatureStore, ref: string): Promise<string> {
  const m = await store.getManifest(ref);
  if (!m) fail('NOT_FOUND', `${store.description}: no image '${ref}'`);
  return m.digest;
}

/** What a signing step did. */
export interface SignResult {
  readonly digest: string;
  readonly tag: string;
  /** False when an identical signature was already there. */
  readonly added: boolean;
  readonly manifestDigest?: string;
}

async function existingImage(store: SignatureStore, tag: string): Promise<ImageManifest | undefined> {
  const m = await store.getManifest(tag);
  if (!m) return undefined;
  try {
    return parseSignatureManifest(m.bytes, `${store.description}:${tag}`);
  } catch (err) {
    if (err instanceof PortcullisError) {
      fail('MANIFEST_INVALID', `${err.message}; refusing to add to it (delete the tag to start a new one)`);
    }
    throw err;
  }
}

async function writeLayer(
  store: SignatureStore,
  digest: string,
  kind: SignatureKind,
  layer: NewLayer,
  isDuplicate: (d: Descriptor, bytes: () => Promise<Buffer>) => Promise<boolean>,
  replace?: (d: Descriptor) => boolean,
): Promise<SignResult> {
  const tag = signatureTag(digest, kind);
  const existing = await existingImage(store, tag);
  const dupes = new Set<string>();
  for (const d of existing?.layers ?? []) {
    const bytes = () => store.getBlob(d.digest, kind === 'sig' ? MAX_PAYLOAD_BYTES : MAX_ATTESTATION_BYTES);
    if (await isDuplicate(d, bytes)) dupes.add(d.digest);
  }
  const next = appendSignatureLayer(existing, layer, (d) => dupes.has(d.digest), replace);
  if (!next.added) return { digest, tag, added: false };
  // Blobs first: a crash before the manifest leaves only unreferenced blobs.
  for (const b of next.blobs) await store.putBlob(b, digestOf(b));
  const manifestDigest = await store.putManifest(next.manifest, MediaType.ociManifest, tag);
  return { digest, tag, added: true, manifestDigest };
}

/** Options of a signature. */
export interface SignOptions {
  /** The repository to name in the payload (cosign's docker-reference). */
  readonly identity: string;
  /** `optional` annotations of the payload (cosign sign -a). */
  readonly annotations?: Record<string, string>;
}

/**
 * Sign the image `digest` into its `.sig` image. Idempotent as cosign's dupe detector is: an existing layer with the
 * same payload that the same key verifies counts as this signature, and nothing is written.
 */
export async function signImage(
  store: SignatureStore,
  digest: string,
  key: KeyPair,
  opts: SignOptions,
): Promise<SignResult> {
  const payload = buildPayload(opts.identity, digest, opts.annotations);
  const id = keyId(key.publicKey);
  const layer: NewLayer = {
    bytes: payload,
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    annotations: {
      [SIGNATURE_ANNOTATION]: signBytes(key.privateKey, payload).toString('base64'),
      [SIGNER_KEY_ANNOTATION]: id,
    },
  };
  const payloadDigest = digestOf(payload);
  return writeLayer(store, digest, 'sig', layer, async (d, bytes) => {
    if (d.digest !== payloadDigest) return false;
    const sig = Buffer.from(d.annotations?.[SIGNATURE_ANNOTATION] ?? '', 'base64');
    return verifyBytes(key.publicKey, await bytes(), sig);
  });
}

/** Options of an attestation. */
export interface AttestOptions {
  /** The subject name (the repository). */
  readonly identity: string;
  readonly predicateType: string;
  readonly predicate: unknown;
  /**
   * Drop earlier attestations of the same predicate type: all of them (cosign attest --replace), or 'own' only those
   * this key made (the gate: another signer's attestations stay).
   */
  readonly replace?: boolean | 'own';
}

/** Attest the image `digest`: an in-toto statement in a DSSE envelope, appended to its `.att` image. */
export async function attestImage(
  store: SignatureStore,
  digest: string,
  key: KeyPair,
  opts: AttestOptions,
): Promise<SignResult> {
  const statement = buildStatement(opts.identity, digest, opts.predicateType, opts.predicate);
  const envelope = signEnvelope(key.privateKey, INTOTO_PAYLOAD_TYPE, statement);
  const layer: NewLayer = {
    bytes: envelope,
    mediaType: DSSE_MEDIA_TYPE,
    annotations: {
      [SIGNATURE_ANNOTATION]: '',
      [PREDICATE_TYPE_ANNOTATION]: opts.predicateType,
      [SIGNER_KEY_ANNOTATION]: keyId(key.publicKey),
    },
  };
  // DSSE signatures are randomised, so an envelope is never byte-identical to an earlier one: no dupe detection.
  return writeLayer(
    store,
    digest,
    'att',
    layer,
    async () => false,
    opts.replace
      ? (d) =>
          d.annotations?.[PREDICATE_TYPE_ANNOTATION] === opts.predicateType &&
          (opts.replace !== 'own' ||
            d.annotations?.[SIGNER_KEY_ANNOTATION] === layer.annotations?.[SIGNER_KEY_ANNOTATION])
      : undefined,
  );
}

/**
 * Fetch a `.sig` or `.att` image and the blobs its layers name, without judging them: a blob that cannot be read is
 * recorded as such, and `verify.ts` decides. Errors other than typed ones (I/O faults) propagate.
 */
export async function fetchSignatureImage(
  store: SignatureStore,
  digest: string,
  kind: SignatureKind,
): Promise<FetchedSignatureImage> {
  const tag = signatureTag(digest, kind);
  const m = await store.getManifest(tag);
  if (!m) return { found: false, tag, where: store.description };
  const blobs = new Map<string, FetchedBlob>();
  let layers: readonly Descriptor[] = [];
  try {
    layers = parseSignatureManifest(m.bytes, `${store.description}:${tag}`).layers;
  } catch {
    // verify.ts parses the manifest again and reports it
  }
  const max = kind === 'sig' ? MAX_PAYLOAD_BYTES : MAX_ATTESTATION_BYTES;
  let budget = kind === 'sig' ? MAX_SIGNATURE_IMAGE_BYTES : MAX_ATTESTATION_IMAGE_BYTES;
  for (const d of layers) {
    if (blobs.has(d.digest)) continue;
    if (d.size > Math.min(max, budget)) {
      const message = `blob ${d.digest} declares ${d.size} bytes, over what is read (${Math.min(max, budget)} bytes left)`;
      blobs.set(d.digest, { ok: false, error: { kind: 'malformed', message } });
      continue;
    }
    try {
      const bytes = await store.getBlob(d.digest, Math.min(max, budget));
      budget -= bytes.length;
      blobs.set(d.digest, { ok: true, bytes });
    } catch (err) {
      if (!(err instanceof PortcullisError) || err.exitCode === 3) throw err;
      const kindOf =
        err.code === 'DIGEST_MISMATCH' ? 'payload-edited' : err.code === 'NOT_FOUND' ? 'missing' : 'malformed';
      blobs.set(d.digest, { ok: false, error: { kind: kindOf, message: err.message } });
    }
  }
  return { found: true, tag, where: store.description, manifest: m.bytes, blobs };
}
