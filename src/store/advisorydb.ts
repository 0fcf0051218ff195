import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { Advisory, Affected } from '../advisories/model.js';
import { fail, PortcullisError, printable } from '../errors.js';
import { lazyRequire } from '../util/lazy.js';
import { processAlive } from '../util/process.js';
import { ChunkedInsert, type SqlValue } from './chunked.js';
import { parseRanges, stringifyRanges } from './rangejson.js';

const Database = lazyRequire<typeof BetterSqlite3>('better-sqlite3');

/**
 * Bumped whenever the tables change, or what an import writes into them (4: OSV `upstream` ids kept apart from the
 * aliases; 3 folded them in); an older file is refused with a hint to rebuild it, as an import over it would leave
 * its older rows as they were.
 */
export const SCHEMA_VERSION = 4;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE sources (
  name TEXT PRIMARY KEY, location TEXT NOT NULL, imported_at TEXT NOT NULL,
  records INTEGER NOT NULL, newest_modified TEXT, etag TEXT, last_modified TEXT
) WITHOUT ROWID;
-- One row per advisory, to detect re-imports and count; the advisory itself travels with its affected rows. The
-- same id can come from two sources (Debian's tracker and osv.dev's copy of it): the key is both.
CREATE TABLE advisories (
  source TEXT NOT NULL, id TEXT NOT NULL, modified TEXT NOT NULL, withdrawn TEXT,
  PRIMARY KEY (source, id)
) WITHOUT ROWID;
-- A rowid table with an (ecosystem, package) index: rows carry large JSON (PyPI lists every affected version),
-- which SQLite advises against in WITHOUT ROWID tables; appends stay cheap and lookups are one index range scan.
CREATE TABLE affected (
  ecosystem TEXT NOT NULL, package TEXT NOT NULL, source TEXT NOT NULL, advisory_id TEXT NOT NULL, seq INTEGER NOT NULL,
  ranges TEXT NOT NULL, versions TEXT NOT NULL, status TEXT, urgency TEXT, no_dsa TEXT,
  -- The advisory as JSON, repeated on each of its rows: one index range scan answers a package, without a join.
  advisory TEXT NOT NULL,
  gen INTEGER NOT NULL -- the import that wrote the row: a re-imported advisory's older rows are dropped at commit
);
`;

/** How far ahead of this clock a store's date may be (another machine's clock) before it counts as no date. */
const CLOCK_SKEW_MS = 24 * 3600 * 1000;

/**
 * How old the data of a store dated `updated` (its `updated_at`) is, in milliseconds: infinite when it has no date,
 * one that does not parse (NaN would pass every age limit), or one more than a day ahead (a negative age would pass
 * every limit for as long as that clock was wrong).
 */
export function dataAgeMs(updated: string | null | undefined, now = Date.now()): number {
  const at = updated ? Date.parse(updated) : Number.NaN;
  return Number.isNaN(at) || datedAhead(updated, now) ? Number.POSITIVE_INFINITY : now - at;
}

/** Whether a store's date is more than a day ahead of this clock (NaN for none compares false). */
function datedAhead(updated: string | null | undefined, now: number): boolean {
  return (updated ? Date.parse(updated) : Number.NaN) - now > CLOCK_SKEW_MS;
}

/** "last updated DATE" for messages about the data's age; a date more than a day ahead is said to be wrong. */
export function lastUpdated(updated: string | null | undefined, now = Date.now()): string {
  return datedAhead(updated, now)
    ? `dated ${printable(updated ?? '', 40)}, in the future (a wrong clock here or where it was built), so of unknown age`
    : `last updated ${printable(updated ?? 'never', 40)}`;
}

/**
 * The warning of an import or update that left some of the store's sources (`what`: feeds or sources) as old as they
 * were, and so kept its data age.
 */
export function ageKeptWarning(what: 'feed' | 'source', names: readonly string[], by: 'import' | 'update'): string {
  const list = names.slice(0, 5).map((n) => printable(n, 60));
  const them = names.length === 1 ? 'it' : 'them';
  const advice = what === 'feed' ? `; update ${them} too, or --rebuild without ${them}` : '';
  return `the data age that scan --max-db-age checks is not renewed: ${names.length} ${what}${names.length === 1 ? '' : 's'} of the database not in this ${by} (${list.join(', ')}${names.length > 5 ? ', ...' : ''})${advice}`;
}

/** Where the embedded store lives: PORTCULLIS_DB, else the user's cache directory. */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PORTCULLIS_DB) return env.PORTCULLIS_DB;
  const cache = env.XDG_CACHE_HOME || join(env.HOME ?? homedir(), '.cache');
  return join(cache, 'portcullis', 'advisories.db');
}

/** One data source as recorded in the store. */
export interface SourceInfo {
  readonly name: string;
  readonly location: string;
  readonly importedAt: string;
  readonly records: number;
  readonly newestModified: string | null;
  readonly etag?: string | null;
  readonly lastModified?: string | null;
}

/**
 * The rows one `db update` feed owns: everything of one source (the Debian tracker, one Alpine secdb file), or one
 * ecosystem's rows among the sources of a family (osv.dev's npm export: the `npm` rows of every `osv/...` source).
 */
export type Cover = { readonly source: string } | { readonly sourcePrefix: string; readonly ecosystem: string };

/** SQL for an ecosystem cover: the ecosystem itself or any of its releases (`Debian` covers `Debian:12`). */
function coverSql(cover: Extract<Cover, { ecosystem: string }>): [string, (string | number)[]] {
  return [
    'substr(source, 1, ?) = ? AND (ecosystem = ? OR substr(ecosystem, 1, ?) = ?)',
    [cover.sourcePrefix.length, cover.sourcePrefix, cover.ecosystem, cover.ecosystem.length + 1, `${cover.ecosystem}:`],
  ];
}

/** A row of `affected` with its advisory, as the matcher reads it. */
export interface AffectedRow extends Affected {
  readonly advisory: Advisory;
}

/**
 * The advisory store: an SQLite file read in place. Writers never modify it: `AdvisoryDbWriter` builds a copy next
 * to it and renames it over the original when the import has finished, so a failed or interrupted update leaves the
 * previous database working.
 */
export class AdvisoryDb {
  private readonly lookup: BetterSqlite3.Statement;
  private readonly covered = new Map<string, boolean>();

  private constructor(
    readonly path: string,
    private readonly db: BetterSqlite3.Database,
  ) {
    checkSchema(db, path);
    // Rows as arrays (the column order of RawAffected): no object per row that is thrown away at once. The ecosystem
    // and package are the ones asked for (compared as they are stored, byte for byte): not read back for every row.
    this.lookup = db
      .prepare(
        `SELECT advisory_id, ranges, versions, status, urgency, no_dsa, advisory
         FROM affected WHERE ecosystem = ? AND package = ?`,
      )
      .raw(true);
  }

  /** Open an existing store read-only. */
  static open(path: string): AdvisoryDb {
    if (!existsSync(path)) {
      fail('NOT_FOUND', `no advisory database at ${path}: run 'portcullis db import PATH' or 'portcullis db update'`);
    }
    let db: BetterSqlite3.Database;
    try {
      db = new (Database())(path, { readonly: true, fileMustExist: true });
      db.pragma('query_only = ON');
    } catch (err) {
      fail('CONFIG_INVALID', `${path}: not a readable advisory database (${(err as Error).message})`);
    }
    return new AdvisoryDb(path, db);
  }

  /**
   * Every advisory naming this package in this ecosystem. Each row's `advisory` is read when first asked for: the
   * matcher needs it only for the rows whose ranges the installed version falls in.
   */
  affected(ecosystem: string, pkg: string): AffectedRow[] {
    return guard(this.path, () =>
      (this.lookup.all(ecosystem, pkg) as RawAffected[]).map((r) => new StoredAffected(this.path, ecosystem, pkg, r)),
    );
  }

  /** Whether any advisory names a package of this ecosystem (see AdvisoryLookup.covers). */
  covers(ecosystem: string): boolean {
    let c = this.covered.get(ecosystem);
    if (c === undefined) {
      c =
        guard(this.path, () => this.db.prepare('SELECT 1 FROM affected WHERE ecosystem = ? LIMIT 1').get(ecosystem)) !==
        undefined;
      this.covered.set(ecosystem, c);
    }
    return c;
  }

  sources(): SourceInfo[] {
    const rows = guard(this.path, () => this.db.prepare('SELECT * FROM sources ORDER BY name').all() as RawSource[]);
    return rows.map((s) => ({
      name: s.name,
      location: s.location,
      importedAt: s.imported_at,
      records: s.records,
      newestModified: s.newest_modified,
      etag: s.etag,
      lastModified: s.last_modified,
    }));
  }

  meta(key: string): string | undefined {
    return guard(
      this.path,
      () => this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined,
    )?.value;
  }

  counts(): { advisories: number; affected: number; ecosystems: { ecosystem: string; count: number }[] } {
    const one = (sql: string) => (this.db.prepare(sql).get() as { n: number }).n;
    return guard(this.path, () => ({
      advisories: one('SELECT count(*) AS n FROM advisories'),
      affected: one('SELECT count(*) AS n FROM affected'),
      ecosystems: this.db
        .prepare('SELECT ecosystem, count(*) AS count FROM affected GROUP BY ecosystem ORDER BY ecosystem')
        .all() as { ecosystem: string; count: number }[],
    }));
  }

  close(): void {
    this.db.close();
  }
}

/**
 * One advisory as table rows: `advisories` values, and `affected` values without the trailing advisory JSON and
 * generation. The JSON is kept once here (each affected row repeats it in the table), so posting rows between
 * threads copies it once.
 */
export interface AdvisoryRows {
  readonly advisory: SqlValue[];
  readonly json: string;
  readonly affected: SqlValue[][];
}

/** Serialise an advisory into rows: pure, so import workers can do it in parallel with the inserts. */
export function advisoryRows(advisory: Advisory, affected: readonly Affected[]): AdvisoryRows {
  return {
    advisory: [advisory.source, advisory.id, advisory.modified, advisory.withdrawn ?? null],
    json: JSON.stringify(advisory),
    affected: affected.map((a, seq) => [
      a.ecosystem,
      a.package,
      advisory.source,
      a.advisoryId,
      seq,
      stringifyRanges(a.ranges),
      a.versions.length === 0 ? '[]' : JSON.stringify(a.versions),
      a.status ?? null,
      a.urgency ?? null,
      a.noDsa ?? null,
    ]),
  };
}

/** The lookup index, built once after an import's rows are in: sorting 100k keys once beats 100k B-tree inserts. */
const INDEX_BY_PACKAGE = 'CREATE INDEX affected_by_package ON affected (ecosystem, package)';
/** Built by a writer that has re-imported advisories to clean up after; readers never use it. */
const INDEX_BY_ADVISORY = 'CREATE INDEX affected_by_advisory ON affected (source, advisory_id, seq, gen)';

/** The columns of `affected`, in the order `AdvisoryRows` and the shards give them. */
const AFFECTED_COLUMNS =
  'ecosystem, package, source, advisory_id, seq, ranges, versions, status, urgency, no_dsa, advisory, gen';

/** An advisory put again replaces the stored one; its older affected rows go at commit. */
const UPSERT_CONFLICT =
  'ON CONFLICT (source, id) DO UPDATE SET modified = excluded.modified, withdrawn = excluded.withdrawn';

/**
 * Where a batch of rows sits in a shard: rowid ranges of its `advisories` and `affected` tables (empty when `from`
 * is past `to`). Shards are the files import workers write in parallel; `AdvisoryDbWriter.merge` copies them in.
 */
export interface ShardBatch {
  readonly shard: number;
  readonly advisories: readonly [from: number, to: number];
  readonly affected: readonly [from: number, to: number];
}

/** Builds the next version of the store in a temporary file; `commit` swaps it in atomically. */
export class AdvisoryDbWriter {
  private readonly db: BetterSqlite3.Database;
  private readonly tmp: string;
  private readonly advisoryRows: ChunkedInsert;
  private readonly affectedRows: ChunkedInsert;
  /** The generation this import writes into `affected.gen`. */
  readonly gen: number;
  private done = false;
  /** Advisories put by this import, and how many the store held before (see `commit`). */
  private puts = 0;
  private readonly before: number;
  /** The rowid of the last `affected` row put, inserted or pending (a put with no rows notes it in temp.emptied). */
  private lastRow: number;
  private readonly markEmptied: BetterSqlite3.Statement;
  /** The store file this import started from (undefined: none), to tell whether another import replaced it since. */
  private readonly startedFrom: string | undefined;

  /** `rebuild`: start from an empty store instead of the current file (an old schema, a damaged file). */
  constructor(
    readonly path: string,
    opts: { rebuild?: boolean } = {},
  ) {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (err) {
      throw typedFileError(path, err);
    }
    // The pid tells a killed import's leftovers from a running one's; the random part keeps two imports with one pid
    // (each container's first process is pid 1) from writing, and committing, one file.
    this.tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    removeAbandoned(path, this.tmp);
    // Before the copy: a store replaced between the two reads as changed at commit (a refusal, never a lost import).
    this.startedFrom = fileIdentity(path);
    let opened: BetterSqlite3.Database | undefined;
    try {
      const fresh = opts.rebuild === true || !existsSync(path);
      if (!fresh) copyFileSync(path, this.tmp);
      this.db = opened = new (Database())(this.tmp);
      privateFilePragmas(this.db);
      if (fresh) {
        this.db.pragma('page_size = 16384');
        this.db.exec(SCHEMA);
        this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
      } else {
        checkSchema(this.db, path);
      }
      const previous = (
        this.db.prepare("SELECT value FROM meta WHERE key = 'generation'").get() as { value: string } | undefined
      )?.value;
      this.gen = Number(previous ?? 0) + 1;
      this.before = fresh ? 0 : countAdvisories(this.db);
      this.lastRow = maxRowid(this.db);
      // An advisory put again with no affected packages: its rows up to `upto` (those of earlier puts) go at commit.
      this.db.exec('CREATE TEMP TABLE emptied (source TEXT NOT NULL, id TEXT NOT NULL, upto INTEGER NOT NULL)');
      this.markEmptied = this.db.prepare('INSERT INTO temp.emptied (source, id, upto) VALUES (?, ?, ?)');
      this.db.exec('DROP INDEX IF EXISTS affected_by_package; DROP INDEX IF EXISTS affected_by_advisory;');
      this.advisoryRows = new ChunkedInsert(
        this.db,
        'advisories (source, id, modified, withdrawn)',
        4,
        UPSERT_CONFLICT,
      );
      this.affectedRows = new ChunkedInsert(this.db, `affected (${AFFECTED_COLUMNS})`, 12);
      this.db.exec('BEGIN');
    } catch (err) {
      // A damaged or foreign file at `path`: leave it as it is, and no temporary copy behind.
      try {
        opened?.close();
      } catch {}
      rmSync(this.tmp, { force: true });
      throw typedFileError(path, typedSqliteError(path, err));
    }
  }

  /** Add or replace one advisory with all its affected packages. */
  put(advisory: Advisory, affected: readonly Affected[]): void {
    this.putRows(advisoryRows(advisory, affected));
  }

  /** `put` for rows already serialised by `advisoryRows`. */
  putRows(rows: AdvisoryRows): void {
    try {
      this.advisoryRows.add(rows.advisory);
      this.puts++;
      if (rows.affected.length === 0) this.markEmptied.run(rows.advisory[0], rows.advisory[1], this.lastRow);
      for (const a of rows.affected) {
        this.affectedRows.add(a, rows.json, this.gen);
        this.lastRow++; // rowids count on from the largest (no deletes happen while rows are put)
      }
    } catch (err) {
      throw typedSqliteError(this.path, err);
    }
  }

  /** Insert the rows put and still pending: before anything reads or deletes rows. */
  private flush(): void {
    try {
      this.advisoryRows.flush();
      this.affectedRows.flush();
    } catch (err) {
      throw typedSqliteError(this.path, err);
    }
  }

  /** Where import workers write their shards: beside the temporary file, removed with it. */
  shardPath(n: number): string {
    return `${this.tmp}.shard${n}`;
  }

  /**
   * Copy the batches that workers wrote into shard files, in the order given (the order of the files they came
   * from), so the store is the same as if each batch had been `putRows` here.
   */
  merge(shards: readonly string[], batches: readonly ShardBatch[]): void {
    this.flush();
    try {
      // Attaching and detaching happen outside a transaction. The file is private until renamed, so committing
      // part-way gives up no atomicity.
      this.db.exec('COMMIT');
      for (const [i, file] of shards.entries()) this.db.prepare(`ATTACH DATABASE ? AS shard${i}`).run(file);
      this.db.exec('BEGIN');
      const copy = shards.map((_, i) => ({
        advisories: this.db.prepare(
          `INSERT INTO advisories (source, id, modified, withdrawn)
           SELECT source, id, modified, withdrawn FROM shard${i}.advisories WHERE rowid BETWEEN ? AND ? ORDER BY rowid
           ${UPSERT_CONFLICT}`,
        ),
        affected: this.db.prepare(
          `INSERT INTO affected (${AFFECTED_COLUMNS}) SELECT ${AFFECTED_COLUMNS} FROM shard${i}.affected
           WHERE rowid BETWEEN ? AND ? ORDER BY rowid`,
        ),
        // A put with no rows noted `after`, the shard's affected rows before it: the same point in this table.
        emptied: this.db.prepare(
          `INSERT INTO temp.emptied (source, id, upto)
           SELECT source, id, :base + after FROM shard${i}.advisories
           WHERE rowid BETWEEN :from AND :to AND after IS NOT NULL`,
        ),
      }));
      for (const b of batches) {
        const c = copy[b.shard] as (typeof copy)[number];
        if (b.advisories[0] <= b.advisories[1]) {
          c.advisories.run(b.advisories);
          const base = this.lastRow - (b.affected[0] - 1); // maps the shard's rowids onto this table's
          c.emptied.run({ base, from: b.advisories[0], to: b.advisories[1] });
        }
        this.puts += Math.max(0, b.advisories[1] - b.advisories[0] + 1);
        if (b.affected[0] <= b.affected[1]) {
          c.affected.run(b.affected);
          this.lastRow += b.affected[1] - b.affected[0] + 1;
        }
      }
      this.db.exec('COMMIT');
      for (const i of shards.keys()) this.db.exec(`DETACH DATABASE shard${i}`);
      this.db.exec('BEGIN');
    } catch (err) {
      throw typedSqliteError(this.path, err);
    }
  }

  /** Record where a source came from and how much it held. */
  /** The names of the sources the store held when this writer opened it (none for a rebuild or a new store). */
  sourceNames(): string[] {
    return guard(this.path, () =>
      (this.db.prepare('SELECT name FROM sources ORDER BY name').all() as { name: string }[]).map((r) => r.name),
    );
  }

  source(info: SourceInfo): void {
    guard(this.path, () =>
      this.db
        .prepare(
          `INSERT OR REPLACE INTO sources (name, location, imported_at, records, newest_modified, etag, last_modified)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          info.name,
          info.location,
          info.importedAt,
          info.records,
          info.newestModified,
          info.etag ?? null,
          info.lastModified ?? null,
        ),
    );
  }

  /**
   * Remove what one `db update` feed owns before its new download is imported (before any put of this writer): the affected rows it covers, and
   * the advisories left with none (an advisory with rows in other ecosystems stays). Returns the rows removed.
   */
  drop(cover: Cover): number {
    // Rows are told apart by the put that wrote them; a drop between puts would leave an earlier put's rows in place.
    if (this.puts > 0) throw new Error('AdvisoryDbWriter.drop: every drop must come before the first put');
    return guard(this.path, () => this.dropRows(cover));
  }

  private dropRows(cover: Cover): number {
    if ('source' in cover) {
      const n = this.db.prepare('DELETE FROM affected WHERE source = ?').run(cover.source).changes;
      this.db.prepare('DELETE FROM advisories WHERE source = ?').run(cover.source);
      this.lastRow = maxRowid(this.db);
      return n;
    }
    const [where, params] = coverSql(cover);
    this.db.exec(
      `CREATE TEMP TABLE IF NOT EXISTS dropped (source TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (source, id))
       WITHOUT ROWID; DELETE FROM temp.dropped;`,
    );
    this.db
      .prepare(`INSERT OR IGNORE INTO temp.dropped SELECT source, advisory_id FROM affected WHERE ${where}`)
      .run(params);
    const n = this.db.prepare(`DELETE FROM affected WHERE ${where}`).run(params).changes;
    // One scan of affected (its indexes are dropped while a writer runs), probing the small temp table.
    this.db.exec(
      `DELETE FROM temp.dropped WHERE (source, id) IN
         (SELECT f.source, f.advisory_id FROM affected f JOIN temp.dropped d ON d.source = f.source AND d.id = f.advisory_id);
       DELETE FROM advisories WHERE (source, id) IN (SELECT source, id FROM temp.dropped);`,
    );
    this.lastRow = maxRowid(this.db);
    return n;
  }

  /** How many affected rows a feed's cover holds now (a feed that imported none was not what it claims to be). */
  covered(cover: Cover): number {
    this.flush();
    const [where, params] = 'source' in cover ? ['source = ?', [cover.source]] : coverSql(cover);
    return guard(
      this.path,
      () => (this.db.prepare(`SELECT count(*) AS n FROM affected WHERE ${where}`).get(params) as { n: number }).n,
    );
  }

  /**
   * Finish the import and atomically replace the store. `renewAge: false` keeps the store's `updated_at` (the data
   * age `scan --max-db-age` checks), for an update that left some of the store's feeds as old as they were.
   */
  commit(opts: { renewAge?: boolean } = {}): void {
    this.flush();
    guard(this.path, () => this.finish(opts.renewAge ?? true));
    // Another import that committed since this one copied the store: renaming this copy over it would drop its
    // records while both report success.
    if (fileIdentity(this.path) !== this.startedFrom) {
      rmSync(this.tmp, { force: true });
      this.done = true;
      fail(
        'STATE_IN_USE',
        `${this.path}: another import replaced the advisory database while this one ran; nothing of this one was committed, run it again`,
      );
    }
    renameSync(this.tmp, this.path);
    this.done = true;
  }

  /** Index, clean up after re-imported advisories, date and close the new store (SQLite errors as they come). */
  private finish(renewAge: boolean): void {
    this.db.exec(INDEX_BY_PACKAGE);
    // Rows of re-imported advisories (put twice in this import, or put again after an earlier one) are those of
    // their newest put only: for each advisory this import put rows for, those before its last seq 0 row go. When every put added a new advisory (a first import, as a rule)
    // there are none: `drop` and re-puts both make the count fall short of before + puts.
    if (countAdvisories(this.db) !== this.before + this.puts) {
      this.db.exec(INDEX_BY_ADVISORY);
      this.db
        .prepare(
          `DELETE FROM affected WHERE rowid IN (
             SELECT f.rowid FROM affected f JOIN (
               SELECT source, advisory_id, max(CASE WHEN seq = 0 AND gen = :gen THEN rowid END) AS newest
               FROM affected GROUP BY source, advisory_id HAVING max(gen) = :gen
             ) r ON f.source = r.source AND f.advisory_id = r.advisory_id
             WHERE f.rowid < r.newest)`,
        )
        .run({ gen: this.gen });
    }
    if (this.db.prepare('SELECT 1 FROM temp.emptied LIMIT 1').get() !== undefined) {
      this.db.exec(
        `DELETE FROM affected WHERE rowid IN (
           SELECT f.rowid FROM affected f JOIN temp.emptied e ON f.source = e.source AND f.advisory_id = e.id
           WHERE f.rowid <= e.upto)`,
      );
    }
    const setMeta = this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    if (renewAge) setMeta.run('updated_at', new Date().toISOString());
    setMeta.run('generation', String(this.gen));
    this.db.exec('COMMIT');
    this.db.close();
  }

  /** Give up: the previous store stays as it was. */
  abort(): void {
    if (this.done) return;
    this.advisoryRows.clear();
    this.affectedRows.clear();
    try {
      this.db.close();
    } finally {
      rmSync(this.tmp, { force: true });
      this.done = true;
    }
  }
}

