import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isPackageRootManifest,
  manifestLicenses,
  parsePackageManifest,
} from '../../src/inventory/catalogers/npm/manifest.js';
import { parsePackageLock } from '../../src/inventory/catalogers/npm/packagelock.js';
import { parsePnpmKey, parsePnpmLock } from '../../src/inventory/catalogers/npm/pnpm.js';
import { parseYarnBerry, parseYarnV1, yarnProductionPackages } from '../../src/inventory/catalogers/npm/yarn.js';
import { npmCataloger } from '../../src/inventory/catalogers/npm.js';
import { catalogTestLayers, type LayerEntry } from '../helpers/layers.js';

async function catalogLayers(layers: LayerEntry[][]) {
  return catalogTestLayers(layers, [npmCataloger]);
}

const nv = (ps: readonly { name: string; version: string }[]) => ps.map((p) => `${p.name}@${p.version}`).sort();
const manifest = (name: string, version: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ name, version, ...extra });

describe('isPackageRootManifest', () => {
  it.each([
    ['node_modules/lodash/package.json', true],
    ['app/node_modules/@babel/code-frame/package.json', true],
    ['usr/local/lib/node_modules/npm/node_modules/@npmcli/arborist/package.json', true],
    ['app/node_modules/send/node_modules/ms/package.json', true],
    ['app/node_modules/.pnpm/lodash@4.17.20/node_modules/lodash/package.json', true],
    ['app/node_modules/.pnpm/@babel+code-frame@7.26.2/node_modules/@babel/code-frame/package.json', true],
    ['app/.yarn/unplugged/esbuild-npm-0.19.0-abc/node_modules/esbuild/package.json', true],
    ['app/package.json', false],
    ['node_modules/package.json', false],
    ['node_modules/@babel/package.json', false],
    ['node_modules/lodash/lib/package.json', false],
    ['node_modules/esm-pkg/dist/esm/package.json', false],
    ['node_modules/foo/test/fixtures/node_modules/bar/package.json', false],
    ['node_modules/.package-lock.json', false],
    ['node_modules/.bin/package.json', false],
    ['node_modules/.pnpm/node_modules/lodash/package.json', false],
    ['node_modules/@scope/@other/package.json', false],
    ['node_modules/lodash/package.json.bak', false],
  ])('%s -> %s', (path, want) => {
    expect(isPackageRootManifest(path)).toBe(want);
  });

  it('never throws on arbitrary paths', () => {
    const seg = fc.constantFrom('node_modules', '.pnpm', '@s', 'a', 'package.json', '', '.x', 'a@1');
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 12 }), (parts) => {
        expect(typeof isPackageRootManifest(parts.join('/'))).toBe('boolean');
      }),
    );
  });
});

describe('package.json', () => {
  it.each([
    [{ license: 'MIT' }, ['MIT']],
    [{ license: '(MIT OR Apache-2.0)' }, ['(MIT OR Apache-2.0)']],
    [{ license: { type: 'ISC', url: 'https://example.org' } }, ['ISC']],
    [{ licenses: [{ type: 'MIT' }, { type: 'Apache-2.0' }] }, ['MIT', 'Apache-2.0']],
    [{ licenses: ['BSD-3-Clause'] }, ['BSD-3-Clause']],
    [{ licenses: { type: 'GPL-2.0' } }, ['GPL-2.0']],
    [{ license: 'MIT', licenses: [{ type: 'MIT' }] }, ['MIT']],
    [{ license: 42 }, []],
    [{}, []],
  ])('licences of %j', (doc, want) => {
    expect(manifestLicenses(doc)).toEqual(want);
  });

  it('needs a name and a version, and says why it could not read a file', () => {
    expect(parsePackageManifest(manifest('a', '1.0.0', { license: 'MIT' }))).toEqual({
      ok: true,
      value: { name: 'a', version: '1.0.0', licenses: ['MIT'] },
    });
    expect(parsePackageManifest('{"name": "a"')).toMatchObject({ ok: false, reason: /not valid JSON/ });
    expect(parsePackageManifest('[]')).toMatchObject({ ok: false, reason: /not a JSON object/ });
    expect(parsePackageManifest('{"version": "1.0.0"}')).toMatchObject({ ok: false, reason: /no name/ });
    expect(parsePackageManifest('{"name": "a"}')).toMatchObject({ ok: false, reason: /no version/ });
  });

  it('never throws on arbitrary JSON or text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (text) => {
          const r = parsePackageManifest(text);
          if (r.ok) expect(r.value.name.length).toBeGreaterThan(0);
          else expect(r.reason.length).toBeGreaterThan(0);
        },
      ),
    );
  });
});

