import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDebianTracker } from '../../src/advisories/debian.js';
import { type AdvisoryLookup, matchInventory, targetOf, ubuntuEcosystem } from '../../src/advisories/match.js';
import type { Advisory, Affected } from '../../src/advisories/model.js';
import { parseOsv } from '../../src/advisories/osv.js';
import { severityOf } from '../../src/advisories/severity.js';
import { SCHEME_CHOOSER } from '../../src/advisories/versions/index.js';
import { mavenPackage } from '../../src/inventory/catalogers/java.js';
import { type Inventory, inventoryImage } from '../../src/inventory/image.js';
import type { Package } from '../../src/inventory/model.js';
import { openOciLayout } from '../../src/oci/layout.js';
import { resolveImages } from '../../src/oci/source.js';
import { AdvisoryDb } from '../../src/store/advisorydb.js';
import { exampleDb } from '../helpers/gate.js';
import { EXAMPLE } from '../helpers/paths.js';

let db: AdvisoryDb;
let example: Inventory;
/** Real packages (the example image's, and npm packages its advisories name), each with versions to try. */
let pool: { pkg: Package; versions: string[] }[];

beforeAll(async () => {
  const path = await exampleDb(mkdtempSync(join(tmpdir(), 'match-grouping-')));
  db = AdvisoryDb.open(path);
  const source = openOciLayout(EXAMPLE, 'latest');
  try {
    const [image] = await resolveImages(source);
    if (!image) throw new Error('the example layout holds no image');
    example = await inventoryImage(image);
  } finally {
    await source.close();
  }
  const named = (ecosystem: string, name: string): string[] =>
    db
      .affected(ecosystem, name)
      .flatMap((r) => [...r.versions, ...r.ranges.flatMap((x) => x.events.map((e) => Object.values(e)[0] as string))])
      .filter((v) => v !== '0');
  pool = example.packages.map((pkg) => {
    const t = targetOf(pkg, example.os);
    return { pkg, versions: [pkg.version, ...(t ? named(t.ecosystem, t.name) : []), '~not a version~'] };
  });
  const raw = new Database(path, { readonly: true });
  const npm = raw.prepare("SELECT DISTINCT package FROM affected WHERE ecosystem = 'npm' ORDER BY 1").pluck().all();
  raw.close();
  for (const name of npm as string[]) {
    const versions = named('npm', name);
    pool.push({
      pkg: testPackage(
        { name, version: '1.0.0', type: 'npm', purl: `pkg:npm/${encodeURIComponent(name)}@1.0.0` },
        `app/node_modules/${name}/package.json`,
      ),
      versions: [...versions, '1.0.0', '~not a version~'],
    });
  }
  // Packages with advisories at several versions: what reading a package's rows once for all its versions is about.
  expect(pool.filter((p) => p.versions.length > 3).length).toBeGreaterThan(5);
});

afterAll(() => db?.close());

/** A package found at one path of layer 0. */
function testPackage(p: Pick<Package, 'name' | 'version' | 'type' | 'purl' | 'metadata'>, path: string): Package {
  return { ...p, licenses: [], locations: [{ path, layer: 0 }], layer: 0, foundBy: 'test' };
}

/** The store, counting the reads of each (ecosystem, package). */
function counting(): AdvisoryLookup & { reads: Map<string, number> } {
  const reads = new Map<string, number>();
  return {
    reads,
    affected(ecosystem, pkg) {
      const k = `${ecosystem}\0${pkg}`;
      reads.set(k, (reads.get(k) ?? 0) + 1);
      return db.affected(ecosystem, pkg);
    },
  };
}

/** Images holding copies of the same packages at other versions (and at the same one), as node_modules trees do. */
const inventories = (): fc.Arbitrary<Inventory> =>
  fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 30 }).map((picks) => ({
    ...example,
    packages: picks.map(([a, b]) => {
      // Few packages, many versions: most images here hold one package more than once.
      const { pkg, versions } = pool[a % Math.min(pool.length, 12)] as (typeof pool)[number];
      const version = versions[b % versions.length] as string;
      const purl = `${pkg.purl.slice(0, pkg.purl.lastIndexOf('@'))}@${encodeURIComponent(version)}`;
      const source = pkg.source ? { source: { ...pkg.source, version } } : {};
      return { ...pkg, version, purl, ...source };
    }),
  }));

