import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { bookwormRootfs, CACHE } from '../helpers/paths.js';
import { skopeoCopy, startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * A real two-layer image built by umoci: a debootstrap'ed bookworm rootfs, then an application layer with a real
 * npm install and a real Go binary. Pushed by skopeo to the TLS + htpasswd registry and read back over the wire.
 */
let tmp: string;
let reg: TestRegistry;
const USER = 'builder';
const PASSWORD = 'real-image-pass';

type Pkg = { name: string; version: string; type: string; layer: number; arch?: string };
const key = (p: Pkg) => `${p.type}:${p.name}@${p.version}`;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-real-image-'));
  const rootfs = bookwormRootfs();
  const base = join(tmp, 'base.tar');
  execFileSync('tar', [
    '--sort=name',
    '--numeric-owner',
    '-C',
    rootfs,
    '-cf',
    base,
    '--exclude=./var/cache/apt/archives/*.deb',
    '--exclude=./var/lib/apt/lists/*',
    '--exclude=./.complete',
    '--exclude=./dev/*',
    '--exclude=./proc/*',
    '--exclude=./sys/*',
    '.',
  ]);
  const app = join(tmp, 'app');
  mkdirSync(join(app, 'srv/app'), { recursive: true });
  mkdirSync(join(app, 'usr/local/bin'), { recursive: true });
  execFileSync('cp', [
    '-a',
    join(CACHE, 'npm-fixture/npm/node_modules'),
    join(CACHE, 'npm-fixture/npm/package.json'),
    join(app, 'srv/app/'),
  ]);
  execFileSync('cp', [join(CACHE, 'go/bin/hello'), join(app, 'usr/local/bin/hello')]);
  const appTar = join(tmp, 'app.tar');
  execFileSync('tar', ['--sort=name', '--numeric-owner', '-C', app, '-cf', appTar, '.']);
  const layout = join(tmp, 'layout');
  const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: 'pipe' });
  umoci('init', '--layout', layout);
  umoci('new', '--image', `${layout}:1`);
  umoci('raw', 'add-layer', '--image', `${layout}:1`, base);
  umoci('raw', 'add-layer', '--image', `${layout}:1`, appTar);
  umoci('config', '--image', `${layout}:1`, '--os', 'linux', '--architecture', 'amd64');
  reg = await startRegistry({ tls: true, auth: { user: USER, password: PASSWORD } });
  skopeoCopy(`oci:${layout}:1`, reg, 'apps/real:1', ['--dest-compress-format', 'gzip']);
});

afterAll(async () => {
  await reg?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('a real image through a real registry', () => {
  it('finds what dpkg-query, and the oracle-checked dir: inventories, find, each attributed to its layer', async () => {
    const r = await runCli([
      'sbom',
      `docker://${reg.host}/apps/real:1`,
      '-f',
      'json',
      '--cert-dir',
      reg.certDir as string,
      '--creds',
      `${USER}:${PASSWORD}`,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const inv = JSON.parse(r.stdout);
    const pkgs: Pkg[] = inv.packages;

    // dpkg: exactly what dpkg-query reports for the rootfs, all from layer 0.
    const rootfs = bookwormRootfs();
    const oracle = execFileSync(
      'dpkg-query',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format syntax
      ['--admindir', join(rootfs, 'var/lib/dpkg'), '-W', '-f', '${db:Status-Status} ${Package} ${Version}\n'],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .filter(([st]) => st === 'installed')
      .map(([, n, v]) => `deb:${n}@${v}`)
      .sort();
    const debs = pkgs.filter((p) => p.type === 'deb');
    expect(debs.map(key).sort()).toEqual(oracle);
    expect(new Set(debs.map((p) => p.layer))).toEqual(new Set([0]));

    // npm and Go: the same as the dir: inventories that the npm ls / go version -m oracle tests hold.
    const npmDir = JSON.parse((await runCli(['sbom', `dir:${join(CACHE, 'npm-fixture/npm')}`, '-f', 'json'])).stdout)
      .packages as Pkg[];
    const npm = pkgs.filter((p) => p.type === 'npm');
    expect(npm.map(key).sort()).toEqual(
      npmDir
        .filter((p) => p.type === 'npm')
        .map(key)
        .sort(),
    );
    expect(npm.length).toBeGreaterThan(50);
    const go = pkgs.filter((p) => p.type === 'golang');
    const goVersionM = execFileSync('go', ['version', '-m', join(CACHE, 'go/bin/hello')], { encoding: 'utf8' });
    for (const line of goVersionM.split('\n').filter((l) => /^\s+dep\s/.test(l))) {
      const [, mod, ver] = line.trim().split(/\s+/);
      expect(go.map((p) => `${p.name}@${p.version}`)).toContain(`${mod}@${ver}`);
    }
    expect(new Set([...npm, ...go].map((p) => p.layer))).toEqual(new Set([1]));
    expect(inv.subject.layers).toHaveLength(2);
  });
});
