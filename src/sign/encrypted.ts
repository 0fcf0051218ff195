import { randomBytes, scrypt } from 'node:crypto';
import nacl from 'tweetnacl';
import { fail } from '../errors.js';
import { decodeBase64 } from './pem.js';

/**
 * The encrypted-key envelope of go-securesystemslib's `encrypted` package, which cosign and sigstore use for private
 * keys: JSON `{"kdf":{"name":"scrypt","params":{"N","r","p"},"salt"},"cipher":{"name":"nacl/secretbox","nonce"},
 * "ciphertext"}`, byte fields in padded standard base64. The key is scrypt(password, salt, N, r, p, 32 bytes) and the
 * ciphertext is NaCl secretbox (XSalsa20-Poly1305) of the plaintext.
 */

/** The scrypt parameter sets the reference implementation writes and accepts (legacy, standard, OWASP); no others. */
const SCRYPT_PARAMS = [
  { N: 32768, r: 8, p: 1 },
  { N: 65536, r: 8, p: 1 },
  { N: 131072, r: 8, p: 1 },
] as const;
type ScryptParams = (typeof SCRYPT_PARAMS)[number];
/** What cosign writes today ("standard"). */
const DEFAULT_PARAMS: ScryptParams = SCRYPT_PARAMS[1];
const SALT_BYTES = 32;
const KEY_BYTES = nacl.secretbox.keyLength;
const NONCE_BYTES = nacl.secretbox.nonceLength;

/** A parsed envelope, ready to decrypt. */
export interface EncryptedEnvelope {
  readonly params: ScryptParams;
  readonly salt: Buffer;
  readonly nonce: Buffer;
  readonly ciphertext: Buffer;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse and check the JSON envelope; every problem is a KEY_INVALID naming the field. */
export function parseEnvelope(bytes: Uint8Array, where: string): EncryptedEnvelope {
  const bad = (what: string): never => fail('KEY_INVALID', `${where}: ${what}`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    bad('the encrypted key is not JSON');
  }
  if (!isObject(doc)) return bad('the encrypted key is not a JSON object');
  const { kdf, cipher, ciphertext } = doc;
  if (!isObject(kdf)) return bad("'kdf' is missing or not an object");
  if (kdf.name !== 'scrypt') return bad(`kdf.name must be 'scrypt'`);
  const p = kdf.params;
  if (!isObject(p)) return bad("'kdf.params' is missing or not an object");
  const params = SCRYPT_PARAMS.find((s) => s.N === p.N && s.r === p.r && s.p === p.p);
  if (!params) return bad('kdf.params are not one of the supported scrypt settings (N 2^15..2^17, r 8, p 1)');
  const b64 = (v: unknown, field: string): Buffer =>
    typeof v === 'string' ? decodeBase64(v, `${where}: ${field}`) : bad(`'${field}' is missing or not a string`);
  const salt = b64(kdf.salt, 'kdf.salt');
  if (!isObject(cipher)) return bad("'cipher' is missing or not an object");
  if (cipher.name !== 'nacl/secretbox') return bad(`cipher.name must be 'nacl/secretbox'`);
  const nonce = b64(cipher.nonce, 'cipher.nonce');
  if (nonce.length !== NONCE_BYTES) return bad(`cipher.nonce must be ${NONCE_BYTES} bytes, not ${nonce.length}`);
  const ct = b64(ciphertext, 'ciphertext');
  if (ct.length < nacl.secretbox.overheadLength) return bad('ciphertext is shorter than its authentication tag');
  return { params, salt, nonce, ciphertext: ct };
}

function deriveKey(password: Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // 128 * N * r bytes of working memory: 64 MiB for the standard setting, over Node's 32 MiB default cap.
    const maxmem = 128 * params.N * params.r + 1024 * 1024;
    scrypt(password, salt, KEY_BYTES, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Decrypt an envelope; a wrong password and a damaged ciphertext look the same to an AEAD. */
export async function openEnvelope(env: EncryptedEnvelope, password: Uint8Array, where: string): Promise<Buffer> {
  const key = await deriveKey(password, env.salt, env.params);
  const plain = nacl.secretbox.open(env.ciphertext, env.nonce, key);
  if (!plain)
    fail('KEY_DECRYPT_FAILED', `${where}: cannot decrypt the private key: wrong password, or the file is damaged`);
  return Buffer.from(plain);
}

/** Encrypt `plaintext` under `password` into the JSON envelope bytes, with fresh salt and nonce. */
export async function sealEnvelope(plaintext: Uint8Array, password: Uint8Array): Promise<Buffer> {
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const key = await deriveKey(password, salt, DEFAULT_PARAMS);
  const ct = nacl.secretbox(plaintext, nonce, key);
  const doc = {
    kdf: { name: 'scrypt', params: { N: DEFAULT_PARAMS.N, r: DEFAULT_PARAMS.r, p: DEFAULT_PARAMS.p }, salt: b64(salt) },
    cipher: { name: 'nacl/secretbox', nonce: b64(nonce) },
    ciphertext: b64(ct),
  };
  return Buffer.from(JSON.stringify(doc));
}

function b64(b: Uint8Array): string {
  return Buffer.from(b).toString('base64');
}
