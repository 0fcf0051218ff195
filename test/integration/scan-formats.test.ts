import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TOOL } from '../../src/version.js';
import { runCli } from '../helpers/cli.js';
import { LayoutWriter } from '../helpers/oci.js';
import { EXAMPLE, ROOT } from '../helpers/paths.js';
import { multitoolValidate, validateCycloneDx, validateSarif } from '../helpers/validate.js';

const IMAGE = `oci:${EXAMPLE}:latest`;
const ENV = { SOURCE_DATE_EPOCH: '1700000000' };
let tmp: string;
let db: string;

type JsonFinding = {
  ruleId: string;
  severity: string;
  location: { path?: string };
  vulnerability: { package: { name: string; purl: string } };
};
type SarifResult = {
  ruleId: string;
  ruleIndex: number;
  level: string;
  message: { text: string };
  locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[];
  partialFingerprints: Record<string, string>;
  suppressions?: { kind: string; status: string; justification: string }[];
  properties: { purl: string };
};
type SarifLog = {
  runs: {
    tool: { driver: { rules: { id: string; properties: Record<string, unknown> }[] } };
    automationDetails: { id: string };
    results: SarifResult[];
    properties: Record<string, unknown>;
  }[];
};
type Component = { 'bom-ref': string; name: string; components?: Component[] };
type Vulnerability = {
  id: string;
  ratings: { method: string; score?: number; severity: string; vector?: string }[];
  affects: { ref: string; versions: { version: string; status: string }[] }[];
  recommendation: string;
  advisories: { url: string }[];
  analysis?: { state?: string; justification?: string; detail: string };
};
type Bom = {
  metadata: { component: Component & { version?: string } };
  components: Component[];
  dependencies: { ref: string; dependsOn: string[] }[];
  vulnerabilities: Vulnerability[];
};

