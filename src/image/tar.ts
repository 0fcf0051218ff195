import { fail, PortcullisError, printable } from '../errors.js';

/**
 * A push-based, zero-copy tar reader (ustar, GNU long names, PAX). Written here rather than taken from
 * tar-stream so every hostile case has a hard bound (header sizes, PAX records) and entry data can be
 * handed to synchronous sinks without a stream object per entry. ref: POSIX pax format, GNU tar manual.
 */

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One tar entry's metadata, with its path normalised to a clean relative form (`etc/passwd`). */
export interface TarEntry {
  readonly path: string;
  readonly type: EntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  /** Symlink target as written, or the normalised path of a hardlink's target. */
  readonly linkname: string;
  /** Index of the layer the entry belongs to (from the reader's options), so consumers need not copy it. */
  readonly layer: number;
}

/** Receives an entry's data in order; must not keep references to chunks it does not copy. */
export interface EntrySink {
  write(chunk: Uint8Array): void;
  end(): void;
  /** True when the sink wants no more data (its readers may stop early where they can). */
  readonly done?: boolean;
  /** The next offset the sink needs; a reader that can seek may jump there after calling `skip`. */
  readonly nextOffset?: number | undefined;
  skip?(to: number): void;
}

export interface TarReaderOptions {
  /** Largest PAX or GNU long-name record accepted (default 1 MiB). */
  readonly maxMetaBytes?: number;
  /** Name of the archive for error messages, e.g. `layer sha256:ab12..`. */
  readonly where: string;
  /** Layer index stamped on every entry (default 0). */
  readonly layer?: number;
  /** Return a sink to receive the entry's data, or undefined to skip it. */
  readonly onEntry: (entry: TarEntry) => EntrySink | undefined;
}

const BLOCK = 512;

const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Decode a NUL-terminated field. Names are bytes: invalid UTF-8 is mapped byte by byte to lone surrogates
 * (U+DC80..U+DCFF, Python's "surrogateescape"), which valid UTF-8 never produces, so two different byte
 * names can never become the same path.
 */
function cstring(buf: Uint8Array, start: number, len: number): string {
  let end = start;
  const limit = start + len;
  let ascii = true;
  for (; end < limit; end++) {
    const c = buf[end] as number;
    if (c === 0) break;
    if (c > 0x7f) ascii = false;
  }
  if (end === start) return '';
  // Nearly every name is ASCII: building the string directly is several times faster than TextDecoder.
  if (ascii && end - start <= 256)
    return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
  return decodeBytes(buf.subarray(start, end));
}

/** Bytes of a name as a string, invalid UTF-8 mapped to lone surrogates (see `cstring`); the dir: walk uses it too. */
export function decodeBytes(bytes: Uint8Array): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    let out = '';
    for (const b of bytes) out += b < 0x80 ? String.fromCharCode(b) : String.fromCharCode(0xdc00 + b);
    return out;
  }
}

/**
 * A numeric header field read as Go's archive/tar reads it (the reader containerd and Docker unpack layers with), so
 * that no field means one thing here and another to the runtime: GNU base-256 when the top bit is set (negative when
 * the next bit is), else octal after trimming spaces and NULs at both ends and cutting at the first NUL left. Any
 * other character (a space between digits) makes the header invalid, as Go says.
 */
function numeric(
  buf: Uint8Array,
  start: number,
  len: number,
  where: string,
  field: string,
  negative: 'allowed' | 'refused' = 'refused',
): number {
  const first = buf[start] ?? 0;
  if (first & 0x80) {
    // GNU base-256: big-endian two's complement in the remaining bits.
    const inv = first & 0x40 ? 0xff : 0;
    if (inv && negative === 'refused') fail('LAYER_INVALID', `${where}: negative ${field} in tar header`);
    let v = (first ^ inv) & 0x7f;
    for (let i = start + 1; i < start + len; i++) {
      v = v * 256 + ((buf[i] ?? 0) ^ inv);
      if (v > Number.MAX_SAFE_INTEGER) fail('LAYER_INVALID', `${where}: ${field} too large in tar header`);
    }
    return inv ? -v - 1 : v;
  }
  const isPad = (c: number | undefined): boolean => c === 0 || c === 0x20;
  let from = start;
  let to = start + len;
  while (from < to && isPad(buf[from])) from++;
  while (to > from && isPad(buf[to - 1])) to--;
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i] as number;
    if (c === 0) break;
    if (c < 0x30 || c > 0x37) fail('LAYER_INVALID', `${where}: ${field} in tar header is not an octal number`);
    v = v * 8 + (c - 0x30);
  }
  return v;
}

