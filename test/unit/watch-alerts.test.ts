import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AlertSink, alertBody, deliverPending } from '../../src/watch/alerts.js';
import type { Status, TagVerdict } from '../../src/watch/classify.js';
import { type Alert, WatchState } from '../../src/watch/state.js';

/** Alert delivery to a real webhook receiver on a loopback socket. */

const HOST = 'reg.test:5000';
const REPO = 'prod/app';
const D = (c: string) => `sha256:${c.repeat(64)}`;
const T0 = new Date('2026-03-10T12:00:00Z');
const TOKEN = 'Bearer s3cret-token-value';

interface Received {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** How the receiver answers the nth request (0-based) of a path: a status, or 'hang' (never answers). */
type Behaviour = (n: number) => number | 'hang';

let server: http.Server;
let base: string;
const received: Received[] = [];
const behaviours = new Map<string, Behaviour>();
const counts = new Map<string, number>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const n = counts.get(path) ?? 0;
      counts.set(path, n + 1);
      const answer = (behaviours.get(path) ?? (() => 200))(n);
      if (answer === 'hang') return;
      // Only requests answered 2xx count as received: the sender may not mark the others delivered.
      if (answer >= 200 && answer < 300) {
        received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      }
      if (answer >= 300 && answer < 400) res.setHeader('location', `${base}/elsewhere`);
      res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

let state: WatchState;
beforeEach(() => {
  state = WatchState.open(':memory:');
  received.length = 0;
  behaviours.clear();
  counts.clear();
});
afterEach(() => state.close());

const logs: Record<string, unknown>[] = [];
const opts = (over: Partial<Parameters<typeof deliverPending>[2]> = {}) => ({
  timeoutMs: 5_000,
  retries: 3,
  backoffMs: 1,
  log: (e: Record<string, unknown>) => logs.push(e),
  now: () => T0,
  ...over,
});

function sink(path: string, kind: AlertSink['kind'] = 'webhook'): AlertSink {
  return { name: path.slice(1), kind, url: `${base}${path}`, headers: { authorization: TOKEN } };
}

function verdict(tag: string, digest: string, status: Status, detail = `detail of ${tag}`): TagVerdict {
  return { host: HOST, repository: REPO, tag, digest, classification: { status, detail } };
}

/** Queue one opened alert per tag (unsigned, first seen). */
function queue(...tags: string[]): Alert[] {
  return state.applyReconcile(
    HOST,
    [REPO],
    tags.map((t) => verdict(t, D('e'), 'unsigned')),
    T0,
  ).queued;
}

const bodiesAt = (path: string) =>
  received.filter((r) => r.path === path).map((r) => JSON.parse(r.body) as Record<string, unknown>);

describe('deliverPending: generic webhook', () => {
  it('delivers each alert once, in order, with the versioned body and the finding', async () => {
    state.applyReconcile(HOST, [REPO], [verdict('1', D('a'), 'approved')], T0);
    const tampered = state.applyReconcile(HOST, [REPO], [verdict('1', D('b'), 'unsigned')], T0).queued;
    const more = state.applyReconcile(
      HOST,
      [REPO],
      [verdict('1', D('b'), 'unsigned'), verdict('2', D('e'), 'unsigned'), verdict('3', D('e'), 'stale')],
      T0,
    ).queued;
    expect(await deliverPending(state, [sink('/hook')], opts())).toEqual({ delivered: 3, failed: 0 });

    const bodies = bodiesAt('/hook');
    expect(bodies.map((b) => b.id)).toEqual([...tampered, ...more].map((a) => a.id));
    expect(bodies[0]).toMatchObject({
      version: 1,
      event: 'opened',
      key: `${HOST}/${REPO}:1@${D('b')}#tampered`,
      registry: HOST,
      repository: REPO,
      tag: '1',
      digest: D('b'),
      previousDigest: D('a'),
      status: 'tampered',
      finding: { ruleId: 'watch-tampered', severity: 'critical', kind: 'posture' },
    });
    expect(bodies[0]?.detail).toContain(`moved from ${D('a')} (approved) to ${D('b')}`);
    const first = received[0];
    expect(first?.headers['content-type']).toBe('application/json');
    expect(first?.headers.authorization).toBe(TOKEN);
    expect(received.some((r) => r.body.includes('s3cret'))).toBe(false);

    // Nothing is sent twice.
    expect(await deliverPending(state, [sink('/hook')], opts())).toEqual({ delivered: 0, failed: 0 });
    expect(received).toHaveLength(3);
  });

  it('a resolved alert carries the key of the state it closes', async () => {
    queue('1');
    state.applyReconcile(HOST, [REPO], [], T0);
    await deliverPending(state, [sink('/hook')], opts());
    const [opened, resolved] = bodiesAt('/hook');
    expect(resolved).toMatchObject({ event: 'resolved', status: 'removed', key: opened?.key, digest: D('e') });
    expect(resolved?.finding).toBeUndefined();
  });
});

describe('deliverPending: failures', () => {
  it('a receiver answering 500 twice then 200 gets the alert once', async () => {
    behaviours.set('/flaky', (n) => (n < 2 ? 500 : 200));
    queue('1');
    logs.length = 0;
    expect(await deliverPending(state, [sink('/flaky')], opts())).toEqual({ delivered: 1, failed: 0 });
    expect(counts.get('/flaky')).toBe(3);
    expect(bodiesAt('/flaky')).toHaveLength(1);
    expect(logs.filter((l) => l.event === 'alert.attempt-failed').map((l) => l.error)).toEqual([
      'HTTP 500',
      'HTTP 500',
    ]);
    expect(state.pending('flaky')).toEqual([]);
  });

  it('a receiver that keeps failing leaves the alerts pending, in order; once it recovers each arrives once', async () => {
    let down = true;
    behaviours.set('/down', () => (down ? 503 : 200));
    const alerts = queue('1', '2', '3');
    logs.length = 0;
    expect(await deliverPending(state, [sink('/down')], opts({ retries: 2 }))).toEqual({ delivered: 0, failed: 1 });
    // Three attempts at the first alert; the ones behind it wait their turn.
    expect(counts.get('/down')).toBe(3);
    expect(state.pending('down')).toEqual(alerts);
    const gaveUp = logs.find((l) => l.event === 'alert.undelivered');
    expect(gaveUp).toMatchObject({
      level: 'error',
      sink: 'down',
      alert: alerts[0]?.id,
      attempts: 3,
      error: 'HTTP 503',
    });
    expect(JSON.stringify(logs)).not.toContain(base);
    expect(JSON.stringify(logs)).not.toContain('s3cret');

    down = false;
    expect(await deliverPending(state, [sink('/down')], opts())).toEqual({ delivered: 3, failed: 0 });
    expect(bodiesAt('/down').map((b) => b.tag)).toEqual(['1', '2', '3']);
    expect(await deliverPending(state, [sink('/down')], opts())).toEqual({ delivered: 0, failed: 0 });
    expect(bodiesAt('/down')).toHaveLength(3);
  });

  it('a hanging receiver is cut by timeoutMs and the alert stays pending', async () => {
    behaviours.set('/hang', () => 'hang');
    queue('1');
    logs.length = 0;
    expect(await deliverPending(state, [sink('/hang')], opts({ timeoutMs: 200, retries: 1 }))).toEqual({
      delivered: 0,
      failed: 1,
    });
    expect(counts.get('/hang')).toBe(2);
    expect(logs.find((l) => l.event === 'alert.undelivered')?.error).toBe('no answer within 200 ms');
    expect(state.pending('hang')).toHaveLength(1);
  });

  it('a redirect is a failure, never followed', async () => {
    behaviours.set('/moved', () => 302);
    queue('1');
    expect(await deliverPending(state, [sink('/moved')], opts({ retries: 0 }))).toEqual({ delivered: 0, failed: 1 });
    expect(counts.get('/elsewhere')).toBeUndefined();
    expect(state.pending('moved')).toHaveLength(1);
  });

  it('a refused connection is a failure like any other', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/x`;
    await new Promise((resolve) => closed.close(resolve));
    queue('1');
    logs.length = 0;
    const s: AlertSink = { name: 'gone', kind: 'webhook', url };
    expect(await deliverPending(state, [s], opts({ retries: 1 }))).toEqual({ delivered: 0, failed: 1 });
    expect(logs.find((l) => l.event === 'alert.undelivered')?.error).toBe('ECONNREFUSED');
  });

  it('a failing sink does not hold back another; 429 with Retry-After is retried', async () => {
    behaviours.set('/down', () => 500);
    behaviours.set('/busy', (n) => (n === 0 ? 429 : 200));
    queue('1', '2');
    const r = await deliverPending(state, [sink('/down'), sink('/hook'), sink('/busy')], opts({ retries: 1 }));
    expect(r).toEqual({ delivered: 4, failed: 1 });
    expect(bodiesAt('/hook').map((b) => b.tag)).toEqual(['1', '2']);
    expect(bodiesAt('/busy').map((b) => b.tag)).toEqual(['1', '2']);
    expect(state.pending('down')).toHaveLength(2);
  });

  it('two calls at once still send each alert once', async () => {
    queue('1', '2', '3');
    const [a, b] = await Promise.all([
      deliverPending(state, [sink('/hook')], opts()),
      deliverPending(state, [sink('/hook')], opts()),
    ]);
    expect((a?.delivered ?? 0) + (b?.delivered ?? 0)).toBe(3);
    expect(bodiesAt('/hook').map((x) => x.tag)).toEqual(['1', '2', '3']);
  });
});

describe('deliverPending: across a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-alerts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('delivered alerts are not sent again, undelivered ones are sent after the restart', async () => {
    const file = join(dir, 'state.db');
    let s = WatchState.open(file);
    s.applyReconcile(HOST, [REPO], [verdict('1', D('e'), 'unsigned')], T0);
    await deliverPending(s, [sink('/hook')], opts());
    s.applyReconcile(HOST, [REPO], [verdict('1', D('e'), 'unsigned'), verdict('2', D('f'), 'failed')], T0);
    behaviours.set('/hook', () => 500);
    await deliverPending(s, [sink('/hook')], opts({ retries: 0 }));
    s.close();

    behaviours.clear();
    s = WatchState.open(file);
    try {
      expect(await deliverPending(s, [sink('/hook')], opts())).toEqual({ delivered: 1, failed: 0 });
      expect(bodiesAt('/hook').map((b) => [b.tag, b.status])).toEqual([
        ['1', 'unsigned'],
        ['2', 'failed'],
      ]);
    } finally {
      s.close();
    }
  });
});

describe('alertBody', () => {
  it('Slack: one-line text and one mrkdwn section, with Slack control characters escaped', async () => {
    const [alert] = state.applyReconcile(
      HOST,
      [REPO],
      [verdict('1', D('c'), 'failed', 'says FAIL <!channel> & <https://evil.example|click>')],
      T0,
    ).queued;
    const body = JSON.parse(alertBody(sink('/slack', 'slack'), alert as Alert)) as {
      text: string;
      blocks: { type: string; text: { type: string; text: string } }[];
    };
    expect(Object.keys(body).sort()).toEqual(['blocks', 'text']);
    expect(body.text).not.toContain('\n');
    expect(body.text).toContain(`${HOST}/${REPO}:1 failed (high)`);
    expect(body.blocks).toHaveLength(1);
    expect(body.blocks[0]?.type).toBe('section');
    expect(body.blocks[0]?.text.type).toBe('mrkdwn');
    const text = body.blocks[0]?.text.text ?? '';
    expect(text).toContain(D('c'));
    expect(text).toContain('says FAIL &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
    expect(text).not.toMatch(/<!channel>|<https:/);
    expect(text).toContain('_Fix:_');
    expect(JSON.stringify(body)).not.toContain('s3cret');

    // Delivered as such to a Slack-kind sink.
    await deliverPending(state, [sink('/slack', 'slack')], opts());
    expect(bodiesAt('/slack')[0]).toEqual(body);
  });

  it('is pure: the same alert gives the same body', () => {
    const [alert] = queue('1');
    const s = sink('/hook');
    expect(alertBody(s, alert as Alert)).toBe(alertBody(s, alert as Alert));
  });
});
