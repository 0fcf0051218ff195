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
const decoder = new TextDecoder('utf-8');

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
  return decoder.decode(buf.subarray(start, end));
}

function numeric(buf: Uint8Array, start: number, len: number, where: string, field: string): number {
  const first = buf[start] ?? 0;
  if (first & 0x80) {
    // GNU base-256: big-endian two's complement in the remaining bits.
    if (first === 0xff) fail('LAYER_INVALID', `${where}: negative ${field} in tar header`);
    let v = first & 0x7f;
    for (let i = start + 1; i < start + len; i++) {
      v = v * 256 + (buf[i] ?? 0);
      if (v > Number.MAX_SAFE_INTEGER) fail('LAYER_INVALID', `${where}: ${field} too large in tar header`);
    }
    return v;
  }
  let v = 0;
  let seen = false;
  for (let i = start; i < start + len; i++) {
    const c = buf[i] ?? 0;
    if (c === 0) break;
    if (c === 0x20) {
      if (seen) break;
      continue;
    }
    if (c < 0x30 || c > 0x37) fail('LAYER_INVALID', `${where}: ${field} in tar header is not an octal number`);
    v = v * 8 + (c - 0x30);
    seen = true;
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
    const len = Number.parseInt(decoder.decode(data.subarray(i, sp)), 10);
    if (!Number.isSafeInteger(len) || len <= sp - i || i + len > data.length) {
      if (data[i] === 0) break; // trailing NUL padding
      fail('LAYER_INVALID', `${where}: malformed PAX record`);
    }
    const rec = decoder.decode(data.subarray(sp + 1, i + len - 1));
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
    if (this.zeroBlocks === 1) this.zeroBlocks = 0; // a lone zero block inside the archive: keep reading
    if (!checksumOk(h)) fail('LAYER_INVALID', `${where}: bad tar header checksum at byte ${this.offset}`);
    const flag = String.fromCharCode(h[156] ?? 0);
    const size = numeric(h, 124, 12, where, 'size');
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > this.maxMeta) {
        fail('LAYER_INVALID', `${where}: extended header of ${size} bytes exceeds the ${this.maxMeta}-byte limit`);
      }
      const type = flag === 'x' ? 'pax' : flag === 'g' ? 'global' : flag === 'L' ? 'longname' : 'longlink';
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      this.state = size === 0 ? { kind: 'header' } : { kind: 'meta', remaining: size, pad, parts: [], got: 0, type };
      return;
    }
    const magic = cstring(h, 257, 6);
    const ustar = magic.startsWith('ustar');
    let name = this.longName ?? cstring(h, 0, 100);
    if (!this.longName && ustar && magic === 'ustar') {
      const prefix = cstring(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    let linkname = this.longLink ?? (flag === '1' || flag === '2' ? cstring(h, 157, 100) : '');
    let entrySize = size;
    let mtime = numeric(h, 136, 12, where, 'mtime');
    let uid = numeric(h, 108, 8, where, 'uid');
    let gid = numeric(h, 116, 8, where, 'gid');
    if (this.pax) {
      const p = this.pax;
      name = p.get('path') ?? name;
      linkname = p.get('linkpath') ?? linkname;
      const num = (k: string, dflt: number): number => {
        const v = p.get(k);
        if (v === undefined) return dflt;
        const x = Number(v);
        if (!Number.isFinite(x) || x < 0)
          fail('LAYER_INVALID', `${where}: PAX ${k}='${printable(v, 40)}' is not a number`);
        return Math.floor(x);
      };
      entrySize = num('size', size);
      mtime = num('mtime', mtime);
      uid = num('uid', uid);
      gid = num('gid', gid);
      if (p.has('GNU.sparse.major') || p.has('GNU.sparse.map')) {
        fail('LAYER_INVALID', `${where}: entry '${printable(name)}' uses GNU sparse format, which layers must not`);
      }
    }
    this.pax = undefined;
    this.longName = undefined;
    this.longLink = undefined;
    const mode = numeric(h, 100, 8, where, 'mode') & 0o7777;
    let type: EntryType;
    switch (flag) {
      case '0':
      case '\0':
      case '7':
        type = name.endsWith('/') ? 'dir' : 'file';
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
        break; // global PAX headers carry defaults no layer writer relies on; ignore them as Go's archive/tar does
      case 'longname':
        this.longName = cstring(data, 0, data.length);
        break;
      case 'longlink':
        this.longLink = cstring(data, 0, data.length);
        break;
    }
  }
}
