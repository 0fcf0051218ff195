import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Advisory, Affected } from '../../src/advisories/model.js';
import { AdvisoryDbWriter, advisoryRows, type Cover, type ShardBatch } from '../../src/store/advisorydb.js';
import { ShardWriter } from '../../src/store/shard.js';

/** One put: an advisory (of two sources, four ids) with 0-3 affected packages in two ecosystems. */
interface Put {
  source: string;
  id: string;
  modified: string;
  packages: [ecosystem: string, name: string][];
}

const put = fc.record({
  source: fc.constantFrom('osv/GHSA', 'debian-tracker'),
  id: fc.constantFrom('A', 'B', 'C', 'D'),
  modified: fc.constantFrom('2025-01-01T00:00:00Z', '2025-06-01T00:00:00Z'),
  packages: fc.array(fc.tuple(fc.constantFrom('npm', 'Debian:12'), fc.constantFrom('p', 'q', 'r')), { maxLength: 3 }),
});
/** What `db update` drops before importing a feed: a whole source, or one ecosystem of a source family. */
const drop: fc.Arbitrary<Cover> = fc.oneof(
  fc.record({ source: fc.constantFrom('osv/GHSA', 'debian-tracker') }),
  fc.record({ sourcePrefix: fc.constantFrom('osv/', 'debian'), ecosystem: fc.constantFrom('npm', 'Debian') }),
);
/** An import: drops first (as `db update` does), its puts, and how they reach the store (here, or via shards). */
const session = fc.record({
  drops: fc.array(drop, { maxLength: 2 }),
  puts: fc.array(put, { maxLength: 12 }),
  sharded: fc.boolean(),
  shards: fc.integer({ min: 1, max: 3 }),
  batch: fc.integer({ min: 1, max: 4 }),
  seed: fc.nat(),
});

function rowsOf(p: Put) {
  const advisory: Advisory = { id: p.id, source: p.source, modified: p.modified, aliases: [], severity: [] };
  const affected: Affected[] = p.packages.map(([ecosystem, pkg]) => ({
    ecosystem,
    package: pkg,
    advisoryId: p.id,
    ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: p.modified.slice(0, 4) }] }],
    versions: [],
  }));
  return advisoryRows(advisory, affected);
}

/** Apply one import the way worker threads do: batches in order, each to some shard, then merged. */
function importSharded(writer: AdvisoryDbWriter, puts: Put[], shards: number, batch: number, seed: number): void {
  const writers = Array.from({ length: shards }, (_, i) => new ShardWriter(writer.shardPath(i), i, writer.gen));
  const batches: ShardBatch[] = [];
  for (let i = 0, b = 0; i < puts.length; i += batch, b++) {
    const shard = writers[(seed + b * 7) % shards] as ShardWriter;
    shard.startBatch();
    for (const p of puts.slice(i, i + batch)) shard.putRows(rowsOf(p));
    batches.push(shard.endBatch());
  }
  for (const w of writers) w.close();
  try {
    writer.merge(
      writers.map((w) => w.path),
      batches,
    );
  } finally {
    for (const w of writers) rmSync(w.path, { force: true });
  }
}

function dump(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    return {
      advisories: db.prepare('SELECT source, id, modified FROM advisories ORDER BY source, id').all(),
      affected: db
        .prepare('SELECT source, advisory_id, seq, ecosystem, package, ranges, advisory FROM affected ORDER BY rowid')
        .all(),
    };
  } finally {
    db.close();
  }
}

/** The store as a model: each advisory as last put, with the rows its last put gave, less dropped ones. */
class Model {
  readonly advisories = new Map<string, Put>();
  readonly rows = new Map<string, { p: Put; rows: { seq: number; ecosystem: string; name: string }[] }>();

  put(p: Put): void {
    const key = `${p.source}\0${p.id}`;
    this.advisories.set(key, p);
    if (p.packages.length > 0)
      this.rows.set(key, { p, rows: p.packages.map(([ecosystem, name], seq) => ({ seq, ecosystem, name })) });
    else this.rows.delete(key); // a put with no affected packages leaves none
  }

  drop(cover: Cover): void {
    for (const [key, a] of [...this.advisories]) {
      if ('source' in cover) {
        if (a.source === cover.source) {
          this.advisories.delete(key);
          this.rows.delete(key);
        }
        continue;
      }
      const r = this.rows.get(key);
      if (!a.source.startsWith(cover.sourcePrefix) || !r) continue;
      const hit = (e: string) => e === cover.ecosystem || e.startsWith(`${cover.ecosystem}:`);
      const left = r.rows.filter((x) => !hit(x.ecosystem));
      if (left.length === r.rows.length) continue;
      if (left.length > 0) this.rows.set(key, { p: r.p, rows: left });
      else {
        this.rows.delete(key);
        this.advisories.delete(key); // an advisory left with no rows goes with them
      }
    }
  }

  expected() {
    const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      advisories: sorted(this.advisories).map(([, p]) => ({ source: p.source, id: p.id, modified: p.modified })),
      affected: sorted(this.rows)
        .flatMap(([, r]) => r.rows.map((x) => `${r.p.source}/${r.p.id}/${x.seq}/${x.ecosystem}/${x.name}`))
        .sort(),
    };
  }
}

function check(file: string, model: Model): void {
  const got = dump(file);
  const want = model.expected();
  expect(got.advisories).toEqual(want.advisories);
  const rows = got.affected as {
    source: string;
    advisory_id: string;
    seq: number;
    ecosystem: string;
    package: string;
  }[];
  expect(rows.map((r) => `${r.source}/${r.advisory_id}/${r.seq}/${r.ecosystem}/${r.package}`).sort()).toEqual(
    want.affected,
  );
}

describe('advisory store: imports through worker shards', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shards-'));
  let run = 0;

  it('holds the same as sequential puts, and what the puts and drops say, over several imports', () => {
    fc.assert(
      fc.property(fc.array(session, { minLength: 1, maxLength: 3 }), (sessions) => {
        run++;
        const seq = join(dir, `seq-${run}.db`);
        const par = join(dir, `par-${run}.db`);
        const model = new Model();
        for (const s of sessions) {
          const a = new AdvisoryDbWriter(seq);
          const b = new AdvisoryDbWriter(par);
          for (const d of s.drops) {
            a.drop(d);
            b.drop(d);
            model.drop(d);
          }
          for (const p of s.puts) {
            a.putRows(rowsOf(p));
            model.put(p);
          }
          a.commit();
          if (s.sharded) importSharded(b, s.puts, s.shards, s.batch, s.seed);
          else for (const p of s.puts) b.putRows(rowsOf(p));
          b.commit();
        }
        expect(dump(par)).toEqual(dump(seq));
        check(par, model);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a drop after a put in the same writer (the rows of an earlier put could not be told apart)', () => {
    const w = new AdvisoryDbWriter(join(dir, 'order.db'));
    w.putRows(rowsOf({ source: 'osv/GHSA', id: 'A', modified: '2025-01-01T00:00:00Z', packages: [['npm', 'p']] }));
    expect(() => w.drop({ source: 'osv/GHSA' })).toThrow(/before the first put/);
    w.abort();
  });
});
