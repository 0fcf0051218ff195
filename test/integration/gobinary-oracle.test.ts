import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walkDirectory } from '../../src/image/dirwalk.js';
import { type Contents, catalogTree, collectorsFor } from '../../src/inventory/build.js';
import { BuildInfoScanner, readBuildInfo } from '../../src/inventory/catalogers/go/buildinfo.js';
import { parseModInfo } from '../../src/inventory/catalogers/go/modinfo.js';
import { goBinaryCataloger } from '../../src/inventory/catalogers/gobinary.js';
import type { Package } from '../../src/inventory/model.js';
import { catalogTestLayers } from '../helpers/layers.js';
import { CACHE } from '../helpers/paths.js';

/**
 * Oracle: `go version -m -json BINARY` (the Go toolchain's own reader of the same build info).
 * Binaries: the fixtures scripts/setup-test-env.sh builds from test/fixtures/go with `go build`
 * (plain, -trimpath, stripped, PIE, external linker, VCS tag, replace directives, 386, s390x,
 * mips, Mach-O, PE), Debian's Go programs, the Go toolchain's own, and any other known Go
 * programs this machine has.
 */
const GO = ['/usr/local/go/bin/go', '/usr/lib/go/bin/go'].find(existsSync) ?? 'go';
const GOBIN = join(CACHE, 'go', 'bin');
const DEBIAN = ['/usr/bin/docker-registry', '/usr/bin/skopeo', '/usr/bin/umoci'];
const EXTRA = [
  '/usr/local/go/bin/go',
  '/usr/local/go/bin/gofmt',
  '/usr/bin/buildah',
  '/usr/bin/kubectl',
  '/usr/local/bin/terraform',
  '/usr/local/bin/docker',
  '/usr/bin/local-extract',
];

interface GoModuleJson {
  Path?: string;
  Version?: string;
  Sum?: string;
  Replace?: GoModuleJson;
}
interface GoBuildInfoJson {
  GoVersion: string;
  Path?: string;
  Main?: GoModuleJson;
  Deps?: GoModuleJson[];
  Settings?: { Key: string; Value?: string }[];
}

function oracle(file: string): GoBuildInfoJson {
  return JSON.parse(execFileSync(GO, ['version', '-m', '-json', file], { encoding: 'utf8' })) as GoBuildInfoJson;
}

function fixtureBinaries(): string[] {
  const names = existsSync(GOBIN) ? readdirSync(GOBIN) : [];
  if (!names.some((n) => n.startsWith('.complete-'))) {
    throw new Error(`${GOBIN} is missing: run 'npm run setup' first (it builds the Go fixture binaries)`);
  }
  return names.filter((n) => !n.startsWith('.')).map((n) => join(GOBIN, n));
}

