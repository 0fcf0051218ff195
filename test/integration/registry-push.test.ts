import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { RegistryClient } from '../../src/oci/registry/client.js';
import { referrersTag } from '../../src/oci/registry/headers.js';
import { RegistryRepository } from '../../src/oci/registry/push.js';
import { listReferrers, pushReferrer } from '../../src/oci/registry/referrers.js';
import { startFaultProxy } from '../helpers/faultproxy.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const USER = 'push-bot';
const PASSWORD = 'Pu5h-Pa55-never-print-me';
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let secure: TestRegistry;
let plain: TestRegistry;

beforeAll(async () => {
  [secure, plain] = await Promise.all([
    startRegistry({ tls: true, auth: { user: USER, password: PASSWORD } }),
    startRegistry(),
  ]);
});

afterAll(async () => {
  await secure?.stop();
  await plain?.stop();
});

function repoOn(reg: TestRegistry, name: string, host = reg.host): RegistryRepository {
  const client = reg.pki
    ? new RegistryClient(host, { caCerts: [reg.pki.caCert], creds: `${USER}:${PASSWORD}`, env: {} })
    : new RegistryClient(host, { insecureRegistries: [host], retries: 3, backoffMs: 5, env: {} });
  return new RegistryRepository(client, name);
}

/** curl, an independent HTTP client, reading what the registry serves. */
function curl(reg: TestRegistry, path: string, headers: string[] = [], head = false): Buffer {
  const big = { maxBuffer: 64 * 1024 * 1024 };
  const args = ['-sS', '--fail', '--cacert', reg.pki?.caCert as string, '-u', `${USER}:${PASSWORD}`];
  for (const h of headers) args.push('-H', h);
  if (head) args.push('-I');
  return execFileSync('curl', [...args, `https://${reg.host}${path}`], big);
}

