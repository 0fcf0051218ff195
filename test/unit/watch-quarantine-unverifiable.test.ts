import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/oci/mediatypes.js';
import { SIMPLE_SIGNING_MEDIA_TYPE } from '../../src/sign/payload.js';
import type { TagVerdict } from '../../src/watch/classify.js';
import type { WatchedRegistry } from '../../src/watch/config.js';
import { type QuarantineResult, quarantineVerdicts } from '../../src/watch/quarantine.js';
import { reconcileTag } from '../../src/watch/reconcile.js';
import { WatchState } from '../../src/watch/state.js';
import { type FakeRegistry, manifestBytes, WatchedFake } from '../helpers/fakeregistry.js';

/**
 * A malformed `sha256-<R>.sig` pushed beside a rogue image R must not shield it from quarantine: R is `unverifiable`,
 * which qualifies, and an `unverifiable` re-check still counts as rogue (a tampered R is deleted too). A digest the
 * state ever saw approved is still refused. Oracle: the fake registry's request log (was a DELETE sent).
 */

let fake: WatchedFake;
let reg: FakeRegistry;
let entry: WatchedRegistry;

beforeAll(async () => {
  fake = await WatchedFake.start('watch-qunverifiable-');
  reg = fake.reg;
  entry = fake.entry('prod/**', 'delete');
});

afterAll(() => fake.close());

const opts = () => ({ registry: reg.options(), now: () => Date.now() });

/** A rogue image tagged `tag` in `repo`, with a `.sig` whose layer has size -1. */
function rogueWithMalformedSig(repo: string, tag: string): string {
  const rogue = reg.putImage(repo, tag, `rogue ${repo}`);
  const sig = manifestBytes({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: `sha256:${'1'.repeat(64)}`, size: 2 },
    layers: [{ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, digest: `sha256:${'2'.repeat(64)}`, size: -1 }],
  });
  reg.putManifest(repo, sig.bytes, MediaType.ociManifest, `sha256-${rogue.slice(7)}.sig`);
  return rogue;
}

async function quarantine(v: TagVerdict, state: WatchState): Promise<{ r: QuarantineResult; deletes: string[] }> {
  const out: QuarantineResult[] = [];
  const from = reg.requests.length;
  await quarantineVerdicts(entry, [v], state, opts(), (_v, r) => out.push(r));
  const deletes = reg.requests.slice(from).filter((l) => l.startsWith('DELETE'));
  return { r: out[0] as QuarantineResult, deletes };
}

describe('quarantine of a rogue image with a malformed signature manifest', () => {
  it('an unverifiable digest is deleted', async () => {
    const rogue = rogueWithMalformedSig('prod/a', 'latest');
    const v = (await reconcileTag(entry, 'prod/a', 'latest', opts())) as TagVerdict;
    expect(v.classification.status).toBe('unverifiable');
    const state = WatchState.open(':memory:');
    const { r, deletes } = await quarantine(v, state);
    state.close();
    expect(r).toEqual({ outcome: 'deleted', reason: 'deleted (unverifiable)' });
    expect(deletes).toEqual([`DELETE /v2/prod/a/manifests/${rogue}`]);
  });

  it('a tampered digest that re-checks unverifiable is still rogue: deleted', async () => {
    const rogue = rogueWithMalformedSig('prod/b', 'latest');
    const v: TagVerdict = {
      host: reg.host,
      repository: 'prod/b',
      tag: 'latest',
      digest: rogue,
      classification: { status: 'tampered', detail: 'moved' },
    };
    const state = WatchState.open(':memory:');
    const { r, deletes } = await quarantine(v, state);
    state.close();
    expect(r).toEqual({ outcome: 'deleted', reason: 'deleted (unverifiable)' });
    expect(deletes).toEqual([`DELETE /v2/prod/b/manifests/${rogue}`]);
  });

  it('an unverifiable digest the state ever saw approved is refused', async () => {
    const digest = rogueWithMalformedSig('prod/c', 'latest');
    const state = WatchState.open(':memory:');
    const approved = { status: 'approved', detail: 'x' } as const;
    state.applyTag({ host: reg.host, repository: 'prod/c', tag: 'old', digest, classification: approved }, new Date());
    const v = (await reconcileTag(entry, 'prod/c', 'latest', opts())) as TagVerdict;
    expect(v.classification.status).toBe('unverifiable');
    const { r, deletes } = await quarantine(v, state);
    state.close();
    expect(r).toEqual({
      outcome: 'refused',
      reason: 'the gate approved this digest here before (it is stale, not rogue)',
    });
    expect(deletes).toEqual([]);
  });

  it('an unreadable tagged manifest protects only when the digest it names is approved', async () => {
    const bad = manifestBytes({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [{ mediaType: MediaType.ociManifest, digest: `sha256:${'3'.repeat(64)}`, size: -1 }],
    });
    for (const approvedIt of [true, false]) {
      const repo = approvedIt ? 'prod/d' : 'prod/e';
      const weird = reg.putManifest(repo, bad.bytes, MediaType.ociIndex, 'weird');
      reg.putImage(repo, 'x', `unsigned ${repo}`);
      const v = (await reconcileTag(entry, repo, 'x', opts())) as TagVerdict;
      expect(v.classification.status).toBe('unsigned');
      const state = WatchState.open(':memory:');
      if (approvedIt) {
        const approved = { status: 'approved', detail: 'x' } as const;
        state.applyTag(
          { host: reg.host, repository: repo, tag: 'old', digest: weird, classification: approved },
          new Date(),
        );
      }
      const { r, deletes } = await quarantine(v, state);
      state.close();
      if (approvedIt) {
        expect(r.outcome).toBe('refused');
        expect(r.reason).toMatch(
          /^tag weird names sha256:[0-9a-f]{64}, which the gate approved, and its manifest cannot/,
        );
        expect(deletes).toEqual([]);
      } else {
        expect(r).toEqual({ outcome: 'deleted', reason: 'deleted (unsigned)' });
      }
    }
  });
});
