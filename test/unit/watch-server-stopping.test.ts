import { afterAll, describe, expect, it } from 'vitest';
import { type WatchContext, Watcher } from '../../src/watch/daemon.js';
import { watchMetrics } from '../../src/watch/metrics.js';
import type { ParsedEnvelope } from '../../src/watch/notifications.js';
import { startWatchServer, type WatchServer } from '../../src/watch/server.js';

/** A stopping watcher on a real loopback socket: envelopes it would drop are refused, so distribution retries them. */

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
  ],
});

let server: WatchServer | undefined;
afterAll(async () => {
  await server?.close();
});

describe('watch server while the watcher stops', () => {
  it('POST /events answers 200 while running and 503 with Retry-After once stop has begun; nothing is queued', async () => {
    const ctx = { metrics: watchMetrics(), log: () => {} } as unknown as WatchContext;
    const watcher = new Watcher(ctx);
    const received: ParsedEnvelope[] = [];
    server = await startWatchServer({
      host: '127.0.0.1',
      port: 0,
      onEnvelope: (e) => {
        received.push(e);
        watcher.enqueue(e);
      },
      accepting: () => watcher.accepting(),
      metrics: () => '',
      health: () => watcher.health(),
    });
    const post = () =>
      fetch(`http://${server?.address}/events`, { method: 'POST', headers: { 'content-type': TYPE }, body: ENVELOPE });

    const before = await post();
    expect(before.status).toBe(200);
    expect(received).toHaveLength(1);

    await watcher.stop(Promise.resolve());
    const during = await post();
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('5');
    expect(await during.json()).toEqual({ error: 'the watcher is stopping; send this envelope again' });
    expect(received).toHaveLength(1);
    expect(watcher.health()).toMatchObject({ ok: false, detail: { queued: 1 } });
  });
});
