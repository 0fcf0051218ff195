import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { walkDirectory } from '../../src/image/dirwalk.js';
import { catalogTree, collectorsFor } from '../../src/inventory/build.js';
import { npmCataloger } from '../../src/inventory/catalogers/npm.js';
import type { Package } from '../../src/inventory/model.js';
import { CACHE } from '../helpers/paths.js';

/** The projects `scripts/setup-test-env.sh` installed from the npm registry with npm, yarn 1, yarn 4 and pnpm 9. */
function fixture(): string {
  const dir = join(CACHE, 'npm-fixture');
  if (!existsSync(join(dir, '.complete'))) {
    throw new Error(`${dir} is missing: run 'npm run setup' first (it installs real npm packages once)`);
  }
  return dir;
}

async function catalog(dir: string) {
  const { tree } = await walkDirectory(dir, collectorsFor([npmCataloger]));
  return catalogTree(tree, [npmCataloger]);
}

/** A copy of a project's manifest and lockfile alone: a bundled app without node_modules. */
function bundled(from: string, files: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'npm-bundle-'));
  for (const f of files) copyFileSync(join(from, f), join(dir, f));
  return dir;
}

const nameVersions = (ps: readonly Package[]) => [...new Set(ps.map((p) => `${p.name}@${p.version}`))].sort();

interface LsNode {
  name?: string;
  from?: string;
  version?: string;
  path?: string;
  license?: unknown;
  missing?: boolean;
  dependencies?: Record<string, LsNode>;
}

/** Every node of an `npm ls` / `pnpm ls` JSON tree below the root, deduplicated by install path. */
function flatten(root: LsNode): Map<string, LsNode & { key: string }> {
  const out = new Map<string, LsNode & { key: string }>();
  const stack: [string, LsNode][] = Object.entries(root.dependencies ?? {});
  while (stack.length > 0) {
    const [key, node] = stack.pop() as [string, LsNode];
    // A package met again ("deduped") may be listed without its own dependencies: walk every sighting.
    stack.push(...Object.entries(node.dependencies ?? {}));
    if (node.missing || !node.path || out.has(node.path)) continue;
    out.set(node.path, { ...node, key });
  }
  return out;
}

function npmLs(cwd: string, args: readonly string[]): LsNode {
  return JSON.parse(
    execFileSync('npm', ['ls', '--all', '--json', '--long', ...args], {
      cwd,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    }),
  ) as LsNode;
}

describe('npm cataloger against npm ls (real npm install of express@4, @babel/code-frame, lodash)', () => {
  it('finds exactly the installed packages npm ls lists, path by path, with the same licences', async () => {
    const project = join(fixture(), 'npm');
    const oracle = flatten(npmLs(project, []));
    const { packages, unknowns } = await catalog(project);
    expect(unknowns).toEqual([]);
    const ours = new Map(
      packages.map((p) => [join(project, (p.locations[0]?.path ?? '').replace(/\/package\.json$/, '')), p]),
    );
    // The fixture must show what it is for: nested copies of one package at different versions.
    const versionsOfName = new Map<string, Set<string>>();
    for (const n of oracle.values())
      versionsOfName.set(n.key, (versionsOfName.get(n.key) ?? new Set()).add(`${n.version}`));
    expect([...versionsOfName.values()].some((v) => v.size > 1)).toBe(true);
    expect(oracle.size).toBeGreaterThan(60);
    expect([...ours.keys()].sort()).toEqual([...oracle.keys()].sort());
    for (const [path, node] of oracle) {
      const p = ours.get(path) as Package;
      expect(`${p.name}@${p.version}`).toBe(`${node.name}@${node.version}`);
      expect(p.metadata?.['evidence']).toBe('installed');
      if (typeof node.license === 'string') expect(p.licenses).toEqual([node.license]);
    }
  });

  it('reads the lockfile of a bundled app as npm ls --package-lock-only --omit=dev does, in v1, v2 and v3 form', async () => {
    const src = join(fixture(), 'npm');
    const dir = bundled(src, ['package.json', 'package-lock.json']);
    const withDev = new Set(
      [...flatten(npmLs(dir, ['--package-lock-only'])).values()].map((n) => `${n.name}@${n.version}`),
    );
    const oracle = [
      ...new Set(
        [...flatten(npmLs(dir, ['--package-lock-only', '--omit=dev'])).values()].map((n) => `${n.name}@${n.version}`),
      ),
    ].sort();
    expect(withDev.size).toBeGreaterThan(oracle.length); // the fixture has dev-only packages to leave out
    const lock = JSON.parse(readFileSync(join(src, 'package-lock.json'), 'utf8'));
    expect(lock.lockfileVersion).toBe(2); // v2 carries both the v3 packages map and the v1 dependencies tree
    const { packages, ...rest } = lock;
    const forms = {
      v2: lock,
      v1: { ...rest, lockfileVersion: 1 },
      v3: { ...lock, lockfileVersion: 3, dependencies: undefined },
    };
    for (const [form, doc] of Object.entries(forms)) {
      writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(doc));
      const { packages: found, unknowns } = await catalog(dir);
      expect(unknowns, form).toEqual([]);
      expect(found.every((p) => p.metadata?.['evidence'] === 'lockfile')).toBe(true);
      expect(nameVersions(found), form).toEqual(oracle);
    }
  });
});

