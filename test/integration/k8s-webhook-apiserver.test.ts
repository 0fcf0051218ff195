import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookObjects } from '../../src/k8s/webhook/manifests.js';
import { type CliProcess, spawnCli } from '../helpers/gate.js';
import { type ApiReply, startCluster, type TestCluster } from '../helpers/kube.js';
import { freePort, makePki, type TestPki } from '../helpers/registry.js';
import { type SignedImages, startSignedImages } from '../helpers/webhook-images.js';

/*
 * The real judge of AdmissionReview answers: a kube-apiserver (v1.31, with etcd) on 127.0.0.1 calls
 * `portcullis k8s webhook serve` (the CLI, a child process, TLS from an openssl-made CA) through the
 * Validating- and MutatingWebhookConfiguration that `k8s webhook manifests` writes, with clientConfig.url pointed at
 * 127.0.0.1 instead of the in-cluster Service. Every assertion is made through the API server: what it stores, the
 * Status it returns, its Warning headers and its audit log.
 */

const SERVICE = 'portcullis';
const WEBHOOK_NS = 'portcullis-system';
const VALIDATE = `validate.${SERVICE}.${WEBHOOK_NS}.portcullis.dev`;
const MUTATE = `mutate.${SERVICE}.${WEBHOOK_NS}.portcullis.dev`;

let images: SignedImages;
let cluster: TestCluster;
let pki: TestPki;
let dir: string;
let port: number;
let webhook: Webhook | undefined;

interface Webhook {
  readonly proc: CliProcess;
  /** What it logged so far, one JSON object a line. */
  readonly stderr: () => string;
}

/** Start `portcullis k8s webhook serve` on 127.0.0.1:port and wait until it says it listens (or exits). */
async function serve(mode: 'enforce' | 'audit'): Promise<Webhook> {
  const proc = spawnCli([
    'k8s',
    'webhook',
    'serve',
    '--config',
    images.configFile,
    '--tls-cert',
    pki.serverCert,
    '--tls-key',
    pki.serverKey,
    '--listen',
    `127.0.0.1:${port}`,
    '--mode',
    mode,
    '--mutate',
    '--log-allowed',
    '--key',
    join(images.tmp, 'gate.pub'),
    ...images.connection(),
  ]);
  let err = '';
  proc.child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  let ended = false;
  void proc.done.then(() => {
    ended = true;
  });
  for (let i = 0; i < 1500 && !err.includes('"event":"listening"') && !ended; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!err.includes('"event":"listening"')) throw new Error(`the webhook did not start:\n${err}`);
  return { proc, stderr: () => err };
}

async function stopWebhook(w: Webhook): Promise<Awaited<CliProcess['done']>> {
  w.proc.child.kill('SIGTERM');
  return w.proc.done;
}

const decisions = (log: string) =>
  log
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.event === 'decision');