describe('matchInventory reads each (ecosystem, package) once for all its versions', () => {
  it('gives what matching each package on its own gives, in package order (fast-check)', () => {
    fc.assert(
      fc.property(inventories(), (inv) => {
        const lookup = counting();
        const together = matchInventory(inv, lookup, SCHEME_CHOOSER, severityOf);
        const alone = inv.packages.map((p) =>
          matchInventory({ ...inv, packages: [p] }, db, SCHEME_CHOOSER, severityOf),
        );
        expect(together).toStrictEqual({
          findings: alone.flatMap((r) => r.findings),
          problems: alone.flatMap((r) => r.problems),
          gaps: alone.flatMap((r) => r.gaps),
          matched: alone.reduce((n, r) => n + r.matched, 0),
        });
        // One read per (ecosystem, package) that has a readable installed version, and none for the others.
        const wanted = new Set<string>();
        for (const p of inv.packages) {
          const t = targetOf(p, inv.os);
          if (t && SCHEME_CHOOSER.forEcosystem(t.ecosystem).valid(t.version)) wanted.add(`${t.ecosystem}\0${t.name}`);
        }
        expect([...lookup.reads.keys()].sort()).toEqual([...wanted].sort());
        expect([...lookup.reads.values()].every((n) => n === 1)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('finds the example image vulnerable, and a package at two versions gets the findings of each', () => {
    const base = matchInventory(example, db, SCHEME_CHOOSER, severityOf);
    expect(base.findings.length).toBeGreaterThan(0);
    const withFindings = example.packages.find((p) =>
      base.findings.some((f) => f.vulnerability?.package.purl === p.purl),
    );
    if (!withFindings) throw new Error('no package of the example image has findings');
    const t = targetOf(withFindings, example.os);
    if (!t) throw new Error('no target');
    // A second copy at a version the advisories fix: fewer findings for it than for the installed one.
    const fixes = base.findings
      .filter((f) => f.vulnerability?.package.purl === withFindings.purl)
      .flatMap((f) => f.vulnerability?.fixedVersions ?? []);
    const fixedAt = fixes.sort((a, b) => SCHEME_CHOOSER.forEcosystem(t.ecosystem).compare(b, a))[0];
    if (!fixedAt) throw new Error('the example findings name no fixed version');
    const upgraded = {
      ...withFindings,
      version: fixedAt,
      purl: `${withFindings.purl.slice(0, withFindings.purl.lastIndexOf('@'))}@${encodeURIComponent(fixedAt)}`,
      ...(withFindings.source ? { source: { ...withFindings.source, version: fixedAt } } : {}),
    };
    const inv = { ...example, packages: [withFindings, upgraded] };
    const lookup = counting();
    const both = matchInventory(inv, lookup, SCHEME_CHOOSER, severityOf);
    const count = (purl: string) => both.findings.filter((f) => f.vulnerability?.package.purl === purl).length;
    expect(count(withFindings.purl)).toBe(
      base.findings.filter((f) => f.vulnerability?.package.purl === withFindings.purl).length,
    );
    expect(count(upgraded.purl)).toBeLessThan(count(withFindings.purl));
    expect([...lookup.reads.values()]).toEqual([1]);
  });
});

describe('merged facts do not depend on the order the store returns rows in', () => {
  const pkg = testPackage(
    {
      name: 'tar',
      version: '1.34+dfsg-1.2',
      type: 'deb',
      purl: 'pkg:deb/debian/tar@1.34%2Bdfsg-1.2?distro=debian-12',
      metadata: { source: 'tar' },
    },
    'var/lib/dpkg/status',
  );
  const row = (id: string, aliases: string[], urgency: string, published: string, summary: string) => ({
    ecosystem: 'Debian:12',
    package: 'tar',
    advisoryId: id,
    ranges: [{ type: 'ECOSYSTEM' as const, events: [{ introduced: '0' }] }],
    versions: [],
    status: 'open' as const,
    urgency,
    advisory: {
      id,
      source: id.startsWith('DLA') ? 'osv/DLA' : 'debian-tracker',
      modified: published,
      published,
      aliases,
      summary,
      severity: [],
    },
  });
  // The tracker calls it unimportant; a DLA aliasing it says medium, and was published later.
  const rows = [
    row('CVE-2005-2541', [], 'unimportant', '2005-08-10T00:00:00Z', 'tar setuid archives'),
    row('DLA-9999-1', ['CVE-2005-2541'], 'medium', '2024-01-01T00:00:00Z', 'tar security update'),
  ];
  const inv = (): Inventory => ({
    ...example,
    os: { id: 'debian', versionId: '12' } as Inventory['os'],
    packages: [pkg],
  });
  const facts = (order: typeof rows) => {
    const found = matchInventory(inv(), { affected: () => order }, SCHEME_CHOOSER, severityOf).findings;
    expect(found).toHaveLength(1);
    return found[0]?.vulnerability;
  };

  it('takes the gravest urgency and the earliest publication, the same either way', () => {
    const forward = facts(rows);
    expect(facts([...rows].reverse())).toEqual(forward);
    expect(forward).toMatchObject({ urgency: 'medium', published: '2005-08-10T00:00:00Z' });
  });

  it('reads an urgency named like an Object property as text, not as a rank or a severity', () => {
    const entry = { ecosystem: 'Debian:12', package: 'tar', advisoryId: 'CVE-1', ranges: [], versions: [] };
    const advisory = { id: 'CVE-1', source: 'debian-tracker', modified: 'm', aliases: [], severity: [] };
    for (const urgency of ['constructor', 'toString', '__proto__', 'hasOwnProperty'])
      expect(severityOf(advisory, { ...entry, urgency })).toEqual({ severity: 'unknown' });
  });
});

describe('an advisory covering several CVEs that have records of their own', () => {
  const pkg = testPackage(
    { name: 'left-pad', version: '1.0.0', type: 'npm', purl: 'pkg:npm/left-pad@1.0.0' },
    'app/node_modules/left-pad/package.json',
  );
  const row = (id: string, aliases: string[], fixed: string) => ({
    ecosystem: 'npm',
    package: 'left-pad',
    advisoryId: id,
    ranges: [{ type: 'SEMVER' as const, events: [{ introduced: '0' }, { fixed }] }],
    versions: [],
    advisory: { id, source: `osv/${id.split('-')[0]}`, modified: '2024-01-01T00:00:00Z', aliases, severity: [] },
  });
  const found = (rows: ReturnType<typeof row>[], version = '1.0.0') =>
    matchInventory(
      { ...example, packages: [{ ...pkg, version, purl: `pkg:npm/left-pad@${version}` }] },
      { affected: () => rows },
      SCHEME_CHOOSER,
      severityOf,
    ).findings.map((f) => ({ id: f.ruleId, aliases: f.vulnerability?.aliases, fixed: f.vulnerability?.fixedVersions }));

  it('reports each CVE on its own, with its own fixes, the covering advisory an alias of each', () => {
    const rows = [
      row('PYSEC-2024-1', ['CVE-2024-0001'], '2.0.0'),
      row('PYSEC-2024-2', ['CVE-2024-0002'], '3.0.0'),
      row('GHSA-aaaa-bbbb-cccc', ['CVE-2024-0001', 'CVE-2024-0002'], '3.0.0'),
      row('OSV-2024-9', ['GHSA-aaaa-bbbb-cccc'], '3.0.0'), // names no CVE: part of each
    ];
    const expected = [
      {
        id: 'CVE-2024-0001',
        aliases: ['GHSA-aaaa-bbbb-cccc', 'OSV-2024-9', 'PYSEC-2024-1'],
        fixed: ['2.0.0', '3.0.0'],
      },
      { id: 'CVE-2024-0002', aliases: ['GHSA-aaaa-bbbb-cccc', 'OSV-2024-9', 'PYSEC-2024-2'], fixed: ['3.0.0'] },
    ];
    expect(found(rows)).toEqual(expected);
    expect(found([...rows].reverse())).toEqual(expected);
  });

  it('reports no CVE whose own record says the installed version is fixed, whatever the covering advisory says', () => {
    const rows = [
      row('PYSEC-2024-1', ['CVE-2024-0001'], '2.0.0'),
      row('PYSEC-2024-2', ['CVE-2024-0002'], '3.0.0'),
      row('GHSA-aaaa-bbbb-cccc', ['CVE-2024-0001', 'CVE-2024-0002'], '3.0.0'),
    ];
    // At 2.5.0 CVE-2024-0001 is fixed by its own record: the finding is CVE-2024-0002's, and an exception for
    // CVE-2024-0001 (matched against the id and the aliases) cannot reach it.
    const expected = [{ id: 'CVE-2024-0002', aliases: ['GHSA-aaaa-bbbb-cccc', 'PYSEC-2024-2'], fixed: ['3.0.0'] }];
    expect(found(rows, '2.5.0')).toEqual(expected);
    expect(found([...rows].reverse(), '2.5.0')).toEqual(expected);
    // Both fixed by their own records: the covering advisory alone still says affected, under its own id.
    const both = [
      row('PYSEC-2024-2', ['CVE-2024-0002'], '2.4.0'),
      ...rows.filter((r) => r.advisoryId !== 'PYSEC-2024-2'),
    ];
    expect(found(both, '2.5.0')).toEqual([{ id: 'GHSA-aaaa-bbbb-cccc', aliases: [], fixed: ['3.0.0'] }]);
  });

  it('clears a CVE only by an own record that was read, and names the rest the same whatever the row order', () => {
    const gitOnly = {
      ...row('PYSEC-2024-1', ['CVE-2024-0001'], '2.0.0'),
      ranges: [{ type: 'GIT' as const, events: [{ introduced: '0' }, { fixed: 'abc123' }] }],
    };
    const rows = [
      gitOnly,
      row('PYSEC-2024-2', ['CVE-2024-0002'], '3.0.0'),
      row('GHSA-aaaa-bbbb-cccc', ['CVE-2024-0001', 'CVE-2024-0002'], '3.0.0'),
    ];
    // A GIT-only record says nothing of the installed version: CVE-2024-0001 stays, as the covering advisory says.
    expect(found(rows as ReturnType<typeof row>[])).toEqual([
      { id: 'CVE-2024-0002', aliases: ['CVE-2024-0001', 'GHSA-aaaa-bbbb-cccc', 'PYSEC-2024-2'], fixed: ['3.0.0'] },
    ]);
    // Every CVE cleared by its own record: the smallest id left names the finding, in any order.
    const cleared = [
      row('PYSEC-2024-1', ['CVE-2024-0001'], '2.0.0'),
      row('PYSEC-2024-2', ['CVE-2024-0002'], '2.4.0'),
      row('GHSA-aaaa-bbbb-cccc', ['CVE-2024-0001', 'CVE-2024-0002'], '3.0.0'),
      row('OSV-2024-9', ['GHSA-aaaa-bbbb-cccc'], '3.0.0'),
    ];
    const expected = [{ id: 'GHSA-aaaa-bbbb-cccc', aliases: ['OSV-2024-9'], fixed: ['3.0.0'] }];
    expect(found(cleared, '2.5.0')).toEqual(expected);
    expect(found([...cleared].reverse(), '2.5.0')).toEqual(expected);
    // A CVE repeated among one advisory's aliases is one CVE: no split.
    expect(
      found([
        row('GHSA-aaaa-bbbb-cccc', ['CVE-2024-0001', 'CVE-2024-0001'], '3.0.0'),
        row('PYSEC-2024-2', ['CVE-2024-0002', 'GHSA-aaaa-bbbb-cccc'], '3.0.0'),
      ]),
    ).toEqual([
      { id: 'CVE-2024-0001', aliases: ['CVE-2024-0002', 'GHSA-aaaa-bbbb-cccc', 'PYSEC-2024-2'], fixed: ['3.0.0'] },
    ]);
  });

  it('puts an advisory that names none of the split CVEs only with the findings it shares an id with', () => {
    const rows = [
      row('PYSEC-2024-1', ['CVE-2024-0001'], '2.0.0'),
      row('PYSEC-2024-4', ['CVE-2024-0004', 'GHSA-yyyy-yyyy-yyyy'], '2.0.0'),
      row('GHSA-xxxx-xxxx-xxxx', ['CVE-2024-0001', 'CVE-2024-0002'], '2.0.0'),
      row('GHSA-yyyy-yyyy-yyyy', ['CVE-2024-0002', 'CVE-2024-0003'], '2.0.0'),
      // Reaches PYSEC-2024-4's finding through GHSA-yyyy-yyyy-yyyy, whatever the order the rows come in.
      row('OSV-2024-7', ['GHSA-yyyy-yyyy-yyyy'], '2.0.0'),
      row('OSV-2024-8', ['OSV-2024-7'], '2.0.0'),
    ];
    const expected = found(rows);
    fc.assert(
      fc.property(fc.shuffledSubarray(rows, { minLength: rows.length }), (shuffled) => {
        expect(found(shuffled)).toEqual(expected);
      }),
      { numRuns: 50 },
    );
    expect(expected).toEqual([
      { id: 'CVE-2024-0001', aliases: ['CVE-2024-0002', 'GHSA-xxxx-xxxx-xxxx', 'PYSEC-2024-1'], fixed: ['2.0.0'] },
      {
        id: 'CVE-2024-0004',
        aliases: ['CVE-2024-0002', 'CVE-2024-0003', 'GHSA-yyyy-yyyy-yyyy', 'OSV-2024-7', 'OSV-2024-8', 'PYSEC-2024-4'],
        fixed: ['2.0.0'],
      },
    ]);
  });

  it('keeps one finding when only one CVE has a record of its own, or none has', () => {
    expect(
      found([
        row('PYSEC-2024-1', ['CVE-2024-0001'], '2.0.0'),
        row('GHSA-aaaa-bbbb-cccc', ['CVE-2024-0001', 'CVE-2024-0002'], '3.0.0'),
      ]),
    ).toEqual([
      {
        id: 'CVE-2024-0001',
        aliases: ['CVE-2024-0002', 'GHSA-aaaa-bbbb-cccc', 'PYSEC-2024-1'],
        fixed: ['2.0.0', '3.0.0'],
      },
    ]);
    expect(found([row('GHSA-aaaa-bbbb-cccc', ['CVE-2024-0001', 'CVE-2024-0002'], '3.0.0')])).toEqual([
      { id: 'CVE-2024-0001', aliases: ['CVE-2024-0002', 'GHSA-aaaa-bbbb-cccc'], fixed: ['3.0.0'] },
    ]);
  });
});

describe("a distribution's records of one CVE, and its notices fixing several (OSV upstream)", () => {
  const FIX = '114.0.5735.90-2~deb12u1';
  const BEFORE = '113.0.5672.126-1~deb12u1';
  const pkg = (version: string) =>
    testPackage(
      { name: 'chromium', version, type: 'deb', purl: `pkg:deb/debian/chromium@${version}?distro=debian-12` },
      'var/lib/dpkg/status',
    );
  const rowsOf = (records: Iterable<{ advisory: Advisory; affected: readonly Affected[] }>) =>
    [...records].flatMap((r) => r.affected.map((a) => ({ ...a, advisory: r.advisory })));
  const osv = (id: string, extra: Record<string, unknown>) => {
    const r = parseOsv({
      id,
      modified: '2024-01-09T00:00:00Z',
      affected: [
        {
          package: { ecosystem: 'Debian:12', name: 'chromium' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: FIX }] }],
        },
      ],
      ...extra,
    });
    if (!r.ok) throw new Error(r.reason);
    return rowsOf([r]);
  };
  // The security tracker: two CVEs fixed by the DSA, a third that never affected bookworm's chromium.
  const tracker = rowsOf(
    parseDebianTracker(
      {
        chromium: {
          'CVE-2023-2929': { releases: { bookworm: { status: 'resolved', fixed_version: FIX, urgency: 'high' } } },
          'CVE-2023-2930': { releases: { bookworm: { status: 'resolved', fixed_version: FIX, urgency: 'high' } } },
          'CVE-2023-2931': { releases: { bookworm: { status: 'resolved', fixed_version: '0' } } },
        },
      },
      '2024-01-09T00:00:00Z',
    ),
  );
  const found = (rows: ReturnType<typeof osv>, version = BEFORE) =>
    matchInventory(
      { ...example, os: { id: 'debian', versionId: '12', source: 'etc/os-release' }, packages: [pkg(version)] },
      { affected: () => rows },
      SCHEME_CHOOSER,
      severityOf,
    ).findings.map((f) => ({ id: f.ruleId, aliases: f.vulnerability?.aliases, fixed: f.vulnerability?.fixedVersions }));
  const expected = [
    { id: 'CVE-2023-2929', aliases: ['DEBIAN-CVE-2023-2929', 'DSA-5418-1'], fixed: [FIX] },
    { id: 'CVE-2023-2930', aliases: ['DSA-5418-1'], fixed: [FIX] },
  ];

  it('reports each CVE once, under its CVE id, the notice an alias of each CVE it fixes: never a finding of its own', () => {
    const cves = ['CVE-2023-2929', 'CVE-2023-2930', 'CVE-2023-2931'];
    const current = [
      ...tracker,
      ...osv('DEBIAN-CVE-2023-2929', { upstream: ['CVE-2023-2929'] }),
      ...osv('DSA-5418-1', { upstream: cves }),
    ];
    // Debian's older records: the DSA lists the CVEs it fixes as related.
    const older = [...current.slice(0, -1), ...osv('DSA-5418-1', { related: cves })];
    for (const rows of [current, older]) {
      fc.assert(
        fc.property(fc.shuffledSubarray(rows, { minLength: rows.length }), (shuffled) => {
          expect(found(shuffled)).toEqual(expected);
        }),
        { numRuns: 30 },
      );
      expect(found(rows, FIX)).toEqual([]);
    }
  });

  it('reports each CVE a notice fixes on its own even where no other record names it, so a statement on one reaches no other', () => {
    const cves = ['CVE-2023-2929', 'CVE-2023-2930', 'CVE-2023-2931'];
    for (const dsa of [osv('DSA-5418-1', { upstream: cves }), osv('DSA-5418-1', { related: cves })]) {
      expect(found(dsa)).toEqual(cves.map((id) => ({ id, aliases: ['DSA-5418-1'], fixed: [FIX] })));
      // The tracker clears CVE-2023-2931 (never affected bookworm's chromium): it is no finding, and no alias.
      const cleared = [...dsa, ...tracker.filter((r) => r.advisoryId === 'CVE-2023-2931')];
      expect(found(cleared)).toEqual(cves.slice(0, 2).map((id) => ({ id, aliases: ['DSA-5418-1'], fixed: [FIX] })));
    }
    // However many it fixes (the largest real notices fix a few hundred), one finding each.
    const many = Array.from({ length: 3000 }, (_, i) => `CVE-2023-${String(10000 + i)}`);
    const all = found(osv('DSA-5418-1', { upstream: many }));
    expect(all.map((f) => f.id)).toEqual([...many].sort());
    expect(all.every((f) => f.aliases?.length === 1 && f.aliases[0] === 'DSA-5418-1')).toBe(true);
    // A notice fixing one CVE is that CVE's finding.
    expect(found(osv('DSA-9999-1', { upstream: ['CVE-2023-2929'] }))).toEqual([
      { id: 'CVE-2023-2929', aliases: ['DSA-9999-1'], fixed: [FIX] },
    ]);
  });

  it("names a distribution's record of a CVE by the CVE, alone or beside the tracker's", () => {
    expect(found(osv('DEBIAN-CVE-2023-2929', { upstream: ['CVE-2023-2929'] }))).toEqual([
      { id: 'CVE-2023-2929', aliases: ['DEBIAN-CVE-2023-2929'], fixed: [FIX] },
    ]);
  });
});

describe("Ubuntu's releases as its OSV records name them", () => {
  const ubuntu = (versionId: string, prettyName?: string) => ({
    id: 'ubuntu',
    versionId,
    ...(prettyName ? { prettyName } : {}),
    source: 'etc/os-release',
  });

  it('names the long-term releases with :LTS (the .04 of even years) and the others without', () => {
    expect(ubuntuEcosystem(ubuntu('22.04', 'Ubuntu 22.04.4 LTS'))).toBe('Ubuntu:22.04:LTS');
    expect(ubuntuEcosystem(ubuntu('24.04'))).toBe('Ubuntu:24.04:LTS');
    expect(ubuntuEcosystem(ubuntu('6.06', 'Ubuntu 6.06.2 LTS'))).toBe('Ubuntu:6.06:LTS');
    expect(ubuntuEcosystem(ubuntu('23.04', 'Ubuntu 23.04'))).toBe('Ubuntu:23.04');
    expect(ubuntuEcosystem(ubuntu('23.10', 'Ubuntu 23.10'))).toBe('Ubuntu:23.10');
    expect(ubuntuEcosystem(ubuntu('jammy'))).toBeUndefined();
  });

  /** An Ubuntu record naming openssl in each (ecosystem, fixed version or none) given. */
  const record = (id: string, upstream: string[], entries: [string, string?][]) => {
    const r = parseOsv({
      id,
      modified: '2024-01-01T00:00:00Z',
      upstream,
      affected: entries.map(([ecosystem, fixed]) => ({
        package: { ecosystem, name: 'openssl' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, ...(fixed ? [{ fixed }] : [])] }],
      })),
    });
    if (!r.ok) throw new Error(r.reason);
    return r.affected.map((a) => ({ ...a, advisory: r.advisory }));
  };
  const libssl = testPackage(
    { name: 'libssl3', version: '3.0.2-0ubuntu1.1', type: 'deb', purl: 'pkg:deb/ubuntu/libssl3@3.0.2-0ubuntu1.1' },
    'var/lib/dpkg/status',
  );
  const pkg = { ...libssl, source: { name: 'openssl', version: '3.0.2-0ubuntu1.1' } };
  const scan = (rows: ReturnType<typeof record>) => {
    const lookups: string[] = [];
    const findings = matchInventory(
      { ...example, os: ubuntu('22.04', 'Ubuntu 22.04.1 LTS'), packages: [pkg] },
      {
        affected: (ecosystem, name) => {
          lookups.push(`${ecosystem} ${name}`);
          return rows.filter((r) => r.ecosystem === ecosystem && r.package === name);
        },
      },
      SCHEME_CHOOSER,
      severityOf,
    ).findings.map((f) => ({
      id: f.ruleId,
      aliases: f.vulnerability?.aliases,
      fixed: f.vulnerability?.fixedVersions,
      status: f.vulnerability?.status,
    }));
    return { lookups, findings };
  };

  it("matches a 22.04 image's source packages against Ubuntu's CVE records, the notice an alias of each CVE", () => {
    const fix = '3.0.2-0ubuntu1.2';
    const rows = [
      ...record(
        'UBUNTU-CVE-2022-1292',
        ['CVE-2022-1292'],
        [
          ['Ubuntu:22.04:LTS', fix],
          ['Ubuntu:Pro:18.04:LTS', '9.9'],
        ],
      ),
      ...record('UBUNTU-CVE-2022-1343', ['CVE-2022-1343'], [['Ubuntu:22.04:LTS', fix]]),
      ...record('USN-5402-1', ['CVE-2022-1292', 'CVE-2022-1343'], [['Ubuntu:22.04:LTS', fix]]),
    ];
    expect(scan(rows)).toEqual({
      lookups: ['Ubuntu:22.04:LTS openssl'],
      findings: [
        { id: 'CVE-2022-1292', aliases: ['UBUNTU-CVE-2022-1292', 'USN-5402-1'], fixed: [fix], status: 'fixed' },
        { id: 'CVE-2022-1343', aliases: ['UBUNTU-CVE-2022-1343', 'USN-5402-1'], fixed: [fix], status: 'fixed' },
      ],
    });
  });

  it('says that a release past standard support is matched incompletely (its newer CVEs are published for Pro only)', () => {
    const scanOn = (versionId: string) =>
      matchInventory(
        { ...example, os: ubuntu(versionId), packages: [pkg] },
        { affected: () => [] },
        SCHEME_CHOOSER,
        severityOf,
      );
    const old = scanOn('20.04');
    const message =
      'pkg:deb/ubuntu/libssl3@3.0.2-0ubuntu1.1: matched against Ubuntu:20.04:LTS only: its standard support ended on 2025-05-31, and Ubuntu publishes the CVEs found since for Ubuntu Pro only, which is not read, so what is found is incomplete';
    expect(old.problems).toEqual([message]);
    expect(old.gaps).toEqual([{ path: 'var/lib/dpkg/status', cataloger: 'matcher', message }]);
    expect(old.matched).toBe(1);
    expect(scanOn('22.04').gaps).toEqual([]);
  });
});

describe('packages no advisory source here can reach', () => {
  const rpm = (name: string) =>
    testPackage({ name, version: '1.0-1.el9', type: 'rpm', purl: `pkg:rpm/redhat/${name}@1.0-1.el9` }, 'var/lib/rpm');
  const deb = testPackage(
    { name: 'tar', version: '1.34+dfsg-1.2', type: 'deb', purl: 'pkg:deb/debian/tar@1.34%2Bdfsg-1.2' },
    'var/lib/dpkg/status',
  );
  const none: AdvisoryLookup = {
    affected: () => {
      throw new Error('no lookup expected');
    },
  };
  const run = (os: Inventory['os'], packages: Package[]) =>
    matchInventory({ ...example, os, packages }, none, SCHEME_CHOOSER, severityOf);

  it('are gaps, one per reason with how many, never a silent pass', () => {
    const rhel = { id: 'rhel', versionId: '9.4', source: 'etc/os-release' };
    const r = run(rhel, [rpm('bash'), rpm('glibc'), rpm('openssl')]);
    const message =
      '3 rpm packages (pkg:rpm/redhat/bash@1.0-1.el9, ...): not matched: no advisory source for rpm distributions is read yet (rhel 9.4)';
    expect(r.problems).toEqual([message]);
    expect(r.gaps).toEqual([{ path: 'var/lib/rpm', cataloger: 'matcher', message }]);
    expect(r.findings).toEqual([]);
    expect(r.matched).toBe(0);
    // A Debian package in an image whose release is unknown: no os-release, or none with a VERSION_ID (testing, sid).
    expect(run(undefined, [deb]).problems).toEqual([
      'pkg:deb/debian/tar@1.34%2Bdfsg-1.2: not matched: the image has no os-release, so the Debian and Ubuntu release its advisories are for is unknown',
    ]);
    expect(run({ id: 'kali', versionId: '2024.1', source: 'etc/os-release' }, [deb]).gaps).toHaveLength(1);
  });

  it('include an apk package of a distribution other than Alpine, whatever its VERSION_ID looks like', () => {
    const apk = testPackage(
      { name: 'busybox', version: '1.36.1-r15', type: 'apk', purl: 'pkg:apk/exampleos/busybox@1.36.1-r15' },
      'lib/apk/db/installed',
    );
    // Its packages and versions are its own: looked up as Alpine 3.19's they would find nothing, or the wrong fixes.
    const r = run({ id: 'exampleos', versionId: '3.19.1', source: 'etc/os-release' }, [apk]);
    expect(r.gaps.map((g) => g.message)).toEqual([
      'pkg:apk/exampleos/busybox@1.36.1-r15: not matched: no advisories for exampleos 3.19.1 are read here (apk packages: Alpine releases only)',
    ]);
    expect(r.matched).toBe(0);
  });

  it("include Debian testing's and sid's: they share an os-release with no VERSION_ID, and sid is not testing", () => {
    const r = run({ id: 'debian', versionCodename: 'forky', source: 'etc/os-release' }, [deb]);
    expect(r.gaps.map((g) => g.message)).toEqual([
      "pkg:deb/debian/tar@1.34%2Bdfsg-1.2: not matched: debian's os-release has no VERSION_ID (Debian testing and sid have none), so no release's advisories apply",
    ]);
  });

  it('are listed before the per-package problems, which callers cut at 20', () => {
    const bad = Array.from({ length: 25 }, (_, i) =>
      testPackage({ name: `p${i}`, version: '~bad~', type: 'npm', purl: `pkg:npm/p${i}@~bad~` }, 'package.json'),
    );
    const r = run({ id: 'rhel', versionId: '9', source: 'etc/os-release' }, [...bad, rpm('bash')]);
    expect(r.problems).toHaveLength(26);
    expect(r.problems[0]).toMatch(/^pkg:rpm\/redhat\/bash@1.0-1.el9: not matched: no advisory source for rpm/);
    expect(r.gaps[0]?.message).toBe(r.problems[0]);
  });

  it('warn of a jar with no Maven group: still looked up as artifact:artifact', () => {
    const jar = mavenPackage(
      {
        groupId: undefined,
        artifactId: 'log4j',
        version: '1.2.17',
        licenses: [],
        path: 'app/log4j.jar',
        source: 'manifest',
      },
      0,
    );
    const lookups: string[] = [];
    const r = matchInventory(
      { ...example, packages: [jar] },
      {
        affected: (ecosystem, name) => {
          lookups.push(`${ecosystem} ${name}`);
          return [];
        },
      },
      SCHEME_CHOOSER,
      severityOf,
    );
    expect(lookups).toEqual(['Maven log4j:log4j']);
    // A warning, not a gap: every JDK holds such jars.
    expect(r.problems).toEqual([
      'pkg:maven/log4j/log4j@1.2.17: matched as artifact:artifact only: the archive names no Maven group (no pom.properties), and advisories name group:artifact',
    ]);
    expect(r.gaps).toEqual([]);
  });
});