/** What the cataloger should report for one binary, derived from the oracle's JSON alone. */
function expected(o: GoBuildInfoJson): string[] {
  const out: string[] = [];
  if (o.Main?.Path) out.push(`${o.Main.Path}@${o.Main.Version}`);
  for (const d of o.Deps ?? []) {
    const r = d.Replace;
    if (!r) out.push(`${d.Path}@${d.Version}`);
    else if (/^\.{0,2}\//.test(r.Path ?? '')) out.push(`${d.Path}@${r.Version}`);
    else out.push(`${r.Path}@${r.Version}`);
  }
  const rel = /^go(\d+\.\d+\.\d+)(?: |$)/.exec(o.GoVersion);
  if (rel) out.push(`stdlib@v${rel[1]}`);
  return out.sort();
}

const settingsOf = (o: GoBuildInfoJson): Record<string, string> =>
  Object.fromEntries((o.Settings ?? []).map((s) => [s.Key, s.Value ?? '']));

const at = (c: Contents, path: string): Package[] => c.packages.filter((p) => p.locations.some((l) => l.path === path));

/** Put a file in the test root: a hardlink when possible (same file system), else a copy. */
function place(src: string, dest: string): void {
  mkdirSync(dirname(dest), { recursive: true });
  try {
    linkSync(src, dest);
  } catch {
    copyFileSync(src, dest);
  }
  chmodSync(dest, statSync(dest).mode | 0o111);
}

describe('Go binary cataloger against `go version -m` on real binaries', () => {
  let root: string;
  const binaries = new Map<string, string>(); // path in the root → source file
  let contents: Contents;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'portcullis-gobin-'));
    for (const f of fixtureBinaries()) binaries.set(`usr/local/bin/${basename(f)}`, f);
    for (const f of DEBIAN) binaries.set(`usr/bin/${basename(f)}`, f);
    for (const f of EXTRA) if (existsSync(f)) binaries.set(`opt/extra/${basename(f)}`, realpathSync(f));
    for (const [rel, src] of binaries) place(src, join(root, rel));
    // Not Go: a C program and a script, both executable.
    place(realpathSync('/bin/ls'), join(root, 'usr/bin/ls'));
    writeFileSync(join(root, 'usr/bin/script'), `#!/bin/sh\n${'# padding\n'.repeat(200)}`, { mode: 0o755 });
    const { tree } = await walkDirectory(root, collectorsFor([goBinaryCataloger]));
    contents = catalogTree(tree, [goBinaryCataloger]);
  });

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('reports exactly the modules, replacements, Go version and build settings the oracle prints', () => {
    expect(binaries.size).toBeGreaterThanOrEqual(15);
    for (const [rel, src] of binaries) {
      const o = oracle(src);
      const pkgs = at(contents, rel);
      expect(pkgs.map((p) => `${p.name}@${p.version}`).sort(), rel).toEqual(expected(o));
      for (const p of pkgs) {
        expect(p.metadata?.['goVersion'], rel).toBe(o.GoVersion);
        expect(p.purl.startsWith(`pkg:golang/${p.name}@`), p.purl).toBe(true);
        expect(p.layer).toBe(0);
      }
      const withSettings = pkgs.filter((p) => p.metadata?.['buildSettings']);
      // Only a binary with neither a main module nor a release toolchain (Google's internal builds) has none.
      expect(withSettings.length > 0, rel).toBe(pkgs.length > 0);
      for (const p of withSettings)
        expect({ ...(p.metadata?.['buildSettings'] as object) }, rel).toEqual(settingsOf(o));
      for (const d of o.Deps ?? []) {
        if (!d.Replace) continue;
        const p = pkgs.find((x) => (x.metadata?.['replaces'] as { path?: string } | undefined)?.path === d.Path);
        expect(p?.metadata?.['replaces'], rel).toEqual({ path: d.Path, version: d.Version });
      }
      if (o.Main?.Path) {
        const main = pkgs.find((p) => p.metadata?.['main'] === true);
        expect(main?.name).toBe(o.Main.Path);
        expect(main?.metadata?.['devel'] === true).toBe(o.Main.Version === '(devel)');
      }
    }
    expect(contents.unknowns).toEqual([]);
    expect(at(contents, 'usr/bin/ls')).toEqual([]);
    expect(at(contents, 'usr/bin/script')).toEqual([]);
  });

  it('covers the cases the fixtures were built for', () => {
    const names = (rel: string) => at(contents, rel).map((p) => `${p.name}@${p.version}`);
    const go = oracle(join(GOBIN, 'hello')).GoVersion.slice(2);
    expect(names('usr/local/bin/hello')).toEqual(
      expect.arrayContaining([
        'example.com/portcullis/hello@(devel)',
        'github.com/google/uuid@v1.6.0',
        `stdlib@v${go}`,
      ]),
    );
    const purls = at(contents, 'usr/local/bin/hello').map((p) => p.purl);
    expect(purls).toContain('pkg:golang/github.com/google/uuid@v1.6.0');
    expect(purls).toContain(`pkg:golang/stdlib@v${go}`);
    expect(names('usr/local/bin/hello-vcs')).toContain('example.com/portcullis/hello@v1.2.3');
    const vcs = at(contents, 'usr/local/bin/hello-vcs').find((p) => p.metadata?.['main']);
    expect(vcs?.metadata?.['buildSettings']).toMatchObject({ vcs: 'git', 'vcs.time': '2024-01-02T03:04:05Z' });
    const stripped = at(contents, 'usr/local/bin/hello-stripped').find((p) => p.name === 'stdlib');
    expect(stripped?.metadata?.['buildSettings']).toMatchObject({ '-ldflags': `-s -w -X 'main.note=say "hi" \\o/'` });
    expect(names('usr/local/bin/replaced')).toEqual(
      expect.arrayContaining(['github.com/pkg/errors@v0.8.1', 'example.com/portcullis/greet@(devel)']),
    );
    for (const arch of ['386', 's390x', 'mips']) {
      expect(at(contents, `usr/local/bin/hello-${arch}`)[0]?.arch).toBe(arch);
    }
    expect(at(contents, 'usr/local/bin/hello-darwin')[0]?.metadata?.['buildSettings']).toMatchObject({
      GOOS: 'darwin',
    });
    expect(at(contents, 'usr/local/bin/hello.exe')[0]?.metadata?.['buildSettings']).toMatchObject({ GOOS: 'windows' });
    // Debian builds in GOPATH mode: no main module, no dependencies, only the toolchain.
    expect(names('usr/bin/skopeo')).toEqual([`stdlib@v${oracle('/usr/bin/skopeo').GoVersion.slice(2)}`]);
  });
});

