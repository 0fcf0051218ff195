import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import type { Descriptor } from '../../src/oci/manifest.js';
import { parseDockerReference } from '../../src/oci/reference.js';
import { RegistryClient } from '../../src/oci/registry/client.js';
import { RegistryRepository } from '../../src/oci/registry/push.js';
import { openRegistryImage } from '../../src/oci/registry/source.js';
import { type Fault, startFaultProxy } from '../helpers/faultproxy.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * Bodies read whole (manifests, tag lists, small blobs, configs) are part of the retried request: a real
 * registry behind the loopback fault proxy, which cuts a body after its headers and 16 bytes. A cut once is
 * fetched again; a cut every time fails after the attempt budget and says so; a body that hashes wrong or
 * is over the limit fails at once, without another request.
 */

const RETRIES = 3;
let reg: TestRegistry;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
let decide: (req: http.IncomingMessage) => Fault = () => ({ kind: 'pass' });
let manifest: Buffer;
let manifestDigest: string;
let config: Descriptor;
let blob: Buffer;
let blobDesc: Descriptor;

const cut: Fault = { kind: 'reset-mid-body', bytes: 16 };

/** Cut the first GET of `path` only; every other request passes. */
function cutOnce(path: string): (req: http.IncomingMessage) => Fault {
  let done = false;
  return (req) => {
    if (done || req.method !== 'GET' || req.url !== path) return { kind: 'pass' };
    done = true;
    return cut;
  };
}

/** A repository read through the proxy, with a small attempt budget and short backoff. */
function viaProxy(name = 'body/app'): RegistryRepository {
  return new RegistryRepository(
    new RegistryClient(proxy.host, { insecureRegistries: [proxy.host], retries: RETRIES, backoffMs: 5, env: {} }),
    name,
  );
}

/** What the proxy did to GETs of `path` since `from`. */
const gets = (from: number, path: string) =>
  proxy.log
    .slice(from)
    .filter((l) => l.startsWith(`GET ${path} -> `))
    .map((l) => l.slice(l.indexOf(' -> ') + 4));

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.host, (req) => decide(req));
  const direct = new RegistryRepository(
    new RegistryClient(reg.host, { insecureRegistries: [reg.host], env: {} }),
    'body/app',
  );
  blob = randomBytes(4096);
  blobDesc = await direct.putBlob(blob);
  config = await direct.putBlob(
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })),
    'application/vnd.oci.image.config.v1+json',
  );
  manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config,
      layers: [{ ...blobDesc, mediaType: 'application/vnd.oci.image.layer.v1.tar' }],
    }),
  );
  manifestDigest = (await direct.putManifest(manifest)).digest;
  for (const tag of ['1.0', '2.0', 'latest']) await direct.putManifest(manifest, { reference: tag });
  direct.client.close();
});

afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
});

describe('a body cut short once is fetched again', () => {
  it('a manifest by tag and by digest, byte for byte', async () => {
    for (const ref of ['1.0', manifestDigest]) {
      const path = `/v2/body/app/manifests/${ref}`;
      decide = cutOnce(path);
      const from = proxy.log.length;
      const repo = viaProxy();
      const got = await repo.getManifest(ref);
      repo.client.close();
      expect(got.bytes.equals(manifest)).toBe(true);
      expect(got.digest).toBe(manifestDigest);
      expect(gets(from, path)).toEqual(['reset-mid-body', 'pass']);
    }
  });

  it('findManifest, the tag list and a small blob read whole', async () => {
    const repo = viaProxy();
    try {
      decide = cutOnce('/v2/body/app/manifests/latest');
      let from = proxy.log.length;
      expect((await repo.findManifest('latest'))?.digest).toBe(manifestDigest);
      expect(gets(from, '/v2/body/app/manifests/latest')).toEqual(['reset-mid-body', 'pass']);

      decide = cutOnce('/v2/body/app/tags/list');
      from = proxy.log.length;
      expect((await repo.listTags()).sort()).toEqual(['1.0', '2.0', 'latest']);
      expect(gets(from, '/v2/body/app/tags/list')).toEqual(['reset-mid-body', 'pass']);

      const blobPath = `/v2/body/app/blobs/${blobDesc.digest}`;
      decide = cutOnce(blobPath);
      from = proxy.log.length;
      expect((await repo.getBlob(blobDesc.digest, 8192)).equals(blob)).toBe(true);
      expect(gets(from, blobPath)).toEqual(['reset-mid-body', 'pass']);
    } finally {
      repo.client.close();
    }
  });

  it('an image config read through the image source', async () => {
    const path = `/v2/body/app/blobs/${config.digest}`;
    decide = cutOnce(path);
    const from = proxy.log.length;
    const src = openRegistryImage(parseDockerReference(`${proxy.host}/body/app:1.0`), {
      insecureRegistries: [proxy.host],
      retries: RETRIES,
      backoffMs: 5,
      env: {},
    });
    try {
      const bytes = await src.blob(config, 64 * 1024);
      expect(JSON.parse(bytes.toString('utf8')).os).toBe('linux');
      expect(gets(from, path)).toEqual(['reset-mid-body', 'pass']);
    } finally {
      await src.close();
    }
  });
});

