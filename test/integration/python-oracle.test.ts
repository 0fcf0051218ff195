import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { walkDirectory } from '../../src/image/dirwalk.js';
import { catalogTree, collectorsFor } from '../../src/inventory/build.js';
import { normalizePypiName, pythonCataloger } from '../../src/inventory/catalogers/python.js';
import { CACHE } from '../helpers/paths.js';

/** The venv `scripts/setup-test-env.sh` filled from PyPI: wheels (dist-info) and one legacy sdist install (egg-info). */
function venv(): string {
  const dir = join(CACHE, 'py-fixture');
  if (!existsSync(join(dir, '.complete'))) {
    throw new Error(`${dir} is missing: run 'npm run setup' first (it pip-installs real packages once)`);
  }
  return dir;
}

/** `pip list` as `normalised-name==version` lines, pip being the oracle. */
function pipList(args: readonly string[]): string[] {
  const out = execFileSync(
    join(venv(), 'bin', 'pip'),
    ['list', '--format', 'json', '--disable-pip-version-check', ...args],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  return (JSON.parse(out) as { name: string; version: string }[])
    .map((d) => `${normalizePypiName(d.name)}==${d.version}`)
    .sort();
}

async function catalog(root: string) {
  const { tree } = await walkDirectory(root, collectorsFor([pythonCataloger]));
  return catalogTree(tree, [pythonCataloger]);
}

describe('python cataloger against pip list', () => {
  it('finds what pip lists in a real venv (requests, urllib3 and an egg-info install of an sdist)', async () => {
    const root = venv();
    const oracle = pipList([]);
    expect(oracle.some((l) => l.startsWith('requests=='))).toBe(true);
    const { packages, unknowns } = await catalog(root);
    expect(unknowns).toEqual([]);
    expect(packages.map((p) => `${normalizePypiName(p.name)}==${p.version}`).sort()).toEqual(oracle);
    // Both metadata formats must really be there for the comparison to mean something.
    expect(new Set(packages.map((p) => p.metadata?.['format']))).toEqual(new Set(['dist-info', 'egg-info']));
    // The purl spec's pypi name: lower case, `_` as `-` (dots kept; PEP 503 is for matching).
    for (const p of packages) expect(p.purl).toBe(`pkg:pypi/${p.name.toLowerCase().replace(/_/g, '-')}@${p.version}`);
    expect(packages.find((p) => p.name === 'requests')?.licenses).toEqual(['Apache-2.0']);
  });

  it("finds what pip lists in this machine's Debian dist-packages", async () => {
    const dist = '/usr/lib/python3/dist-packages';
    const oracle = pipList(['--path', dist]);
    expect(oracle.length).toBeGreaterThan(5);
    // Debian ships both forms here (python3-cryptography even has both for one name).
    const entries = readdirSync(dist);
    expect(entries.some((e) => e.endsWith('.egg-info')) && entries.some((e) => e.endsWith('.dist-info'))).toBe(true);
    const { packages, unknowns } = await catalog('/usr/lib/python3');
    expect(unknowns).toEqual([]);
    expect(packages.map((p) => `${normalizePypiName(p.name)}==${p.version}`).sort()).toEqual(oracle);
  });
});
