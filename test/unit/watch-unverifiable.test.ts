import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/oci/mediatypes.js';
import { SIMPLE_SIGNING_MEDIA_TYPE } from '../../src/sign/payload.js';
import { classify, toFinding } from '../../src/watch/classify.js';
import type { WatchConfig } from '../../src/watch/config.js';
import { UNHEALTHY_AFTER, type WatchContext, Watcher } from '../../src/watch/daemon.js';
import { watchMetrics } from '../../src/watch/metrics.js';
import { qualifies } from '../../src/watch/quarantine.js';
import { reconcile } from '../../src/watch/reconcile.js';
import { WatchState } from '../../src/watch/state.js';
import { type FakeRegistry, manifestBytes, WatchedFake } from '../helpers/fakeregistry.js';

/**
 * One digest whose signature manifest is malformed must not stop the reconcile: that digest is `unverifiable` (an
 * alert, never approved, quarantinable unless the state ever saw it approved: a malformed `.sig` pushed beside a rogue
 * image must not shield it) and every other tag is still classified. A registry fault still fails the
 * run, and /healthz says so after repeated failures. Oracle: a fake registry serving a `.sig` with a layer of size -1.
 */

let fake: WatchedFake;
let reg: FakeRegistry;
let config: WatchConfig;
let bad: string;

beforeAll(async () => {
  fake = await WatchedFake.start('watch-unverifiable-');
  reg = fake.reg;
  config = fake.config('prod/app');
  bad = reg.putImage('prod/app', '1', 'one');
  reg.putImage('prod/app', '2', 'two');
  const sig = manifestBytes({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: `sha256:${'1'.repeat(64)}`, size: 2 },
    layers: [{ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, digest: `sha256:${'2'.repeat(64)}`, size: -1 }],
  });
  reg.putManifest('prod/app', sig.bytes, MediaType.ociManifest, `sha256-${bad.slice(7)}.sig`);
});

afterAll(() => fake.close());

const opts = () => ({ registry: reg.options(), now: () => Date.now() });

describe('a digest whose signatures cannot be read', () => {
  it('is unverifiable (alerted, quarantinable); the other tags are still classified', async () => {
    const [inv] = await reconcile(config, opts());
    const byTag = new Map(inv?.verdicts.map((v) => [v.tag, v]));
    const v1 = byTag.get('1');
    expect(v1?.classification.status).toBe('unverifiable');
    expect(v1?.classification.detail).toMatch(/^its signatures cannot be read: .*size/);
    expect(byTag.get('2')?.classification.status).toBe('unsigned');
    expect(v1 && toFinding(v1)).toMatchObject({ ruleId: 'watch-unverifiable', severity: 'high' });
    expect(v1 && qualifies(v1, 'delete')).toBe(true);
  });

  it('classify: unreadable facts are never approved', () => {
    expect(classify({ trusted: true, unreadable: 'x' }, { now: 0, maxAgeMs: 1 }).status).toBe('unverifiable');
  });

  it('a registry fault still fails the run; /healthz turns 503-worthy after repeated failures', async () => {
    reg.intercept = (req, res) => {
      if (!req.url?.includes('.sig')) return false;
      res.writeHead(500);
      res.end();
      return true;
    };
    try {
      await expect(reconcile(config, opts())).rejects.toThrow(/500/);
      const state = WatchState.open(join(fake.tmp, 'state.db'));
      try {
        const ctx: WatchContext = {
          config,
          state,
          registry: reg.options(),
          sinks: [],
          log: () => {},
          metrics: watchMetrics(),
          now: Date.now,
        };
        const w = new Watcher(ctx);
        const step = (w as unknown as { fullReconcile(): Promise<void> }).fullReconcile.bind(w);
        expect(w.health().ok).toBe(true);
        for (let i = 0; i < UNHEALTHY_AFTER; i++) await step();
        expect(w.health()).toMatchObject({ ok: false, detail: { reconcileFailures: UNHEALTHY_AFTER } });
        reg.intercept = undefined;
        await step();
        expect(w.health()).toMatchObject({ ok: true, detail: { reconcileFailures: 0 } });
        await w.stop(Promise.resolve());
      } finally {
        state.close();
      }
    } finally {
      reg.intercept = undefined;
    }
  });
});
