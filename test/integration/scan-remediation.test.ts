import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/**
 * The remediation view of `scan`: "upgrade X V to W: fixes N" must name a version that fixes each of the N
 * findings it counts, for that package alone.
 */

let work: string;

type Events = ({ introduced: string } | { fixed: string })[];

/** One OSV record for `ecosystem`/`name` with one ECOSYSTEM range of `events`. */
function osv(id: string, ecosystem: string, name: string, events: Events, severity = 'HIGH'): string {
  return JSON.stringify({
    schema_version: '1.4.0',
    id,
    modified: '2024-01-01T00:00:00Z',
    published: '2022-03-31T00:00:00Z',
    summary: `test advisory ${id}`,
    affected: [{ package: { ecosystem, name }, ranges: [{ type: 'ECOSYSTEM', events }] }],
    database_specific: { severity },
  });
}

async function importDb(records: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(work, 'adv-'));
  for (const [id, json] of Object.entries(records)) writeFileSync(join(dir, `${id}.json`), json);
  const db = join(dir, 'adv.db');
  const r = await runCli(['db', 'import', dir, '--db', db, '-q']);
  expect(r.code, r.stderr).toBe(0);
  return db;
}

function npmRoot(packages: Record<string, string>): string {
  const root = mkdtempSync(join(work, 'root-'));
  for (const [name, version] of Object.entries(packages)) {
    const dir = join(root, 'app', 'node_modules', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version }));
  }
  return root;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'scan-remediation-'));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('scan remediation view', () => {
  it('does not suggest a version inside another branch of an advisory it claims to fix', async () => {
    // GHSA-test-a: fixed in 1.2.3 on the 1.x branch, and in 2.0.5 on 2.x (2.0.0 to 2.0.4 are affected again).
    // GHSA-test-b: fixed in 2.0.1 only. 2.0.1 is affected by GHSA-test-a; 2.0.5 fixes both.
    const db = await importDb({
      'GHSA-test-a': osv('GHSA-test-a', 'npm', 'widget', [
        { introduced: '0' },
        { fixed: '1.2.3' },
        { introduced: '2.0.0' },
        { fixed: '2.0.5' },
      ]),
      'GHSA-test-b': osv('GHSA-test-b', 'npm', 'widget', [{ introduced: '0' }, { fixed: '2.0.1' }], 'CRITICAL'),
    });
    const root = npmRoot({ widget: '1.0.0' });
    const r = await runCli(['scan', '--db', db, '-q', `dir:${root}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/GHSA-test-a/);
    expect(r.stdout).toMatch(/GHSA-test-b/);
    expect(r.stdout).not.toMatch(/upgrade widget 1\.0\.0 to 2\.0\.1: fixes 2/);
    expect(r.stdout).toMatch(/upgrade widget 1\.0\.0 to 2\.0\.5: fixes 2 \(1 critical, 1 high\)/);
  });

  it('keeps packages of two ecosystems that share a name and version apart', async () => {
    // npm widget 1.0.0 is fixed in 1.0.1; PyPI widget 1.0.0 in 3.0.0: two upgrades, one finding each.
    const db = await importDb({
      'GHSA-test-npm': osv('GHSA-test-npm', 'npm', 'widget', [{ introduced: '0' }, { fixed: '1.0.1' }], 'CRITICAL'),
      'PYSEC-test-py': osv('PYSEC-test-py', 'PyPI', 'widget', [{ introduced: '0' }, { fixed: '3.0.0' }]),
    });
    const root = npmRoot({ widget: '1.0.0' });
    const dist = join(root, 'usr', 'lib', 'python3', 'site-packages', 'widget-1.0.0.dist-info');
    mkdirSync(dist, { recursive: true });
    writeFileSync(join(dist, 'METADATA'), 'Metadata-Version: 2.1\nName: widget\nVersion: 1.0.0\n\n');
    const r = await runCli(['scan', '--db', db, '-q', `dir:${root}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/GHSA-test-npm/);
    expect(r.stdout).toMatch(/PYSEC-test-py/);
    const lines = r.stdout.split('\n').filter((l) => l.includes('upgrade widget'));
    expect(lines.map((l) => l.trim()).sort()).toEqual([
      'upgrade widget 1.0.0 to 1.0.1: fixes 1 (1 critical)',
      'upgrade widget 1.0.0 to 3.0.0: fixes 1 (1 high)',
    ]);
  });

  it("finds the version that fixes all when a branch's fix is in another affected entry of the advisory", async () => {
    // As GHSA writes an advisory fixed on two branches: one affected entry per branch. 1.0.0 is in the first only,
    // so its finding names 1.2.3; GHSA-test-d is fixed in 2.0.1 only, which the second entry covers. 2.0.5 fixes both.
    const db = await importDb({
      'GHSA-test-c': JSON.stringify({
        schema_version: '1.4.0',
        id: 'GHSA-test-c',
        modified: '2024-01-01T00:00:00Z',
        summary: 'test advisory GHSA-test-c',
        affected: [
          {
            package: { ecosystem: 'npm', name: 'widget' },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.2.3' }] }],
          },
          {
            package: { ecosystem: 'npm', name: 'widget' },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '2.0.0' }, { fixed: '2.0.5' }] }],
          },
        ],
        database_specific: { severity: 'HIGH' },
      }),
      'GHSA-test-d': osv('GHSA-test-d', 'npm', 'widget', [{ introduced: '0' }, { fixed: '2.0.1' }], 'CRITICAL'),
    });
    const root = npmRoot({ widget: '1.0.0' });
    const r = await runCli(['scan', '--db', db, '-q', `dir:${root}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/GHSA-test-c/);
    expect(r.stdout).toMatch(/GHSA-test-d/);
    const lines = r.stdout.split('\n').filter((l) => l.includes('upgrade widget'));
    expect(lines.map((l) => l.trim())).toEqual(['upgrade widget 1.0.0 to 2.0.5: fixes 2 (1 critical, 1 high)']);
  });
});
