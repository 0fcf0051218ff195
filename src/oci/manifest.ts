import { fail, printable } from '../errors.js';
import { parseDigest } from './digest.js';
import { IMAGE_MANIFEST_TYPES, INDEX_TYPES, MediaType } from './mediatypes.js';

/** Manifests and indexes larger than this are refused (distribution itself caps manifests at 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Image configs larger than this are refused (real ones are a few KiB; history makes some reach ~100 KiB). */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

/** OS, architecture and variant of an image; ref: image-spec image-index.md. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
}

/** A content descriptor; ref: image-spec descriptor.md. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: Platform;
  readonly artifactType?: string;
  readonly urls?: readonly string[];
}

/** A single-platform image manifest (OCI or Docker v2s2). */
export interface ImageManifest {
  readonly kind: 'image';
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly subject?: Descriptor;
}

/** A multi-platform index (OCI image index or Docker manifest list). */
export interface ImageIndex {
  readonly kind: 'index';
  readonly mediaType: string;
  readonly manifests: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export type AnyManifest = ImageManifest | ImageIndex;

/** The parts of an image config Portcullis reads; ref: image-spec config.md. */
export interface ImageConfig {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly created?: string;
  readonly config?: {
    readonly User?: string;
    readonly Env?: readonly string[];
    readonly Entrypoint?: readonly string[] | null;
    readonly Cmd?: readonly string[] | null;
    readonly WorkingDir?: string;
    readonly Labels?: Readonly<Record<string, string>> | null;
    readonly ExposedPorts?: Readonly<Record<string, object>> | null;
    readonly Healthcheck?: { readonly Test?: readonly string[] } | null;
  };
  readonly rootfs: { readonly type: string; readonly diff_ids: readonly string[] };
  readonly history?: readonly {
    readonly created?: string;
    readonly created_by?: string;
    readonly comment?: string;
    readonly empty_layer?: boolean;
  }[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(bytes: Uint8Array, where: string, max: number): Json {
  if (bytes.length > max) fail('MANIFEST_TOO_LARGE', `${where}: ${bytes.length} bytes, over the ${max}-byte limit`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch (err) {
    fail(
      'MANIFEST_INVALID',
      `${where}: not valid JSON (${printable(err instanceof Error ? err.message : String(err))})`,
    );
  }
  if (!isObject(value)) fail('MANIFEST_INVALID', `${where}: expected a JSON object`);
  return value;
}

function stringMap(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    fail('MANIFEST_INVALID', `${where}: annotations must map strings to strings`);
  }
  return v as Record<string, string>;
}

function parsePlatform(v: unknown, where: string): Platform | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || typeof v.os !== 'string' || typeof v.architecture !== 'string') {
    fail('MANIFEST_INVALID', `${where}: platform needs string 'os' and 'architecture'`);
  }
  return {
    os: v.os,
    architecture: v.architecture,
    ...(typeof v.variant === 'string' && v.variant ? { variant: v.variant } : {}),
    ...(typeof v['os.version'] === 'string' ? { 'os.version': v['os.version'] } : {}),
  };
}

/** Validate one descriptor; `where` locates it for the error message (e.g. `manifest sha256:.. layers[2]`). */
export function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) fail('MANIFEST_INVALID', `${where}: descriptor must be an object`);
  if (typeof v.mediaType !== 'string' || v.mediaType.length === 0 || v.mediaType.length > 255) {
    fail('MANIFEST_INVALID', `${where}: descriptor needs a mediaType`);
  }
  if (typeof v.digest !== 'string') fail('MANIFEST_INVALID', `${where}: descriptor needs a digest`);
  parseDigest(v.digest, where);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    fail('MANIFEST_INVALID', `${where}: descriptor size must be a non-negative integer`);
  }
  const annotations = stringMap(v.annotations, where);
  const platform = parsePlatform(v.platform, where);
  return {
    mediaType: v.mediaType,
    digest: v.digest,
    size: v.size,
    ...(annotations ? { annotations } : {}),
    ...(platform ? { platform } : {}),
    ...(typeof v.artifactType === 'string' ? { artifactType: v.artifactType } : {}),
    ...(Array.isArray(v.urls) ? { urls: v.urls.filter((u): u is string => typeof u === 'string') } : {}),
  };
}

