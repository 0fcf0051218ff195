import { rmSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import { lazyRequire } from '../util/lazy.js';
import { type AdvisoryRows, privateFilePragmas, type ShardBatch } from './advisorydb.js';
import { ChunkedInsert } from './chunked.js';

const Database = lazyRequire<typeof BetterSqlite3>('better-sqlite3');

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
  private readonly advisoryRows: ChunkedInsert;
  private readonly affectedRows: ChunkedInsert;
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
    this.advisoryRows = new ChunkedInsert(this.db, 'advisories', 5);
    this.affectedRows = new ChunkedInsert(this.db, 'affected', 12);
    this.db.exec('BEGIN');
  }

  /** Start a batch: the rows put until `endBatch` are one range in each table. */
  startBatch(): void {
    this.batchStart = [this.advisories + 1, this.affected + 1];
  }

  putRows(rows: AdvisoryRows): void {
    this.advisoryRows.add(rows.advisory, rows.affected.length === 0 ? this.affected : null);
    this.advisories++;
    for (const a of rows.affected) {
      this.affectedRows.add(a, rows.json, this.gen);
      this.affected++;
    }
  }

  /** Where the rows put since `startBatch` are (rowids count from 1 in a fresh table with no deletes). */
  endBatch(): ShardBatch {
    this.advisoryRows.flush();
    this.affectedRows.flush();
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
}
