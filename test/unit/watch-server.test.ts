import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ENVELOPE_BYTES, type ParsedEnvelope } from '../../src/watch/notifications.js';
import { type RefusalReason, startWatchServer, type WatchServer } from '../../src/watch/server.js';

/** The watcher's HTTP edge on a real loopback socket: envelopes in, refusals, metrics and health out. */

const SECRET = 'n0tif-s3cret';
const TYPE = 'application/vnd.docker.distribution.events.v1+json';
const ENVELOPE = JSON.stringify({
  events: [
    {
      id: 'e1',
      action: 'push',
      target: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        repository: 'prod/app',
        tag: '2',
        digest: `sha256:${'0'.repeat(64)}`,
      },
      request: { host: '127.0.0.1:5000' },
    },
    { id: 'e2', action: 'pull', target: { repository: 'prod/app' } },
  ],
});

let server: WatchServer;
const received: ParsedEnvelope[] = [];
const refused: RefusalReason[] = [];
let healthy = true;

beforeAll(async () => {
  server = await startWatchServer({
    host: '127.0.0.1',
    port: 0,
    secret: SECRET,
    onEnvelope: (e) => received.push(e),
    onRefused: (r) => refused.push(r),
    metrics: () => '# HELP x X.\n# TYPE x gauge\nx 1\n',
    health: () => ({ ok: healthy, detail: { lastReconcile: healthy ? 'ok' : 'failed' } }),
  });
});

afterAll(async () => {
  await server?.close();
});

/** A raw request with node:http (so a refused body can be seen through, unlike fetch). */
function request(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer,
  chunked = false,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  const [host, port] = server.address.split(':');
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }),
      );
    });
    // The server may close before a refused body is fully sent; the answer already came.
    req.on('error', (err) =>
      err.message.includes('EPIPE') || err.message.includes('ECONNRESET') ? null : reject(err),
    );
    if (body !== undefined && chunked) {
      const buf = Buffer.from(body);
      for (let i = 0; i < buf.length; i += 64 * 1024) req.write(buf.subarray(i, i + 64 * 1024));
    } else if (body !== undefined) req.write(body);
    req.end();
  });
}

const auth = { authorization: `Bearer ${SECRET}`, 'content-type': TYPE };

describe('watch server', () => {
  it('binds the port asked (0: one the OS picks) on loopback', () => {
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.address).not.toBe('127.0.0.1:0');
  });

  it('POST /events with the secret: 200 at once, the parsed envelope handed over', async () => {
    const before = received.length;
    const r = await request('POST', '/events', auth, ENVELOPE);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({ accepted: 1, ignored: 1 });
    expect(received.slice(before)).toEqual([
      {
        events: [
          {
            kind: 'tag',
            action: 'push',
            id: 'e1',
            host: '127.0.0.1:5000',
            repository: 'prod/app',
            tag: '2',
            digest: `sha256:${'0'.repeat(64)}`,
          },
        ],
        ignored: 1,
      },
    ]);
  });

  it('401 without the secret or with a wrong one; nothing is handed over', async () => {
    const before = received.length;
    const none = await request('POST', '/events', { 'content-type': TYPE }, ENVELOPE);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Bearer');
    const wrong = await request('POST', '/events', { ...auth, authorization: `Bearer ${SECRET}x` }, ENVELOPE);
    expect(wrong.status).toBe(401);
    const basic = await request('POST', '/events', { ...auth, authorization: SECRET }, ENVELOPE);
    expect(basic.status).toBe(401);
    expect(received.length).toBe(before);
    expect(refused.filter((r) => r === 'unauthorized').length).toBeGreaterThanOrEqual(3);
  });

  it('400 on a malformed envelope, with the one-line reason', async () => {
    const r = await request('POST', '/events', auth, '{"events":[{"action":"push","target":7}]}');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error).toBe('notification envelope: events[0].target: expected an object');
    expect((await request('POST', '/events', auth, 'garbage')).status).toBe(400);
    expect(refused).toContain('malformed');
  });

  it('413 on a body over the limit, declared or streamed in chunks', async () => {
    const big = Buffer.alloc(MAX_ENVELOPE_BYTES + 1, 0x20);
    const declared = await request('POST', '/events', { ...auth, 'content-length': String(big.length) }, big);
    expect(declared.status).toBe(413);
    const streamed = await request('POST', '/events', { ...auth, 'transfer-encoding': 'chunked' }, big, true);
    expect(streamed.status).toBe(413);
    expect(refused).toContain('too_large');
  });

  it('415 on another content type; 405 and 404 elsewhere', async () => {
    expect((await request('POST', '/events', { ...auth, 'content-type': 'text/plain' }, ENVELOPE)).status).toBe(415);
    expect((await request('GET', '/events', {})).status).toBe(405);
    expect((await request('POST', '/metrics', {}, '')).status).toBe(405);
    expect((await request('GET', '/', {})).status).toBe(404);
  });

  it('GET /metrics serves the text format 0.0.4; /metrics and /healthz need no secret', async () => {
    const r = await request('GET', '/metrics', {});
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.text).toBe('# HELP x X.\n# TYPE x gauge\nx 1\n');
  });

  it('GET /healthz: 200 when healthy, 503 otherwise', async () => {
    const ok = await request('GET', '/healthz', {});
    expect([ok.status, JSON.parse(ok.text)]).toEqual([200, { ok: true, lastReconcile: 'ok' }]);
    healthy = false;
    const bad = await request('GET', '/healthz', {});
    expect([bad.status, JSON.parse(bad.text)]).toEqual([503, { ok: false, lastReconcile: 'failed' }]);
    healthy = true;
  });

  it('without a configured secret, events are taken without Authorization', async () => {
    const open = await startWatchServer({
      host: '127.0.0.1',
      port: 0,
      onEnvelope: () => {},
      metrics: () => '',
      health: () => ({ ok: true, detail: {} }),
    });
    try {
      const res = await fetch(`http://${open.address}/events`, {
        method: 'POST',
        headers: { 'content-type': TYPE },
        body: ENVELOPE,
      });
      expect(res.status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
