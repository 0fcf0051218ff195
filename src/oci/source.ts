import type { Readable } from 'node:stream';
import { fail, printable } from '../errors.js';
import type { LayerInput } from '../image/walk.js';
import {
  type AnyManifest,
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
  MAX_CONFIG_BYTES,
  type Platform,
  parseImageConfig,
} from './manifest.js';
import { INDEX_TYPES, LAYER_TYPES, MediaType } from './mediatypes.js';

/** A manifest or index as fetched: its verified bytes, digest and parsed form. */
export interface FetchedManifest {
  readonly digest: string;
  readonly bytes: Buffer;
  readonly manifest: AnyManifest;
}

/**
 * Where images come from (registry, OCI layout, archive). A transport implements this small core;
 * `resolveImages` builds everything else on top of it.
 */
export interface ImageSource {
  /** Credential-free description for messages and SBOM metadata. */
  readonly description: string;
  /** The manifest or index that the reference names. */
  root(): Promise<FetchedManifest>;
  /** A manifest named by a descriptor (an index entry), verified against its digest. */
  manifest(desc: Descriptor): Promise<FetchedManifest>;
  /** A small blob (the config), read whole and verified. */
  blob(desc: Descriptor, max: number): Promise<Buffer>;
  /** The stored bytes of a blob as a stream; the caller verifies while reading. */
  openBlob(desc: Descriptor): Promise<Readable>;
  close(): Promise<void>;
}

/** A single-platform image, ready to walk: manifest and config verified, layers described. */
export interface ResolvedImage {
  readonly source: string;
  /** Digest of the index the image was chosen from, if any. */
  readonly indexDigest?: string;
  /** Digest of the image manifest: the identity of the image. */
  readonly digest: string;
  readonly manifest: ImageManifest;
  readonly config: ImageConfig;
  readonly configDigest: string;
  readonly platform: Platform;
  readonly layers: readonly LayerInput[];
}

/** Which images of an index to take. */
export interface PlatformSelection {
  /** `os/arch[/variant]`; default: the host's platform. */
  readonly platform?: string;
  /** Take every platform of an index. */
  readonly allPlatforms?: boolean;
}

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  x64: 'amd64',
  aarch64: 'arm64',
  ia32: '386',
  i386: '386',
};

/** Parse `os/arch[/variant]` with the usual aliases (x86_64, aarch64). */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    fail('USAGE', `--platform '${text}': expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7`);
  }
  const [os, arch, variant] = parts as [string, string, string | undefined];
  const architecture = ARCH_ALIASES[arch] ?? arch;
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/** The platform of this host, as an image index would name it. */
export function hostPlatform(): Platform {
  const arch = ARCH_ALIASES[process.arch] ?? process.arch;
  const architecture = arch === 'ppc64' && process.platform === 'linux' ? 'ppc64le' : arch;
  const os = process.platform === 'win32' ? 'windows' : process.platform === 'darwin' ? 'linux' : process.platform;
  return { os, architecture, ...(architecture === 'arm' ? { variant: 'v7' } : {}) };
}

/** Variants that are the implied default of their architecture (ref: containerd platforms.Normalize). */
function normVariant(p: Platform): string {
  if (p.architecture === 'arm64') return p.variant === undefined || p.variant === 'v8' ? 'v8' : p.variant;
  if (p.architecture === 'arm') return p.variant ?? 'v7';
  return p.variant ?? '';
}

