import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { crc32, inflateRawSync } from 'node:zlib';
import { PortcullisError, printable } from '../errors.js';
import type { ImportStats } from './import.js';
import { MAX_FILE_BYTES } from './readfile.js';

/**
 * Zip exports of advisories (osv.dev's per-ecosystem all.zip), read from a file on disk through the central
 * directory (ref: PKWARE APPNOTE.TXT 4.3), as unzip and Python's zipfile read them. Every `.json` entry is one
 * document, inflated in memory and handed on; nothing is extracted and entry names are only used in messages.
 *
 * Why not the streaming reader of the Java cataloger: a file on disk has its central directory, which lists every
 * entry with its sizes and CRC before anything is inflated. That lets this reader refuse a bomb from the declared
 * sizes alone, refuse overlapping entries (the non-recursive zip bomb), check each entry's size and CRC-32 after
 * inflating it (a damaged or truncated download is caught, not imported), and inflate with node:zlib, about three
 * times faster than the streaming reader's JavaScript inflater.
 */

/** How much one archive may hold and inflate to. */
export interface ZipLimits {
  /** Most entries, directories and skipped files included (default 2,000,000). */
  readonly maxEntries: number;
  /** Largest entry, declared or inflated (default 256 MiB, as for plain files). */
  readonly maxEntryBytes: number;
  /** Most bytes all entries declare and inflate to (default 8 GiB). */
  readonly maxTotalBytes: number;
  /** Largest ratio of inflated to compressed size of one entry (default 100; JSON gives 5-20, zeros 1000). */
  readonly maxRatio: number;
  /** Inflated size below which the ratio is not checked: small entries may compress well (default 1 MiB). */
  readonly ratioFloorBytes: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxEntries: 2_000_000,
  maxEntryBytes: MAX_FILE_BYTES,
  maxTotalBytes: 8 * 1024 ** 3,
  maxRatio: 100,
  ratioFloorBytes: 1024 * 1024,
};

/** Random access to the bytes of an archive. */
export interface ZipSource {
  readonly size: number;
  /** Exactly `length` bytes at `position` (callers stay inside `size`). */
  read(position: number, length: number): Buffer;
}

/** One entry as the central directory lists it. */
export interface CentralEntry {
  readonly name: string;
  readonly nameBytes: Buffer;
  readonly flags: number;
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  /** Offset of the entry's local header. */
  readonly offset: number;
}

