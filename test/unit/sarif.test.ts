import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Finding, VulnerabilityEvidence } from '../../src/findings/finding.js';
import type { Inventory } from '../../src/inventory/image.js';
import type { Platform } from '../../src/oci/manifest.js';
import {
  fileUri,
  imageRepository,
  pathUri,
  repositoryRoot,
  SARIF_SCHEMA,
  scanRun,
  toSarif,
} from '../../src/report/sarif.js';
import { TOOL } from '../../src/version.js';
import { multitoolValidate, validateSarif } from '../helpers/validate.js';

const IMAGE = 'sha256:8cdbc04d4c8e3cde883c82e1344cf49c17da3af3701d3c03a5bd01ef75a8fcf0';

function vuln(
  ruleId: string,
  pkg: string,
  version: string,
  over: Partial<Finding> = {},
  ev: Partial<VulnerabilityEvidence> = {},
): Finding {
  return {
    ruleId,
    kind: 'vulnerability',
    severity: 'high',
    confidence: 'high',
    title: `${ruleId} in ${pkg}`,
    message: `${pkg} ${version} is affected by ${ruleId}, fixed in 9.9.9`,
    location: {
      kind: 'image',
      image: IMAGE,
      layer: 1,
      layerDiffId: 'sha256:26fd442ec24fe19e6b71199e98719b8e3d762c2e3fb21bffe05b965d210d3081',
      path: `srv/app/node_modules/${pkg}/package.json`,
    },
    fix: { text: `upgrade ${pkg} to 9.9.9` },
    vulnerability: {
      package: { name: pkg, version, purl: `pkg:npm/${pkg}@${version}`, type: 'npm' },
      matched: { ecosystem: 'npm', name: pkg, version },
      aliases: [],
      fixedVersions: ['9.9.9'],
      status: 'fixed',
      sources: ['osv/GHSA'],
      ...ev,
    },
    ...over,
  };
}

/** A misconfiguration in a repository file, as later checks report them. */
function fileFinding(ruleId: string, path: string, line?: number, column?: number): Finding {
  return {
    ruleId,
    kind: 'misconfiguration',
    severity: 'medium',
    confidence: 'medium',
    title: 'Container runs as root',
    message: `${path} sets no USER, so the container runs as root`,
    location: {
      kind: 'file',
      path,
      ...(line !== undefined ? { line } : {}),
      ...(column !== undefined ? { column } : {}),
    },
    fix: { text: 'add a USER instruction' },
  };
}

