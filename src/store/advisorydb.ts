import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { Advisory, Affected } from '../advisories/model.js';
import { fail } from '../errors.js';
import { lazyRequire } from '../util/lazy.js';

const Database = lazyRequire<typeof BetterSqlite3>('better-sqlite3');

/** Bumped whenever the tables change; an older file is refused with a hint to re-import. */
export const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE sources (
  name TEXT PRIMARY KEY, location TEXT NOT NULL, imported_at TEXT NOT NULL,
  records INTEGER NOT NULL, newest_modified TEXT, etag TEXT, last_modified TEXT
) WITHOUT ROWID;
-- The same id can come from two sources (Debian's tracker and osv.dev's copy of it): the key is both.
CREATE TABLE advisories (
  source TEXT NOT NULL, id TEXT NOT NULL, modified TEXT NOT NULL, published TEXT, withdrawn TEXT,
  aliases TEXT NOT NULL, summary TEXT, severity TEXT NOT NULL, severity_label TEXT,
  PRIMARY KEY (source, id)
) WITHOUT ROWID;
-- A rowid table with an (ecosystem, package) index: rows carry large JSON (PyPI lists every affected version),
-- which SQLite advises against in WITHOUT ROWID tables; appends stay cheap and lookups are one index range scan.
CREATE TABLE affected (
  ecosystem TEXT NOT NULL, package TEXT NOT NULL, source TEXT NOT NULL, advisory_id TEXT NOT NULL, seq INTEGER NOT NULL,
  ranges TEXT NOT NULL, versions TEXT NOT NULL, status TEXT, urgency TEXT, no_dsa TEXT,
  gen INTEGER NOT NULL -- the import that wrote the row: a re-imported advisory's older rows are dropped at commit
);
`;

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

  private constructor(
    readonly path: string,
    private readonly db: BetterSqlite3.Database,
  ) {
    checkSchema(db, path);
    this.lookup = db.prepare(
      `SELECT f.*, a.modified, a.published, a.withdrawn, a.aliases, a.summary, a.severity, a.severity_label
       FROM affected f JOIN advisories a ON a.source = f.source AND a.id = f.advisory_id
       WHERE f.ecosystem = ? AND f.package = ?`,
    );
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

  /** Every advisory naming this package in this ecosystem. */
  affected(ecosystem: string, pkg: string): AffectedRow[] {
    return (this.lookup.all(ecosystem, pkg) as RawRow[]).map(toRow);
  }

  sources(): SourceInfo[] {
    return (this.db.prepare('SELECT * FROM sources ORDER BY name').all() as RawSource[]).map((s) => ({
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
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  counts(): { advisories: number; affected: number; ecosystems: { ecosystem: string; count: number }[] } {
    const one = (sql: string) => (this.db.prepare(sql).get() as { n: number }).n;
    return {
      advisories: one('SELECT count(*) AS n FROM advisories'),
      affected: one('SELECT count(*) AS n FROM affected'),
      ecosystems: this.db
        .prepare('SELECT ecosystem, count(*) AS count FROM affected GROUP BY ecosystem ORDER BY ecosystem')
        .all() as { ecosystem: string; count: number }[],
    };
  }

  close(): void {
    this.db.close();
  }
}

/** The indexes, built once after an import's rows are in: sorting 100k keys once beats 100k B-tree inserts. */
const INDEXES = `
CREATE INDEX affected_by_package ON affected (ecosystem, package);
CREATE INDEX affected_by_advisory ON affected (source, advisory_id);
`;

/** Builds the next version of the store in a temporary file; `commit` swaps it in atomically. */
export class AdvisoryDbWriter {
  private readonly db: BetterSqlite3.Database;
  private readonly tmp: string;
  private readonly insertAdvisory: BetterSqlite3.Statement;
  private readonly replaceAdvisory: BetterSqlite3.Statement;
  private readonly insertAffected: BetterSqlite3.Statement;
  private readonly markReplaced: BetterSqlite3.Statement;
  private readonly gen: number;
  private done = false;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.tmp = `${path}.${process.pid}.tmp`;
    rmSync(this.tmp, { force: true });
    const fresh = !existsSync(path);
    if (!fresh) copyFileSync(path, this.tmp);
    this.db = new (Database())(this.tmp);
    // The file is private until renamed: no journal needed, and a crash just leaves a stale .tmp behind.
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.pragma('locking_mode = EXCLUSIVE');
    this.db.pragma('cache_size = -131072'); // 128 MiB of page cache: the whole store fits while it is built
    this.db.pragma('temp_store = MEMORY');
    if (fresh) {
      this.db.exec(SCHEMA);
      this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
    } else {
      checkSchema(this.db, path);
    }
    const previous = (
      this.db.prepare("SELECT value FROM meta WHERE key = 'generation'").get() as { value: string } | undefined
    )?.value;
    this.gen = Number(previous ?? 0) + 1;
    this.db.exec('DROP INDEX IF EXISTS affected_by_package; DROP INDEX IF EXISTS affected_by_advisory;');
    this.db.exec(
      'CREATE TEMP TABLE replaced (source TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (source, id)) WITHOUT ROWID',
    );
    this.markReplaced = this.db.prepare('INSERT OR IGNORE INTO temp.replaced (source, id) VALUES (?, ?)');
    this.insertAdvisory = this.db.prepare(
      `INSERT OR IGNORE INTO advisories (source, id, modified, published, withdrawn, aliases, summary, severity, severity_label)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.replaceAdvisory = this.db.prepare(
      `INSERT OR REPLACE INTO advisories (source, id, modified, published, withdrawn, aliases, summary, severity, severity_label)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertAffected = this.db.prepare(
      `INSERT INTO affected (ecosystem, package, source, advisory_id, seq, ranges, versions, status, urgency, no_dsa, gen)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.exec('BEGIN');
  }

  /** Add or replace one advisory with all its affected packages. */
  put(advisory: Advisory, affected: readonly Affected[]): void {
    const row = [
      advisory.source,
      advisory.id,
      advisory.modified,
      advisory.published ?? null,
      advisory.withdrawn ?? null,
      JSON.stringify(advisory.aliases),
      advisory.summary ?? null,
      JSON.stringify(advisory.severity),
      advisory.severityLabel ?? null,
    ];
    // An advisory seen before (in an earlier import, or earlier in this one): its older rows go at commit.
    if (this.insertAdvisory.run(...row).changes === 0) {
      this.replaceAdvisory.run(...row);
      this.markReplaced.run(advisory.source, advisory.id);
    }
    affected.forEach((a, seq) => {
      this.insertAffected.run(
        a.ecosystem,
        a.package,
        advisory.source,
        a.advisoryId,
        seq,
        JSON.stringify(a.ranges),
        JSON.stringify(a.versions),
        a.status ?? null,
        a.urgency ?? null,
        a.noDsa ?? null,
        this.gen,
      );
    });
  }

  /** Record where a source came from and how much it held. */
  source(info: SourceInfo): void {
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
      );
  }

  /** Finish the import and atomically replace the store. */
  commit(): void {
    this.db.exec(INDEXES);
    // Rows of re-imported advisories: keep only those of the newest put (the run starting at the last seq 0 row).
    this.db
      .prepare(
        `DELETE FROM affected WHERE rowid IN (
           SELECT f.rowid FROM affected f JOIN temp.replaced r ON f.source = r.source AND f.advisory_id = r.id
           WHERE f.rowid < (SELECT max(g.rowid) FROM affected g
                            WHERE g.source = f.source AND g.advisory_id = f.advisory_id AND g.seq = 0))`,
      )
      .run();
    const setMeta = this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    setMeta.run('updated_at', new Date().toISOString());
    setMeta.run('generation', String(this.gen));
    this.db.exec('COMMIT');
    this.db.close();
    renameSync(this.tmp, this.path);
    this.done = true;
  }

  /** Give up: the previous store stays as it was. */
  abort(): void {
    if (this.done) return;
    try {
      this.db.close();
    } finally {
      rmSync(this.tmp, { force: true });
      this.done = true;
    }
  }
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
      `${path}: database schema ${version ?? 'unknown'}, this Portcullis reads ${SCHEMA_VERSION}; re-import the data`,
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

