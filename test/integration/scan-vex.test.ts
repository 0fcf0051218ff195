import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as CDX from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { CACHE, EXAMPLE, ROOT } from '../helpers/paths.js';
import { validateCycloneDx } from '../helpers/validate.js';

/**
 * `scan --vex` end to end on the example image. The OpenVEX documents are written by go-vex (the OpenVEX project's
 * library, test/fixtures/openvexgen, built by `npm run setup`) and the CycloneDX ones by the CycloneDX library, so
 * the input is not only Portcullis's own reading of the specs.
 */

const IMAGE = `oci:${EXAMPLE}:latest`;
const OPENVEXGEN = join(CACHE, 'go', 'bin', 'openvexgen');
const OTHER_DIGEST = `sha256:${'0f'.repeat(32)}`;
let dir: string;
let db: string;
let digest: string;
let baseline: string[];

type F = {
  ruleId: string;
  vulnerability: { package: { name: string; purl: string } };
  suppression?: { kind: string; status: string; justification?: string; source: string };
};
const key = (f: F) => `${f.vulnerability.package.name} ${f.ruleId}`;

interface GenStatement {
  vulnerability: string;
  aliases?: string[];
  products: { id: string; subcomponents?: string[] }[];
  status: string;
  justification?: string;
  impact?: string;
}

/** Write an OpenVEX document with go-vex. */
function openvex(name: string, statements: GenStatement[]): string {
  if (!existsSync(OPENVEXGEN)) throw new Error(`${OPENVEXGEN} is missing: run 'npm run setup' (it builds it once)`);
  const r = spawnSync(OPENVEXGEN, [], {
    input: JSON.stringify({ author: 'Portcullis tests', timestamp: '2024-01-02T03:04:05Z', statements }),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`openvexgen failed: ${r.stderr}`);
  const file = join(dir, name);
  writeFileSync(file, r.stdout);
  return file;
}

/** Write a CycloneDX 1.6 VEX with the CycloneDX library: the image as metadata.component, one package affected. */
function cyclonedx(name: string, imageDigest: string, vuln: string, pkgPurl: string): string {
  const { Models, Enums } = CDX;
  const bom = new Models.Bom({ serialNumber: 'urn:uuid:0b5e6a8a-8d8c-4a51-9d3b-3f0a4c2b7e11' });
  bom.metadata.timestamp = new Date('2024-01-02T03:04:05Z');
  bom.metadata.component = new Models.Component(Enums.ComponentType.Container, 'debian-app', {
    bomRef: 'image',
    purl: PackageURL.fromString(`pkg:oci/debian-app@${encodeURIComponent(imageDigest)}`),
  });
  const p = PackageURL.fromString(pkgPurl);
  const pkg = new Models.Component(Enums.ComponentType.Library, p.name, {
    bomRef: pkgPurl,
    ...(p.version ? { version: p.version } : {}),
    purl: p,
  });
  bom.components.add(pkg);
  const v = new Models.Vulnerability.Vulnerability({
    id: vuln,
    analysis: new Models.Vulnerability.Analysis({
      state: Enums.Vulnerability.AnalysisState.NotAffected,
      justification: Enums.Vulnerability.AnalysisJustification.RequiresConfiguration,
      detail: 'the image never follows cross-origin redirects',
    }),
  });
  v.affects.add(new Models.Vulnerability.Affect(pkg.bomRef));
  bom.vulnerabilities.add(v);
  const text = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot6)).serialize(
    bom,
  );
  expect(validateCycloneDx(JSON.parse(text))).toEqual([]);
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function scanJson(...args: string[]): Promise<{ code: number; findings: F[]; suppressed: F[]; stderr: string }> {
  const r = await runCli(['scan', IMAGE, '--db', db, '-f', 'json', '--scanners', 'vuln', ...args]);
  expect(r.stderr).not.toMatch(/VEX_INVALID|INTERNAL/);
  const out = JSON.parse(r.stdout);
  return { code: r.code, findings: out.findings, suppressed: out.suppressed, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scan-vex-'));
  db = join(dir, 'advisories.db');
  const r = await runCli(['db', 'import', join(ROOT, 'examples', 'advisories'), '--db', db, '-q']);
  expect(r.code).toBe(0);
  const out = JSON.parse((await runCli(['scan', IMAGE, '--db', db, '-f', 'json', '--scanners', 'vuln'])).stdout);
  digest = out.subject.digest;
  expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  baseline = (out.findings as F[]).map(key).sort();
  expect(baseline).toContain('minimist CVE-2021-44906');
  expect(out.suppressed).toEqual([]);
});

