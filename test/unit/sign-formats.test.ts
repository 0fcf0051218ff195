import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { buildStatement, parseStatement, predicateTypeOf, subjectMatches } from '../../src/sign/attestation.js';
import { envelopeVerifies, pae, parseEnvelope, signEnvelope } from '../../src/sign/dsse.js';
import { goJson, sortKeys } from '../../src/sign/gojson.js';
import { generateKeyPair } from '../../src/sign/keys.js';
import { buildPayload, normalizeRepository, parsePayload } from '../../src/sign/payload.js';
import { appendSignatureLayer, buildSignatureManifest, signatureTag } from '../../src/sign/sigimage.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return err instanceof PortcullisError ? `${err.code}: ${err.message}` : `untyped: ${String(err)}`;
  }
  return 'no error';
}

describe('simple-signing payload (cosign SIGNATURE_SPEC)', () => {
  it('is the exact bytes Go writes: struct order, optional null without annotations', () => {
    expect(buildPayload('registry.example/team/app', DIGEST).toString()).toBe(
      `{"critical":{"identity":{"docker-reference":"registry.example/team/app"},"image":{"docker-manifest-digest":"${DIGEST}"},"type":"cosign container image signature"},"optional":null}`,
    );
  });

  it('sorts optional keys by UTF-8 bytes and escapes <, >, & and U+2028 as Go does', () => {
    const p = buildPayload('r.example/a', DIGEST, { z: '1', b: 'x<y>&z\u2028', é: 'e', Z: '0' });
    expect(p.toString()).toContain('"optional":{"Z":"0","b":"x\\u003cy\\u003e\\u0026z\\u2028","z":"1","é":"e"}');
    expect(parsePayload(p, 'p').optional).toEqual({ z: '1', b: 'x<y>&z\u2028', é: 'e', Z: '0' });
  });

  it('parses claims and names what is missing', () => {
    expect(parsePayload(buildPayload('r.example/a', DIGEST), 'p')).toEqual({
      dockerReference: 'r.example/a',
      digest: DIGEST,
      optional: null,
    });
    expect(
      codeOf(() => parsePayload(Buffer.from('{"critical":{"type":"atomic container signature"}}'), 'sig 1')),
    ).toMatch(/^SIGNATURE_MALFORMED: sig 1: critical\.type is 'atomic container signature'/);
    expect(codeOf(() => parsePayload(Buffer.from('[]'), 'p'))).toMatch(/not a JSON object/);
    expect(
      codeOf(() =>
        parsePayload(Buffer.from('{"critical":{"type":"cosign container image signature","identity":{}}}'), 'p'),
      ),
    ).toMatch(/docker-reference is missing/);
  });

  it('names repositories as go-containerregistry does (Docker Hub as index.docker.io) and refuses tags', () => {
    expect(normalizeRepository('debian')).toBe('index.docker.io/library/debian');
    expect(normalizeRepository('docker.io/library/debian')).toBe('index.docker.io/library/debian');
    expect(normalizeRepository('127.0.0.1:5000/team/app')).toBe('127.0.0.1:5000/team/app');
    expect(codeOf(() => normalizeRepository('127.0.0.1:5000/team/app:1.0'))).toMatch(/^BAD_REFERENCE/);
    expect(codeOf(() => normalizeRepository('r.example/app@sha256:abc'))).toMatch(/^BAD_REFERENCE/);
    expect(codeOf(() => normalizeRepository('R.example/UPPER'))).toMatch(/^BAD_REFERENCE/);
  });
});

describe('Go JSON', () => {
  it('keeps given key order, sorts maps deeply', () => {
    expect(goJson(sortKeys({ b: { d: 1, c: [{ y: 1, x: 2 }] }, a: null }))).toBe(
      '{"a":null,"b":{"c":[{"x":2,"y":1}],"d":1}}',
    );
  });
});