async function scan(args: readonly string[], image = IMAGE) {
  // Vulnerabilities only: these tests hold each format against the JSON's advisories (checks: checks-cli.test.ts).
  const r = await runCli(['scan', image, '--db', db, '--scanners', 'vuln', ...args], ENV);
  if (r.code !== 0) throw new Error(`scan ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Every bom-ref in a component tree. */
function refs(components: readonly Component[]): string[] {
  return components.flatMap((c) => [c['bom-ref'], ...refs(c.components ?? [])]);
}

/** The multitool's only complaint may be one missing informationUri per run, while package.json has no homepage. */
function expectMultitoolClean(log: SarifLog): void {
  const problems = multitoolValidate(log).map((p) => `${p.rule}: ${p.message}`);
  const allowed = TOOL.homepage ? [] : log.runs.map(() => expect.stringMatching(/^SARIF2005: .*'informationUri'/));
  expect(problems).toEqual(allowed);
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'scan-formats-'));
  db = join(tmp, 'advisories.db');
  const r = await runCli(['db', 'import', join(ROOT, 'examples', 'advisories'), '--db', db, '-q']);
  expect(r.code).toBe(0);
});

describe('scan -f sarif of the example image', () => {
  it('is valid SARIF 2.1.0 with one result per finding, where the JSON output has them', async () => {
    const json = JSON.parse(await scan(['-f', 'json'])).findings as JsonFinding[];
    const log = JSON.parse(await scan(['-f', 'sarif'])) as SarifLog;
    expect(validateSarif(log)).toEqual([]);
    expectMultitoolClean(log);
    expect(log.runs).toHaveLength(1);
    const run = log.runs[0]!;
    expect(run.automationDetails.id).toBe(`portcullis/${EXAMPLE.replace(/^\//, '')}/linux-amd64/`);
    expect(run.properties).toMatchObject({ digest: expect.stringMatching(/^sha256:/), platform: 'linux/amd64' });
    const got = run.results.map(
      (r) => `${r.ruleId} ${r.properties.purl} ${r.locations[0]?.physicalLocation.artifactLocation.uri}`,
    );
    expect(got.sort()).toEqual(
      json.map((f) => `${f.ruleId} ${f.vulnerability.package.purl} ${f.location.path}`).sort(),
    );
    const rules = run.tool.driver.rules;
    expect(rules.map((r) => r.id).sort()).toEqual([...new Set(json.map((f) => f.ruleId))].sort());
    for (const r of run.results) expect(rules[r.ruleIndex]?.id).toBe(r.ruleId);
    const minimist = run.results.find((r) => r.ruleId === 'CVE-2021-44906')!;
    expect(minimist).toMatchObject({
      level: 'error',
      message: { text: 'minimist 1.2.5 is affected by CVE-2021-44906, fixed in 1.2.6. Upgrade minimist to 1.2.6.' },
    });
    expect(minimist.locations[0]!.physicalLocation.artifactLocation.uri).toBe(
      'srv/app/node_modules/minimist/package.json',
    );
    expect(rules.find((r) => r.id === 'CVE-2021-44906')!.properties).toMatchObject({
      'security-severity': '9.8',
      tags: ['security', 'vulnerability', 'critical'],
    });
    // dpkg packages: their database inside the image
    const openssl = run.results.filter((r) => r.ruleId === 'CVE-2023-3446');
    expect(openssl.map((r) => r.locations[0]!.physicalLocation.artifactLocation.uri)).toEqual([
      'var/lib/dpkg/status',
      'var/lib/dpkg/status',
    ]);
    expect(new Set(openssl.map((r) => r.partialFingerprints.primaryLocationLineHash)).size).toBe(2);
  });

  it('fingerprints the same findings identically in a second run, and writes the same log to -o', async () => {
    const first = JSON.parse(await scan(['-f', 'sarif'])) as SarifLog;
    const out = join(tmp, 'scan.sarif');
    await scan(['-f', 'sarif', '-o', out]);
    const second = JSON.parse(readFileSync(out, 'utf8')) as SarifLog;
    expect(second).toEqual(first);
    const fp = (l: SarifLog) => l.runs[0]!.results.map((r) => r.partialFingerprints);
    expect(new Set(fp(first).map((f) => f['portcullis/v1'])).size).toBe(first.runs[0]!.results.length);
  });

  it('keeps the filters and the exit code', async () => {
    const r = await runCli(['scan', IMAGE, '--db', db, '-f', 'sarif', '--severity', 'critical', '--exit-code', '4']);
    expect(r.code).toBe(4);
    const log = JSON.parse(r.stdout) as SarifLog;
    expect(log.runs[0]!.results.map((x) => x.ruleId)).toEqual(['CVE-2021-44906']);
    expect(log.runs[0]!.tool.driver.rules.map((x) => x.id)).toEqual(['CVE-2021-44906']);
    expect(validateSarif(log)).toEqual([]);
  });
});

