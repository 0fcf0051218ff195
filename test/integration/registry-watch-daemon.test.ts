import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { type Fault, startFaultProxy } from '../helpers/faultproxy.js';
import {
  type CliProcess,
  EXAMPLE_DIGEST,
  exampleDb,
  KEY_PASSWORD,
  passingRules,
  skopeo,
  spawnCli,
  writePolicy,
  writeVariants,
} from '../helpers/gate.js';
import { EXAMPLE } from '../helpers/paths.js';
import { freePort, startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * `registry watch` as a daemon against a real registry (CNCF distribution) whose notifications point at the watcher,
 * with a fault proxy between the watcher and the registry and a loopback webhook receiver. Oracles: the receiver's
 * requests, /metrics, skopeo and the gate (independent writers), never the watcher's own report of itself alone.
 */

const SECRET = 'daemon-test-s3cret';
const pw = { COSIGN_PASSWORD: KEY_PASSWORD };

let tmp: string;
let reg: TestRegistry;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
let receiver: http.Server;
let receiverUrl: string;
let watchPort: number;
let config: string;
let variants: ReturnType<typeof writeVariants>;
let watcher: CliProcess;
let decide: (req: http.IncomingMessage) => Fault = () => ({ kind: 'pass' });

interface Received {
  id: number;
  key: string;
  event: 'opened' | 'resolved';
  repository: string;
  tag: string;
  digest: string;
  previousDigest?: string;
  status: string;
}
const alerts: Received[] = [];

function startWatcher(): CliProcess {
  const p = spawnCli(['registry', 'watch', '--config', config, '--insecure-registry', proxy.host, '--retries', '1'], {
    WATCH_SECRET: SECRET,
    RECEIVER_HEADERS: JSON.stringify({ Authorization: 'Bearer receiver-token' }),
  });
  stderrOf(p);
  return p;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** /metrics parsed into `name{labels}` → value (the format itself is checked in watch-metrics.test.ts). */
async function metrics(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${watchPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\S+)$/.exec(line);
    if (m && !line.startsWith('#')) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

const tagsMetric = (status: string) => `portcullis_watch_tags{host="${proxy.host}",status="${status}"}`;

/** Wait until a full reconcile that started after now has finished (the last-reconcile timestamp moves past now). */
async function nextReconcile(): Promise<void> {
  const since = Date.now() / 1000;
  await until('a full reconcile', async () => {
    const m = await metrics().catch(() => undefined);
    return (m?.get('portcullis_watch_last_reconcile_timestamp_seconds') ?? 0) > since + 0.001 || undefined;
  });
}

async function push(src: string, dest: string): Promise<void> {
  await skopeo(
    'copy',
    '--quiet',
    '--preserve-digests',
    '--dest-tls-verify=false',
    src,
    `docker://${proxy.host}/${dest}`,
  );
}

const alertsFor = (repository: string, tag: string) =>
  alerts.filter((a) => a.repository === repository && a.tag === tag);

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-watchd-'));
  watchPort = await freePort();
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.headers.authorization === 'Bearer receiver-token') {
        alerts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Received);
        res.writeHead(200).end();
      } else res.writeHead(401).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  reg = await startRegistry({
    notifications: {
      url: `http://127.0.0.1:${watchPort}/events`,
      headers: { Authorization: [`Bearer ${SECRET}`] },
    },
  });
  proxy = await startFaultProxy(reg.host, (req) => decide(req));
  variants = writeVariants(join(tmp, 'variants'));
  const key = await runCli(['keygen', '--output-key-prefix', join(tmp, 'gate')], pw);
  expect(key.code, key.stderr).toBe(0);
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
      'state: state/watch.db',
      `listen: 127.0.0.1:${watchPort}`,
      'notificationSecretEnv: WATCH_SECRET',
      'reconcileInterval: 3s',
      'alerts:',
      `  - { name: receiver, kind: webhook, url: "${receiverUrl}", headersEnv: RECEIVER_HEADERS }`,
      'registries:',
      `  - host: ${proxy.host}`,
      '    repositories: [prod/**]',
      '    trustPolicy: trust.yaml',
      '    maxAssessmentAge: 7d',
      '    quarantine: dry-run',
      '',
    ].join('\n'),
  );
  watcher = startWatcher();
  await until('the watcher to listen', async () => {
    const r = await fetch(`http://127.0.0.1:${watchPort}/healthz`).catch(() => undefined);
    return r?.status === 200 || undefined;
  });
}, 120_000);

