import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { type Fault, startFaultProxy } from '../helpers/faultproxy.js';
import {
  type Creds,
  EXAMPLE_DIGEST,
  exampleDb,
  KEY_PASSWORD,
  passingRules,
  skopeo,
  skopeoTls,
  writePolicy,
} from '../helpers/gate.js';
import { EXAMPLE } from '../helpers/paths.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * `registry watch --once` under registry faults. A real registry (CNCF distribution with htpasswd) sits behind the
 * loopback fault proxy, which speaks plain HTTP to it, so the registry runs without TLS and the watcher reaches the
 * proxy with `--insecure-registry` (Basic auth still goes through the proxy). The gate promotes one image through the
 * proxy (its signature names the proxy's host, as the watcher sees it); three tags of one more repository are unsigned.
 * Oracle: the verdicts of a fault-free run, themselves held against what was pushed. Transient faults (429 with
 * Retry-After, 503, resets, held responses) must give the same verdicts; a persistent failure must end with exit 3 and
 * a one-line error, never a report; a tampered signature or attestation blob must never read as approved.
 */

const CREDS: Creds = { user: 'watch-faults', password: 'W4tch-Fau1ts-pw' };
const pw = { COSIGN_PASSWORD: KEY_PASSWORD };
const pass: Fault = { kind: 'pass' };
const SHA = EXAMPLE_DIGEST.slice(7);

let tmp: string;
let reg: TestRegistry;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
let decide: (req: http.IncomingMessage, n: number) => Fault = () => pass;
let config: string;
let sigBlob: string;
let attBlob: string;

interface Row {
  repository: string;
  tag: string;
  digest: string;
  status: string;
}

function watch(extra: string[] = []) {
  return runCli([
    'registry',
    'watch',
    '--config',
    config,
    '--once',
    '-f',
    'json',
    '--insecure-registry',
    proxy.host,
    '--creds',
    `${CREDS.user}:${CREDS.password}`,
    ...extra,
  ]);
}

function rows(stdout: string): Row[] {
  const doc = JSON.parse(stdout);
  return doc.registries[0].tags.map((t: Row) => ({
    repository: t.repository,
    tag: t.tag,
    digest: t.digest,
    status: t.status,
  }));
}

/** A GET on the registry itself (not through the proxy, not Portcullis): the oracle's view of what was pushed. */
async function registryJson(path: string): Promise<unknown> {
  const auth = `Basic ${Buffer.from(`${CREDS.user}:${CREDS.password}`).toString('base64')}`;
  const res = await fetch(`http://${reg.host}${path}`, {
    headers: { authorization: auth, accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return res.json();
}

/** Each request whose `key` is new answers with `fault` once; later ones pass. */
function once(key: (req: http.IncomingMessage) => string | undefined, fault: Fault) {
  const hit = new Set<string>();
  return (req: http.IncomingMessage): Fault => {
    const k = key(req);
    if (k === undefined || hit.has(k)) return pass;
    hit.add(k);
    return fault;
  };
}

const ORACLE: Row[] = [
  { repository: 'prod/app', tag: '1.0', digest: EXAMPLE_DIGEST, status: 'approved' },
  ...['1', '2', '3'].map((tag) => ({ repository: 'prod/unsigned', tag, digest: EXAMPLE_DIGEST, status: 'unsigned' })),
];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-watch-faults-'));
  reg = await startRegistry({ auth: CREDS });
  proxy = await startFaultProxy(reg.host, (req, n) => decide(req, n));
  const db = await exampleDb(tmp);
  const key = join(tmp, 'gate');
  expect((await runCli(['keygen', '--output-key-prefix', key], pw)).code).toBe(0);
  const push = (dest: string) =>
    skopeo(
      'copy',
      '--quiet',
      '--preserve-digests',
      ...skopeoTls(reg, undefined, 'dest'),
      '--dest-creds',
      `${CREDS.user}:${CREDS.password}`,
      `oci:${EXAMPLE}:latest`,
      `docker://${reg.host}/${dest}`,
    );
  await push('staging/app:1.0');
  for (const t of ['1', '2', '3']) await push(`prod/unsigned:${t}`);
  const gate = await runCli(
    [
      'gate',
      `docker://${proxy.host}/staging/app:1.0`,
      '--to',
      `${proxy.host}/prod/app`,
      '--policy',
      writePolicy(tmp, 'passing', passingRules()),
      '--key',
      `${key}.key`,
      '--db',
      db,
      '--insecure-registry',
      proxy.host,
      '--creds',
      `${CREDS.user}:${CREDS.password}`,
    ],
    pw,
  );
  expect(gate.code, gate.stdout + gate.stderr).toBe(0);

  // The blobs of the cosign signature and attestation images, read from the registry itself.
  const layer = async (tag: string): Promise<string> =>
    ((await registryJson(`/v2/prod/app/manifests/${tag}`)) as { layers: { digest: string }[] }).layers[0]
      ?.digest as string;
  sigBlob = await layer(`sha256-${SHA}.sig`);
  attBlob = await layer(`sha256-${SHA}.att`);

  writeFileSync(
    join(tmp, 'trust.yaml'),
    `version: 1\nrepositories:\n  - match: ${proxy.host}/prod/**\n    keys: [gate.pub]\n    attestations: [assessment]\n`,
  );
  config = join(tmp, 'watch.yaml');
  writeFileSync(
    config,
    [
      'apiVersion: portcullis.dev/v1alpha1',
      'kind: WatchConfig',
      'registries:',
      `  - host: ${proxy.host}`,
      '    repositories: [prod/**]',
      '    trustPolicy: trust.yaml',
      '    maxAssessmentAge: 7d',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Requests the proxy saw since `from` that match `re`, with what it did to them. */
const seen = (from: number, re: RegExp) => proxy.log.slice(from).filter((l) => re.test(l));

describe('registry watch --once under registry faults', () => {
  it('fault-free, through the proxy: the oracle (gate-approved and unsigned tags, as pushed); exit 1', async () => {
    decide = () => pass;
    // The registry holds exactly what the oracle says was pushed.
    const listed = (await registryJson('/v2/prod/unsigned/tags/list')) as { tags: string[] };
    expect(listed.tags.sort()).toEqual(['1', '2', '3']);
    const r = await watch();
    expect(r.code, r.stderr).toBe(1);
    expect(rows(r.stdout)).toEqual(ORACLE);
  });

  it('429 with Retry-After on the catalog and on every tag list: retried, same verdicts', async () => {
    const from = proxy.log.length;
    decide = once((req) => (/^\/v2\/(_catalog|.+\/tags\/list)/.test(req.url ?? '') ? req.url : undefined), {
      kind: 'status',
      status: 429,
      headers: { 'retry-after': '1' },
      body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
    });
    const r = await watch();
    expect(r.code, r.stderr).toBe(1);
    expect(rows(r.stdout)).toEqual(ORACLE);
    expect(seen(from, /^GET \/v2\/_catalog -> 429$/)).toHaveLength(1);
    expect(seen(from, /^GET \/v2\/prod\/\w+\/tags\/list -> 429$/)).toHaveLength(2);
    expect(seen(from, /^GET \/v2\/prod\/\w+\/tags\/list -> pass$/).length).toBeGreaterThanOrEqual(2);
  });

  it('503 on the first HEAD of every tag and a held response: retried and waited for, same verdicts', async () => {
    const from = proxy.log.length;
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const fail503 = once((req) => (req.method === 'HEAD' ? req.url : undefined), {
      kind: 'status',
      status: 503,
    });
    let holding = false;
    decide = (req) => {
      // The signature manifest is held for a while (well under the client's idle timeout), then answered.
      if (!holding && req.method === 'GET' && req.url === `/v2/prod/app/manifests/sha256-${SHA}.sig`) {
        holding = true;
        setTimeout(release, 1500);
        return { kind: 'hold', until: held };
      }
      return fail503(req);
    };
    const r = await watch();
    expect(r.code, r.stderr).toBe(1);
    expect(rows(r.stdout)).toEqual(ORACLE);
    expect(seen(from, /^HEAD .* -> 503$/)).toHaveLength(4);
    expect(seen(from, /^GET \/v2\/prod\/app\/manifests\/sha256-\w+\.sig -> hold$/)).toHaveLength(1);
  });

  it.each([
    ['the catalog', (url: string) => url.startsWith('/v2/_catalog')],
    ['the signature blob', (url: string) => url.endsWith(`/blobs/${sigBlob}`)],
    ['the signature manifest', (url: string) => url === `/v2/prod/app/manifests/sha256-${SHA}.sig`],
    ['a tag list', (url: string) => url === '/v2/prod/unsigned/tags/list'],
  ])('a connection closed mid-body on %s: retried, same verdicts', async (_what, target) => {
    const from = proxy.log.length;
    decide = once((req) => (req.method === 'GET' && target(req.url ?? '') ? req.url : undefined), {
      kind: 'reset-mid-body',
      bytes: 16,
    });
    const r = await watch();
    expect(seen(from, / -> reset-mid-body$/)).toHaveLength(1);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(rows(r.stdout)).toEqual(ORACLE);
  });

  it('a connection cut before the headers of the signature blob: retried, same verdicts', async () => {
    const from = proxy.log.length;
    decide = once((req) => (req.method === 'GET' && req.url?.endsWith(`/blobs/${sigBlob}`) ? req.url : undefined), {
      kind: 'reset-after',
      bytes: 1,
    });
    const r = await watch();
    expect(seen(from, / -> reset-after$/)).toHaveLength(1);
    expect(r.code, r.stderr).toBe(1);
    expect(rows(r.stdout)).toEqual(ORACLE);
  });

  it('a connection dropped before the answer on a tag HEAD: retried, same verdicts', async () => {
    const from = proxy.log.length;
    decide = once(
      (req) => (req.method === 'HEAD' && req.url === '/v2/prod/unsigned/manifests/2' ? req.url : undefined),
      {
        kind: 'drop-response',
      },
    );
    const r = await watch();
    expect(r.code, r.stderr).toBe(1);
    expect(rows(r.stdout)).toEqual(ORACLE);
    expect(seen(from, /^HEAD \/v2\/prod\/unsigned\/manifests\/2 -> drop-response$/)).toHaveLength(1);
  });

  it('every request 503 after the Nth, for each N short of a whole run: exit 3, a one-line error, no report', async () => {
    decide = () => pass;
    const from = proxy.log.length;
    const full = await watch();
    expect(rows(full.stdout)).toEqual(ORACLE);
    const total = proxy.log.length - from;
    expect(total).toBeGreaterThan(8);
    for (let n = 0; n < total; n++) {
      let count = 0;
      decide = () => (count++ < n ? pass : { kind: 'status', status: 503 });
      const r = await watch(['--retries', '2']);
      expect(r.code, `cut after ${n}: ${r.stderr}`).toBe(3);
      expect(r.stdout, `cut after ${n}`).toBe('');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines[0], `cut after ${n}`).toMatch(
        /^portcullis: REGISTRY_ERROR: .*HTTP 503.*\(gave up after 2 attempts\)$/,
      );
      expect(
        lines.slice(1).every((l) => l.startsWith('  hint: ')),
        r.stderr,
      ).toBe(true);
    }
  });

  it('a tampered signature blob makes that digest unsigned; a tampered attestation blob unassessed; never approved', async () => {
    decide = (req) => (req.url?.endsWith(`/blobs/${sigBlob}`) ? { kind: 'tamper', offset: 20 } : pass);
    const s = await watch();
    expect(s.code, s.stderr).toBe(1);
    const sig = rows(s.stdout);
    expect(sig).toEqual(ORACLE.map((o) => (o.repository === 'prod/app' ? { ...o, status: 'unsigned' } : o)));
    expect(JSON.parse(s.stdout).registries[0].tags[0].detail).toMatch(/edited|digest|hash/i);

    decide = (req) => (req.url?.endsWith(`/blobs/${attBlob}`) ? { kind: 'tamper', offset: 40 } : pass);
    const a = await watch();
    expect(a.code, a.stderr).toBe(1);
    expect(rows(a.stdout)).toEqual(
      ORACLE.map((o) => (o.repository === 'prod/app' ? { ...o, status: 'unassessed' } : o)),
    );
  });
});
