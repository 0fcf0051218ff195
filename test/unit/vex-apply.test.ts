import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../src/findings/finding.js';
import { applyVex, inside, type VexTarget } from '../../src/vex/apply.js';
import { parseVex } from '../../src/vex/load.js';
import type { VexStatement } from '../../src/vex/model.js';

const IMAGE = `sha256:${'1'.repeat(64)}`;
const INDEX = `sha256:${'2'.repeat(64)}`;
const OTHER = `sha256:${'3'.repeat(64)}`;
const DPKG = 'var/lib/dpkg/status';
const TARGET: VexTarget = {
  digest: IMAGE,
  indexDigest: INDEX,
  architecture: 'amd64',
  packages: [
    { purl: 'pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc', paths: [DPKG] },
    { purl: 'pkg:deb/debian/libc-bin@2.36-9?arch=amd64&distro=debian-12&upstream=glibc', paths: [DPKG] },
    { purl: 'pkg:npm/lodash@4.17.20', paths: ['app/node_modules/@acme/app/node_modules/lodash/package.json'] },
    { purl: 'pkg:npm/%40acme/app@1.0.0', paths: ['app/node_modules/@acme/app/package.json'] },
    { purl: 'pkg:pypi/urllib3@1.26.5', paths: ['usr/lib/python3/dist-packages/urllib3-1.26.5.dist-info/METADATA'] },
    { purl: 'pkg:pypi/zope.interface@6.1', paths: ['app/zope.interface-6.1.dist-info/METADATA'] },
  ],
};

/** Where TARGET has the package `purl` (the finding's location path). */
function pathOf(purl: string): string | undefined {
  return TARGET.packages.find((p) => p.purl === purl)?.paths[0];
}

function finding(ruleId: string, purl: string, aliases: string[] = [], path = pathOf(purl)): Finding {
  const name = purl.replace(/^pkg:[^/]+\/(?:[^/]+\/)?/, '').replace(/@.*$/, '');
  return {
    ruleId,
    kind: 'vulnerability',
    severity: 'high',
    confidence: 'high',
    title: `${ruleId} in ${name}`,
    message: `${ruleId} in ${name}`,
    location: { kind: 'image', image: IMAGE, ...(path ? { path } : {}) },
    vulnerability: {
      package: { name, version: '1', purl, type: purl.slice(4, purl.indexOf('/')) },
      matched: { ecosystem: 'x', name, version: '1' },
      aliases,
      fixedVersions: [],
      status: 'fixed',
      sources: ['test'],
    },
  };
}

const FINDINGS = [
  finding('CVE-2023-4806', TARGET.packages[0]?.purl as string),
  finding('CVE-2023-4806', TARGET.packages[1]?.purl as string),
  finding('CVE-2021-23337', 'pkg:npm/lodash@4.17.20', ['GHSA-35jh-r3h4-6jhm']),
  finding('GHSA-v845-jxx5-vc9f', 'pkg:pypi/urllib3@1.26.5', ['CVE-2023-43804']),
  finding('CVE-2099-0001', 'pkg:pypi/zope.interface@6.1'),
];

type Stmt = {
  vulnerability: string | { name: string; aliases?: string[] };
  products: unknown[];
  status: string;
  justification?: string;
  impact_statement?: string;
  action_statement?: string;
  timestamp?: string;
};

/** Statements go through the real parser, so each case is an OpenVEX document a user could write. */
function openvex(statements: Stmt[], file = 'v.json', timestamp = '2024-01-01T00:00:00Z'): VexStatement[] {
  const doc = { '@context': 'https://openvex.dev/ns/v0.2.0', '@id': `urn:test:${file}`, timestamp, statements };
  return [...parseVex(JSON.stringify(doc), file).statements];
}

const na = (vulnerability: Stmt['vulnerability'], ...products: unknown[]): Stmt => ({
  vulnerability,
  products,
  status: 'not_affected',
  justification: 'vulnerable_code_not_present',
});

const LODASH_COMPONENT = { type: 'library', 'bom-ref': 'lodash', name: 'lodash', purl: 'pkg:npm/lodash' };

