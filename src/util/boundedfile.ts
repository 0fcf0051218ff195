import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** A small input file (policy, VEX document, key), or why it could not be read; callers word their own errors. */
export type BoundedFile =
  | { readonly ok: true; readonly bytes: Buffer }
  | {
      readonly ok: false;
      readonly problem: 'missing' | 'unreadable' | 'not-a-file' | 'too-large';
      readonly code?: string;
    };

/** Read a regular file of at most `max` bytes: one open, a size check before any read, one buffer. */
export function readBoundedFile(path: string, max: number): BoundedFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, problem: code === 'ENOENT' ? 'missing' : 'unreadable', ...(code ? { code } : {}) };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { ok: false, problem: 'not-a-file' };
    if (st.size > max) return { ok: false, problem: 'too-large' };
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return { ok: true, bytes: buf.subarray(0, off) };
  } finally {
    closeSync(fd);
  }
}