const LOCK_V2 = JSON.stringify({
  name: 'app',
  lockfileVersion: 2,
  packages: {
    '': { name: 'app', dependencies: { express: '4.21.2' }, devDependencies: { chalk: '4.1.2' } },
    'node_modules/express': { version: '4.21.2', resolved: 'https://r/express.tgz', integrity: 'sha512-x' },
    'node_modules/ms': { version: '2.0.0' },
    'node_modules/send/node_modules/ms': { version: '2.1.3' },
    'node_modules/@babel/code-frame': { version: '7.26.2', license: 'MIT' },
    'node_modules/string-width-cjs': { name: 'string-width', version: '4.2.3' },
    'node_modules/fsevents': { version: '2.3.3', optional: true },
    'node_modules/chalk': { version: '4.1.2', dev: true },
    'node_modules/local-lib': { resolved: 'packages/local-lib', link: true },
    'packages/local-lib': { name: 'local-lib', version: '0.0.1' },
  },
  dependencies: { ignored: { version: '9.9.9' } },
});

const LOCK_V1 = JSON.stringify({
  name: 'app',
  lockfileVersion: 1,
  dependencies: {
    express: { version: '4.21.2', requires: { send: '0.19.0' } },
    send: { version: '0.19.0', dependencies: { ms: { version: '2.1.3' } } },
    ms: { version: '2.0.0' },
    'string-width-cjs': { version: 'npm:string-width@4.2.3' },
    chalk: { version: '4.1.2', dev: true, dependencies: { 'has-flag': { version: '4.0.0', dev: true } } },
    mine: { version: 'file:packages/mine' },
  },
});

describe('package-lock.json', () => {
  it('v2/v3: reads the packages map, without dev entries, links or workspace folders', () => {
    const r = parsePackageLock(LOCK_V2);
    expect(r.ok && nv(r.value)).toEqual([
      '@babel/code-frame@7.26.2',
      'express@4.21.2',
      'fsevents@2.3.3',
      'ms@2.0.0',
      'ms@2.1.3',
      'string-width@4.2.3',
    ]);
    expect(r.ok && r.value.find((p) => p.name === 'express')).toEqual({
      name: 'express',
      version: '4.21.2',
      resolved: 'https://r/express.tgz',
      integrity: 'sha512-x',
    });
  });

  it('v1: walks the nested dependencies tree, resolves npm: aliases, skips dev subtrees and file: links', () => {
    const r = parsePackageLock(LOCK_V1);
    expect(r.ok && nv(r.value)).toEqual([
      'express@4.21.2',
      'ms@2.0.0',
      'ms@2.1.3',
      'send@0.19.0',
      'string-width@4.2.3',
    ]);
  });

  it('survives deep nesting and rejects what is not a lockfile', () => {
    const depth = 20_000;
    const deep = `{"lockfileVersion":1,"dependencies":${'{"d":{"version":"1.0.0","dependencies":'.repeat(depth)}{}${'}}'.repeat(depth)}}`;
    const r = parsePackageLock(deep);
    expect(r.ok && r.value.length).toBe(depth);
    expect(parsePackageLock('{}')).toMatchObject({ ok: false });
    expect(parsePackageLock('nope')).toMatchObject({ ok: false });
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.constantFrom(LOCK_V1, LOCK_V2)), (text) => {
        expect(typeof parsePackageLock(text).ok).toBe('boolean');
      }),
    );
  });
});

