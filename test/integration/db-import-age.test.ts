import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';

/**
 * What `db import` records of its sources, and when it renews the data age `scan --max-db-age` checks: only when it
 * imports again every source the database holds, so importing one feed (or one's own advisories) into a database of
 * year-old data does not make all of it read as fresh.
 */

const EXAMPLES = join(ROOT, 'examples', 'advisories');
let work: string;
/** The example GHSA records split in two directories, and the example CVE records in a third. */
let ghsaA: string;
let ghsaB: string;
let cves: string;

interface Status {
  updated: string | null;
  sources: { name: string; records: number; location: string }[];
}

async function status(db: string): Promise<Status> {
  const r = await runCli(['db', 'status', '--db', db, '-f', 'json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'db-import-age-'));
  [ghsaA, ghsaB, cves] = ['ghsa-a', 'ghsa-b', 'cves'].map((d) => join(work, d)) as [string, string, string];
  for (const d of [ghsaA, ghsaB, cves]) mkdirSync(d);
  const ghsa = readdirSync(EXAMPLES).filter((f) => f.startsWith('GHSA-'));
  for (const [i, f] of ghsa.entries()) copyFileSync(join(EXAMPLES, f), join(i < 3 ? ghsaA : ghsaB, f));
  for (const f of readdirSync(EXAMPLES).filter((f) => f.startsWith('CVE-')))
    copyFileSync(join(EXAMPLES, f), join(cves, f));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('db import: sources and the data age', () => {
  it('counts a source found under two paths once, with the records of both', async () => {
    const db = join(work, 'two-paths.db');
    const r = await runCli(['db', 'import', ghsaA, ghsaB, '--db', db, '-q']);
    expect(r.code, r.stderr).toBe(0);
    const s = await status(db);
    // Before, the second path's row replaced the first's: 4 records of 7.
    expect(s.sources).toEqual([
      expect.objectContaining({ name: 'osv/GHSA', records: 7, location: `${ghsaA}, ${ghsaB}` }),
    ]);
  });

  it('keeps the data age when some source of the database is not imported again, and renews it when all are', async () => {
    const db = join(work, 'age.db');
    expect((await runCli(['db', 'import', EXAMPLES, '--db', db, '-q'])).code).toBe(0);
    const first = await status(db);
    expect(first.sources.map((x) => x.name)).toEqual(['osv/CVE', 'osv/GHSA']);
    expect(first.updated).not.toBeNull();

    // Only the GHSA records: imported, but the CVE records are as old as they were.
    const partial = await runCli(['db', 'import', ghsaA, ghsaB, '--db', db, '-q']);
    expect(partial.code, partial.stderr).toBe(0);
    expect(partial.stderr).toContain(
      'portcullis: warning: the data age that scan --max-db-age checks is not renewed: 1 source of the database not in this import (osv/CVE)',
    );
    const after = await status(db);
    expect(after.updated).toBe(first.updated);
    expect(after.sources.find((x) => x.name === 'osv/GHSA')?.location).toBe(`${ghsaA}, ${ghsaB}`);

    // Both sources again, from two paths: renewed, and no note.
    const whole = await runCli(['db', 'import', ghsaA, ghsaB, cves, '--db', db, '-q']);
    expect(whole.code, whole.stderr).toBe(0);
    expect(whole.stderr).not.toContain('not renewed');
    const renewed = await status(db);
    expect(Date.parse(renewed.updated as string)).toBeGreaterThan(Date.parse(first.updated as string));
  });

  it('renews the data age of a --rebuild, which keeps nothing of the database it replaces', async () => {
    const db = join(work, 'rebuild.db');
    expect((await runCli(['db', 'import', EXAMPLES, '--db', db, '-q'])).code).toBe(0);
    const first = await status(db);
    const r = await runCli(['db', 'import', cves, '--db', db, '-q', '--rebuild']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('not renewed');
    const s = await status(db);
    expect(s.sources.map((x) => x.name)).toEqual(['osv/CVE']);
    expect(Date.parse(s.updated as string)).toBeGreaterThan(Date.parse(first.updated as string));
  });
});