/** Files of a killed import that changed this long ago or more are its leftovers, whatever else shares the directory. */
const ABANDONED_MS = 10 * 60 * 1000;

/**
 * Whether the files a process `pid` wrote beside a store (a killed import's copy and shards, a killed update's
 * downloads) are left over: the process is gone, and none of them changed for ten minutes (the age covers an import
 * in another PID namespace sharing the directory). This process's own pid counts as gone: such files are an earlier
 * process's with that pid (pid 1 in a container) or another namespace's, and the age alone tells. Throws when one
 * was removed meanwhile.
 */
export function leftOver(pid: number, paths: readonly string[]): boolean {
  if (pid !== process.pid && processAlive(pid)) return false;
  const now = Date.now();
  return paths.every((p) => now - statSync(p).mtimeMs >= ABANDONED_MS);
}

/**
 * Remove what killed imports of the store at `path` left beside it (`STORE.PID-RANDOM.tmp` and its shards, 100 MB and
 * more), but not `own`: files whose process is gone and none of which changed for ten minutes. (The age covers an import running in
 * another PID namespace with the same store directory: it keeps writing its shards.)
 */
function removeAbandoned(path: string, own: string): void {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  const groups = new Map<string, string[]>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    // PID-RANDOM.tmp (PID.tmp from older versions), with the shards beside it.
    const m = /^((\d+)(?:-[0-9a-f]+)?)\.tmp(?:\.shard\d+)?$/.exec(name.slice(prefix.length));
    if (!m || `${prefix}${m[1]}.tmp` === basename(own)) continue;
    const key = m[1] as string;
    groups.set(key, [...(groups.get(key) ?? []), join(dir, name)]);
  }
  for (const [key, files] of groups) {
    try {
      if (leftOver(Number.parseInt(key, 10), files)) for (const f of files) rmSync(f, { force: true });
    } catch {
      // removed meanwhile by another import: nothing left to do
    }
  }
}

