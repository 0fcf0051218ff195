import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TagVerdict } from '../../src/watch/classify.js';
import type { WatchedRegistry } from '../../src/watch/config.js';
import { type QuarantineResult, quarantineVerdicts } from '../../src/watch/quarantine.js';
import { reconcileTag } from '../../src/watch/reconcile.js';
import { WatchState } from '../../src/watch/state.js';
import { type FakeRegistry, WatchedFake } from '../helpers/fakeregistry.js';

/**
 * Quarantine never deletes a platform manifest of an index the state ever saw approved, even when no tag names that
 * index any more (deployments pin it by digest). Oracle: the fake registry's request log (was a DELETE sent).
 */

let fake: WatchedFake;
let reg: FakeRegistry;
let entry: WatchedRegistry;

beforeAll(async () => {
  fake = await WatchedFake.start('watch-qindex-');
  reg = fake.reg;
  entry = fake.entry('prod/**', 'delete');
});

afterAll(() => fake.close());

const opts = () => ({ registry: reg.options(), now: () => Date.now() });

async function quarantine(verdicts: TagVerdict[], state: WatchState): Promise<QuarantineResult[]> {
  const out: QuarantineResult[] = [];
  await quarantineVerdicts(entry, verdicts, state, opts(), (_v, r) => out.push(r));
  return out;
}

describe('quarantine and approved indexes no tag names', () => {
  it('refuses to delete a child of an index once approved and re-tagged away; deletes it otherwise', async () => {
    for (const repo of ['prod/multi', 'prod/control']) {
      const child = reg.putImage(repo, undefined, `child ${repo}`);
      const index = reg.putIndex(repo, 'rel', [child]);
      reg.putImage(repo, 'rel', `next ${repo}`); // the tag moves on; the index stays, pinned by digest
      reg.tag(repo, 'debug', child);
      const state = WatchState.open(':memory:');
      if (repo === 'prod/multi') {
        const approved = { status: 'approved', detail: 'x' } as const;
        state.applyTag(
          { host: reg.host, repository: repo, tag: 'rel', digest: index, classification: approved },
          new Date(),
        );
      }
      const v = await reconcileTag(entry, repo, 'debug', opts());
      expect(v?.classification.status).toBe('unsigned');
      const from = reg.requests.length;
      const [r] = await quarantine([v as TagVerdict], state);
      const deletes = reg.requests.slice(from).filter((l) => l.startsWith('DELETE'));
      if (repo === 'prod/multi') {
        expect(r).toEqual({
          outcome: 'refused',
          reason: `the digest is a manifest of index ${index}, which the gate approved here (deployments may pin it by digest)`,
        });
        expect(deletes).toEqual([]);
        expect(reg.manifests.get(repo)?.has(child)).toBe(true);
      } else {
        expect(r).toEqual({ outcome: 'deleted', reason: 'deleted (unsigned)' });
        expect(deletes).toEqual([`DELETE /v2/${repo}/manifests/${child}`]);
      }
      state.close();
    }
  });
});