const lodash = vuln(
  'CVE-2021-23337',
  'lodash',
  '4.17.20',
  { title: 'Command Injection in lodash' },
  {
    aliases: ['GHSA-35jh-r3h4-6jhm'],
    cvss: [
      { version: '3.1', vector: 'CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H', score: 7.2 },
      { version: '4.0', vector: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', score: 8.6 },
    ],
  },
);
const lodashEs = vuln('CVE-2021-23337', 'lodash-es', '4.17.20', { severity: 'critical' });
const minimist = vuln('CVE-2021-44906', 'minimist', '1.2.5', { severity: 'low' });
const suppressed = vuln('CVE-2023-43804', 'urllib3', '1.26.5', {
  severity: 'medium',
  suppression: {
    kind: 'vex',
    status: 'not_affected',
    justification: 'vulnerable_code_not_in_execute_path',
    source: 'vex/app.openvex.json#https://example.com/vex/1#0',
  },
});
const noPath: Finding = { ...vuln('CVE-2020-1', 'libfoo', '1.0'), location: { kind: 'image', image: IMAGE } };
const dockerfile = fileFinding('DS002', 'deploy/Dockerfile', 12, 5);
const workflow = fileFinding('CI001', '.github/workflows/build.yml', 3);
const wholeFile = fileFinding('DS003', 'deploy/app image.Dockerfile');

const ALL = [lodash, lodashEs, minimist, suppressed, noPath, dockerfile, workflow, wholeFile];

type Log = {
  $schema: string;
  version: string;
  runs: {
    tool: { driver: { rules: Record<string, unknown>[] } & Record<string, unknown> };
    results: Record<string, unknown>[];
    automationDetails?: { id: string };
  }[];
};
const sarif = (findings: readonly Finding[], target = 'registry.example.com/team/app'): Log =>
  toSarif([{ findings, target, category: `portcullis/${target}` }]) as Log;

describe('SARIF writer', () => {
  it('writes logs that the SARIF 2.1.0 schema and the SARIF multitool (with GitHub rules) accept', () => {
    const tool = { name: 'portcullis', version: '0.1.0', homepage: 'https://portcullis.example/' };
    for (const findings of [ALL, [], [dockerfile]]) {
      const log = toSarif([{ findings, target: 'registry.example.com/team/app', category: 'portcullis/app' }], {
        tool,
      });
      expect(validateSarif(log)).toEqual([]);
      expect(multitoolValidate(log)).toEqual([]);
    }
    const two = toSarif(
      [
        { findings: [lodash], category: 'portcullis/app/linux-amd64' },
        { findings: [lodash, dockerfile], category: 'portcullis/app/linux-arm64-v8' },
      ],
      { tool },
    );
    expect(validateSarif(two)).toEqual([]);
    expect(multitoolValidate(two)).toEqual([]);
    // With package.json's own facts: informationUri comes from its `homepage`, which it does not set yet.
    const own = multitoolValidate(sarif(ALL)).map((p) => `${p.rule}: ${p.message}`);
    expect(own).toEqual(
      TOOL.homepage ? [] : [expect.stringMatching(/^SARIF2005: .*does not provide 'informationUri'/)],
    );
  });

  it('the schema validator and the multitool both refuse a broken log (they are not vacuous)', () => {
    const log = sarif([lodash]);
    const broken = structuredClone(log) as unknown as {
      runs: { results: { level: string; locations: unknown[] }[] }[];
    };
    (broken.runs[0]?.results[0] as { level: string }).level = 'fatal';
    expect(validateSarif(broken).join('\n')).toMatch(/level.*must be equal to one of the allowed values/);
    const noRules = structuredClone(log) as unknown as { runs: { tool: { driver: { rules: object[] } } }[] };
    noRules.runs[0]!.tool.driver.rules = [{ id: 'CVE-2021-23337' }];
    expect(multitoolValidate(noRules).map((p) => p.rule)).toContain('GH2012');
  });

  it('has one rule per distinct rule id, and results point at their rule by id and index', () => {
    const run = sarif(ALL).runs[0]!;
    const rules = run.tool.driver.rules;
    expect(rules.map((r) => r.id)).toEqual([
      'CVE-2021-23337',
      'CVE-2021-44906',
      'CVE-2023-43804',
      'CVE-2020-1',
      'DS002',
      'CI001',
      'DS003',
    ]);
    expect(run.results).toHaveLength(ALL.length);
    for (const r of run.results) expect(rules[r.ruleIndex as number]?.id).toBe(r.ruleId);
    expect(run.tool.driver).toMatchObject({ name: 'portcullis', version: '0.1.0', semanticVersion: '0.1.0' });
  });

  it('describes vulnerability rules for GitHub: texts, help, tags, precision, security-severity from CVSS', () => {
    const rules = sarif(ALL).runs[0]!.tool.driver.rules;
    const cve = rules[0]!;
    expect(cve).not.toHaveProperty('name');
    expect(cve).toMatchObject({
      shortDescription: { text: 'Command Injection in lodash' },
      helpUri: 'https://osv.dev/vulnerability/CVE-2021-23337',
      // the highest severity among its findings: lodash-es is rated critical
      defaultConfiguration: { level: 'error' },
      properties: { tags: ['security', 'vulnerability', 'critical'], precision: 'very-high' },
    });
    // The score behind the rule's severity: lodash-es, rated critical with no CVSS vector, gives the band's score.
    // lodash's CVSS 3.1 7.2 is a high, and would have GitHub file a critical rule as high.
    expect((cve.properties as Record<string, string>)['security-severity']).toBe('9.5');
    // CVSS 3.x is preferred over 4.0, as the severity itself is
    const alone = sarif([lodash]).runs[0]!.tool.driver.rules[0]!;
    expect((alone.properties as Record<string, string>)['security-severity']).toBe('7.2');
    expect((cve.fullDescription as { text: string }).text).toBe(
      'Command Injection in lodash. CVE-2021-23337 (also GHSA-35jh-r3h4-6jhm): severity critical, ' +
        'CVSS 3.1 score 7.2 (CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H), ' +
        'CVSS 4.0 score 8.6 (CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N).',
    );
    const help = cve.help as { text: string; markdown: string };
    expect(help.text).toContain('https://github.com/advisories/GHSA-35jh-r3h4-6jhm');
    expect(help.text).toContain('https://nvd.nist.gov/vuln/detail/CVE-2021-23337');
    expect(help.markdown).toContain('| Advisory | CVE-2021-23337 (also GHSA-35jh-r3h4-6jhm) |');
    // no CVSS vector: the band's representative score, so GitHub files it under the same severity
    expect((rules[1]!.properties as Record<string, string>)['security-severity']).toBe('2.0');
    expect(rules[1]!.defaultConfiguration).toEqual({ level: 'note' });
    // a rule from another area: tagged with its kind, medium confidence
    expect(rules[4]).toMatchObject({
      id: 'DS002',
      shortDescription: { text: 'Container runs as root' },
      fullDescription: { text: 'Container runs as root. Add a USER instruction.' },
      properties: { tags: ['security', 'misconfiguration', 'medium'], precision: 'high' },
    });
    expect(rules[4]).not.toHaveProperty('helpUri');
  });

  it('keeps descriptions within GitHub limits and takes texts from a rule registry when given', () => {
    const long = vuln('GHSA-xxxx-yyyy-zzzz', 'pkg', '1.0', { title: 'x'.repeat(3000) });
    const rule = sarif([long]).runs[0]!.tool.driver.rules[0]!;
    expect((rule.shortDescription as { text: string }).text).toHaveLength(1024);
    expect((rule.fullDescription as { text: string }).text).toHaveLength(1024);
    const custom = toSarif([{ findings: [dockerfile] }], {
      describeRule: (id) => ({ helpUri: `https://docs.example/rules/${id}`, help: { text: 'Run as a user.' } }),
    }) as Log;
    expect(custom.runs[0]!.tool.driver.rules[0]).toMatchObject({
      helpUri: 'https://docs.example/rules/DS002',
      help: { text: 'Run as a user.' },
    });
  });

  it('maps severities to levels and writes one message sentence with the fix', () => {
    const results = sarif(ALL).runs[0]!.results;
    expect(results.map((r) => r.level)).toEqual([
      'error',
      'error',
      'note',
      'warning',
      'error',
      'warning',
      'warning',
      'warning',
    ]);
    expect(results[0]!.message).toEqual({
      text: 'lodash 4.17.20 is affected by CVE-2021-23337, fixed in 9.9.9. Upgrade lodash to 9.9.9.',
    });
    expect(results[0]!.properties).toMatchObject({ purl: 'pkg:npm/lodash@4.17.20', fixedVersions: ['9.9.9'] });
  });

  it('locates image findings at the package file inside the image, else at the image, on line 1', () => {
    const results = sarif(ALL).runs[0]!.results;
    const loc = (i: number) =>
      (results[i]!.locations as { physicalLocation: Record<string, unknown>; message: { text: string } }[])[0]!;
    expect(loc(0).physicalLocation).toEqual({
      artifactLocation: { uri: 'srv/app/node_modules/lodash/package.json' },
      region: { startLine: 1, startColumn: 1, endLine: 1, endColumn: 1 },
    });
    expect(loc(0).message.text).toBe(
      `/srv/app/node_modules/lodash/package.json in layer 1 (sha256:26fd442ec24fe19e6b71199e98719b8e3d762c2e3fb21bffe05b965d210d3081) of image ${IMAGE}.`,
    );
    expect(loc(4).physicalLocation.artifactLocation).toEqual({ uri: 'registry.example.com/team/app' });
  });

  it('locates file findings at their relative path, line and column', () => {
    const results = sarif(ALL).runs[0]!.results;
    const phys = (i: number) =>
      (results[i]!.locations as { physicalLocation: Record<string, unknown> }[])[0]!.physicalLocation;
    expect(phys(5)).toEqual({
      artifactLocation: { uri: 'deploy/Dockerfile' },
      region: { startLine: 12, startColumn: 5 },
    });
    expect(phys(6)).toEqual({ artifactLocation: { uri: '.github/workflows/build.yml' }, region: { startLine: 3 } });
    expect(phys(7)).toEqual({ artifactLocation: { uri: 'deploy/app%20image.Dockerfile' }, region: { startLine: 1 } });
  });

  it('fingerprints results stably across runs, upgrades and tags, and apart across packages and rules', () => {
    const fp = (f: Finding, target?: string) =>
      (toSarif([{ findings: [f], ...(target ? { target } : {}) }]) as Log).runs[0]!.results[0]!
        .partialFingerprints as Record<string, string>;
    const a = fp(lodash);
    expect(a.primaryLocationLineHash).toMatch(/^[0-9a-f]{16}:1$/);
    expect(a['portcullis/v1']).toMatch(/^[0-9a-f]{64}$/);
    expect(fp(lodash)).toEqual(a);
    // the same package one version on, still affected; another image digest and tag
    const upgraded = vuln('CVE-2021-23337', 'lodash', '4.17.20-patched');
    const rebuilt = { ...lodash, location: { ...lodash.location, image: 'sha256:0000' } } as Finding;
    expect(fp(upgraded)).toEqual(a);
    expect(fp(rebuilt, 'registry.example.com/team/app')).toEqual(a);
    expect(fp(lodashEs)).not.toEqual(a);
    expect(fp({ ...lodash, ruleId: 'CVE-2099-1' })).not.toEqual(a);
    // repository files: no primaryLocationLineHash (GitHub's upload action hashes the line's content itself)
    const d = fp(dockerfile);
    expect(Object.keys(d)).toEqual(['portcullis/v1']);
    expect(fp(fileFinding('DS002', 'deploy/Dockerfile', 13, 5))).not.toEqual(d);
  });

  it('keeps the fingerprint of an image package across an upgrade that changes versioned qualifiers', () => {
    const pkg = (purl: string, version: string): Finding => {
      const f = vuln('CVE-2023-4806', 'libc6', version);
      const location = { ...f.location, path: 'var/lib/dpkg/status' } as Finding['location'];
      return { ...f, location, vulnerability: { ...f.vulnerability!, package: { ...f.vulnerability!.package, purl } } };
    };
    const fp = (f: Finding) =>
      (toSarif([{ findings: [f] }]) as Log).runs[0]!.results[0]!.partialFingerprints as Record<string, string>;
    const deb = (v: string, arch = 'amd64') =>
      pkg(`pkg:deb/debian/libc6@${v}?arch=${arch}&distro=debian-12&upstream=glibc%40${v}`, v);
    expect(fp(deb('2.36-9+deb12u4'))).toEqual(fp(deb('2.36-9')));
    expect(fp(deb('2.36-9', 'arm64'))).not.toEqual(fp(deb('2.36-9')));
    const apk = (v: string, distro: string) => pkg(`pkg:apk/alpine/busybox@${v}?arch=x86_64&distro=${distro}`, v);
    expect(fp(apk('1.36.1-r16', 'alpine-3.19.2'))).toEqual(fp(apk('1.36.1-r15', 'alpine-3.19.1')));
    expect(fp(pkg('pkg:npm/%40babel/core@7.24.0', '7.24.0'))).toEqual(
      fp(pkg('pkg:npm/%40babel/core@7.24.1', '7.24.1')),
    );
  });

  it('tells apart two versions of one package at one path, and only then fingerprints the version', () => {
    const ms = (version: string): Finding => {
      const f = vuln('CVE-2017-20162', 'ms', version);
      return { ...f, location: { ...f.location, path: 'srv/app/yarn.lock' } as Finding['location'] };
    };
    const prints = (findings: Finding[]) =>
      (toSarif([{ findings }]) as Log).runs[0]!.results.map((r) => r.partialFingerprints as Record<string, string>);
    const [a, b] = prints([ms('0.7.1'), ms('2.0.0')]);
    expect(a!['portcullis/v1']).not.toBe(b!['portcullis/v1']);
    expect(a!.primaryLocationLineHash).not.toBe(b!.primaryLocationLineHash);
    // alone, the package's fingerprint has no version: an upgrade keeps it
    expect(prints([ms('0.7.1')])).toEqual(prints([ms('0.7.3')]));
    expect(prints([ms('0.7.1')])[0]).not.toEqual(a);
  });

  it('marks suppressed findings with an external, accepted suppression citing the statement', () => {
    const r = sarif(ALL).runs[0]!.results[3]!;
    expect(r.suppressions).toEqual([
      {
        kind: 'external',
        status: 'accepted',
        justification:
          'not_affected: vulnerable_code_not_in_execute_path (vex/app.openvex.json#https://example.com/vex/1#0)',
        properties: {
          statementKind: 'vex',
          statementStatus: 'not_affected',
          statement: 'vex/app.openvex.json#https://example.com/vex/1#0',
        },
      },
    ]);
    expect(sarif(ALL).runs[0]!.results[0]).not.toHaveProperty('suppressions');
  });

  it('names each scanned platform its own category and the image repository its target', () => {
    const inv = (platform?: Platform): Inventory => ({
      subject: {
        kind: 'image',
        source: 'docker://registry.example.com:5000/team/app:1.4',
        digest: IMAGE,
        ...(platform ? { platform } : {}),
        layers: [],
      },
      os: { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)', source: 'etc/os-release' },
      packages: [],
      unknowns: [],
      stats: { files: 0, layers: [] },
    });
    const amd = scanRun(inv({ os: 'linux', architecture: 'amd64' }), [noPath]);
    const arm = scanRun(inv({ os: 'linux', architecture: 'arm64', variant: 'v8' }), [noPath]);
    expect(amd.category).toBe('portcullis/registry.example.com:5000/team/app/linux-amd64');
    expect(arm.category).toBe('portcullis/registry.example.com:5000/team/app/linux-arm64-v8');
    expect(scanRun(inv(), []).category).toBe('portcullis/registry.example.com:5000/team/app');
    expect(amd.properties).toMatchObject({
      digest: IMAGE,
      platform: 'linux/amd64',
      os: 'Debian GNU/Linux 12 (bookworm)',
    });
    const log = toSarif([amd, arm]) as Log;
    expect(log.runs.map((r) => r.automationDetails?.id)).toEqual([
      'portcullis/registry.example.com:5000/team/app/linux-amd64/',
      'portcullis/registry.example.com:5000/team/app/linux-arm64-v8/',
    ]);
    expect(log.$schema).toBe(SARIF_SCHEMA);
    expect(validateSarif(log)).toEqual([]);

    // Windows images that differ by os.version alone, and index entries without a platform, are still distinct runs.
    const win = (v: string) => scanRun(inv({ os: 'windows', architecture: 'amd64', 'os.version': v }), [noPath]);
    const ids = (
      toSarif([win('10.0.17763.5458'), win('10.0.20348.2227'), scanRun(inv(), []), scanRun(inv(), [])]) as Log
    ).runs.map((r) => r.automationDetails?.id);
    expect(ids).toEqual([
      'portcullis/registry.example.com:5000/team/app/windows-amd64-10.0.17763.5458/',
      'portcullis/registry.example.com:5000/team/app/windows-amd64-10.0.20348.2227/',
      'portcullis/registry.example.com:5000/team/app/',
      'portcullis/registry.example.com:5000/team/app-2/',
    ]);
  });

  it('numbers the runs whose categories would collide, skipping a number another run already has', () => {
    const log = toSarif([
      { findings: [], category: 'portcullis/app' },
      { findings: [], category: 'portcullis/app-2' },
      { findings: [], category: 'portcullis/app' },
      { findings: [], category: 'portcullis/app' },
      { findings: [] },
    ]) as Log;
    expect(log.runs.map((r) => r.automationDetails?.id)).toEqual([
      'portcullis/app/',
      'portcullis/app-2/',
      'portcullis/app-3/',
      'portcullis/app-4/',
      undefined,
    ]);
  });

  it.each([
    ['docker://registry.example.com/team/app:1.4', 'registry.example.com/team/app'],
    ['docker://localhost:5000/team/app@sha256:' + 'a'.repeat(64), 'localhost:5000/team/app'],
    ['oci:examples/debian-app/layout:latest', 'examples/debian-app/layout'],
    ['oci:/abs/layout', 'abs/layout'],
    ['oci-archive:img.tar', 'img.tar'],
    ['dir:/var/tmp/rootfs', 'var/tmp/rootfs'],
  ])('reads the repository of %s as %s', (source, repository) => {
    expect(imageRepository(source)).toBe(repository);
  });

  it.each([
    ['Dockerfile', 'Dockerfile'],
    ['./deploy/Dockerfile', 'deploy/Dockerfile'],
    ['/repo/dir with space#1%/Dockerfile', 'dir%20with%20space%231%25/Dockerfile'],
    ['/abs/dir/Dockerfile', 'file:///abs/dir/Dockerfile'],
    ['../other/dir with space#1%/Dockerfile', 'file:///other/dir%20with%20space%231%25/Dockerfile'],
    ['/repository/x.yaml', 'file:///repository/x.yaml'],
  ])('names file %s, run from /repo, as %s', (path, uri) => {
    expect(fileUri(path, '/repo')).toBe(uri);
  });

  it('reads a path given from a subdirectory against it, and names it from the repository root', () => {
    expect(fileUri('Dockerfile', '/repo', '/repo/services/api')).toBe('services/api/Dockerfile');
    expect(fileUri('../../k8s/x.yaml', '/repo', '/repo/services/api')).toBe('k8s/x.yaml');
    expect(fileUri('../../../x.yaml', '/repo', '/repo/services/api')).toBe('file:///x.yaml');
  });

  it('finds the repository root: the nearest directory up holding .git (a directory, or a worktree file)', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'sarif-root-'));
    try {
      mkdirSync(join(tmp, 'repo', '.git'), { recursive: true });
      mkdirSync(join(tmp, 'repo', 'services', 'api'), { recursive: true });
      mkdirSync(join(tmp, 'worktree', 'sub'), { recursive: true });
      writeFileSync(join(tmp, 'worktree', '.git'), 'gitdir: /elsewhere\n');
      mkdirSync(join(tmp, 'plain', 'dir'), { recursive: true });
      expect(repositoryRoot(join(tmp, 'repo', 'services', 'api'))).toBe(join(tmp, 'repo'));
      expect(repositoryRoot(join(tmp, 'repo'))).toBe(join(tmp, 'repo'));
      expect(repositoryRoot(join(tmp, 'worktree', 'sub'))).toBe(join(tmp, 'worktree'));
      // No repository above (a temporary directory): the directory itself.
      const plain = join(tmp, 'plain', 'dir');
      const found = repositoryRoot(plain);
      expect(found === plain || !found.startsWith(tmp)).toBe(true);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('writes file locations relative to the repository root, and files outside it as file:// URIs', () => {
    const uris = (root: string) =>
      (
        toSarif([{ findings: [fileFinding('DS002', '/repo/deploy/Dockerfile', 3), dockerfile] }], { root }) as Log
      ).runs[0]!.results.map(
        (r) => (r.locations as { physicalLocation: { artifactLocation: { uri: string } } }[])[0]!,
      ).map((l) => l.physicalLocation.artifactLocation.uri);
    expect(uris('/repo')).toEqual(['deploy/Dockerfile', 'deploy/Dockerfile']);
    expect(uris('/repo/deploy')).toEqual(['Dockerfile', 'deploy/Dockerfile']);
    expect(uris('/elsewhere')).toEqual(['file:///repo/deploy/Dockerfile', 'deploy/Dockerfile']);
    // image findings keep their path inside the image
    const image = (toSarif([{ findings: [lodash] }], { root: '/elsewhere' }) as Log).runs[0]!.results[0]!;
    expect(JSON.stringify(image.locations)).toContain('"uri":"srv/app/node_modules/lodash/package.json"');
  });

  it('encodes any path as a relative URI reference that decodes back to the path', () => {
    const ajv = new Ajv();
    (addFormats as unknown as (a: Ajv) => void)(ajv);
    const isRef = ajv.compile({ type: 'string', format: 'uri-reference' });
    expect(pathUri('/a b/c#d?e:f@g')).toBe('a%20b/c%23d%3Fe:f@g');
    expect(pathUri('c:/x')).toBe('c%3A/x');
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ minLength: 1, unit: 'binary' }).filter((s) => !s.includes('/')),
          { minLength: 1 },
        ),
        (segs) => {
          const u = pathUri(segs.join('/'));
          expect(isRef(u)).toBe(true);
          expect(/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(u)).toBe(false);
          const wellFormed = segs.map((x) => Buffer.from(x, 'utf8').toString('utf8'));
          expect(u.split('/').map(decodeURIComponent)).toEqual(wellFormed);
        },
      ),
      { numRuns: 500 },
    );
  });
});
