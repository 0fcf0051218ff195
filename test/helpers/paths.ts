import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '..', '..');
/** Cached fixtures built by scripts/setup-test-env.sh. */
export const CACHE = process.env.PORTCULLIS_CACHE ?? join(ROOT, '.cache');
/** The debootstrap'ed bookworm rootfs; setup must have made it. */
export function bookwormRootfs(): string {
  const dir = join(CACHE, 'rootfs', 'bookworm');
  if (!existsSync(join(dir, '.complete'))) {
    throw new Error(`${dir} is missing: run 'npm run setup' first (it debootstraps a bookworm rootfs once)`);
  }
  return dir;
}
/** The bundled example image. */
export const EXAMPLE = join(ROOT, 'examples', 'debian-app', 'layout');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