const YARN_V1 = `# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@7.26.2":
  version "7.26.2"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.26.2.tgz#4b5f"
  integrity sha512-RJlI
  dependencies:
    "@babel/helper-validator-identifier" "^7.25.9"
    js-tokens "^4.0.0"

"@babel/helper-validator-identifier@^7.25.9":
  version "7.29.7"

chalk@4.1.2:
  version "4.1.2"
  dependencies:
    has-flag "^4.0.0"

has-flag@^4.0.0:
  version "4.0.0"

js-tokens@^4.0.0:
  version "4.0.0"

ms@2.0.0, ms@^2.0.0:
  version "2.0.0"

"string-width-cjs@npm:string-width@^4.2.0":
  version "4.2.3"
`;

const YARN_BERRY = `# This file is generated by running "yarn install" inside your project.
# Manual changes might be lost - proceed with caution!

__metadata:
  version: 8
  cacheKey: 10c0

"@babel/code-frame@npm:7.26.2":
  version: 7.26.2
  resolution: "@babel/code-frame@npm:7.26.2"
  dependencies:
    js-tokens: "npm:^4.0.0"
  checksum: 10c0/7d79
  languageName: node
  linkType: hard

"chalk@npm:4.1.2":
  version: 4.1.2
  resolution: "chalk@npm:4.1.2"
  languageName: node
  linkType: hard

"js-tokens@npm:^4.0.0":
  version: 4.0.0
  resolution: "js-tokens@npm:4.0.0"
  languageName: node
  linkType: hard

"npm-fixture@workspace:.":
  version: 0.0.0-use.local
  resolution: "npm-fixture@workspace:."
  dependencies:
    "@babel/code-frame": "npm:7.26.2"
    chalk: "npm:4.1.2"
  languageName: unknown
  linkType: soft
`;

describe('yarn.lock', () => {
  it('v1: reads entries, quoted and multi-specifier headers, aliases and dependency edges', () => {
    const r = parseYarnV1(YARN_V1);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(nv(r.value)).toEqual([
      '@babel/code-frame@7.26.2',
      '@babel/helper-validator-identifier@7.29.7',
      'chalk@4.1.2',
      'has-flag@4.0.0',
      'js-tokens@4.0.0',
      'ms@2.0.0',
      'string-width@4.2.3',
    ]);
    expect(r.value.find((e) => e.name === 'ms')?.specifiers).toEqual(['ms@2.0.0', 'ms@^2.0.0']);
    expect(r.value[0]?.dependencies).toEqual(['@babel/helper-validator-identifier@^7.25.9', 'js-tokens@^4.0.0']);
    expect(r.value[0]?.integrity).toBe('sha512-RJlI');
  });

  it('follows production dependencies from the project package.json and leaves dev-only entries out', () => {
    const roots = new Map([['@babel/code-frame', '7.26.2']]);
    const v1 = yarnProductionPackages(YARN_V1, roots);
    expect(v1.ok && nv(v1.value)).toEqual([
      '@babel/code-frame@7.26.2',
      '@babel/helper-validator-identifier@7.29.7',
      'js-tokens@4.0.0',
    ]);
    const berry = yarnProductionPackages(YARN_BERRY, roots);
    expect(berry.ok && nv(berry.value)).toEqual(['@babel/code-frame@7.26.2', 'js-tokens@4.0.0']);
  });

  it('berry: reads the YAML entries and never reports the workspace itself', () => {
    const r = parseYarnBerry(YARN_BERRY);
    expect(r.ok && r.value.filter((e) => e.local).map((e) => e.name)).toEqual(['npm-fixture']);
    const all = yarnProductionPackages(YARN_BERRY, undefined);
    expect(all.ok && nv(all.value)).toEqual(['@babel/code-frame@7.26.2', 'chalk@4.1.2', 'js-tokens@4.0.0']);
  });

  it('never throws on arbitrary or mutated input', () => {
    const mutate = (base: string) =>
      fc
        .tuple(fc.nat(base.length), fc.nat(40), fc.string({ maxLength: 20 }))
        .map(([at, cut, ins]) => base.slice(0, at) + ins + base.slice(at + cut));
    fc.assert(
      fc.property(fc.oneof(fc.string(), mutate(YARN_V1), mutate(YARN_BERRY)), (text) => {
        expect(typeof yarnProductionPackages(text, new Map([['chalk', '4.1.2']])).ok).toBe('boolean');
        expect(typeof parseYarnV1(text).ok).toBe('boolean');
      }),
    );
  });
});

