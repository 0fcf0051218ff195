import { createReadStream } from 'node:fs';
import { lstat, opendir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { type CollectOptions, type Collector, LayerCollector } from './collect.js';
import { FileTree } from './filetree.js';
import type { EntryType, TarEntry } from './tar.js';

/** Top-level directories of a live root file system that are never image content. */
const SKIP_TOP = new Set(['proc', 'sys', 'dev']);

function typeOf(st: Awaited<ReturnType<typeof lstat>>): EntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined; // sockets
}

/**
 * Walk a root file system on disk (`dir:ROOTFS`) as if it were a single layer. Symlinks are read,
 * never followed, so nothing outside ROOTFS is touched.
 */
export async function walkDirectory(
  root: string,
  collectors: readonly Collector[],
  opts: CollectOptions = {},
): Promise<{ tree: FileTree; entries: number; bytes: number }> {
  let rootStat: Awaited<ReturnType<typeof lstat>>;
  try {
    rootStat = await lstat(root);
  } catch (err) {
    fail('NOT_FOUND', `dir:${root}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!rootStat.isDirectory()) fail('BAD_REFERENCE', `dir:${root} is not a directory`);
  const collector = new LayerCollector(0, collectors, opts);
  let entries = 0;
  let bytes = 0;
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop() as string;
    const dir = await opendir(rel ? join(root, rel) : root);
    for await (const d of dir) {
      const path = rel ? `${rel}/${d.name}` : d.name;
      if (!rel && SKIP_TOP.has(d.name)) continue;
      const abs = join(root, path);
      const st = await lstat(abs);
      const type = typeOf(st);
      if (!type) continue;
      const entry: TarEntry = {
        path,
        type,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        size: type === 'file' ? st.size : 0,
        mtime: Math.floor(st.mtimeMs / 1000),
        linkname: type === 'symlink' ? await readlink(abs) : '',
      };
      entries++;
      const sink = collector.onEntry(entry);
      if (type === 'dir') stack.push(path);
      if (type === 'file') bytes += st.size;
      if (!sink) continue;
      // Read exactly the size lstat saw, so a file growing under us cannot blow the content limit.
      if (st.size > 0) {
        for await (const chunk of createReadStream(abs, { start: 0, end: st.size - 1, highWaterMark: 1024 * 1024 })) {
          sink.write(chunk as Buffer);
        }
      }
      sink.end();
    }
  }
  const tree = new FileTree();
  tree.apply(collector.changes);
  return { tree, entries, bytes };
}