describe('Go binary cataloger in a layered image', () => {
  it('attributes each binary to the layer that wrote it', async () => {
    const hello = readFileSync(join(GOBIN, 'hello'));
    const replaced = readFileSync(join(GOBIN, 'replaced'));
    const skopeo = readFileSync('/usr/bin/skopeo');
    const c = await catalogTestLayers(
      [
        [
          { path: 'usr/bin/app', content: hello, mode: 0o755 },
          { path: 'usr/bin/skopeo', content: skopeo, mode: 0o755 },
        ],
        [
          { path: 'usr/bin/app', content: replaced, mode: 0o755 },
          { path: 'usr/bin/app-link', hardlink: 'usr/bin/app' },
        ],
      ],
      [goBinaryCataloger],
    );
    const app = c.packages.filter((p) => p.locations[0]?.path === 'usr/bin/app');
    expect(app.map((p) => `${p.name}@${p.version}`).sort()).toEqual(expected(oracle(join(GOBIN, 'replaced'))));
    for (const p of app) {
      expect(p.layer).toBe(1);
      expect(p.locations).toEqual([
        { path: 'usr/bin/app', layer: 1 },
        { path: 'usr/bin/app-link', layer: 1 },
      ]);
    }
    const sk = c.packages.filter((p) => p.locations[0]?.path === 'usr/bin/skopeo');
    expect(sk.map((p) => p.layer)).toEqual([0]);
    expect(c.unknowns).toEqual([]);
  });
});

describe('the streaming reader on real binaries', () => {
  it('gives the same answer whatever the chunk sizes (fast-check)', () => {
    for (const name of ['hello-extld', 'hello-s390x', 'hello-darwin', 'hello.exe']) {
      const bytes = readFileSync(join(GOBIN, name));
      const whole = readBuildInfo(bytes);
      expect(whole?.kind, name).toBe('inline');
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 16 }), (sizes) => {
          const s = new BuildInfoScanner();
          let i = 0;
          for (let k = 0; i < bytes.length; k++) {
            const n = sizes[k % sizes.length] as number;
            s.write(bytes.subarray(i, i + n));
            i += n;
          }
          s.end();
          expect(s.result()).toEqual(whole);
        }),
        { numRuns: 15 },
      );
    }
  });

  it('has its answer before the end of the file, so the rest is skipped', () => {
    for (const file of ['/usr/bin/docker-registry', join(GOBIN, 'hello')]) {
      const bytes = readFileSync(file);
      const s = new BuildInfoScanner();
      let fed = 0;
      while (fed < bytes.length && s.result() === undefined) {
        s.write(bytes.subarray(fed, fed + 65536));
        fed += 65536;
      }
      expect(s.result()?.kind, file).toBe('inline');
      expect(fed).toBeLessThan(bytes.length);
    }
  });

  it('survives mutated real binaries: ELF, Mach-O and PE headers and the build info (fast-check)', () => {
    for (const name of ['hello', 'hello-386', 'hello-darwin', 'hello.exe']) {
      const real = readFileSync(join(GOBIN, name));
      const magic = real.indexOf(Buffer.from('\xff Go buildinf:', 'latin1'));
      expect(magic).toBeGreaterThan(0);
      // Keep the head and the build info; the code in between does not matter to the reader.
      const base = Buffer.concat([real.subarray(0, magic + 4096)]);
      const spot = fc.oneof(fc.nat({ max: 1023 }), fc.integer({ min: magic, max: magic + 1023 }));
      fc.assert(
        fc.property(
          fc.array(fc.tuple(spot, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }),
          fc.integer({ min: 64, max: base.length }),
          fc.integer({ min: 1000, max: 100_000 }),
          (flips, cut, chunk) => {
            const m = Buffer.from(base.subarray(0, cut));
            for (const [i, v] of flips) if (i < m.length) m[i] = v;
            const r = readBuildInfo(m, chunk);
            if (r !== undefined) expect(['inline', 'pointer', 'malformed']).toContain(r.kind);
            if (r?.kind === 'inline') expect(typeof parseModInfo(r.modinfo).ok).toBe('boolean');
          },
        ),
        { numRuns: 300 },
      );
    }
  });
});