/** What an archive's entries turn into: a document to import, an entry that is no JSON, or one that cannot be read. */
export interface ZipDocumentSink {
  document(name: string, text: string): void;
  ignored(name: string): void;
  refused(name: string, reason: string): void;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_BYTES = 22;
const CENTRAL_BYTES = 46;
const LOCAL_BYTES = 30;
const decoder = new TextDecoder('utf-8');
/** Largest central directory read (2 million entries with 100-byte names take about 300 MiB). */
const MAX_DIRECTORY_BYTES = 512 * 1024 * 1024;

function u64(b: Buffer, o: number, what: string): number {
  const v = b.readBigUInt64LE(o);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipFault('invalid', `${what} is larger than 2^53`);
  return Number(v);
}

/** A problem found while reading: `bomb` becomes DECOMPRESSION_BOMB, `invalid` ZIP_INVALID. */
class ZipFault extends Error {
  constructor(
    readonly kind: 'bomb' | 'invalid',
    message: string,
    readonly entry?: string,
  ) {
    super(message);
  }
}

/** The end of central directory record, and the ZIP64 one when the classic fields overflow (APPNOTE 4.3.14-16). */
function findDirectory(src: ZipSource): { offset: number; size: number; entries: number } {
  const tailLen = Math.min(src.size, EOCD_BYTES + 0xffff);
  if (tailLen < EOCD_BYTES) throw new ZipFault('invalid', 'not a zip archive: too short for an end record');
  const tail = src.read(src.size - tailLen, tailLen);
  let at = -1;
  // The record ends the file, followed only by its own comment; scanning back finds the last one that fits.
  for (let i = tailLen - EOCD_BYTES; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD && i + EOCD_BYTES + tail.readUInt16LE(i + 20) === tailLen) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new ZipFault('invalid', 'no end of central directory record (not a zip archive, or truncated)');
  if (tail.readUInt16LE(at + 4) !== 0 || tail.readUInt16LE(at + 6) !== 0) {
    throw new ZipFault('invalid', 'split or spanned archives are not supported');
  }
  let entries = tail.readUInt16LE(at + 10);
  let size = tail.readUInt32LE(at + 12);
  let offset = tail.readUInt32LE(at + 16);
  const eocdPos = src.size - tailLen + at;
  if (entries === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const locPos = eocdPos - 20;
    if (locPos < 0) throw new ZipFault('invalid', 'ZIP64 end record locator is missing');
    const loc = src.read(locPos, 20);
    if (loc.readUInt32LE(0) !== SIG_ZIP64_LOCATOR) throw new ZipFault('invalid', 'ZIP64 end record locator is missing');
    const recPos = u64(loc, 8, 'ZIP64 end record offset');
    if (recPos + 56 > locPos) throw new ZipFault('invalid', 'ZIP64 end record lies outside the archive');
    const rec = src.read(recPos, 56);
    if (rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw new ZipFault('invalid', 'ZIP64 end record is missing');
    entries = u64(rec, 32, 'ZIP64 entry count');
    size = u64(rec, 40, 'ZIP64 directory size');
    offset = u64(rec, 48, 'ZIP64 directory offset');
  }
  const end = offset + size;
  if (end > eocdPos) throw new ZipFault('invalid', 'central directory lies outside the archive (truncated?)');
  return { offset, size, entries };
}

/** Sizes and offset from a ZIP64 extended-information extra field, for the header fields that overflowed. */
function zip64Fields(extra: Buffer, e: { size: number; compressedSize: number; offset: number }): void {
  let o = 0;
  while (o + 4 <= extra.length) {
    const id = extra.readUInt16LE(o);
    const len = extra.readUInt16LE(o + 2);
    if (o + 4 + len > extra.length) throw new ZipFault('invalid', 'extra field runs past its header');
    if (id === 1) {
      let p = o + 4;
      const next = (what: string): number => {
        if (p + 8 > o + 4 + len) throw new ZipFault('invalid', `ZIP64 extra field lacks the ${what}`);
        const v = u64(extra, p, `ZIP64 ${what}`);
        p += 8;
        return v;
      };
      if (e.size === 0xffffffff) e.size = next('size');
      if (e.compressedSize === 0xffffffff) e.compressedSize = next('compressed size');
      if (e.offset === 0xffffffff) e.offset = next('header offset');
      return;
    }
    o += 4 + len;
  }
}

/**
 * Read and check the central directory: every entry inside the archive, no two overlapping, and the declared sizes
 * within the limits (count, per entry, total, ratio) before a single byte is inflated.
 */
export function readCentralDirectory(
  src: ZipSource,
  limits: ZipLimits = DEFAULT_ZIP_LIMITS,
): { entries: CentralEntry[]; directoryOffset: number } {
  const dir = findDirectory(src);
  if (dir.size > MAX_DIRECTORY_BYTES) {
    throw new ZipFault('bomb', `central directory of ${dir.size} bytes, over the ${MAX_DIRECTORY_BYTES}-byte limit`);
  }
  if (dir.entries > limits.maxEntries)
    throw new ZipFault('bomb', `declares ${dir.entries} entries, over the limit of ${limits.maxEntries}`);
  // Each entry takes at least 46 bytes of directory: a count the directory cannot hold is a lie.
  if (dir.entries * CENTRAL_BYTES > dir.size)
    throw new ZipFault('invalid', `central directory is too small for ${dir.entries} entries`);
  const buf = src.read(dir.offset, dir.size);
  const entries: CentralEntry[] = [];
  let total = 0;
  let p = 0;
  for (let i = 0; i < dir.entries; i++) {
    if (p + CENTRAL_BYTES > buf.length || buf.readUInt32LE(p) !== SIG_CENTRAL) {
      throw new ZipFault('invalid', `central directory entry ${i} is damaged`);
    }
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const next = p + CENTRAL_BYTES + nameLen + extraLen + commentLen;
    if (next > buf.length) throw new ZipFault('invalid', `central directory entry ${i} runs past the directory`);
    const nameBytes = Buffer.from(buf.subarray(p + CENTRAL_BYTES, p + CENTRAL_BYTES + nameLen));
    const name = decoder.decode(nameBytes);
    const e = {
      size: buf.readUInt32LE(p + 24),
      compressedSize: buf.readUInt32LE(p + 20),
      offset: buf.readUInt32LE(p + 42),
    };
    try {
      zip64Fields(buf.subarray(p + CENTRAL_BYTES + nameLen, p + CENTRAL_BYTES + nameLen + extraLen), e);
    } catch (err) {
      if (err instanceof ZipFault) throw new ZipFault(err.kind, err.message, name);
      throw err;
    }
    if (e.size > limits.maxEntryBytes) {
      throw new ZipFault(
        'bomb',
        `declares ${e.size} bytes, over the ${limits.maxEntryBytes}-byte limit for one entry`,
        name,
      );
    }
    if (e.size > limits.ratioFloorBytes && e.size > limits.maxRatio * e.compressedSize) {
      throw new ZipFault(
        'bomb',
        `declares ${e.size} bytes from ${e.compressedSize}, more than ${limits.maxRatio}:1`,
        name,
      );
    }
    total += e.size;
    if (total > limits.maxTotalBytes) {
      throw new ZipFault('bomb', `entries declare more than the ${limits.maxTotalBytes}-byte limit in all`, name);
    }
    entries.push({
      name,
      nameBytes,
      flags: buf.readUInt16LE(p + 8),
      method: buf.readUInt16LE(p + 10),
      crc: buf.readUInt32LE(p + 16),
      ...e,
    });
    p = next;
  }
  checkLayout(entries, dir.offset);
  return { entries, directoryOffset: dir.offset };
}

/**
 * Entries must sit one after another before the directory: entries that share bytes are how a small archive
 * makes one compressed kernel count many times (ref: D. Fifield, "A better zip bomb", 2019), and unzip refuses
 * them too. The exact end of each entry is known once its local header is read; here only the start must fit.
 */
function checkLayout(entries: readonly CentralEntry[], dirOffset: number): void {
  const sorted = [...entries].sort((a, b) => a.offset - b.offset);
  for (const [i, e] of sorted.entries()) {
    const end = e.offset + LOCAL_BYTES + e.compressedSize;
    const limit = sorted[i + 1]?.offset ?? dirOffset;
    if (end > limit) {
      const other = sorted[i + 1];
      throw new ZipFault(
        'bomb',
        other ? `overlaps entry ${printable(other.name, 80)} (overlapping entries)` : 'runs into the central directory',
        e.name,
      );
    }
  }
}

/** The bytes where an entry's data starts, and the next entry (or the directory) begins, from its local header. */
function dataStart(src: ZipSource, e: CentralEntry, limit: number): number {
  if (e.offset + LOCAL_BYTES > limit) throw new ZipFault('invalid', 'local header lies outside the archive', e.name);
  const h = src.read(e.offset, LOCAL_BYTES);
  if (h.readUInt32LE(0) !== SIG_LOCAL) throw new ZipFault('invalid', `no local header at offset ${e.offset}`, e.name);
  const nameLen = h.readUInt16LE(26);
  const extraLen = h.readUInt16LE(28);
  const start = e.offset + LOCAL_BYTES + nameLen + extraLen;
  if (start + e.compressedSize > limit) {
    throw new ZipFault('bomb', 'entry data overlaps the next entry (overlapping entries)', e.name);
  }
  // A name that differs between the two headers shows different files to different tools.
  if (!src.read(e.offset + LOCAL_BYTES, nameLen).equals(e.nameBytes)) {
    throw new ZipFault('invalid', 'local header names another file than the central directory', e.name);
  }
  return start;
}

/** Inflate one entry within its limits, and check its size and CRC-32 against the directory. */
function entryBytes(src: ZipSource, e: CentralEntry, start: number, limits: ZipLimits): Buffer {
  // Deflate adds a few bytes per 16 KiB block at worst: compressed data past the entry limit is not a JSON record.
  if (e.compressedSize > limits.maxEntryBytes + 64 * 1024) {
    throw new ZipFault('bomb', `${e.compressedSize} compressed bytes, over the limit for one entry`, e.name);
  }
  const data = src.read(start, e.compressedSize);
  let out: Buffer;
  if (e.method === 0) {
    out = data;
  } else {
    // Inflating stops one byte past the declared size: an entry that inflates further lied about its size.
    const cap = Math.min(e.size + 1, limits.maxEntryBytes + 1);
    try {
      out = inflateRawSync(data, { maxOutputLength: Math.max(cap, 1) });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') {
        throw new ZipFault('bomb', `inflates past its declared ${e.size} bytes`, e.name);
      }
      throw new ZipFault('invalid', `invalid deflate data (${(err as Error).message})`, e.name);
    }
  }
  if (out.length !== e.size) {
    throw new ZipFault(
      out.length > e.size ? 'bomb' : 'invalid',
      `holds ${out.length} bytes, the directory says ${e.size}`,
      e.name,
    );
  }
  if (crc32(out) >>> 0 !== e.crc >>> 0) throw new ZipFault('invalid', 'CRC-32 mismatch (damaged data)', e.name);
  return out;
}

/** A zip file on disk as a ZipSource. */
function fileSource(fd: number): ZipSource {
  return {
    size: fstatSync(fd).size,
    read(position, length) {
      const b = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, b, got, length - got, position + got);
        if (n === 0) throw new ZipFault('invalid', `archive ends at ${position + got} (truncated while reading?)`);
        got += n;
      }
      return b;
    },
  };
}

