import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dpkgCataloger, parseCopyrightLicenses, parseDpkgStatus } from '../../src/inventory/catalogers/dpkg.js';
import { catalogTestLayers, type LayerEntry } from '../helpers/layers.js';

const stanza = (name: string, version: string, status = 'install ok installed') =>
  `Package: ${name}\nStatus: ${status}\nArchitecture: amd64\nVersion: ${version}\n\n`;

async function dpkgOf(layers: LayerEntry[][], opts: { maxFileBytes?: number } = {}) {
  const c = await catalogTestLayers(layers, [dpkgCataloger], opts);
  return {
    packages: c.packages.map((p) => `${p.name}@${p.version}`),
    unknowns: c.unknowns.map((u) => `${u.fatal ? 'fatal' : 'note'}: /${u.path}: ${u.message}`),
  };
}

describe('parseDpkgStatus', () => {
  it('reads Source with and without a version, keeps only packages whose files are present', () => {
    const text = [
      'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9\nDescription: GNU C Library\n  continued line\n .\n more\n',
      'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl (3.0.11-1~deb12u2)\nVersion: 3.0.11-1~deb12u2+b1\n',
      'Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1\n',
      'Package: half\nStatus: install reinstreq half-configured\nArchitecture: all\nVersion: 2\n',
      'Package: purged\nStatus: purge ok not-installed\nArchitecture: all\nVersion: 3\n',
    ].join('\n');
    expect(parseDpkgStatus(text).map((e) => [e.name, e.version, e.sourceName, e.sourceVersion])).toEqual([
      ['libc6', '2.36-9', 'glibc', '2.36-9'],
      ['libssl3', '3.0.11-1~deb12u2+b1', 'openssl', '3.0.11-1~deb12u2'],
      ['half', '2', 'half', '2'],
    ]);
  });

  it('never throws on arbitrary text, and every entry has a name and a version', () => {
    const line = fc.oneof(
      fc.string(),
      fc.constantFrom(
        'Package: a',
        'Version: 1',
        'Status: install ok installed',
        'Source: (',
        'Source: x (',
        ' cont',
        '',
        ':',
        'Package:',
      ),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 40 }), (lines) => {
        for (const e of parseDpkgStatus(lines.join('\n'))) {
          expect(e.name.length).toBeGreaterThan(0);
          expect(e.version.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('dpkg cataloger: a package database it cannot read is never an empty one', () => {
  it('reads the status file and distroless status.d files, .md5sums beside them left alone', async () => {
    const r = await dpkgOf([
      [
        {
          path: 'var/lib/dpkg/status',
          content: stanza('bash', '5.2.15-2+b2') + stanza('gone', '1', 'deinstall ok config-files'),
        },
        {
          path: 'var/lib/dpkg/status.d/tzdata',
          content: stanza('tzdata', '2024a-0+deb12u1').replace(/Status: .*\n/, ''),
        },
        {
          path: 'var/lib/dpkg/status.d/tzdata.md5sums',
          content: 'd41d8cd98f00b204e9800998ecf8427e  usr/share/zoneinfo/UTC\n',
        },
      ],
    ]);
    expect(r).toEqual({ packages: ['bash@5.2.15-2+b2', 'tzdata@2024a-0+deb12u1'], unknowns: [] });
  });

  it('a status.d file over the content limit is a fatal unknown, not a package left out', async () => {
    const big = stanza('coreutils', '9.1-1') + `Description: ${'x'.repeat(4000)}\n`;
    const r = await dpkgOf(
      [
        [
          { path: 'var/lib/dpkg/status.d/base', content: stanza('bash', '5.2.15-2+b2') },
          { path: 'var/lib/dpkg/status.d/coreutils', content: big },
        ],
      ],
      { maxFileBytes: 1024 },
    );
    expect(r.packages).toEqual(['bash@5.2.15-2+b2']);
    expect(r.unknowns).toEqual([
      expect.stringMatching(
        /^fatal: \/var\/lib\/dpkg\/status\.d\/coreutils: dpkg database file of \d+ bytes is over the 1024-byte content limit$/,
      ),
    ]);
  });

  it('a status file that is a symlink, or text with no stanza, is a fatal unknown', async () => {
    const link = await dpkgOf([
      [
        { path: 'usr/lib/dpkg/status', content: stanza('bash', '5.2.15-2+b2') },
        { path: 'var/lib/dpkg/status', symlink: '/usr/lib/dpkg/status' },
      ],
    ]);
    expect(link).toEqual({
      packages: [],
      unknowns: ['fatal: /var/lib/dpkg/status: dpkg database is a symlink, not a regular file'],
    });
    const garbage = await dpkgOf([
      [{ path: 'var/lib/dpkg/status', content: Buffer.from([0, 159, 146, 150, 10, 255]) }],
    ]);
    expect(garbage).toEqual({
      packages: [],
      unknowns: ['fatal: /var/lib/dpkg/status: dpkg database is not in the status format (no Package and Version)'],
    });
    // An empty status file is an image with no packages, not a damaged one.
    expect(await dpkgOf([[{ path: 'var/lib/dpkg/status', content: '' }]])).toEqual({ packages: [], unknowns: [] });
  });
});

describe('parseCopyrightLicenses', () => {
  it('collects the distinct License: short names of a DEP-5 file', () => {
    const text =
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+\n\nFiles: lib/*\nLicense: LGPL-2.1+\n\nLicense: GPL-2+\n This program is free software\n';
    expect(parseCopyrightLicenses(text)).toEqual(['GPL-2+', 'LGPL-2.1+']);
  });
});
