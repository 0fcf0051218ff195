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
export const CLI = join(ROOT, 'dist', 'portcullis.mjs');

/**
 * The shared advisory data: PORTCULLIS_ADVISORY_DATA, else ../shared/advisories beside the checkout, else the
 * workplace's /work/shared/advisories. Throws (never skips) when none exists.
 */
export function advisoryData(): string {
  const candidates = [
    process.env.PORTCULLIS_ADVISORY_DATA,
    join(ROOT, '..', 'shared', 'advisories'),
    '/work/shared/advisories',
  ];
  for (const c of candidates) if (c && existsSync(join(c, 'README.md'))) return resolve(c);
  throw new Error(
    `advisory data not found (tried ${candidates.filter(Boolean).join(', ')}); set PORTCULLIS_ADVISORY_DATA`,
  );
}
