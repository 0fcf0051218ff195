import { createHash } from 'node:crypto';
import { fail, PortcullisError } from '../../errors.js';
import { parseDigest } from '../digest.js';
import type { Descriptor } from '../manifest.js';
import { INDEX_TYPES } from '../mediatypes.js';
import type { PulledManifest, RegistryRepository, UploadOptions } from './push.js';

/** What a copy did, one event at a time (for progress output and for tests that count). */
export type CopyEvent =
  | { readonly kind: 'manifest-present'; readonly digest: string }
  | { readonly kind: 'manifest-pushed'; readonly digest: string; readonly mediaType: string }
  | {
      readonly kind: 'blob-present' | 'blob-mounted' | 'blob-copied' | 'blob-foreign';
      readonly digest: string;
      readonly size: number;
    }
  | { readonly kind: 'blob-chunk'; readonly digest: string; readonly offset: number };

/** How `copyImage` copies; every default is the one the gate uses. */
export interface CopyOptions {
  /** Blobs copied at a time (default 3). */
  readonly concurrency?: number;
  /** Upload chunk size: larger blobs are PATCHed in chunks of this size (default 8 MiB). */
  readonly chunkSize?: number;
  /** Attempts for a blob whose source stream breaks or whose upload session goes stale (default 3). */
  readonly blobAttempts?: number;
  readonly onEvent?: (event: CopyEvent) => void;
}

/** What a copy wrote, for the gate's record. */
export interface CopyResult {
  readonly digest: string;
  readonly mediaType: string;
  /** Manifests pushed by this run (children first, the root last); empty when the destination had them all. */
  readonly pushed: readonly string[];
  readonly blobs: {
    readonly copied: number;
    readonly mounted: number;
    readonly present: number;
    readonly bytes: number;
  };
}

/** Foreign (Windows base) and non-distributable layers are fetched from their URLs, never pushed. */
function isForeign(d: Descriptor): boolean {
  return (d.urls?.length ?? 0) > 0 && /foreign|nondistributable/.test(d.mediaType);
}

interface Plan {
  /** Manifests the destination lacks, children before their index. */
  readonly manifests: PulledManifest[];
  readonly blobs: Map<string, Descriptor>;
}

/**
 * Copy the manifest or index `digest` with everything it references from `src` to `dst`, by digest only:
 * blobs first (skipped when present, mounted on the same registry, otherwise streamed and verified),
 * then child manifests, then the index. Nothing is tagged: `tagManifest` is a separate, final step.
 * Idempotent: a rerun after a crash at any point skips what is there and abandons partial uploads.
 */
export async function copyImage(
  src: RegistryRepository,
  dst: RegistryRepository,
  digest: string,
  opts: CopyOptions = {},
): Promise<CopyResult> {
  parseDigest(digest, `copy ${src}@${digest}`);
  const emit = opts.onEvent ?? (() => {});
  const plan: Plan = { manifests: [], blobs: new Map() };
  const root = await src.getManifest(digest, { expected: digest });
  await walk(src, dst, root, plan, emit, 0);
  const blobs = { copied: 0, mounted: 0, present: 0, bytes: 0 };
  await eachLimited([...plan.blobs.values()], Math.max(1, opts.concurrency ?? 3), async (desc) => {
    const how = await copyBlob(src, dst, desc, opts, emit);
    if (how === 'blob-copied') {
      blobs.copied++;
      blobs.bytes += desc.size;
    } else if (how === 'blob-mounted') blobs.mounted++;
    else blobs.present++;
  });
  const pushed: string[] = [];
  for (const m of plan.manifests) {
    await dst.putManifest(m.bytes, { reference: m.digest, mediaType: m.mediaType });
    pushed.push(m.digest);
    emit({ kind: 'manifest-pushed', digest: m.digest, mediaType: m.mediaType });
  }
  return { digest, mediaType: root.mediaType, pushed, blobs };
}

