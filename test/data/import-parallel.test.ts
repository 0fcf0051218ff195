import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { advisoryData, ROOT } from '../helpers/paths.js';

/** A digest of every row of both tables (affected in rowid order: the order later puts win by), with the counts. */
function digestOf(file: string): { advisories: number; affected: number; sources: unknown[]; digest: string } {
  const db = new Database(file, { readonly: true });
  try {
    const h = createHash('sha256');
    const count = { advisories: 0, affected: 0 };
    for (const r of db.prepare('SELECT * FROM advisories ORDER BY source, id').raw().iterate()) {
      h.update(`${JSON.stringify(r)}\n`);
      count.advisories++;
    }
    for (const r of db.prepare('SELECT rowid, * FROM affected ORDER BY rowid').raw().iterate()) {
      h.update(`${JSON.stringify(r)}\n`);
      count.affected++;
    }
    // Per-source counts and newest dates, which the threads' statistics are added into (not when or from where).
    const sources = db.prepare('SELECT name, records, newest_modified FROM sources ORDER BY name').all();
    return { ...count, sources, digest: h.digest('hex') };
  } finally {
    db.close();
  }
}

describe('import of the whole advisory data set', () => {
  it('builds the same store with worker threads as on one thread, row for row, and leaves no shard behind', async () => {
    const data = advisoryData();
    // Without the worker bundle the import runs on one thread whatever it is told, and this test would compare
    // one thread with itself.
    expect(existsSync(join(ROOT, 'dist', 'import-worker.mjs'))).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'import-parallel-'));
    try {
      const one = join(dir, 'one.db');
      const par = join(dir, 'par.db');
      const a = await runCli(['db', 'import', data, '--db', one, '-q'], { PORTCULLIS_IMPORT_WORKERS: '0' });
      expect(a.code, a.stderr).toBe(0);
      // Two workers beside the importing thread, whatever this machine's core count: among 45k files each thread
      // takes many batches, so the shards and their merge are exercised.
      const b = await runCli(['db', 'import', data, '--db', par, '-q'], { PORTCULLIS_IMPORT_WORKERS: '2' });
      expect(b.code, b.stderr).toBe(0);
      expect(b.stderr.replace(/in [\d.]+ s/, '').replaceAll(par, one)).toBe(a.stderr.replace(/in [\d.]+ s/, ''));
      const want = digestOf(one);
      expect(want.advisories).toBeGreaterThan(90_000);
      expect(want.sources.length).toBeGreaterThan(5);
      expect(digestOf(par)).toEqual(want);
      expect(readdirSync(dir).sort()).toEqual(['one.db', 'par.db']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
