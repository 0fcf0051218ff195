import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

/** A gzip layer blob in an OCI layout, with the digests it must hash to. */
export interface BlobRef {
  readonly path: string;
  readonly digest: string;
  readonly diffId: string;
  readonly size: number;
}

/** Read chunk and gunzip output size: zlib's 16 KiB default would halve the floor's throughput. */
const CHUNK = 1024 * 1024;

/**
 * The layers of `ref` in an OCI layout, read with plain JSON (independently of src/): the floor must
 * not share code with what it measures.
 */
export async function layoutBlobs(layout: string, ref: string): Promise<BlobRef[]> {
  const blob = (digest: string): string => join(layout, 'blobs', ...digest.split(':'));
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref);
  if (!entry) throw new Error(`${layout}: no image '${ref}' in index.json`);
  const manifest = JSON.parse(await readFile(blob(entry.digest), 'utf8')) as {
    config: { digest: string };
    layers: { digest: string; size: number; mediaType: string }[];
  };
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as {
    rootfs: { diff_ids: string[] };
  };
  return manifest.layers.map((l, i) => {
    if (!l.mediaType.endsWith('gzip')) throw new Error(`${layout}: layer ${i} is ${l.mediaType}, the floor needs gzip`);
    return { path: blob(l.digest), digest: l.digest, diffId: config.rootfs.diff_ids[i] as string, size: l.size };
  });
}

/** Read, SHA-256 and gunzip one blob, SHA-256 its output, and check both digests; returns the uncompressed size. */
async function floorOne(blob: BlobRef): Promise<number> {
  const stored = createHash('sha256');
  const diff = createHash('sha256');
  let out = 0;
  await pipeline(
    createReadStream(blob.path, { highWaterMark: CHUNK }),
    async function* (src: AsyncIterable<Buffer>) {
      for await (const chunk of src) {
        stored.update(chunk);
        yield chunk;
      }
    },
    createGunzip({ chunkSize: CHUNK }),
    async (src: AsyncIterable<Buffer>) => {
      for await (const chunk of src) {
        diff.update(chunk);
        out += chunk.length;
      }
    },
  );
  const got = [`sha256:${stored.digest('hex')}`, `sha256:${diff.digest('hex')}`];
  if (got[0] !== blob.digest || got[1] !== blob.diffId) {
    throw new Error(`floor: ${blob.path} hashes to ${got.join(' / ')}, expected ${blob.digest} / ${blob.diffId}`);
  }
  return out;
}

/**
 * The floor: the least work any verifying scanner must do — read every layer blob, gunzip it, and
 * SHA-256 both the stored and the uncompressed bytes — with up to `concurrency` layers at once, as the walk
 * does. Returns the uncompressed byte count.
 */
export async function gunzipHashFloor(blobs: readonly BlobRef[], concurrency = 3): Promise<number> {
  let next = 0;
  let total = 0;
  const worker = async (): Promise<void> => {
    for (let b = blobs[next++]; b; b = blobs[next++]) {
      const n = await floorOne(b); // not `total += await ...`: that reads total before the await
      total += n;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, blobs.length) }, worker));
  return total;
}