/** Collect what the destination lacks, depth first: a manifest it has is complete (the registry checked it). */
async function walk(
  src: RegistryRepository,
  dst: RegistryRepository,
  m: PulledManifest,
  plan: Plan,
  emit: (e: CopyEvent) => void,
  depth: number,
): Promise<void> {
  if (plan.manifests.some((p) => p.digest === m.digest)) return;
  if (await dst.headManifest(m.digest)) {
    emit({ kind: 'manifest-present', digest: m.digest });
    return;
  }
  if (m.manifest.kind === 'index') {
    if (depth >= 4) fail('MANIFEST_INVALID', `index ${m.digest} in ${src}: indexes nested more than 4 deep`);
    for (const child of m.manifest.manifests) {
      const fetched = await src.getManifest(child.digest, { expected: child.digest, size: child.size });
      if (INDEX_TYPES.has(child.mediaType) !== (fetched.manifest.kind === 'index')) {
        fail(
          'MANIFEST_INVALID',
          `index ${m.digest} in ${src}: entry ${child.digest} is not the ${child.mediaType} it claims`,
        );
      }
      await walk(src, dst, fetched, plan, emit, depth + 1);
    }
  } else {
    for (const d of [m.manifest.config, ...m.manifest.layers]) {
      if (!plan.blobs.has(d.digest)) plan.blobs.set(d.digest, d);
    }
  }
  plan.manifests.push(m);
}

async function copyBlob(
  src: RegistryRepository,
  dst: RegistryRepository,
  desc: Descriptor,
  opts: CopyOptions,
  emit: (e: CopyEvent) => void,
): Promise<CopyEvent['kind']> {
  const event = (kind: 'blob-present' | 'blob-mounted' | 'blob-copied' | 'blob-foreign') => {
    emit({ kind, digest: desc.digest, size: desc.size });
    return kind;
  };
  if (isForeign(desc)) return event('blob-foreign');
  if (await dst.hasBlob(desc.digest)) return event('blob-present');
  let location: URL | undefined;
  if (dst.sameRegistry(src) && dst.name !== src.name) {
    const mount = await dst.mountBlob(desc.digest, src.name);
    if (mount.mounted) return event('blob-mounted');
    // ref: distribution-spec: a registry that cannot mount answers 202 with an upload session.
    location = mount.location;
  }
  const upload: UploadOptions = {
    source: String(src),
    ...(opts.chunkSize !== undefined ? { chunkSize: opts.chunkSize } : {}),
    ...(opts.blobAttempts !== undefined ? { attempts: opts.blobAttempts } : {}),
    ...(location ? { location } : {}),
    onChunk: (offset) => emit({ kind: 'blob-chunk', digest: desc.digest, offset }),
  };
  await dst.uploadBlob(desc, () => src.openBlob(desc), upload);
  return event('blob-copied');
}

/**
 * Run `fn` over `items`, at most `limit` at a time. After the first failure no new item starts; the ones
 * running finish (so their uploads are cancelled) and the first error is thrown.
 */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

/**
 * Point `tag` at `digest` in `dst`: the manifest is read back from the destination (verified) and PUT
 * under the tag; the registry must report the same digest. The gate calls this last, after signing.
 */
export async function tagManifest(dst: RegistryRepository, tag: string, digest: string): Promise<void> {
  const m = await dst.getManifest(digest, { expected: digest });
  // Registries name a tagged manifest by its sha256: checked before the PUT, so a tag never names another digest.
  if (`sha256:${createHash('sha256').update(m.bytes).digest('hex')}` !== digest) {
    throw new PortcullisError(
      'PUSH_FAILED',
      `tag ${tag} in ${dst}: ${digest} is not the sha256 digest of its manifest`,
    );
  }
  const pushed = await dst.putManifest(m.bytes, { reference: tag, mediaType: m.mediaType });
  if (pushed.digest !== digest) {
    // Only a manifest hashed with another algorithm can get here; a tag must name exactly this digest.
    throw new PortcullisError('PUSH_FAILED', `tag ${tag} in ${dst}: would point to ${pushed.digest}, not ${digest}`);
  }
}
