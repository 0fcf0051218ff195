import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCopyrightLicenses, parseDpkgStatus } from '../../src/inventory/catalogers/dpkg.js';

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

describe('parseCopyrightLicenses', () => {
  it('collects the distinct License: short names of a DEP-5 file', () => {
    const text =
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+\n\nFiles: lib/*\nLicense: LGPL-2.1+\n\nLicense: GPL-2+\n This program is free software\n';
    expect(parseCopyrightLicenses(text)).toEqual(['GPL-2+', 'LGPL-2.1+']);
  });
});
