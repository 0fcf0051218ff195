import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_CACHE, ROOTFS } from './env.js';

/** The tag of the bookworm image in its layout. */
export const BOOKWORM_REF = 'bookworm';

/** Top-level entries never packed: a live rootfs's kernel file systems, and setup's own marker. */
const SKIP_TOP = new Set(['dev', 'proc', 'sys', '.complete']);

/**
 * The bookworm rootfs as a one-layer OCI image (built once with GNU tar and umoci, then cached), packed
 * as /work/shared/REAL-PARTS.md says: without downloaded .debs, apt lists, dev, proc and sys.
 */
export function ensureBookwormImage(log: (msg: string) => void): string {
  const layout = join(BENCH_CACHE, 'bookworm-oci');
  // Keyed by when setup finished the rootfs, so a re-debootstrapped rootfs gets a fresh image.
  const key = String(statSync(join(ROOTFS, '.complete')).mtimeMs);
  const marker = join(layout, '.complete');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === key) return layout;
  log(`building the bookworm OCI image in ${layout} (once; about 10 s)`);
  mkdirSync(BENCH_CACHE, { recursive: true });
  const work = join(BENCH_CACHE, 'bookworm-oci.tmp');
  rmSync(work, { recursive: true, force: true });
  rmSync(layout, { recursive: true, force: true });
  mkdirSync(work);
  const tar = join(work, 'layer.tar');
  const top = readdirSync(ROOTFS)
    .filter((e) => !SKIP_TOP.has(e))
    .sort();
  execFileSync(
    'tar',
    [
      '--create',
      '--file',
      tar,
      '--directory',
      ROOTFS,
      '--sort=name',
      '--numeric-owner',
      '--exclude=var/cache/apt/archives/*.deb',
      '--exclude=var/lib/apt/lists/*',
      ...top,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const dir = join(work, 'layout');
  const image = `${dir}:${BOOKWORM_REF}`;
  const umoci = (...args: string[]): void => {
    execFileSync('umoci', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  umoci('init', '--layout', dir);
  umoci('new', '--image', image);
  umoci('raw', 'add-layer', '--image', image, tar);
  umoci('config', '--image', image, '--config.cmd', '/bin/bash', '--os', 'linux', '--architecture', 'amd64');
  umoci('gc', '--layout', dir);
  writeFileSync(join(dir, '.complete'), key);
  renameSync(dir, layout);
  rmSync(work, { recursive: true, force: true });
  return layout;
}