const PNPM_V5 = `lockfileVersion: 5.4

specifiers:
  express: 4.21.2

dependencies:
  express: 4.21.2

devDependencies:
  chalk: 4.1.2

packages:

  /express/4.21.2:
    resolution: {integrity: sha512-abc}
    dependencies:
      ms: 2.0.0
    dev: false

  /ms/2.0.0:
    resolution: {integrity: sha512-def}
    dev: false

  /@babel/code-frame/7.26.2:
    dev: false

  /react-dom/18.2.0_react@18.2.0:
    dev: false

  /chalk/4.1.2:
    dev: true
`;

const PNPM_V6 = `lockfileVersion: '6.0'

dependencies:
  express:
    specifier: 4.21.2
    version: 4.21.2

packages:

  /express@4.21.2:
    resolution: {integrity: sha512-abc}
    dev: false

  /@babel/code-frame@7.26.2:
    dev: false

  /react-dom@18.2.0(react@18.2.0):
    dev: false

  /chalk@4.1.2:
    dev: true
`;

const PNPM_V9 = `lockfileVersion: '9.0'

importers:

  .:
    dependencies:
      express:
        specifier: 4.21.2
        version: 4.21.2
      react-dom:
        specifier: 18.2.0
        version: 18.2.0(react@18.2.0)
      string-width-cjs:
        specifier: npm:string-width@^4.2.0
        version: string-width@4.2.3
      mine:
        specifier: link:../mine
        version: link:../mine
    devDependencies:
      chalk:
        specifier: 4.1.2
        version: 4.1.2

packages:

  chalk@4.1.2:
    resolution: {integrity: sha512-c}

  express@4.21.2:
    resolution: {integrity: sha512-e}

  ms@2.0.0:
    resolution: {integrity: sha512-m}

  react@18.2.0:
    resolution: {integrity: sha512-r}

  react-dom@18.2.0:
    resolution: {integrity: sha512-rd}

  string-width@4.2.3:
    resolution: {integrity: sha512-s}

snapshots:

  chalk@4.1.2: {}

  express@4.21.2:
    dependencies:
      ms: 2.0.0

  ms@2.0.0: {}

  react@18.2.0: {}

  react-dom@18.2.0(react@18.2.0):
    dependencies:
      react: 18.2.0

  string-width@4.2.3: {}
`;