/** Whether an index entry's platform is the wanted one (variants compared after defaulting). */
export function platformMatches(want: Platform, have: Platform, strictVariant = true): boolean {
  const arch = ARCH_ALIASES[have.architecture] ?? have.architecture;
  if (want.os !== have.os || want.architecture !== arch) return false;
  return !strictVariant || normVariant(want) === normVariant({ ...have, architecture: arch });
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * An index entry no runtime runs: its platform names an unknown os or architecture, as BuildKit's attestation
 * manifests do (`unknown/unknown`). Its annotations do not make one: a runtime chooses by platform alone, and takes
 * an entry without a platform for any platform (after those that name it: see `choose`), so an entry annotated as an
 * attestation with a real platform (or none) is an image like the others and must be assessed.
 */
export function isUnrunnableEntry(d: Descriptor): boolean {
  return d.platform !== undefined && (d.platform.os === 'unknown' || d.platform.architecture === 'unknown');
}

/** Indexes nested deeper than this (the root at depth 0) are refused, here and by the gate. */
export const MAX_INDEX_DEPTH = 4;
/** Entries listed by an index and the indexes nested in it, in all. */
const MAX_INDEX_ENTRIES = 4096;

/** An index listed by an index at `depth`, fetched and verified like any manifest; too deep a nesting fails. */
async function nestedIndex(source: ImageSource, d: Descriptor, depth: number): Promise<FetchedManifest> {
  if (depth + 1 >= MAX_INDEX_DEPTH) {
    fail('MANIFEST_INVALID', `${source.description}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
  }
  const m = await source.manifest(d);
  if (m.manifest.kind !== 'index') {
    fail('MANIFEST_INVALID', `${source.description}: ${d.digest} is listed as an index but is an image manifest`);
  }
  return m;
}

/**
 * The runnable entries of an index and of every index nested in it (containerd descends them), depth first in the
 * order listed. Entries under an unknown platform are left out (the gate refuses an index among them).
 */
async function flatten(source: ImageSource, index: FetchedManifest, depth: number): Promise<Descriptor[]> {
  const out: Descriptor[] = [];
  let listed = 0;
  // An image (for one platform) or a nested index listed again is walked once: repeats would multiply the work.
  const seen = new Set<string>([index.digest]);
  const walk = async (m: FetchedManifest, depth: number): Promise<void> => {
    if (m.manifest.kind !== 'index') return; // nestedIndex saw to it
    listed += m.manifest.manifests.length;
    if (listed > MAX_INDEX_ENTRIES) {
      fail('MANIFEST_INVALID', `${source.description}: index ${index.digest} lists over ${MAX_INDEX_ENTRIES} entries`);
    }
    for (const d of m.manifest.manifests) {
      if (isUnrunnableEntry(d)) continue;
      // The whole platform: entries told apart by os.version alone are distinct (Windows), and reported apart.
      const key = INDEX_TYPES.has(d.mediaType) ? d.digest : `${d.digest} ${JSON.stringify(d.platform ?? null)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (INDEX_TYPES.has(d.mediaType)) await walk(await nestedIndex(source, d, depth), depth + 1);
      else out.push(d);
    }
  };
  await walk(index, depth);
  return out;
}

/**
 * The entry a runtime takes for `want`, as containerd's images.Manifest does: at each level the best match of the
 * entries that name a platform, else the first entry that names none; a chosen index is descended (no backtracking:
 * if nothing in it matches, the runtime finds no image either).
 */
async function choose(source: ImageSource, index: FetchedManifest, want: Platform, depth: number): Promise<Descriptor> {
  const listed = index.manifest.kind === 'index' ? index.manifest.manifests : [];
  const entries = listed.filter((d) => !isUnrunnableEntry(d));
  const match =
    entries.find((d) => d.platform && platformMatches(want, d.platform)) ??
    (want.variant === undefined
      ? entries.find((d) => d.platform && platformMatches(want, d.platform, false))
      : undefined) ??
    entries.find((d) => d.platform === undefined);
  if (!match) {
    const have = entries.map((d) => (d.platform ? formatPlatform(d.platform) : 'unspecified')).join(', ');
    fail(
      'PLATFORM_NOT_FOUND',
      `${source.description}: no image for ${formatPlatform(want)} in index ${index.digest} (it has: ${have || 'none'})`,
    );
  }
  if (INDEX_TYPES.has(match.mediaType)) return choose(source, await nestedIndex(source, match, depth), want, depth + 1);
  return match;
}

/**
 * Resolve the reference once to a digest, then to the image(s) to assess: the root manifest, or the
 * index entries that match the platform selection. Config and manifests are verified here.
 */
export async function resolveImages(source: ImageSource, sel: PlatformSelection = {}): Promise<ResolvedImage[]> {
  const root = await source.root();
  if (root.manifest.kind === 'image') return [await resolveOne(source, root, undefined)];
  let index = root;
  let depth = 0;
  // An index whose one entry is another index (as OCI layouts have) stands for that index: it names the image.
  for (; index.manifest.kind === 'index'; depth++) {
    const entries: readonly Descriptor[] = index.manifest.manifests;
    if (entries.length !== 1 || !INDEX_TYPES.has((entries[0] as Descriptor).mediaType)) break;
    index = await nestedIndex(source, entries[0] as Descriptor, depth);
  }
  let chosen: Descriptor[];
  if (sel.allPlatforms) {
    chosen = await flatten(source, index, depth);
  } else {
    const want = sel.platform ? parsePlatform(sel.platform) : hostPlatform();
    chosen = [await choose(source, index, want, depth)];
  }
  if (chosen.length === 0) fail('PLATFORM_NOT_FOUND', `${source.description}: index ${index.digest} lists no images`);
  const out: ResolvedImage[] = [];
  for (const d of chosen) out.push(await resolveOne(source, await source.manifest(d), index.digest, d.platform));
  return out;
}

async function resolveOne(
  source: ImageSource,
  fetched: FetchedManifest,
  indexDigest: string | undefined,
  listed?: Platform,
): Promise<ResolvedImage> {
  const m = fetched.manifest;
  if (m.kind !== 'image')
    fail('MANIFEST_INVALID', `${source.description}: ${fetched.digest} is an index where an image was expected`);
  const where = `manifest ${fetched.digest}`;
  const configBytes = await source.blob(m.config, MAX_CONFIG_BYTES);
  const config = parseImageConfig(configBytes, `config ${m.config.digest}`, m.layers.length);
  const layers: LayerInput[] = m.layers.map((desc, index) => {
    const compression = LAYER_TYPES.get(desc.mediaType);
    if (compression === undefined) {
      fail(
        'UNSUPPORTED_MEDIA_TYPE',
        `${where} layers[${index}]: media type '${printable(desc.mediaType, 100)}' is not a layer type`,
      );
    }
    const diffId = config.rootfs.diff_ids[index] as string;
    return {
      index,
      where: `layer ${index} (${desc.digest.slice(0, 19)})`,
      // A layer whose type says uncompressed tar has its diff_id for digest: the diff_id check covers it (docker save's
      // type may still hold gzip, which that check reads through). Any other layer's stored bytes are checked too,
      // even when its digest claims the diff_id: skopeo and runtimes refuse such a blob.
      ...(desc.digest === diffId && (compression === 'none' || desc.mediaType === MediaType.dockerLayer)
        ? {}
        : { digest: desc.digest }),
      size: desc.size,
      diffId,
      compression,
      open: () => source.openBlob(desc),
    };
  });
  // os.version tells Windows images apart: the config's, else the index entry's.
  const own = (config as { 'os.version'?: unknown })['os.version'];
  const osVersion = typeof own === 'string' && own ? own : listed?.['os.version'];
  const platform: Platform = {
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
    ...(osVersion ? { 'os.version': osVersion } : {}),
  };
  return {
    source: source.description,
    ...(indexDigest ? { indexDigest } : {}),
    digest: fetched.digest,
    manifest: m,
    config,
    configDigest: m.config.digest,
    platform,
    layers,
  };
}