describe('what is not worth retrying, or no longer', () => {
  it('a body cut every time: NETWORK after the attempt budget, naming the manifest and how far it got', async () => {
    decide = (req) => (req.method === 'GET' && req.url === '/v2/body/app/manifests/2.0' ? cut : { kind: 'pass' });
    const from = proxy.log.length;
    const repo = viaProxy();
    const err = await repo.getManifest('2.0').catch((e: unknown) => e);
    repo.client.close();
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('NETWORK');
    expect((err as PortcullisError).message).toBe(
      `manifest body/app:2.0 on ${proxy.host}: http://${proxy.host}/v2/body/app/manifests/2.0: the body broke off after 16 of ${manifest.length} bytes (ECONNRESET) (gave up after ${RETRIES} attempts)`,
    );
    expect(gets(from, '/v2/body/app/manifests/2.0')).toEqual(Array(RETRIES).fill('reset-mid-body'));
  });

  it('a blob cut every time says it was being read, not uploaded', async () => {
    const blobPath = `/v2/body/app/blobs/${blobDesc.digest}`;
    decide = (req) => (req.method === 'GET' && req.url === blobPath ? cut : { kind: 'pass' });
    const repo = viaProxy();
    const err = await repo.getBlob(blobDesc.digest, 8192).catch((e: unknown) => e);
    repo.client.close();
    expect((err as PortcullisError).code).toBe('NETWORK');
    expect((err as PortcullisError).message).toMatch(
      new RegExp(`^blob ${blobDesc.digest} in ${proxy.host}/body/app: .*the body broke off after 16 of 4096 bytes`),
    );
    expect((err as PortcullisError).message).not.toMatch(/source stream|upload|copying/);
  });

  it('a blob or manifest that hashes wrong fails closed at once: one request, DIGEST_MISMATCH', async () => {
    const blobPath = `/v2/body/app/blobs/${blobDesc.digest}`;
    const manifestPath = `/v2/body/app/manifests/${manifestDigest}`;
    decide = (req) =>
      req.url === blobPath || req.url === manifestPath ? { kind: 'tamper', offset: 20 } : { kind: 'pass' };
    const from = proxy.log.length;
    const repo = viaProxy();
    try {
      const b = await repo.getBlob(blobDesc.digest, 8192).catch((e: unknown) => e);
      expect((b as PortcullisError).code).toBe('DIGEST_MISMATCH');
      const m = await repo.getManifest(manifestDigest).catch((e: unknown) => e);
      expect((m as PortcullisError).code).toBe('DIGEST_MISMATCH');
    } finally {
      repo.client.close();
    }
    expect(gets(from, blobPath)).toEqual(['tamper']);
    expect(gets(from, manifestPath)).toEqual(['tamper']);
  });

  it('a blob over the limit fails at once: one request, FILE_TOO_LARGE', async () => {
    decide = () => ({ kind: 'pass' });
    const blobPath = `/v2/body/app/blobs/${blobDesc.digest}`;
    const from = proxy.log.length;
    const repo = viaProxy();
    const err = await repo.getBlob(blobDesc.digest, 1000).catch((e: unknown) => e);
    repo.client.close();
    expect((err as PortcullisError).code).toBe('FILE_TOO_LARGE');
    expect(gets(from, blobPath)).toEqual(['pass']);
  });
});
