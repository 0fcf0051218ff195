/** One entry of a generated tar: a regular file, a directory or a whiteout marker. */
export interface TarHeader {
  readonly path: string;
  readonly type: 'file' | 'dir';
  readonly size: number;
  readonly mode: number;
}

const BLOCK = 512;
const MTIME = 1_700_000_000; // fixed, so the generated image is byte-for-byte reproducible

function octal(buf: Buffer, offset: number, width: number, value: number): void {
  buf.write(value.toString(8).padStart(width - 1, '0'), offset, width - 1, 'ascii');
}

/** Split a long path into ustar's prefix (155) and name (100) fields at a slash. */
function splitPath(path: string): [prefix: string, name: string] {
  if (Buffer.byteLength(path) <= 100) return ['', path];
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [prefix, name];
  }
  throw new Error(`tar writer: path too long for ustar: ${path}`);
}

/** A POSIX ustar header block (ref: POSIX pax, ustar interchange format). */
export function tarHeader(h: TarHeader): Buffer {
  const buf = Buffer.alloc(BLOCK);
  const [prefix, name] = splitPath(h.type === 'dir' ? `${h.path}/` : h.path);
  buf.write(name, 0, 100, 'utf8');
  octal(buf, 100, 8, h.mode);
  octal(buf, 108, 8, 0);
  octal(buf, 116, 8, 0);
  octal(buf, 124, 12, h.type === 'dir' ? 0 : h.size);
  octal(buf, 136, 12, MTIME);
  buf.fill(0x20, 148, 156);
  buf.write(h.type === 'dir' ? '5' : '0', 156, 1, 'ascii');
  buf.write('ustar\u000000', 257, 8, 'ascii');
  buf.write('root', 265, 32, 'ascii');
  buf.write('root', 297, 32, 'ascii');
  buf.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of buf) sum += b;
  buf.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return buf;
}

/** Zero bytes that pad `size` bytes of content to a whole block. */
export function tarPadding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The two zero blocks that end an archive. */
export const TAR_END = Buffer.alloc(2 * BLOCK);