function skopeoRaw(reg: TestRegistry, ref: string): Buffer {
  return execFileSync(
    'skopeo',
    [
      'inspect',
      '--raw',
      '--cert-dir',
      reg.certDir as string,
      '--creds',
      `${USER}:${PASSWORD}`,
      `docker://${reg.host}/${ref}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

/** Access-log lines of the registry (method, path, status) written since `from`. */
function requests(reg: TestRegistry, from: number): string[] {
  return [
    ...reg
      .log()
      .slice(from)
      .matchAll(/"([A-Z]+) (\S+) HTTP\/1\.1" (\d+)/g),
  ].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
}

async function pushImage(repo: RegistryRepository, seed: string) {
  const layer = await repo.putBlob(Buffer.from(`layer ${seed}`), 'application/vnd.oci.image.layer.v1.tar');
  const config = await repo.putBlob(
    Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } }),
    ),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config,
      layers: [layer],
    }),
  );
  const pushed = await repo.putManifest(manifest);
  return { manifest, pushed, config, layer };
}

describe('blob uploads (real distribution registry, TLS + htpasswd)', () => {
  it('pushes a small blob in one PUT, and skips it when it is already there', async () => {
    const repo = repoOn(secure, 'push/blobs');
    const data = randomBytes(5000);
    const from = secure.log().length;
    const desc = await repo.putBlob(data);
    expect(desc).toEqual({ mediaType: 'application/octet-stream', digest: sha(data), size: 5000 });
    expect(curl(secure, `/v2/push/blobs/blobs/${desc.digest}`).equals(data)).toBe(true);
    expect(await repo.putBlob(data)).toEqual(desc);
    const log = requests(secure, from).filter((l) => !l.endsWith(' 401'));
    expect(log.filter((l) => l.startsWith('POST '))).toHaveLength(1);
    expect(log.filter((l) => l.startsWith('PUT ') && l.endsWith(' 201'))).toHaveLength(1);
    expect(log.filter((l) => l.startsWith('PATCH '))).toHaveLength(0);
  });

  it('streams a blob over the chunk size in PATCH chunks, committing only after the digest matched', async () => {
    const repo = repoOn(secure, 'push/chunked');
    const data = randomBytes(3 * 1024 * 1024 + 12345);
    const desc = { mediaType: 'application/octet-stream', digest: sha(data), size: data.length };
    const offsets: number[] = [];
    const from = secure.log().length;
    // The source yields odd-sized pieces, as a socket does.
    const pieces = Array.from({ length: Math.ceil(data.length / 70_001) }, (_, i) =>
      data.subarray(i * 70_001, (i + 1) * 70_001),
    );
    await repo.uploadBlob(desc, async () => Readable.from(pieces), {
      chunkSize: 1024 * 1024,
      onChunk: (o) => offsets.push(o),
    });
    expect(offsets).toEqual([1, 2, 3].map((n) => n * 1024 * 1024).concat(data.length));
    const log = requests(secure, from).filter((l) => !l.endsWith(' 401'));
    expect(log.filter((l) => l.startsWith('PATCH ') && l.endsWith(' 202'))).toHaveLength(4);
    expect(curl(secure, `/v2/push/chunked/blobs/${desc.digest}`).equals(data)).toBe(true);
  });

  it('refuses a source whose bytes do not hash to the digest, and leaves no blob behind', async () => {
    const repo = repoOn(secure, 'push/refused');
    const data = randomBytes(2 * 1024 * 1024);
    const claimed = sha(Buffer.concat([data, Buffer.from('x')]).subarray(1));
    const desc = { mediaType: 'application/octet-stream', digest: claimed, size: data.length };
    const err = await repo
      .uploadBlob(desc, async () => Readable.from([data]), { chunkSize: 512 * 1024, source: 'the test source' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('DIGEST_MISMATCH');
    expect((err as Error).message).toBe(
      `blob ${claimed} from the test source (copying to ${secure.host}/push/refused): content hashes to ${sha(data)}, expected ${claimed}`,
    );
    expect(await repo.hasBlob(claimed)).toBe(false);
    expect(await repo.hasBlob(sha(data))).toBe(false);
  });

  it('starts the blob over in a new session when the answer to a PATCH the registry applied was lost', async () => {
    let patches = 0;
    const proxy = await startFaultProxy(plain.host, (req) => {
      if (req.method === 'PATCH' && ++patches === 2) return { kind: 'drop-response' };
      return { kind: 'pass' };
    });
    try {
      const repo = repoOn(plain, 'push/restart', proxy.host);
      const data = randomBytes(3 * 256 * 1024 + 99);
      const desc = { mediaType: 'application/octet-stream', digest: sha(data), size: data.length };
      const from = plain.log().length;
      let opened = 0;
      await repo.uploadBlob(
        desc,
        async () => {
          opened++;
          return Readable.from([data]);
        },
        { chunkSize: 256 * 1024 },
      );
      const got = execFileSync('curl', ['-sS', '--fail', `http://${plain.host}/v2/push/restart/blobs/${desc.digest}`], {
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(got.equals(data)).toBe(true);
      expect(opened).toBe(2);
      // The registry's own log: the dropped PATCH landed (202), its retry met a stale session URL (404),
      // the stale session was cancelled, and a second session took all four chunks.
      const log = requests(plain, from).map((l) => l.replace(/\/uploads\/[^ ]*/, '/uploads/…'));
      expect(log).toEqual([
        'POST /v2/push/restart/blobs/uploads/… 202',
        'PATCH /v2/push/restart/blobs/uploads/… 202',
        'PATCH /v2/push/restart/blobs/uploads/… 202',
        'PATCH /v2/push/restart/blobs/uploads/… 404',
        'DELETE /v2/push/restart/blobs/uploads/… 404',
        'POST /v2/push/restart/blobs/uploads/… 202',
        'PATCH /v2/push/restart/blobs/uploads/… 202',
        'PATCH /v2/push/restart/blobs/uploads/… 202',
        'PATCH /v2/push/restart/blobs/uploads/… 202',
        'PATCH /v2/push/restart/blobs/uploads/… 202',
        'PUT /v2/push/restart/blobs/uploads/… 201',
      ]);
    } finally {
      await proxy.stop();
    }
  });
});

describe('mounts and small reads', () => {
  it('mounts a blob another repository holds, and uploads into the session a refused mount opens (202)', async () => {
    const a = repoOn(secure, 'push/mount-a');
    const b = repoOn(secure, 'push/mount-b');
    const data = randomBytes(4000);
    const desc = await a.putBlob(data);
    expect(await b.mountBlob(desc.digest, 'push/mount-a')).toEqual({ mounted: true });
    expect(await b.hasBlob(desc.digest)).toBe(true);
    // push/mount-c has never seen this blob: the registry falls back to an upload session
    const other = randomBytes(3000);
    const fallback = await b.mountBlob(sha(other), 'push/mount-c');
    expect(fallback.mounted).toBe(false);
    const from = secure.log().length;
    await b.uploadBlob(
      { mediaType: 'application/octet-stream', digest: sha(other), size: other.length },
      async () => Readable.from([other]),
      fallback.mounted ? {} : { location: fallback.location },
    );
    expect(requests(secure, from).filter((l) => !l.endsWith(' 401'))).toEqual([
      expect.stringMatching(/^PUT \/v2\/push\/mount-b\/blobs\/uploads\/[^ ]+ 201$/),
    ]);
    expect(curl(secure, `/v2/push/mount-b/blobs/${sha(other)}`).equals(other)).toBe(true);
  });

  it('reads a small blob whole, verified and bounded', async () => {
    const repo = repoOn(secure, 'push/small');
    const data = randomBytes(2048);
    const desc = await repo.putBlob(data);
    expect((await repo.getBlob(desc.digest, 4096)).equals(data)).toBe(true);
    await expect(repo.getBlob(desc.digest, 1000)).rejects.toThrow(
      `blob ${desc.digest} in ${secure.host}/push/small: 2048 bytes, over the 1000-byte limit`,
    );
    const missing = await repo.getBlob(sha('absent'), 1000).catch((e: unknown) => e);
    expect((missing as PortcullisError).code).toBe('NOT_FOUND');
  });
});