/** A CycloneDX VEX document about CVE-2021-23337, through the real parser; `timestamp` undefined: an undated one. */
function cyclonedx(
  analysis: Record<string, unknown>,
  affects: unknown[],
  opts: { components?: unknown[]; timestamp?: string | undefined; file?: string } = {},
): ReturnType<typeof parseVex> {
  const timestamp = 'timestamp' in opts ? opts.timestamp : '2024-06-01T00:00:00Z';
  return parseVex(
    JSON.stringify({
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      version: 1,
      ...(timestamp ? { metadata: { timestamp } } : {}),
      components: opts.components ?? [LODASH_COMPONENT],
      vulnerabilities: [{ id: 'CVE-2021-23337', analysis, affects }],
    }),
    opts.file ?? 'x.cdx.json',
  );
}

/** "package ruleId" of the findings the statements suppress. */
function suppressed(statements: VexStatement[], target: VexTarget = TARGET, findings = FINDINGS): string[] {
  return applyVex(findings, statements, target)
    .findings.filter((f) => f.suppression)
    .map((f) => `${f.vulnerability?.package.name} ${f.ruleId}`);
}

describe('applyVex: which findings a statement covers', () => {
  it.each<[string, Stmt[], string[]]>([
    ['the image by manifest digest', [na('CVE-2023-4806', IMAGE)], ['libc6 CVE-2023-4806', 'libc-bin CVE-2023-4806']],
    ['the image by index digest', [na('CVE-2023-4806', INDEX)], ['libc6 CVE-2023-4806', 'libc-bin CVE-2023-4806']],
    ['the image as a pinned reference', [na('CVE-2021-23337', `ghcr.io/acme/app@${IMAGE}`)], ['lodash CVE-2021-23337']],
    [
      'the image as an oci purl with its architecture',
      [na('CVE-2021-23337', `pkg:oci/app@${encodeURIComponent(IMAGE)}?arch=amd64&repository_url=ghcr.io/acme/app`)],
      ['lodash CVE-2021-23337'],
    ],
    [
      'the image by a product hash',
      [na('CVE-2021-23337', { '@id': 'https://example.com/app', hashes: { 'sha-256': IMAGE.slice(7) } })],
      ['lodash CVE-2021-23337'],
    ],
    ['another image', [na('CVE-2023-4806', OTHER)], []],
    [
      'the index for another architecture',
      [na('CVE-2023-4806', `pkg:oci/app@${encodeURIComponent(INDEX)}?arch=arm64`)],
      [],
    ],
    [
      'an image without a digest',
      [na('CVE-2023-4806', 'pkg:oci/app?tag=latest'), na('CVE-2023-4806', 'app:latest')],
      [],
    ],
    [
      'a subcomponent of the image',
      [na('CVE-2023-4806', { '@id': IMAGE, subcomponents: [{ '@id': 'pkg:deb/debian/libc6@2.36-9' }] })],
      ['libc6 CVE-2023-4806'],
    ],
    [
      'a subcomponent of another image',
      [na('CVE-2023-4806', { '@id': OTHER, subcomponents: [{ '@id': 'pkg:deb/debian/libc6@2.36-9' }] })],
      [],
    ],
    [
      'an unreadable subcomponent of the image (never all of it)',
      [na('CVE-2023-4806', { '@id': IMAGE, subcomponents: [{ '@id': 'cpe:2.3:a:gnu:glibc:2.36:*:*:*:*:*:*:*' }] })],
      [],
    ],
    ['a package, any version', [na('CVE-2021-23337', 'pkg:npm/lodash')], ['lodash CVE-2021-23337']],
    ['a package at its version', [na('CVE-2021-23337', 'pkg:npm/lodash@4.17.20')], ['lodash CVE-2021-23337']],
    ['a package at another version', [na('CVE-2021-23337', 'pkg:npm/lodash@4.17.21')], []],
    ['another package', [na('CVE-2021-23337', 'pkg:npm/lodash-es@4.17.20')], []],
    ['a package of another type', [na('CVE-2021-23337', 'pkg:pypi/lodash@4.17.20')], []],
    [
      'a package with matching qualifiers',
      [na('CVE-2023-4806', 'pkg:deb/debian/libc6@2.36-9?arch=amd64')],
      ['libc6 CVE-2023-4806'],
    ],
    ['a package for another architecture', [na('CVE-2023-4806', 'pkg:deb/debian/libc6@2.36-9?arch=arm64')], []],
    [
      'a point release of the same distro',
      [na('CVE-2023-4806', 'pkg:deb/debian/libc6?distro=debian-12.5')],
      ['libc6 CVE-2023-4806'],
    ],
    ['another distro release', [na('CVE-2023-4806', 'pkg:deb/debian/libc6?distro=debian-11')], []],
    ['another distro', [na('CVE-2023-4806', 'pkg:deb/ubuntu/libc6')], []],
    ['a qualifier the finding lacks', [na('CVE-2021-23337', 'pkg:npm/lodash?checksum=sha256:00')], []],
    [
      'a location qualifier the finding lacks',
      [na('CVE-2021-23337', 'pkg:npm/lodash?repository_url=https://r.example')],
      ['lodash CVE-2021-23337'],
    ],
    ['a subpath the finding lacks', [na('CVE-2021-23337', 'pkg:npm/lodash#fp')], []],
    ['normalised names (PEP 503)', [na('CVE-2023-43804', 'pkg:pypi/URLLib3@1.26.5')], ['urllib3 GHSA-v845-jxx5-vc9f']],
    [
      'any PEP 503 spelling of a dotted PyPI name',
      [na('CVE-2099-0001', 'pkg:pypi/zope-interface@6.1'), na('CVE-2099-0001', 'pkg:pypi/Zope_Interface')],
      ['zope.interface CVE-2099-0001'],
    ],
    ['another PyPI name', [na('CVE-2099-0001', 'pkg:pypi/zope-interfaces@6.1')], []],
    ['a finding alias', [na('GHSA-35jh-r3h4-6jhm', IMAGE)], ['lodash CVE-2021-23337']],
    ['a finding alias, without case', [na({ name: 'GHSA-35JH-R3H4-6JHM' }, IMAGE)], ['lodash CVE-2021-23337']],
    [
      'a statement alias',
      [na({ name: 'PYSEC-2023-192', aliases: ['CVE-2023-43804'] }, IMAGE)],
      ['urllib3 GHSA-v845-jxx5-vc9f'],
    ],
    ['ids without case', [na('cve-2021-23337', IMAGE)], ['lodash CVE-2021-23337']],
    ['another vulnerability', [na('CVE-2021-23338', IMAGE)], []],
    [
      'an application in the image with the package inside',
      [na('CVE-2021-23337', { '@id': 'pkg:npm/%40acme/app@1.0.0', subcomponents: [{ '@id': 'pkg:npm/lodash' }] })],
      ['lodash CVE-2021-23337'],
    ],
    [
      'an application not in the image',
      [na('CVE-2021-23337', { '@id': 'pkg:npm/%40acme/other@1.0.0', subcomponents: [{ '@id': 'pkg:npm/lodash' }] })],
      [],
    ],
  ])('%s', (_name, statements, want) => {
    expect(suppressed(openvex(statements)).sort()).toEqual(want.sort());
  });

  it("a package product's statement covers the copies inside that package only, not the same package elsewhere", () => {
    const lodash = 'pkg:npm/lodash@4.17.20';
    const copies = {
      mine: 'app/node_modules/@acme/app/node_modules/lodash/package.json',
      hoisted: 'app/node_modules/lodash/package.json', // beside @acme/app: nothing says it is the app's
      other: 'srv/node_modules/lodash/package.json',
    };
    const findings = Object.values(copies).map((path) => finding('CVE-2021-23337', lodash, [], path));
    const statement = na('CVE-2021-23337', {
      '@id': 'pkg:npm/%40acme/app@1.0.0',
      subcomponents: [{ '@id': 'pkg:npm/lodash' }],
    });
    const cleared = applyVex(findings, openvex([statement]), TARGET).findings.map(
      (f) => f.location.kind === 'image' && f.suppression !== undefined && f.location.path,
    );
    expect(cleared).toEqual([copies.mine, false, false]);
    // A finding that says nowhere where its package is cannot be placed inside the application: not cleared.
    expect(suppressed(openvex([statement]), TARGET, [finding('CVE-2021-23337', lodash, [], '')])).toEqual([]);
  });

  it.each([
    ['the same file (a Go binary and its modules)', 'usr/bin/app', 'usr/bin/app', true],
    ['an archive nested in it', 'opt/app.jar!/BOOT-INF/lib/x.jar', 'opt/app.jar', true],
    ['twice nested', 'opt/app.jar!/lib/a.jar!/lib/b.jar', 'opt/app.jar', true],
    [
      "an npm package's own node_modules",
      'a/node_modules/b/node_modules/c/package.json',
      'a/node_modules/b/package.json',
      true,
    ],
    ['a top-level npm project', 'node_modules/c/package.json', 'package.json', true],
    ['a sibling file', 'usr/bin/app2', 'usr/bin/app', false],
    ['a name that only starts the same', 'opt/app.jar2!/x.jar', 'opt/app.jar', false],
    ['a package beside it (hoisted npm)', 'a/node_modules/c/package.json', 'a/node_modules/b/package.json', false],
    [
      'Python dependencies (installed beside it)',
      'site-packages/b-1.dist-info/METADATA',
      'site-packages/a-1.dist-info/METADATA',
      false,
    ],
  ])('inside: %s', (_name, path, root, want) => {
    expect(inside(path, root)).toBe(want);
  });

  it("a statement's aliases reach no other CVE through an advisory that covers several (only its name does)", () => {
    // GHSA-zzzz covers two CVEs of lodash: the matcher lists it as an alias of each CVE's finding.
    const covering = [
      finding('CVE-2021-23337', 'pkg:npm/lodash@4.17.20', ['GHSA-35jh-r3h4-6jhm', 'GHSA-zzzz-zzzz-zzzz']),
      finding('CVE-2099-0001', 'pkg:npm/lodash@4.17.20', ['GHSA-yyyy-yyyy-yyyy', 'GHSA-zzzz-zzzz-zzzz']),
    ];
    const aliased = na({ name: 'CVE-2021-23337', aliases: ['GHSA-35jh-r3h4-6jhm', 'GHSA-zzzz-zzzz-zzzz'] }, IMAGE);
    expect(suppressed(openvex([aliased]), TARGET, covering)).toEqual(['lodash CVE-2021-23337']);
    // Nor when the sibling is no finding here (the covering id then looks like the CVE's alone).
    expect(suppressed(openvex([aliased]), TARGET, covering.slice(1))).toEqual([]);
    // An alias reaches the finding it names; the covering id as the statement's name reaches both.
    const bySnyk = na({ name: 'SNYK-JS-LODASH-1040724', aliases: ['cve-2021-23337'] }, IMAGE);
    expect(suppressed(openvex([bySnyk]), TARGET, covering)).toEqual(['lodash CVE-2021-23337']);
    expect(suppressed(openvex([na('GHSA-zzzz-zzzz-zzzz', IMAGE)]), TARGET, covering)).toEqual([
      'lodash CVE-2021-23337',
      'lodash CVE-2099-0001',
    ]);
  });

  it('cites the statement and its justification in the suppression', () => {
    const s = openvex([{ ...na('CVE-2021-23337', IMAGE), impact_statement: 'lodash.template is never called' }]);
    const f = applyVex(FINDINGS, s, TARGET).findings.find((x) => x.suppression);
    expect(f?.suppression).toEqual({
      kind: 'vex',
      status: 'not_affected',
      justification: 'vulnerable_code_not_present: lodash.template is never called',
      source: 'OpenVEX v.json (urn:test:v.json) $.statements[0]',
    });
  });

  it('leaves the findings in order, unchanged where nothing applies, and never touches other suppressions', () => {
    const excepted: Finding = {
      ...(FINDINGS[2] as Finding),
      suppression: { kind: 'exception', status: 'accepted', source: 'policy' },
    };
    const { vulnerability: _, ...misconfiguration } = FINDINGS[3] as Finding;
    const input: Finding[] = [
      FINDINGS[0] as Finding,
      excepted,
      { ...misconfiguration, kind: 'misconfiguration', ruleId: 'CVE-2021-23337' },
    ];
    const out = applyVex(input, openvex([na('CVE-2021-23337', IMAGE), na('CVE-2023-4806', OTHER)]), TARGET).findings;
    expect(out[0]).toBe(input[0]);
    expect(out[1]).toBe(excepted);
    expect(out[2]).toBe(input[2]);
  });
});

