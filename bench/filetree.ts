import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BENCH_CACHE } from './env.js';

/**
 * Generated input files, written once under the bench cache in a folder named by `prefix` and the hash of the
 * contents (a changed generator or seed makes a new folder rather than a stale one). Written to a temporary folder
 * and renamed, so an interrupted run never leaves a half-written tree that looks complete.
 */
export function writeTreeOnce(
  prefix: string,
  files: ReadonlyMap<string, string>,
  onWrite: (dir: string) => void,
): { dir: string; files: string[]; bytes: number } {
  const hash = createHash('sha256');
  for (const [path, text] of files) hash.update(`${path}\0${text}\0`);
  const dir = join(BENCH_CACHE, `${prefix}-${hash.digest('hex').slice(0, 12)}`);
  const paths = [...files.keys()].sort();
  const bytes = [...files.values()].reduce((n, t) => n + Buffer.byteLength(t), 0);
  if (!existsSync(join(dir, '.complete'))) {
    onWrite(dir);
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    for (const [path, text] of files) {
      mkdirSync(dirname(join(tmp, path)), { recursive: true });
      writeFileSync(join(tmp, path), text);
    }
    writeFileSync(join(tmp, '.complete'), '');
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  return { dir, files: paths, bytes };
}