describe('pnpm-lock.yaml', () => {
  it.each([
    ['/express/4.21.2', true, 'express@4.21.2'],
    ['/@babel/code-frame/7.26.2', true, '@babel/code-frame@7.26.2'],
    ['/react-dom/18.2.0_react@18.2.0', true, 'react-dom@18.2.0'],
    ['/express@4.21.2', false, 'express@4.21.2'],
    ['/react-dom@18.2.0(react@18.2.0)', false, 'react-dom@18.2.0'],
    ['@babel/code-frame@7.26.2', false, '@babel/code-frame@7.26.2'],
  ])('key %s (v5: %s) -> %s', (key, v5, want) => {
    const p = parsePnpmKey(key, v5);
    expect(p && `${p.name}@${p.version}`).toBe(want);
  });

  it.each([
    ['v5.4', PNPM_V5, ['@babel/code-frame@7.26.2', 'express@4.21.2', 'ms@2.0.0', 'react-dom@18.2.0']],
    ['v6.0', PNPM_V6, ['@babel/code-frame@7.26.2', 'express@4.21.2', 'react-dom@18.2.0']],
    ['v9.0', PNPM_V9, ['express@4.21.2', 'ms@2.0.0', 'react-dom@18.2.0', 'react@18.2.0', 'string-width@4.2.3']],
  ])('%s: production packages only', (_, text, want) => {
    const r = parsePnpmLock(text);
    expect(r.ok && nv(r.value)).toEqual(want);
  });

  it('reads a lockfile of 30,000 entries whole (duplicate keys found in one pass), and refuses duplicate keys', () => {
    const many = Array.from(
      { length: 30_000 },
      (_, i) => `  /pkg${i}@1.0.${i}:\n    resolution: {integrity: sha512-x}\n    dev: false\n`,
    );
    const big = parsePnpmLock(`lockfileVersion: '6.0'\npackages:\n${many.join('')}`);
    expect(big.ok && big.value.length).toBe(30_000);
    expect(big.ok && `${big.value[29_999]?.name}@${big.value[29_999]?.version}`).toBe('pkg29999@1.0.29999');
    const dup = `lockfileVersion: '6.0'\npackages:\n${many[0]}${many[1]}${many[0]}`;
    expect(parsePnpmLock(dup)).toEqual({
      ok: false,
      reason: 'pnpm-lock.yaml is not valid YAML: a duplicate key',
    });
    expect(
      parseYarnBerry(`__metadata:\n  version: 6\n"a@npm:1": {version: 1.0.0}\n"a@npm:1": {version: 2.0.0}\n`),
    ).toEqual({
      ok: false,
      reason: 'yarn.lock is not valid YAML: a duplicate key',
    });
  });

  it('never throws on arbitrary or mutated input, including alias bombs', () => {
    const bomb = `lockfileVersion: '9.0'\na: &a [x, x, x, x, x, x, x, x, x]\n${Array.from(
      { length: 12 },
      (_, i) =>
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${'*'.concat(String.fromCharCode(97 + i))}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`,
    ).join('\n')}\n`;
    expect(parsePnpmLock(bomb)).toMatchObject({ ok: false, reason: expect.stringMatching(/alias/i) });
    expect(parsePnpmLock(`lockfileVersion: '9.0'\npackages: ${'['.repeat(100_000)}`)).toMatchObject({ ok: false });
    expect(parseYarnBerry(`__metadata:\n  a: ${'{a: '.repeat(100_000)}`)).toMatchObject({ ok: false });
    const mutate = (base: string) =>
      fc
        .tuple(fc.nat(base.length), fc.nat(40), fc.string({ maxLength: 20 }))
        .map(([at, cut, ins]) => base.slice(0, at) + ins + base.slice(at + cut));
    fc.assert(
      fc.property(fc.oneof(fc.string(), mutate(PNPM_V5), mutate(PNPM_V6), mutate(PNPM_V9)), (text) => {
        expect(typeof parsePnpmLock(text).ok).toBe('boolean');
      }),
    );
  });
});

describe('npm cataloger', () => {
  it('reports installed package roots only, with purls and licences, and ignores the lockfile beside node_modules', async () => {
    const { packages, unknowns } = await catalogLayers([
      [
        { path: 'app/package.json', content: manifest('app', '1.0.0', { dependencies: { express: '4.21.2' } }) },
        { path: 'app/package-lock.json', content: LOCK_V2 },
        { path: 'app/node_modules/.package-lock.json', content: LOCK_V2 },
        { path: 'app/node_modules/express/package.json', content: manifest('express', '4.21.2', { license: 'MIT' }) },
        { path: 'app/node_modules/express/lib/package.json', content: manifest('inner', '0.0.0') },
        {
          path: 'app/node_modules/@babel/code-frame/package.json',
          content: manifest('@babel/code-frame', '7.26.2', { licenses: [{ type: 'MIT' }] }),
        },
        { path: 'app/node_modules/ms/package.json', content: manifest('ms', '2.0.0') },
        { path: 'app/node_modules/send/node_modules/ms/package.json', content: manifest('ms', '2.1.3') },
      ],
      [{ path: 'app/node_modules/broken/package.json', content: '{"name": "broken", ' }],
    ]);
    expect(nv(packages)).toEqual(['@babel/code-frame@7.26.2', 'express@4.21.2', 'ms@2.0.0', 'ms@2.1.3']);
    const frame = packages.find((p) => p.name === '@babel/code-frame');
    expect(frame).toMatchObject({
      purl: 'pkg:npm/%40babel/code-frame@7.26.2',
      licenses: ['MIT'],
      locations: [{ path: 'app/node_modules/@babel/code-frame/package.json', layer: 0 }],
      metadata: { evidence: 'installed' },
    });
    expect(unknowns).toEqual([
      {
        path: 'app/node_modules/broken/package.json',
        layer: 1,
        cataloger: 'npm',
        message: expect.stringContaining('not valid JSON'),
        fatal: false,
      },
    ]);
  });

  it('reports the production packages of a lockfile when there is no node_modules beside it', async () => {
    const { packages, unknowns } = await catalogLayers([
      [
        { path: 'srv/package.json', content: manifest('srv', '1.0.0') },
        { path: 'srv/package-lock.json', content: LOCK_V2 },
        { path: 'srv/yarn.lock', content: YARN_V1 },
        { path: 'web/pnpm-lock.yaml', content: PNPM_V9 },
        { path: 'bad/package-lock.json', content: '{"lockfileVersion": 3' },
      ],
    ]);
    const srv = packages.filter((p) => p.locations[0]?.path === 'srv/package-lock.json');
    expect(nv(srv)).toEqual(nv((parsePackageLock(LOCK_V2) as { value: { name: string; version: string }[] }).value));
    expect(packages.some((p) => p.locations[0]?.path === 'srv/yarn.lock')).toBe(false);
    expect(srv.every((p) => p.metadata?.['evidence'] === 'lockfile')).toBe(true);
    expect(srv.find((p) => p.name === 'express')?.metadata).toMatchObject({ integrity: 'sha512-x' });
    const web = packages.filter((p) => p.locations[0]?.path === 'web/pnpm-lock.yaml');
    expect(nv(web)).toContain('react-dom@18.2.0');
    expect(unknowns).toMatchObject([{ path: 'bad/package-lock.json', fatal: false }]);
  });

  it('uses the project package.json beside a yarn.lock to leave dev dependencies out', async () => {
    const { packages } = await catalogLayers([
      [
        { path: 'app/package.json', content: manifest('app', '1.0.0', { dependencies: { ms: '^2.0.0' } }) },
        { path: 'app/yarn.lock', content: YARN_V1 },
      ],
    ]);
    expect(nv(packages)).toEqual(['ms@2.0.0']);
  });

  it('never fails the whole cataloger on arbitrary file contents', async () => {
    const content = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .constantFrom(LOCK_V1, YARN_V1, YARN_BERRY, PNPM_V9)
        .chain((base) =>
          fc.tuple(fc.nat(base.length), fc.string({ maxLength: 10 })).map(([at, ins]) => base.slice(0, at) + ins),
        ),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(content, { minLength: 5, maxLength: 5 }), async ([a, b, c, d, e]) => {
        const { unknowns } = await catalogLayers([
          [
            { path: 'x/node_modules/p/package.json', content: a as string },
            { path: 'y/package-lock.json', content: b as string },
            { path: 'z/yarn.lock', content: c as string },
            { path: 'z/package.json', content: d as string },
            { path: 'w/pnpm-lock.yaml', content: e as string },
          ],
        ]);
        expect(unknowns.filter((u) => u.fatal)).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });
});