function checksumOk(h: Uint8Array): boolean {
  const stored = numericLoose(h, 148, 8);
  let unsigned = 8 * 0x20; // the checksum field itself counts as spaces
  for (let i = 0; i < 148; i++) unsigned += h[i] as number;
  for (let i = 156; i < BLOCK; i++) unsigned += h[i] as number;
  if (stored === unsigned) return true;
  // Some old writers summed signed bytes; only computed when the usual sum fails.
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    const b = h[i] as number;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === signed;
}

function numericLoose(buf: Uint8Array, start: number, len: number): number {
  let v = 0;
  for (let i = start; i < start + len; i++) {
    const c = buf[i] ?? 0;
    if (c >= 0x30 && c <= 0x37) v = v * 8 + (c - 0x30);
    else if (c === 0 || (c === 0x20 && v > 0)) break;
  }
  return v;
}

/** Longest member name or link target accepted: Linux's PATH_MAX; no runtime can create a longer path. */
const MAX_PATH = 4096;

function bytesAre(h: Uint8Array, at: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (h[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * The name prefix of a header, by the format rules of Go's archive/tar (the reader containerd, moby and umoci
 * use), so a layer cannot show Portcullis one path and the runtime another: USTAR/PAX have a 155-byte prefix,
 * star a 131-byte one, GNU none (unless its atime/ctime fields do not parse, a pre-Go-1.8 writer bug).
 */
function ustarPrefix(h: Uint8Array): Uint8Array {
  if (bytesAre(h, 257, 'ustar\0')) {
    return bytesAre(h, 508, 'tar\0') ? field(h, 345, 131) : field(h, 345, 155);
  }
  if (bytesAre(h, 257, 'ustar ') && bytesAre(h, 263, ' \0')) {
    // Go's parseOctal: trim spaces and NULs at both ends; what is left must be octal digits.
    const parses = (at: number): boolean => {
      if ((h[at] ?? 0) & 0x80) return true;
      let a = at;
      let b = at + 12;
      while (a < b && (h[a] === 0x20 || h[a] === 0)) a++;
      while (b > a && (h[b - 1] === 0x20 || h[b - 1] === 0)) b--;
      for (let i = a; i < b; i++) {
        const c = h[i] as number;
        if (c < 0x30 || c > 0x37) return false;
      }
      return true;
    };
    if (parses(345) && parses(357)) return EMPTY;
    const prefix = field(h, 345, 155);
    return prefix.every((c) => c < 0x80) ? prefix : EMPTY;
  }
  return EMPTY;
}

const EMPTY = new Uint8Array(0);

/** The bytes of a NUL-terminated field. */
function field(buf: Uint8Array, start: number, len: number): Uint8Array {
  let end = start;
  while (end < start + len && buf[end] !== 0) end++;
  return buf.subarray(start, end);
}

function isZeroBlock(h: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (h[i] !== 0) return false;
  return true;
}

/**
 * Normalise a member name to a clean relative path. Names that are absolute or climb out of the root
 * with `..` are refused: a runtime would clamp or reject them, and either way the layer is hostile.
 */
export function normaliseMemberPath(name: string, where: string): string {
  // Fast path: names that are already clean (no leading '/' or './', no '.' or '..' parts, no '//').
  if (
    name.length > 0 &&
    name[0] !== '/' &&
    name[0] !== '.' &&
    !name.includes('/.') &&
    !name.includes('//') &&
    !name.includes('\0') &&
    name[name.length - 1] !== '/'
  ) {
    return name;
  }
  if (name.includes('\0')) fail('LAYER_INVALID', `${where}: entry name contains a NUL byte`);
  if (name.startsWith('/')) fail('LAYER_INVALID', `${where}: entry '${printable(name)}' has an absolute path`);
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) fail('LAYER_INVALID', `${where}: entry '${printable(name)}' escapes the image root`);
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.join('/');
}

function parsePax(data: Uint8Array, where: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    let sp = i;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = Number.parseInt(Buffer.from(data.subarray(i, sp)).toString('latin1'), 10);
    if (!Number.isSafeInteger(len) || len <= sp - i || i + len > data.length) {
      if (data[i] === 0) break; // trailing NUL padding
      fail('LAYER_INVALID', `${where}: malformed PAX record`);
    }
    const rec = decodeBytes(data.subarray(sp + 1, i + len - 1));
    const eq = rec.indexOf('=');
    if (eq <= 0) fail('LAYER_INVALID', `${where}: malformed PAX record`);
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

type State =
  | { kind: 'header' }
  | { kind: 'data'; remaining: number; pad: number; sink: EntrySink | undefined }
  | {
      kind: 'meta';
      remaining: number;
      pad: number;
      parts: Uint8Array[];
      got: number;
      type: 'pax' | 'global' | 'longname' | 'longlink';
    }
  | { kind: 'end' };

/** Feed chunks with `push`, then call `finish`; entries are reported synchronously as they complete. */
export class TarReader {
  private state: State = { kind: 'header' };
  private readonly header = new Uint8Array(BLOCK);
  private headerFill = 0;
  private pax: Map<string, string> | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  private zeroBlocks = 0;
  private readonly maxMeta: number;
  private entries = 0;
  private offset = 0;

  constructor(private readonly opts: TarReaderOptions) {
    this.maxMeta = opts.maxMetaBytes ?? 1024 * 1024;
  }

  /** Bytes the reader would discard next without looking at them (unwanted entry data and padding). */
  skippable(): number {
    const st = this.state;
    if (st.kind !== 'data' || st.sink !== undefined || this.headerFill !== 0) return 0;
    return st.remaining + st.pad;
  }

  /** Skip `n` bytes (at most `skippable()`) that the caller did not read, e.g. by seeking in a file. */
  skip(n: number): void {
    const st = this.state;
    if (st.kind !== 'data' || st.sink !== undefined || n > st.remaining + st.pad) {
      throw new Error('TarReader.skip: nothing to skip here');
    }
    const fromData = Math.min(n, st.remaining);
    st.remaining -= fromData;
    st.pad -= n - fromData;
    this.offset += n;
    if (st.remaining === 0 && st.pad === 0) this.state = { kind: 'header' };
  }

  /** Bytes consumed so far. */
  get position(): number {
    return this.offset;
  }

  /** Number of entries reported so far. */
  get count(): number {
    return this.entries;
  }

  /** True once the end-of-archive marker was seen. */
  get ended(): boolean {
    return this.state.kind === 'end';
  }

  push(chunk: Uint8Array): void {
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      const st = this.state;
      switch (st.kind) {
        case 'end':
          return; // bytes after the end marker (padding to the record size) are ignored
        case 'header': {
          const take = Math.min(BLOCK - this.headerFill, n - pos);
          if (this.headerFill === 0 && take === BLOCK) {
            this.onHeader(chunk.subarray(pos, pos + BLOCK));
          } else {
            this.header.set(chunk.subarray(pos, pos + take), this.headerFill);
            this.headerFill += take;
            if (this.headerFill === BLOCK) {
              this.headerFill = 0;
              this.onHeader(this.header);
            }
          }
          pos += take;
          this.offset += take;
          break;
        }
        case 'data': {
          if (st.remaining > 0) {
            const take = Math.min(st.remaining, n - pos);
            st.sink?.write(chunk.subarray(pos, pos + take));
            st.remaining -= take;
            pos += take;
            this.offset += take;
            if (st.remaining === 0) st.sink?.end();
          } else {
            const take = Math.min(st.pad, n - pos);
            st.pad -= take;
            pos += take;
            this.offset += take;
          }
          if (st.remaining === 0 && st.pad === 0) this.state = { kind: 'header' };
          break;
        }
        case 'meta': {
          if (st.remaining > 0) {
            const take = Math.min(st.remaining, n - pos);
            st.parts.push(chunk.slice(pos, pos + take));
            st.got += take;
            st.remaining -= take;
            pos += take;
            this.offset += take;
          } else {
            const take = Math.min(st.pad, n - pos);
            st.pad -= take;
            pos += take;
            this.offset += take;
          }
          if (st.remaining === 0 && st.pad === 0) {
            this.finishMeta(st);
            this.state = { kind: 'header' };
          }
          break;
        }
      }
    }
  }

  /** Call at end of input: a tar that stops inside a header or an entry's data is truncated. */
  finish(): void {
    const st = this.state;
    if (st.kind === 'end') return;
    if (st.kind === 'header' && this.headerFill === 0) {
      // A missing end-of-archive marker after whole entries is tolerated (many writers omit it).
      if (this.pax || this.longName || this.longLink)
        fail('LAYER_INVALID', `${this.opts.where}: tar ends after an extended header`);
      return;
    }
    fail('LAYER_INVALID', `${this.opts.where}: tar is truncated at byte ${this.offset}`);
  }

  private onHeader(h: Uint8Array): void {
    const where = this.opts.where;
    if (isZeroBlock(h)) {
      this.zeroBlocks++;
      if (this.zeroBlocks >= 2) this.state = { kind: 'end' };
      return;
    }
    // Go's archive/tar, which containerd and Docker unpack layers with, rejects a header after one zero block: such a
    // layer never runs, and reading on would describe files no runtime sees.
    if (this.zeroBlocks === 1)
      fail('LAYER_INVALID', `${where}: a lone zero block before the tar header at byte ${this.offset}`);
    if (!checksumOk(h)) fail('LAYER_INVALID', `${where}: bad tar header checksum at byte ${this.offset}`);
    const flag = String.fromCharCode(h[156] ?? 0);
    const size = numeric(h, 124, 12, where, 'size');
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > this.maxMeta) {
        fail('LAYER_INVALID', `${where}: extended header of ${size} bytes exceeds the ${this.maxMeta}-byte limit`);
      }
      const type = flag === 'x' ? 'pax' : flag === 'g' ? 'global' : flag === 'L' ? 'longname' : 'longlink';
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      const meta: Extract<State, { kind: 'meta' }> = { kind: 'meta', remaining: size, pad, parts: [], got: 0, type };
      if (size === 0) this.finishMeta(meta);
      this.state = size === 0 ? { kind: 'header' } : meta;
      return;
    }
    // Prefix and name are joined as bytes before decoding, so a name has one spelling however it is split.
    let name: string;
    const prefix = ustarPrefix(h);
    const base = field(h, 0, 100);
    if (prefix.length === 0) name = cstring(base, 0, base.length);
    else {
      const joined = new Uint8Array(prefix.length + 1 + base.length);
      joined.set(prefix, 0);
      joined[prefix.length] = 0x2f;
      joined.set(base, prefix.length + 1);
      name = cstring(joined, 0, joined.length);
    }
    let linkname = flag === '1' || flag === '2' ? cstring(h, 157, 100) : '';
    let entrySize = size;
    let mtime = numeric(h, 136, 12, where, 'mtime', 'allowed');
    let uid = numeric(h, 108, 8, where, 'uid');
    let gid = numeric(h, 116, 8, where, 'gid');
    if (this.pax) {
      const p = this.pax;
      // As Go's archive/tar (mergePAX): an empty PAX value keeps the header's own value.
      const str = (k: string): string | undefined => {
        const v = p.get(k);
        return v === undefined || v === '' ? undefined : v;
      };
      name = str('path') ?? name;
      linkname = str('linkpath') ?? linkname;
      const num = (k: string, dflt: number, re: RegExp): number => {
        const v = str(k);
        if (v === undefined) return dflt;
        const x = Number(v);
        if (!re.test(v) || !Number.isSafeInteger(Math.floor(x))) {
          fail('LAYER_INVALID', `${where}: PAX ${k}='${printable(v, 40)}' is not a valid number`);
        }
        return Math.floor(x);
      };
      entrySize = num('size', size, /^\d+$/);
      mtime = num('mtime', mtime, /^-?\d+(\.\d+)?$/);
      uid = num('uid', uid, /^\d+$/);
      gid = num('gid', gid, /^\d+$/);
      if (p.has('GNU.sparse.major') || p.has('GNU.sparse.map')) {
        fail('LAYER_INVALID', `${where}: entry '${printable(name)}' uses GNU sparse format, which layers must not`);
      }
    }
    // GNU long names and links win over PAX path and linkpath, as in Go's archive/tar: a runtime sees these names.
    if (this.longName !== undefined) name = this.longName;
    if (this.longLink !== undefined) linkname = this.longLink;
    if (name.length > MAX_PATH || linkname.length > MAX_PATH) {
      fail(
        'LAYER_INVALID',
        `${where}: entry '${printable(name, 100)}' has a name or link target over ${MAX_PATH} bytes`,
      );
    }
    this.pax = undefined;
    this.longName = undefined;
    this.longLink = undefined;
    const mode = numeric(h, 100, 8, where, 'mode') & 0o7777;
    let type: EntryType;
    switch (flag) {
      case '\0':
        // The pre-POSIX "regular file" flag with a trailing slash meant a directory (Go's TypeRegA rule).
        type = name.endsWith('/') ? 'dir' : 'file';
        break;
      case '0':
        type = 'file';
        break;
      case '1':
        type = 'hardlink';
        break;
      case '2':
        type = 'symlink';
        break;
      case '3':
        type = 'char';
        break;
      case '4':
        type = 'block';
        break;
      case '5':
        type = 'dir';
        break;
      case '6':
        type = 'fifo';
        break;
      case 'S':
        throw new PortcullisError(
          'LAYER_INVALID',
          `${where}: entry '${printable(name)}' uses GNU sparse format, which layers must not`,
        );
      default:
        fail(
          'LAYER_INVALID',
          `${where}: entry '${printable(name)}' has unknown tar type '${flag.replace(/[^\x20-\x7e]/g, '?')}'`,
        );
    }
    const path = normaliseMemberPath(name, where);
    if (type === 'hardlink') linkname = normaliseMemberPath(linkname, `${where} (hardlink '${path}')`);
    // As in Go's archive/tar, only regular files carry data: a size on a link, directory or device is ignored.
    const dataSize = type === 'file' ? entrySize : 0;
    this.entries++;
    const layer = this.opts.layer ?? 0;
    const sink = this.opts.onEntry({ path, type, mode, uid, gid, size: dataSize, mtime, linkname, layer });
    if (dataSize === 0) {
      sink?.end();
      this.state = { kind: 'header' };
      return;
    }
    this.state = { kind: 'data', remaining: dataSize, pad: (BLOCK - (dataSize % BLOCK)) % BLOCK, sink };
  }

  private finishMeta(st: Extract<State, { kind: 'meta' }>): void {
    const data = Buffer.concat(st.parts, st.got);
    const where = this.opts.where;
    switch (st.type) {
      case 'pax':
        this.pax = parsePax(data, where);
        break;
      case 'global':
        // Go's archive/tar returns a global header as an entry of its own (runtimes skip it), which drops the
        // extended headers pending before it: they name nothing.
        this.pax = undefined;
        this.longName = undefined;
        this.longLink = undefined;
        break;
      case 'longname':
        // An empty long name is ignored, as Go's archive/tar does.
        this.longName = cstring(data, 0, data.length) || undefined;
        break;
      case 'longlink':
        this.longLink = cstring(data, 0, data.length) || undefined;
        break;
    }
  }
}
