import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { RegistryClient, type RegistryOptions } from '../../src/oci/registry/client.js';
import { type CopyEvent, copyImage, tagManifest } from '../../src/oci/registry/copy.js';
import { RegistryRepository } from '../../src/oci/registry/push.js';
import { type Fault, startFaultProxy } from '../helpers/faultproxy.js';
import { makeTar } from '../helpers/layers.js';
import { LayoutWriter } from '../helpers/oci.js';
import { EXAMPLE } from '../helpers/paths.js';
import { makePki, startRegistry, type TestPki, type TestRegistry } from '../helpers/registry.js';
import { startTokenServer, type TokenServer } from '../helpers/tokenserver.js';

const STAGE = { user: 'stage-bot', password: 'St4ge-Pa55-never-print-me' };
const PROD = { user: 'prod-bot', password: 'Pr0d-Pa55-never-print-me' };
const CI = { user: 'ci-bot', password: 'C1-Pa55-never-print-me' };
const VIEWER = { user: 'viewer', password: 'V1ewer-Pa55-never-print-me' };
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const FAST = { retries: 3, backoffMs: 5 };

let tmp: string;
let pki: TestPki;
let staging: TestRegistry;
let production: TestRegistry;
let shared: TestRegistry;
let tokens: TokenServer;
let plainSrc: TestRegistry;
let plainDst: TestRegistry;
let multiDir: string;
let example: string;
let multi: string;

