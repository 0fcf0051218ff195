import type { StreamAnalyzer } from '../../../image/collect.js';
import { type ExeFormat, MAX_HEAD_BYTES, planScan, type ScanRange } from './exe.js';

/**
 * Streaming reader of the build info the Go linker embeds in every executable (Go 1.18+ inline
 * format: a 32-byte header starting with "\xff Go buildinf:" at a 16-byte aligned address, then
 * the toolchain version and the module info as varint-length-prefixed strings).
 * ref: Go's debug/buildinfo readRawBuildInfo.
 */

/** What was found in one file. Files that are not Go executables give no result at all. */
export type BuildInfoResult =
  | { readonly kind: 'inline'; readonly format: ExeFormat; readonly goVersion: string; readonly modinfo: string }
  /** Go before 1.18 stored pointers to the strings; reading them needs random access, so it is not supported. */
  | { readonly kind: 'pointer'; readonly format: ExeFormat }
  | { readonly kind: 'malformed'; readonly format: ExeFormat; readonly reason: string };

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const HEADER_SIZE = 32;
const MAX_VARINT = 10;
/** Longest toolchain version accepted ("devel go1.23-abcdef Tue ..." is under 100 bytes). */
export const MAX_VERSION_BYTES = 1024;
/** Longest module info accepted; large programs carry tens of KiB. */
export const MAX_MODINFO_BYTES = 4 * 1024 * 1024;
const FLAG_INLINE = 2;
const decoder = new TextDecoder('utf-8');

/** A blob that ends too soon: decoding can go on once it holds `bytes` bytes. */
export interface NeedMore {
  readonly need: number;
}

/** Decode the blob that starts at the magic: a result, undefined (not Go), or how many bytes it needs. */
export function decodeBlob(b: Uint8Array, format: ExeFormat): BuildInfoResult | NeedMore | undefined {
  if (b.length < HEADER_SIZE) return { need: HEADER_SIZE };
  const flags = b[15] as number;
  if ((flags & FLAG_INLINE) === 0) {
    const ptrSize = b[14];
    return ptrSize === 4 || ptrSize === 8 ? { kind: 'pointer', format } : undefined;
  }
  const vers = readString(b, HEADER_SIZE, MAX_VERSION_BYTES);
  if ('need' in vers) return vers;
  if ('invalid' in vers) return { kind: 'malformed', format, reason: `toolchain version ${vers.invalid}` };
  if (vers.bytes.length === 0) return undefined; // Go: an empty version means not a Go executable
  const mod = readString(b, vers.next, MAX_MODINFO_BYTES);
  if ('need' in mod) return mod;
  if ('invalid' in mod) return { kind: 'malformed', format, reason: `module info ${mod.invalid}` };
  return {
    kind: 'inline',
    format,
    goVersion: decoder.decode(vers.bytes),
    modinfo: decoder.decode(stripSentinels(mod.bytes)),
  };
}

/** Module info is framed by 16-byte sentinels (cmd/go modload infoStart/infoEnd); without them it is empty. */
function stripSentinels(mod: Uint8Array): Uint8Array {
  if (mod.length >= 33 && mod[mod.length - 17] === 0x0a) return mod.subarray(16, mod.length - 16);
  return new Uint8Array(0);
}

type StringRead = { bytes: Uint8Array; next: number } | NeedMore | { invalid: string };

/** A uvarint length and that many bytes at `at`, bounded by `max`. */
function readString(b: Uint8Array, at: number, max: number): StringRead {
  let len = 0;
  let mul = 1;
  let i = at;
  for (;;) {
    if (i >= b.length) return { need: i + 1 };
    if (i - at >= MAX_VARINT) return { invalid: 'has an overlong length prefix' };
    const c = b[i++] as number;
    len += (c & 0x7f) * mul;
    if (len > max) return { invalid: `is over the ${max}-byte limit` };
    mul *= 128;
    if ((c & 0x80) === 0) break;
  }
  if (i + len > b.length) return { need: i + len };
  return { bytes: b.subarray(i, i + len), next: i + len };
}

