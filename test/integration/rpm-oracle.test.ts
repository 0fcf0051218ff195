import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walkDirectory } from '../../src/image/dirwalk.js';
import { catalogTree, collectorsFor } from '../../src/inventory/build.js';
import { type RpmdbFormat, readRpmdb } from '../../src/inventory/catalogers/rpm/db.js';
import { parseRpmHeader } from '../../src/inventory/catalogers/rpm/header.js';
import { rpmCataloger } from '../../src/inventory/catalogers/rpm.js';
import type { Package } from '../../src/inventory/model.js';
import { catalogLayers } from '../fixtures/rpm/image.js';
import { CACHE, ROOT } from '../helpers/paths.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'rpm');
const RPM_NDB = join(CACHE, 'rpm-ndb', 'bin', 'rpm');
const DBS: [string, RpmdbFormat, string][] = [
  ['sqlite', 'sqlite', 'var/lib/rpm/rpmdb.sqlite'],
  ['ndb', 'ndb', 'var/lib/rpm/Packages.db'],
  ['bdb', 'bdb', 'var/lib/rpm/Packages'],
  ['bdb-be', 'bdb', 'var/lib/rpm/Packages'],
];

let out: string;

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string =>
  execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });

const oracle = (file: string): string[] =>
  readFileSync(join(out, file), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('gpg-pubkey '))
    .sort();

/** Our package as the line `rpm -qa --qf '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH} %{SOURCERPM} %{LICENSE} %{EVR}'` prints. */
function qaLine(p: Package): string {
  const epochNum = /^\d+:/.test(p.version) ? p.version : `0:${p.version}`;
  const sourceRpm = (p.metadata?.sourceRpm as string | undefined) ?? '(none)';
  return `${p.name} ${epochNum} ${p.arch ?? '(none)'} ${sourceRpm} ${p.licenses[0] ?? '(none)'} ${p.version}`;
}

beforeAll(() => {
  if (!existsSync(RPM_NDB)) throw new Error(`${RPM_NDB} is missing: run 'npm run setup' (it builds rpm with NDB)`);
  out = mkdtempSync(join(tmpdir(), 'rpm-oracle-'));
  run('bash', [join(FIXTURES, 'build-dbs.sh'), join(out, 'dbs'), '--bulk'], { RPM_NDB });
  out = join(out, 'dbs');
}, 300_000);

afterAll(() => {
  if (out) rmSync(join(out, '..'), { recursive: true, force: true });
});

describe('rpm cataloger against rpm -qa (databases written by rpm 4.18, db5.3_load)', () => {
  for (const [dir, , path] of DBS) {
    it(`${dir}: finds exactly the packages rpm lists, without gpg-pubkey`, async () => {
      const root = join(out, dir);
      const { tree } = await walkDirectory(root, collectorsFor([rpmCataloger]));
      const inv = catalogTree(tree, [rpmCataloger]);
      expect(inv.unknowns).toEqual([]);
      const want = oracle(`${dir}.qa`);
      expect(want.length).toBeGreaterThan(240);
      expect(readFileSync(join(out, `${dir}.qa`), 'utf8')).toMatch(/^gpg-pubkey /m);
      expect(inv.packages.map(qaLine).sort()).toEqual(want);
      for (const p of inv.packages) {
        expect(p.locations).toEqual([{ path, layer: 0 }]);
        const src = p.source;
        expect(src, p.name).toBeDefined();
        // The source's name and version put back together give SOURCERPM as rpm printed it.
        const version = src?.version.replace(/^\d+:/, '');
        expect(`${src?.name}-${version}.src.rpm`).toBe(p.metadata?.sourceRpm);
      }
    });
  }

  it('decodes the same file lists rpm prints, from every database format', () => {
    const want = readFileSync(join(out, 'sqlite.files'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .sort();
    expect(want.length).toBeGreaterThan(3000);
    for (const [dir, format, path] of DBS) {
      const records = readRpmdb(format, readFileSync(join(out, dir, path))).records;
      // The bulk package's header (3000 files) spans dozens of Berkeley DB overflow pages.
      expect(Math.max(...records.map((r) => r.blob.byteLength))).toBeGreaterThan(64 * 1024);
      const got = records
        .map((r) => parseRpmHeader(r.blob, { files: true }))
        .flatMap((h) => (h.files ?? []).map((f) => `${h.name}\t${f}`))
        .sort();
      expect(got, dir).toEqual(want);
    }
  });
});

describe('rpm cataloger layer attribution over databases rpm grew step by step', () => {
  /** Run rpm on a root: Debian's for sqlite, the NDB build for ndb. */
  const rpm = (backend: 'sqlite' | 'ndb', root: string, args: string[]) =>
    run(backend === 'ndb' ? RPM_NDB : 'rpm', [
      '--root',
      root,
      '--dbpath',
      '/var/lib/rpm',
      '--define',
      `_db_backend ${backend}`,
      ...args,
    ]);

  for (const backend of ['sqlite', 'ndb'] as const) {
    it(`${backend}: each package is attributed to the layer whose database first listed it`, async () => {
      const file = backend === 'sqlite' ? 'rpmdb.sqlite' : 'Packages.db';
      const root = join(out, `steps-${backend}`);
      mkdirSync(root, { recursive: true });
      const rpms = readdirSync(join(out, 'top', 'RPMS', 'noarch'))
        .filter((f) => /^portcullis-(demo|zero)/.test(f))
        .map((f) => join(out, 'top', 'RPMS', 'noarch', f));
      const tool = join(out, 'top', 'RPMS', 'x86_64', readdirSync(join(out, 'top', 'RPMS', 'x86_64'))[0] as string);
      const snapshot = () => readFileSync(join(root, 'var', 'lib', 'rpm', file));
      const install = ['-i', '--nodeps', '--justdb', '--noscripts'];
      rpm(backend, root, [...install, tool]);
      const v0 = snapshot();
      rpm(backend, root, [...install, ...rpms]);
      const v1 = snapshot();
      rpm(backend, root, ['-e', '--nodeps', '--justdb', '--noscripts', 'portcullis-zero']);
      const v2 = snapshot();
      const listed = rpm(backend, root, ['-qa', '--qf', '%{NAME}\n']).split('\n').filter(Boolean).sort();

      const path = `var/lib/rpm/${file}`;
      const inv = await catalogLayers([
        [{ path, content: v0 }],
        [{ path, content: v1 }],
        [{ path: 'etc/motd', content: 'a layer that does not touch the database' }],
        [{ path, content: v2 }],
      ]);
      expect(inv.unknowns).toEqual([]);
      expect(inv.packages.map((p) => p.name).sort()).toEqual(listed);
      expect(Object.fromEntries(inv.packages.map((p) => [p.name, p.layer]))).toEqual({
        'portcullis-tool': 0,
        'portcullis-demo': 1,
        'portcullis-demo-libs': 1,
      });
    });
  }
});