/** The generated webhook configurations, with the Service swapped for a URL on loopback. */
function configurations(): Record<string, unknown>[] {
  const objects = webhookObjects({
    namespace: WEBHOOK_NS,
    service: SERVICE,
    image: 'portcullis:test',
    caBundle: readFileSync(pki.caCert, 'utf8'),
    certManager: false,
    mutating: true,
    mode: 'enforce',
    replicas: 2,
    timeoutSeconds: 10,
  }).filter((o) => String(o.kind).endsWith('WebhookConfiguration'));
  expect(objects.map((o) => o.kind)).toEqual(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
  for (const o of objects) {
    for (const w of o.webhooks as { clientConfig: Record<string, unknown> }[]) {
      const { service, ...rest } = w.clientConfig as { service: { path: string } };
      w.clientConfig = { ...rest, url: `https://127.0.0.1:${port}${service.path}` };
    }
  }
  return objects;
}

const PLURALS: Record<string, string> = {
  Pod: 'pods',
  ConfigMap: 'configmaps',
  Deployment: 'deployments',
  MutatingWebhookConfiguration: 'mutatingwebhookconfigurations',
  ValidatingWebhookConfiguration: 'validatingwebhookconfigurations',
};

function collection(obj: Record<string, unknown>): string {
  const apiVersion = String(obj.apiVersion);
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const plural = PLURALS[String(obj.kind)] as string;
  const ns = (obj.metadata as { namespace?: string }).namespace;
  return ns ? `${base}/namespaces/${ns}/${plural}` : `${base}/${plural}`;
}

/** POST through the API server, as admin. */
function post(obj: Record<string, unknown>): Promise<ApiReply> {
  return cluster.request('POST', collection(obj), obj);
}

interface ApiStatus {
  kind: string;
  code: number;
  reason: string;
  message: string;
}

const statusOf = (r: ApiReply) => JSON.parse(r.body) as ApiStatus;

/** The text of each Warning header (`299 - "text"`), unescaped. */
function warnings(r: ApiReply): string[] {
  return (r.headers.warning ?? []).map((h) => {
    const m = /^299 - "(.*)"$/.exec(h);
    if (!m) throw new Error(`not a Warning header of code 299: ${h}`);
    return (m[1] as string).replace(/\\(.)/g, '$1');
  });
}

let seq = 0;
/** A pod that meets the restricted level, running `image`, with a fresh name. */
function pod(image: string, namespace = 'team', name = `web-${++seq}`): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
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

function deployment(image: string, name: string): Record<string, unknown> {
  const spec = (pod(image) as { spec: Record<string, unknown> }).spec;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'team' },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec },
    },
  };
}

const imageOf = (body: string) =>
  (JSON.parse(body) as { spec: { containers: { image: string }[] } }).spec.containers[0]?.image;

/** Retry `attempt` until it says yes; bounded (the API server's configuration informers take a moment). */
async function until(what: string, attempt: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 120; i++) {
    if (await attempt()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`not within 120 attempts: ${what}`);
}