describe('manifests', () => {
  it('pushes OCI and Docker manifests and indexes by digest and by tag, with their own Content-Type, byte for byte', async () => {
    const repo = repoOn(secure, 'push/manifests');
    const layer = await repo.putBlob(Buffer.from('layer bytes'), 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    const config = await repo.putBlob(
      Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'),
      'application/vnd.docker.container.image.v1+json',
    );
    const docker = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: { ...config },
        layers: [{ ...layer }],
      }),
    );
    const oci = (await pushImage(repo, 'oci')).manifest;
    const dockerList = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
        manifests: [
          {
            mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
            digest: sha(docker),
            size: docker.length,
            platform: { os: 'linux', architecture: 'amd64' },
          },
        ],
      }),
    );
    const ociIndex = Buffer.from(
      JSON.stringify(
        {
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(oci), size: oci.length }],
        },
        null,
        2,
      ),
    );
    await repo.putManifest(docker);
    const cases = [
      ['docker', docker, 'application/vnd.docker.distribution.manifest.v2+json'],
      ['oci', oci, 'application/vnd.oci.image.manifest.v1+json'],
      ['docker-list', dockerList, 'application/vnd.docker.distribution.manifest.list.v2+json'],
      ['oci-index', ociIndex, 'application/vnd.oci.image.index.v1+json'],
    ] as const;
    for (const [tag, bytes, type] of cases) {
      const byDigest = await repo.putManifest(bytes);
      expect(byDigest).toEqual({ digest: sha(bytes), mediaType: type, size: bytes.length, subjectProcessed: false });
      const byTag = await repo.putManifest(bytes, { reference: tag });
      expect(byTag.digest).toBe(sha(bytes));
      expect(skopeoRaw(secure, `push/manifests:${tag}`).equals(bytes)).toBe(true);
      expect(skopeoRaw(secure, `push/manifests@${sha(bytes)}`).equals(bytes)).toBe(true);
      const head = curl(secure, `/v2/push/manifests/manifests/${tag}`, [`Accept: ${type}`], true).toString();
      expect(head).toMatch(new RegExp(`content-type: ${type.replace(/[.+]/g, '\\$&')}\\r`, 'i'));
      expect(head).toMatch(new RegExp(`docker-content-digest: ${sha(bytes)}\\r`, 'i'));
      const read = await repo.getManifest(tag);
      expect(read.digest).toBe(sha(bytes));
      expect(read.mediaType).toBe(type);
    }
  });

  it('refuses to push bytes under a digest they do not hash to, before sending anything', async () => {
    const repo = repoOn(secure, 'push/manifests');
    const { manifest } = await pushImage(repo, 'wrong-digest');
    await expect(repo.putManifest(manifest, { reference: sha('other') })).rejects.toThrow(
      /^manifest for 127\.0\.0\.1:\d+\/push\/manifests: content hashes to sha256:[0-9a-f]{64}, expected sha256:/,
    );
  });

  it('checks the Docker-Content-Digest the registry answers against the pushed bytes', async () => {
    // A registry that stores something else than it was sent: only a proxy can make a real one do that.
    const proxy = await startFaultProxy(plain.host, (req) =>
      req.method === 'PUT' && req.url?.includes('/manifests/')
        ? { kind: 'status', status: 201, headers: { 'docker-content-digest': sha('something else') }, body: '' }
        : { kind: 'pass' },
    );
    try {
      const { manifest, pushed } = await pushImage(repoOn(plain, 'push/lying'), 'lying');
      const err = await repoOn(plain, 'push/lying', proxy.host)
        .putManifest(manifest)
        .catch((e: unknown) => e);
      expect((err as PortcullisError).code).toBe('PUSH_FAILED');
      expect((err as Error).message).toBe(
        `push manifest ${pushed.digest} to ${proxy.host}/push/lying: the registry stored it as ${sha('something else')}`,
      );
    } finally {
      await proxy.stop();
    }
  });

  it('deletes a manifest by digest, and says false when it is already gone', async () => {
    const repo = repoOn(secure, 'push/delete');
    const { pushed } = await pushImage(repo, 'delete');
    expect(await repo.headManifest(pushed.digest)).toEqual({ digest: pushed.digest });
    expect(await repo.deleteManifest(pushed.digest)).toBe(true);
    expect(await repo.findManifest(pushed.digest)).toBeUndefined();
    expect(await repo.headManifest(pushed.digest)).toBeUndefined();
    expect(await repo.deleteManifest(pushed.digest)).toBe(false);
    expect(() => skopeoRaw(secure, `push/delete@${pushed.digest}`)).toThrow();
  });
});

