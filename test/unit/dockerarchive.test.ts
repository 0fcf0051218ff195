import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { digestOf } from '../../src/oci/digest.js';
import { openDockerArchive } from '../../src/oci/dockerarchive.js';
import { MAX_CONFIG_BYTES } from '../../src/oci/manifest.js';
import { IndexedTarFile } from '../../src/oci/tarfile.js';
import { runCli } from '../helpers/cli.js';
import { skopeo } from '../helpers/gate.js';
import { type LayerEntry, makeTar } from '../helpers/layers.js';
import { ROOT } from '../helpers/paths.js';

const APK = join(ROOT, 'test', 'fixtures', 'apk', 'alpine-3.19');

function tmpFile(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'dockerarchive-')), name);
}

async function refusal(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (err) {
    if (err instanceof PortcullisError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'read';
}

/**
 * A legacy `docker save` archive as moby's tarexport writes it: `<id>/layer.tar` per layer, and for a layer whose
 * diff_id an earlier layer already has, a symlink `<id>/layer.tar -> ../<earlier id>/layer.tar`.
 */
async function legacySave(): Promise<string> {
  const base = await makeTar([
    { path: 'etc/os-release', content: readFileSync(join(APK, 'etc/os-release')) },
    { path: 'lib/apk/db/installed', content: readFileSync(join(APK, 'lib/apk/db/installed')) },
  ]);
  const keep = await makeTar([{ path: 'tmp/.keep', content: '' }]);
  const diffIds = [digestOf(base), digestOf(keep), digestOf(keep)];
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } }),
  );
  const cid = digestOf(config).slice('sha256:'.length);
  const ids = ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64)];
  const entries: LayerEntry[] = [{ path: `${cid}.json`, content: config }];
  for (const [i, layer] of [base, keep].entries()) {
    entries.push(
      { path: `${ids[i]}/`, dir: true },
      { path: `${ids[i]}/VERSION`, content: '1.0' },
      { path: `${ids[i]}/layer.tar`, content: layer },
    );
  }
  entries.push(
    { path: `${ids[2]}/`, dir: true },
    { path: `${ids[2]}/VERSION`, content: '1.0' },
    { path: `${ids[2]}/layer.tar`, symlink: `../${ids[1]}/layer.tar` },
    {
      path: 'manifest.json',
      content: JSON.stringify([
        { Config: `${cid}.json`, RepoTags: ['app:1'], Layers: ids.map((id) => `${id}/layer.tar`) },
      ]),
    },
  );
  const file = tmpFile('legacy.tar');
  writeFileSync(file, await makeTar(entries));
  return file;
}

describe('docker-archive: layers shared by symlink, as legacy docker save writes them', () => {
  it('reads the symlinked layer.tar, with the layers skopeo reads', async () => {
    const file = await legacySave();
    const r = await runCli(['sbom', `docker-archive:${file}`, '-f', 'json', '-q']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const inv = JSON.parse(r.stdout) as {
      subject: { layers: { digest: string; size: number }[] };
      packages: { name: string; version: string }[];
      complete: boolean;
    };
    expect(inv.complete).toBe(true);
    expect(inv.packages.map((p) => `${p.name}@${p.version}`)).toContain('busybox@1.36.1-r15');
    const raw = JSON.parse(await skopeo('inspect', '--raw', `docker-archive:${file}`)) as {
      layers: { digest: string; size: number }[];
    };
    expect(inv.subject.layers.map((l) => [l.digest, l.size])).toEqual(raw.layers.map((l) => [l.digest, l.size]));
    expect(inv.subject.layers).toHaveLength(3);
  });

  it('follows symlinks relative to their directory and hardlinks from the root, refusing escapes and loops', async () => {
    const file = tmpFile('links.tar');
    writeFileSync(
      file,
      await makeTar([
        { path: 'a/layer.tar', content: 'layer' },
        { path: 'b/layer.tar', symlink: '../a/./layer.tar' },
        { path: 'c/layer.tar', hardlink: 'b/layer.tar' },
        { path: 'd/e/layer.tar', symlink: '../../c/layer.tar' },
        { path: 'up/layer.tar', symlink: '../../a/layer.tar' },
        { path: 'abs/layer.tar', symlink: '/a/layer.tar' },
        { path: 'dangling/layer.tar', symlink: '../none/layer.tar' },
        { path: 'loop/x', symlink: 'y' },
        { path: 'loop/y', symlink: './x' },
        { path: 'hloop/x', hardlink: 'hloop/y' },
        { path: 'hloop/y', hardlink: 'hloop/x' },
      ]),
    );
    const tar = await IndexedTarFile.open(file);
    const a = tar.member('a/layer.tar');
    expect(a?.size).toBe(5);
    expect(tar.member('b/layer.tar')).toEqual(a);
    expect(tar.member('c/layer.tar')).toEqual(a);
    expect(tar.member('d/e/layer.tar')).toEqual(a);
    expect((await tar.readMember('d/e/layer.tar', 100)).toString()).toBe('layer');
    expect(tar.member('dangling/layer.tar')).toBeUndefined();
    expect(await refusal(() => tar.member('up/layer.tar'))).toBe(
      `ARCHIVE_INVALID: ${file}: member up/layer.tar links to '../../a/layer.tar', outside the archive`,
    );
    expect(await refusal(() => tar.member('abs/layer.tar'))).toBe(
      `ARCHIVE_INVALID: ${file}: member abs/layer.tar links to '/a/layer.tar', an absolute path`,
    );
    expect(await refusal(() => tar.member('loop/x'))).toBe(
      `ARCHIVE_INVALID: ${file}: member loop/x is behind more than 8 links`,
    );
    expect(await refusal(() => tar.member('hloop/y'))).toBe(
      `ARCHIVE_INVALID: ${file}: member hloop/y is behind more than 8 links`,
    );
  });
});

/** A docker save archive whose manifest.json names `config.json`, stored only when `config` is given. */
async function archive(name: string, config: Buffer | undefined): Promise<string> {
  const manifest = JSON.stringify([{ Config: 'config.json', RepoTags: ['app:1'], Layers: [] }]);
  const entries = [
    { path: 'manifest.json', content: manifest },
    ...(config ? [{ path: 'config.json', content: config }] : []),
  ];
  const file = tmpFile(name);
  writeFileSync(file, await makeTar(entries));
  return file;
}

async function rootFailure(file: string): Promise<PortcullisError> {
  const source = await openDockerArchive(file);
  try {
    return await source.root().then(
      () => expect.unreachable(),
      (e: unknown) => e as PortcullisError,
    );
  } finally {
    await source.close();
  }
}

describe('the config of a docker save archive', () => {
  it('one over the size limit is reported as too large, not as missing', async () => {
    const err = await rootFailure(await archive('big.tar', Buffer.alloc(MAX_CONFIG_BYTES + 1, 0x20)));
    expect(err.code).toBe('MANIFEST_TOO_LARGE');
    expect(err.message).toMatch(/member config\.json is \d+ bytes, over the 8388608-byte limit/);
  });

  it('one that is absent is missing', async () => {
    const err = await rootFailure(await archive('none.tar', undefined));
    expect(err.code).toBe('ARCHIVE_INVALID');
    expect(err.message).toMatch(/config config\.json is missing from the archive/);
  });
});