describe('npm cataloger on yarn and pnpm projects (real yarn 1, yarn 4 and pnpm 9 installs)', () => {
  it('yarn 1: the production packages of yarn.lock are those `yarn list --production` lists', async () => {
    const root = fixture();
    interface YarnTree {
      name: string;
      shadow?: boolean;
      children?: YarnTree[];
    }
    const list = readFileSync(join(root, 'yarn-classic.list.json'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; data: { trees: YarnTree[] } })
      .find((l) => l.type === 'tree');
    const oracle = new Set<string>();
    const stack = [...(list?.data.trees ?? [])];
    while (stack.length > 0) {
      const t = stack.pop() as YarnTree;
      if (!t.shadow) oracle.add(t.name);
      stack.push(...(t.children ?? []));
    }
    expect(oracle.size).toBeGreaterThan(60);
    const { packages, unknowns } = await catalog(join(root, 'yarn-classic'));
    expect(unknowns).toEqual([]);
    expect(nameVersions(packages)).toEqual([...oracle].sort());
  });

  it('yarn 4: the production packages of yarn.lock are those `yarn workspaces focus --production` installed', async () => {
    const root = fixture();
    const state = parseYaml(readFileSync(join(root, 'yarn-berry.state.yml'), 'utf8')) as Record<string, unknown>;
    const oracle = Object.keys(state)
      .filter((k) => k !== '__metadata' && !k.includes('@workspace:'))
      .map((k) => k.replace(/@(virtual:[^#]*#)?npm:/, '@'))
      .sort();
    expect(oracle.length).toBeGreaterThan(60);
    const { packages, unknowns } = await catalog(join(root, 'yarn-berry'));
    expect(unknowns).toEqual([]);
    expect(nameVersions(packages)).toEqual(oracle);
  });

  it('pnpm 9: the installed virtual store and the lockfile both match `pnpm ls --prod`', async () => {
    const root = fixture();
    const ls = JSON.parse(readFileSync(join(root, 'pnpm.ls.json'), 'utf8')) as LsNode[];
    const top = ls[0] as LsNode;
    const oracle = flatten(top);
    expect(oracle.size).toBeGreaterThan(60);
    const project = join(root, 'pnpm');
    const installed = await catalog(project);
    expect(installed.unknowns).toEqual([]);
    const ours = installed.packages.map(
      (p) => `${(p.locations[0]?.path ?? '').replace(/\/package\.json$/, '')} ${p.name}@${p.version}`,
    );
    const theirs = [...oracle.values()].map(
      (n) => `${relative(top.path as string, n.path as string)} ${n.from}@${n.version}`,
    );
    expect(ours.sort()).toEqual(theirs.sort());
    expect(installed.packages.every((p) => p.metadata?.['evidence'] === 'installed')).toBe(true);
    const lockOnly = await catalog(bundled(project, ['package.json', 'pnpm-lock.yaml']));
    expect(lockOnly.unknowns).toEqual([]);
    expect(nameVersions(lockOnly.packages)).toEqual(
      [...new Set([...oracle.values()].map((n) => `${n.from}@${n.version}`))].sort(),
    );
  });
});