describe('tags', () => {
  it('lists every tag of a real registry, as skopeo list-tags does', async () => {
    const repo = repoOn(secure, 'push/tags');
    const { manifest } = await pushImage(repo, 'tags');
    const names = ['v1', 'v2', 'v3', 'latest', 'a-0', 'stable', 'z9'];
    for (const t of names) await repo.putManifest(manifest, { reference: t });
    const tags = await repo.listTags({ pageSize: 2 });
    const skopeo = JSON.parse(
      execFileSync(
        'skopeo',
        [
          'list-tags',
          '--cert-dir',
          secure.certDir as string,
          '--creds',
          `${USER}:${PASSWORD}`,
          `docker://${secure.host}/push/tags`,
        ],
        { encoding: 'utf8' },
      ),
    ).Tags as string[];
    expect([...tags].sort()).toEqual([...skopeo].sort());
    expect([...tags].sort()).toEqual([...names].sort());
  });

  it('follows Link rel="next" pages, and refuses a list that loops', async () => {
    // distribution 2.8 ignores ?n= and sends every tag at once; a proxy pages as OCI registries do.
    const page = (tags: string[], next?: string) => ({
      kind: 'status' as const,
      status: 200,
      headers: next ? { link: `<${next}>; rel="next"` } : {},
      body: JSON.stringify({ name: 'push/paged', tags }),
    });
    const proxy = await startFaultProxy(plain.host, (req) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/v2/push/loop/tags/list') return page(['a'], '/v2/push/loop/tags/list?last=a&n=1');
      if (url.pathname !== '/v2/push/paged/tags/list') return { kind: 'pass' };
      const last = url.searchParams.get('last');
      if (!last) return page(['a', 'b'], '/v2/push/paged/tags/list?last=b&n=2');
      if (last === 'b') return page(['c', 'd'], `http://${proxyHost}/v2/push/paged/tags/list?last=d&n=2`);
      return page(['e']);
    });
    const proxyHost = proxy.host;
    try {
      expect(await repoOn(plain, 'push/paged', proxy.host).listTags({ pageSize: 2 })).toEqual([
        'a',
        'b',
        'c',
        'd',
        'e',
      ]);
      expect(proxy.log.filter((l) => l.startsWith('GET /v2/push/paged/tags/list'))).toEqual([
        'GET /v2/push/paged/tags/list?n=2 -> 200',
        'GET /v2/push/paged/tags/list?last=b&n=2 -> 200',
        'GET /v2/push/paged/tags/list?last=d&n=2 -> 200',
      ]);
      await expect(repoOn(plain, 'push/loop', proxy.host).listTags()).rejects.toThrow(
        `tags of ${proxy.host}/push/loop: the tag list does not end (page 3)`,
      );
    } finally {
      await proxy.stop();
    }
  });

  it('gives an empty list for a repository the registry does not know', async () => {
    expect(await repoOn(secure, 'push/never-pushed').listTags()).toEqual([]);
  });

  it('trusts a private CA only for the clients given it, in one process (TLS contexts are shared, trust is not)', async () => {
    const untrusted = () =>
      new RegistryRepository(
        new RegistryClient(secure.host, { creds: `${USER}:${PASSWORD}`, retries: 0, env: {} }),
        'push/trust',
      );
    await expect(untrusted().listTags()).rejects.toThrow(/certificate|verify/i);
    expect(await repoOn(secure, 'push/trust').listTags()).toEqual([]);
    expect(await repoOn(secure, 'push/trust').listTags()).toEqual([]);
    await expect(untrusted().listTags()).rejects.toThrow(/certificate|verify/i);
  });
});