/** Which file is at `path` (device, inode, size, mtime), or undefined when there is none. */
function fileIdentity(path: string): string | undefined {
  const st = statSync(path, { throwIfNoEntry: false });
  return st && `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

/** The rowid the next `affected` row follows (new rows take the largest rowid + 1). */
function maxRowid(db: BetterSqlite3.Database): number {
  return (db.prepare('SELECT max(rowid) AS n FROM affected').get() as { n: number | null }).n ?? 0;
}

function countAdvisories(db: BetterSqlite3.Database): number {
  return (db.prepare('SELECT count(*) AS n FROM advisories').get() as { n: number }).n;
}

/** A database file no one else sees until it is renamed: no journal, and a crash just leaves a stale file behind. */
export function privateFilePragmas(db: BetterSqlite3.Database): void {
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('cache_size = -131072'); // 128 MiB of page cache: the whole store fits while it is built
  db.pragma('temp_store = MEMORY');
}

/**
 * Run a database read; SQLite's own errors (a damaged or truncated file, not a database at all) become one typed
 * line that names the file, instead of an internal error half-way through a scan.
 */
function guard<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw typedSqliteError(path, err);
  }
}

/**
 * SQLite's own error as CONFIG_INVALID naming the file, and so a stored JSON column that no longer parses (bytes
 * changed inside a row); any other error as it is.
 */
function typedSqliteError(path: string, err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (!(err instanceof SyntaxError) && (typeof code !== 'string' || !code.startsWith('SQLITE_'))) return err;
  // A full disk is no damage: a rebuild would fail the same way (the writer meets it at commit, as a rule).
  if (NOT_DAMAGE.has(code as string)) return err;
  return new PortcullisError(
    'CONFIG_INVALID',
    `${path}: the advisory database is damaged (${(err as Error).message}); rebuild it with 'db import --rebuild' or 'db update --rebuild'`,
  );
}

/** SQLite errors that say nothing of the store's file: the disk it is written to is full. */
const NOT_DAMAGE: ReadonlySet<string> = new Set(['SQLITE_FULL']);

/** Errors that say the store's path cannot be a file: --db names a directory, or a path under a file. */
const NOT_A_FILE_PATH = new Set(['EISDIR', 'ENOTDIR', 'EEXIST']);

/** Such an error as CONFIG_INVALID naming the path; any other (a full disk, no permission) as it is. */
export function typedFileError(path: string, err: unknown): unknown {
  if (!NOT_A_FILE_PATH.has((err as { code?: unknown }).code as string)) return err;
  return new PortcullisError(
    'CONFIG_INVALID',
    `${path}: cannot write the advisory database (${(err as Error).message})`,
  );
}

function checkSchema(db: BetterSqlite3.Database, path: string): void {
  let version: string | undefined;
  try {
    version = (db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined)
      ?.value;
  } catch (err) {
    fail('CONFIG_INVALID', `${path}: not a Portcullis advisory database (${(err as Error).message})`);
  }
  if (version !== String(SCHEMA_VERSION)) {
    fail(
      'CONFIG_INVALID',
      `${path}: database schema ${version ?? 'unknown'}, this Portcullis reads ${SCHEMA_VERSION}; rebuild it with 'db import --rebuild' or 'db update --rebuild'`,
    );
  }
}

interface RawSource {
  name: string;
  location: string;
  imported_at: string;
  records: number;
  newest_modified: string | null;
  etag: string | null;
  last_modified: string | null;
}

/** A row of the lookup: advisory_id, ranges, versions, status, urgency, no_dsa, advisory. */
type RawAffected = [string, string, string, string | null, string | null, string | null, string];

const NO_VERSIONS: readonly string[] = Object.freeze([]);

/** A row of `affected` as the matcher reads it; one class, so every row has the same shape. */
class StoredAffected implements AffectedRow {
  readonly ecosystem: string;
  readonly package: string;
  readonly advisoryId: string;
  readonly ranges: AffectedRow['ranges'];
  readonly versions: readonly string[];
  readonly status?: NonNullable<AffectedRow['status']>;
  readonly urgency?: string;
  readonly noDsa?: string;
  #advisoryJson: string;
  #advisory: Advisory | undefined;
  /** The store file, for the message should the advisory JSON be damaged. */
  readonly #path: string;

  constructor(path: string, ecosystem: string, pkg: string, r: RawAffected) {
    this.#path = path;
    this.ecosystem = ecosystem;
    this.package = pkg;
    this.advisoryId = r[0];
    this.ranges = parseRanges(r[1]);
    // Most rows list no versions (ranges only): no parse for those.
    this.versions = r[2] === '[]' ? NO_VERSIONS : JSON.parse(r[2]);
    if (r[3]) this.status = r[3] as NonNullable<AffectedRow['status']>;
    if (r[4]) this.urgency = r[4];
    if (r[5]) this.noDsa = r[5];
    this.#advisoryJson = r[6];
  }

  /** Parsed when first asked for: the matcher needs it only for rows whose ranges hold the installed version. */
  get advisory(): Advisory {
    this.#advisory ??= guard(this.#path, () => JSON.parse(this.#advisoryJson) as Advisory);
    return this.#advisory;
  }
}
