import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startFaultProxy } from '../helpers/faultproxy.js';
import { makeTar } from '../helpers/layers.js';
import { LayoutWriter } from '../helpers/oci.js';
import { CLI, EXAMPLE } from '../helpers/paths.js';
import { freePort, skopeoCopy, startRegistry, type TestRegistry } from '../helpers/registry.js';

let tmp: string;
let reg: TestRegistry;
const OS_RELEASE = 'ID=debian\nVERSION_ID="12"\n';
const STATUS = 'Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.2.13.dfsg-1\n\n';

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-hostile-'));
  reg = await startRegistry();
  skopeoCopy(`oci:${EXAMPLE}:latest`, reg, 'team/example:1');
});
afterAll(async () => {
  await reg?.stop();
});

/** Write a one-image layout and return its oci: reference. */
async function layout(name: string, build: (w: LayoutWriter) => object): Promise<string> {
  const w = new LayoutWriter(join(tmp, name));
  w.index([{ ...build(w), annotations: { 'org.opencontainers.image.ref.name': 'latest' } }]);
  return `oci:${join(tmp, name)}:latest`;
}

function expectOneLineError(r: { code: number; stdout: string; stderr: string }, code: number, re: RegExp): void {
  expect(r.code).toBe(code);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines[0]).toMatch(re);
  expect(lines.length).toBeLessThanOrEqual(2); // the error line and its hint
}

