import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { type CollectOptions, type Collector, LayerCollector } from './collect.js';
import { FileTree } from './filetree.js';
import { decodeBytes, type EntrySink, type EntryType, type TarEntry } from './tar.js';

/** Top-level directories of a live root file system that are never image content. */
const SKIP_TOP = new Set(['proc', 'sys', 'dev']);
/** Read size for feeding wanted files to collectors, and the size of the first read of each. */
const CHUNK = 1024 * 1024;
const HEAD = 64 * 1024;

type Stats = import('node:fs').Stats;

/** A path for system calls: a string, or bytes once a name on it is not valid UTF-8 (a string cannot spell it). */
type FsPath = string | Buffer;

const SLASH = Buffer.from('/');

function childPath(dir: FsPath, name: string, bytes: Buffer | undefined): FsPath {
  if (typeof dir === 'string' && !bytes) return join(dir, name);
  const d = Buffer.from(dir);
  const sep = d[d.length - 1] === 0x2f ? [] : [SLASH];
  return Buffer.concat([d, ...sep, bytes ?? Buffer.from(name)]);
}

/**
 * The names in a directory, and the bytes of those that are not valid UTF-8. readdir decodes such a name with
 * U+FFFD, which lstat then cannot find; so a listing with U+FFFD in it is read again as bytes (the common listing
 * costs one scan for U+FFFD). A name is then spelled as `decodeBytes` spells it.
 */
function listNames(dir: FsPath): { names: string[]; raw: Map<string, Buffer> | undefined } {
  const names = readdirSync(dir);
  if (!names.some((n) => n.includes('\uFFFD'))) return { names, raw: undefined };
  const raw = new Map<string, Buffer>();
  const decoded = readdirSync(dir, { encoding: 'buffer' }).map((b) => {
    const name = decodeBytes(b);
    if (!Buffer.from(name).equals(b)) raw.set(name, b);
    return name;
  });
  return { names: decoded, raw };
}

/** A symlink's target, spelled as `listNames` spells names. */
function readLink(abs: FsPath): string {
  const target = readlinkSync(abs);
  return target.includes('\uFFFD') ? decodeBytes(readlinkSync(abs, { encoding: 'buffer' })) : target;
}

/** A path for a message. */
function shown(abs: FsPath): string {
  return typeof abs === 'string' ? abs : decodeBytes(abs);
}

function typeOf(st: Stats): EntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined; // sockets
}

/** A live file system changes under the walk: a path that disappeared is skipped; anything else fails. */
function vanished(err: unknown, path: FsPath): undefined {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
  fail('NOT_FOUND', `dir: cannot read ${shown(path)} (${e.code ?? e.message})`);
}

/**
 * A wanted file that cannot be read (EACCES, EIO): fails as an unreadable directory does. Even ENOENT fails here: the
 * entry is already recorded, and a cataloger would take a file with no content for an empty or odd one.
 */
function unreadable(err: unknown, abs: FsPath): never {
  const e = err as NodeJS.ErrnoException;
  fail('NOT_FOUND', `dir: cannot read ${shown(abs)} (${e.code ?? e.message})`);
}

/** Feed exactly `size` bytes of a file to a sink, so a file growing under us cannot blow the content limit. */
function feed(abs: FsPath, size: number, sink: EntrySink): void {
  // O_NOFOLLOW | O_NONBLOCK: if the path was swapped for a symlink or a FIFO since lstat, refuse rather than
  // follow it out of the root or block; fstat confirms it is still a regular file.
  let fd: number;
  try {
    fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    unreadable(err, abs);
  }
  try {
    if (!fstatSync(fd).isFile()) fail('NOT_FOUND', `dir: ${shown(abs)} changed while it was read`);
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 1)));
    let pos = 0;
    while (pos < size && !sink.done) {
      const next = sink.nextOffset;
      if (next !== undefined && next > pos && sink.skip) {
        // Seek past what no analyzer needs (a Go binary's text, before its data segment).
        const to = Math.min(next, size);
        sink.skip(to);
        pos = to;
        continue;
      }
      // A small first read lets streaming analyzers look at headers before deciding what to skip.
      const want = pos === 0 ? Math.min(buf.length, HEAD) : buf.length;
      let n: number;
      try {
        n = readSync(fd, buf, 0, Math.min(want, size - pos), pos);
      } catch (err) {
        unreadable(err, abs);
      }
      if (n === 0) break;
      sink.write(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  sink.end();
}

/**
 * Walk a root file system on disk (`dir:ROOTFS`) as if it were a single layer. Symlinks are read,
 * never followed, so nothing outside ROOTFS is touched. Synchronous system calls on purpose: a
 * promise per lstat costs ten times the call itself on a 100k-file tree, and there is nothing else
 * for the process to do meanwhile.
 */
export async function walkDirectory(
  root: string,
  collectors: readonly Collector[],
  opts: CollectOptions = {},
): Promise<{ tree: FileTree; entries: number; bytes: number }> {
  let rootStat: Stats;
  try {
    rootStat = lstatSync(root);
  } catch (err) {
    fail('NOT_FOUND', `dir:${root}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!rootStat.isDirectory()) fail('BAD_REFERENCE', `dir:${root} is not a directory`);
  const collector = new LayerCollector(0, collectors, opts);
  let entries = 0;
  let bytes = 0;
  // Each directory to read: its path in the tree, its path for system calls, and the bytes of its path in the tree
  // when a name on it is not valid UTF-8.
  const stack: { rel: string; dir: FsPath; relBytes: Buffer | undefined }[] = [
    { rel: '', dir: root, relBytes: undefined },
  ];
  while (stack.length > 0) {
    const { rel, dir, relBytes } = stack.pop() as (typeof stack)[number];
    let names: string[];
    let raw: Map<string, Buffer> | undefined;
    try {
      ({ names, raw } = listNames(dir));
    } catch (err) {
      vanished(err, rel);
      continue;
    }
    for (const name of names.sort()) {
      if (!rel && SKIP_TOP.has(name)) continue;
      const nameBytes = raw?.get(name);
      let path = rel ? `${rel}/${name}` : name;
      let pathBytes: Buffer | undefined;
      if (relBytes || nameBytes) {
        // The tar reader decodes a member's whole path: one invalid byte anywhere and every byte over 0x7f is a
        // lone surrogate. Decoding the whole path here too gives a layer and a directory of the same bytes one path.
        const own = nameBytes ?? Buffer.from(name);
        pathBytes = rel ? Buffer.concat([relBytes ?? Buffer.from(rel), SLASH, own]) : own;
        path = decodeBytes(pathBytes);
      }
      const abs = childPath(dir, name, nameBytes);
      let st: Stats;
      try {
        st = lstatSync(abs);
      } catch (err) {
        vanished(err, abs);
        continue;
      }
      const type = typeOf(st);
      if (!type) continue;
      let linkname = '';
      if (type === 'symlink') {
        try {
          linkname = readLink(abs);
        } catch (err) {
          vanished(err, abs);
          continue;
        }
      }
      const entry: TarEntry = {
        path,
        type,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        size: type === 'file' ? st.size : 0,
        mtime: Math.floor(st.mtimeMs / 1000),
        linkname,
        layer: 0,
      };
      entries++;
      if (type === 'file') bytes += st.size;
      if (type === 'dir') stack.push({ rel: path, dir: abs, relBytes: pathBytes });
      const sink = collector.onEntry(entry);
      if (sink) feed(abs, st.size, sink);
    }
  }
  const tree = new FileTree();
  tree.apply(collector.changes);
  return { tree, entries, bytes };
}
