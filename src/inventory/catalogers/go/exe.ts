/**
 * Where a Go executable keeps its build info, worked out from the headers at the start of the
 * file only, so the rest can be streamed past. ref: Go's debug/buildinfo (DataStart per format).
 * ELF section headers sit at the end of the file, so for ELF the writable PT_LOAD segments that
 * hold `.go.buildinfo` are searched instead of the section itself.
 */

/** Executable formats whose build info can be located from their leading headers. */
export type ExeFormat = 'elf' | 'macho' | 'pe';

/** A byte range of the file to search for the build-info magic, with the virtual address of its first byte mod 16. */
export interface ScanRange {
  readonly start: number;
  readonly end: number;
  /** Low 4 bits of the virtual address at `start`: the magic sits at 16-byte aligned virtual addresses. */
  readonly vaddrMod16: number;
}

/** The outcome of reading the headers: where to search, more bytes needed, or not a (supported) executable. */
export type ExePlan =
  | { readonly kind: 'plan'; readonly format: ExeFormat; readonly ranges: readonly ScanRange[] }
  | { readonly kind: 'need'; readonly bytes: number }
  | { readonly kind: 'none' };

/** Headers are only read from this many leading bytes; tables placed further out are not followed. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** At most this many bytes of a file are searched for the magic (Go data segments are a few MiB). */
export const MAX_SCAN_BYTES = 64 * 1024 * 1024;
const MAX_RANGES = 16;

const NONE: ExePlan = { kind: 'none' };
const need = (bytes: number): ExePlan => (bytes > MAX_HEAD_BYTES ? NONE : { kind: 'need', bytes });

/** Little- or big-endian unsigned reads that return undefined past the end or beyond 2^53. */
class Reader {
  constructor(
    private readonly b: Uint8Array,
    private readonly le: boolean,
  ) {}
  u16(o: number): number | undefined {
    if (o < 0 || o + 2 > this.b.length) return undefined;
    const x = this.b[o] as number;
    const y = this.b[o + 1] as number;
    return this.le ? x | (y << 8) : (x << 8) | y;
  }
  u32(o: number): number | undefined {
    if (o < 0 || o + 4 > this.b.length) return undefined;
    let v = 0;
    for (let i = 0; i < 4; i++) v = v * 256 + (this.b[this.le ? o + 3 - i : o + i] as number);
    return v;
  }
  u64(o: number): number | undefined {
    const lo = this.u32(this.le ? o : o + 4);
    const hi = this.u32(this.le ? o + 4 : o);
    if (lo === undefined || hi === undefined || hi >= 0x200000) return undefined;
    return hi * 0x100000000 + lo;
  }
  /** Low byte of a field of `size` bytes (enough for an address mod 16). */
  low(o: number, size: number): number {
    return (this.b[this.le ? o : o + size - 1] ?? 0) & 15;
  }
}

/** Decide from the leading bytes of a file where to look for Go build info. */
export function planScan(head: Uint8Array): ExePlan {
  if (head.length < 4) return need(64);
  const [m0, m1, m2, m3] = head as unknown as [number, number, number, number];
  if (m0 === 0x7f && m1 === 0x45 && m2 === 0x4c && m3 === 0x46) return planElf(head);
  if (m0 === 0x4d && m1 === 0x5a) return planPe(head);
  if (m0 === 0xfe && m1 === 0xed && m2 === 0xfa && (m3 === 0xce || m3 === 0xcf)) return planMachO(head, false);
  if ((m0 === 0xce || m0 === 0xcf) && m1 === 0xfa && m2 === 0xed && m3 === 0xfe) return planMachO(head, true);
  return NONE;
}

/** Sort, clip overlaps and cap the total, so the scanner sees ranges in file order. */
function finish(format: ExeFormat, raw: ScanRange[]): ExePlan {
  const ranges: ScanRange[] = [];
  let budget = MAX_SCAN_BYTES;
  let floor = 0;
  for (const r of raw.sort((a, b) => a.start - b.start)) {
    if (budget <= 0 || ranges.length >= MAX_RANGES) break;
    const start = Math.max(r.start, floor);
    const end = Math.min(r.end, start + budget);
    if (end <= start) continue;
    const vaddrMod16 = (r.vaddrMod16 + (start - r.start)) & 15;
    ranges.push({ start, end, vaddrMod16 });
    budget -= end - start;
    floor = end;
  }
  return ranges.length > 0 ? { kind: 'plan', format, ranges } : NONE;
}

const PT_LOAD = 1;
const PF_X = 1;
const PF_W = 2;

// ref: System V ABI, ELF header and program header layouts.
function planElf(h: Uint8Array): ExePlan {
  if (h.length < 64) return need(64);
  const is64 = h[4] === 2;
  if (!is64 && h[4] !== 1) return NONE;
  if (h[5] !== 1 && h[5] !== 2) return NONE;
  const r = new Reader(h, h[5] === 1);
  const phoff = is64 ? r.u64(0x20) : r.u32(0x1c);
  const phentsize = r.u16(is64 ? 0x36 : 0x2a);
  const phnum = r.u16(is64 ? 0x38 : 0x2c);
  if (phoff === undefined || phentsize === undefined || phnum === undefined) return NONE;
  if (phnum === 0 || phnum === 0xffff || phentsize < (is64 ? 56 : 32)) return NONE;
  const tableEnd = phoff + phnum * phentsize;
  if (tableEnd > h.length) return need(tableEnd);
  const raw: ScanRange[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (r.u32(p) !== PT_LOAD) continue;
    const flags = r.u32(is64 ? p + 4 : p + 24) ?? 0;
    if ((flags & (PF_X | PF_W)) !== PF_W) continue;
    const offset = is64 ? r.u64(p + 8) : r.u32(p + 4);
    const filesz = is64 ? r.u64(p + 32) : r.u32(p + 16);
    if (offset === undefined || filesz === undefined || filesz === 0) continue;
    raw.push({ start: offset, end: offset + filesz, vaddrMod16: r.low(is64 ? p + 16 : p + 8, is64 ? 8 : 4) });
  }
  return finish('elf', raw);
}