afterAll(async () => {
  watcher?.child.kill('SIGKILL');
  await proxy?.stop();
  await reg?.stop();
  await new Promise((r) => receiver?.close(r));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('registry watch (daemon)', () => {
  it('logs JSON lines on stderr, the first saying where it listens', async () => {
    const first = await until('the listening line', () => {
      const line = stderrOf(watcher).split('\n')[0];
      return line ? JSON.parse(line) : undefined;
    });
    expect(first).toMatchObject({
      level: 'info',
      msg: `listening on http://127.0.0.1:${watchPort}`,
      address: `127.0.0.1:${watchPort}`,
      authenticated: true,
    });
    expect(first.time).toMatch(/^\d{4}-\d{2}-\d{2}T.*Z$/);
  });

  it('an unsigned image pushed with skopeo: the receiver gets an opened alert for it', async () => {
    await push(`oci:${EXAMPLE}:latest`, 'prod/unsigned:1');
    const alert = await until('the unsigned alert', () => alertsFor('prod/unsigned', '1')[0]);
    expect(alert).toMatchObject({ event: 'opened', status: 'unsigned', digest: EXAMPLE_DIGEST });
    // The registry's notification reached the watcher (not only the periodic reconcile).
    await until(
      'the event to be checked',
      () => logLines(watcher).some((l) => l.event === 'event.done' && l.repository === 'prod/unsigned') || undefined,
    );
  });

  it('an image promoted through the gate stays quiet after the next full reconcile', async () => {
    await push(`oci:${EXAMPLE}:latest`, 'staging/app:1.0');
    const db = await exampleDb(tmp);
    const gate = await runCli(
      [
        'gate',
        `docker://${proxy.host}/staging/app:1.0`,
        '--to',
        `${proxy.host}/prod/app`,
        '--policy',
        writePolicy(tmp, 'passing', passingRules()),
        '--key',
        join(tmp, 'gate.key'),
        '--db',
        db,
        '--insecure-registry',
        proxy.host,
      ],
      pw,
    );
    expect(gate.code, gate.stdout + gate.stderr).toBe(0);
    await nextReconcile();
    expect(alertsFor('prod/app', '1.0')).toEqual([]);
    const m = await metrics();
    expect(m.get(tagsMetric('approved'))).toBe(1);
    expect(m.get(tagsMetric('unsigned'))).toBe(1);
  });

  it('a production tag moved to an unsigned digest: tampered', async () => {
    await push(`oci:${join(tmp, 'variants')}:moved`, 'prod/app:1.0');
    const alert = await until('the tampered alert', () => alertsFor('prod/app', '1.0')[0]);
    expect(alert).toMatchObject({
      event: 'opened',
      status: 'tampered',
      digest: variants.moved,
      previousDigest: EXAMPLE_DIGEST,
    });
  });

  it('/metrics counts the tags by status', async () => {
    await nextReconcile();
    const m = await metrics();
    expect(m.get(tagsMetric('tampered'))).toBe(1);
    expect(m.get(tagsMetric('unsigned'))).toBe(1);
    expect(m.has(tagsMetric('approved'))).toBe(false);
    expect(m.get('portcullis_watch_reconciles_failed_total')).toBe(0);
    expect(m.get('portcullis_watch_events_received_total')).toBeGreaterThan(0);
    expect(m.get('portcullis_watch_alerts_delivered_total')).toBe(alerts.length);
    // Quarantine in dry-run: each rogue digest reported once (not at every reconcile), nothing deleted.
    const dry = `portcullis_watch_quarantine_actions_total{host="${proxy.host}",mode="dry-run",outcome="would-delete"}`;
    expect(m.get(dry)).toBe(2);
    const said = logLines(watcher).filter((l) => l.event === 'quarantine');
    expect(said.map((l) => [l.repository, l.digest, l.outcome]).sort()).toEqual(
      [
        ['prod/app', variants.moved, 'would-delete'],
        ['prod/unsigned', EXAMPLE_DIGEST, 'would-delete'],
      ].sort(),
    );
    expect(alerts.filter((a) => a.event === 'resolved')).toEqual([]);
  });

  it('POST /events without the secret is refused and counted', async () => {
    const url = `http://127.0.0.1:${watchPort}/events`;
    const headers = { 'content-type': 'application/vnd.docker.distribution.events.v1+json' };
    const none = await fetch(url, { method: 'POST', headers, body: '{"events":[]}' });
    expect(none.status).toBe(401);
    const wrong = await fetch(url, {
      method: 'POST',
      headers: { ...headers, authorization: 'Bearer guess' },
      body: '{"events":[]}',
    });
    expect(wrong.status).toBe(401);
    expect((await metrics()).get('portcullis_watch_envelopes_refused_total{reason="unauthorized"}')).toBe(2);
  });

  it('the registry failing: the reconcile is counted as failed, the state kept, then it catches up', async () => {
    const before = alerts.length;
    const m0 = await metrics();
    decide = (req) => (req.url?.startsWith('/v2/_catalog') ? { kind: 'status', status: 503 } : { kind: 'pass' });
    await until('a failed reconcile', async () => {
      const m = await metrics();
      return (m.get('portcullis_watch_reconciles_failed_total') ?? 0) >= 2 || undefined;
    });
    const down = await metrics();
    // Nothing resolved or approved because of the error: the tags are as the last good reconcile left them.
    expect(down.get(tagsMetric('tampered'))).toBe(m0.get(tagsMetric('tampered')));
    expect(down.get(tagsMetric('unsigned'))).toBe(m0.get(tagsMetric('unsigned')));
    expect(alerts.length).toBe(before);
    const health = (await (await fetch(`http://127.0.0.1:${watchPort}/healthz`)).json()) as {
      lastReconcile: { ok: boolean };
    };
    expect(health.lastReconcile.ok).toBe(false);
    expect(logLines(watcher).some((l) => l.event === 'reconcile.failed' && l.level === 'error')).toBe(true);
    decide = () => ({ kind: 'pass' });
    await nextReconcile();
    expect(alerts.length).toBe(before);
  }, 120_000);

  it('killed (SIGKILL) in the middle of a reconcile and restarted: no alert repeated, none lost', async () => {
    const before = alerts.map((a) => `${a.key}#${a.event}`).sort();
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    // The next catalog request (the start of a full reconcile) hangs in the proxy.
    decide = (req) => (req.url?.startsWith('/v2/_catalog') ? { kind: 'hold', until: held } : { kind: 'pass' });
    await until(
      'a reconcile held in the proxy',
      () => proxy.log.some((l) => l.includes('_catalog') && l.endsWith('hold')) || undefined,
    );
    // An image pushed while the watcher is stuck: its notification is answered, then lost with the process.
    const received = (await metrics()).get('portcullis_watch_events_received_total') ?? 0;
    await skopeo(
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${EXAMPLE}:latest`,
      `docker://${reg.host}/prod/late:1`,
    );
    await until(
      'the event to arrive',
      async () => ((await metrics()).get('portcullis_watch_events_received_total') ?? 0) > received || undefined,
    );
    expect(alertsFor('prod/late', '1')).toEqual([]);
    watcher.child.kill('SIGKILL');
    const killed = await watcher.done;
    expect(killed.signal).toBe('SIGKILL');
    decide = () => ({ kind: 'pass' });
    release();

    watcher = startWatcher();
    const late = await until('the alert for the image pushed while down', () => alertsFor('prod/late', '1')[0]);
    expect(late).toMatchObject({ event: 'opened', status: 'unsigned' });
    await nextReconcile();
    const after = alerts.map((a) => `${a.key}#${a.event}`);
    expect(new Set(after).size).toBe(after.length);
    expect(after.sort()).toEqual([...before, `${proxy.host}/prod/late:1@${EXAMPLE_DIGEST}#unsigned#opened`].sort());
    expect(new Set(alerts.map((a) => a.id)).size).toBe(alerts.length);
  }, 120_000);

  it('SIGTERM: a clean stop, exit 0', async () => {
    watcher.child.kill('SIGTERM');
    const r = await watcher.done;
    expect(r.code, r.stderr).toBe(0);
    const last = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string })
      .at(-1);
    expect(last?.msg).toBe('stopped');
  });

  it('--once with the state: the moved tag is tampered in the report too, and no alert is repeated', async () => {
    const before = alerts.length;
    const r = await runCli(
      ['registry', 'watch', '--config', config, '--once', '-f', 'json', '--insecure-registry', proxy.host],
      { RECEIVER_HEADERS: JSON.stringify({ Authorization: 'Bearer receiver-token' }) },
    );
    expect(r.code, r.stderr).toBe(1);
    const tags = JSON.parse(r.stdout).registries[0].tags as { repository: string; tag: string; status: string }[];
    expect(tags.map((t) => [t.repository, t.tag, t.status])).toEqual([
      ['prod/app', '1.0', 'tampered'],
      ['prod/late', '1', 'unsigned'],
      ['prod/unsigned', '1', 'unsigned'],
    ]);
    expect(alerts.length).toBe(before);
  });
});

const stderrBuffers = new WeakMap<CliProcess, string[]>();
function stderrOf(p: CliProcess): string {
  let chunks = stderrBuffers.get(p);
  if (!chunks) {
    const mine: string[] = [];
    p.child.stderr?.on('data', (c: Buffer) => mine.push(c.toString('utf8')));
    stderrBuffers.set(p, mine);
    chunks = mine;
  }
  return chunks.join('');
}

function logLines(p: CliProcess): Record<string, unknown>[] {
  return stderrOf(p)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
