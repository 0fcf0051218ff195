import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { targetOf } from '../../src/advisories/match.js';
import { PortcullisError } from '../../src/errors.js';
import {
  MAX_SBOM_BYTES,
  parseCycloneDxText,
  readCycloneDx,
  type SbomInventory,
} from '../../src/inventory/fromcyclonedx.js';
import { type Inventory, inventoryImage, inventoryRootfs } from '../../src/inventory/image.js';
import type { OsRelease } from '../../src/inventory/model.js';
import { openOciLayout } from '../../src/oci/layout.js';
import { resolveImages } from '../../src/oci/source.js';
import { toCycloneDx } from '../../src/report/sbom/cyclonedx.js';
import { toVulnerabilityCycloneDx } from '../../src/report/vuln-cyclonedx.js';
import { bookwormRootfs, EXAMPLE } from '../helpers/paths.js';

/** The inventories of two real images: the bundled example image and the debootstrap'ed bookworm rootfs. */
let example: Inventory;
let bookworm: Inventory;

beforeAll(async () => {
  const source = openOciLayout(EXAMPLE, 'latest');
  try {
    const [image] = await resolveImages(source);
    if (!image) throw new Error('the example layout holds no image');
    example = await inventoryImage(image);
  } finally {
    await source.close();
  }
  bookworm = await inventoryRootfs(bookwormRootfs(), 'dir:bookworm');
});

/** What the matcher looks up for each package, in order: the thing the SBOM must carry over. */
function targets(inv: Pick<Inventory, 'packages' | 'os'>): string[] {
  return inv.packages.map((p) => `${p.purl} -> ${JSON.stringify(targetOf(p, inv.os) ?? null)}`);
}

/** The document as it travels (JSON text), read back. */
function reread(doc: unknown): SbomInventory {
  return parseCycloneDxText(JSON.stringify(doc), 'test.cdx.json');
}

function refusal(read: () => unknown): string {
  try {
    read();
  } catch (err) {
    if (!(err instanceof PortcullisError)) throw err;
    expect(err.code).toBe('SBOM_INVALID');
    expect(err.message).not.toMatch(/[\n\r\u2028\u2029]/);
    return err.message;
  }
  throw new Error('the document was accepted');
}

