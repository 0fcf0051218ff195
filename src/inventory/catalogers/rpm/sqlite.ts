import type BetterSqlite3 from 'better-sqlite3';
import { lazyRequire } from '../../../util/lazy.js';

const Database = lazyRequire<typeof BetterSqlite3>('better-sqlite3');

import { badDb, RpmdbError } from './errors.js';
import { MAX_RECORDS, type RpmdbRead, type RpmdbRecord } from './records.js';

/**
 * The sqlite rpm database `rpmdb.sqlite` (RHEL 9, Fedora 33+): table `Packages(hnum INTEGER
 * PRIMARY KEY, blob BLOB)` (ref: rpm lib/backend/sqlite.c). It is opened from memory with
 * better-sqlite3. The file is hostile, so `Packages` must be a plain table without generated
 * columns, and blob sizes are read before the blobs so a row cannot claim more than the file holds.
 */

const MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** Read every header blob of an rpmdb.sqlite image; throws RPMDB_INVALID when SQLite cannot read it. */
export function readSqliteRpmdb(buf: Uint8Array): RpmdbRead {
  if (buf.byteLength < 100 || !MAGIC.equals(buf.subarray(0, 16))) badDb('not an SQLite database (bad magic)');
  // rpm writes WAL mode (bytes 18-19 = 2), which an in-memory (deserialized) database cannot open;
  // mark a copy as rollback-journal mode. Unmerged -wal contents are reported by the cataloger.
  const copy = Buffer.from(buf);
  if (copy[18] === 2) copy[18] = 1;
  if (copy[19] === 2) copy[19] = 1;
  let db: BetterSqlite3.Database;
  try {
    db = new (Database())(copy, { readonly: true });
  } catch (err) {
    badDb(`SQLite cannot open it: ${(err as Error).message}`, err);
  }
  try {
    return readPackages(db, buf.byteLength);
  } catch (err) {
    if (err instanceof RpmdbError) throw err;
    badDb(`SQLite cannot read it: ${(err as Error).message}`, err);
  } finally {
    db.close();
  }
}

function readPackages(db: BetterSqlite3.Database, fileSize: number): RpmdbRead {
  db.pragma('trusted_schema = OFF');
  const kind = db.prepare("SELECT type FROM sqlite_master WHERE name = 'Packages'").pluck().get();
  if (kind !== 'table') badDb(kind ? `Packages is a ${String(kind)}, not a table` : 'there is no Packages table');
  const cols = db.pragma('table_xinfo(Packages)') as { name: string; hidden: number }[];
  for (const want of ['hnum', 'blob']) {
    if (cols.find((c) => c.name === want)?.hidden !== 0) badDb(`Packages has no plain column ${want}`);
  }
  const problems: string[] = [];
  const sizes = db.prepare('SELECT hnum, length(blob) AS n, typeof(blob) AS t FROM Packages ORDER BY hnum');
  const wanted: number[] = [];
  let total = 0;
  // Sizes first (the connection is busy while iterating); blob lengths come from the cell headers,
  // so a sum beyond the file size means shared or looping overflow pages.
  for (const row of sizes.iterate() as Iterable<{ hnum: unknown; n: unknown; t: unknown }>) {
    if (typeof row.hnum !== 'number' || !Number.isSafeInteger(row.hnum) || row.hnum < 0) {
      problems.push('a row has a non-integer hnum');
      continue;
    }
    if (row.t !== 'blob' || typeof row.n !== 'number') {
      problems.push(`header #${row.hnum}: stored as ${String(row.t)}, not a blob`);
      continue;
    }
    total += row.n;
    if (total > fileSize) badDb(`its blobs claim more than the file's ${fileSize} bytes`);
    if (wanted.length >= MAX_RECORDS) badDb(`more than ${MAX_RECORDS} records`);
    wanted.push(row.hnum);
  }
  const one = db.prepare('SELECT blob FROM Packages WHERE hnum = ?').pluck();
  const records: RpmdbRecord[] = [];
  for (const hnum of wanted) {
    const blob = one.get(hnum);
    if (blob instanceof Uint8Array) records.push({ id: hnum, blob });
    else problems.push(`header #${hnum}: blob vanished`);
  }
  return { records, problems };
}
