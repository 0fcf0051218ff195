import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../src/errors.js';
import { walkDirectory } from '../../src/image/dirwalk.js';
import { catalogTree, collectorsFor } from '../../src/inventory/build.js';
import { apkCataloger, parseApkInstalled } from '../../src/inventory/catalogers/apk.js';
import { runCli } from '../helpers/cli.js';
import { catalogTestLayers, type LayerEntry } from '../helpers/layers.js';
import { ROOT } from '../helpers/paths.js';

const FIXTURE = join(ROOT, 'test', 'fixtures', 'apk', 'alpine-3.19');
const DB = readFileSync(join(FIXTURE, 'lib/apk/db/installed'), 'utf8');
const OS_RELEASE = readFileSync(join(FIXTURE, 'etc/os-release'), 'utf8');

async function catalogLayers(layers: LayerEntry[][], maxFileBytes?: number) {
  return catalogTestLayers(layers, [apkCataloger], maxFileBytes === undefined ? {} : { maxFileBytes });
}

/** Stanzas of the fixture, as text, keyed by package name. */
function stanzas(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of text.split('\n\n')) {
    const name = /^P:(.*)$/m.exec(s)?.[1];
    if (name) out.set(name, `${s.trim()}\n`);
  }
  return out;
}

describe('parseApkInstalled', () => {
  it('reads every stanza of the Alpine 3.19 fixture with name, version, arch, origin and licence', () => {
    const db = parseApkInstalled(DB);
    expect(db.badLines).toBe(0);
    expect(db.badStanzas).toEqual([]);
    expect(db.entries.map((e) => e.name)).toEqual([...stanzas(DB).keys()]);
    const binsh = db.entries.find((e) => e.name === 'busybox-binsh');
    expect(binsh).toMatchObject({
      version: '1.36.1-r15',
      arch: 'x86_64',
      origin: 'busybox',
      license: 'GPL-2.0-only',
      installedSize: 8192,
      files: 1,
    });
    expect(db.entries.find((e) => e.name === 'musl')?.files).toBe(2);
    expect(db.entries.find((e) => e.name === 'libc-utils')?.origin).toBe('libc-dev');
  });

  it('takes the package name as origin when the stanza has no o: line, and accepts CRLF', () => {
    const db = parseApkInstalled('P:foo\r\nV:1.0-r0\r\nA:aarch64\r\n\r\nP:bar\nV:2-r1\n');
    expect(db.entries).toEqual([
      { name: 'foo', version: '1.0-r0', arch: 'aarch64', origin: 'foo', files: 0 },
      { name: 'bar', version: '2-r1', arch: '', origin: 'bar', files: 0 },
    ]);
  });

  it('reports stanzas without a name or version and lines that are not key:value', () => {
    const db = parseApkInstalled('P:ok\nV:1-r0\n\nP:noversion\nA:x86_64\n\ngarbage line\nV:3\n');
    expect(db.entries.map((e) => e.name)).toEqual(['ok']);
    expect(db.badStanzas).toEqual([4, 7]);
    expect(db.badLines).toBe(1);
  });

  it('round-trips generated databases', () => {
    const token = fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,20}$/);
    const entry = fc.record({
      name: token,
      version: token,
      arch: fc.constantFrom('x86_64', 'aarch64', 'noarch'),
      origin: token,
      license: fc.constantFrom('MIT', 'GPL-2.0-only', 'MPL-2.0 AND MIT'),
      files: fc.nat(5),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), (entries) => {
        const text = entries
          .map(
            (e) =>
              `P:${e.name}\nV:${e.version}\nA:${e.arch}\nL:${e.license}\no:${e.origin}\nF:usr/lib\n` +
              Array.from({ length: e.files }, (_, i) => `R:f${i}\n`).join(''),
          )
          .join('\n');
        expect(parseApkInstalled(text).entries).toEqual(entries);
      }),
    );
  });

  it('never throws on arbitrary or mutated input, and every entry has a name and version', () => {
    const mutated = fc
      .tuple(fc.nat(DB.length), fc.nat(200), fc.string({ maxLength: 50 }))
      .map(([at, cut, insert]) => DB.slice(0, at) + insert + DB.slice(at + cut));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 2000 }), mutated), (text) => {
        for (const e of parseApkInstalled(text).entries) {
          expect(e.name.length).toBeGreaterThan(0);
          expect(e.version.length).toBeGreaterThan(0);
        }
      }),
    );
  });
});