describe('applyVex: the latest statement wins', () => {
  const aff = (timestamp?: string): Stmt => ({
    vulnerability: 'CVE-2021-23337',
    products: [IMAGE],
    status: 'affected',
    action_statement: 'upgrade lodash',
    ...(timestamp ? { timestamp } : {}),
  });
  const notAff = (timestamp?: string): Stmt => ({
    ...na('CVE-2021-23337', 'pkg:npm/lodash'),
    ...(timestamp ? { timestamp } : {}),
  });

  it('by timestamp, whatever the order', () => {
    expect(suppressed(openvex([notAff('2024-03-01T00:00:00Z'), aff('2024-02-01T00:00:00Z')]))).toEqual([
      'lodash CVE-2021-23337',
    ]);
    expect(suppressed(openvex([aff('2024-03-01T00:00:00Z'), notAff('2024-02-01T00:00:00Z')]))).toEqual([]);
    // 00:00+01:00 is 23:00Z the day before: the not_affected statement is later.
    const tz = applyVex(FINDINGS, openvex([notAff('2024-03-01T00:00:00Z'), aff('2024-03-01T00:30:00+01:00')]), TARGET);
    expect(tz.findings.filter((f) => f.suppression)).toHaveLength(1);
  });

  it('by document order when the times are equal (the document time when a statement has none)', () => {
    expect(suppressed(openvex([aff(), notAff()]))).toEqual(['lodash CVE-2021-23337']);
    expect(suppressed(openvex([notAff(), aff()]))).toEqual([]);
    // Across files: the later file wins a tie; an earlier file's later statement still wins.
    const a = openvex([aff()], 'a.json');
    const b = openvex([notAff()], 'b.json');
    expect(suppressed([...a, ...b])).toEqual(['lodash CVE-2021-23337']);
    expect(suppressed([...b, ...a])).toEqual([]);
    const older = openvex([notAff()], 'c.json', '2023-01-01T00:00:00Z');
    expect(suppressed([...a, ...older])).toEqual([]);
  });

  it('a newer CycloneDX analysis marking the installed version affected wins over an older clearing statement', () => {
    const cdx = (versions: unknown[]) =>
      cyclonedx({ state: 'resolved' }, [{ ref: 'lodash', versions }]).statements.slice();
    const older = openvex([notAff()], 'a.json', '2023-01-01T00:00:00Z');
    const marked = cdx([
      { version: '4.17.20', status: 'affected' },
      { version: '4.17.21', status: 'unaffected' },
    ]);
    expect(suppressed([...older, ...marked])).toEqual([]);
    expect(applyVex(FINDINGS, [...older, ...marked], TARGET).notes.map((n) => n.status)).toEqual(['affected']);
    // A version listed without a status is affected too; one marked unaffected is cleared.
    expect(suppressed([...older, ...cdx([{ version: '4.17.20' }])])).toEqual([]);
    expect(suppressed(cdx([{ version: '4.17.20', status: 'unaffected' }]))).toEqual(['lodash CVE-2021-23337']);
  });

  it('when a statement has no time and they disagree, the finding stays shown (which is latest cannot be told)', () => {
    const undated = (state: string) =>
      cyclonedx({ state, justification: 'code_not_reachable' }, [{ ref: 'lodash' }], {
        timestamp: undefined,
      }).statements.slice();
    const vendor = openvex([notAff('2021-01-01T00:00:00Z')], 'vendor.json');
    expect(suppressed([...vendor, ...undated('exploitable')])).toEqual([]);
    expect(suppressed([...undated('exploitable'), ...vendor])).toEqual([]);
    // Agreeing statements still suppress, dated or not.
    expect(suppressed([...vendor, ...undated('not_affected')])).toEqual(['lodash CVE-2021-23337']);
    expect(suppressed(undated('not_affected'))).toEqual(['lodash CVE-2021-23337']);
  });

  it('a CycloneDX package nested in a container component speaks for that image only', () => {
    const nested = (container: Record<string, unknown>) =>
      cyclonedx({ state: 'not_affected', justification: 'code_not_reachable' }, [{ ref: 'lodash' }], {
        components: [{ type: 'container', name: 'app', ...container, components: [LODASH_COMPONENT] }],
      });
    expect(suppressed(nested({ version: OTHER }).statements.slice())).toEqual([]);
    expect(suppressed(nested({ version: IMAGE }).statements.slice())).toEqual(['lodash CVE-2021-23337']);
    const undigested = nested({});
    expect(suppressed(undigested.statements.slice())).toEqual([]);
    expect(undigested.warnings.join('\n')).toMatch(/affects\[0\]\.ref: inside container 'app' has no digest/);
  });

  it('notes affected and under_investigation without suppressing', () => {
    const r = applyVex(FINDINGS, openvex([notAff('2024-01-01T00:00:00Z'), aff('2024-02-01T00:00:00Z')]), TARGET);
    expect(r.findings.filter((f) => f.suppression)).toEqual([]);
    expect(r.notes).toEqual([
      {
        ruleId: 'CVE-2021-23337',
        purl: 'pkg:npm/lodash@4.17.20',
        status: 'affected',
        statedStatus: 'affected',
        actionStatement: 'upgrade lodash',
        source: 'OpenVEX v.json (urn:test:v.json) $.statements[1]',
      },
    ]);
  });

  it('fixed suppresses like not_affected', () => {
    expect(suppressed(openvex([{ vulnerability: 'CVE-2021-23337', products: [IMAGE], status: 'fixed' }]))).toEqual([
      'lodash CVE-2021-23337',
    ]);
  });
});