describe('hostile images: one-line error, right exit code, no SBOM', () => {
  it('path traversal in a layer', async () => {
    const evil = Buffer.from(await makeTar([{ path: 'etc/os-release', content: OS_RELEASE }]));
    // tar-stream normalises names, so patch the member name in the header by hand (same length) and fix the checksum.
    evil.write('../../os-release\0', 0, 'latin1');
    evil.write('        ', 148, 'latin1');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += evil.readUInt8(i);
    evil.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const ref = await layout('traversal', (w) => w.image([evil]));
    expectOneLineError(
      await runCli(['sbom', ref]),
      2,
      /^portcullis: LAYER_INVALID: layer 0 \(sha256:[0-9a-f]{12}\): entry '\.\.\/\.\.\/os-release' escapes the image root/,
    );
  });

  it('a symbolic-link loop on /etc/os-release', async () => {
    const tar = await makeTar([
      { path: 'etc/os-release', symlink: '../usr/lib/os-release' },
      { path: 'usr/lib/os-release', symlink: '/etc/os-release' },
      { path: 'var/lib/dpkg/status', content: STATUS },
    ]);
    const ref = await layout('symloop', (w) => w.image([tar]));
    expectOneLineError(await runCli(['sbom', ref]), 2, /symbolic-link loop while resolving \/etc\/os-release/);
  });

  it('a later layer writing below a symlink, where Docker and containerd would disagree about the package database', async () => {
    const base = await makeTar([
      { path: 'etc/os-release', content: OS_RELEASE },
      { path: 'var/lib/dpkg/status', content: STATUS },
      { path: 'x', symlink: 'var/lib/dpkg' },
      { path: 'docs', symlink: 'usr/share/doc' },
    ]);
    const hide = await makeTar([
      { path: 'x/status', content: 'Package: harmless\nStatus: install ok installed\nVersion: 1\n' },
    ]);
    const ref = await layout('below-symlink', (w) => w.image([base, hide]));
    expectOneLineError(
      await runCli(['sbom', ref]),
      2,
      /LAYER_INVALID: .*\/x\/status: written below the symbolic link \/x: Docker puts it at \/x\/status, containerd at \/var\/lib\/dpkg\/status/,
    );
    // Below a symlink but nowhere near what the OS catalogers read: a warning, the SBOM is written and marked incomplete.
    const note = await makeTar([{ path: 'docs/README', content: 'hello' }]);
    const ref2 = await layout('below-symlink-harmless', (w) => w.image([base, note]));
    const r = await runCli(['sbom', ref2, '-f', 'cyclonedx']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: layers: \/docs\/README: written below the symbolic link \/docs/);
    expect(JSON.parse(r.stdout).compositions[0].aggregate).toBe('incomplete');
  });

  it('a layer whose stored bytes were changed (digest mismatch)', async () => {
    const dir = join(tmp, 'tampered');
    const w = new LayoutWriter(dir);
    const tar = await makeTar([{ path: 'etc/os-release', content: OS_RELEASE }]);
    const m = w.image([tar]) as { digest: string };
    w.index([{ ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }]);
    const manifest = JSON.parse(readFileSync(join(dir, 'blobs/sha256', m.digest.slice(7)), 'utf8'));
    const blob = join(dir, 'blobs/sha256', manifest.layers[0].digest.slice(7));
    const bytes = readFileSync(blob);
    bytes.writeUInt8(bytes.readUInt8(20) ^ 1, 20);
    writeFileSync(blob, bytes);
    const r = await runCli(['sbom', `oci:${dir}:latest`]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^portcullis: (DIGEST_MISMATCH|LAYER_INVALID): layer 0 \(sha256:/);
  });

  it('a truncated layer', async () => {
    const tar = await makeTar([
      { path: 'big', content: Buffer.alloc(200_000, 7) },
      { path: 'etc/os-release', content: OS_RELEASE },
    ]);
    const gz = gzipSync(tar);
    const cut = gz.subarray(0, Math.floor(gz.length / 2));
    const ref = await layout('truncated', (w) =>
      w.rawLayerImage(cut, 'application/vnd.oci.image.layer.v1.tar+gzip', tar),
    );
    expectOneLineError(
      await runCli(['sbom', ref]),
      2,
      /^portcullis: LAYER_INVALID: layer 0 \(sha256:[0-9a-f]{12}\): (corrupt or truncated|tar is truncated)/,
    );
  });

  it('a gzip bomb stops early with bounded memory', async () => {
    const zeros = Buffer.alloc(300 * 1024 * 1024);
    const header = (await makeTar([{ path: 'bomb', content: Buffer.alloc(0) }])).subarray(0, 512);
    // A 300 MiB member of zeros: patch the size into the header and fix the checksum.
    const h = Buffer.from(header);
    h.write(`${zeros.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
    h.write('        ', 148, 'latin1');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += h.readUInt8(i);
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const tar = Buffer.concat([h, zeros, Buffer.alloc(1024)]);
    const ref = await layout('bomb', (w) => w.image([tar]));
    const run = spawnSync('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, CLI, 'sbom', ref], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /^portcullis: DECOMPRESSION_BOMB: layer 0 \(sha256:[0-9a-f]{12}\): expands more than 200x/,
    );
    const rss = Number(/maxrss_kb=(\d+)/.exec(run.stderr)?.[1]);
    expect(rss).toBeGreaterThan(0);
    expect(rss).toBeLessThan(300 * 1024);
  });

  it('a manifest over 4 MiB', async () => {
    const ref = await layout('huge-manifest', (w) =>
      w.image([], { manifestExtra: { annotations: { pad: 'x'.repeat(5 * 1024 * 1024) } } }),
    );
    expectOneLineError(await runCli(['sbom', ref]), 2, /MANIFEST_TOO_LARGE: .*over the 4194304-byte limit/);
  });

  it('a layer with an unknown media type, and a Docker schema 1 manifest', async () => {
    const tar = await makeTar([{ path: 'a', content: 'x' }]);
    const ref = await layout('bad-mediatype', (w) => {
      const m = w.image([tar]) as { digest: string };
      const manifest = JSON.parse(readFileSync(join(tmp, 'bad-mediatype/blobs/sha256', m.digest.slice(7)), 'utf8'));
      manifest.layers[0].mediaType = 'application/x-shockwave-flash';
      return w.blob(JSON.stringify(manifest), 'application/vnd.oci.image.manifest.v1+json');
    });
    expectOneLineError(
      await runCli(['sbom', ref]),
      2,
      /UNSUPPORTED_MEDIA_TYPE: .*layers\[0\]: media type 'application\/x-shockwave-flash' is not a layer type/,
    );
    const v1 = await layout('schema1', (w) =>
      w.blob(
        JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }),
        'application/vnd.docker.distribution.manifest.v1+json',
      ),
    );
    expectOneLineError(await runCli(['sbom', v1]), 2, /UNSUPPORTED_MEDIA_TYPE: .*schema 1/);
  });

  it('a registry that answers garbage', async () => {
    const port = await freePort();
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Welcome to nginx!</body></html>');
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    try {
      const r = await runCli(['sbom', `docker://127.0.0.1:${port}/a/b:c`, '--insecure-registry', `127.0.0.1:${port}`]);
      expectOneLineError(r, 3, /REGISTRY_ERROR: .*answered text\/html instead of a manifest/);
    } finally {
      server.close();
    }
  });
});

describe('a registry under load (fault proxy in front of the real registry)', () => {
  it('retries 429 with Retry-After, 5xx and a reset mid-blob, then succeeds with the same result', async () => {
    const seen = new Map<string, number>();
    const proxy = await startFaultProxy(reg.host, (req) => {
      const k = `${req.method} ${req.url}`;
      const n = (seen.get(k) ?? 0) + 1;
      seen.set(k, n);
      if (req.url?.includes('/manifests/') && n === 1)
        return { kind: 'status', status: 429, headers: { 'retry-after': '1' } };
      if (req.url?.includes('/manifests/') && n === 2) return { kind: 'status', status: 503 };
      if (req.url?.includes('/blobs/') && n === 1) return { kind: 'status', status: 502 };
      if (req.url?.includes('/blobs/') && n === 2) return { kind: 'reset-after', bytes: 100 };
      return { kind: 'pass' };
    });
    try {
      const direct = await runCli([
        'sbom',
        `docker://${reg.host}/team/example:1`,
        '--insecure-registry',
        reg.host,
        '-f',
        'json',
      ]);
      const r = await runCli([
        'sbom',
        `docker://${proxy.host}/team/example:1`,
        '--insecure-registry',
        proxy.host,
        '-f',
        'json',
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).packages).toEqual(JSON.parse(direct.stdout).packages);
      expect(proxy.log.filter((l) => l.endsWith('-> 429'))).toHaveLength(1);
      expect(proxy.log.filter((l) => l.endsWith('-> reset-after')).length).toBeGreaterThan(0);
    } finally {
      await proxy.stop();
    }
  });

  it('gives up on a registry that keeps failing, with exit 3', async () => {
    const proxy = await startFaultProxy(reg.host, () => ({ kind: 'status', status: 503 }));
    try {
      const r = await runCli([
        'sbom',
        `docker://${proxy.host}/team/example:1`,
        '--insecure-registry',
        proxy.host,
        '--retries',
        '2',
      ]);
      expectOneLineError(r, 3, /REGISTRY_ERROR: .*HTTP 503 UNAVAILABLE: injected \(gave up after 2 attempts\)/);
    } finally {
      await proxy.stop();
    }
  });
});

describe('multi-platform indexes and layer encodings', () => {
  it('picks the host platform by default, --platform on request, --all-platforms for each', async () => {
    const dir = join(tmp, 'multi');
    const w = new LayoutWriter(dir);
    const mk = async (arch: string) =>
      makeTar([
        { path: 'etc/os-release', content: OS_RELEASE },
        { path: 'var/lib/dpkg/status', content: STATUS.replace('amd64', arch) },
      ]);
    const amd = w.image([await mk('amd64')], { arch: 'amd64' });
    const arm = w.image([await mk('arm64')], { arch: 'arm64', variant: 'v8' });
    const index = w.platformIndex([
      [amd, { os: 'linux', architecture: 'amd64' }],
      [arm, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ]);
    w.index([{ ...index, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }]);
    const arch = (out: string) => JSON.parse(out).packages[0].arch;
    const host = await runCli(['sbom', `oci:${dir}:latest`, '-f', 'json']);
    expect(arch(host.stdout)).toBe(process.arch === 'arm64' ? 'arm64' : 'amd64');
    const armRun = await runCli(['sbom', `oci:${dir}:latest`, '-f', 'json', '--platform', 'linux/arm64']);
    expect(arch(armRun.stdout)).toBe('arm64');
    expect(JSON.parse(armRun.stdout).subject.indexDigest).toBe((index as { digest: string }).digest);
    const all = await runCli(['sbom', `oci:${dir}:latest`, '-f', 'json', '--all-platforms']);
    expect(all.stdout.trim().split('\n').map(arch)).toEqual(['amd64', 'arm64']);
    const none = await runCli(['sbom', `oci:${dir}:latest`, '--platform', 'linux/s390x']);
    expectOneLineError(
      none,
      2,
      /PLATFORM_NOT_FOUND: .*no image for linux\/s390x .*\(it has: linux\/amd64, linux\/arm64\/v8\)/,
    );
    // the same index through a real registry, pushed by skopeo with all its platforms
    skopeoCopy(`oci:${dir}:latest`, reg, 'team/multi:1', ['--all']);
    const remote = await runCli([
      'sbom',
      `docker://${reg.host}/team/multi:1`,
      '--insecure-registry',
      reg.host,
      '-f',
      'json',
      '--platform',
      'linux/arm64/v8',
    ]);
    expect(arch(remote.stdout)).toBe('arm64');
  });

  it('a damaged zstd layer (truncated, a byte changed, a frame asking for a 2 GiB window) is bad input, exit 2', async () => {
    const tar = await makeTar([
      { path: 'big', content: Buffer.alloc(300_000, 7) },
      { path: 'etc/os-release', content: OS_RELEASE },
    ]);
    const zst = execFileSync('zstd', ['-q', '-c', '--check'], { input: tar });
    const flipped = Buffer.from(zst);
    const mid = Math.floor(zst.length / 2);
    flipped[mid] = (flipped[mid] as number) ^ 0xff;
    // Frame header: magic, descriptor 0 (no single segment, no checksum), window descriptor exponent 21 (2^31 bytes).
    const window = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3]), zst.subarray(6)]);
    for (const [name, bytes] of [
      ['zstd-cut', zst.subarray(0, Math.floor(zst.length / 2))],
      ['zstd-flipped', flipped],
      ['zstd-window', window],
    ] as const) {
      const ref = await layout(name, (w) => w.rawLayerImage(bytes, 'application/vnd.oci.image.layer.v1.tar+zstd', tar));
      expectOneLineError(
        await runCli(['sbom', ref]),
        2,
        /^portcullis: (LAYER_INVALID: layer 0 \(sha256:[0-9a-f]{12}\): corrupt or truncated compressed data|DIGEST_MISMATCH)/,
      );
    }
  });

  it('a docker save archive whose RepoTags is not a list of strings is bad input, not an internal error', async () => {
    const file = join(tmp, 'repotags.docker.tar');
    writeFileSync(
      file,
      await makeTar([
        {
          path: 'manifest.json',
          content: JSON.stringify([{ Config: 'c.json', Layers: ['l.tar'], RepoTags: 'foo:latest' }]),
        },
        { path: 'c.json', content: '{}' },
        { path: 'l.tar', content: Buffer.alloc(1024) },
      ]),
    );
    expectOneLineError(
      await runCli(['sbom', `docker-archive:${file}:foo`]),
      2,
      /^portcullis: ARCHIVE_INVALID: .*repotags\.docker\.tar: manifest\.json must list \{Config, Layers, RepoTags\?\} entries/,
    );
  });

  it('reads zstd (made by the zstd CLI) and uncompressed layers', async () => {
    const tar = await makeTar([
      { path: 'etc/os-release', content: OS_RELEASE },
      { path: 'var/lib/dpkg/status', content: STATUS },
    ]);
    const zst = execFileSync('zstd', ['-q', '-c'], { input: tar });
    const ref = await layout('zstd', (w) => w.rawLayerImage(zst, 'application/vnd.oci.image.layer.v1.tar+zstd', tar));
    const r = await runCli(['sbom', ref, '-f', 'json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).packages.map((p: { name: string }) => p.name)).toEqual(['zlib1g']);
    const plainRef = await layout('plain', (w) => w.image([tar], { compress: 'none' }));
    const p = await runCli(['sbom', plainRef, '-f', 'json']);
    expect(JSON.parse(p.stdout).packages.map((x: { name: string }) => x.name)).toEqual(['zlib1g']);
  });
});