/** Longest blob ever needed: the header, two length prefixes and both strings at their limits. */
const MAX_BLOB = HEADER_SIZE + 2 * MAX_VARINT + MAX_VERSION_BYTES + MAX_MODINFO_BYTES;

/**
 * A StreamAnalyzer over one file: buffers only the leading headers, searches the planned ranges
 * for the aligned magic as chunks pass, collects the blob after it, and ignores everything after.
 */
export class BuildInfoScanner implements StreamAnalyzer {
  private pos = 0;
  private state: 'head' | 'scan' | 'blob' | 'done' = 'head';
  private headParts: Buffer[] = [];
  private headLen = 0;
  private headNeed = 0;
  private format: ExeFormat = 'elf';
  private ranges: readonly ScanRange[] = [];
  private ri = 0;
  /** A magic candidate cut by the previous chunk's end: how many of its bytes matched. */
  private partial: number | undefined;
  private blob: Buffer[] = [];
  private blobLen = 0;
  private blobNeed = 0;
  private outcome: BuildInfoResult | undefined;

  write(chunk: Uint8Array): void {
    const at = this.pos;
    this.pos += chunk.length;
    if (this.state === 'head') this.readHead(chunk, at);
    else if (this.state === 'scan') this.scan(chunk, at);
    else if (this.state === 'blob') this.collect(chunk);
  }

  end(): void {
    if (this.state === 'blob') {
      const r = decodeBlob(Buffer.concat(this.blob, this.blobLen), this.format);
      this.finish(
        r && 'need' in r ? { kind: 'malformed', format: this.format, reason: 'the build info is cut short' } : r,
      );
    }
    this.finish(this.outcome);
  }

  /** True once the answer is known: the rest of the file need not be read. */
  get done(): boolean {
    return this.state === 'done';
  }

  /** The next file offset the search needs, when bytes before it may be skipped by a reader that can seek. */
  get nextOffset(): number | undefined {
    if (this.state !== 'scan' || this.partial !== undefined) return undefined;
    const r = this.ranges[this.ri];
    return r ? Math.max(this.pos, r.start) : undefined;
  }

  /** The reader skipped to `to` (at most `nextOffset`) without writing the bytes in between. */
  skip(to: number): void {
    const next = this.nextOffset;
    if (next === undefined || to > next || to < this.pos) throw new Error('BuildInfoScanner.skip: cannot skip there');
    this.pos = to;
  }

  result(): BuildInfoResult | undefined {
    return this.outcome;
  }

  private finish(r: BuildInfoResult | undefined): void {
    this.outcome = r;
    this.state = 'done';
    this.headParts = [];
    this.blob = [];
  }

  /** Keep leading bytes until the headers say where to search; copies only what they need (4 KiB at first). */
  private readHead(chunk: Uint8Array, at: number): void {
    let off = 0;
    for (;;) {
      const want = Math.min(MAX_HEAD_BYTES, Math.max(this.headNeed, 4096));
      const take = Math.min(chunk.length - off, want - this.headLen);
      if (take > 0) {
        this.headParts.push(Buffer.from(chunk.subarray(off, off + take)));
        this.headLen += take;
        off += take;
      }
      if (this.headLen < this.headNeed) return; // the chunk is used up; wait for the next
      const head = Buffer.concat(this.headParts, this.headLen);
      this.headParts = [head];
      const plan = planScan(head);
      if (plan.kind === 'none') {
        this.finish(undefined);
        return;
      }
      if (plan.kind === 'need') {
        // planScan asks only for more than it has, and never past MAX_HEAD_BYTES.
        this.headNeed = plan.bytes;
        if (off === chunk.length) return;
        continue;
      }
      this.state = 'scan';
      this.format = plan.format;
      this.ranges = plan.ranges;
      this.headParts = [];
      this.scan(head, 0);
      if (off < chunk.length) {
        if (this.state === 'scan') this.scan(chunk.subarray(off), at + off);
        else if (this.state === 'blob') this.collect(chunk.subarray(off));
      }
      return;
    }
  }

