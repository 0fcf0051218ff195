import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';

/** Everything a lookup can see, in a stable order. */
function dump(file: string): unknown {
  const db = new Database(file, { readonly: true });
  try {
    return {
      advisories: db.prepare('SELECT * FROM advisories ORDER BY source, id').all(),
      affected: db
        .prepare(
          `SELECT ecosystem, package, source, advisory_id, seq, ranges, versions, status, urgency, no_dsa, advisory
           FROM affected ORDER BY source, advisory_id, seq`,
        )
        .all(),
    };
  } finally {
    db.close();
  }
}

describe('import with reader threads', () => {
  it('builds the same database as a sequential import, later files winning for the same id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'import-workers-'));
    const data = join(dir, 'data');
    mkdirSync(data);
    const examples = join(ROOT, 'examples', 'advisories');
    const records = readdirSync(examples)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(examples, f), 'utf8')) as { id: string; summary?: string });
    // 1,000 files over several batches; five late ones restate an id of 500 files before (the later file wins).
    for (let i = 0; i < 1000; i++) {
      const r = records[i % records.length] as { id: string; summary?: string };
      const restated = i >= 500 && i % 100 === 99;
      const earlier = records[(i - 500) % records.length] as { id: string };
      const id = restated ? `${earlier.id}-n${i - 500}` : `${r.id}-n${i}`;
      writeFileSync(
        join(data, `${String(i).padStart(4, '0')}.json`),
        JSON.stringify({ ...r, id, summary: restated ? `restated by file ${i}` : r.summary }),
      );
    }
    writeFileSync(join(data, '0500-broken.json'), '{');
    const seq = join(dir, 'seq.db');
    const par = join(dir, 'par.db');
    const a = await runCli(['db', 'import', data, '--db', seq, '-q'], { PORTCULLIS_IMPORT_WORKERS: '0' });
    const b = await runCli(['db', 'import', data, '--db', par, '-q'], { PORTCULLIS_IMPORT_WORKERS: '3' });
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr.replace(/in [\d.]+ s/, '')).toBe(a.stderr.replace(/in [\d.]+ s/, '').replaceAll(seq, par));
    expect(dump(par)).toEqual(dump(seq));
    const { advisories, affected } = dump(par) as { advisories: unknown[]; affected: { advisory: string }[] };
    expect(advisories.length).toBe(995);
    const restated = new Set(
      affected
        .map((a) => JSON.parse(a.advisory))
        .filter((a) => a.summary?.startsWith('restated'))
        .map((a) => a.id),
    );
    expect(restated.size).toBe(5);

    // Imported again into both: every advisory is replaced, its older rows dropped, the same either way.
    const a2 = await runCli(['db', 'import', data, '--db', seq, '-q'], { PORTCULLIS_IMPORT_WORKERS: '0' });
    const b2 = await runCli(['db', 'import', data, '--db', par, '-q'], { PORTCULLIS_IMPORT_WORKERS: '2' });
    expect(a2.code, a2.stderr).toBe(0);
    expect(b2.code, b2.stderr).toBe(0);
    expect(dump(par)).toEqual(dump(seq));
    expect((dump(par) as { affected: unknown[] }).affected).toEqual(affected);
    expect(readdirSync(dir).sort()).toEqual(['data', 'par.db', 'seq.db']); // no shard or temporary file left

    const bad = await runCli(['db', 'import', data, '--db', par, '-q'], { PORTCULLIS_IMPORT_WORKERS: 'many' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^portcullis: USAGE: PORTCULLIS_IMPORT_WORKERS must be 0-8/);
  });
});
