import { fail } from '../errors.js';
import { digestOf, parseDigest } from '../oci/digest.js';
import { type Descriptor, type ImageManifest, parseManifest } from '../oci/manifest.js';
import { MediaType } from '../oci/mediatypes.js';
import { goJson, sortKeys } from './gojson.js';

/**
 * The image cosign stores signatures and attestations in (ref: cosign specs/SIGNATURE_SPEC.md "Storage" and
 * ATTESTATION_SPEC.md): an OCI manifest whose config is a minimal image config and whose layers are the payloads,
 * one per signature, tagged `sha256-<hex>.sig` (or `.att`) next to the image.
 */
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const PREDICATE_TYPE_ANNOTATION = 'predicateType';
/**
 * The signer's key id (`keyId`), written beside each signature Portcullis makes. It is not signed, so it never
 * decides a verdict: it only lets a failure say "edited after signing" rather than "made with another key".
 */
export const SIGNER_KEY_ANNOTATION = 'dev.portcullis/signer-key';
/** At most this many layers of a signature image are read; more is hostile. */
export const MAX_SIGNATURE_LAYERS = 1000;

/** Which of the two tags. */
export type SignatureKind = 'sig' | 'att';

/** The tag cosign's tag-based discovery uses for an image digest: `sha256:abc` becomes `sha256-abc.sig`. */
export function signatureTag(digest: string, kind: SignatureKind): string {
  const { algorithm, hex } = parseDigest(digest, 'the image digest');
  return `${algorithm}-${hex}.${kind}`;
}

/** A layer to add: its blob, media type and annotations. */
export interface NewLayer {
  readonly bytes: Buffer;
  readonly mediaType: string;
  readonly annotations: Readonly<Record<string, string>>;
}

/**
 * What to write for a signature image: the new blobs (layer and config) and the manifest; `added: false` when an
 * identical signature was already there and nothing is to be written.
 */
export type SignatureImage =
  | {
      readonly added: true;
      readonly manifest: Buffer;
      readonly digest: string;
      readonly layers: readonly Descriptor[];
      readonly blobs: readonly Buffer[];
    }
  | { readonly added: false };

/** The image config cosign's signature images carry (go-containerregistry's empty image plus the layers). */
function configFor(layers: readonly Descriptor[]): Buffer {
  const zero = '0001-01-01T00:00:00Z';
  return Buffer.from(
    goJson({
      architecture: '',
      created: zero,
      history: layers.map(() => ({ created: zero })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
}

function descriptorJson(d: Descriptor): Record<string, unknown> {
  return {
    mediaType: d.mediaType,
    size: d.size,
    digest: d.digest,
    ...(d.annotations && Object.keys(d.annotations).length > 0 ? { annotations: sortKeys(d.annotations) } : {}),
  };
}

/** The manifest for a list of layers, with a fresh config; returns the manifest and the config blob. */
export function buildSignatureManifest(layers: readonly Descriptor[]): { manifest: Buffer; config: Buffer } {
  const config = configFor(layers);
  const manifest = Buffer.from(
    goJson({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: descriptorJson({ mediaType: MediaType.ociConfig, size: config.length, digest: digestOf(config) }),
      layers: layers.map(descriptorJson),
    }),
  );
  return { manifest, config };
}

/** Parse an existing signature image's manifest; SIGNATURE_MALFORMED when it is not an image manifest. */
export function parseSignatureManifest(bytes: Uint8Array, where: string): ImageManifest {
  let m: ReturnType<typeof parseManifest>;
  try {
    m = parseManifest(bytes, where);
  } catch (err) {
    return fail('SIGNATURE_MALFORMED', (err as Error).message);
  }
  if (m.kind !== 'image') return fail('SIGNATURE_MALFORMED', `${where}: an index, not a signature image manifest`);
  if (m.layers.length > MAX_SIGNATURE_LAYERS)
    fail('SIGNATURE_MALFORMED', `${where}: ${m.layers.length} layers, over the limit of ${MAX_SIGNATURE_LAYERS}`);
  return m;
}

/**
 * Add a layer to a signature image (`existing` undefined: a new image). `isDuplicate` decides whether an existing
 * layer already holds the same signature (cosign's dupe detector: same payload, verified by the same key); then
 * nothing changes. `replace` drops existing layers it selects first (cosign attest --replace).
 */
export function appendSignatureLayer(
  existing: ImageManifest | undefined,
  layer: NewLayer,
  isDuplicate: (d: Descriptor) => boolean,
  replace: (d: Descriptor) => boolean = () => false,
): SignatureImage {
  const desc: Descriptor = {
    mediaType: layer.mediaType,
    size: layer.bytes.length,
    digest: digestOf(layer.bytes),
    annotations: layer.annotations,
  };
  const old = existing?.layers ?? [];
  if (old.some(isDuplicate)) return { added: false };
  const layers = [...old.filter((d) => !replace(d)), desc];
  const { manifest, config } = buildSignatureManifest(layers);
  return { added: true, manifest, digest: digestOf(manifest), layers, blobs: [layer.bytes, config] };
}
