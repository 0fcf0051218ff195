import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { CLI, EXAMPLE } from '../helpers/paths.js';
import { validateCycloneDx, validateSpdx } from '../helpers/validate.js';

const IMAGE = `oci:${EXAMPLE}:latest`;
const EXPECTED_DEBS = [
  'base-files@12.4',
  'bash@5.2.15-2+b2',
  'coreutils@9.1-1',
  'curl@7.88.1-10',
  'gzip@1.12-1',
  'libc-bin@2.36-9',
  'libc6@2.36-9',
  'libcurl4@7.88.1-10',
  'libssl3@3.0.9-1',
  'openssl@3.0.9-1',
  'tar@1.34+dfsg-1.2',
  'zlib1g@1:1.2.13.dfsg-1',
];

describe('sbom on the bundled example image', () => {
  it('lists the installed dpkg packages with source packages and introducing layers', async () => {
    const r = await runCli(['sbom', IMAGE, '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const inv = JSON.parse(r.stdout);
    expect(inv.complete).toBe(true);
    expect(inv.os).toMatchObject({
      id: 'debian',
      versionId: '12',
      versionCodename: 'bookworm',
      source: 'etc/os-release',
    });
    const debs = inv.packages.filter((p: { type: string }) => p.type === 'deb');
    expect(debs.map((p: { name: string; version: string }) => `${p.name}@${p.version}`)).toEqual(EXPECTED_DEBS);
    const byName = new Map(debs.map((p: { name: string }) => [p.name, p]));
    // old-tool is in config-files state: its files are gone, so it is not in the inventory.
    expect(byName.has('old-tool')).toBe(false);
    expect(byName.get('curl')).toMatchObject({ layer: 1, licenses: ['curl'] });
    expect(byName.get('openssl')).toMatchObject({ layer: 0, licenses: ['Apache-2.0'] });
    expect(byName.get('libc6')).toMatchObject({
      source: { name: 'glibc', version: '2.36-9' },
      purl: 'pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc',
    });
    const lang = inv.packages.filter((p: { type: string }) => p.type !== 'deb');
    expect(
      lang.map((p: { purl: string; layer: number; locations: { path: string }[] }) => [
        p.purl,
        p.layer,
        p.locations[0]?.path,
      ]),
    ).toEqual([
      ['pkg:npm/lodash@4.17.20', 1, 'srv/app/node_modules/lodash/package.json'],
      ['pkg:npm/minimist@1.2.5', 1, 'srv/app/node_modules/minimist/package.json'],
      ['pkg:pypi/urllib3@1.26.5', 1, 'usr/local/lib/python3.11/site-packages/urllib3-1.26.5.dist-info/METADATA'],
    ]);
    expect(inv.subject.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(inv.subject.layers).toHaveLength(2);
    expect(inv.subject.layers[1].createdBy).toBe('example: add app layer');
  });

  it('writes CycloneDX 1.6 that the official schema accepts', async () => {
    const r = await runCli(['sbom', IMAGE, '--format', 'cyclonedx']);
    expect(r.code).toBe(0);
    const bom = JSON.parse(r.stdout);
    expect(validateCycloneDx(bom)).toEqual([]);
    expect(bom.specVersion).toBe('1.6');
    expect(bom.metadata.component.type).toBe('container');
    expect(bom.compositions[0].aggregate).toBe('complete');
    const purls = bom.components
      .filter((c: { type: string }) => c.type === 'library')
      .map((c: { purl: string }) => c.purl);
    expect(purls).toContain('pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib');
  });

  it('writes SPDX 2.3 that the SPDX tools accept', async () => {
    const r = await runCli(['sbom', IMAGE, '--format', 'spdx']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(() => validateSpdx(doc)).not.toThrow();
    expect(doc.spdxVersion).toBe('SPDX-2.3');
    expect(doc.packages.length).toBeGreaterThan(EXPECTED_DEBS.length);
  });

  it('is reproducible with SOURCE_DATE_EPOCH (only the serial number differs)', async () => {
    const a = await runCli(['sbom', IMAGE, '--format', 'cyclonedx'], { SOURCE_DATE_EPOCH: '1700000000' });
    const b = await runCli(['sbom', IMAGE, '--format', 'cyclonedx'], { SOURCE_DATE_EPOCH: '1700000000' });
    const strip = (s: string) => ({ ...JSON.parse(s), serialNumber: undefined });
    expect(strip(a.stdout)).toEqual(strip(b.stdout));
    expect(JSON.parse(a.stdout).metadata.timestamp).toBe('2023-11-14T22:13:20Z');
  });

  it('shows progress on a terminal (a pseudo-terminal from script(1)) and none when piped', async () => {
    const tty = execFileSync(
      'script',
      ['-qec', `${process.execPath} ${CLI} sbom ${IMAGE} -f json -o /dev/null`, '/dev/null'],
      {
        encoding: 'utf8',
        env: { ...process.env, CI: '' },
      },
    );
    expect(tty).toContain('layers 2/2');
    const piped = await runCli(['sbom', IMAGE, '-f', 'json', '-o', '/dev/null']);
    expect(piped.stderr).toBe('');
  });
});