describe('applyVex fails closed', () => {
  const hex = fc.stringMatching(/^[0-9a-f]{64}$/).filter((h) => h !== IMAGE.slice(7) && h !== INDEX.slice(7));
  const otherName = fc.constantFrom('lodash-es', 'minimist', 'openssl', 'libc6-dev', 'urllib3-secure', 'app');
  const product = fc.oneof(
    hex.map((h) => `sha256:${h}`),
    hex.map((h) => `pkg:oci/app@sha256%3A${h}`),
    fc.tuple(fc.constantFrom('npm', 'pypi', 'deb/debian'), otherName).map(([t, n]) => `pkg:${t}/${n}`),
    fc.string({ minLength: 1 }).filter((x) => x.trim() !== ''),
  );
  const stmt = fc.record({
    vulnerability: fc.constantFrom('CVE-2023-4806', 'CVE-2021-23337', 'CVE-2023-43804', 'GHSA-35jh-r3h4-6jhm'),
    products: fc.array(
      fc.oneof(
        product,
        fc.record({ '@id': product, subcomponents: fc.array(fc.record({ '@id': product }), { maxLength: 3 }) }),
      ),
      { minLength: 1, maxLength: 4 },
    ),
    status: fc.constantFrom('not_affected', 'fixed'),
    justification: fc.constant('component_not_present'),
  });

  it('statements about other images and other packages never suppress anything', () => {
    fc.assert(
      fc.property(fc.array(stmt, { maxLength: 8 }), (statements) => {
        expect(suppressed(openvex(statements as Stmt[]))).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('findings whose purl cannot be read are never suppressed', () => {
    const odd = [finding('CVE-2021-23337', 'not a purl'), finding('CVE-2021-23337', `pkg:oci/app@${IMAGE}`)];
    expect(suppressed(openvex([na('CVE-2021-23337', IMAGE, 'pkg:npm/lodash')]), TARGET, odd)).toEqual([]);
  });

  it('an image statement needs the target to have that digest', () => {
    const noDigest: VexTarget = { packages: TARGET.packages };
    expect(suppressed(openvex([na('CVE-2023-4806', IMAGE)]), noDigest)).toEqual([]);
    const noArch: VexTarget = { digest: IMAGE, packages: [] };
    expect(
      suppressed(openvex([na('CVE-2023-4806', `pkg:oci/app@${encodeURIComponent(IMAGE)}?arch=amd64`)]), noArch),
    ).toEqual([]);
  });
});
