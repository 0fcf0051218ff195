import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WatchedRegistry } from '../../src/watch/config.js';
import { addToGroups, type EventGroups, type WatchContext, Watcher } from '../../src/watch/daemon.js';
import { watchMetrics } from '../../src/watch/metrics.js';
import { parseEnvelope, type WatchEvent } from '../../src/watch/notifications.js';
import { EVENT_SETTLE_BUDGET_MS, reconcileTags } from '../../src/watch/reconcile.js';
import { WatchState } from '../../src/watch/state.js';
import { type FakeRegistry, WatchedFake } from '../helpers/fakeregistry.js';

/**
 * distribution notifies a push before the tag points at the new manifest: the targeted check waits (a few HEADs with
 * backoff) until the tag names the pushed digest, instead of reading a 404 as "removed" or classifying the old digest;
 * after the last wait a 404 is removed and another digest classified; one settle budget bounds a whole event batch,
 * and what it leaves is pending for the next full reconcile. Oracle: a fake registry that moves the tag
 * only after a few HEADs.
 */

let fake: WatchedFake;
let reg: FakeRegistry;
let entry: WatchedRegistry;

beforeAll(async () => {
  fake = await WatchedFake.start('watch-race-');
  reg = fake.reg;
  entry = fake.entry();
});

afterAll(() => fake.close());

const opts = () => ({ registry: reg.options(), now: () => Date.now() });

/** The tag moves to `digest` only at the `after`-th HEAD of it (before that: absent, or the old digest). */
function moveLate(repo: string, tag: string, digest: string, after: number): void {
  let heads = 0;
  reg.intercept = (req) => {
    if (req.method === 'HEAD' && req.url === `/v2/${repo}/manifests/${tag}` && ++heads === after)
      reg.tag(repo, tag, digest);
    return false;
  };
}

describe('a notification that arrives before the tag moves', () => {
  it('the push event carries target.digest, kept per tag', () => {
    const d = `sha256:${'d'.repeat(64)}`;
    const env = parseEnvelope(
      JSON.stringify({
        events: [
          {
            action: 'push',
            target: {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              repository: 'prod/a',
              tag: 'new',
              digest: d,
            },
            request: { host: reg.host },
          },
        ],
      }),
    );
    expect(env.events).toEqual([
      { kind: 'tag', action: 'push', id: undefined, host: reg.host, repository: 'prod/a', tag: 'new', digest: d },
    ]);
    const groups: EventGroups = new Map();
    for (const e of env.events) addToGroups(groups, entry, e, () => []);
    expect(groups.get(`${reg.host}/prod/a`)?.expected).toEqual(new Map([['new', d]]));
  });

  it('a new tag: checked once it exists, not reported removed', async () => {
    const d = reg.putImage('prod/a', undefined, 'new');
    moveLate('prod/a', 'new', d, 3);
    try {
      const [r] = await reconcileTags(entry, 'prod/a', ['new'], opts(), new Map([['new', d]]));
      expect(r?.verdict).toMatchObject({ tag: 'new', digest: d, classification: { status: 'unsigned' } });
    } finally {
      reg.intercept = undefined;
    }
  });

  it('a moved tag: the pushed digest is classified, not the old one', async () => {
    reg.putImage('prod/b', 'rel', 'old');
    const d = reg.putImage('prod/b', undefined, 'pushed');
    moveLate('prod/b', 'rel', d, 2);
    try {
      const [r] = await reconcileTags(entry, 'prod/b', ['rel'], opts(), new Map([['rel', d]]));
      expect(r?.verdict?.digest).toBe(d);
    } finally {
      reg.intercept = undefined;
    }
  });

  it('a tag that still names another digest after the waits is classified by it (it moved again)', async () => {
    const old = reg.putImage('prod/c', 'rel', 'old');
    const d = `sha256:${'e'.repeat(64)}`;
    const [r] = await reconcileTags(entry, 'prod/c', ['rel'], opts(), new Map([['rel', d]]));
    expect(r?.pending).toBeUndefined();
    expect(r?.verdict).toMatchObject({ tag: 'rel', digest: old, classification: { status: 'unsigned' } });
    expect(reg.tags.get('prod/c')?.get('rel')).toBe(old);
  });

  it('a tag that answers 404 after the waits is gone (removed), not pending', async () => {
    const d = `sha256:${'f'.repeat(64)}`;
    const [r] = await reconcileTags(entry, 'prod/c', ['deleted'], opts(), new Map([['deleted', d]]));
    expect(r).toEqual({ tag: 'deleted', verdict: undefined });
  });

  it('a wait that would pass the settle deadline is not taken: pending', async () => {
    const d = `sha256:${'f'.repeat(64)}`;
    const started = Date.now();
    const results = await reconcileTags(
      entry,
      'prod/c',
      ['a', 'b', 'c', 'd', 'e', 'f'],
      { ...opts(), settleDeadline: started + 250 },
      new Map(['a', 'b', 'c', 'd', 'e', 'f'].map((t) => [t, d])),
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(results.every((r) => r.pending === true && r.verdict === undefined)).toBe(true);
  });
});

/** The daemon's event step: one settle budget for the whole batch, however many repositories it names. */
describe('the settle budget of an event batch', () => {
  it('many groups whose tags never settle take about EVENT_SETTLE_BUDGET_MS in all, not 1.5 s each', async () => {
    const state = WatchState.open(':memory:');
    const logs: { msg: string; fields?: Record<string, unknown> }[] = [];
    const config = fake.config('prod/**', 'off');
    const ctx: WatchContext = {
      config,
      state,
      registry: reg.options(),
      sinks: [],
      log: (_level, msg, fields) => logs.push({ msg, ...(fields ? { fields } : {}) }),
      metrics: watchMetrics(),
      now: Date.now,
    };
    const w = new Watcher(ctx);
    const events = (w as unknown as { events(b: readonly WatchEvent[]): Promise<void> }).events.bind(w);
    const batch: WatchEvent[] = Array.from({ length: 6 }, (_, i) => ({
      kind: 'tag',
      action: 'push',
      id: undefined,
      host: reg.host,
      repository: `prod/budget${i}`,
      tag: 'never',
      digest: `sha256:${String(i).repeat(64)}`,
    }));
    for (let i = 0; i < 6; i++) reg.putImage(`prod/budget${i}`, 'never', `budget ${i}`);
    const started = Date.now();
    try {
      await events(batch);
      const took = Date.now() - started;
      expect(took).toBeLessThan(EVENT_SETTLE_BUDGET_MS + 1000);
      const done = logs.filter((l) => l.fields?.event === 'event.done');
      expect(done).toHaveLength(6);
      expect(logs.some((l) => l.fields?.event === 'event.pending')).toBe(true);
    } finally {
      await w.stop(Promise.resolve());
      state.close();
    }
  }, 15_000);
});