describe('CycloneDX back into match targets', () => {
  it('gives the example image back: its packages, OS, digest, layers and the targets matching uses', () => {
    expect(example.packages.length).toBeGreaterThan(10);
    const read = reread(toCycloneDx(example));
    expect(read.platforms).toHaveLength(1);
    const inv = read.platforms[0]?.inv as Inventory;
    expect(targets(inv)).toEqual(targets(example));
    expect(inv.os).toMatchObject({ id: example.os?.id, versionId: example.os?.versionId });
    expect(inv.subject).toMatchObject({
      kind: 'image',
      source: example.subject.source,
      digest: example.subject.digest,
      platform: example.subject.platform,
    });
    expect(inv.subject.layers.map((l) => l.diffId)).toEqual(example.subject.layers.map((l) => l.diffId));
    expect(inv.packages.map((p) => [p.name, p.version, p.layer, p.locations[0]?.path])).toEqual(
      example.packages.map((p) => [p.name, p.version, p.layer, p.locations[0]?.path]),
    );
    // The Debian packages whose source package differs (libc6 from glibc) keep it.
    expect(inv.packages.find((p) => p.name === 'libc6')?.source).toEqual({ name: 'glibc', version: '2.36-9' });
    expect(read.notes).toEqual([]);
  });

  it('gives the bookworm rootfs back with the same targets', () => {
    expect(bookworm.packages.length).toBeGreaterThan(80);
    const read = reread(toCycloneDx(bookworm));
    const inv = read.platforms[0]?.inv as Inventory;
    expect(targets(inv)).toEqual(targets(bookworm));
    expect(inv.subject.kind).toBe('rootfs');
    // Source packages differ for many of them (libc6 from glibc, libssl3 from openssl, ...): the targets show it.
    expect(inv.packages.filter((p) => targetOf(p, inv.os)?.name !== p.name).length).toBeGreaterThan(10);
  });

  it('keeps the targets of any subset of real packages, on any release, in one- and multi-platform documents', () => {
    const all = [...example.packages, ...bookworm.packages];
    // (Without an OS the reader falls back on the purls' distro qualifier, which real packages carry.)
    const releases: OsRelease[] = [
      { id: 'debian', versionId: '12', source: 'etc/os-release' },
      { id: 'debian', versionId: '11', source: 'etc/os-release' },
      { id: 'ubuntu', versionId: '22.04', source: 'etc/os-release' },
      { id: 'alpine', versionId: '3.19.1', source: 'etc/os-release' },
    ];
    const platform = fc.record({
      picks: fc.uniqueArray(fc.nat({ max: all.length - 1 }), { maxLength: 60 }),
      os: fc.constantFrom(...releases),
      arch: fc.constantFrom('amd64', 'arm64', 'riscv64'),
    });
    fc.assert(
      fc.property(fc.array(platform, { minLength: 1, maxLength: 3 }), (specs) => {
        const invs: Inventory[] = specs.map((s, k) => ({
          ...example,
          subject: {
            ...example.subject,
            digest: `sha256:${String(k).repeat(64)}`,
            platform: { os: 'linux', architecture: s.arch },
            ...(specs.length > 1 ? { indexDigest: `sha256:${'f'.repeat(64)}` } : {}),
          },
          os: s.os,
          packages: s.picks.map((i) => all[i] as Inventory['packages'][number]),
        }));
        const doc = toVulnerabilityCycloneDx(invs.map((inv) => ({ inv, findings: [] })));
        const read = reread(doc);
        expect(read.platforms).toHaveLength(invs.length);
        read.platforms.forEach((p, k) => {
          const inv = invs[k] as Inventory;
          expect(targets(p.inv)).toEqual(targets(inv));
          expect(p.inv.subject.digest).toBe(inv.subject.digest);
          expect(p.inv.subject.platform).toEqual(inv.subject.platform);
        });
      }),
      { numRuns: 150 },
    );
  });

  it('reads CycloneDX 1.4 from other writers: purl qualifiers (upstream, distro), npm scopes, Maven groups', () => {
    const doc = {
      bomFormat: 'CycloneDX',
      specVersion: '1.4',
      metadata: { component: { type: 'container', name: 'registry.example/app', version: `sha256:${'a'.repeat(64)}` } },
      components: [
        {
          type: 'library',
          name: 'libssl3',
          version: '3.0.11-1~deb12u2',
          purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl&distro=debian-12',
        },
        {
          type: 'library',
          name: 'libc6',
          purl: 'pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&upstream=glibc%402.36-9%2Bdeb12u4&distro=debian-12',
        },
        { type: 'library', group: '@babel', name: 'core', version: '7.0.0', purl: 'pkg:npm/%40babel/core@7.0.0' },
        {
          type: 'library',
          name: 'log4j-core',
          purl: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1',
          // jars nested in jars, as Java cataloguers write them
          components: [{ type: 'library', name: 'PyYAML', purl: 'pkg:pypi/pyyaml@5.3.1' }],
        },
        { type: 'file', name: 'README' },
        { type: 'library', name: 'left-pad', purl: 'pkg:cargo/left-pad@1.0.0' },
      ],
    };
    const read = reread(doc);
    const inv = read.platforms[0]?.inv as Inventory;
    expect(inv.os).toMatchObject({ id: 'debian', versionId: '12' });
    expect(inv.packages.map((p) => targetOf(p, inv.os))).toEqual([
      { ecosystem: 'Debian:12', name: 'openssl', version: '3.0.11-1~deb12u2' },
      { ecosystem: 'Debian:12', name: 'glibc', version: '2.36-9+deb12u4' },
      { ecosystem: 'npm', name: '@babel/core', version: '7.0.0' },
      { ecosystem: 'Maven', name: 'org.apache.logging.log4j:log4j-core', version: '2.14.1' },
      { ecosystem: 'PyPI', name: 'pyyaml', version: '5.3.1' },
    ]);
    // The component's own spelling is kept when it names the same package.
    expect(inv.packages.map((p) => p.name)).toEqual(['libssl3', 'libc6', '@babel/core', 'log4j-core', 'PyYAML']);
    expect(inv.subject).toMatchObject({ source: 'docker://registry.example/app', digest: `sha256:${'a'.repeat(64)}` });
    expect(read.notes).toEqual([
      '1 component(s) without a purl are not matched',
      "1 component(s) of purl type 'cargo' are not matched (no advisory source for it)",
    ]);
  });
});

