import { crc32 } from 'node:zlib';
import { ArchiveError, type InflateBudget } from './errors.js';
import { InflateError, RawInflater } from './rawinflate.js';

/**
 * A push-based zip reader that walks local file headers in order (ref: PKWARE APPNOTE.TXT 4.3.7), so an
 * archive is read as it streams and never buffered. Entries nobody wants are skipped by their compressed size;
 * entries written with a data descriptor (bit 3, sizes 0 in the local header) are measured by running the
 * inflater to the end of their deflate stream, or, for other methods, by finding a descriptor whose sizes
 * (and CRC, for stored data) match the bytes before it. Reading stops at the central directory.
 */

/** One entry as its local header describes it. */
export interface ZipEntry {
  readonly name: string;
  /** Offset of the local header in the archive. */
  readonly offset: number;
  readonly method: number;
  readonly flags: number;
  /** False when the data cannot be decoded here (encrypted, or a method other than stored and deflate). */
  readonly readable: boolean;
  /** Undefined when only the data descriptor after the data knows it. */
  readonly compressedSize: number | undefined;
}

/** Receives one entry's decoded bytes (views: copy what you keep). Exactly one of end/abort ends it. */
export interface ZipSink {
  /** Returns false to stop receiving; neither end nor abort is called afterwards. */
  write(chunk: Uint8Array): boolean;
  end(): void;
  /** The entry's data could not be decoded; the walk of the archive goes on. */
  abort(reason: string): void;
}

export interface ZipReaderOptions {
  /** Return a sink for the entry's decoded data, or undefined to skip it. */
  readonly onEntry: (entry: ZipEntry) => ZipSink | undefined;
  /** Counts inflated bytes, those handed to sinks and those thrown away; shared with nested archives. */
  readonly budget: InflateBudget;
  /** Bytes before the first local header that are tolerated (launch scripts of executable jars; default 16 MiB). */
  readonly maxPrefixBytes?: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_DESCRIPTOR = 0x08074b50;
const SIG_EOCD = 0x06054b50;
/** Signatures of what follows the last entry: central directory, ZIP64 end records, end record, signature. */
const END_SIGS = new Set([0x02014b50, 0x06064b50, 0x07064b50, SIG_EOCD, 0x05054b50]);
/** Markers a split or spanned archive may start with (APPNOTE 8.5.3, 8.5.4). */
const SPAN_SIGS = new Set([SIG_DESCRIPTOR, 0x30304b50]);
const LOCAL_BYTES = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const DESC_BYTES = Buffer.from([0x50, 0x4b, 0x07, 0x08]);
const LOCAL_HEADER = 30;
const U32 = 0x1_0000_0000;
// Entry names are read as UTF-8 whatever the language-encoding flag says, as Java reads jar entry names.
const decoder = new TextDecoder('utf-8');

type After = 'header' | { readonly compressed: number; readonly zip64: boolean };

type State =
  | { kind: 'start' }
  | { kind: 'prefix'; tail: Uint8Array; skipped: number }
  | { kind: 'header' }
  | { kind: 'copy'; left: number; sink: ZipSink | undefined; after: After }
  | {
      kind: 'inflate';
      left: number | undefined;
      inflater: RawInflater;
      sink: ZipSink | undefined;
      dd: boolean;
      zip64: boolean;
    }
  | {
      kind: 'scan';
      sink: ZipSink | undefined;
      got: number;
      crc: number;
      stored: boolean;
      zip64: boolean;
      hold: Uint8Array;
    }
  | { kind: 'descriptor'; compressed: number; zip64: boolean }
  | { kind: 'done' }
  | { kind: 'failed' };

function u16(b: Uint8Array, o: number): number {
  return (b[o] as number) | ((b[o + 1] as number) << 8);
}

function u32(b: Uint8Array, o: number): number {
  return (
    ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16)) + (b[o + 3] as number) * 0x1000000
  );
}

