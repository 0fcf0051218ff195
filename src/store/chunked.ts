import type BetterSqlite3 from 'better-sqlite3';

export type SqlValue = string | number | null;

/**
 * Rows appended to one table CHUNK at a time: one statement binding many rows costs much less than a statement per
 * row. Rows go in in the order they were added (an upsert `suffix` sees a repeat within a chunk as a conflict), and
 * rowids stay one more than the largest before, so a caller can count them without asking.
 */
export class ChunkedInsert {
  private static readonly CHUNK = 32;
  private readonly one: BetterSqlite3.Statement;
  private readonly many: BetterSqlite3.Statement;
  private readonly pending: SqlValue[] = [];

  /** `into`: the table, with its column list where the rows give fewer columns than the table has. */
  constructor(
    db: BetterSqlite3.Database,
    into: string,
    private readonly columns: number,
    suffix = '',
  ) {
    const row = `(${Array(columns).fill('?').join(', ')})`;
    this.one = db.prepare(`INSERT INTO ${into} VALUES ${row} ${suffix}`);
    this.many = db.prepare(`INSERT INTO ${into} VALUES ${Array(ChunkedInsert.CHUNK).fill(row).join(', ')} ${suffix}`);
  }

  /** Add one row: `values`, then `tail` (the columns every row of a batch shares). */
  add(values: readonly SqlValue[], ...tail: SqlValue[]): void {
    for (const v of values) this.pending.push(v);
    for (const v of tail) this.pending.push(v);
    if (this.pending.length === this.columns * ChunkedInsert.CHUNK) {
      this.many.run(this.pending);
      this.pending.length = 0;
    }
  }

  /** Insert what is left, a row at a time. */
  flush(): void {
    for (let i = 0; i < this.pending.length; i += this.columns) this.one.run(this.pending.slice(i, i + this.columns));
    this.pending.length = 0;
  }

  /** Forget the rows not yet inserted (the import is abandoned). */
  clear(): void {
    this.pending.length = 0;
  }
}
