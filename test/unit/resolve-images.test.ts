import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortcullisError } from '../../src/errors.js';
import { walkLayers } from '../../src/image/walk.js';
import { openOciLayout } from '../../src/oci/layout.js';
import { type PlatformSelection, resolveImages } from '../../src/oci/source.js';
import { makeTar } from '../helpers/layers.js';
import { LayoutWriter } from '../helpers/oci.js';

const INDEX = 'application/vnd.oci.image.index.v1+json';
const amd64 = { os: 'linux', architecture: 'amd64' };
const arm64 = { os: 'linux', architecture: 'arm64' };

let dir: string;
let w: LayoutWriter;
const refs: object[] = [];
let amd: { digest: string };
let arm: { digest: string };

/** An index over descriptors as given (platform or not), unlike LayoutWriter.platformIndex. */
const index = (manifests: readonly object[]) =>
  w.blob(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests }), INDEX);
const named = (d: object, name: string) =>
  refs.push({ ...d, annotations: { 'org.opencontainers.image.ref.name': name } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-resolve-'));
  w = new LayoutWriter(dir);
  const tar = await makeTar([{ path: 'etc/hostname', content: 'x\n' }]);
  const amdImage = w.image([tar], { arch: 'amd64' });
  const armImage = w.image([tar, await makeTar([{ path: 'only-on-arm', content: '' }])], { arch: 'arm64' });
  amd = amdImage;
  arm = armImage;
  // [amd64 image, index without a platform -> [arm64 image]]
  named(index([{ ...amdImage, platform: amd64 }, index([{ ...armImage, platform: arm64 }])]), 'nested');
  // the nested index under a platform that its image does not have: a runtime on arm64 does not descend it
  named(
    index([
      { ...amdImage, platform: amd64 },
      { ...index([{ ...armImage, platform: arm64 }]), platform: amd64 },
    ]),
    'mislabelled',
  );
  // entries without a platform: alone, and listed before one that names its platform
  named(index([amdImage]), 'unspecified');
  named(index([armImage, { ...amdImage, platform: amd64 }]), 'unspecified-first');
  // gzip layers stored under the digest of their uncompressed tar (their diff_id), as OCI and Docker types
  for (const type of [
    'application/vnd.oci.image.layer.v1.tar+gzip',
    'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ]) {
    const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    const stored = gzipSync(tar);
    writeFileSync(join(dir, 'blobs', 'sha256', diffId.slice(7)), stored);
    const layer = { mediaType: type, digest: diffId, size: stored.length };
    named(w.image([tar], { manifestExtra: { layers: [layer] } }), `digest-is-diff-id ${type}`);
  }
  named(w.image([await makeTar([{ path: 'plain', content: '' }])], { compress: 'none' }), 'uncompressed');
  // the same image and the same nested index listed more than once
  const inner = index([{ ...armImage, platform: arm64 }]);
  named(index([{ ...amdImage, platform: amd64 }, { ...amdImage, platform: amd64 }, inner, inner, inner]), 'repeats');
  // indexes nested five deep
  let deep = index([{ ...amdImage, platform: amd64 }]);
  for (let i = 0; i < 4; i++) deep = index([{ ...amdImage, platform: amd64 }, deep]);
  named(deep, 'deep');
  w.index(refs);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function resolve(ref: string, sel: PlatformSelection) {
  const source = openOciLayout(dir, ref);
  try {
    return (await resolveImages(source, sel)).map((i) => i.digest);
  } finally {
    await source.close();
  }
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable(),
    (e: unknown) => e as PortcullisError,
  );

describe('nested indexes', () => {
  it('--all-platforms takes the images of an index nested beside other entries too', async () => {
    expect(await resolve('nested', { allPlatforms: true })).toEqual([amd.digest, arm.digest]);
  });

  it('--platform finds an image behind a nested index without a platform, as containerd does', async () => {
    expect(await resolve('nested', { platform: 'linux/arm64' })).toEqual([arm.digest]);
    expect(await resolve('nested', { platform: 'linux/amd64' })).toEqual([amd.digest]);
  });

  it('--platform does not descend a nested index listed under another platform', async () => {
    const err = await failure(resolve('mislabelled', { platform: 'linux/arm64' }));
    expect(err.code).toBe('PLATFORM_NOT_FOUND');
    expect(await resolve('mislabelled', { allPlatforms: true })).toEqual([amd.digest, arm.digest]);
  });

  it('an image or nested index listed again is taken once: repeats do not multiply the work', async () => {
    expect(await resolve('repeats', { allPlatforms: true })).toEqual([amd.digest, arm.digest]);
  });

  it('indexes nested more than 4 deep are refused, not cut short', async () => {
    for (const sel of [{ allPlatforms: true }, { platform: 'linux/arm64' }]) {
      const err = await failure(resolve('deep', sel));
      expect(err.code).toBe('MANIFEST_INVALID');
      expect(err.message).toMatch(/indexes nested more than 4 deep/);
    }
  });
});

describe('index entries without a platform', () => {
  it('are taken for any platform, as containerd and containers/image take them, when nothing names it', async () => {
    expect(await resolve('unspecified', { platform: 'linux/s390x' })).toEqual([amd.digest]);
    expect(await resolve('unspecified-first', { platform: 'linux/arm64' })).toEqual([arm.digest]);
  });

  it('come after the entries that name the platform, wherever they are listed', async () => {
    expect(await resolve('unspecified-first', { platform: 'linux/amd64' })).toEqual([amd.digest]);
    expect(await resolve('unspecified-first', { allPlatforms: true })).toEqual([arm.digest, amd.digest]);
  });
});

describe('layer digests', () => {
  const walk = async (ref: string) => {
    const source = openOciLayout(dir, ref);
    try {
      const [image] = await resolveImages(source, {});
      return await walkLayers(image?.layers ?? [], []);
    } finally {
      await source.close();
    }
  };

  it('a compressed layer whose digest claims its diff_id is checked against its stored bytes, and refused', async () => {
    for (const type of [
      'application/vnd.oci.image.layer.v1.tar+gzip',
      'application/vnd.docker.image.rootfs.diff.tar.gzip',
    ]) {
      const err = await failure(walk(`digest-is-diff-id ${type}`));
      expect(err.code).toBe('DIGEST_MISMATCH');
      expect(err.message).toMatch(/layer 0 .* blob: content hashes to sha256:[0-9a-f]{64}, expected/);
    }
  });

  it('an uncompressed layer, whose digest is its diff_id, is read as before', async () => {
    expect((await walk('uncompressed')).stats).toHaveLength(1);
  });
});