describe('referrers (distribution 2.8 has no referrers API: the tag schema fallback)', () => {
  const artifact = (subject: { digest: string; size: number }, blob: { digest: string; size: number }, kind: string) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: `application/vnd.example.${kind}`, digest: blob.digest, size: blob.size },
        layers: [{ mediaType: 'application/octet-stream', digest: blob.digest, size: blob.size }],
        subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...subject },
        annotations: { 'org.example.kind': kind },
      }),
    );

  it('keeps the index under sha256-<hex> up to date, without duplicates, and lists it back', async () => {
    const repo = repoOn(secure, 'push/referrers');
    const { pushed: image } = await pushImage(repo, 'referred');
    const subject = { digest: image.digest, size: image.size };
    const blob = await repo.putBlob(Buffer.from('a signature payload'));
    const sig = artifact(subject, blob, 'signature');
    const sbom = artifact(subject, blob, 'sbom');
    expect(await listReferrers(repo, image.digest)).toEqual({ manifests: [], via: 'tag' });
    const first = await pushReferrer(repo, sig);
    expect(first).toMatchObject({ digest: sha(sig), via: 'tag', subjectProcessed: false });
    await pushReferrer(repo, sig);
    await pushReferrer(repo, sbom);
    // skopeo reads the fallback tag: an OCI index with one descriptor per referrer.
    const index = JSON.parse(skopeoRaw(secure, `push/referrers:${referrersTag(image.digest)}`).toString('utf8'));
    expect(index).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha(sig),
          size: sig.length,
          artifactType: 'application/vnd.example.signature',
          annotations: { 'org.example.kind': 'signature' },
        },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha(sbom),
          size: sbom.length,
          artifactType: 'application/vnd.example.sbom',
          annotations: { 'org.example.kind': 'sbom' },
        },
      ],
    });
    const all = await listReferrers(repo, image.digest);
    expect(all.via).toBe('tag');
    expect(all.manifests.map((d) => d.digest)).toEqual([sha(sig), sha(sbom)]);
    const sboms = await listReferrers(repo, image.digest, { artifactType: 'application/vnd.example.sbom' });
    expect(sboms.manifests.map((d) => d.digest)).toEqual([sha(sbom)]);
  });

  it('refuses to overwrite a referrers tag that names something other than an index', async () => {
    const repo = repoOn(secure, 'push/referrers-clash');
    const { pushed: image, manifest } = await pushImage(repo, 'clash');
    await repo.putManifest(manifest, { reference: referrersTag(image.digest) });
    const blob = await repo.putBlob(Buffer.from('payload'));
    const err = await pushReferrer(repo, artifact({ digest: image.digest, size: image.size }, blob, 'sig')).catch(
      (e: unknown) => e,
    );
    expect((err as PortcullisError).code).toBe('PUSH_FAILED');
    expect((err as Error).message).toBe(
      `referrer for ${secure.host}/push/referrers-clash: the referrers tag ${referrersTag(image.digest)} names a application/vnd.oci.image.manifest.v1+json, not an index; not overwriting it`,
    );
  });

  it('reads the referrers API, page by page, where a registry has it', async () => {
    // distribution 2.8 has no referrers API; a proxy answers that one route as an OCI 1.1 registry would.
    const d = (n: number, type: string) => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: sha(`referrer ${n}`),
      size: 100 + n,
      artifactType: type,
    });
    const subject = sha('subject');
    const pages: Record<string, { manifests: object[]; link?: string }> = {
      first: {
        manifests: [d(1, 'a/sig'), d(2, 'a/sbom')],
        link: `</v2/push/api/referrers/${subject}?page=2>; rel="next"`,
      },
      second: { manifests: [d(3, 'a/sig')] },
    };
    const proxy = await startFaultProxy(plain.host, (req) => {
      if (!req.url?.startsWith('/v2/push/api/referrers/')) return { kind: 'pass' };
      const page = req.url.includes('page=2') ? pages.second : pages.first;
      return {
        kind: 'status',
        status: 200,
        headers: {
          'content-type': 'application/vnd.oci.image.index.v1+json',
          ...(page?.link ? { link: page.link } : {}),
        },
        body: JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: page?.manifests,
        }),
      };
    });
    try {
      const repo = repoOn(plain, 'push/api', proxy.host);
      const all = await listReferrers(repo, subject);
      expect(all).toEqual({ manifests: [d(1, 'a/sig'), d(2, 'a/sbom'), d(3, 'a/sig')], via: 'api' });
      // this registry ignores the filter (no OCI-Filters-Applied): the client filters
      const sigs = await listReferrers(repo, subject, { artifactType: 'a/sig' });
      expect(sigs.manifests.map((m) => m.digest)).toEqual([sha('referrer 1'), sha('referrer 3')]);
    } finally {
      await proxy.stop();
    }
  });
});
