import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import tls from 'node:tls';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseK8sConfig } from '../../src/k8s/config.js';
import { createWebhookServer, listen, type WebhookMode } from '../../src/k8s/webhook/server.js';
import { fixedKeys, ImageVerifier, registryFailure } from '../../src/k8s/webhook/verify.js';
import { loadTrustedKey } from '../../src/sign/open.js';
import { runCli } from '../helpers/cli.js';
import { startFaultProxy } from '../helpers/faultproxy.js';
import { type Creds, EXAMPLE_DIGEST, requests, spawnCli } from '../helpers/gate.js';
import { freePort, makePki, type TestPki, type TestRegistry } from '../helpers/registry.js';
import { type SignedImages, startSignedImages, WEBHOOK_CREDS } from '../helpers/webhook-images.js';

/**
 * `k8s webhook` against real parts: a CNCF distribution registry (TLS from a test CA, htpasswd) holding the example
 * image under several repositories, pushed by skopeo, signed and attested by `portcullis sign` and `attest` with the
 * trusted key, another key, or a FAIL assessment (helpers/webhook-images.ts); the webhook's own HTTPS server with an
 * openssl-made certificate on 127.0.0.1, asked with node's https client. The registry's access log counts what
 * verification fetched.
 */

const CREDS: Creds = WEBHOOK_CREDS;
const SHA = EXAMPLE_DIGEST.slice(7);

let images: SignedImages;
let tmp: string;
let reg: TestRegistry;
let pki: TestPki;
let configFile: string;
const servers: { close(): Promise<void> }[] = [];

function connection(): string[] {
  return images.connection();
}

beforeAll(async () => {
  images = await startSignedImages();
  ({ tmp, reg, configFile } = images);
  pki = makePki(join(tmp, 'webhook-pki'));
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await images?.stop();
});

interface Started {
  readonly port: number;
  readonly verifier: ImageVerifier;
  readonly logs: Record<string, unknown>[];
}

interface Variation {
  readonly maxBodyBytes?: number;
  /** Another registry to take as production, reached over plain HTTP. */
  readonly plainRegistry?: string;
  readonly decisionTimeoutMs?: number;
  /** Lines added to the configuration. */
  readonly extraConfig?: string;
}

