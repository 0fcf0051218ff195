import { badDb } from './errors.js';
import type { RpmdbRead, RpmdbRecord } from './records.js';

/**
 * A reader for rpm's NDB package file `Packages.db` (SUSE), after rpm's lib/backend/ndb/rpmpkg.c:
 * a 32-byte header (`RpmP`, version 0, generation, slot page count, next index), 4096-byte slot
 * pages of 16-byte slots (`Slot`, pkgidx, blkoff, blkcnt; the first page starts after the header),
 * then blobs in 16-byte blocks: `BlbS`, pkgidx, generation, length, the header, padding, and a
 * tail of adler32, length, `BlbE`. All little-endian. Blobs must not overlap, so the work done is
 * bounded by the file's size whatever its slots claim.
 */

const PKGDB_MAGIC = 0x506d7052; // 'RpmP'
const SLOT_MAGIC = 0x746f6c53; // 'Slot'
const BLOBHEAD_MAGIC = 0x53626c42; // 'BlbS'
const BLOBTAIL_MAGIC = 0x45626c42; // 'BlbE'
const PAGE_SIZE = 4096;
const SLOT_SIZE = 16;
const BLK_SIZE = 16;
const HEADER_SIZE = 32;
const BLOBHEAD_SIZE = 16;
const BLOBTAIL_SIZE = 12;

interface Slot {
  readonly pkgidx: number;
  readonly blkoff: number;
  readonly blkcnt: number;
}

/** Adler-32 as RFC 1950 defines it (rpm checks every blob with it). */
export function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; ) {
    const end = Math.min(i + 5552, data.length); // the largest run before the sums can overflow 2^32
    for (; i < end; i++) {
      a += data[i] as number;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** Read every package blob of an NDB `Packages.db`; throws RPMDB_INVALID when its header or slots are unusable. */
export function readNdb(buf: Uint8Array): RpmdbRead {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < PAGE_SIZE) badDb(`file of ${buf.byteLength} bytes is too short for an NDB Packages.db`);
  if (view.getUint32(0, true) !== PKGDB_MAGIC) badDb('not an rpm NDB Packages.db (bad magic)');
  const version = view.getUint32(4, true);
  if (version !== 0) badDb(`unsupported NDB version ${version}`);
  const slotPages = view.getUint32(12, true);
  if (slotPages < 1 || slotPages * PAGE_SIZE > buf.byteLength) {
    badDb(`NDB claims ${slotPages} slot pages in a file of ${buf.byteLength} bytes`);
  }
  const fileBlocks = Math.floor(buf.byteLength / BLK_SIZE);
  const firstBlock = (slotPages * PAGE_SIZE) / BLK_SIZE;
  const problems: string[] = [];
  const slots: Slot[] = [];
  for (let o = HEADER_SIZE; o < slotPages * PAGE_SIZE; o += SLOT_SIZE) {
    // rpm refuses the whole database over one bad slot magic: the slot table is its directory.
    if (view.getUint32(o, true) !== SLOT_MAGIC) badDb(`NDB slot at byte ${o} has a bad magic`);
    const blkoff = view.getUint32(o + 8, true);
    if (blkoff === 0) continue; // a free slot
    const pkgidx = view.getUint32(o + 4, true);
    const blkcnt = view.getUint32(o + 12, true);
    if (pkgidx === 0 || blkcnt === 0 || blkoff < firstBlock || blkoff + blkcnt > fileBlocks) {
      problems.push(`package slot ${pkgidx} points outside the blob area (block ${blkoff}, ${blkcnt} blocks)`);
      continue;
    }
    slots.push({ pkgidx, blkoff, blkcnt });
  }
  slots.sort((a, b) => a.blkoff - b.blkoff);
  const records: RpmdbRecord[] = [];
  const seen = new Set<number>();
  let end = firstBlock;
  for (const s of slots) {
    if (s.blkoff < end) {
      problems.push(`package slot ${s.pkgidx} overlaps another blob`);
      continue;
    }
    if (seen.has(s.pkgidx)) {
      problems.push(`package index ${s.pkgidx} appears in two slots`);
      continue;
    }
    end = s.blkoff + s.blkcnt;
    seen.add(s.pkgidx);
    const problem = blobProblem(buf, view, s);
    if (problem) problems.push(`package index ${s.pkgidx}: ${problem}`);
    else {
      const start = s.blkoff * BLK_SIZE + BLOBHEAD_SIZE;
      records.push({ id: s.pkgidx, blob: buf.subarray(start, start + view.getUint32(start - 4, true)) });
    }
  }
  return { records, problems };
}

function blobProblem(buf: Uint8Array, view: DataView, s: Slot): string | undefined {
  const off = s.blkoff * BLK_SIZE;
  const size = s.blkcnt * BLK_SIZE;
  if (size < BLOBHEAD_SIZE + BLOBTAIL_SIZE) return 'blob is too small';
  if (view.getUint32(off, true) !== BLOBHEAD_MAGIC) return 'blob has a bad head magic';
  if (view.getUint32(off + 4, true) !== s.pkgidx) return 'blob belongs to another package index';
  const len = view.getUint32(off + 12, true);
  if (s.blkcnt !== Math.ceil((BLOBHEAD_SIZE + len + BLOBTAIL_SIZE) / BLK_SIZE))
    return 'blob length disagrees with its slot';
  const tail = off + size - BLOBTAIL_SIZE;
  if (view.getUint32(tail + 8, true) !== BLOBTAIL_MAGIC) return 'blob has a bad tail magic';
  if (view.getUint32(tail + 4, true) !== len) return 'blob tail length disagrees with its head';
  if (view.getUint32(tail, true) !== adler32(buf.subarray(off, tail))) return 'blob checksum (adler32) mismatch';
  return undefined;
}