/**
 * Parse a manifest or index. `declared` is the media type the transport reported (Content-Type, index
 * descriptor); the document's own `mediaType` must agree with it when both are present.
 */
export function parseManifest(bytes: Uint8Array, where: string, declared?: string): AnyManifest {
  const doc = parseJson(bytes, where, MAX_MANIFEST_BYTES);
  if (doc.schemaVersion === 1 || declared === MediaType.dockerSchema1 || declared === MediaType.dockerSchema1Signed) {
    fail('UNSUPPORTED_MEDIA_TYPE', `${where}: Docker schema 1 manifests are not supported`);
  }
  if (doc.schemaVersion !== 2) fail('MANIFEST_INVALID', `${where}: schemaVersion must be 2`);
  const own = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const declaredKnown = declared !== undefined && (INDEX_TYPES.has(declared) || IMAGE_MANIFEST_TYPES.has(declared));
  if (own && declaredKnown && own !== declared) {
    fail('MANIFEST_INVALID', `${where}: document says mediaType ${own} but was served as ${declared}`);
  }
  // umoci and some OCI writers omit the (optional) top-level mediaType: infer it from the shape.
  const mediaType =
    own ?? (declaredKnown ? declared : Array.isArray(doc.manifests) ? MediaType.ociIndex : MediaType.ociManifest);
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(doc.manifests)) fail('MANIFEST_INVALID', `${where}: index has no 'manifests' array`);
    const manifests = doc.manifests.map((m, i) => parseDescriptor(m, `${where} manifests[${i}]`));
    const annotations = stringMap(doc.annotations, where);
    return { kind: 'index', mediaType, manifests, ...(annotations ? { annotations } : {}) };
  }
  if (IMAGE_MANIFEST_TYPES.has(mediaType)) {
    if (!Array.isArray(doc.layers)) fail('MANIFEST_INVALID', `${where}: manifest has no 'layers' array`);
    const config = parseDescriptor(doc.config, `${where} config`);
    const layers = doc.layers.map((l, i) => parseDescriptor(l, `${where} layers[${i}]`));
    const annotations = stringMap(doc.annotations, where);
    const subject = doc.subject === undefined ? undefined : parseDescriptor(doc.subject, `${where} subject`);
    return {
      kind: 'image',
      mediaType,
      config,
      layers,
      ...(annotations ? { annotations } : {}),
      ...(subject ? { subject } : {}),
    };
  }
  fail(
    'UNSUPPORTED_MEDIA_TYPE',
    `${where}: media type '${printable(mediaType, 100)}' is not an image manifest or index`,
  );
}

/** Parse and validate an image config; `layerCount` must equal the number of diff_ids. */
export function parseImageConfig(bytes: Uint8Array, where: string, layerCount: number): ImageConfig {
  const doc = parseJson(bytes, where, MAX_CONFIG_BYTES);
  const rootfs = doc.rootfs;
  if (!isObject(rootfs) || !Array.isArray(rootfs.diff_ids))
    fail('MANIFEST_INVALID', `${where}: config has no rootfs.diff_ids`);
  const diffIds = rootfs.diff_ids.map((d, i) => {
    if (typeof d !== 'string') fail('MANIFEST_INVALID', `${where}: rootfs.diff_ids[${i}] is not a string`);
    parseDigest(d, `${where} rootfs.diff_ids[${i}]`);
    return d;
  });
  if (diffIds.length !== layerCount) {
    fail('MANIFEST_INVALID', `${where}: ${diffIds.length} diff_ids for ${layerCount} layers in the manifest`);
  }
  if (doc.config !== undefined && doc.config !== null && !isObject(doc.config)) {
    fail('MANIFEST_INVALID', `${where}: 'config' must be an object`);
  }
  if (doc.history !== undefined && doc.history !== null && !Array.isArray(doc.history)) {
    fail('MANIFEST_INVALID', `${where}: 'history' must be an array`);
  }
  return {
    ...(doc as object),
    architecture: typeof doc.architecture === 'string' ? doc.architecture : '',
    os: typeof doc.os === 'string' ? doc.os : '',
    rootfs: { type: typeof rootfs.type === 'string' ? rootfs.type : 'layers', diff_ids: diffIds },
  } as ImageConfig;
}
