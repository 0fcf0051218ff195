import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { sealEnvelope } from '../../src/sign/encrypted.js';
import {
  decryptPrivateKey,
  encryptPrivateKey,
  generateKeyPair,
  isDerEcdsaSignature,
  keyId,
  parsePublicKey,
  publicKeyPem,
  signBytes,
  verifyBytes,
} from '../../src/sign/keys.js';
import { decodePem, encodePem } from '../../src/sign/pem.js';

const PW = Buffer.from('correct horse');

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return err instanceof PortcullisError ? err.code : `untyped: ${String(err)}`;
  }
  return 'no error';
}

async function asyncCodeOf(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
  } catch (err) {
    return err instanceof PortcullisError ? `${err.code}: ${err.message}` : `untyped: ${String(err)}`;
  }
  return 'no error';
}

// biome-ignore lint/suspicious/noExplicitAny: tests edit arbitrary fields of the JSON envelope
type Env = Record<string, any>;

/** Re-armour an envelope after editing its JSON. */
function rewrap(pem: string, edit: (env: Env) => void, label = 'ENCRYPTED SIGSTORE PRIVATE KEY'): string {
  const env = JSON.parse(decodePem(pem, 'k').bytes.toString('utf8'));
  edit(env);
  return encodePem(label, Buffer.from(JSON.stringify(env)));
}

describe("private keys in cosign's encrypted format", () => {
  it('round-trips: the decrypted key signs what the public key verifies', async () => {
    const pair = generateKeyPair();
    const pem = await encryptPrivateKey(pair.privateKey, PW);
    const back = await decryptPrivateKey(pem, PW, 'k.key');
    expect(publicKeyPem(back.publicKey)).toBe(publicKeyPem(pair.publicKey));
    const sig = signBytes(back.privateKey, Buffer.from('payload'));
    expect(verifyBytes(pair.publicKey, Buffer.from('payload'), sig)).toBe(true);
    expect(verifyBytes(pair.publicKey, Buffer.from('payloaD'), sig)).toBe(false);
  });

  it('an empty password works, as cosign allows', async () => {
    const pair = generateKeyPair();
    const pem = await encryptPrivateKey(pair.privateKey, Buffer.alloc(0));
    expect(keyId((await decryptPrivateKey(pem, Buffer.alloc(0), 'k')).publicKey)).toBe(keyId(pair.publicKey));
  });

  it('a wrong password, a flipped ciphertext bit and a changed salt are KEY_DECRYPT_FAILED', async () => {
    const pem = await encryptPrivateKey(generateKeyPair().privateKey, PW);
    expect(await asyncCodeOf(() => decryptPrivateKey(pem, Buffer.from('nope'), 'k.key'))).toMatch(
      /^KEY_DECRYPT_FAILED: k\.key: cannot decrypt the private key: wrong password/,
    );
    const flipped = rewrap(pem, (e) => {
      const ct = Buffer.from(e.ciphertext, 'base64');
      ct[5] = (ct[5] as number) ^ 1;
      e.ciphertext = ct.toString('base64');
    });
    expect(await asyncCodeOf(() => decryptPrivateKey(flipped, PW, 'k'))).toMatch(/^KEY_DECRYPT_FAILED/);
    const salted = rewrap(pem, (e) => {
      e.kdf.salt = Buffer.alloc(32, 7).toString('base64');
    });
    expect(await asyncCodeOf(() => decryptPrivateKey(salted, PW, 'k'))).toMatch(/^KEY_DECRYPT_FAILED/);
  });

  it('refuses scrypt settings outside the three the reference accepts, before running scrypt', async () => {
    const pem = await encryptPrivateKey(generateKeyPair().privateKey, PW);
    for (const params of [
      { N: 1 << 24, r: 8, p: 1 },
      { N: 65536, r: 16, p: 1 },
      { N: 65536, r: 8, p: 4 },
      { N: 1024, r: 8, p: 1 },
    ]) {
      const bad = rewrap(pem, (e) => {
        e.kdf.params = params;
      });
      expect(await asyncCodeOf(() => decryptPrivateKey(bad, PW, 'k'))).toMatch(
        /^KEY_INVALID: k: kdf\.params are not one of/,
      );
    }
  });

  it('names the field of a broken envelope', async () => {
    const pem = await encryptPrivateKey(generateKeyPair().privateKey, PW);
    const cases: [(e: Env) => void, RegExp][] = [
      [(e) => (e.kdf.name = 'argon2'), /kdf\.name must be 'scrypt'/],
      [(e) => (e.cipher.name = 'aes-gcm'), /cipher\.name must be 'nacl\/secretbox'/],
      [(e) => (e.cipher.nonce = Buffer.alloc(12).toString('base64')), /cipher\.nonce must be 24 bytes, not 12/],
      [(e) => (e.ciphertext = 'not base64!'), /ciphertext: not valid base64/],
      [(e) => (e.ciphertext = Buffer.alloc(8).toString('base64')), /shorter than its authentication tag/],
      [(e) => delete e.kdf, /'kdf' is missing/],
    ];
    for (const [edit, msg] of cases) {
      expect(await asyncCodeOf(() => decryptPrivateKey(rewrap(pem, edit), PW, 'k'))).toMatch(msg);
    }
  });

  it('reads the older ENCRYPTED COSIGN PRIVATE KEY label and refuses plain private keys with a hint', async () => {
    const pair = generateKeyPair();
    const pem = await encryptPrivateKey(pair.privateKey, PW);
    const old = pem.replaceAll('SIGSTORE', 'COSIGN');
    expect(keyId((await decryptPrivateKey(old, PW, 'k')).publicKey)).toBe(keyId(pair.publicKey));
    const plain = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect(await asyncCodeOf(() => decryptPrivateKey(plain, PW, 'k'))).toMatch(
      /^KEY_INVALID: k: a 'PRIVATE KEY' PEM block, not an encrypted cosign private key \(import it first/,
    );
  });

  it('refuses keys other than P-256, encrypted or public', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const pem = encodePem(
      'ENCRYPTED SIGSTORE PRIVATE KEY',
      await sealEnvelope(p384.privateKey.export({ format: 'der', type: 'pkcs8' }), PW),
    );
    expect(await asyncCodeOf(() => decryptPrivateKey(pem, PW, 'k'))).toMatch(
      /^KEY_INVALID: k: the key is ECDSA secp384r1/,
    );
    const ed = generateKeyPairSync('ed25519');
    expect(codeOf(() => parsePublicKey(ed.publicKey.export({ format: 'pem', type: 'spki' }) as string, 'p'))).toBe(
      'KEY_INVALID',
    );
    expect(codeOf(() => parsePublicKey(publicKeyPem(p384.publicKey), 'p'))).toBe('KEY_INVALID');
  });
});