describe('apk cataloger', () => {
  it('catalogs the Alpine 3.19 fixture as dir: with purls, sources and licences', async () => {
    const { tree } = await walkDirectory(FIXTURE, collectorsFor([apkCataloger]));
    const { os, packages, unknowns } = catalogTree(tree, [apkCataloger]);
    expect(unknowns).toEqual([]);
    expect(os?.versionId).toBe('3.19.1');
    expect(packages).toHaveLength(stanzas(DB).size);
    const binsh = packages.find((p) => p.name === 'busybox-binsh');
    expect(binsh?.purl).toBe(
      'pkg:apk/alpine/busybox-binsh@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1&upstream=busybox',
    );
    expect(binsh?.source).toEqual({ name: 'busybox', version: '1.36.1-r15' });
    expect(binsh?.locations).toEqual([{ path: 'lib/apk/db/installed', layer: 0 }]);
    const busybox = packages.find((p) => p.name === 'busybox');
    expect(busybox?.purl).toBe('pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1');
    expect(busybox?.metadata?.['maintainer']).toBe('Sören Tempel <soeren+alpine@soeren-tempel.net>');
    expect(packages.find((p) => p.name === 'ca-certificates-bundle')?.licenses).toEqual(['MPL-2.0 AND MIT']);
  });

  it('attributes each package to the layer that added or last changed it', async () => {
    const base = stanzas(DB);
    const upgraded = [...base.values()].map((s) => s.replace('V:1.3.1-r0', 'V:1.3.1-r1')).join('\n');
    const curl = 'P:curl\nV:8.5.0-r0\nA:x86_64\nL:curl\no:curl\n\nP:libcurl\nV:8.5.0-r0\nA:x86_64\nL:curl\no:curl\n';
    const { packages, unknowns } = await catalogLayers([
      [
        { path: 'etc/os-release', content: OS_RELEASE },
        { path: 'lib/apk/db/installed', content: DB },
      ],
      [{ path: 'etc/motd', content: 'hello\n' }],
      [{ path: 'lib/apk/db/installed', content: `${upgraded}\n${curl}` }],
    ]);
    expect(unknowns).toEqual([]);
    const layerOf = (name: string) => packages.find((p) => p.name === name)?.layer;
    expect(layerOf('busybox')).toBe(0);
    expect(layerOf('musl')).toBe(0);
    expect(layerOf('curl')).toBe(2);
    expect(layerOf('libcurl')).toBe(2);
    expect(packages.find((p) => p.name === 'zlib')).toMatchObject({ version: '1.3.1-r1', layer: 2 });
    expect(packages.find((p) => p.name === 'libcurl')?.purl).toContain('upstream=curl');
  });

  it('finds the database under usr/lib for apk-tools 3 with a merged /usr', async () => {
    const { packages, unknowns } = await catalogLayers([[{ path: 'usr/lib/apk/db/installed', content: DB }]]);
    expect(unknowns).toEqual([]);
    expect(packages).toHaveLength(stanzas(DB).size);
    expect(packages[0]?.purl.startsWith('pkg:apk/alpine/')).toBe(true);
  });

  it('records a fatal unknown when the database is unreadable', async () => {
    const garbage = await catalogLayers([[{ path: 'lib/apk/db/installed', content: Buffer.from([0, 1, 2, 255, 10]) }]]);
    expect(garbage.packages).toEqual([]);
    expect(garbage.unknowns).toMatchObject([{ path: 'lib/apk/db/installed', fatal: true, cataloger: 'apk' }]);
    expect(garbage.unknowns[0]?.code).toBeUndefined();
    const tooBig = await catalogLayers([[{ path: 'lib/apk/db/installed', content: DB }]], 100);
    expect(tooBig.packages).toEqual([]);
    expect(tooBig.unknowns).toMatchObject([
      { fatal: true, code: 'CONTENT_LIMIT', message: expect.stringContaining('content limit') },
    ]);
  });

  it('a database over a content limit, not a malformed one, is CONTENT_LIMIT with its own hint', async () => {
    // Over the content budget, and a hardlink to a database over --max-file-size: the limit is why, not the link.
    const budget = await catalogTestLayers([[{ path: 'lib/apk/db/installed', content: DB }]], [apkCataloger], {
      maxBufferedBytes: 100,
    });
    expect(budget.unknowns).toMatchObject([
      { fatal: true, code: 'CONTENT_LIMIT', message: expect.stringContaining('--max-content-total') },
    ]);
    const linked = await catalogLayers(
      [
        [
          { path: 'lib/apk/db/installed', content: DB },
          { path: 'usr/lib/apk/db/installed', hardlink: 'lib/apk/db/installed' },
        ],
      ],
      100,
    );
    expect(linked.unknowns.map((u) => [u.path, u.code, u.message])).toEqual([
      [
        'lib/apk/db/installed',
        'CONTENT_LIMIT',
        `apk database file of ${Buffer.byteLength(DB)} bytes is over the 100-byte content limit`,
      ],
      [
        'usr/lib/apk/db/installed',
        'CONTENT_LIMIT',
        `apk database file of ${Buffer.byteLength(DB)} bytes is over the 100-byte content limit`,
      ],
    ]);
    const r = await runCli(['sbom', `dir:${FIXTURE}`, '--max-file-size', '10', '-q']);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe(
      `portcullis: CONTENT_LIMIT: dir:${FIXTURE}: apk: /lib/apk/db/installed: apk database file of ${Buffer.byteLength(DB)} bytes is over the 10-byte content limit\n  hint: ${ERROR_CATALOGUE.CONTENT_LIMIT.solve}\n`,
    );
  });

  it('keeps the readable packages and records a non-fatal unknown for a broken stanza', async () => {
    const { packages, unknowns } = await catalogLayers([
      [{ path: 'lib/apk/db/installed', content: `${DB}\nP:halfwritten\nA:x86_64\n` }],
    ]);
    expect(packages).toHaveLength(stanzas(DB).size);
    expect(unknowns).toMatchObject([{ fatal: false, message: expect.stringContaining('without a name or version') }]);
  });

  it('an empty database means no packages, not an error', async () => {
    const { packages, unknowns } = await catalogLayers([[{ path: 'lib/apk/db/installed', content: '' }]]);
    expect(packages).toEqual([]);
    expect(unknowns).toEqual([]);
  });
});