interface AuditEvent {
  stage: string;
  verb: string;
  objectRef?: { resource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  annotations?: Record<string, string>;
}

/** The audit log's ResponseComplete event for creating pod team/name (bounded wait: the log is written after the reply). */
async function auditEvent(name: string): Promise<AuditEvent> {
  const file = join(dir, 'audit.log');
  let found: AuditEvent | undefined;
  await until(`the audit event for creating pod team/${name}`, async () => {
    if (!existsSync(file)) return false;
    found = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as AuditEvent)
      .find(
        (e) =>
          e.stage === 'ResponseComplete' &&
          e.verb === 'create' &&
          e.objectRef?.resource === 'pods' &&
          e.objectRef.namespace === 'team' &&
          e.objectRef.name === name,
      );
    return found !== undefined;
  });
  return found as AuditEvent;
}

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources: [{group: "", resources: [pods]}]
  - level: None
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'k8s-webhook-apiserver-'));
  writeFileSync(join(dir, 'audit-policy.yaml'), AUDIT_POLICY);
  // Both at once; whichever started is stopped by afterAll even when the other failed.
  const [i, c] = await Promise.allSettled([
    startSignedImages(),
    startCluster({
      apiserverArgs: [
        `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
        `--audit-log-path=${join(dir, 'audit.log')}`,
      ],
    }),
  ]);
  if (i.status === 'fulfilled') images = i.value;
  if (c.status === 'fulfilled') cluster = c.value;
  if (i.status === 'rejected') throw i.reason;
  if (c.status === 'rejected') throw c.reason;
  pki = makePki(join(dir, 'webhook-pki'));
  port = await freePort();
  webhook = await serve('enforce');
  for (const ns of ['team', 'strict', WEBHOOK_NS]) {
    await cluster.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }
  for (const c of configurations()) {
    const r = await post(c);
    expect(r.status, r.body).toBe(201);
  }
  // Effective when a known-bad pod is refused and a tag is pinned on its way in.
  await until('the validating webhook refuses an unsigned image', async () => {
    const r = await post(pod(images.at('prod/unsigned')));
    return r.status === 403 && r.body.includes(VALIDATE);
  });
  await until('the mutating webhook pins a tag', async () => {
    const r = await post(pod(`${images.reg.host}/prod/app:1`));
    return r.status === 201 && imageOf(r.body)?.includes('@sha256:') === true;
  });
}, 300_000);

afterAll(async () => {
  if (webhook && webhook.proc.child.exitCode === null) await stopWebhook(webhook);
  await cluster?.stop();
  await images?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Refused by the webhook: the API server's 403 Status names the webhook and carries its message. */
function expectDenied(r: ApiReply, kind: string, name: string, why: string | RegExp): void {
  expect(r.status, r.body).toBe(403);
  const s = statusOf(r);
  expect(s).toMatchObject({ kind: 'Status', code: 403, reason: 'Forbidden' });
  expect(s.message).toContain(
    `admission webhook "${VALIDATE}" denied the request: portcullis denied ${kind} team/${name}: `,
  );
  if (typeof why === 'string') expect(s.message).toContain(why);
  else expect(s.message).toMatch(why);
}

describe('kube-apiserver calls portcullis k8s webhook serve (enforce)', () => {
  it('creates a pod running the signed, assessed production image by digest, unchanged', async () => {
    const r = await post(pod(images.at('prod/app'), 'team', 'good'));
    expect(r.status, r.body).toBe(201);
    expect(imageOf(r.body)).toBe(images.at('prod/app'));
    expect(warnings(r)).toEqual([]);
    const stored = await cluster.request('GET', '/api/v1/namespaces/team/pods/good');
    expect(stored.status).toBe(200);
  });

  it.each([
    ['an unsigned image', 'prod/unsigned', 'no signature by a trusted key'],
    ['an image outside the production registry', 'staging/app', 'is not from a production registry'],
    ['an image assessed FAIL', 'prod/failed', 'says FAIL'],
  ])('refuses a pod with %s, with the webhook reason in the API error', async (_what, repo, why) => {
    const name = `bad-${repo.replace('/', '-')}`;
    const r = await post(pod(images.at(repo), 'team', name));
    expectDenied(r, 'Pod', name, why);
    expect((await cluster.request('GET', `/api/v1/namespaces/team/pods/${name}`)).status).toBe(404);
  });

  it('is asked on dry runs too (sideEffects None): an unsigned pod is refused, a signed one passes and is not stored', async () => {
    const bad = await cluster.request(
      'POST',
      '/api/v1/namespaces/team/pods?dryRun=All',
      pod(images.at('prod/unsigned'), 'team', 'dry-bad'),
    );
    expectDenied(bad, 'Pod', 'dry-bad', 'no signature by a trusted key');
    const good = await cluster.request(
      'POST',
      '/api/v1/namespaces/team/pods?dryRun=All',
      pod(images.at('prod/app'), 'team', 'dry'),
    );
    expect(good.status, good.body).toBe(201);
    expect((await cluster.request('GET', '/api/v1/namespaces/team/pods/dry')).status).toBe(404);
  });

  it('refuses a privileged pod (baseline), naming the upstream check', async () => {
    const p = pod(images.at('prod/app'), 'team', 'priv') as { spec: { containers: Record<string, unknown>[] } };
    (p.spec.containers[0] as Record<string, unknown>).securityContext = { privileged: true };
    const r = await post(p as unknown as Record<string, unknown>);
    expectDenied(r, 'Pod', 'priv', /: 1 reason: \(1\) privileged: /);
  });

  it('holds the namespace the config names to restricted: a baseline-only pod is refused there', async () => {
    const loose = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'loose', namespace: 'strict' },
      spec: { containers: [{ name: 'app', image: images.at('prod/app') }] },
    };
    const r = await post(loose);
    expect(r.status, r.body).toBe(403);
    expect(statusOf(r).message).toContain('portcullis denied Pod strict/loose: ');
    expect(statusOf(r).message).toContain('runAsNonRoot: ');
    // The same pod is fine at baseline.
    const ok = await post({ ...loose, metadata: { name: 'loose', namespace: 'team' } });
    expect(ok.status, ok.body).toBe(201);
  });

  it('refuses a Deployment whose template runs an unsigned image; admits the signed one', async () => {
    expectDenied(
      await post(deployment(images.at('prod/unsigned'), 'api-bad')),
      'Deployment',
      'api-bad',
      'prod/unsigned',
    );
    const ok = await post(deployment(images.at('prod/app'), 'api'));
    expect(ok.status, ok.body).toBe(201);
  });

  it('refuses an UPDATE that swaps an admitted pod to an unsigned image', async () => {
    const created = await post(pod(images.at('prod/app'), 'team', 'swap'));
    expect(created.status, created.body).toBe(201);
    const obj = JSON.parse(created.body) as { spec: { containers: { image: string }[] } };
    (obj.spec.containers[0] as { image: string }).image = images.at('prod/unsigned');
    const r = await cluster.request('PUT', '/api/v1/namespaces/team/pods/swap', obj);
    expectDenied(r, 'Pod', 'swap', 'no signature by a trusted key');
    const stored = await cluster.request('GET', '/api/v1/namespaces/team/pods/swap');
    expect(imageOf(stored.body)).toBe(images.at('prod/app'));
  });

  it('refuses an ephemeral container (kubectl debug) with an unsigned image, sent through pods/ephemeralcontainers', async () => {
    const created = await post(pod(images.at('prod/app'), 'team', 'debugged'));
    expect(created.status, created.body).toBe(201);
    const obj = JSON.parse(created.body) as { spec: Record<string, unknown> };
    const debug = (image: string) => ({
      ...obj,
      spec: { ...obj.spec, ephemeralContainers: [{ name: 'debug', image, targetContainerName: 'app' }] },
    });
    const path = '/api/v1/namespaces/team/pods/debugged/ephemeralcontainers';
    const r = await cluster.request('PUT', path, debug(images.at('prod/unsigned')));
    expectDenied(r, 'Pod', 'debugged', /image \S+\/prod\/unsigned@sha256:[0-9a-f]{64}: no signature by a trusted key/);
    // A signed debug image goes in (the same request shape is admitted, so the refusal above is about the image).
    const ok = await cluster.request('PUT', path, debug(images.at('prod/app')));
    expect(ok.status, ok.body).toBe(200);
  });

  it('the mutating webhook pins a production tag to its digest (JSON Patch applied by the API server)', async () => {
    const r = await post(pod(`${images.reg.host}/prod/app:1`, 'team', 'tagged'));
    expect(r.status, r.body).toBe(201);
    expect(imageOf(r.body)).toBe(`${images.reg.host}/prod/app:1@${images.at('prod/app').split('@')[1]}`);
    expect(warnings(r)).toEqual([]);
    // The API server records which mutating webhook patched the object.
    const event = await auditEvent('tagged');
    const mutation = JSON.parse(event.annotations?.['mutation.webhook.admission.k8s.io/round_0_index_0'] ?? '{}');
    expect(mutation).toMatchObject({ webhook: MUTATE, mutated: true });
  });

  it('leaves a ConfigMap and kube-system alone', async () => {
    const cm = await post({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: 'team' },
      data: { image: images.at('prod/unsigned') },
    });
    expect(cm.status, cm.body).toBe(201);
    const sys = await post(pod(images.at('prod/unsigned'), 'kube-system', 'system-tool'));
    expect(sys.status, sys.body).toBe(201);
    const seen = decisions((webhook as Webhook).stderr()).map((d) => String(d.subject));
    expect(seen.some((s) => s.startsWith('ConfigMap') || s.includes('kube-system'))).toBe(false);
  });

  it('with the webhook stopped, failurePolicy Fail refuses pods (fail closed); out-of-scope objects still go in', async () => {
    const w = webhook as Webhook;
    const done = await stopWebhook(w);
    expect(done.code, done.stderr).toBe(0);
    // The webhook saw CREATE and UPDATE, on both endpoints, for Pods and Deployments only.
    const seen = decisions(done.stderr);
    expect(new Set(seen.map((d) => `${d.path} ${d.operation} ${String(d.subject).split(' ')[0]}`))).toEqual(
      new Set([
        '/mutate CREATE Pod',
        '/validate CREATE Pod',
        '/mutate UPDATE Pod',
        '/validate UPDATE Pod',
        '/mutate CREATE Deployment',
        '/validate CREATE Deployment',
      ]),
    );

    const r = await post(pod(images.at('prod/app'), 'team', 'while-down'));
    expect(r.status, r.body).toBe(500);
    const s = statusOf(r);
    expect(s.reason).toBe('InternalError');
    expect(s.message).toContain(`failed calling webhook "${MUTATE}"`);
    expect(s.message).toContain('connection refused');
    expect((await cluster.request('GET', '/api/v1/namespaces/team/pods/while-down')).status).toBe(404);

    // The validating webhook fails closed on its own: without the mutating configuration, it is the one that refuses.
    const gone = await cluster.request(
      'DELETE',
      `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${SERVICE}.${WEBHOOK_NS}.portcullis.dev`,
    );
    expect(gone.status, gone.body).toBe(200);
    await until('the validating webhook is the one that refuses', async () => {
      const r = await post(pod(images.at('prod/app')));
      expect(r.status, r.body).toBe(500);
      return statusOf(r).message.includes(`failed calling webhook "${VALIDATE}"`);
    });

    const cm = await post({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'while-down', namespace: 'team' } });
    expect(cm.status, cm.body).toBe(201);
    const sys = await post(pod(images.at('prod/unsigned'), 'kube-system', 'repair'));
    expect(sys.status, sys.body).toBe(201);
  });
});

describe('kube-apiserver calls portcullis k8s webhook serve --mode audit', () => {
  beforeAll(async () => {
    // The same port, so the configurations stay as they are: a restart in audit mode.
    if (webhook && webhook.proc.child.exitCode === null) await stopWebhook(webhook);
    webhook = await serve('audit');
  });

  it('creates a violating pod, and the response carries the webhook warnings; the audit log its annotations', async () => {
    const r = await post(pod(images.at('prod/unsigned'), 'team', 'audited'));
    expect(r.status, r.body).toBe(201);
    const said = warnings(r);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(
      /^portcullis audit: would deny: image \S+\/prod\/unsigned@sha256:[0-9a-f]{64}: no signature by a trusted key/,
    );
    // auditAnnotations reach the audit event, under the webhook's name.
    const event = await auditEvent('audited');
    expect(event.annotations).toMatchObject({
      [`${VALIDATE}/decision`]: 'would-deny',
      [`${VALIDATE}/reasons`]: expect.stringMatching(/^\(1\) image \S+\/prod\/unsigned@/),
    });
    const stored = await cluster.request('GET', '/api/v1/namespaces/team/pods/audited');
    expect(imageOf(stored.body)).toBe(images.at('prod/unsigned'));
  });

  it('many reasons: the warnings stay within what the API server passes on, the last one counts the rest', async () => {
    const containers = Array.from({ length: 20 }, (_, i) => ({
      name: `c${i}`,
      image: images.at(i % 2 === 0 ? 'prod/unsigned' : 'staging/app'),
      securityContext: { privileged: true },
    }));
    const r = await post({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'many', namespace: 'team' },
      spec: { containers },
    });
    expect(r.status, r.body).toBe(201);
    const said = warnings(r);
    // 22 reasons (2 images, 20 privileged containers): 14 shown, the 15th counts the other 8.
    expect(said).toHaveLength(15);
    expect(said.at(-1)).toBe(`... and ${2 + 20 - 14} more`);
    expect(said.slice(0, 14).every((w) => w.startsWith('portcullis audit: would deny: '))).toBe(true);
    // Each one arrives whole as a header: printable ASCII, within the API server's 256 characters, a long one cut
    // with '...' (a '…' would reach a client that reads headers as Latin-1 as 'â\x80¦').
    for (const w of said) {
      expect(w).toMatch(/^[\x20-\x7e]{1,256}$/);
    }
    expect(said[0]).toMatch(/^portcullis audit: would deny: image \S+\/prod\/unsigned@sha256:[0-9a-f]{64}: .*\.\.\.$/);
    expect(said[0]).toHaveLength(256);
  });

  it('a passing pod gets no warning and no would-deny annotation', async () => {
    const r = await post(pod(images.at('prod/app'), 'team', 'audited-ok'));
    expect(r.status, r.body).toBe(201);
    expect(warnings(r)).toEqual([]);
    const event = await auditEvent('audited-ok');
    expect(Object.keys(event.annotations ?? {}).filter((k) => k.startsWith(`${VALIDATE}/`))).toEqual([]);
  });
});
