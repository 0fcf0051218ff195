import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { printable } from '../errors.js';

/** Directory entries looked at before giving up (a checkout with vendored trees is large; this is far beyond one). */
export const MAX_ENTRIES = 200_000;

/** `path` relative to `root`, with forward slashes. */
export const rel = (root: string, path: string): string => relative(root, path).split(sep).join('/') || '.';

/**
 * The repository walk the loaders share: breadth first, entries in name order, directories `skipDir` names left out,
 * bounded in entries. `visit` sees every other entry (symbolic links included, never followed) and returns true to
 * stop. Error lines go to `errors`, in walk order. With `report`, an unreadable directory and the entry bound are error lines; without, they are left to the walk
 * that reports them.
 */
export async function walkTree(
  root: string,
  opts: { readonly skipDir: (name: string) => boolean; readonly report: boolean },
  visit: (dir: string, path: string, entry: Dirent) => boolean | undefined,
  errors: { file: string; line: number; column: number; message: string }[],
): Promise<void> {
  const queue: string[] = [root];
  let seen = 0;
  while (queue.length > 0) {
    const dir = queue.shift() as string;
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (dir === root) throw err;
      const code = printable((err as NodeJS.ErrnoException)?.code ?? String(err), 80);
      if (opts.report) errors.push({ file: rel(root, dir), line: 1, column: 1, message: `cannot list: ${code}` });
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (++seen > MAX_ENTRIES) {
        if (opts.report) {
          errors.push({
            file: '.',
            line: 1,
            column: 1,
            message: `more than ${MAX_ENTRIES} entries: not all were read`,
          });
        }
        return;
      }
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (!opts.skipDir(e.name)) queue.push(path);
      } else if (visit(dir, path, e)) return;
    }
  }
}
