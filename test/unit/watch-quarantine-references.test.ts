import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/oci/mediatypes.js';
import type { RegistryRepository } from '../../src/oci/registry/push.js';
import type { TagVerdict } from '../../src/watch/classify.js';
import type { WatchedRegistry } from '../../src/watch/config.js';
import {
  DigestListings,
  GONE_RECHECK_MS,
  type QuarantineResult,
  quarantineVerdicts,
} from '../../src/watch/quarantine.js';
import { reconcileTag } from '../../src/watch/reconcile.js';
import { WatchState } from '../../src/watch/state.js';
import { type FakeRegistry, manifestBytes, WatchedFake } from '../helpers/fakeregistry.js';

/**
 * What quarantine reads of indexes the state ever saw approved: each digest is read once per process (a manifest is
 * immutable by digest), not at every step; and platform manifests under nested indexes of an approved index (up to
 * the 4 levels the gate accepts) are protected like direct children. Oracle: the fake registry's request log.
 */

let fake: WatchedFake;
let reg: FakeRegistry;
let entry: WatchedRegistry;

beforeAll(async () => {
  fake = await WatchedFake.start('watch-qrefs-');
  reg = fake.reg;
  entry = fake.entry('prod/**', 'delete');
});

afterAll(() => fake.close());

const opts = () => ({ registry: reg.options(), now: () => Date.now() });
const approved = { status: 'approved', detail: 'x' } as const;

/** An OCI index listing one nested index per entry of `children` (digest, isIndex). */
function putNested(repo: string, children: readonly (readonly [string, boolean])[]): string {
  const m = manifestBytes({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: children.map(([digest, isIndex]) => ({
      mediaType: isIndex ? MediaType.ociIndex : MediaType.ociManifest,
      digest,
      size: 10,
      platform: { os: 'linux', architecture: 'amd64' },
    })),
  });
  return reg.putManifest(repo, m.bytes, MediaType.ociIndex);
}

async function quarantine(v: TagVerdict, state: WatchState, mode: 'delete' | 'dry-run' = 'delete') {
  const out: QuarantineResult[] = [];
  const from = reg.requests.length;
  await quarantineVerdicts({ ...entry, quarantine: mode }, [v], state, opts(), (_v, r) => out.push(r));
  return { r: out[0] as QuarantineResult, requests: reg.requests.slice(from) };
}

describe('quarantine reads of approved indexes', () => {
  it('reads each approved digest once per process, not at every step', async () => {
    const repo = 'prod/cost';
    const state = WatchState.open(':memory:');
    const approvedDigests: string[] = [];
    for (let i = 0; i < 6; i++) {
      const d = reg.putIndex(repo, undefined, [reg.putImage(repo, undefined, `c${i}`)]);
      approvedDigests.push(d);
      state.applyTag(
        { host: reg.host, repository: repo, tag: `v${i}`, digest: d, classification: approved },
        new Date(),
      );
    }
    approvedDigests.push(reg.putImage(repo, undefined, 'an approved image'));
    state.applyTag(
      { host: reg.host, repository: repo, tag: 'img', digest: approvedDigests[6] as string, classification: approved },
      new Date(),
    );
    reg.putImage(repo, 'rogue', 'rogue');
    const v = (await reconcileTag(entry, repo, 'rogue', opts())) as TagVerdict;
    const reads = (requests: string[]) =>
      requests.filter((l) => approvedDigests.some((d) => l === `GET /v2/${repo}/manifests/${d}`));
    const first = await quarantine(v, state, 'dry-run');
    expect(first.r.outcome).toBe('would-delete');
    expect(reads(first.requests)).toHaveLength(7);
    const second = await quarantine(v, state, 'dry-run');
    expect(second.r.outcome).toBe('would-delete');
    expect(reads(second.requests)).toEqual([]);
    state.close();
  });

  it('protects a platform manifest under nested indexes of an approved index, 4 levels deep', async () => {
    for (const tagged of [false, true]) {
      const repo = tagged ? 'prod/nested-tagged' : 'prod/nested';
      const platform = reg.putImage(repo, undefined, `platform ${repo}`);
      const level4 = putNested(repo, [[platform, false]]);
      const level3 = putNested(repo, [[level4, true]]);
      const level2 = putNested(repo, [[level3, true]]);
      const root = putNested(repo, [[level2, true]]);
      const state = WatchState.open(':memory:');
      state.applyTag(
        { host: reg.host, repository: repo, tag: 'rel', digest: root, classification: approved },
        new Date(),
      );
      if (tagged) reg.tag(repo, 'rel', root);
      reg.tag(repo, 'debug', platform);
      const v = (await reconcileTag(entry, repo, 'debug', opts())) as TagVerdict;
      expect(v.classification.status).toBe('unsigned');
      const { r, requests } = await quarantine(v, state);
      state.close();
      expect(r.outcome).toBe('refused');
      expect(r.reason).toContain(`index ${root}`);
      expect(requests.filter((l) => l.startsWith('DELETE'))).toEqual([]);
    }
  });

  it('a manifest deeper than the gate accepts is not protected by it', async () => {
    const repo = 'prod/too-deep';
    const platform = reg.putImage(repo, undefined, 'too deep');
    let d = putNested(repo, [[platform, false]]);
    for (let i = 0; i < 4; i++) d = putNested(repo, [[d, true]]);
    const state = WatchState.open(':memory:');
    state.applyTag({ host: reg.host, repository: repo, tag: 'rel', digest: d, classification: approved }, new Date());
    reg.tag(repo, 'debug', platform);
    const v = (await reconcileTag(entry, repo, 'debug', opts())) as TagVerdict;
    const { r } = await quarantine(v, state);
    state.close();
    expect(r).toEqual({ outcome: 'deleted', reason: 'deleted (unsigned)' });
  });

  it('a digest found gone is read again after GONE_RECHECK_MS (it may be pushed again); an image never', async () => {
    let clock = 0;
    const reads: string[] = [];
    const repo = {
      findManifest: async (d: string) => {
        reads.push(d);
        return d === 'img' ? { digest: d, manifest: { kind: 'image' } } : undefined;
      },
    } as unknown as RegistryRepository;
    const listings = new DigestListings(() => clock);
    expect((await listings.list(repo, ['gone', 'img'])).map((l) => l.kind)).toEqual(['gone', 'image']);
    clock = GONE_RECHECK_MS - 1;
    await listings.list(repo, ['gone', 'img']);
    expect(reads).toEqual(['gone', 'img']);
    clock = GONE_RECHECK_MS;
    await listings.list(repo, ['gone', 'img']);
    expect(reads).toEqual(['gone', 'img', 'gone']);
  });
});