describe('hostile CycloneDX', () => {
  const valid = (): Record<string, unknown> => JSON.parse(JSON.stringify(toCycloneDx(example)));

  it('refuses malformed documents with one line naming the document and the JSON path', () => {
    const cases: [unknown, RegExp][] = [
      [[], /^test: \$: expected an object, found an array$/],
      [{ bomFormat: 'SPDX' }, /\$\.bomFormat: expected 'CycloneDX'/],
      [{ bomFormat: 'CycloneDX', specVersion: '1.2' }, /\$\.specVersion: '1\.2' is not one of 1\.4, 1\.5, 1\.6/],
      [{ ...valid(), components: {} }, /\$\.components: expected an array, found an object/],
      [{ ...valid(), components: [7] }, /\$\.components\[0\]: expected an object, found 7/],
      [
        { ...valid(), components: [{ type: 'library', name: 'x', purl: 'pkg:npm/x' }] },
        /\$\.components\[0\]\.purl: 'pkg:npm\/x' has no version/,
      ],
      [
        { ...valid(), components: [{ type: 'library', name: 'x', purl: 'not a purl\nsecond line' }] },
        /\$\.components\[0\]\.purl: 'not a purl\?second line' is not a valid package URL/,
      ],
      [
        {
          ...valid(),
          components: [
            { type: 'operating-system', name: 'debian', version: '12' },
            { type: 'operating-system', name: 'alpine', version: '3.19' },
          ],
        },
        /\$\.components\[1\]: a second operating system \(debian is at \$\.components\[0\]\)/,
      ],
      [
        {
          ...valid(),
          components: [
            {
              type: 'library',
              name: 'x',
              purl: 'pkg:npm/x@1',
              properties: [{ name: 'portcullis:layer:index', value: '99999999' }],
            },
          ],
        },
        /\$\.components\[0\]\.properties: portcullis:layer:index '99999999' is not an index below 4096/,
      ],
    ];
    for (const [doc, message] of cases) expect(refusal(() => readCycloneDx(doc, 'test'))).toMatch(message);
  });

  it('bounds nesting, component count, properties and size', () => {
    let deep: Record<string, unknown> = { type: 'library', name: 'leaf', purl: 'pkg:npm/leaf@1.0.0' };
    for (let i = 0; i < 40; i++) deep = { type: 'library', name: `n${i}`, components: [deep] };
    expect(refusal(() => readCycloneDx({ ...valid(), components: [deep] }, 'deep'))).toMatch(
      /^deep: \$\.components\[0\](\.components\[0\]){17}: components nested deeper than 16$/,
    );
    const many = Array.from({ length: 200_001 }, () => ({ type: 'file', name: 'f' }));
    expect(refusal(() => readCycloneDx({ ...valid(), components: many }, 'many'))).toMatch(
      /^many: \$\.components: more than 200000 entries$/,
    );
    const props = Array.from({ length: 5000 }, (_, i) => ({ name: `p${i}`, value: 'v' }));
    expect(
      refusal(() =>
        readCycloneDx(
          { ...valid(), components: [{ type: 'library', name: 'x', purl: 'pkg:npm/x@1', properties: props }] },
          'props',
        ),
      ),
    ).toMatch(/^props: \$\.components\[0\]\.properties: more than 4096 entries$/);
    expect(refusal(() => parseCycloneDxText(Buffer.alloc(MAX_SBOM_BYTES + 1, 0x20), 'huge'))).toBe(
      'huge: larger than 64 MiB',
    );
    expect(refusal(() => parseCycloneDxText('{"bomFormat": "CycloneDX", ', 'cut'))).toMatch(/^cut: \$: not valid JSON/);
    // Nesting past any stack, in JSON text: parsed without recursion, then refused by shape.
    expect(refusal(() => parseCycloneDxText(`${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`, 'brackets'))).toMatch(
      /^brackets: \$: expected an object, found an array$/,
    );
  });

  /** Read a document: either it reads, or one SBOM_INVALID line; never another error. */
  function check(doc: unknown): 'read' | 'refused' {
    try {
      const read = readCycloneDx(doc, 'fuzz');
      for (const p of read.platforms) for (const pkg of p.inv.packages) targetOf(pkg, p.inv.os);
      return 'read';
    } catch (err) {
      if (!(err instanceof PortcullisError) || err.code !== 'SBOM_INVALID') throw err;
      expect(err.message).toMatch(/^fuzz: \$/);
      expect(err.message).not.toMatch(/[\n\r\u2028\u2029]/);
      return 'refused';
    }
  }

  it('fuzz: arbitrary JSON is read or refused with one line', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        check(v);
        check({ bomFormat: 'CycloneDX', specVersion: '1.6', components: v });
        check({ bomFormat: 'CycloneDX', specVersion: '1.5', components: [{ type: 'library', purl: v, name: v }] });
      }),
      { numRuns: 1000 },
    );
  });

  it('fuzz: a real SBOM with one value anywhere replaced is read or refused with one line', () => {
    const base = valid();
    // Every path in the document, so the mutation can land anywhere.
    const paths: (string | number)[][] = [];
    const collect = (v: unknown, path: (string | number)[]): void => {
      paths.push(path);
      if (Array.isArray(v)) for (const [i, x] of v.entries()) collect(x, [...path, i]);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) collect(x, [...path, k]);
    };
    collect(base, []);
    const seen = { read: 0, refused: 0 };
    fc.assert(
      fc.property(fc.nat({ max: paths.length - 1 }), fc.jsonValue({ maxDepth: 3 }), (i, value) => {
        const doc = JSON.parse(JSON.stringify(base));
        const path = paths[i] as (string | number)[];
        if (path.length === 0) {
          seen[check(value)]++;
          return;
        }
        let parent = doc;
        for (const k of path.slice(0, -1)) parent = parent[k];
        parent[path[path.length - 1] as string] = value;
        seen[check(doc)]++;
      }),
      { numRuns: 2000 },
    );
    expect(seen.read).toBeGreaterThan(100);
    expect(seen.refused).toBeGreaterThan(100);
  });
});