async function startWebhook(mode: WebhookMode = 'enforce', v: Variation = {}): Promise<Started> {
  const text = readFileSync(configFile, 'utf8');
  const config = parseK8sConfig(
    (v.plainRegistry ? text.replace(`${reg.host}/prod/**`, `${v.plainRegistry}/prod/**`) : text) +
      (v.extraConfig ?? ''),
    configFile,
  );
  const verifier = new ImageVerifier({
    registry: {
      caCerts: [reg.pki?.caCert as string],
      creds: `${CREDS.user}:${CREDS.password}`,
      retries: 1,
      ...(v.plainRegistry ? { insecureRegistries: [v.plainRegistry] } : {}),
    },
    trust: fixedKeys([await loadTrustedKey(join(tmp, 'gate.pub'))]),
  });
  const logs: Record<string, unknown>[] = [];
  const server = createWebhookServer(
    { cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) },
    {
      ctx: { config, images: verifier, describeError: registryFailure },
      mode,
      mutate: true,
      ...(v.maxBodyBytes ? { maxBodyBytes: v.maxBodyBytes } : {}),
      ...(v.decisionTimeoutMs ? { decisionTimeoutMs: v.decisionTimeoutMs } : {}),
      log: (e) => logs.push(e),
    },
  );
  const port = await listen(server, '127.0.0.1', 0);
  servers.push({
    close: () =>
      new Promise<void>((r) => {
        verifier.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
  return { port, verifier, logs };
}

interface Reply {
  readonly status: number;
  readonly json: Record<string, unknown> | undefined;
  readonly text: string;
}

function call(
  port: number,
  path: string,
  body: Buffer | string | undefined,
  opts: { method?: string; type?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'POST',
        ca: readFileSync(pki.caCert),
        agent: false,
        headers: { 'content-type': opts.type ?? 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json, text });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface ReviewResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string };
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
  patchType?: string;
  patch?: string;
}

async function admit(port: number, object: Record<string, unknown>, namespace = 'team', path = '/validate') {
  const kind = object.kind as string;
  const group = (object.apiVersion as string).includes('/') ? (object.apiVersion as string).split('/')[0] : '';
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${Math.random().toString(36).slice(2)}`,
      kind: { group, version: 'v1', kind },
      resource: { group, version: 'v1', resource: `${kind.toLowerCase()}s` },
      namespace,
      name: (object.metadata as { name: string }).name,
      operation: 'CREATE',
      userInfo: { username: 'tester' },
      object,
      dryRun: false,
    },
  };
  const r = await call(port, `${path}?timeout=10s`, JSON.stringify(review));
  expect(r.status, r.text).toBe(200);
  const doc = r.json as { apiVersion: string; kind: string; response: ReviewResponse };
  expect(doc.apiVersion).toBe('admission.k8s.io/v1');
  expect(doc.kind).toBe('AdmissionReview');
  expect(doc.response.uid).toBe(review.request.uid);
  return doc.response;
}

/** A pod that meets the restricted level, running `image`. */
function pod(image: string, name = 'web'): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'app',
          image,
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
}

const at = (repo: string) => `${(reg as TestRegistry).host}/${repo}@${EXAMPLE_DIGEST}`;

describe('k8s webhook: images', () => {
  let w: Started;
  beforeAll(async () => {
    w = await startWebhook();
  });

  it('admits a production image signed by the trusted key with a PASS assessment', async () => {
    const r = await admit(w.port, pod(at('prod/app')));
    expect(r).toEqual({ uid: r.uid, allowed: true });
  });

  it('with a trust policy naming gate policies, counts only PASS assessments made under one of them', async () => {
    const gate = await loadTrustedKey(join(tmp, 'gate.pub'));
    const verifierFor = (policies?: ReadonlySet<string>) =>
      new ImageVerifier({
        registry: { caCerts: [reg.pki?.caCert as string], creds: `${CREDS.user}:${CREDS.password}`, retries: 1 },
        trust: { keysFor: async () => ({ keys: [gate], attestations: [], ...(policies ? { policies } : {}) }) },
      });
    // prod/app's PASS names no policy: a trust entry that names one does not take it.
    const strict = verifierFor(new Set([`sha256:${'0'.repeat(64)}`]));
    const denied = await strict.verify(reg.host, 'prod/app', EXAMPLE_DIGEST);
    strict.close();
    expect(denied.approved).toBe(false);
    expect(denied.detail).toContain('made under a policy the trust policy does not name for this repository');
    const any = verifierFor();
    expect((await any.verify(reg.host, 'prod/app', EXAMPLE_DIGEST)).approved).toBe(true);
    any.close();
  });

  it.each([
    ['unsigned', 'prod/unsigned', `no signature by a trusted key: no signatures: sha256-${SHA}.sig is not in`],
    ['signed by another key', 'prod/otherkey', 'wrong key: the signature does not verify with'],
    ['signed, never assessed', 'prod/signedonly', 'signed, but no verified assessment attestation'],
    ['assessed FAIL', 'prod/failed', 'says FAIL'],
    ['from a repository outside the production globs', 'staging/app', 'is not from a production registry'],
  ])('denies an image %s, and says why', async (_what, repo, why) => {
    const r = await admit(w.port, pod(at(repo)));
    expect(r.allowed).toBe(false);
    expect(r.status?.code).toBe(403);
    expect(r.status?.message).toMatch(/^portcullis denied Pod team\/web: 1 reason: \(1\) image /);
    expect(r.status?.message).toContain(why);
    expect(r.auditAnnotations?.decision).toBe('deny');
  });

  it('denies a tag without a digest; the mutating endpoint resolves it, and the result is admitted', async () => {
    const tagged = pod(`${reg.host}/prod/app:1`);
    const denied = await admit(w.port, tagged);
    expect(denied.allowed).toBe(false);
    expect(denied.status?.message).toContain('is not pinned by digest');

    const m = await admit(w.port, tagged, 'team', '/mutate');
    expect(m.allowed).toBe(true);
    expect(m.patchType).toBe('JSONPatch');
    const patch = JSON.parse(Buffer.from(m.patch as string, 'base64').toString('utf8'));
    expect(patch).toEqual([
      { op: 'replace', path: '/spec/containers/0/image', value: `${reg.host}/prod/app:1@${EXAMPLE_DIGEST}` },
    ]);
    const patched = structuredClone(tagged) as { spec: { containers: { image: string }[] } };
    (patched.spec.containers[0] as { image: string }).image = patch[0].value;
    expect((await admit(w.port, patched as unknown as Record<string, unknown>)).allowed).toBe(true);
    // An image outside production is left for /validate to refuse: no patch.
    const other = await admit(w.port, pod(`${reg.host}/staging/app:1`), 'team', '/mutate');
    expect(other).toEqual({ uid: other.uid, allowed: true });
  });

  it('checks every container of a controller: one bad init container denies the Deployment', async () => {
    const spec = (pod(at('prod/app')) as { spec: Record<string, unknown> }).spec;
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api' },
      spec: {
        selector: { matchLabels: { app: 'api' } },
        template: {
          metadata: { labels: { app: 'api' } },
          spec: { ...spec, initContainers: [{ name: 'init', image: at('prod/unsigned') }] },
        },
      },
    };
    const r = await admit(w.port, deployment);
    expect(r.allowed).toBe(false);
    expect(r.status?.message).toMatch(
      /^portcullis denied Deployment team\/api: 1 reason: \(1\) image .*prod\/unsigned/,
    );
  });
});

describe('k8s webhook: sensitivity pinning on /mutate (webhook.pinSensitivity)', () => {
  it('pins a labelled pod to its level; /validate denies it unpinned and admits the patched pod', async () => {
    const w = await startWebhook('enforce', {
      extraConfig:
        'sensitivity: {levels: [public, confidential], namespaces: {team: confidential}}\nwebhook: {pinSensitivity: true}\n',
    });
    const key = 'node-restriction.kubernetes.io/sensitivity';
    const labelled = pod(at('prod/app'));
    (labelled.metadata as Record<string, unknown>).labels = { 'portcullis.dev/sensitivity': 'confidential' };
    const denied = await admit(w.port, labelled);
    expect(denied.allowed).toBe(false);
    expect(denied.status?.message).toContain('sensitivity-not-pinned');

    const m = await admit(w.port, labelled, 'team', '/mutate');
    expect(m.allowed).toBe(true);
    expect(m.patchType).toBe('JSONPatch');
    const patch = JSON.parse(Buffer.from(m.patch as string, 'base64').toString('utf8'));
    const toleration = { key, operator: 'Equal', value: 'confidential', effect: 'NoSchedule' };
    expect(patch).toEqual([
      { op: 'add', path: '/spec/nodeSelector', value: { [key]: 'confidential' } },
      { op: 'add', path: '/spec/tolerations', value: [toleration] },
    ]);
    const patched = structuredClone(labelled) as { spec: Record<string, unknown> };
    patched.spec.nodeSelector = patch[0].value;
    patched.spec.tolerations = patch[1].value;
    const admitted = await admit(w.port, patched as unknown as Record<string, unknown>);
    expect(admitted.allowed, admitted.status?.message).toBe(true);
  });
});

describe('k8s webhook: Pod Security level per namespace', () => {
  let w: Started;
  beforeAll(async () => {
    w = await startWebhook();
  });

  it('denies a privileged container at baseline, with the upstream check id', async () => {
    const p = pod(at('prod/app')) as { spec: { containers: Record<string, unknown>[] } };
    (p.spec.containers[0] as Record<string, unknown>).securityContext = { privileged: true };
    const r = await admit(w.port, p as unknown as Record<string, unknown>);
    expect(r.allowed).toBe(false);
    expect(r.status?.message).toMatch(/^portcullis denied Pod team\/web: 1 reason: \(1\) privileged: /);
  });

  it('holds the namespace the config names to restricted, and others to baseline', async () => {
    const loose = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'loose' },
      spec: { containers: [{ name: 'app', image: at('prod/app') }] },
    };
    expect((await admit(w.port, loose, 'team')).allowed).toBe(true);
    const strict = await admit(w.port, loose, 'strict');
    expect(strict.allowed).toBe(false);
    for (const check of [
      'allowPrivilegeEscalation',
      'capabilities_restricted',
      'runAsNonRoot',
      'seccompProfile_restricted',
    ]) {
      expect(strict.status?.message).toContain(`${check}: `);
    }
    // The restricted pod passes there.
    expect((await admit(w.port, pod(at('prod/app')), 'strict')).allowed).toBe(true);
  });
});

describe('k8s webhook: audit mode', () => {
  it('admits what enforce denies, with warnings and audit annotations', async () => {
    const w = await startWebhook('audit');
    const r = await admit(w.port, pod(at('prod/unsigned')));
    expect(r.allowed).toBe(true);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings?.[0]).toMatch(
      /^portcullis audit: would deny: image .*prod\/unsigned@sha256:[0-9a-f]{64}: no signature by a trusted key/,
    );
    expect(r.auditAnnotations?.decision).toBe('would-deny');
    expect(r.status?.message).toContain('would be denied: 1 reason');
  });
});

describe('k8s webhook: the verification cache', () => {
  it('verifies a digest once; later requests do not go to the registry', async () => {
    const w = await startWebhook();
    const from = reg.log().length;
    for (let i = 0; i < 3; i++) expect((await admit(w.port, pod(at('prod/app'), `p${i}`))).allowed).toBe(true);
    const lines = requests(reg, from);
    expect(lines.filter((l) => l.startsWith(`GET /v2/prod/app/manifests/sha256-${SHA}.sig `))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith(`GET /v2/prod/app/manifests/sha256-${SHA}.att `))).toHaveLength(1);
    expect(w.verifier.fetched).toBe(1);
    // The same digest in another repository is another question (a signature names its repository).
    expect((await admit(w.port, pod(at('prod/unsigned')))).allowed).toBe(false);
    expect(w.verifier.fetched).toBe(2);
  });

  it('an unreachable registry denies with the reason, and the failure is not remembered', async () => {
    const w = await startWebhook();
    await reg.kill();
    try {
      const r = await admit(w.port, pod(at('prod/app')));
      expect(r.allowed).toBe(false);
      expect(r.status?.message).toMatch(/cannot verify: NETWORK: /);
    } finally {
      await reg.restart();
    }
    expect((await admit(w.port, pod(at('prod/app')))).allowed).toBe(true);
  });

  it('a registry that does not answer in time denies, without waiting for it', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const proxy = await startFaultProxy(reg.host, () => ({ kind: 'hold', until: held }));
    try {
      const w = await startWebhook('enforce', { plainRegistry: proxy.host, decisionTimeoutMs: 300 });
      const r = await admit(w.port, pod(`${proxy.host}/prod/app@${EXAMPLE_DIGEST}`));
      expect(r.allowed).toBe(false);
      expect(r.status?.message).toContain('the checks did not finish in time');
      expect(proxy.log.length).toBeGreaterThan(0); // the request did reach the (stalled) registry
    } finally {
      release();
      await proxy.stop();
    }
  });
});

describe('k8s webhook: hostile requests over HTTPS', () => {
  let w: Started;
  beforeAll(async () => {
    w = await startWebhook('enforce', { maxBodyBytes: 64 * 1024 });
  });

  it('answers health, and refuses what is not an AdmissionReview POST', async () => {
    expect(await call(w.port, '/healthz', undefined, { method: 'GET' })).toMatchObject({ status: 200, text: 'ok\n' });
    expect((await call(w.port, '/validate', undefined, { method: 'GET' })).status).toBe(405);
    expect((await call(w.port, '/nope', '{}')).status).toBe(404);
    expect((await call(w.port, '/validate', '{}', { type: 'text/plain' })).status).toBe(415);
    const notJson = await call(w.port, '/validate', '{"apiVersion":');
    expect(notJson.status).toBe(400);
    expect(notJson.json?.error).toBe('not an AdmissionReview v1: the body is not JSON');
    const beta = await call(
      w.port,
      '/validate',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'u' } }),
    );
    expect(beta.status).toBe(400);
    expect(beta.json?.error).toContain("apiVersion 'admission.k8s.io/v1beta1' is not admission.k8s.io/v1");
  });

  it('refuses a body over the limit with 413, and keeps serving', async () => {
    const big = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', pad: 'x'.repeat(200 * 1024) });
    expect((await call(w.port, '/validate', big)).status).toBe(413);
    expect((await call(w.port, '/healthz', undefined, { method: 'GET' })).status).toBe(200);
  });

  it('speaks no TLS below 1.2', async () => {
    const err = await new Promise<Error | undefined>((resolve) => {
      const s = tls.connect({
        host: '127.0.0.1',
        port: w.port,
        maxVersion: 'TLSv1.1',
        minVersion: 'TLSv1',
        ca: readFileSync(pki.caCert),
      });
      s.on('secureConnect', () => {
        s.destroy();
        resolve(undefined);
      });
      s.on('error', resolve);
    });
    expect(err).toBeInstanceOf(Error);
  });

  it('random bytes and random JSON never come back allowed (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 1000 }).map((b) => Buffer.from(b)),
          fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)),
          fc.jsonValue({ maxDepth: 5 }).map((object) =>
            JSON.stringify({
              apiVersion: 'admission.k8s.io/v1',
              kind: 'AdmissionReview',
              request: { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object },
            }),
          ),
        ),
        async (body) => {
          const r = await call(w.port, '/validate', body);
          expect([200, 400]).toContain(r.status);
          expect((r.json?.response as { allowed?: boolean } | undefined)?.allowed).not.toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('portcullis k8s webhook serve (the CLI)', () => {
  it('serves until SIGTERM: a signed image admitted, an unsigned one denied; exit 0', async () => {
    const port = await freePort();
    const proc = spawnCli([
      'k8s',
      'webhook',
      'serve',
      '--config',
      configFile,
      '--tls-cert',
      pki.serverCert,
      '--tls-key',
      pki.serverKey,
      '--listen',
      `127.0.0.1:${port}`,
      '--key',
      join(tmp, 'gate.pub'),
      ...connection(),
    ]);
    let err = '';
    proc.child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    let ended = false;
    void proc.done.then(() => {
      ended = true;
    });
    while (!err.includes('"event":"listening"') && !ended) await new Promise((r) => setTimeout(r, 20));
    expect(ended, err).toBe(false);
    expect((await admit(port, pod(at('prod/app')))).allowed).toBe(true);
    expect((await admit(port, pod(at('prod/failed')))).allowed).toBe(false);
    proc.child.kill('SIGTERM');
    const done = await proc.done;
    expect(done.code, done.stderr).toBe(0);
    const lines = done.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    // Denials are logged one by one; admissions are counted.
    expect(lines.filter((l) => l.event === 'decision').map((l) => [l.allowed, l.subject])).toEqual([
      [false, 'Pod team/web'],
    ]);
    expect(lines.find((l) => l.event === 'stats')).toMatchObject({ allowed: 1, denied: 1, verified: 2 });
    expect(lines.at(-1)).toMatchObject({ event: 'signal', signal: 'SIGTERM' });
  });

  it('refuses to start without productionRegistries, and without a key', async () => {
    const bare = join(tmp, 'bare.yaml');
    writeFileSync(bare, 'apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\n');
    const common = ['k8s', 'webhook', 'serve', '--tls-cert', pki.serverCert, '--tls-key', pki.serverKey];
    const a = await runCli([...common, '--config', bare, '--key', join(tmp, 'gate.pub')]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('CONFIG_INVALID');
    expect(a.stderr).toContain('the webhook needs productionRegistries');
    const b = await runCli([...common, '--config', configFile]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('give --key PUB or --trust-policy FILE');
  });

  it('refuses to start with an ignore entry that matches names in every namespace (the requester picks the name)', async () => {
    const loose = join(tmp, 'loose.yaml');
    writeFileSync(
      loose,
      'apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\nproductionRegistries: [registry.example.com/prod/**]\nignore:\n  - rule: hostPathVolumes\n    names: [node-exporter*]\n    reason: reads /proc\n',
    );
    const r = await runCli([
      ...['k8s', 'webhook', 'serve', '--tls-cert', pki.serverCert, '--tls-key', pki.serverKey],
      ...['--config', loose, '--key', join(tmp, 'gate.pub')],
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^portcullis: CONFIG_INVALID: .*loose\.yaml:6:\d+: ignore\[0\]\.names: without namespaces/m,
    );
  });
});
