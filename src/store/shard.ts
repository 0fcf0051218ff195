import { rmSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import { lazyRequire } from '../util/lazy.js';
import { type AdvisoryRows, privateFilePragmas, type ShardBatch } from './advisorydb.js';

const Database = lazyRequire<typeof BetterSqlite3>('better-sqlite3');

/** Rows per multi-row INSERT. */
const CHUNK = 32;

type SqlValue = string | number | null;

function flush(statement: BetterSqlite3.Statement, values: SqlValue[]): void {
  statement.run(values);
  values.length = 0;
}

/**
 * The tables an import worker fills, in the store's column order. No keys: rows are appended in the order they come,
 * repeats included, and `AdvisoryDbWriter.merge` applies them to the store in file order.
 */
const SHARD_SCHEMA = `
-- after: for a put with no affected rows, how many affected rows the shard held before it (else NULL)
CREATE TABLE advisories (source TEXT NOT NULL, id TEXT NOT NULL, modified TEXT NOT NULL, withdrawn TEXT, after INTEGER);
CREATE TABLE affected (
  ecosystem TEXT NOT NULL, package TEXT NOT NULL, source TEXT NOT NULL, advisory_id TEXT NOT NULL, seq INTEGER NOT NULL,
  ranges TEXT NOT NULL, versions TEXT NOT NULL, status TEXT, urgency TEXT, no_dsa TEXT, advisory TEXT NOT NULL,
  gen INTEGER NOT NULL
);
`;

/**
 * One import worker's share of the rows, in a file of its own: SQLite has one writer per file, so workers that parse
 * in parallel also insert in parallel, each into its shard, and the store copies the shards in at the end.
 */
export class ShardWriter {
  private readonly db: BetterSqlite3.Database;
  private readonly insertAdvisory: BetterSqlite3.Statement;
  private readonly insertAffected: BetterSqlite3.Statement;
  private readonly insertAdvisories: BetterSqlite3.Statement;
  private readonly insertAffecteds: BetterSqlite3.Statement;
  /** Rows waiting to go in CHUNK at a time (one statement binding many rows costs much less than many statements). */
  private readonly pendingAdvisories: SqlValue[] = [];
  private readonly pendingAffected: SqlValue[] = [];
  private advisories = 0;
  private affected = 0;
  private batchStart: [number, number] = [1, 1];

  constructor(
    readonly path: string,
    readonly shard: number,
    private readonly gen: number,
  ) {
    rmSync(path, { force: true });
    this.db = new (Database())(path);
    privateFilePragmas(this.db);
    this.db.pragma('page_size = 16384');
    this.db.exec(SHARD_SCHEMA);
    const values = (columns: number, rows: number) =>
      Array(rows)
        .fill(`(${Array(columns).fill('?').join(', ')})`)
        .join(', ');
    this.insertAdvisory = this.db.prepare(`INSERT INTO advisories VALUES ${values(5, 1)}`);
    this.insertAdvisories = this.db.prepare(`INSERT INTO advisories VALUES ${values(5, CHUNK)}`);
    this.insertAffected = this.db.prepare(`INSERT INTO affected VALUES ${values(12, 1)}`);
    this.insertAffecteds = this.db.prepare(`INSERT INTO affected VALUES ${values(12, CHUNK)}`);
    this.db.exec('BEGIN');
  }

  /** Start a batch: the rows put until `endBatch` are one range in each table. */
  startBatch(): void {
    this.batchStart = [this.advisories + 1, this.affected + 1];
  }

  putRows(rows: AdvisoryRows): void {
    this.pendingAdvisories.push(...rows.advisory, rows.affected.length === 0 ? this.affected : null);
    this.advisories++;
    if (this.pendingAdvisories.length === 5 * CHUNK) flush(this.insertAdvisories, this.pendingAdvisories);
    for (const a of rows.affected) {
      this.pendingAffected.push(...a, rows.json, this.gen);
      this.affected++;
      if (this.pendingAffected.length === 12 * CHUNK) flush(this.insertAffecteds, this.pendingAffected);
    }
  }

  /** Where the rows put since `startBatch` are (rowids count from 1 in a fresh table with no deletes). */
  endBatch(): ShardBatch {
    for (let i = 0; i < this.pendingAdvisories.length; i += 5)
      this.insertAdvisory.run(this.pendingAdvisories.slice(i, i + 5));
    for (let i = 0; i < this.pendingAffected.length; i += 12)
      this.insertAffected.run(this.pendingAffected.slice(i, i + 12));
    this.pendingAdvisories.length = 0;
    this.pendingAffected.length = 0;
    return {
      shard: this.shard,
      advisories: [this.batchStart[0], this.advisories],
      affected: [this.batchStart[1], this.affected],
    };
  }

  /** Commit and close, so the store can attach the file. */
  close(): void {
    this.db.exec('COMMIT');
    this.db.close();
  }

  /** Close without committing (an error elsewhere): the file is removed by whoever made it. */
  abandon(): void {
    if (this.db.open) this.db.close();
  }
}
