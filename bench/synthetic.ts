import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statfsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { BENCH_CACHE } from './env.js';
import { contentPool, Rng } from './rng.js';
import { TAR_END, tarHeader, tarPadding } from './tarwriter.js';

/** The tag of the synthetic image in its layout. */
export const SYNTHETIC_REF = 'synthetic';
/** Bump when the generator changes, so a cached image from an older generator is rebuilt. */
const VERSION = 1;
const POOL_BYTES = 48 * 1024 * 1024;
const MIB = 1024 * 1024;

/** One planned entry of a layer: a file cut from the pool at `offset`, a directory, or a whiteout. */
interface Planned {
  readonly path: string;
  readonly type: 'file' | 'dir';
  readonly size: number;
  readonly mode: number;
  readonly offset: number;
  /** Literal content (os-release, dpkg status) instead of pool bytes. */
  readonly text?: Buffer;
}

/** What the generated image holds, recorded next to it. */
export interface SyntheticSummary {
  readonly version: number;
  readonly layers: number;
  readonly files: number;
  readonly uncompressedBytes: number;
  readonly compressedBytes: number;
}

const OS_RELEASE = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`;

function dpkgStatus(packages: number): string {
  let s = '';
  for (let i = 0; i < packages; i++) {
    s += `Package: synpkg-${i}\nStatus: install ok installed\nPriority: optional\nSection: misc\n`;
    s += `Installed-Size: ${100 + i}\nMaintainer: Bench <bench@example.invalid>\nArchitecture: amd64\n`;
    s += `Version: 1.${i % 7}.${i}-1\nDescription: synthetic package ${i}\n\n`;
  }
  return s;
}

/** Builds one layer's entry list, adding parent directories before their first entry. */
class LayerPlan {
  readonly entries: Planned[] = [];
  private readonly dirs = new Set<string>();
  constructor(private readonly rng: Rng) {}

  private dir(path: string): void {
    if (path === '.' || path === '' || this.dirs.has(path)) return;
    this.dir(dirname(path));
    this.dirs.add(path);
    this.entries.push({ path, type: 'dir', size: 0, mode: 0o755, offset: 0 });
  }

  file(path: string, size: number, mode = 0o644): void {
    this.dir(dirname(path));
    this.entries.push({ path, type: 'file', size, mode, offset: this.rng.below(POOL_BYTES) });
  }

  text(path: string, content: string): void {
    this.dir(dirname(path));
    const text = Buffer.from(content);
    this.entries.push({ path, type: 'file', size: text.length, mode: 0o644, offset: 0, text });
  }

  /** `count` files of log-uniform sizes, `perDir` to a directory: `${base}/dNNN/fNNNN${ext}`. */
  many(base: string, count: number, min: number, max: number, perDir: number, ext = '', mode = 0o644): void {
    for (let i = 0; i < count; i++) {
      const d = Math.floor(i / perDir);
      this.file(`${base}/d${d}/f${i}${ext}`, this.rng.logUniform(min, max), mode);
    }
  }
}

/**
 * The synthetic image's plan: about 1 GiB of 100k files in four layers, shaped like a real application
 * image (an OS layer of libraries, binaries and docs; a dependency layer with a huge node_modules-like
 * tree and a few big shared objects; a data layer with large blobs; a patch layer that overwrites,
 * deletes and hides earlier files). Deterministic: a fixed seed.
 */
function plan(): LayerPlan[] {
  const rng = new Rng(0x5eed);
  const base = new LayerPlan(rng);
  base.text('etc/os-release', OS_RELEASE);
  base.text('var/lib/dpkg/status', dpkgStatus(300));
  base.many('usr/lib/x86_64-linux-gnu', 300, 32 * 1024, 2 * MIB, 100, '.so');
  base.many('usr/bin', 300, 16 * 1024, MIB, 300, '', 0o755);
  base.many('usr/share/doc', 30_000, 200, 24 * 1024, 250, '.txt');

  const deps = new LayerPlan(rng);
  deps.many('app/node_modules', 45_000, 100, 24 * 1024, 150, '.js');
  for (let i = 0; i < 5; i++) deps.file(`opt/runtime/lib/libruntime${i}.so`, 24 * MIB + rng.below(MIB), 0o755);

  const data = new LayerPlan(rng);
  for (let i = 0; i < 3; i++) data.file(`srv/data/blob${i}.bin`, 64 * MIB + rng.below(MIB));
  data.many('srv/assets', 20_000, 1024, 24 * 1024, 200, '.dat');

  const patch = new LayerPlan(rng);
  for (let i = 0; i < 2000; i++) {
    const n = i * 13;
    patch.file(`usr/share/doc/d${Math.floor(n / 250)}/f${n}.txt`, rng.logUniform(200, 8 * 1024));
  }
  for (let i = 0; i < 1000; i++) {
    const n = i * 37;
    patch.file(`app/node_modules/d${Math.floor(n / 150)}/.wh.f${n}.js`, 0);
  }
  patch.file('srv/assets/d7/.wh..wh..opq', 0);
  patch.many('app/dist', 2300, 1024, 16 * 1024, 100, '.js');
  return [base, deps, data, patch];
}

/** A generated layer's blob digest and size, and its diff_id. */
interface WrittenLayer {
  readonly digest: string;
  readonly size: number;
  readonly diffId: string;
  readonly uncompressed: number;
}

/** Stream one layer's tar through gzip into `blobs/`, hashing both sides; nothing is held in memory. */
async function writeLayer(entries: readonly Planned[], pool: Buffer, blobs: string, n: number): Promise<WrittenLayer> {
  const gz = createGzip({ level: 1, chunkSize: MIB });
  const diff = createHash('sha256');
  const stored = createHash('sha256');
  const tmp = join(blobs, `layer-${n}.tmp`);
  let size = 0;
  const written = pipeline(
    gz,
    async function* (src: AsyncIterable<Buffer>) {
      for await (const chunk of src) {
        stored.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    createWriteStream(tmp),
  );
  let batch = Buffer.allocUnsafe(MIB);
  let used = 0;
  let uncompressed = 0;
  // Batch small pieces into 1 MiB writes: 100k tiny zlib writes would each cost a thread-pool round trip.
  const put = async (data: Buffer): Promise<void> => {
    for (let off = 0; off < data.length; ) {
      const n = data.copy(batch, used, off);
      used += n;
      off += n;
      if (used === batch.length) await flush();
    }
  };
  const flush = async (): Promise<void> => {
    if (used === 0) return;
    const out = batch.subarray(0, used);
    diff.update(out);
    uncompressed += used;
    batch = Buffer.allocUnsafe(MIB);
    used = 0;
    if (!gz.write(out)) await new Promise((r) => gz.once('drain', r));
  };
  for (const e of entries) {
    await put(tarHeader(e));
    if (e.type !== 'file') continue;
    if (e.text) {
      await put(e.text);
    } else {
      for (let done = 0; done < e.size; ) {
        const start = (e.offset + done) % pool.length;
        const piece = Math.min(e.size - done, pool.length - start, MIB);
        await put(pool.subarray(start, start + piece));
        done += piece;
      }
    }
    await put(Buffer.alloc(tarPadding(e.size)));
  }
  await put(TAR_END);
  await flush();
  gz.end();
  await written;
  const hex = stored.digest('hex');
  renameSync(tmp, join(blobs, hex));
  return { digest: `sha256:${hex}`, size, diffId: `sha256:${diff.digest('hex')}`, uncompressed };
}

async function writeBlob(blobs: string, data: string, mediaType: string) {
  const hex = createHash('sha256').update(data).digest('hex');
  await writeFile(join(blobs, hex), data);
  return { mediaType, digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
}

/** The synthetic ~1 GiB, 100k-file image as an OCI layout, generated once with node:zlib and node:crypto. */
export async function ensureSyntheticImage(
  log: (msg: string) => void,
): Promise<{ layout: string; summary: SyntheticSummary }> {
  const layout = join(BENCH_CACHE, `synthetic-v${VERSION}`);
  const marker = join(layout, '.complete');
  if (existsSync(marker)) return { layout, summary: JSON.parse(readFileSync(marker, 'utf8')) as SyntheticSummary };
  mkdirSync(BENCH_CACHE, { recursive: true });
  const free = statfsSync(BENCH_CACHE);
  if (free.bavail * free.bsize < 2 * 1024 ** 3) throw new Error(`${BENCH_CACHE}: the synthetic image needs 2 GiB free`);
  log(`generating the synthetic 1 GiB image in ${layout} (once; about 30 s)`);
  const work = `${layout}.tmp`;
  rmSync(work, { recursive: true, force: true });
  rmSync(layout, { recursive: true, force: true });
  const blobs = join(work, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const layers = plan();
  const pool = contentPool(POOL_BYTES, 0xb0b);
  const written = await Promise.all(layers.map((l, i) => writeLayer(l.entries, pool, blobs, i)));
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: written.map((w) => w.diffId) },
    history: ['base os', 'dependencies', 'data', 'patch'].map((s) => ({ created_by: `synthetic: ${s}` })),
  });
  const cfg = await writeBlob(blobs, config, 'application/vnd.oci.image.config.v1+json');
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: cfg,
    layers: written.map((w) => ({
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: w.digest,
      size: w.size,
    })),
  });
  const man = await writeBlob(blobs, manifest, 'application/vnd.oci.image.manifest.v1+json');
  await writeFile(join(work, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    join(work, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ ...man, annotations: { 'org.opencontainers.image.ref.name': SYNTHETIC_REF } }],
    }),
  );
  const summary: SyntheticSummary = {
    version: VERSION,
    layers: written.length,
    files: layers.reduce((n, l) => n + l.entries.filter((e) => e.type === 'file').length, 0),
    uncompressedBytes: written.reduce((n, w) => n + w.uncompressed, 0),
    compressedBytes: written.reduce((n, w) => n + w.size, 0),
  };
  await writeFile(join(work, '.complete'), JSON.stringify(summary));
  renameSync(work, layout);
  return { layout, summary };
}

/** The planned file count and uncompressed content bytes, without generating anything (for tuning the plan). */
export function planTotals(): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const l of plan()) {
    for (const e of l.entries) {
      if (e.type !== 'file') continue;
      files++;
      bytes += e.size;
    }
  }
  return { files, bytes };
}