describe('DSSE', () => {
  it('PAE is the spec encoding (DSSE protocol.md example)', () => {
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    );
    // Lengths are in bytes, not characters.
    expect(pae('t', Buffer.from('é')).toString()).toBe('DSSEv1 1 t 2 é');
  });

  it('signs and verifies, over PAE (not the bare payload), with an empty keyid as cosign writes', () => {
    const pair = generateKeyPair();
    const bytes = signEnvelope(pair.privateKey, 'application/vnd.in-toto+json', Buffer.from('{"a":1}'));
    const doc = JSON.parse(bytes.toString());
    expect(Object.keys(doc)).toEqual(['payloadType', 'payload', 'signatures']);
    expect(doc.signatures[0].keyid).toBe('');
    const env = parseEnvelope(bytes, 'e');
    expect(envelopeVerifies(env, pair.publicKey)).toBe(true);
    expect(envelopeVerifies({ ...env, payloadType: 'application/json' }, pair.publicKey)).toBe(false);
    expect(envelopeVerifies(env, generateKeyPair().publicKey)).toBe(false);
  });

  it('reads URL-safe and unpadded base64, as DSSE allows', () => {
    const pair = generateKeyPair();
    const doc = JSON.parse(signEnvelope(pair.privateKey, 't', Buffer.from([0xfb, 0xff, 0xfe])).toString());
    doc.payload = Buffer.from(doc.payload, 'base64').toString('base64url');
    doc.signatures[0].sig = Buffer.from(doc.signatures[0].sig, 'base64').toString('base64url');
    expect(envelopeVerifies(parseEnvelope(Buffer.from(JSON.stringify(doc)), 'e'), pair.publicKey)).toBe(true);
  });

  it('names the broken field', () => {
    expect(
      codeOf(() => parseEnvelope(Buffer.from('{"payloadType":"t","payload":"e30=","signatures":[]}'), 'att 1')),
    ).toMatch(/^SIGNATURE_MALFORMED: att 1: envelope has no 'signatures'/);
    expect(
      codeOf(() => parseEnvelope(Buffer.from('{"payloadType":"t","payload":"*","signatures":[{"sig":"AA=="}]}'), 'e')),
    ).toMatch(/payload is not base64/);
  });
});

describe('in-toto statements', () => {
  it('builds a v1 statement with the repository as subject name and the digest by algorithm', () => {
    const s = buildStatement('r.example/a', DIGEST, predicateTypeOf('assessment'), { decision: 'PASS' });
    expect(JSON.parse(s.toString())).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'r.example/a', digest: { sha256: 'ab'.repeat(32) } }],
      predicateType: 'https://portcullis.dev/attestation/assessment/v1',
      predicate: { decision: 'PASS' },
    });
    const parsed = parseStatement(s, 's');
    expect(subjectMatches(parsed, DIGEST)).toBe(true);
    expect(subjectMatches(parsed, `sha256:${'cd'.repeat(32)}`)).toBe(false);
    expect(subjectMatches(parsed, `sha512:${'ab'.repeat(32)}`)).toBe(false);
  });

  it('reads v0.1 statements (cosign 2 writes them) and refuses other types', () => {
    const v01 = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v0.1',
        subject: [{ name: 'x', digest: { sha256: 'ab' } }],
        predicateType: 'p',
      }),
    );
    expect(parseStatement(v01, 's').type).toBe('https://in-toto.io/Statement/v0.1');
    expect(codeOf(() => parseStatement(Buffer.from('{"_type":"https://example/other"}'), 's'))).toMatch(
      /is not an in-toto Statement/,
    );
  });

  it('maps short types and accepts URIs only otherwise', () => {
    expect(predicateTypeOf('cyclonedx')).toBe('https://cyclonedx.org/bom');
    expect(predicateTypeOf('https://slsa.dev/provenance/v1')).toBe('https://slsa.dev/provenance/v1');
    expect(codeOf(() => predicateTypeOf('spdx'))).toMatch(/^USAGE: attestation type 'spdx' is neither/);
  });
});

describe('signature images', () => {
  const layer = (n: number) => ({
    bytes: Buffer.from(`payload ${n}`),
    mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    annotations: { 'dev.cosignproject.cosign/signature': `sig${n}` },
  });

  it('tags by digest as the spec says', () => {
    expect(signatureTag(DIGEST, 'sig')).toBe(`sha256-${'ab'.repeat(32)}.sig`);
    expect(signatureTag(DIGEST, 'att')).toBe(`sha256-${'ab'.repeat(32)}.att`);
  });

  it('builds an OCI manifest whose config lists each layer digest as a diff_id', () => {
    const first = appendSignatureLayer(undefined, layer(1), () => false);
    if (!first.added) throw new Error('expected a new image');
    const m = JSON.parse(first.manifest.toString());
    expect(m.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(m.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
    expect(m.layers).toHaveLength(1);
    const config = JSON.parse((first.blobs[1] as Buffer).toString());
    expect(config.rootfs.diff_ids).toEqual([m.layers[0].digest]);
  });

  it('appends, skips a duplicate, and replaces selected layers', () => {
    const first = appendSignatureLayer(undefined, layer(1), () => false);
    if (!first.added) throw new Error('expected a new image');
    const existing = { kind: 'image' as const, mediaType: 'x', config: first.layers[0] as never, layers: first.layers };
    const second = appendSignatureLayer(existing, layer(2), () => false);
    expect(second.added && second.layers.map((l) => l.annotations?.['dev.cosignproject.cosign/signature'])).toEqual([
      'sig1',
      'sig2',
    ]);
    expect(appendSignatureLayer(existing, layer(2), () => true)).toEqual({ added: false });
    const replaced = appendSignatureLayer(
      existing,
      layer(3),
      () => false,
      () => true,
    );
    expect(replaced.added && replaced.layers.length).toBe(1);
    expect(buildSignatureManifest([]).manifest.toString()).toContain('"layers":[]');
  });
});