/**
 * Hand every `.json` entry of an archive to `sink.document`, in directory order. `where` names the archive in
 * messages. Throws DECOMPRESSION_BOMB when a limit is passed and ZIP_INVALID for a malformed, truncated or damaged
 * archive, naming the archive and the entry; either way the caller must not commit what it imported.
 */
export function readZipSource(
  src: ZipSource,
  where: string,
  sink: ZipDocumentSink,
  limits: ZipLimits = DEFAULT_ZIP_LIMITS,
): { entries: number; documents: number } {
  let documents = 0;
  try {
    const { entries, directoryOffset: dirOffset } = readCentralDirectory(src, limits);
    const sorted = [...entries].sort((a, b) => a.offset - b.offset);
    const nextStart = new Map<CentralEntry, number>();
    for (const [i, e] of sorted.entries()) nextStart.set(e, sorted[i + 1]?.offset ?? dirOffset);
    let inflated = 0;
    for (const e of entries) {
      if (e.name.endsWith('/')) continue;
      if (!/\.json$/i.test(e.name)) {
        sink.ignored(e.name);
        continue;
      }
      if ((e.flags & 1) !== 0 || (e.method !== 0 && e.method !== 8)) {
        sink.refused(e.name, (e.flags & 1) !== 0 ? 'encrypted' : `compression method ${e.method} is not supported`);
        continue;
      }
      const start = dataStart(src, e, nextStart.get(e) as number);
      const bytes = entryBytes(src, e, start, limits);
      inflated += bytes.length;
      if (inflated > limits.maxTotalBytes)
        throw new ZipFault('bomb', `inflates past the ${limits.maxTotalBytes}-byte limit in all`, e.name);
      documents++;
      sink.document(e.name, bytes.toString('utf8'));
    }
    return { entries: entries.length, documents };
  } catch (err) {
    if (!(err instanceof ZipFault)) throw err;
    const at = err.entry === undefined ? where : `${where}!${printable(err.entry, 160)}`;
    if (err.kind === 'bomb') {
      throw new PortcullisError('DECOMPRESSION_BOMB', `${at}: ${err.message}; refusing the archive (zip bomb?)`);
    }
    throw new PortcullisError('ZIP_INVALID', `${at}: ${err.message}`);
  }
}

/** `readZipSource` over a file on disk. */
export function readZipDocuments(
  file: string,
  where: string,
  sink: ZipDocumentSink,
  limits: ZipLimits = DEFAULT_ZIP_LIMITS,
): { entries: number; documents: number } {
  const fd = openSync(file, 'r');
  try {
    return readZipSource(fileSource(fd), where, sink, limits);
  } finally {
    closeSync(fd);
  }
}

/** `db import` of one zip export: each `.json` entry goes to `importOne` as `archive!entry`, the rest is counted. */
export function importZipFile(
  file: string,
  modified: string,
  stats: ImportStats,
  importOne: (where: string, text: string, modified: string) => void,
): void {
  readZipDocuments(file, file, {
    document: (name, text) => {
      stats.files++;
      importOne(`${file}!${name}`, text, modified);
    },
    ignored: (name) => stats.ignored.push(`${file}!${name}`),
    refused: (name, reason) => stats.refused.push({ where: `${file}!${name}`, reason }),
  });
}

/** Whether a file is imported as a zip export: by its name, as `db import` walks directories. */
export function isZipName(path: string): boolean {
  return /\.zip$/i.test(path);
}
