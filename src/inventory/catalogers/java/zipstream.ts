import { hash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { ArchiveError, type InflateBudget } from './errors.js';
import { InflateError, RawInflater } from './rawinflate.js';

/**
 * A push-based zip reader that walks local file headers in order (ref: PKWARE APPNOTE.TXT 4.3.7), so an
 * archive is read as it streams and never buffered. Entries nobody wants are skipped by their compressed size;
 * entries written with a data descriptor (bit 3, sizes 0 in the local header) are measured by running the
 * inflater to the end of their deflate stream, or, for other methods, by finding a descriptor whose sizes
 * (and CRC, for stored data) match the bytes before it.
 *
 * Java, unzip and Spring Boot do not walk local headers: they read the central directory that the end record
 * at the end of the file points to. So where the walk ends, the rest of the archive is read too, as a stream:
 * central directory records, then the ZIP64 end record and locator if any, then the end record, then its
 * comment. Every central directory record must name an entry the walk read (same offset, name, method and,
 * for stored data, size), the central directory must start exactly where the walk ended, and no other end
 * record may follow for a reader searching from the end to find first. Otherwise the archive fails with an
 * error naming the entry or record and its offset: a reader that trusts the central directory would see
 * entries the walk did not (a fake central directory signature between entries, a local header whose size
 * swallows the next entry). For this the walk keeps 40 bytes per entry, for at most MAX_TRACKED entries, and
 * the entry names, up to NAME_POOL bytes of them (a keyed hash of each name past that).
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
const SIG_CENTRAL = 0x02014b50;
const SIG_ZIP64_END = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_EOCD = 0x06054b50;
/** Signatures of what follows the last entry: central directory, ZIP64 end records, end record, signature. */
const END_SIGS = new Set([SIG_CENTRAL, SIG_ZIP64_END, SIG_ZIP64_LOCATOR, SIG_EOCD, 0x05054b50]);
/** Markers a split or spanned archive may start with (APPNOTE 8.5.3, 8.5.4). */
const SPAN_SIGS = new Set([SIG_DESCRIPTOR, 0x30304b50]);
const LOCAL_BYTES = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const DESC_BYTES = Buffer.from([0x50, 0x4b, 0x07, 0x08]);
const EOCD_BYTES = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
const LOCAL_HEADER = 30;
const CENTRAL_HEADER = 46;
const ZIP64_END = 56;
const ZIP64_LOCATOR = 20;
const EOCD = 22;
/** Longest zip comment: a reader searching for the end record from the end of the file looks no further. */
const MAX_COMMENT = 0xffff;
const U32 = 0x1_0000_0000;
const MAGIC32 = 0xffffffff;
/** Local headers whose offset, name, method and size are kept to check the central directory against. */
export const MAX_TRACKED = 1 << 20;
/** Bytes of entry names kept as they are; names past it are kept as a keyed hash (slower to make). */
const NAME_POOL = 8 * 1024 * 1024;
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
  | Central
  | { kind: 'skip'; left: number; central: Central }
  | Tail
  | { kind: 'done' }
  | { kind: 'failed' };

/** ZIP64 end record values (APPNOTE 4.3.14) and where the record is. */
interface Zip64End {
  readonly at: number;
  readonly total: number;
  readonly cenlen: number;
  readonly cenoff: number;
}

/** Reading the central directory that starts at `start`, where the walk of local headers ended. */
interface Central {
  kind: 'central';
  readonly start: number;
  /** 'records': central directory records, a ZIP64 end record or the end record may come; then the locator, then the end record. */
  stage: 'records' | 'locator' | 'end';
  records: number;
  /** Where entry offsets may count from: the start of the input, and the first local header (after a launch script). */
  readonly bases: readonly number[];
  /** For each base, the first central directory record naming an entry the walk did not read. */
  readonly missing: (string | undefined)[];
  /** For each base, the first central directory record that describes an entry otherwise than the walk read it. */
  readonly faults: (string | undefined)[];
  zip64: Zip64End | undefined;
  locator: number | undefined;
}

/** The bytes after the end record (at `at`): its comment, and anything else appended. */
interface Tail {
  kind: 'tail';
  readonly at: number;
  readonly comment: number;
  /** Whether a reader searching from the end would accept this end record although its comment length is wrong. */
  readonly acceptedAnyway: boolean;
  /** The first end record signature after this one's start, or -1. */
  sigAt: number;
  hold: Uint8Array;
}

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

/** An entry name for a one-line message: quoted, control characters escaped, long names cut. */
function quote(name: Uint8Array): string {
  const s = decoder.decode(name);
  return JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}...` : s);
}

function hex(sig: number): string {
  return `0x${sig.toString(16).padStart(8, '0')}`;
}

// Names past the pool are compared by a keyed hash: the key is secret, so an archive cannot be made with two
// names that collide (a benign one in the local header, a nested jar's in the central directory).
const NAME_KEY_BYTES = 16;
const keyed = Buffer.alloc(NAME_KEY_BYTES + 0xffff);
randomBytes(NAME_KEY_BYTES).copy(keyed);

/** 64 bits of a keyed SHA-256 of an entry name's bytes. */
function nameKey(name: Uint8Array): Buffer {
  keyed.set(name, NAME_KEY_BYTES);
  return hash('sha256', keyed.subarray(0, NAME_KEY_BYTES + name.length), 'buffer');
}

/** Method, and bit 16 for encryption: what decides how a reader decodes an entry's data. */
function kindOf(method: number, flags: number): number {
  return method | ((flags & 1) << 16);
}

function describeKind(kind: number): string {
  return `method ${kind & 0xffff}${kind & 0x10000 ? ' (encrypted)' : ''}`;
}

/**
 * What the walk read at each local header, in the order of their offsets (the walk only goes forward): the
 * name, method and encryption, and the size of stored data (-1 when not stored or not known). Names are kept
 * as they are in a pool of at most NAME_POOL bytes, and past it as a keyed hash.
 */
class Walked {
  private offsets = new Float64Array(64);
  /** Start of the name in the pool, or -1 when only its key is kept. */
  private names = new Float64Array(64);
  private lengths = new Uint32Array(64);
  private keys = new Uint32Array(128);
  private kinds = new Uint32Array(64);
  private sizes = new Float64Array(64);
  private pool = new Uint8Array(4096);
  private used = 0;
  count = 0;
  /** More entries than MAX_TRACKED: the central directory cannot be checked. */
  overflow = false;

  /** Record an entry; returns its index, or -1 past the limit. */
  add(offset: number, name: Uint8Array, kind: number, size: number): number {
    if (this.count >= MAX_TRACKED) {
      this.overflow = true;
      return -1;
    }
    if (this.count === this.offsets.length) this.grow();
    const i = this.count++;
    this.offsets[i] = offset;
    this.lengths[i] = name.length;
    if (this.used + name.length <= NAME_POOL) {
      if (this.used + name.length > this.pool.length) {
        const bigger = new Uint8Array(Math.min(NAME_POOL, Math.max(this.pool.length * 2, this.used + name.length)));
        bigger.set(this.pool.subarray(0, this.used));
        this.pool = bigger;
      }
      this.pool.set(name, this.used);
      this.names[i] = this.used;
      this.used += name.length;
    } else {
      const key = nameKey(name);
      this.names[i] = -1;
      this.keys[2 * i] = key.readUInt32LE(0);
      this.keys[2 * i + 1] = key.readUInt32LE(4);
    }
    this.kinds[i] = kind;
    this.sizes[i] = size;
    return i;
  }

  setSize(i: number, size: number): void {
    if (i >= 0 && i < this.count) this.sizes[i] = size;
  }

  /** Index of the entry whose local header is at `offset`, or -1. */
  find(offset: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.offsets[mid] as number;
      if (at === offset) return mid;
      if (at < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private sameName(i: number, name: Uint8Array): boolean {
    if (this.lengths[i] !== name.length) return false;
    const start = this.names[i] as number;
    if (start >= 0) return asBuffer(name).equals(this.pool.subarray(start, start + name.length));
    const key = nameKey(name);
    return this.keys[2 * i] === key.readUInt32LE(0) && this.keys[2 * i + 1] === key.readUInt32LE(4);
  }

  /** Why a central directory record for an entry at `offset` does not describe what the walk read, if it does not. */
  mismatch(
    offset: number,
    kind: number,
    size: number,
    name: Uint8Array,
  ): { message: string; missing: boolean } | undefined {
    const i = this.find(offset);
    const what = () => `central directory entry ${quote(name)} at offset ${offset}`;
    if (i < 0) {
      return { message: `${what()} was not read: the walk of local headers found no entry there`, missing: true };
    }
    let message: string | undefined;
    const local = this.kinds[i] as number;
    const stored = this.sizes[i] as number;
    if (!this.sameName(i, name)) {
      message = `${what()} has another name in its local header`;
    } else if (local !== kind) {
      message = `${what()} has ${describeKind(kind)}, its local header ${describeKind(local)}`;
    } else if (kind === 0 && stored >= 0 && stored !== size) {
      message = `${what()} has ${size} bytes of stored data, its local header ${stored}`;
    }
    return message === undefined ? undefined : { message, missing: false };
  }

  private grow(): void {
    const n = this.offsets.length * 2;
    this.offsets = grown(this.offsets, n);
    this.names = grown(this.names, n);
    this.lengths = grown(this.lengths, n);
    this.keys = grown(this.keys, 2 * n);
    this.kinds = grown(this.kinds, n);
    this.sizes = grown(this.sizes, n);
  }
}

/** A copy of `a` with room for `n` elements. */
function grown<T extends Float64Array | Uint32Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

/** Reads one zip archive pushed in chunks. Errors are ArchiveError; after one, further input is ignored. */
export class ZipStreamReader {
  private state: State = { kind: 'start' };
  private hdr = new Uint8Array(256);
  private hdrLen = 0;
  private offset = 0;
  private entries = 0;
  private readonly maxPrefix: number;
  private readonly walked = new Walked();
  /** Index in `walked` of the entry being read (-1 when not tracked). */
  private current = -1;
  /** Offset of the first local header. */
  private firstLocal: number | undefined;
  /** One inflater per archive, reset for each entry: its window and output buffer are reused. */
  private inflater: RawInflater | undefined;

  constructor(private readonly opts: ZipReaderOptions) {
    this.maxPrefix = opts.maxPrefixBytes ?? 16 * 1024 * 1024;
  }

  /** True once the archive was read and checked to its end (by finish), or failed: further input is ignored. */
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
      case 'central':
      case 'skip':
        throw new ArchiveError(
          'TRUNCATED',
          `archive ends at offset ${this.offset} inside its central directory, before its end record`,
        );
      case 'tail':
        this.checkTail(st);
        this.state = { kind: 'done' };
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
      case 'central':
        return this.central(st, chunk, off);
      case 'skip':
        return this.skip(st, chunk, off);
      case 'tail':
        return this.tail(st, chunk, off);
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
    else if (sig === SIG_EOCD) this.state = this.centralAt(this.offset + next - this.hdrLen);
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
      // The header bytes gathered so far end where `next` is.
      const at = this.offset + next - this.hdrLen;
      if (END_SIGS.has(sig)) {
        this.state = this.centralAt(at);
        return next;
      }
      throw new ArchiveError('INVALID', `no zip header at offset ${at} (found ${hex(sig)})`);
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
    this.firstLocal ??= start;
    const flags = u16(h, 6);
    const method = u16(h, 8);
    let csize = u32(h, 18);
    let usize = u32(h, 22);
    const nameLen = u16(h, 26);
    const rawName = h.subarray(LOCAL_HEADER, LOCAL_HEADER + nameLen);
    const name = decoder.decode(rawName);
    const zip64 = this.zip64Sizes(h.subarray(LOCAL_HEADER + nameLen), csize, usize);
    if (zip64) ({ csize, usize } = zip64);
    const dd = (flags & 8) !== 0;
    const encrypted = (flags & 1) !== 0;
    const readable = !encrypted && (method === 0 || method === 8);
    const deflate = method === 8 && !encrypted;
    // With bit 3 the deflate stream itself says where it ends; a stored size is trusted only when given.
    const known = !dd ? csize : !deflate && csize > 0 ? csize : undefined;
    const kind = kindOf(method, flags);
    // The size of stored data as the walk takes it; a scan for the descriptor measures it (scanCandidates).
    this.current = this.walked.add(start, rawName, kind, kind === 0 && known !== undefined ? known : -1);
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
    const vals = zip64Extra(extra);
    if (vals === undefined) return undefined;
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
    if (end < 0) return chunk.length;
    if (end >= held) return off + end - held;
    // The descriptor ends inside the held bytes (input in pieces of a few bytes): the rest of them, read from
    // earlier chunks, start the next header.
    this.hdr.set(data.subarray(end, held), 0);
    this.hdrLen = held - end;
    return off;
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
        if (st.stored) this.walked.setSize(this.current, st.got);
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

  /** The walk reached something that is not a local header at `start`: read what follows as the central directory. */
  private centralAt(start: number): Central {
    const first = this.firstLocal;
    const bases = first === undefined || first === 0 ? [0] : [0, first];
    return {
      kind: 'central',
      start,
      stage: 'records',
      records: 0,
      bases,
      missing: bases.map(() => undefined),
      faults: bases.map(() => undefined),
      zip64: undefined,
      locator: undefined,
    };
  }

  /** One record of the central directory, ZIP64 end record, locator or end record, in the order APPNOTE 4.3.6 gives. */
  private central(st: Central, chunk: Uint8Array, off: number): number {
    let next = this.gather(chunk, off, 4);
    if (this.hdrLen < 4) return next;
    const sig = u32(this.hdr, 0);
    const allowed =
      st.stage === 'records'
        ? sig === SIG_CENTRAL || sig === SIG_ZIP64_END || sig === SIG_EOCD
        : sig === (st.stage === 'locator' ? SIG_ZIP64_LOCATOR : SIG_EOCD);
    if (!allowed) {
      const at = this.offset + next - this.hdrLen;
      const want =
        st.stage === 'records'
          ? 'a central directory record or an end record'
          : st.stage === 'locator'
            ? 'a ZIP64 end locator'
            : 'an end record';
      throw new ArchiveError(
        'INVALID',
        `damaged central directory at offset ${st.start}: ${hex(sig)} at offset ${at} where ${want} should be; nothing after offset ${st.start} was read`,
      );
    }
    const fixed =
      sig === SIG_CENTRAL
        ? CENTRAL_HEADER
        : sig === SIG_ZIP64_END
          ? ZIP64_END
          : sig === SIG_EOCD
            ? EOCD
            : ZIP64_LOCATOR;
    next = this.gather(chunk, next, fixed);
    if (this.hdrLen < fixed) return next;
    const total = sig === SIG_CENTRAL ? fixed + u16(this.hdr, 28) + u16(this.hdr, 30) + u16(this.hdr, 32) : fixed;
    next = this.gather(chunk, next, total);
    if (this.hdrLen < total) return next;
    const at = this.offset + next - total;
    const h = this.hdr.subarray(0, total);
    this.hdrLen = 0;
    if (sig === SIG_CENTRAL) this.centralRecord(st, h, at);
    else if (sig === SIG_ZIP64_END) {
      const size = u64(h, 4);
      if (size < ZIP64_END - 12) throw new ArchiveError('INVALID', `ZIP64 end record at offset ${at} is too short`);
      st.zip64 = { at, total: u64(h, 32), cenlen: u64(h, 40), cenoff: u64(h, 48) };
      st.stage = 'locator';
      // Its extensible data is read by nobody: skipped.
      const extensible = size - (ZIP64_END - 12);
      if (extensible > 0) this.state = { kind: 'skip', left: extensible, central: st };
    } else if (sig === SIG_ZIP64_LOCATOR) {
      st.locator = u64(h, 8);
      st.stage = 'end';
    } else this.endRecord(st, h, at);
    return next;
  }

  private skip(st: Extract<State, { kind: 'skip' }>, chunk: Uint8Array, off: number): number {
    const n = Math.min(st.left, chunk.length - off);
    st.left -= n;
    if (st.left === 0) this.state = st.central;
    return off + n;
  }

  /** A central directory record: the entry it names must be one the walk read, at each base still possible. */
  private centralRecord(st: Central, h: Uint8Array, at: number): void {
    st.records++;
    if (this.walked.overflow) return;
    const flags = u16(h, 8);
    const method = u16(h, 10);
    let csize = u32(h, 20);
    const usize = u32(h, 24);
    const nameLen = u16(h, 28);
    const extraLen = u16(h, 30);
    let local = u32(h, 42);
    const name = h.subarray(CENTRAL_HEADER, CENTRAL_HEADER + nameLen);
    if (csize === MAGIC32 || local === MAGIC32) {
      // ZIP64 extended information (APPNOTE 4.5.3): only the fields that are 0xFFFFFFFF, in this order.
      const extra = h.subarray(CENTRAL_HEADER + nameLen, CENTRAL_HEADER + nameLen + extraLen);
      const values = zip64Extra(extra);
      let i = usize === MAGIC32 ? 1 : 0;
      const take = (what: string): number => {
        const v = values?.[i++];
        if (v === undefined) {
          throw new ArchiveError(
            'INVALID',
            `central directory entry ${quote(name)} at offset ${at} has no ZIP64 ${what} for its 0xFFFFFFFF field`,
          );
        }
        return v;
      };
      if (csize === MAGIC32) csize = take('compressed size');
      if (local === MAGIC32) local = take('local header offset');
    }
    const kind = kindOf(method, flags);
    st.bases.forEach((base, i) => {
      if (st.missing[i] !== undefined) return;
      const fault = this.walked.mismatch(base + local, kind, csize, name);
      if (fault?.missing) st.missing[i] = fault.message;
      else st.faults[i] ??= fault?.message;
    });
  }

  /**
   * The end record, at `at`: where it and the ZIP64 end record put the central directory must be where the
   * walk ended, and its entries must all have matched the walk (counted from the base that follows).
   */
  private endRecord(st: Central, h: Uint8Array, at: number): void {
    const total32 = u16(h, 10);
    const cenlen32 = u32(h, 12);
    const cenoff32 = u32(h, 16);
    const comment = u16(h, 20);
    let endpos = at;
    let cenlen = cenlen32;
    let cenoff = cenoff32;
    const z = st.zip64;
    if (z) {
      // Readers take the ZIP64 values only when the end record's own are the same or 0xFFFF(FFFF).
      if (
        (cenlen32 !== MAGIC32 && cenlen32 !== z.cenlen) ||
        (cenoff32 !== MAGIC32 && cenoff32 !== z.cenoff) ||
        (total32 !== 0xffff && total32 !== z.total)
      ) {
        throw new ArchiveError(
          'INVALID',
          `end record at offset ${at} and ZIP64 end record at offset ${z.at} disagree on the central directory`,
        );
      }
      endpos = z.at;
      cenlen = z.cenlen;
      cenoff = z.cenoff;
      const base = st.start - cenoff;
      // OpenJDK follows the locator as it is; other readers add the launch script's length.
      if (st.locator !== z.at && (st.locator ?? 0) + base !== z.at) {
        throw new ArchiveError(
          'INVALID',
          `ZIP64 end locator points to offset ${st.locator}, not to the ZIP64 end record at offset ${z.at}`,
        );
      }
    }
    if (endpos - cenlen !== st.start) {
      // Name an entry that readers of this central directory see and the walk did not read, when there is one.
      const hidden = st.missing[st.bases.indexOf(endpos - cenlen - cenoff)];
      if (hidden !== undefined) throw new ArchiveError('INVALID', hidden);
      throw new ArchiveError(
        'INVALID',
        `end record at offset ${at} puts the central directory at offset ${endpos - cenlen}, but the local headers end at offset ${st.start}`,
      );
    }
    const base = st.start - cenoff;
    if (base < 0) {
      throw new ArchiveError(
        'INVALID',
        `end record at offset ${at} gives central directory offset ${cenoff}, past its place at offset ${st.start}`,
      );
    }
    if (st.records > 0) {
      if (this.walked.overflow) {
        throw new ArchiveError(
          'UNSUPPORTED',
          `central directory not checked against the local headers: more than ${MAX_TRACKED} entries`,
        );
      }
      const i = st.bases.indexOf(base);
      if (i < 0) {
        throw new ArchiveError(
          'INVALID',
          `central directory counts entry offsets from offset ${base}, neither the start of the archive nor its first entry`,
        );
      }
      const fault = st.missing[i] ?? st.faults[i];
      if (fault !== undefined) throw new ArchiveError('INVALID', fault);
    }
    // A reader searching from the end also takes a wrong comment length, if the central directory and the
    // first local header are where the end record says (OpenJDK's ZipFile.Source.findEND).
    const acceptedAnyway = z === undefined && st.records > 0 && this.walked.find(base) >= 0;
    const tail: Tail = { kind: 'tail', at, comment, acceptedAnyway, sigAt: -1, hold: new Uint8Array(0) };
    // Another end record signature may start inside this one's fields, as well as in its comment.
    const rest = h.subarray(1, EOCD);
    const inside = asBuffer(rest).indexOf(EOCD_BYTES);
    if (inside >= 0) tail.sigAt = at + 1 + inside;
    else tail.hold = partialTail(rest, EOCD_BYTES);
    this.state = tail;
  }

  /** Bytes after the end record: counted, and searched for another end record signature. */
  private tail(st: Tail, chunk: Uint8Array, off: number): number {
    const rest = chunk.subarray(off);
    if (rest.length === 0 || st.sigAt >= 0) return chunk.length;
    const pos = this.offset + off;
    if (st.hold.length > 0) {
      const joined = concat(st.hold, rest.subarray(0, 3));
      const i = asBuffer(joined).indexOf(EOCD_BYTES);
      if (i >= 0) {
        st.sigAt = pos - st.hold.length + i;
        return chunk.length;
      }
      if (rest.length < 3) {
        st.hold = partialTail(joined, EOCD_BYTES);
        return chunk.length;
      }
    }
    const i = asBuffer(rest).indexOf(EOCD_BYTES);
    if (i >= 0) st.sigAt = pos + i;
    else st.hold = partialTail(rest, EOCD_BYTES);
    return chunk.length;
  }

  /** At the end of the input: the end record found must be the one a reader searching from the end finds. */
  private checkTail(st: Tail): void {
    const after = this.offset - (st.at + EOCD);
    if (after > MAX_COMMENT) {
      throw new ArchiveError(
        'INVALID',
        `end record at offset ${st.at} is followed by ${after} bytes, more than a zip comment can hold`,
      );
    }
    if (st.sigAt >= 0 && st.sigAt + EOCD <= this.offset) {
      throw new ArchiveError(
        'INVALID',
        `another end record signature at offset ${st.sigAt} follows the end record at offset ${st.at}`,
      );
    }
    if (after !== st.comment && !st.acceptedAnyway) {
      throw new ArchiveError(
        'INVALID',
        `end record at offset ${st.at} has a ${st.comment}-byte comment but ${after} bytes follow it`,
      );
    }
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

/** The 8-byte values of a ZIP64 extended-information extra field (APPNOTE 4.5.3), or undefined without one. */
function zip64Extra(extra: Uint8Array): number[] | undefined {
  let o = 0;
  while (o + 4 <= extra.length) {
    const id = u16(extra, o);
    const len = u16(extra, o + 2);
    const data = extra.subarray(o + 4, Math.min(extra.length, o + 4 + len));
    o += 4 + len;
    if (id !== 1) continue;
    const vals: number[] = [];
    for (let i = 0; i + 8 <= data.length; i += 8) vals.push(u64(data, i));
    return vals;
  }
  return undefined;
}
