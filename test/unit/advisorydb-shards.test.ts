import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Advisory, Affected } from '../../src/advisories/model.js';
import { AdvisoryDbWriter, advisoryRows, type ShardBatch } from '../../src/store/advisorydb.js';
import { ShardWriter } from '../../src/store/shard.js';

/** One put: an advisory (of two sources, four ids) with 0-3 affected packages. */
interface Put {
  source: string;
  id: string;
  modified: string;
  packages: string[];
}

const put = fc.record({
  source: fc.constantFrom('osv/GHSA', 'debian-tracker'),
  id: fc.constantFrom('A', 'B', 'C', 'D'),
  modified: fc.constantFrom('2025-01-01T00:00:00Z', '2025-06-01T00:00:00Z'),
  packages: fc.array(fc.constantFrom('p', 'q', 'r', 's'), { maxLength: 3 }),
});
/** An import: its puts, and how they reach the store (`put` here, or shards of 1-3 workers in batches). */
const session = fc.record({
  puts: fc.array(put, { maxLength: 12 }),
  sharded: fc.boolean(),
  shards: fc.integer({ min: 1, max: 3 }),
  batch: fc.integer({ min: 1, max: 4 }),
  seed: fc.nat(),
});

function rowsOf(p: Put) {
  const advisory: Advisory = { id: p.id, source: p.source, modified: p.modified, aliases: [], severity: [] };
  const affected: Affected[] = p.packages.map((pkg) => ({
    ecosystem: 'npm',
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
        .prepare('SELECT source, advisory_id, seq, package, ranges, advisory FROM affected ORDER BY rowid')
        .all(),
    };
  } finally {
    db.close();
  }
}

/**
 * What the store must hold: each advisory as last put, with the affected rows of its newest put that had any (a put
 * with none leaves the earlier rows: the store has no row to date the replacement by).
 */
function model(sessions: Put[][]) {
  const advisories = new Map<string, Put>();
  const rows = new Map<string, Put>();
  for (const s of sessions) {
    for (const p of s) {
      const key = `${p.source}\0${p.id}`;
      advisories.set(key, p);
      if (p.packages.length > 0) rows.set(key, p);
    }
  }
  const sorted = (m: Map<string, Put>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    advisories: sorted(advisories).map(([, p]) => ({ source: p.source, id: p.id, modified: p.modified })),
    affected: sorted(rows).flatMap(([, p]) => p.packages.map((pkg, seq) => `${p.source}/${p.id}/${seq}/${pkg}`)),
  };
}

describe('advisory store: imports through worker shards', () => {
  it('holds the same as sequential puts, and what the puts say, over several imports', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shards-'));
    let run = 0;
    fc.assert(
      fc.property(fc.array(session, { minLength: 1, maxLength: 3 }), (sessions) => {
        run++;
        const seq = join(dir, `seq-${run}.db`);
        const par = join(dir, `par-${run}.db`);
        for (const s of sessions) {
          const a = new AdvisoryDbWriter(seq);
          for (const p of s.puts) a.putRows(rowsOf(p));
          a.commit();
          const b = new AdvisoryDbWriter(par);
          if (s.sharded) importSharded(b, s.puts, s.shards, s.batch, s.seed);
          else for (const p of s.puts) b.putRows(rowsOf(p));
          b.commit();
        }
        const got = dump(par);
        expect(got).toEqual(dump(seq));
        const want = model(sessions.map((s) => s.puts));
        expect(got.advisories).toEqual(want.advisories);
        const affected = (got.affected as { source: string; advisory_id: string; seq: number; package: string }[])
          .map((r) => `${r.source}/${r.advisory_id}/${r.seq}/${r.package}`)
          .sort();
        expect(affected).toEqual([...want.affected].sort());
      }),
      { numRuns: 150 },
    );
  });
});
