import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { digestOf } from '../../src/oci/digest.js';
import { parseStatement } from '../../src/sign/attestation.js';
import { parseEnvelope as parseDsse } from '../../src/sign/dsse.js';
import { parseEnvelope as parseKeyEnvelope } from '../../src/sign/encrypted.js';
import { generateKeyPair, keyId, parsePublicKey, publicKeyPem, signBytes } from '../../src/sign/keys.js';
import { buildPayload, parsePayload } from '../../src/sign/payload.js';
import { decodePem } from '../../src/sign/pem.js';
import { appendSignatureLayer, parseSignatureManifest } from '../../src/sign/sigimage.js';
import { parseTrustPolicy } from '../../src/sign/trustpolicy.js';
import {
  type FetchedBlob,
  type FetchedSignatureImage,
  verifyAttestations,
  verifySignatures,
} from '../../src/sign/verify.js';

/** Parsers of hostile input throw only typed errors, whatever the bytes. */
function typedOnly(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof PortcullisError)) throw err;
    expect(err.message).not.toMatch(/\n/);
  }
}

/** Random bytes, random JSON, and JSON shaped like the format with random values in it. */
const jsonish = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.json().map((s) => Buffer.from(s)),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
);
const anyValue = fc.oneof(fc.jsonValue(), fc.constant(undefined));

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const pair = generateKeyPair();
const trusted = [{ key: pair.publicKey, id: keyId(pair.publicKey), name: 'k.pub' }];

describe('fuzz: parsers throw typed one-line errors only', () => {
  it('PEM and public keys', () => {
    const valid = publicKeyPem(pair.publicKey);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 400 }),
          fc
            .tuple(fc.nat(valid.length), fc.string({ maxLength: 5 }))
            .map(([i, s]) => valid.slice(0, i) + s + valid.slice(i + 1)),
        ),
        (text) => {
          typedOnly(() => decodePem(text, 'p'));
          typedOnly(() => parsePublicKey(text, 'p'));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('encrypted key envelope', () => {
    const shaped = fc
      .record({
        kdf: fc.record({
          name: anyValue,
          params: fc.record({ N: anyValue, r: anyValue, p: anyValue }),
          salt: anyValue,
        }),
        cipher: fc.record({ name: anyValue, nonce: anyValue }),
        ciphertext: anyValue,
      })
      .map((v) => Buffer.from(JSON.stringify(v)));
    fc.assert(
      fc.property(fc.oneof(jsonish, shaped), (bytes) => typedOnly(() => parseKeyEnvelope(bytes, 'k'))),
      { numRuns: 2000 },
    );
  });

  it('payload, DSSE envelope, statement, signature manifest', () => {
    const dsseShaped = fc
      .record({
        payloadType: anyValue,
        payload: anyValue,
        signatures: fc.oneof(anyValue, fc.array(fc.record({ keyid: anyValue, sig: anyValue }))),
      })
      .map((v) => Buffer.from(JSON.stringify(v)));
    const manifestShaped = fc
      .record({
        schemaVersion: fc.oneof(fc.constant(2), anyValue),
        mediaType: anyValue,
        config: anyValue,
        layers: fc.oneof(
          anyValue,
          fc.array(
            fc.record({
              mediaType: anyValue,
              digest: fc.oneof(fc.constant(DIGEST), anyValue),
              size: anyValue,
              annotations: anyValue,
            }),
          ),
        ),
      })
      .map((v) => Buffer.from(JSON.stringify(v)));
    fc.assert(
      fc.property(fc.oneof(jsonish, dsseShaped, manifestShaped), (bytes) => {
        typedOnly(() => parsePayload(bytes, 'p'));
        typedOnly(() => parseDsse(bytes, 'e'));
        typedOnly(() => parseStatement(bytes, 's'));
        typedOnly(() => parseSignatureManifest(bytes, 'm'));
      }),
      { numRuns: 3000 },
    );
  });

  it('trust policy YAML', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc
            .array(
              fc.constantFrom(
                'version: 1',
                'repositories:',
                '  - match: r.example/*',
                '    keys: [a]',
                '  - x',
                '&a [1]',
                '*a',
                ': :',
                '\t',
              ),
              { maxLength: 8 },
            )
            .map((l) => l.join('\n')),
        ),
        (text) => typedOnly(() => parseTrustPolicy(text, 't')),
      ),
      { numRuns: 2000 },
    );
  });
});

describe('fuzz: verification never throws and never passes on hostile signature images', () => {
  it('random manifests and blobs are a verdict, never verified', () => {
    const blobs = fc.array(fc.tuple(fc.constantFrom(DIGEST, digestOf(Buffer.from('x'))), jsonish), { maxLength: 3 });
    fc.assert(
      fc.property(jsonish, blobs, (manifest, entries) => {
        const image: FetchedSignatureImage = {
          found: true,
          tag: 't',
          where: 'w',
          manifest,
          blobs: new Map<string, FetchedBlob>(entries.map(([d, b]) => [d, { ok: true, bytes: b }])),
        };
        expect(verifySignatures(image, { digest: DIGEST, repository: 'r.example/a' }, trusted).verified).toEqual([]);
        expect(verifyAttestations(image, { digest: DIGEST }, trusted).verified).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });

  it('a validly signed payload with any byte changed (and re-hashed into the manifest) does not verify', () => {
    const payload = buildPayload('r.example/a', DIGEST);
    const sig = signBytes(pair.privateKey, payload).toString('base64');
    const imageOf = (bytes: Buffer): FetchedSignatureImage => {
      const next = appendSignatureLayer(
        undefined,
        {
          bytes,
          mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
          annotations: { 'dev.cosignproject.cosign/signature': sig },
        },
        () => false,
      );
      if (!next.added) throw new Error('unreachable');
      return {
        found: true,
        tag: 't',
        where: 'w',
        manifest: next.manifest,
        blobs: new Map([[digestOf(bytes), { ok: true, bytes }]]),
      };
    };
    const expectation = { digest: DIGEST, repository: 'r.example/a' };
    expect(verifySignatures(imageOf(payload), expectation, trusted).verified).toHaveLength(1);
    fc.assert(
      fc.property(fc.nat(payload.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const edited = Buffer.from(payload);
        edited[at] = (edited[at] as number) ^ xor;
        const v = verifySignatures(imageOf(edited), expectation, trusted);
        expect(v.verified).toEqual([]);
        expect(v.failures[0]?.kind).toBe('wrong-key'); // no signer hint on this layer: "another key, or edited"
      }),
      { numRuns: 500 },
    );
  });
});