/** skopeo, the independent client; asynchronous, because the token server lives in this process. */
async function skopeo(...args: string[]): Promise<Buffer> {
  const { stdout } = await promisify(execFile)('skopeo', args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

function tlsArgs(reg: TestRegistry, creds: { user: string; password: string }, dir: 'src' | 'dest' | '') {
  const p = dir ? `--${dir}-` : '--';
  return [`${p}cert-dir`, reg.certDir as string, `${p}creds`, `${creds.user}:${creds.password}`];
}

function credsFor(reg: TestRegistry): { user: string; password: string } {
  return reg === staging ? STAGE : reg === production ? PROD : CI;
}

/** `skopeo inspect --raw`: the manifest bytes as the registry serves them. */
async function rawManifest(reg: TestRegistry, ref: string): Promise<Buffer> {
  const tls = reg.pki ? tlsArgs(reg, credsFor(reg), '') : ['--tls-verify=false'];
  return skopeo('inspect', '--raw', ...tls, `docker://${reg.host}/${ref}`);
}

/** Copy an image back out with skopeo into an OCI layout; the blobs it wrote, digest → bytes hash. */
async function pullBlobs(reg: TestRegistry, ref: string): Promise<Map<string, string>> {
  const out = mkdtempSync(join(tmp, 'pull-'));
  const tls = reg.pki ? tlsArgs(reg, credsFor(reg), 'src') : ['--src-tls-verify=false'];
  await skopeo('copy', '--quiet', '--all', '--preserve-digests', ...tls, `docker://${reg.host}/${ref}`, `oci:${out}:x`);
  return layoutBlobs(out);
}

function layoutBlobs(dir: string): Map<string, string> {
  const blobs = new Map<string, string>();
  for (const f of readdirSync(join(dir, 'blobs', 'sha256'))) {
    blobs.set(`sha256:${f}`, sha(readFileSync(join(dir, 'blobs', 'sha256', f))));
  }
  return blobs;
}

function repo(reg: TestRegistry, name: string, opts: RegistryOptions = {}, host = reg.host): RegistryRepository {
  const base: RegistryOptions = reg.pki
    ? { caCerts: [pki.caCert], creds: `${credsFor(reg).user}:${credsFor(reg).password}` }
    : { insecureRegistries: [host] };
  return new RegistryRepository(new RegistryClient(host, { env: {}, ...FAST, ...base, ...opts }), name);
}

/** Access-log lines of a registry (method, path, status) written since `from`, auth challenges left out. */
function requests(reg: TestRegistry, from: number): string[] {
  return [
    ...reg
      .log()
      .slice(from)
      .matchAll(/"([A-Z]+) (\S+) HTTP\/1\.1" (\d+)/g),
  ]
    .map((m) => `${m[1]} ${m[2]} ${m[3]}`)
    .filter((l) => !l.endsWith(' 401'));
}

const writes = (lines: string[]) => lines.filter((l) => /^(POST|PUT|PATCH|DELETE) /.test(l));

/** A two-platform index whose amd64 image has a 2.5 MiB layer that does not compress: over a 1 MiB chunk size. */
async function writeMultiPlatform(dir: string): Promise<void> {
  const w = new LayoutWriter(dir);
  const big = await makeTar([{ path: 'opt/big.bin', content: randomBytes(2.5 * 1024 * 1024) }]);
  const common = await makeTar([{ path: 'etc/os-release', content: 'ID=test\n' }]);
  const amd = w.image([common, big], { arch: 'amd64' });
  const arm = w.image([common, await makeTar([{ path: 'etc/arm', content: 'arm64\n' }])], {
    arch: 'arm64',
    variant: 'v8',
  });
  const index = w.platformIndex([
    [amd, { os: 'linux', architecture: 'amd64' }],
    [arm, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
  ]);
  w.index([{ ...index, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }]);
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-copy-test-'));
  pki = makePki(join(tmp, 'pki'));
  tokens = await startTokenServer({
    pki,
    service: 'portcullis-shared',
    users: { [CI.user]: CI.password, [VIEWER.user]: VIEWER.password },
    policy: (subject) => (subject === CI.user ? ['pull', 'push'] : subject === VIEWER.user ? ['pull'] : []),
  });
  [staging, production, shared, plainSrc, plainDst] = await Promise.all([
    startRegistry({ tls: true, pki, auth: STAGE }),
    startRegistry({ tls: true, pki, auth: PROD }),
    startRegistry({ tls: true, pki, token: tokens }),
    startRegistry(),
    startRegistry(),
  ]);
  multiDir = join(tmp, 'multi');
  await writeMultiPlatform(multiDir);
  const push = async (reg: TestRegistry, src: string, dest: string, all = false) => {
    const tls = reg.pki ? tlsArgs(reg, credsFor(reg), 'dest') : ['--dest-tls-verify=false'];
    await skopeo('copy', '--quiet', ...(all ? ['--all'] : []), ...tls, src, `docker://${reg.host}/${dest}`);
  };
  await Promise.all([
    push(staging, `oci:${EXAMPLE}:latest`, 'team/app:1.0'),
    push(staging, `oci:${multiDir}:multi`, 'team/multi:1.0', true),
    push(shared, `oci:${EXAMPLE}:latest`, 'staging/app:1.0'),
    push(plainSrc, `oci:${EXAMPLE}:latest`, 'team/app:1.0'),
    push(plainSrc, `oci:${multiDir}:multi`, 'team/multi:1.0', true),
  ]);
  example = sha(await rawManifest(staging, 'team/app:1.0'));
  multi = sha(await rawManifest(staging, 'team/multi:1.0'));
});

afterAll(async () => {
  await Promise.all([staging, production, shared, plainSrc, plainDst].map((r) => r?.stop()));
  await tokens?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('copyImage between two registries (staging → production, TLS + htpasswd)', () => {
  it('streams every blob and the manifest by digest, verified; skopeo reads back identical bytes; tagging is separate', async () => {
    const events: CopyEvent[] = [];
    const dst = repo(production, 'prod/app');
    const r = await copyImage(repo(staging, 'team/app'), dst, example, { onEvent: (e) => events.push(e) });
    const manifest = JSON.parse((await rawManifest(staging, `team/app@${example}`)).toString('utf8'));
    const blobs = [manifest.config, ...manifest.layers].map((d: { digest: string }) => d.digest);
    expect(r).toEqual({
      digest: example,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      pushed: [example],
      blobs: { copied: blobs.length, mounted: 0, present: 0, bytes: expect.any(Number) },
    });
    expect(events.filter((e) => e.kind === 'blob-copied').map((e) => e.digest)).toEqual(expect.arrayContaining(blobs));
    // Nothing is tagged by the copy.
    expect(await dst.listTags()).toEqual([]);
    expect(
      (await rawManifest(production, `prod/app@${example}`)).equals(await rawManifest(staging, `team/app@${example}`)),
    ).toBe(true);
    await tagManifest(dst, '1.0', example);
    expect(sha(await rawManifest(production, 'prod/app:1.0'))).toBe(example);
    expect(await dst.listTags()).toEqual(['1.0']);
    // skopeo copies production back out: the same blobs, byte for byte, as the layout the image came from.
    const pulled = await pullBlobs(production, `prod/app@${example}`);
    const source = layoutBlobs(EXAMPLE);
    for (const [digest, hash] of pulled) expect(source.get(digest), digest).toBe(hash);
    for (const [digest, hash] of pulled) expect(hash).toBe(digest);
    expect([...pulled.keys()]).toEqual(expect.arrayContaining([example, ...blobs]));
  });

  it('reruns idempotently: nothing is written again; after a crash between blobs and manifest it converges', async () => {
    const dst = repo(production, 'prod/app');
    let from = production.log().length;
    const again = await copyImage(repo(staging, 'team/app'), dst, example);
    expect(again.pushed).toEqual([]);
    expect(writes(requests(production, from))).toEqual([]);
    // The state a crash after the blobs and before the manifest leaves: every blob, no manifest.
    await tagManifest(dst, 'gone', example);
    expect(await dst.deleteManifest(example)).toBe(true);
    expect(await dst.headManifest(example)).toBeUndefined();
    from = production.log().length;
    const events: CopyEvent[] = [];
    const r = await copyImage(repo(staging, 'team/app'), dst, example, { onEvent: (e) => events.push(e) });
    expect(r.pushed).toEqual([example]);
    expect(r.blobs).toMatchObject({ copied: 0, mounted: 0 });
    expect(events.every((e) => e.kind === 'blob-present' || e.kind === 'manifest-pushed')).toBe(true);
    expect(writes(requests(production, from))).toEqual([`PUT /v2/prod/app/manifests/${example} 201`]);
    expect(sha(await rawManifest(production, `prod/app@${example}`))).toBe(example);
  });

  it('copies a multi-platform index whole: children first, then the index; big blobs in chunks', async () => {
    const events: CopyEvent[] = [];
    const from = production.log().length;
    const r = await copyImage(repo(staging, 'team/multi'), repo(production, 'prod/multi'), multi, {
      chunkSize: 1024 * 1024,
      onEvent: (e) => events.push(e),
    });
    const index = JSON.parse((await rawManifest(staging, `team/multi@${multi}`)).toString('utf8'));
    const children = index.manifests.map((d: { digest: string }) => d.digest);
    expect(r.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(r.pushed).toEqual([...children, multi]);
    // the shared base layer is copied once
    expect(r.blobs.copied).toBe(new Set(events.filter((e) => e.kind === 'blob-copied').map((e) => e.digest)).size);
    expect(events.filter((e) => e.kind === 'blob-chunk').length).toBeGreaterThanOrEqual(3);
    const log = requests(production, from);
    expect(log.filter((l) => l.startsWith('PATCH /v2/prod/multi/blobs/uploads/') && l.endsWith(' 202')).length).toBe(3);
    const manifestPuts = log.filter((l) => l.startsWith('PUT /v2/prod/multi/manifests/'));
    expect(manifestPuts).toEqual([...children, multi].map((d) => `PUT /v2/prod/multi/manifests/${d} 201`));
    expect(
      (await rawManifest(production, `prod/multi@${multi}`)).equals(await rawManifest(staging, `team/multi@${multi}`)),
    ).toBe(true);
    const pulled = await pullBlobs(production, `prod/multi@${multi}`);
    const source = layoutBlobs(multiDir);
    expect(new Map([...pulled].sort())).toEqual(new Map([...source].sort()));
  });
});

describe('within one registry (token auth): cross-repository mounts', () => {
  it('mounts every blob instead of uploading, asking for pull on the source in the same token request', async () => {
    const src = repo(shared, 'staging/app');
    const dst = repo(shared, 'prod/app');
    const from = shared.log().length;
    tokens.requests.length = 0;
    const events: CopyEvent[] = [];
    const r = await copyImage(src, dst, example, { onEvent: (e) => events.push(e) });
    const manifest = JSON.parse((await rawManifest(shared, `staging/app@${example}`)).toString('utf8'));
    const blobs = [manifest.config, ...manifest.layers].map((d: { digest: string }) => d.digest);
    expect(r.blobs).toEqual({ copied: 0, mounted: blobs.length, present: 0, bytes: 0 });
    // The registry's own access log: one mount (201) per blob, no upload session, no PATCH, no blob PUT.
    const log = writes(requests(shared, from));
    const mounts = log.filter((l) => l.includes('mount='));
    expect(mounts).toHaveLength(blobs.length);
    for (const d of blobs) {
      expect(mounts).toContain(
        `POST /v2/prod/app/blobs/uploads/?mount=${encodeURIComponent(d)}&from=staging%2Fapp 201`,
      );
    }
    expect(log.filter((l) => !l.includes('mount='))).toEqual([`PUT /v2/prod/app/manifests/${example} 201`]);
    const mountScopes = tokens.requests.find(
      (t) => t.scopes.includes('repository:prod/app:pull,push') && t.scopes.length > 1 && t.status === 200,
    );
    expect(mountScopes?.scopes).toEqual(['repository:prod/app:pull,push', 'repository:staging/app:pull']);
    expect(mountScopes?.subject).toBe(CI.user);
    expect(sha(await rawManifest(shared, `prod/app@${example}`))).toBe(example);
  });

  it('refuses a user without push rights with one line naming the repositories; nothing is written', async () => {
    const viewer = { creds: `${VIEWER.user}:${VIEWER.password}` };
    const dst = repo(shared, 'prod/denied', viewer);
    const err = await copyImage(repo(shared, 'staging/app', viewer), dst, example).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('DENIED');
    expect((err as PortcullisError).exitCode).toBe(3);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^mount blob sha256:[0-9a-f]{64} from staging/app into ${shared.host}/prod/denied: user 'viewer' may not push to prod/denied \\(or pull from staging/app\\) on ${shared.host}$`,
      ),
    );
    expect(await repo(shared, 'prod/denied').listTags()).toEqual([]);
    expect(await repo(shared, 'prod/denied').headManifest(example)).toBeUndefined();
  });
});

describe('push denied on an htpasswd registry', () => {
  it.each([
    [
      'no credentials',
      { env: { HOME: '/nonexistent' } },
      /needs credentials: a username and password \(none found for it/,
    ],
    [
      'a wrong password',
      { creds: `${PROD.user}:wrong-${PROD.password}` },
      /rejected the credentials for user 'prod-bot'$/,
    ],
  ] as const)('with %s: AUTH_FAILED in one line naming registry, repository and digest', async (_, opts, message) => {
    const dst = new RegistryRepository(
      new RegistryClient(production.host, { caCerts: [pki.caCert], ...FAST, env: {}, ...opts }),
      'prod/nocreds',
    );
    const err = await copyImage(repo(staging, 'team/app'), dst, example).catch((e: unknown) => e);
    expect((err as PortcullisError).code).toBe('AUTH_FAILED');
    const text = (err as Error).message;
    expect(text).toMatch(message);
    expect(text).toContain(`prod/nocreds:${example} on ${production.host}`);
    expect(text).not.toMatch(/\n/);
    expect(text).not.toContain(PROD.password);
    expect(await repo(production, 'prod/nocreds').listTags()).toEqual([]);
  });
});

describe('faults', () => {
  const throughProxy = (reg: TestRegistry, decide: (req: { method: string; url: string }) => Fault) =>
    startFaultProxy(reg.host, (req) => decide({ method: req.method ?? '', url: req.url ?? '' }));

  it('refuses a blob tampered with in transit (DIGEST_MISMATCH): no blob committed, no manifest, nothing tagged', async () => {
    const manifest = JSON.parse((await rawManifest(plainSrc, `team/app@${example}`)).toString('utf8'));
    const layer = manifest.layers[0].digest as string;
    const proxy = await throughProxy(plainSrc, (req) =>
      req.method === 'GET' && req.url?.endsWith(`/blobs/${layer}`)
        ? { kind: 'tamper', offset: 1000 }
        : { kind: 'pass' },
    );
    try {
      const src = repo(plainSrc, 'team/app', {}, proxy.host);
      const dst = repo(production, 'prod/tampered');
      const err = await copyImage(src, dst, example).catch((e: unknown) => e);
      expect((err as PortcullisError).code).toBe('DIGEST_MISMATCH');
      expect((err as Error).message).toMatch(
        new RegExp(
          `^blob ${layer} from ${proxy.host}/team/app \\(copying to ${production.host}/prod/tampered\\): content hashes to sha256:[0-9a-f]{64}, expected ${layer}$`,
        ),
      );
      expect(await dst.hasBlob(layer)).toBe(false);
      expect(await dst.headManifest(example)).toBeUndefined();
      expect(await dst.listTags()).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses a manifest tampered with in transit before reading anything else', async () => {
    const proxy = await throughProxy(plainSrc, (req) =>
      req.url?.includes('/manifests/') ? { kind: 'tamper', offset: 20 } : { kind: 'pass' },
    );
    try {
      const dst = repo(production, 'prod/tampered-manifest');
      const err = await copyImage(repo(plainSrc, 'team/app', {}, proxy.host), dst, example).catch((e: unknown) => e);
      expect((err as PortcullisError).code).toBe('DIGEST_MISMATCH');
      expect((err as Error).message).toMatch(
        new RegExp(
          `^manifest team/app:${example} on ${proxy.host}: content hashes to sha256:[0-9a-f]{64}, expected ${example}$`,
        ),
      );
      expect(proxy.log.some((l) => l.includes('/blobs/'))).toBe(false);
      expect(await dst.listTags()).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('retries 5xx and connection resets on both sides, and starts a blob over whose source stream broke', async () => {
    const seen = new Map<string, number>();
    const count = (k: string) => {
      const n = (seen.get(k) ?? 0) + 1;
      seen.set(k, n);
      return n;
    };
    const index = JSON.parse((await rawManifest(plainSrc, `team/multi@${multi}`)).toString('utf8'));
    const amd = JSON.parse((await rawManifest(plainSrc, `team/multi@${index.manifests[0].digest}`)).toString('utf8'));
    const big = amd.layers[1].digest as string;
    const srcProxy = await throughProxy(plainSrc, (req) => {
      const n = count(`src ${req.method} ${req.url}`);
      if (req.url?.includes('/blobs/') && n === 1) return { kind: 'status', status: 503 };
      if (req.url?.endsWith(`/blobs/${big}`) && n === 2) return { kind: 'reset-after', bytes: 1500 * 1024 };
      if (req.url?.includes('/manifests/') && n === 1) return { kind: 'status', status: 502 };
      return { kind: 'pass' };
    });
    const dstProxy = await throughProxy(plainDst, (req) => {
      const n = count(`dst ${req.method} ${req.url?.replace(/\/uploads\/.*/, '/uploads/')}`);
      if (req.method === 'POST' && n === 1) return { kind: 'status', status: 500 };
      // the registry applies this chunk but the answer is lost: the retry meets a stale session URL
      if (req.method === 'PATCH' && n === 2) return { kind: 'drop-response' };
      if (req.method === 'PUT' && req.url?.endsWith(`/manifests/${multi}`) && n === 1)
        return { kind: 'status', status: 503 };
      return { kind: 'pass' };
    });
    try {
      const events: CopyEvent[] = [];
      const r = await copyImage(
        repo(plainSrc, 'team/multi', {}, srcProxy.host),
        repo(plainDst, 'prod/faults', {}, dstProxy.host),
        multi,
        { chunkSize: 1024 * 1024, onEvent: (e) => events.push(e) },
      );
      expect(r.pushed.at(-1)).toBe(multi);
      expect(srcProxy.log.filter((l) => l.endsWith('-> 503')).length).toBeGreaterThan(0);
      // the big blob: 503 (retried), cut mid-stream (started over), then read whole twice: the second
      // session went stale after the lost PATCH answer and the blob started over once more
      expect(srcProxy.log.filter((l) => l.startsWith(`GET /v2/team/multi/blobs/${big} `))).toEqual(
        ['503', 'reset-after', 'pass', 'pass'].map((f) => `GET /v2/team/multi/blobs/${big} -> ${f}`),
      );
      expect(dstProxy.log.filter((l) => l.endsWith('-> 500') || l.endsWith('-> 503'))).toHaveLength(2);
      expect(dstProxy.log.filter((l) => l.endsWith('-> drop-response'))).toHaveLength(1);
      const pulled = await pullBlobs(plainDst, `prod/faults@${multi}`);
      expect(new Map([...pulled].sort())).toEqual(new Map([...layoutBlobs(multiDir)].sort()));
    } finally {
      await srcProxy.stop();
      await dstProxy.stop();
    }
  });

  it('fails cleanly when the destination registry dies mid-copy; after a restart on the same storage a rerun converges', async () => {
    let patches = 0;
    let killed: Promise<void> | undefined;
    let armed = true;
    const proxy = await throughProxy(plainDst, (req) => {
      // Hold the second chunk of the big layer until the registry is dead, then let it meet the corpse.
      if (armed && req.method === 'PATCH' && ++patches === 2) {
        armed = false;
        killed = plainDst.kill();
        return { kind: 'hold', until: killed };
      }
      return { kind: 'pass' };
    });
    try {
      const dst = () => repo(plainDst, 'prod/crash', {}, proxy.host);
      const src = repo(staging, 'team/multi');
      // One blob at a time: the config and the shared layer land before the big layer starts.
      const err = await copyImage(src, dst(), multi, { chunkSize: 1024 * 1024, concurrency: 1 }).catch(
        (e: unknown) => e,
      );
      expect(killed).toBeDefined();
      expect(err).toBeInstanceOf(PortcullisError);
      expect(['NETWORK', 'PUSH_FAILED', 'REGISTRY_ERROR']).toContain((err as PortcullisError).code);
      expect((err as Error).message).toMatch(
        new RegExp(`^upload of blob sha256:[0-9a-f]{64} to ${proxy.host}/prod/crash \\(bytes \\d+-\\d+\\): `),
      );
      expect((err as Error).message).not.toMatch(/\n/);
      await plainDst.restart();
      expect(await dst().headManifest(multi)).toBeUndefined();
      expect(await dst().listTags()).toEqual([]);
      const events: CopyEvent[] = [];
      const r = await copyImage(src, dst(), multi, { chunkSize: 1024 * 1024, onEvent: (e) => events.push(e) });
      expect(r.pushed.at(-1)).toBe(multi);
      // the blobs that landed before the crash are not sent again
      expect(r.blobs.present).toBe(2);
      expect(events.filter((e) => e.kind === 'blob-present')).toHaveLength(2);
      const pulled = await pullBlobs(plainDst, `prod/crash@${multi}`);
      expect(new Map([...pulled].sort())).toEqual(new Map([...layoutBlobs(multiDir)].sort()));
      const again = await copyImage(src, dst(), multi);
      expect(again.pushed).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });
});
