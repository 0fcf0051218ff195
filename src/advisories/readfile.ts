import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { printable } from '../errors.js';
import { type AdvisoryRows, advisoryRows } from '../store/advisorydb.js';
import { isAlpineSecdb, parseAlpineSecdb } from './alpine.js';
import { isDebianTracker, parseDebianTracker } from './debian.js';
import type { Advisory, Affected } from './model.js';
import { parseOsv } from './osv.js';

/** Largest single JSON file read (the Debian tracker export is ~4 MB for one release, ~80 MB for all). */
export const MAX_FILE_BYTES = 256 * 1024 * 1024;

/**
 * Most times its own size an OSV record may write as the advisory JSON each of its affected rows repeats. Real
 * records stay near 2 (45k records of the shared data set: at most 2.2); long aliases with thousands of affected
 * packages would turn a 0.7 MB record into 1 GB of store.
 */
const MAX_REPEAT_RATIO = 64;

/** One advisory's rows, with what the import's statistics count of it. */
export interface RecordRows {
  readonly source: string;
  readonly modified: string;
  readonly rows: AdvisoryRows;
}

/**
 * What one JSON document held, ready to insert: the rows of each advisory, or why it was refused, or that it is no
 * advisory format at all. The rows of a document holding many advisories (the Debian tracker's 30k) are made as they
 * are read, once: kept all at once they were tens of MiB that each young-generation GC copied.
 */
export interface FileOutcome {
  readonly where: string;
  /** Read once: for a document of many advisories it is a generator. */
  readonly records: Iterable<RecordRows>;
  readonly refused?: string;
  readonly ignored?: boolean;
}

/** Most advisory files are a few KiB: one read into this buffer, no stat, serves them (one per thread). */
const SMALL = Buffer.allocUnsafe(1 << 20);

/** A file's text, or why it was not read. */
type FileText = { readonly text: string } | { readonly refused: string };

/** Read one advisory file as text, within the size limit; `regular` false for a pipe or device (/dev/stdin). */
function readAdvisoryText(file: string, regular: boolean): FileText {
  // System calls are the cost that matters for 45k small files: open, one read, close; stat only for large ones.
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    return { refused: `cannot be read (${(err as NodeJS.ErrnoException).code})` };
  }
  try {
    if (!regular) return readStream(fd);
    const n = readSync(fd, SMALL, 0, SMALL.length, 0);
    if (n < SMALL.length) return { text: SMALL.toString('utf8', 0, n) };
    const size = fstatSync(fd).size;
    if (size > MAX_FILE_BYTES) return { refused: `${size} bytes, over the ${MAX_FILE_BYTES}-byte limit` };
    return { text: readFileSync(fd, 'utf8') }; // from offset 0: the positioned read above did not move the offset
  } finally {
    closeSync(fd);
  }
}

/**
 * A pipe or device read to its end: a read shorter than asked is no end there (a pipe hands over 64 KiB at a time),
 * and its size is unknown (0) beforehand, so the limit is counted as it is read.
 */
function readStream(fd: number): FileText {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const n = readSync(fd, SMALL, 0, SMALL.length, null);
    if (n === 0) break;
    total += n;
    if (total > MAX_FILE_BYTES) return { refused: `more than the ${MAX_FILE_BYTES}-byte limit` };
    chunks.push(Buffer.from(SMALL.subarray(0, n)));
  }
  return { text: Buffer.concat(chunks, total).toString('utf8') };
}

/** Read and parse one advisory file (`regular` false: a pipe or device given as a path, read to its end). */
export function readAdvisoryFile(file: string, regular = true): FileOutcome {
  const read = readAdvisoryText(file, regular);
  if ('refused' in read) return { where: file, records: [], refused: read.refused };
  // Only formats without dates of their own (the tracker, secdb) use the file's time.
  return outcomeOf(file, read.text, () => statSync(file).mtime.toISOString());
}

/**
 * Parse one JSON document: an OSV record, an Alpine secdb or the Debian tracker. `modified` dates records whose
 * format carries no date of its own.
 */
export function outcomeOf(where: string, text: string, modified: string | (() => string)): FileOutcome {
  const dated = (): string => (typeof modified === 'string' ? modified : modified());
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { where, records: [], refused: `not valid JSON (${printable((err as Error).message, 120)})` };
  }
  if (isAlpineSecdb(doc)) {
    return { where, records: rowsOfEach(parseAlpineSecdb(doc, dated())) };
  }
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc) && 'id' in doc) {
    const r = parseOsv(doc);
    if (!r.ok) return { where, records: [], refused: r.reason };
    const record = rowsOf(r.advisory, r.affected);
    const stored = record.rows.json.length * record.rows.affected.length;
    if (stored > MAX_REPEAT_RATIO * text.length) {
      return {
        where,
        records: [],
        refused: `${r.advisory.id}: its ${record.rows.json.length}-byte advisory, stored once per each of its ${record.rows.affected.length} affected packages, comes to more than ${MAX_REPEAT_RATIO} times the record's size`,
      };
    }
    return { where, records: [record] };
  }
  if (isDebianTracker(doc)) {
    return { where, records: rowsOfEach(parseDebianTracker(doc, dated())) };
  }
  return { where, records: [], ignored: true };
}

function rowsOf(
  advisory: Parameters<typeof advisoryRows>[0],
  affected: Parameters<typeof advisoryRows>[1],
): RecordRows {
  return { source: advisory.source, modified: advisory.modified, rows: advisoryRows(advisory, affected) };
}

function* rowsOfEach(records: Iterable<{ advisory: Advisory; affected: Affected[] }>): Generator<RecordRows> {
  for (const r of records) yield rowsOf(r.advisory, r.affected);
}
