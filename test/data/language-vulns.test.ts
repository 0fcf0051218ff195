import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { LayoutWriter } from '../helpers/oci.js';
import { advisoryData, CACHE, ROOT } from '../helpers/paths.js';

const pep503 = (n: string) => n.toLowerCase().replace(/[-_.]+/g, '-');

interface NpmNode {
  version?: string;
  dependencies?: Record<string, NpmNode>;
}

/** Every installed npm package, as `npm ls --all` (the real npm) sees the project. */
function npmInstalled(dir: string): { ecosystem: string; name: string; version: string }[] {
  const tree = JSON.parse(execFileSync('npm', ['ls', '--all', '--json'], { cwd: dir, encoding: 'utf8' })) as NpmNode;
  const out = new Map<string, { ecosystem: string; name: string; version: string }>();
  const visit = (deps: Record<string, NpmNode> | undefined) => {
    for (const [name, node] of Object.entries(deps ?? {})) {
      if (node.version) out.set(`${name}@${node.version}`, { ecosystem: 'npm', name, version: node.version });
      visit(node.dependencies);
    }
  };
  visit(tree.dependencies);
  return [...out.values()];
}

/**
 * Real npm and Python packages at known-vulnerable versions (lodash 4.17.20, pip 23.0.1, setuptools 65.5.0, ...:
 * what `npm run setup` installed from the registries; 7 pairs in the data of 2026-11), packed into an image and scanned against the GHSA
 * and PyPA data. The expected (package, advisory) pairs come from an independent evaluator in Python
 * (test/fixtures/osvoracle: PyPA's `packaging` and python-semver order the versions) over the package lists that npm
 * and pip themselves give.
 */
describe('npm and Python packages against GHSA and PyPA', () => {
  it('finds exactly the advisories the data names for the installed versions', async () => {
    const data = advisoryData();
    const npmDir = join(CACHE, 'npm-fixture', 'npm');
    const py = join(CACHE, 'py-fixture');
    for (const d of [npmDir, py, join(CACHE, 'venv', 'bin', 'python')]) {
      if (!existsSync(d)) throw new Error(`${d} is missing: run 'npm run setup' first`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'lang-vulns-'));

    // The image: the npm project under /app, the venv's site-packages under /usr/local/lib.
    const stage = join(dir, 'rootfs');
    mkdirSync(join(stage, 'app'), { recursive: true });
    for (const f of ['package.json', 'package-lock.json', 'node_modules'])
      cpSync(join(npmDir, f), join(stage, 'app', f), { recursive: true });
    const site = execFileSync(
      join(py, 'bin', 'python'),
      ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
      {
        encoding: 'utf8',
      },
    ).trim();
    cpSync(site, join(stage, 'usr', 'local', 'lib', 'python3.11', 'site-packages'), { recursive: true });
    const tar = execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '-C', stage, '-cf', '-', 'app', 'usr'], {
      maxBuffer: 512 * 1024 * 1024,
    });
    const layout = join(dir, 'layout');
    const w = new LayoutWriter(layout);
    const m = w.image([tar]);
    w.index([{ ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }]);

    const db = join(dir, 'advisories.db');
    const imp = await runCli(['db', 'import', join(data, 'ghsa'), join(data, 'pypa'), '--db', db, '-q']);
    expect(imp.code, imp.stderr).toBe(0);
    const scan = await runCli(['scan', `oci:${layout}:latest`, '--db', db, '-f', 'json', '-q', '--scanners', 'vuln']);
    expect(scan.code, scan.stderr).toBe(0);
    const report = JSON.parse(scan.stdout) as {
      findings: {
        ruleId: string;
        vulnerability: { package: { name: string; version: string; type: string }; aliases: string[] };
      }[];
    };

    // The oracle, over what npm and pip say is installed.
    const pipList = JSON.parse(
      execFileSync(join(py, 'bin', 'pip'), ['list', '--format', 'json'], { encoding: 'utf8' }),
    ) as { name: string; version: string }[];
    const installed = [
      ...npmInstalled(npmDir),
      ...pipList.map((p) => ({ ecosystem: 'PyPI', name: p.name, version: p.version })),
    ];
    const oracle = spawnSync(
      join(CACHE, 'venv', 'bin', 'python'),
      [join(ROOT, 'test', 'fixtures', 'osvoracle', 'osv_oracle.py')],
      { input: JSON.stringify({ installed, dirs: [join(data, 'ghsa'), join(data, 'pypa')] }), encoding: 'utf8' },
    );
    expect(oracle.status, oracle.stderr).toBe(0);
    const expected = (
      JSON.parse(oracle.stdout) as { matches: { ecosystem: string; name: string; version: string; id: string }[] }
    ).matches;
    // The fixture was chosen to be vulnerable in both ecosystems; a quiet oracle would prove nothing.
    expect(expected.some((e) => e.ecosystem === 'npm' && e.name === 'lodash')).toBe(true);
    expect(expected.some((e) => e.ecosystem === 'PyPI' && e.name === 'pip')).toBe(true);

    const pkgKey = (type: string, name: string, version: string) =>
      `${type === 'pypi' || type === 'PyPI' ? 'PyPI' : 'npm'}/${type === 'pypi' || type === 'PyPI' ? pep503(name) : name}@${version}`;
    const findings = report.findings.filter((f) => ['npm', 'pypi'].includes(f.vulnerability.package.type));
    const idsOf = (f: (typeof findings)[number]) => new Set([f.ruleId, ...f.vulnerability.aliases]);
    const byPkg = new Map<string, Set<string>[]>();
    for (const f of findings) {
      const p = f.vulnerability.package;
      const k = pkgKey(p.type, p.name, p.version);
      byPkg.set(k, [...(byPkg.get(k) ?? []), idsOf(f)]);
    }
    // Every pair the oracle expects is reported, under its own id or as an alias of the finding.
    const missing = expected
      .filter((e) => !(byPkg.get(pkgKey(e.ecosystem, e.name, e.version)) ?? []).some((ids) => ids.has(e.id)))
      .map((e) => `${pkgKey(e.ecosystem, e.name, e.version)} ${e.id}`);
    expect(missing).toEqual([]);
    // Every finding is explained by at least one expected pair, and no advisory is reported twice for a package.
    const expectedIds = new Map<string, Set<string>>();
    for (const e of expected) {
      const k = pkgKey(e.ecosystem, e.name, e.version);
      expectedIds.set(k, (expectedIds.get(k) ?? new Set()).add(e.id));
    }
    const unexplained = findings
      .filter((f) => {
        const p = f.vulnerability.package;
        const want = expectedIds.get(pkgKey(p.type, p.name, p.version)) ?? new Set();
        return ![...idsOf(f)].some((id) => want.has(id));
      })
      .map((f) => `${f.vulnerability.package.name}@${f.vulnerability.package.version} ${f.ruleId}`);
    expect(unexplained).toEqual([]);
    for (const [k, groups] of byPkg) {
      const seen = new Set<string>();
      for (const ids of groups) {
        for (const id of ids) {
          expect(seen.has(id), `${k}: ${id} reported twice`).toBe(false);
          seen.add(id);
        }
      }
    }
  });
});