  /** Search `chunk` (at file offset `at`) for the magic inside the planned ranges. */
  private scan(chunk: Uint8Array, at: number): void {
    const end = at + chunk.length;
    let cur = at;
    if (this.partial !== undefined) {
      const matched = this.partial;
      this.partial = undefined;
      const n = Math.min(MAGIC.length - matched, chunk.length);
      if (bytesEqual(chunk, 0, MAGIC, matched, n)) {
        if (matched + n < MAGIC.length) {
          this.partial = matched + n;
          return;
        }
        this.startBlob(MAGIC.subarray(0, matched), chunk);
        return;
      }
    }
    while (this.state === 'scan') {
      const r = this.ranges[this.ri];
      if (!r) {
        this.finish(undefined);
        return;
      }
      if (r.end <= cur) {
        this.ri++;
        continue;
      }
      const from = Math.max(r.start, cur);
      const to = Math.min(r.end, end);
      if (from >= to) return;
      const hit = this.search(chunk, at, from, to, r);
      if (hit !== undefined) {
        this.startBlob(undefined, chunk.subarray(hit - at));
        return;
      }
      if (to < r.end) return;
      this.ri++;
      cur = to;
    }
  }

  /** First aligned magic in [from, to); notes a prefix of one cut by the chunk's end in `partial`. */
  private search(chunk: Uint8Array, at: number, from: number, to: number, r: ScanRange): number | undefined {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const stop = to - at;
    for (let i = from - at; ; ) {
      const k = buf.indexOf(MAGIC, i);
      if (k < 0 || k >= stop) break;
      if (aligned(at + k, r) && at + k + HEADER_SIZE <= r.end) return at + k;
      i = k + 1;
    }
    if (to === r.end) return undefined;
    // Only one aligned offset fits in the last 13 bytes; the next chunk may complete a magic there.
    for (let p = Math.max(from, to - MAGIC.length + 1); p < to; p++) {
      if (!aligned(p, r)) continue;
      if (p + HEADER_SIZE <= r.end && bytesEqual(chunk, p - at, MAGIC, 0, to - p)) this.partial = to - p;
      break;
    }
    return undefined;
  }

  private startBlob(prefix: Uint8Array | undefined, rest: Uint8Array): void {
    this.state = 'blob';
    this.blob = prefix ? [Buffer.from(prefix)] : [];
    this.blobLen = prefix?.length ?? 0;
    this.blobNeed = 0;
    this.collect(rest);
  }

  private collect(chunk: Uint8Array): void {
    const take = Math.min(chunk.length, MAX_BLOB - this.blobLen);
    if (take > 0) this.blob.push(Buffer.from(chunk.subarray(0, take))); // copy: chunks are views into reused buffers
    this.blobLen += take;
    if (this.blobLen < this.blobNeed && this.blobLen < MAX_BLOB) return;
    const joined = Buffer.concat(this.blob, this.blobLen);
    this.blob = [joined];
    const r = decodeBlob(joined, this.format);
    if (!r || !('need' in r)) this.finish(r);
    else if (this.blobLen >= MAX_BLOB) this.finish({ kind: 'malformed', format: this.format, reason: 'blob too long' });
    else this.blobNeed = r.need;
  }
}

function bytesEqual(a: Uint8Array, ai: number, b: Uint8Array, bi: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[ai + i] !== b[bi + i]) return false;
  return true;
}

function aligned(offset: number, r: ScanRange): boolean {
  return ((offset - r.start + r.vaddrMod16) & 15) === 0;
}

/** Read build info from bytes in memory, fed in chunks of `chunkSize` (tests use odd sizes to cross boundaries). */
export function readBuildInfo(bytes: Uint8Array, chunkSize = 1024 * 1024): BuildInfoResult | undefined {
  const s = new BuildInfoScanner();
  for (let i = 0; i < bytes.length; i += chunkSize) s.write(bytes.subarray(i, Math.min(bytes.length, i + chunkSize)));
  s.end();
  return s.result();
}
