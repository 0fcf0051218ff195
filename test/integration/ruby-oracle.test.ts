import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { walkDirectory } from '../../src/image/dirwalk.js';
import { catalogTree, collectorsFor } from '../../src/inventory/build.js';
import { rubyCataloger } from '../../src/inventory/catalogers/ruby.js';
import type { Package } from '../../src/inventory/model.js';

function ruby(args: readonly string[], command = 'ruby'): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`${command} failed (is Debian's ruby installed? run 'npm run setup'): ${String(err)}`);
  }
}

/** `gem list --local` as `name version` pairs (a version carries its platform when not plain ruby), with defaults marked. */
function gemList(): { all: string[]; defaults: string[] } {
  const all: string[] = [];
  const defaults: string[] = [];
  for (const line of ruby(['list', '--local'], 'gem').split('\n')) {
    const m = /^(\S+) \((.*)\)$/.exec(line.trim());
    if (!m) continue;
    for (const v of (m[2] as string).split(', ')) {
      const version = v.replace(/^default: /, '');
      all.push(`${m[1]} ${version}`);
      if (v.startsWith('default: ')) defaults.push(`${m[1]} ${version}`);
    }
  }
  return { all: all.sort(), defaults: defaults.sort() };
}

const id = (p: Package) => `${p.name} ${p.version}${p.metadata?.['platform'] ? `-${p.metadata['platform']}` : ''}`;

describe("ruby cataloger against gem list (Debian's ruby and its default gems)", () => {
  it('finds every gem RubyGems lists, in every gem home it searches, with the licences RubyGems loads', async () => {
    const specDirs = ruby(['-e', 'puts Gem::Specification.dirs'])
      .split('\n')
      .filter((d) => d && existsSync(d));
    const packages: Package[] = [];
    const byFile = new Map<string, Package>();
    for (const dir of specDirs) {
      const { tree } = await walkDirectory(dirname(dir), collectorsFor([rubyCataloger]));
      const r = catalogTree(tree, [rubyCataloger]);
      expect(r.unknowns, dir).toEqual([]);
      packages.push(...r.packages);
      for (const p of r.packages) byFile.set(join(dirname(dir), p.locations[0]?.path ?? ''), p);
    }
    const oracle = gemList();
    expect(oracle.defaults.length).toBeGreaterThan(30);
    expect([...new Set(packages.map(id))].sort()).toEqual(oracle.all);
    expect([...new Set(packages.filter((p) => p.metadata?.['default']).map(id))].sort()).toEqual(oracle.defaults);
    // RubyGems itself evaluating the same gemspecs is the oracle for the licences.
    const loaded = ruby([
      '-e',
      'Gem::Specification.each { |s| puts [s.name, s.version.to_s, s.licenses.join(","), s.loaded_from].join("\\t") }',
    ]);
    let compared = 0;
    for (const line of loaded.split('\n').filter(Boolean)) {
      const [name, version, licenses, from] = line.split('\t');
      const ours = byFile.get(from ?? '');
      expect(ours, from).toBeDefined();
      expect(`${ours?.name} ${ours?.version}`).toBe(`${name} ${version}`);
      expect(ours?.licenses.join(',')).toBe(licenses);
      compared++;
    }
    expect(compared).toBeGreaterThan(30);
  });
});