const LC_SEGMENT = 0x1;
const LC_SEGMENT_64 = 0x19;
const VM_PROT_RW = 3;

// ref: <mach-o/loader.h>; the __go_buildinfo section when present, else the first RW segment.
function planMachO(h: Uint8Array, le: boolean): ExePlan {
  const r = new Reader(h, le);
  const is64 = (le ? h[0] : h[3]) === 0xcf;
  const hdr = is64 ? 32 : 28;
  if (h.length < hdr) return need(hdr);
  const ncmds = r.u32(16) as number;
  const sizeofcmds = r.u32(20) as number;
  if (hdr + sizeofcmds > h.length) return need(hdr + sizeofcmds);
  let rw: ScanRange | undefined;
  let off = hdr;
  for (let i = 0; i < ncmds && off + 8 <= hdr + sizeofcmds; i++) {
    const cmd = r.u32(off) as number;
    const size = r.u32(off + 4) as number;
    if (size < 8 || off + size > hdr + sizeofcmds) return NONE;
    if (cmd === LC_SEGMENT_64 || cmd === LC_SEGMENT) {
      const w = cmd === LC_SEGMENT_64 ? 8 : 4;
      const vmaddr = w === 8 ? r.u64(off + 24) : r.u32(off + 24);
      const fileoff = w === 8 ? r.u64(off + 24 + 2 * w) : r.u32(off + 24 + 2 * w);
      const filesize = w === 8 ? r.u64(off + 24 + 3 * w) : r.u32(off + 24 + 3 * w);
      const maxprot = r.u32(off + 24 + 4 * w);
      const initprot = r.u32(off + 28 + 4 * w);
      const nsects = r.u32(off + 32 + 4 * w) ?? 0;
      const sectBase = off + 40 + 4 * w;
      const sectSize = w === 8 ? 80 : 68;
      if (sectBase + nsects * sectSize > off + size) return NONE;
      for (let s = 0; s < nsects; s++) {
        const so = sectBase + s * sectSize;
        if (cstr(h, so, 16) !== '__go_buildinfo') continue;
        const addrLow = r.low(so + 32, w);
        const sz = w === 8 ? r.u64(so + 40) : r.u32(so + 36);
        const fo = r.u32(so + 32 + 2 * w);
        if (sz === undefined || fo === undefined || sz === 0) return NONE;
        return finish('macho', [{ start: fo, end: fo + sz, vaddrMod16: addrLow }]);
      }
      if (!rw && vmaddr && fileoff !== undefined && filesize && initprot === VM_PROT_RW && maxprot === VM_PROT_RW) {
        rw = { start: fileoff, end: fileoff + filesize, vaddrMod16: r.low(off + 24, w) };
      }
    }
    off += size;
  }
  return rw ? finish('macho', [rw]) : NONE;
}

const SCN_DATA_RW = 0xc0000040; // IMAGE_SCN_CNT_INITIALIZED_DATA | MEM_READ | MEM_WRITE
const SCN_ALIGN_32BYTES = 0x600000;

// ref: PE format (COFF header, optional header, section table); the first plain RW data section.
function planPe(h: Uint8Array): ExePlan {
  if (h.length < 64) return need(64);
  const r = new Reader(h, true);
  const lfanew = r.u32(0x3c) as number;
  if (lfanew + 24 > h.length) return need(lfanew + 24);
  if (h[lfanew] !== 0x50 || h[lfanew + 1] !== 0x45 || h[lfanew + 2] !== 0 || h[lfanew + 3] !== 0) return NONE;
  const nsect = r.u16(lfanew + 6) as number;
  const optSize = r.u16(lfanew + 20) as number;
  const opt = lfanew + 24;
  const table = opt + optSize;
  if (table + nsect * 40 > h.length) return need(table + nsect * 40);
  const magic = r.u16(opt);
  let baseLow = 0;
  if (magic === 0x10b) baseLow = r.low(opt + 28, 4);
  else if (magic === 0x20b) baseLow = r.low(opt + 24, 8);
  for (let i = 0; i < nsect; i++) {
    const s = table + i * 40;
    const vsize = r.u32(s + 8) as number;
    const va = r.u32(s + 12) as number;
    const rawSize = r.u32(s + 16) as number;
    const rawPtr = r.u32(s + 20) as number;
    const chars = r.u32(s + 36) as number;
    // Characteristics are a 32-bit mask; `>>> 0` keeps JavaScript's bit operations unsigned.
    if (va === 0 || rawSize === 0 || (chars & ~SCN_ALIGN_32BYTES) >>> 0 !== SCN_DATA_RW) continue;
    const len = vsize > 0 ? Math.min(vsize, rawSize) : rawSize;
    return finish('pe', [{ start: rawPtr, end: rawPtr + len, vaddrMod16: (baseLow + va) & 15 }]);
  }
  return NONE;
}

function cstr(b: Uint8Array, o: number, n: number): string {
  let s = '';
  for (let i = o; i < o + n && i < b.length && b[i] !== 0; i++) s += String.fromCharCode(b[i] as number);
  return s;
}
