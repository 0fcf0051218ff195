import { badDb, RpmdbError } from './errors.js';
import { MAX_RECORDS, type RpmdbRead, type RpmdbRecord } from './records.js';

/**
 * A read-only walker for the Berkeley DB hash file `Packages` (RHEL/CentOS 7-8, Amazon Linux 2),
 * after rpm's own lib/backend/bdb_ro.c: every bucket's page chain in order, values stored on the
 * page or in an overflow-page chain. Keys are 4-byte header numbers in the file's byte order;
 * key 0 holds rpm's instance counter and is skipped. Every page is visited at most once, so a
 * hostile file cannot loop, and no value can be read from pages another value already used.
 */

const HASH_MAGIC = 0x00061561;
const BTREE_MAGIC = 0x00053162;
const PAGE_HEADER = 26;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_OFFPAGE = 3;

class Pages {
  readonly pageSize: number;
  readonly limit: number;

  constructor(
    readonly buf: Uint8Array,
    private readonly view: DataView,
    readonly le: boolean,
  ) {
    this.pageSize = this.u32(20);
    if (this.pageSize < 512 || this.pageSize > 65536 || (this.pageSize & (this.pageSize - 1)) !== 0) {
      badDb(`Berkeley DB page size ${this.pageSize} is not a power of two between 512 and 65536`);
    }
    const lastPage = this.u32(32);
    this.limit = Math.min(lastPage + 1, Math.floor(buf.byteLength / this.pageSize));
  }

  u32(off: number): number {
    return this.view.getUint32(off, this.le);
  }

  u16(off: number): number {
    return this.view.getUint16(off, this.le);
  }

  /** Byte offset of page `pgno` after checking that it exists, carries its own number and has `types`. */
  page(pgno: number, types: readonly number[]): number {
    if (pgno < 1 || pgno >= this.limit) throw new Error(`page ${pgno} is outside the ${this.limit}-page file`);
    const off = pgno * this.pageSize;
    if (this.u32(off + 8) !== pgno) throw new Error(`page ${pgno} carries page number ${this.u32(off + 8)}`);
    const type = this.buf[off + 25] as number;
    if (!types.includes(type)) throw new Error(`page ${pgno} has type ${type}, expected ${types.join(' or ')}`);
    return off;
  }
}

/** Read every record of a Berkeley DB hash database; throws RPMDB_INVALID when its meta page is unusable. */
export function readBdbHash(buf: Uint8Array): RpmdbRead {
  if (buf.byteLength < 512) badDb(`file of ${buf.byteLength} bytes is too short for a Berkeley DB`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magicLe = view.getUint32(12, true);
  const magicBe = view.getUint32(12, false);
  if (magicLe === BTREE_MAGIC || magicBe === BTREE_MAGIC) badDb('a Berkeley DB btree, not the hash rpm uses');
  if (magicLe !== HASH_MAGIC && magicBe !== HASH_MAGIC) badDb('not a Berkeley DB hash database (bad magic)');
  const p = new Pages(buf, view, magicLe === HASH_MAGIC);
  const version = p.u32(16);
  if (version < 8 || version > 10) badDb(`unsupported Berkeley DB hash version ${version}`);
  if (buf[24] !== 0) badDb('encrypted Berkeley DB databases are not supported');
  const maxBucket = p.u32(72);
  if (maxBucket >= p.limit) badDb(`hash has ${maxBucket + 1} buckets but the file only ${p.limit} pages`);
  const spares: number[] = [];
  for (let i = 0; i < 32; i++) spares.push(p.u32(96 + i * 4));

  const records: RpmdbRecord[] = [];
  const problems: string[] = [];
  const visited = new Set<number>();
  for (let bucket = 0; bucket <= maxBucket; bucket++) {
    let pgno = bucket + (spares[32 - Math.clz32(bucket)] as number);
    try {
      while (pgno !== 0) {
        if (visited.has(pgno)) throw new Error(`page ${pgno} is reached twice`);
        visited.add(pgno);
        const off = p.page(pgno, [P_HASH, P_HASH_UNSORTED]);
        readHashPage(p, off, visited, records, problems);
        if (records.length > MAX_RECORDS) badDb(`more than ${MAX_RECORDS} records`);
        pgno = p.u32(off + 16);
      }
    } catch (err) {
      if (err instanceof RpmdbError) throw err;
      problems.push(`hash bucket ${bucket}: ${(err as Error).message}; the rest of the bucket is skipped`);
    }
  }
  return { records, problems };
}

function readHashPage(p: Pages, off: number, visited: Set<number>, records: RpmdbRecord[], problems: string[]): void {
  const entries = p.u16(off + 20);
  if (entries > (p.pageSize - PAGE_HEADER) / 2) throw new Error(`page ${off / p.pageSize} claims ${entries} entries`);
  const minOff = PAGE_HEADER + entries * 2;
  const itemAt = (i: number): { at: number; len: number } => {
    const start = p.u16(off + PAGE_HEADER + i * 2);
    const end = i === 0 ? p.pageSize : p.u16(off + PAGE_HEADER + (i - 1) * 2);
    if (start < minOff || end > p.pageSize || end <= start) throw new Error(`item ${i} has a bad offset`);
    return { at: off + start, len: end - start };
  };
  for (let i = 0; i + 1 < entries; i += 2) {
    const key = itemValue(p, itemAt(i), visited);
    if (key.byteLength !== 4) {
      problems.push(`a key of ${key.byteLength} bytes is not a header number`);
      continue;
    }
    const id = new DataView(key.buffer, key.byteOffset, 4).getUint32(0, p.le);
    let value: Uint8Array;
    try {
      value = itemValue(p, itemAt(i + 1), visited);
    } catch (err) {
      problems.push(`header #${id}: ${(err as Error).message}`);
      continue;
    }
    if (id === 0) continue; // rpm's record 0 holds the instance counter, not a header
    records.push({ id, blob: value });
  }
}

/** The bytes of one hash item: on the page, or gathered from its overflow chain. */
function itemValue(p: Pages, item: { at: number; len: number }, visited: Set<number>): Uint8Array {
  const type = p.buf[item.at];
  if (type === H_KEYDATA) return p.buf.subarray(item.at + 1, item.at + item.len);
  if (type !== H_OFFPAGE || item.len !== 12) throw new Error(`unsupported hash item type ${type}`);
  let pgno = p.u32(item.at + 4);
  const total = p.u32(item.at + 8);
  if (total === 0 || total > p.buf.byteLength) throw new Error(`overflow item of ${total} bytes`);
  // Chunks are views, joined at the end: memory follows the pages actually read, not the claimed size.
  const chunks: Uint8Array[] = [];
  let got = 0;
  while (got < total) {
    if (visited.has(pgno)) throw new Error(`overflow page ${pgno} is reached twice`);
    visited.add(pgno);
    const off = p.page(pgno, [P_OVERFLOW]);
    const len = p.u16(off + 22);
    if (len === 0 || PAGE_HEADER + len > p.pageSize || got + len > total) {
      throw new Error(`overflow page ${pgno} holds ${len} bytes`);
    }
    chunks.push(p.buf.subarray(off + PAGE_HEADER, off + PAGE_HEADER + len));
    got += len;
    pgno = p.u32(off + 16);
  }
  return Buffer.concat(chunks, total);
}
