import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attestImage, fetchSignatureImage } from '../../src/sign/actions.js';
import { PREDICATE_TYPES } from '../../src/sign/attestation.js';
import { generateKeyPair, keyId } from '../../src/sign/keys.js';
import { LayoutSignatureStore } from '../../src/sign/layoutstore.js';
import { verifyAttestations } from '../../src/sign/verify.js';
import { EXAMPLE_DIGEST } from '../helpers/gate.js';
import { EXAMPLE } from '../helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-attest-replace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('replacing attestations', () => {
  it("'own' replaces this key's attestation of the type and keeps another signer's; true replaces every one", async () => {
    const layout = join(dir, 'layout');
    cpSync(EXAMPLE, layout, { recursive: true });
    const store = new LayoutSignatureStore(layout);
    const gate = generateKeyPair();
    const other = generateKeyPair();
    const trust = (k: typeof gate, name: string) => ({ key: k.publicKey, id: keyId(k.publicKey), name });
    const type = PREDICATE_TYPES.assessment as string;
    const base = { identity: 'registry.example/team/app', predicateType: type };
    const verified = async () => {
      const att = await fetchSignatureImage(store, EXAMPLE_DIGEST, 'att');
      const v = verifyAttestations(att, { digest: EXAMPLE_DIGEST }, [trust(gate, 'gate'), trust(other, 'other')], type);
      return v.verified.map((a) => [a.key, (a.statement.predicate as { run: number }).run]);
    };
    await attestImage(store, EXAMPLE_DIGEST, gate, { ...base, predicate: { run: 1 } });
    await attestImage(store, EXAMPLE_DIGEST, other, { ...base, predicate: { run: 2 } });
    await attestImage(store, EXAMPLE_DIGEST, gate, { ...base, predicate: { run: 3 }, replace: 'own' });
    expect((await verified()).sort()).toEqual([
      ['gate', 3],
      ['other', 2],
    ]);
    await attestImage(store, EXAMPLE_DIGEST, gate, { ...base, predicate: { run: 4 }, replace: true });
    expect(await verified()).toEqual([['gate', 4]]);
  });
});