function u64(b: Uint8Array, o: number): number {
  const hi = u32(b, o + 4);
  // Sizes past 2^53 cannot be real and cannot be counted exactly.
  if (hi >= 0x200000) throw new ArchiveError('INVALID', 'ZIP64 size is larger than 2^53 bytes');
  return hi * U32 + u32(b, o);
}

/** A descriptor size as read while probing: -1 (matches nothing) when it cannot be a real size. */
function probe64(b: Uint8Array, o: number): number {
  const hi = u32(b, o + 4);
  return hi >= 0x200000 ? -1 : hi * U32 + u32(b, o);
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.length);
}

/** The longest suffix of `b` that is a proper prefix of `sig` (a signature cut by a chunk boundary). */
function partialTail(b: Uint8Array, sig: Buffer): Uint8Array {
  for (let n = Math.min(3, b.length); n > 0; n--) {
    let ok = true;
    for (let i = 0; i < n; i++) if (b[b.length - n + i] !== sig[i]) ok = false;
    if (ok) return b.slice(b.length - n);
  }
  return new Uint8Array(0);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Reads one zip archive pushed in chunks. Errors are ArchiveError; after one, further input is ignored. */
export class ZipStreamReader {
  private state: State = { kind: 'start' };
  private hdr = new Uint8Array(256);
  private hdrLen = 0;
  private offset = 0;
  private entries = 0;
  private readonly maxPrefix: number;
  /** One inflater per archive, reset for each entry: its window and output buffer are reused. */
  private inflater: RawInflater | undefined;

  constructor(private readonly opts: ZipReaderOptions) {
    this.maxPrefix = opts.maxPrefixBytes ?? 16 * 1024 * 1024;
  }

  /** True once the central directory was reached: the rest of the input is not needed. */
  get done(): boolean {
    return this.state.kind === 'done' || this.state.kind === 'failed';
  }

  /** Feed the next bytes of the archive. */
  push(chunk: Uint8Array): void {
    if (this.done) {
      this.offset += chunk.length;
      return;
    }
    let off = 0;
    try {
      for (;;) {
        const before = this.state;
        const next = this.step(chunk, off);
        if (next === off && this.state === before) break;
        off = next;
      }
    } catch (err) {
      this.state = { kind: 'failed' };
      throw err;
    } finally {
      this.offset += chunk.length;
    }
  }

  /** The input has ended: complete what can be completed, or throw TRUNCATED / NOT_ZIP. */
  finish(): void {
    const st = this.state;
    if (st.kind === 'done' || st.kind === 'failed') return;
    this.state = { kind: 'failed' };
    switch (st.kind) {
      case 'start':
      case 'prefix':
        throw new ArchiveError('NOT_ZIP', 'not a zip archive: no local file header found');
      case 'header':
        throw new ArchiveError(
          'TRUNCATED',
          this.hdrLen === 0 && this.entries > 0
            ? `archive ends at offset ${this.offset} before its central directory`
            : `archive ends inside a header at offset ${this.offset}`,
        );
      case 'copy':
      case 'inflate':
        st.sink?.abort('entry data is truncated');
        throw new ArchiveError('TRUNCATED', `archive ends inside entry data at offset ${this.offset}`);
      case 'scan':
        if (this.scanCandidates(st, st.hold, 0, true) >= 0) {
          throw new ArchiveError('TRUNCATED', `archive ends at offset ${this.offset} before its central directory`);
        }
        st.sink?.abort('no data descriptor found after the entry data');
        throw new ArchiveError('TRUNCATED', `archive ends inside entry data at offset ${this.offset}`);
      case 'descriptor':
        throw new ArchiveError('TRUNCATED', `archive ends inside a data descriptor at offset ${this.offset}`);
    }
  }

  private step(chunk: Uint8Array, off: number): number {
    const st = this.state;
    switch (st.kind) {
      case 'start':
        return this.start(chunk, off);
      case 'prefix':
        return this.prefix(st, chunk, off);
      case 'header':
        return this.header(chunk, off);
      case 'copy':
        return this.copy(st, chunk, off);
      case 'inflate':
        return this.inflate(st, chunk, off);
      case 'scan':
        return this.scan(st, chunk, off);
      case 'descriptor':
        return this.descriptor(st, chunk, off);
      case 'done':
      case 'failed':
        return chunk.length;
    }
  }

  /** Copy up to `need` header bytes into hdr; returns the new offset. */
  private gather(chunk: Uint8Array, off: number, need: number): number {
    if (need > this.hdr.length) {
      const bigger = new Uint8Array(Math.max(need, this.hdr.length * 2));
      bigger.set(this.hdr.subarray(0, this.hdrLen));
      this.hdr = bigger;
    }
    const n = Math.min(need - this.hdrLen, chunk.length - off);
    if (n <= 0) return off;
    this.hdr.set(chunk.subarray(off, off + n), this.hdrLen);
    this.hdrLen += n;
    return off + n;
  }

  private start(chunk: Uint8Array, off: number): number {
    const next = this.gather(chunk, off, 4);
    if (this.hdrLen < 4) return next;
    const sig = u32(this.hdr, 0);
    if (sig === SIG_LOCAL) this.state = { kind: 'header' };
    else if (sig === SIG_EOCD) this.state = { kind: 'done' };
    else if (SPAN_SIGS.has(sig)) {
      this.hdrLen = 0;
      this.state = { kind: 'header' };
    } else {
      const tail = partialTail(this.hdr.subarray(1, 4), LOCAL_BYTES);
      this.hdrLen = 0;
      this.state = { kind: 'prefix', tail, skipped: 4 - tail.length };
    }
    return next;
  }

  /** Bytes before the first entry (a launch script): search for the first local header signature. */
  private prefix(st: Extract<State, { kind: 'prefix' }>, chunk: Uint8Array, off: number): number {
    if (off >= chunk.length) return off;
    const rest = chunk.subarray(off);
    if (st.tail.length > 0) {
      const head = rest.subarray(0, 4 - st.tail.length);
      const joined = concat(st.tail, head);
      const at = asBuffer(joined).indexOf(LOCAL_BYTES);
      if (at >= 0) return this.foundLocal(off + at + 4 - st.tail.length);
      if (head.length < 4 - st.tail.length) {
        st.skipped += joined.length - partialTail(joined, LOCAL_BYTES).length;
        st.tail = partialTail(joined, LOCAL_BYTES);
        return chunk.length;
      }
      st.skipped += st.tail.length;
      st.tail = new Uint8Array(0);
    }
    const at = asBuffer(rest).indexOf(LOCAL_BYTES);
    if (at >= 0) {
      st.skipped += at;
      if (st.skipped > this.maxPrefix) throw this.noZip();
      return this.foundLocal(off + at + 4);
    }
    st.tail = partialTail(rest, LOCAL_BYTES);
    st.skipped += rest.length - st.tail.length;
    if (st.skipped > this.maxPrefix) throw this.noZip();
    return chunk.length;
  }

  private noZip(): ArchiveError {
    return new ArchiveError('NOT_ZIP', `not a zip archive: no local file header in the first ${this.maxPrefix} bytes`);
  }

  private foundLocal(next: number): number {
    this.hdr.set(LOCAL_BYTES, 0);
    this.hdrLen = 4;
    this.state = { kind: 'header' };
    return next;
  }

  private header(chunk: Uint8Array, off: number): number {
    let next = this.gather(chunk, off, 4);
    if (this.hdrLen < 4) return next;
    const sig = u32(this.hdr, 0);
    if (sig !== SIG_LOCAL) {
      if (END_SIGS.has(sig)) {
        this.state = { kind: 'done' };
        return chunk.length;
      }
      const at = this.offset + off - (this.hdrLen - (next - off));
      throw new ArchiveError('INVALID', `no zip header at offset ${at} (found 0x${sig.toString(16).padStart(8, '0')})`);
    }
    next = this.gather(chunk, next, LOCAL_HEADER);
    if (this.hdrLen < LOCAL_HEADER) return next;
    const total = LOCAL_HEADER + u16(this.hdr, 26) + u16(this.hdr, 28);
    next = this.gather(chunk, next, total);
    if (this.hdrLen < total) return next;
    const start = this.offset + next - total;
    this.hdrLen = 0;
    this.begin(this.hdr.subarray(0, total), start);
    return next;
  }

  private begin(h: Uint8Array, start: number): void {
    this.entries++;
    const flags = u16(h, 6);
    const method = u16(h, 8);
    let csize = u32(h, 18);
    let usize = u32(h, 22);
    const nameLen = u16(h, 26);
    const name = decoder.decode(h.subarray(LOCAL_HEADER, LOCAL_HEADER + nameLen));
    const zip64 = this.zip64Sizes(h.subarray(LOCAL_HEADER + nameLen), csize, usize);
    if (zip64) ({ csize, usize } = zip64);
    const dd = (flags & 8) !== 0;
    const encrypted = (flags & 1) !== 0;
    const readable = !encrypted && (method === 0 || method === 8);
    const deflate = method === 8 && !encrypted;
    // With bit 3 the deflate stream itself says where it ends; a stored size is trusted only when given.
    const known = !dd ? csize : !deflate && csize > 0 ? csize : undefined;
    const entry: ZipEntry = { name, offset: start, method, flags, readable, compressedSize: known };
    const wanted = this.opts.onEntry(entry);
    const sink = readable ? wanted : undefined;
    const after: After = dd ? { compressed: known ?? 0, zip64: zip64 !== undefined } : 'header';
    if (known !== undefined) {
      if (deflate && sink) this.state = this.inflating(known, sink, false, false);
      else this.state = { kind: 'copy', left: known, sink: method === 0 ? sink : undefined, after };
    } else if (deflate) {
      this.state = this.inflating(undefined, sink, true, zip64 !== undefined);
    } else {
      this.state = {
        kind: 'scan',
        sink,
        got: 0,
        crc: 0,
        stored: method === 0 && !encrypted,
        zip64: zip64 !== undefined,
        hold: new Uint8Array(0),
      };
    }
  }

  /** Sizes from a ZIP64 extended-information extra field (APPNOTE 4.5.3), when the header defers to one. */
  private zip64Sizes(extra: Uint8Array, csize: number, usize: number): { csize: number; usize: number } | undefined {
    let o = 0;
    while (o + 4 <= extra.length) {
      const id = u16(extra, o);
      const len = u16(extra, o + 2);
      const data = extra.subarray(o + 4, Math.min(extra.length, o + 4 + len));
      o += 4 + len;
      if (id !== 1) continue;
      const vals: number[] = [];
      for (let i = 0; i + 8 <= data.length && vals.length < 2; i += 8) vals.push(u64(data, i));
      // A local header must carry both sizes (4.5.3); with only one, it is the first field that was 0xFFFFFFFF.
      if (vals.length >= 2) {
        return {
          usize: usize === 0xffffffff ? (vals[0] as number) : usize,
          csize: csize === 0xffffffff ? (vals[1] as number) : csize,
        };
      }
      if (vals.length === 1) {
        if (usize === 0xffffffff) return { usize: vals[0] as number, csize };
        if (csize === 0xffffffff) return { usize, csize: vals[0] as number };
      }
      return { csize, usize };
    }
    return undefined;
  }

  private inflating(
    left: number | undefined,
    sink: ZipSink | undefined,
    dd: boolean,
    zip64: boolean,
  ): Extract<State, { kind: 'inflate' }> {
    const budget = this.opts.budget;
    const inflater = this.inflater ?? new RawInflater();
    this.inflater = inflater;
    const st: Extract<State, { kind: 'inflate' }> = { kind: 'inflate', left, sink, dd, zip64, inflater };
    // Every decoded byte is counted: what a sink reads, and what is decoded only to find the end of the entry.
    inflater.reset((c) => {
      if (!st.sink) {
        budget.discard(c.length);
        return;
      }
      budget.take(c.length);
      if (!st.sink.write(c)) st.sink = undefined;
    });
    return st;
  }

  private copy(st: Extract<State, { kind: 'copy' }>, chunk: Uint8Array, off: number): number {
    if (st.left === 0) {
      st.sink?.end();
      this.afterData(st.after);
      return off;
    }
    const n = Math.min(st.left, chunk.length - off);
    if (n <= 0) return off;
    if (st.sink && !st.sink.write(chunk.subarray(off, off + n))) st.sink = undefined;
    st.left -= n;
    return off + n;
  }

  private afterData(after: After): void {
    this.state = after === 'header' ? { kind: 'header' } : { kind: 'descriptor', ...after };
  }

  private inflate(st: Extract<State, { kind: 'inflate' }>, chunk: Uint8Array, off: number): number {
    const avail = chunk.length - off;
    const n = st.left === undefined ? avail : Math.min(st.left, avail);
    if (n <= 0) {
      if (st.left === 0) {
        st.sink?.abort('deflate data ends before its final block');
        this.state = { kind: 'header' };
      }
      return off;
    }
    let used: number;
    try {
      used = st.inflater.push(chunk.subarray(off, off + n));
    } catch (err) {
      if (!(err instanceof InflateError)) throw err;
      if (st.left === undefined) {
        throw new ArchiveError('INVALID', `invalid deflate data with a data descriptor: ${err.message}`);
      }
      st.sink?.abort(`invalid deflate data: ${err.message}`);
      this.state = { kind: 'copy', left: st.left - n, sink: undefined, after: 'header' };
      return off + n;
    }
    if (st.left !== undefined) st.left -= used;
    if (st.inflater.ended) {
      st.sink?.end();
      if (st.left !== undefined) this.state = { kind: 'copy', left: st.left, sink: undefined, after: 'header' };
      else this.state = { kind: 'descriptor', compressed: st.inflater.inputBytes, zip64: st.zip64 };
    } else if (st.left !== undefined && !st.sink) {
      this.state = { kind: 'copy', left: st.left, sink: undefined, after: 'header' };
    }
    return off + used;
  }

  /**
   * Data descriptor after a bit-3 entry: an optional signature, the CRC, then 4- or 8-byte sizes. Which form
   * is the one whose compressed size matches the bytes actually used; the bytes after it start the next header.
   */
  private descriptor(st: Extract<State, { kind: 'descriptor' }>, chunk: Uint8Array, off: number): number {
    const next = this.gather(chunk, off, 24);
    if (this.hdrLen < 24) return next;
    const h = this.hdr.subarray(0, 24);
    const sig = u32(h, 0) === SIG_DESCRIPTOR;
    let len = (sig ? 4 : 0) + 4 + (st.zip64 ? 16 : 8);
    found: for (const withSig of sig ? [true, false] : [false]) {
      for (const wide of st.zip64 ? [true, false] : [false, true]) {
        const base = withSig ? 8 : 4;
        const size = wide ? probe64(h, base) : u32(h, base);
        if (size === (wide ? st.compressed : st.compressed % U32)) {
          len = base + (wide ? 16 : 8);
          break found;
        }
      }
    }
    const keep = h.slice(len);
    this.hdr.set(keep, 0);
    this.hdrLen = keep.length;
    this.state = { kind: 'header' };
    return next;
  }

  /** Entry with a descriptor and no way to find its end by decoding: search for a descriptor that fits. */
  private scan(st: Extract<State, { kind: 'scan' }>, chunk: Uint8Array, off: number): number {
    if (off >= chunk.length) return off;
    // The held bytes (a cut signature or an unconfirmed descriptor, under 24) are joined to the new input.
    const data = st.hold.length > 0 ? concat(st.hold, chunk.subarray(off)) : chunk.subarray(off);
    const held = st.hold.length;
    st.hold = new Uint8Array(0);
    const end = this.scanCandidates(st, data, 0, false);
    if (end >= 0) return off + end - held;
    return chunk.length;
  }

  /**
   * Walk `data` from `from`, handing bytes before each candidate signature to the sink. Returns the offset in
   * `data` just after the matching descriptor, or -1 when none is in `data` yet (the undecided tail is held).
   */
  private scanCandidates(st: Extract<State, { kind: 'scan' }>, data: Uint8Array, from: number, final: boolean): number {
    const buf = asBuffer(data);
    let i = from;
    for (;;) {
      const at = buf.indexOf(DESC_BYTES, i);
      if (at < 0) {
        const tail = final ? new Uint8Array(0) : partialTail(data.subarray(i), DESC_BYTES);
        this.scanDeliver(st, data.subarray(i, data.length - tail.length));
        st.hold = tail;
        return -1;
      }
      this.scanDeliver(st, data.subarray(i, at));
      const verdict = this.checkDescriptor(st, data.subarray(at), final);
      if (verdict === 'more') {
        st.hold = data.slice(at);
        return -1;
      }
      if (verdict > 0) {
        if (st.sink) st.sink.end();
        this.state = { kind: 'header' };
        return at + verdict;
      }
      this.scanDeliver(st, data.subarray(at, at + 1));
      i = at + 1;
    }
  }

  private scanDeliver(st: Extract<State, { kind: 'scan' }>, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    st.got += bytes.length;
    if (st.stored) st.crc = crc32(bytes, st.crc);
    if (st.sink && !st.sink.write(bytes)) st.sink = undefined;
  }

  /** Length of the descriptor at the start of `d` if it matches the data so far, 0 if not, 'more' if undecided. */
  private checkDescriptor(st: Extract<State, { kind: 'scan' }>, d: Uint8Array, final: boolean): number | 'more' {
    // The form the header announces is tried first; a later form is not tried while an earlier one is undecided.
    for (const wide of st.zip64 ? [true, false] : [false, true]) {
      const len = wide ? 24 : 16;
      if (d.length < len) {
        if (final) continue;
        return 'more';
      }
      const csize = wide ? probe64(d, 8) : u32(d, 8);
      const usize = wide ? probe64(d, 16) : u32(d, 12);
      const want = wide ? st.got : st.got % U32;
      if (csize !== want) continue;
      if (st.stored && (usize !== want || u32(d, 4) !== st.crc >>> 0)) continue;
      // Stored data can itself hold bytes shaped like a fitting descriptor: a real one is followed by the next
      // record (a local header, the central directory, ...), so a candidate followed by anything else is data.
      if (d.length < len + 4) {
        if (!final) return 'more';
      } else if (!followsRecord(d, len)) continue;
      return len;
    }
    return 0;
  }
}

/** Whether `d` at `at` starts a zip record (PK\3\4, PK\1\2, PK\5\6, PK\6\6, PK\6\7, PK\5\5, PK\6\8). */
function followsRecord(d: Uint8Array, at: number): boolean {
  if (d[at] !== 0x50 || d[at + 1] !== 0x4b) return false;
  const a = d[at + 2];
  const b = d[at + 3];
  return (
    (a === 3 && b === 4) ||
    (a === 1 && b === 2) ||
    (a === 5 && b === 6) ||
    (a === 6 && b === 6) ||
    (a === 6 && b === 7) ||
    (a === 5 && b === 5) ||
    (a === 6 && b === 8)
  );
}