interface RawRow {
  ecosystem: string;
  package: string;
  advisory_id: string;
  ranges: string;
  versions: string;
  status: string | null;
  urgency: string | null;
  no_dsa: string | null;
  source: string;
  modified: string;
  published: string | null;
  withdrawn: string | null;
  aliases: string;
  summary: string | null;
  severity: string;
  severity_label: string | null;
}

function toRow(r: RawRow): AffectedRow {
  return {
    ecosystem: r.ecosystem,
    package: r.package,
    advisoryId: r.advisory_id,
    ranges: JSON.parse(r.ranges),
    versions: JSON.parse(r.versions),
    ...(r.status ? { status: r.status as NonNullable<AffectedRow['status']> } : {}),
    ...(r.urgency ? { urgency: r.urgency } : {}),
    ...(r.no_dsa ? { noDsa: r.no_dsa } : {}),
    advisory: {
      id: r.advisory_id,
      source: r.source,
      modified: r.modified,
      ...(r.published ? { published: r.published } : {}),
      ...(r.withdrawn ? { withdrawn: r.withdrawn } : {}),
      aliases: JSON.parse(r.aliases),
      ...(r.summary ? { summary: r.summary } : {}),
      severity: JSON.parse(r.severity),
      ...(r.severity_label ? { severityLabel: r.severity_label } : {}),
    },
  };
}
