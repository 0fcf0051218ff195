import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/oci/mediatypes.js';
import { RegistryClient } from '../../src/oci/registry/client.js';
import { RegistryRepository } from '../../src/oci/registry/push.js';
import { signImage } from '../../src/sign/actions.js';
import { DSSE_MEDIA_TYPE } from '../../src/sign/dsse.js';
import { generateKeyPair } from '../../src/sign/keys.js';
import { SIMPLE_SIGNING_MEDIA_TYPE } from '../../src/sign/payload.js';
import { isCosignAttachment } from '../../src/watch/classify.js';
import type { WatchConfig } from '../../src/watch/config.js';
import { approvedReference } from '../../src/watch/quarantine.js';
import { reconcile, reconcileTags } from '../../src/watch/reconcile.js';
import { type FakeRegistry, WatchedFake } from '../helpers/fakeregistry.js';

/**
 * A tag NAMED like a cosign attachment (`sha256-<hex>.sig`) is skipped only when its layers really are cosign's: an
 * ordinary, pullable image pushed under such a name is classified like any other tag, and quarantine does not protect
 * it as a signature. Oracle: a fake registry holding a real signature made by `signImage` and a rogue image.
 */

const ZERO_SIG = `sha256-${'0'.repeat(64)}.sig`;
const key = generateKeyPair();
let fake: WatchedFake;
let reg: FakeRegistry;
let config: WatchConfig;
let signed: string;
let rogue: string;

beforeAll(async () => {
  fake = await WatchedFake.start('watch-cosign-', key.publicKey);
  reg = fake.reg;
  config = fake.config('prod/evil');
  signed = reg.putImage('prod/evil', '1', 'signed');
  await signImage(reg.store('prod/evil'), signed, key, { identity: `${reg.host}/prod/evil` });
  rogue = reg.putImage('prod/evil', ZERO_SIG, 'rogue');
  reg.tag('prod/evil', 'debug', rogue);
});

afterAll(() => fake.close());

const opts = () => ({ registry: reg.options(), now: () => Date.now() });

describe('cosign-named tags', () => {
  it('classifies an image pushed under a cosign-like tag; skips only the real signature', async () => {
    const [inv] = await reconcile(config, opts());
    const byTag = new Map(inv?.verdicts.map((v) => [v.tag, v]));
    expect(byTag.get(ZERO_SIG)?.classification.status).toBe('unsigned');
    expect(byTag.get(ZERO_SIG)?.digest).toBe(rogue);
    expect(byTag.get('1')?.classification.status).toBe('unassessed');
    expect(byTag.has(`sha256-${signed.slice(7)}.sig`)).toBe(false);
    expect(inv?.signatureTags).toBe(1);
  });

  it('a notification for a cosign-like tag checks the tag itself', async () => {
    const entry = config.registries[0];
    if (!entry) throw new Error('no entry');
    const realSig = `sha256-${signed.slice(7)}.sig`;
    const r = await reconcileTags(entry, 'prod/evil', [ZERO_SIG, realSig], opts());
    expect(r[0]?.verdict?.classification.status).toBe('unsigned');
    expect(r[1]).toEqual({ tag: realSig, verdict: undefined, attachment: true });
  });

  it('quarantine protects a real signature manifest, not an image under a cosign-like name', async () => {
    const client = new RegistryClient(reg.host, reg.options());
    try {
      const repo = new RegistryRepository(client, 'prod/evil');
      const sigDigest = reg.tags.get('prod/evil')?.get(`sha256-${signed.slice(7)}.sig`) as string;
      expect(await approvedReference(repo, rogue, async () => false)).toBeUndefined();
      expect(await approvedReference(repo, sigDigest, async () => false)).toContain('cosign manifest tagged');
    } finally {
      client.close();
    }
  });

  it('isCosignAttachment: an image manifest whose layers are all of the kind cosign writes for the suffix', () => {
    const hex = 'ab'.repeat(32);
    const image = (...types: string[]) => ({
      kind: 'image' as const,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: `sha256:${hex}`, size: 1 },
      layers: types.map((mediaType) => ({ mediaType, digest: `sha256:${hex}`, size: 1 })),
    });
    expect(isCosignAttachment(`sha256-${hex}.sig`, image(SIMPLE_SIGNING_MEDIA_TYPE))).toBe(true);
    expect(isCosignAttachment(`sha256-${hex}.att`, image(DSSE_MEDIA_TYPE, DSSE_MEDIA_TYPE))).toBe(true);
    expect(isCosignAttachment(`sha256-${hex}.sbom`, image('application/vnd.cyclonedx+json'))).toBe(true);
    for (const [tag, m] of [
      [`sha256-${hex}.sig`, image(SIMPLE_SIGNING_MEDIA_TYPE, MediaType.ociLayerGzip)],
      [`sha256-${hex}.sig`, image(MediaType.ociLayerGzip)],
      [`sha256-${hex}.sig`, image()],
      [`sha256-${hex}.att`, image(SIMPLE_SIGNING_MEDIA_TYPE)],
      ['latest', image(SIMPLE_SIGNING_MEDIA_TYPE)],
    ] as const) {
      expect(isCosignAttachment(tag, m), `${tag} ${m.layers.map((l) => l.mediaType)}`).toBe(false);
    }
    const index = { kind: 'index' as const, mediaType: MediaType.ociIndex, manifests: [] };
    expect(isCosignAttachment(`sha256-${hex}.sig`, index)).toBe(false);
  });
});
