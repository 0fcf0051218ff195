/**
 * A node's file system under a directory (the I/O edge of the CIS checks). The tree is untrusted: every path is
 * resolved one component at a time with lstat, symbolic links are read as the node would read them (an absolute
 * target starts again at the node root), a link that climbs out of the root is refused, and files are read bounded.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';

/** Configuration files are kilobytes; anything past this is refused unread. */
export const MAX_NODE_FILE_BYTES = 4 * 1024 * 1024;
/** Symbolic links followed while resolving one path (Linux's own limit). */
export const MAX_LINKS = 40;

export interface Stat {
  readonly type: 'file' | 'dir' | 'link' | 'other';
  /** Permission bits with set-id and sticky bits (`mode & 0o7777`). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
}

export type Resolved =
  | { readonly ok: true; readonly real: string; readonly stat: Stat }
  | { readonly ok: false; readonly missing: true }
  | { readonly ok: false; readonly missing: false; readonly problem: string };

function statOf(s: import('node:fs').Stats): Stat {
  return {
    type: s.isSymbolicLink() ? 'link' : s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other',
    mode: s.mode & 0o7777,
    uid: s.uid,
    gid: s.gid,
    size: s.size,
  };
}

/** Components of an absolute node path (`/etc/kubernetes/x` -> [etc, kubernetes, x]); `.` dropped. */
function parts(p: string): string[] {
  return p.split('/').filter((s) => s !== '' && s !== '.');
}

/**
 * Resolve a path as the node sees it (`/etc/kubernetes/admin.conf`, or relative to `/`) inside `root`, following links
 * inside the root only. `root` itself is trusted (it is what the user gave).
 */
export function resolveInRoot(root: string, nodePath: string): Resolved {
  const todo = parts(nodePath);
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const seg = todo.shift() as string;
    if (seg === '..') {
      if (done.length === 0) return { ok: false, missing: false, problem: 'a path climbs out of the node root' };
      done.pop();
      continue;
    }
    const here = join(root, ...done, seg);
    let st: import('node:fs').Stats;
    try {
      st = lstatSync(here);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, missing: true };
      return { ok: false, missing: false, problem: `cannot be read (${code ?? 'error'})` };
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) return { ok: false, missing: false, problem: 'too many symbolic links (a loop?)' };
      const target = readlinkSync(here);
      if (target.startsWith('/')) done.length = 0;
      else {
        // A relative link resolves from its own directory; it may not climb above the root.
        let depth = done.length;
        for (const t of parts(target)) {
          depth += t === '..' ? -1 : 1;
          if (depth < 0)
            return {
              ok: false,
              missing: false,
              problem: `symbolic link /${[...done, seg].join('/')} -> ${target} leaves the node root (refused)`,
            };
        }
      }
      todo.unshift(...parts(target));
      continue;
    }
    if (todo.length > 0 && !st.isDirectory()) return { ok: false, missing: true };
    done.push(seg);
    if (todo.length === 0) return { ok: true, real: join(root, ...done), stat: statOf(st) };
  }
  try {
    return { ok: true, real: root, stat: statOf(lstatSync(root)) };
  } catch {
    return { ok: false, missing: true };
  }
}

export type ReadResult =
  | { readonly ok: true; readonly text: string; readonly stat: Stat }
  | { readonly ok: false; readonly missing: boolean; readonly problem: string };

/** Read a regular file inside the root, bounded, refusing anything that changed between lstat and open. */
export function readInRoot(root: string, nodePath: string, max = MAX_NODE_FILE_BYTES): ReadResult {
  const r = resolveInRoot(root, nodePath);
  if (!r.ok) return r.missing ? { ok: false, missing: true, problem: 'no such file' } : { ...r, missing: false };
  if (r.stat.type !== 'file') return { ok: false, missing: false, problem: 'not a regular file' };
  if (r.stat.size > max)
    return { ok: false, missing: false, problem: `larger than ${max / 1024 / 1024} MiB (refused unread)` };
  let fd: number;
  try {
    fd = openSync(r.real, constants.O_RDONLY | constants.O_NOFOLLOW | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    return { ok: false, missing: false, problem: `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { ok: false, missing: false, problem: 'not a regular file' };
    const buf = Buffer.alloc(Math.min(st.size, max) + 1);
    let len = 0;
    while (len < buf.length) {
      const got = readSync(fd, buf, len, buf.length - len, null);
      if (got === 0) break;
      len += got;
    }
    if (len > max)
      return { ok: false, missing: false, problem: `larger than ${max / 1024 / 1024} MiB (refused unread)` };
    return { ok: true, text: buf.subarray(0, len).toString('utf8'), stat: statOf(st) };
  } finally {
    closeSync(fd);
  }
}

/** Entries under a directory (not following links), depth first, bounded; the directory itself first. */
export function walkInRoot(
  root: string,
  nodeDir: string,
  max: number,
): { entries: { nodePath: string; stat: Stat }[]; truncated: boolean } | undefined {
  const r = resolveInRoot(root, nodeDir);
  if (!r.ok || r.stat.type !== 'dir') return undefined;
  const base = `/${parts(nodeDir).join('/')}`;
  const entries: { nodePath: string; stat: Stat }[] = [{ nodePath: base, stat: r.stat }];
  const stack: { real: string; nodePath: string; depth: number }[] = [{ real: r.real, nodePath: base, depth: 0 }];
  while (stack.length > 0) {
    const d = stack.pop() as { real: string; nodePath: string; depth: number };
    let names: string[];
    try {
      names = readdirSync(d.real).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      if (entries.length >= max) return { entries, truncated: true };
      const real = join(d.real, name);
      let st: Stat;
      try {
        st = statOf(lstatSync(real));
      } catch {
        continue;
      }
      const nodePath = `${d.nodePath}/${name}`;
      entries.push({ nodePath, stat: st });
      if (st.type === 'dir' && d.depth < 16) stack.push({ real, nodePath, depth: d.depth + 1 });
    }
  }
  return { entries, truncated: false };
}

/** Names in a directory inside the root (sorted), or [] when it is not there. */
export function listInRoot(root: string, nodeDir: string): string[] {
  const r = resolveInRoot(root, nodeDir);
  if (!r.ok || r.stat.type !== 'dir') return [];
  try {
    return readdirSync(r.real).sort();
  } catch {
    return [];
  }
}