describe('scan --vex on the example image', () => {
  it('an OpenVEX not_affected statement for the image digest suppresses exactly that finding, and cites it', async () => {
    const file = openvex('minimist.openvex.json', [
      {
        vulnerability: 'CVE-2021-44906',
        products: [{ id: `pkg:oci/debian-app@${encodeURIComponent(digest)}` }],
        status: 'not_affected',
        justification: 'vulnerable_code_not_in_execute_path',
        impact: 'minimist only parses the build arguments',
      },
    ]);
    const r = await scanJson('--vex', file);
    expect(r.code).toBe(0);
    expect(r.findings.map(key).sort()).toEqual(baseline.filter((k) => k !== 'minimist CVE-2021-44906'));
    expect(r.suppressed.map(key)).toEqual(['minimist CVE-2021-44906']);
    expect(r.suppressed[0]?.suppression).toMatchObject({
      kind: 'vex',
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path: minimist only parses the build arguments',
      source: expect.stringMatching(
        new RegExp(
          `^OpenVEX ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(https://openvex\\.dev/docs/public/vex-[0-9a-f]{64}\\) \\$\\.statements\\[0\\]$`,
        ),
      ),
    });

    // The only critical finding is suppressed: --exit-code no longer fires; without the VEX it does.
    const gate = ['--severity', 'critical', '--exit-code', '1'];
    expect((await scanJson(...gate)).code).toBe(1);
    expect((await scanJson(...gate, '--vex', file)).code).toBe(0);

    // The table says how many were suppressed; --show-suppressed lists them with the statement.
    const table = await runCli(['scan', IMAGE, '--db', db, '--vex', file]);
    expect(table.stdout).toMatch(/^Suppressed by VEX: 1 \(--show-suppressed lists them\)$/m);
    expect(table.stdout).toMatch(/^Vulnerabilities: 12 /m);
    expect(table.stdout).not.toMatch(/minimist/);
    const shown = await runCli(['scan', IMAGE, '--db', db, '--vex', file, '--show-suppressed']);
    expect(shown.stdout).toMatch(
      /^minimist\s+CVE-2021-44906\s+CRITICAL\s+not_affected\s+vulnerable_code_not_in_execute_path/m,
    );
  });

  it('subcomponents narrow a statement to the packages they name', async () => {
    const file = openvex('libc6.openvex.json', [
      {
        vulnerability: 'CVE-2023-4806',
        products: [{ id: digest, subcomponents: ['pkg:deb/debian/libc6@2.36-9?arch=amd64'] }],
        status: 'fixed',
      },
    ]);
    const r = await scanJson('--vex', file);
    expect(r.suppressed.map(key)).toEqual(['libc6 CVE-2023-4806']);
    expect(r.findings.map(key)).toContain('libc-bin CVE-2023-4806');
  });

  it('a CycloneDX VEX not_affected analysis for a package of the image suppresses exactly that finding', async () => {
    const file = cyclonedx('urllib3.cdx.json', digest, 'CVE-2023-43804', 'pkg:pypi/urllib3@1.26.5');
    const r = await scanJson('--vex', file);
    expect(r.findings.map(key).sort()).toEqual(baseline.filter((k) => k !== 'urllib3 CVE-2023-43804'));
    expect(r.suppressed.map(key)).toEqual(['urllib3 CVE-2023-43804']);
    expect(r.suppressed[0]?.suppression).toMatchObject({
      status: 'not_affected',
      justification: 'requires_configuration: the image never follows cross-origin redirects',
      source: `CycloneDX VEX ${file} (urn:uuid:0b5e6a8a-8d8c-4a51-9d3b-3f0a4c2b7e11) $.vulnerabilities[0]`,
    });
  });

  it('statements about another image digest suppress nothing', async () => {
    const ov = openvex('other.openvex.json', [
      {
        vulnerability: 'CVE-2021-44906',
        products: [{ id: `pkg:oci/debian-app@${encodeURIComponent(OTHER_DIGEST)}` }],
        status: 'not_affected',
        justification: 'component_not_present',
      },
      {
        vulnerability: 'CVE-2023-4806',
        products: [{ id: OTHER_DIGEST, subcomponents: ['pkg:deb/debian/libc6'] }],
        status: 'fixed',
      },
      // No digest: could be any build of any image of that name, so it is reported and matches nothing.
      { vulnerability: 'CVE-2021-23337', products: [{ id: 'pkg:oci/debian-app?tag=latest' }], status: 'fixed' },
    ]);
    const cdx = cyclonedx('other.cdx.json', OTHER_DIGEST, 'CVE-2023-43804', 'pkg:pypi/urllib3@1.26.5');
    const r = await scanJson('--vex', ov, '--vex', cdx);
    expect(r.suppressed).toEqual([]);
    expect(r.findings.map(key).sort()).toEqual(baseline);
    expect(r.stderr).toMatch(
      /^portcullis: warning: vex: .*other\.openvex\.json: \$\.statements\[\d\]\.products\[0\]: 'pkg:oci\/debian-app\?tag=latest' names an image without a digest; images are matched by digest only; no finding can match it$/m,
    );
  });

  it('refuses a malformed VEX document before scanning: exit 2, one line naming the file and the JSON path', async () => {
    const bad = join(dir, 'bad.openvex.json');
    writeFileSync(
      bad,
      JSON.stringify({
        '@context': 'https://openvex.dev/ns/v0.2.0',
        '@id': 'urn:bad',
        timestamp: '2024-01-02T03:04:05Z',
        statements: [{ vulnerability: { name: 'CVE-2021-44906' }, products: [{ '@id': digest }], status: 'gone' }],
      }),
    );
    const r = await runCli(['scan', IMAGE, '--db', db, '--vex', bad]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(
      `portcullis: VEX_INVALID: ${bad}: $.statements[0].status: 'gone' is not one of not_affected, affected, fixed, under_investigation`,
    );
    // Bounded: a file over the limit is refused from its size, before it is read (a sparse file: no disk used).
    const huge = join(dir, 'huge.json');
    writeFileSync(huge, '');
    truncateSync(huge, 65 * 1024 * 1024);
    const big = await runCli(['scan', IMAGE, '--db', db, '--vex', huge]);
    expect(big.code).toBe(2);
    expect(big.stderr).toMatch(/^portcullis: VEX_INVALID: .*huge\.json: larger than 64 MiB$/m);
    const missing = await runCli(['scan', IMAGE, '--db', db, '--vex', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/NOT_FOUND: --vex .*nope\.json: no such file/);
  });
});