describe('scan -f cyclonedx of the example image', () => {
  it("is the image's CycloneDX 1.6 SBOM plus valid vulnerabilities that point at its components", async () => {
    const json = JSON.parse(await scan(['-f', 'json'])).findings as JsonFinding[];
    const bom = JSON.parse(await scan(['-f', 'cyclonedx'])) as Bom;
    expect(validateCycloneDx(bom)).toEqual([]);
    const sbom = JSON.parse((await runCli(['sbom', IMAGE, '-f', 'cyclonedx'], ENV)).stdout) as Bom;
    expect(bom.components).toEqual(sbom.components);
    expect(bom.dependencies).toEqual(sbom.dependencies);
    expect(bom.metadata.component).toEqual(sbom.metadata.component);
    expect(bom.vulnerabilities.map((v) => v.id).sort()).toEqual([...new Set(json.map((f) => f.ruleId))].sort());
    // every affected component is a component of the BOM, and every finding is one affects entry
    const known = new Set(refs(bom.components));
    const affects = bom.vulnerabilities.flatMap((v) => v.affects.map((a) => `${v.id} ${a.ref}`));
    for (const a of bom.vulnerabilities.flatMap((v) => v.affects)) expect(known.has(a.ref)).toBe(true);
    expect(affects.sort()).toEqual(json.map((f) => `${f.ruleId} ${f.vulnerability.package.purl}`).sort());

    const glibc = bom.vulnerabilities.find((v) => v.id === 'CVE-2023-4806')!;
    expect(glibc.affects.map((a) => a.ref).sort()).toEqual([
      'pkg:deb/debian/libc-bin@2.36-9?arch=amd64&distro=debian-12&upstream=glibc',
      'pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc',
    ]);
    // the advisory names the source package glibc, so its fixed version is not a version of libc6 itself
    expect(glibc.affects[0]!.versions).toEqual([{ version: '2.36-9', status: 'affected' }]);
    const curl = bom.vulnerabilities.find((v) => v.id === 'CVE-2023-46218')!;
    expect(curl.affects.find((a) => a.ref.startsWith('pkg:deb/debian/curl@'))!.versions).toEqual([
      { version: '7.88.1-10', status: 'affected' },
      { version: '7.88.1-10+deb12u5', status: 'unaffected' },
    ]);
    expect(curl.advisories.map((a) => a.url)).toContain('https://security-tracker.debian.org/tracker/CVE-2023-46218');

    const lodash = bom.vulnerabilities.find((v) => v.id === 'CVE-2021-23337')!;
    expect(lodash).toMatchObject({
      source: { name: 'NVD', url: 'https://nvd.nist.gov/vuln/detail/CVE-2021-23337' },
      references: [{ id: 'GHSA-35jh-r3h4-6jhm', source: { name: 'GitHub' } }],
      ratings: [
        { method: 'CVSSv31', score: 7.2, severity: 'high', vector: 'CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H' },
      ],
      recommendation: 'upgrade lodash to 4.17.21',
      published: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const urllib3 = bom.vulnerabilities.find((v) => v.id === 'CVE-2023-43804')!;
    expect(urllib3.ratings.map((r) => r.method).sort()).toEqual(['CVSSv31', 'CVSSv4']);
    // no vector at all: the source's own rating, honestly unknown
    const tar = bom.vulnerabilities.find((v) => v.id === 'CVE-2023-39804')!;
    expect(tar.ratings).toEqual([expect.objectContaining({ method: 'other', severity: 'unknown' })]);
  });
});

describe('suppressed findings (VEX)', () => {
  it('are SARIF results with an accepted suppression on request, and CycloneDX vulnerabilities with analysis', async () => {
    const vex = join(tmp, 'app.openvex.json');
    writeFileSync(
      vex,
      JSON.stringify({
        '@context': 'https://openvex.dev/ns/v0.2.0',
        '@id': 'https://example.com/vex/app-1',
        author: 'Example Security',
        timestamp: '2024-01-01T00:00:00Z',
        version: 1,
        statements: [
          {
            vulnerability: { name: 'CVE-2021-44906' },
            products: [{ '@id': 'pkg:npm/minimist@1.2.5' }],
            status: 'not_affected',
            justification: 'vulnerable_code_not_in_execute_path',
          },
        ],
      }),
    );
    const plain = JSON.parse(await scan(['-f', 'sarif', '--vex', vex])) as SarifLog;
    expect(plain.runs[0]!.results.map((r) => r.ruleId)).not.toContain('CVE-2021-44906');
    const shown = JSON.parse(await scan(['-f', 'sarif', '--vex', vex, '--show-suppressed'])) as SarifLog;
    expect(validateSarif(shown)).toEqual([]);
    expectMultitoolClean(shown);
    const minimist = shown.runs[0]!.results.find((r) => r.ruleId === 'CVE-2021-44906')!;
    expect(minimist.suppressions).toEqual([
      expect.objectContaining({
        kind: 'external',
        status: 'accepted',
        justification: expect.stringMatching(
          /^not_affected: vulnerable_code_not_in_execute_path \(.*app\.openvex\.json/,
        ),
      }),
    ]);
    expect(shown.runs[0]!.results.filter((r) => r.suppressions)).toHaveLength(1);

    const bom = JSON.parse(await scan(['-f', 'cyclonedx', '--vex', vex])) as Bom;
    expect(validateCycloneDx(bom)).toEqual([]);
    const v = bom.vulnerabilities.find((x) => x.id === 'CVE-2021-44906')!;
    expect(v.analysis).toEqual({
      state: 'not_affected',
      justification: 'code_not_reachable',
      detail: expect.stringMatching(
        /^VEX status not_affected, justification vulnerable_code_not_in_execute_path; statement: .*app\.openvex\.json/,
      ),
    });
    expect(bom.vulnerabilities.filter((x) => x.analysis)).toHaveLength(1);
  });
});

describe('multi-platform images', () => {
  let multi: string;
  beforeAll(() => {
    // The example image twice: as linux/amd64, and with an arm64 config (same layers) as linux/arm64/v8.
    multi = join(tmp, 'multi');
    cpSync(EXAMPLE, multi, { recursive: true });
    const w = new LayoutWriter(multi);
    const blob = (d: string) => JSON.parse(readFileSync(join(multi, 'blobs', 'sha256', d.slice(7)), 'utf8'));
    const index = JSON.parse(readFileSync(join(EXAMPLE, 'index.json'), 'utf8'));
    const amd = index.manifests[0];
    const manifest = blob(amd.digest);
    const config = { ...blob(manifest.config.digest), architecture: 'arm64', variant: 'v8' };
    const cfg = w.blob(JSON.stringify(config), 'application/vnd.oci.image.config.v1+json');
    const arm = w.blob(JSON.stringify({ ...manifest, config: cfg }), 'application/vnd.oci.image.manifest.v1+json');
    const list = w.platformIndex([
      [
        { mediaType: amd.mediaType, digest: amd.digest, size: amd.size },
        { os: 'linux', architecture: 'amd64' },
      ],
      [arm, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ]);
    w.index([{ ...list, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }]);
  });

  it('SARIF: one run per platform, each its own category', async () => {
    const log = JSON.parse(await scan(['-f', 'sarif', '--all-platforms'], `oci:${multi}:latest`)) as SarifLog;
    expect(validateSarif(log)).toEqual([]);
    expectMultitoolClean(log);
    const base = `portcullis/${multi.replace(/^\//, '')}`;
    expect(log.runs.map((r) => r.automationDetails.id)).toEqual([`${base}/linux-amd64/`, `${base}/linux-arm64-v8/`]);
    expect(log.runs[0]!.results.length).toBeGreaterThan(0);
    expect(log.runs[1]!.results.map((r) => r.ruleId)).toEqual(log.runs[0]!.results.map((r) => r.ruleId));
  });

  it('CycloneDX: one BOM for the index, each platform image a component nesting its packages', async () => {
    const bom = JSON.parse(await scan(['-f', 'cyclonedx', '--all-platforms'], `oci:${multi}:latest`)) as Bom;
    expect(validateCycloneDx(bom)).toEqual([]);
    expect(bom.metadata.component.version).toMatch(/^sha256:/);
    expect(bom.components.map((c) => c.name)).toEqual([
      expect.stringContaining('multi'),
      expect.stringContaining('multi'),
    ]);
    const all = refs(bom.components);
    expect(new Set(all).size).toBe(all.length);
    const [amd, arm] = bom.components as [Component, Component];
    expect(amd.components!.map((c) => c.name)).toEqual(arm.components!.map((c) => c.name));
    const known = new Set(all);
    const lodash = bom.vulnerabilities.find((v) => v.id === 'CVE-2021-23337')!;
    expect(lodash.affects.map((a) => a.ref)).toEqual([
      `${amd['bom-ref']}/pkg:npm/lodash@4.17.20`,
      `${arm['bom-ref']}/pkg:npm/lodash@4.17.20`,
    ]);
    for (const a of bom.vulnerabilities.flatMap((v) => v.affects)) expect(known.has(a.ref)).toBe(true);
    expect(bom.dependencies[0]).toEqual({
      ref: bom.metadata.component['bom-ref'],
      dependsOn: [amd['bom-ref'], arm['bom-ref']],
    });
  });
});