describe('PEM and public keys', () => {
  it('reads a PEM block after leading text, and refuses headers, a missing END line and junk base64', () => {
    const pem = publicKeyPem(generateKeyPair().publicKey);
    expect(decodePem(`comment line\n${pem}`, 'p').label).toBe('PUBLIC KEY');
    expect(codeOf(() => decodePem(pem.replace('-----END PUBLIC KEY-----', ''), 'p'))).toBe('KEY_INVALID');
    expect(codeOf(() => decodePem(pem.replace('\n', '\nProc-Type: 4,ENCRYPTED\n'), 'p'))).toBe('KEY_INVALID');
    expect(codeOf(() => decodePem(pem.replace('MFkw', 'M!kw'), 'p'))).toBe('KEY_INVALID');
    expect(codeOf(() => parsePublicKey('no pem here', 'p'))).toBe('KEY_INVALID');
    expect(codeOf(() => parsePublicKey(encodePem('PUBLIC KEY', Buffer.from('garbage')), 'p'))).toBe('KEY_INVALID');
  });

  it('encodes as Go does: 64-character lines and a final newline', () => {
    const pem = encodePem('X', Buffer.alloc(100, 1));
    expect(pem.split('\n').map((l) => l.length)).toEqual([17, 64, 64, 8, 15, 0]);
  });
});

describe('ECDSA DER signatures', () => {
  it('accepts what Node signs and refuses non-DER forms', () => {
    const pair = generateKeyPair();
    for (let i = 0; i < 50; i++) expect(isDerEcdsaSignature(signBytes(pair.privateKey, Buffer.from([i])))).toBe(true);
    const sig = signBytes(pair.privateKey, Buffer.from('x'));
    expect(isDerEcdsaSignature(Buffer.concat([sig, Buffer.from([0])]))).toBe(false); // trailing byte
    expect(isDerEcdsaSignature(sig.subarray(0, sig.length - 1))).toBe(false);
    expect(isDerEcdsaSignature(Buffer.alloc(64, 1))).toBe(false); // raw r||s (IEEE P1363), not DER
    expect(isDerEcdsaSignature(Buffer.from([0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01]))).toBe(false); // negative r
    expect(isDerEcdsaSignature(Buffer.from([0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01]))).toBe(false); // padded
    expect(verifyBytes(pair.publicKey, Buffer.from('x'), Buffer.alloc(64, 1))).toBe(false);
  });
});
