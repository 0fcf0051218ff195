import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign as signData,
  verify as verifyData,
} from 'node:crypto';
import { fail, printable } from '../errors.js';
import { openEnvelope, parseEnvelope, sealEnvelope } from './encrypted.js';
import { decodePem, encodePem } from './pem.js';

/** The PEM label cosign writes for private keys since v2, and the one older versions wrote; both are read. */
export const SIGSTORE_PRIVATE_KEY_LABEL = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_PRIVATE_KEY_LABEL = 'ENCRYPTED COSIGN PRIVATE KEY';
const PUBLIC_KEY_LABEL = 'PUBLIC KEY';
/** Key files are a few hundred bytes; anything larger is not a key. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

/** A P-256 key pair (the only kind Portcullis writes or signs with, as cosign's default). */
export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** A fresh ECDSA P-256 key pair. */
export function generateKeyPair(): KeyPair {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function requireP256(key: KeyObject, where: string): void {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    const kind = key.asymmetricKeyType === 'ec' ? `ECDSA ${curve ?? '?'}` : (key.asymmetricKeyType ?? 'unknown');
    fail('KEY_INVALID', `${where}: the key is ${kind}; Portcullis signs and verifies with ECDSA P-256 keys only`);
  }
}

/** The private key as cosign stores it: PKCS#8 DER, sealed with the password, PEM-armoured. */
export async function encryptPrivateKey(key: KeyObject, password: Uint8Array): Promise<string> {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  return encodePem(SIGSTORE_PRIVATE_KEY_LABEL, await sealEnvelope(der, password));
}

/** Read a cosign private key file (either label); KEY_INVALID or KEY_DECRYPT_FAILED otherwise. */
export async function decryptPrivateKey(text: string, password: Uint8Array, where: string): Promise<KeyPair> {
  const block = decodePem(text, where);
  if (block.label !== SIGSTORE_PRIVATE_KEY_LABEL && block.label !== COSIGN_PRIVATE_KEY_LABEL) {
    const hint = block.label.includes('PRIVATE KEY') ? ' (import it first: cosign import-key-pair --key FILE)' : '';
    fail('KEY_INVALID', `${where}: a '${block.label}' PEM block, not an encrypted cosign private key${hint}`);
  }
  const der = await openEnvelope(parseEnvelope(block.bytes, where), password, where);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    fail('KEY_INVALID', `${where}: the decrypted key is not a PKCS#8 private key`);
  }
  requireP256(privateKey, where);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** Read a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) of an ECDSA P-256 key. */
export function parsePublicKey(text: string, where: string): KeyObject {
  const block = decodePem(text, where);
  if (block.label !== PUBLIC_KEY_LABEL) {
    fail('KEY_INVALID', `${where}: a '${printable(block.label, 64)}' PEM block, expected '${PUBLIC_KEY_LABEL}'`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: block.bytes, format: 'der', type: 'spki' });
  } catch {
    fail('KEY_INVALID', `${where}: not a valid SubjectPublicKeyInfo public key`);
  }
  requireP256(key, where);
  return key;
}

/** The public key as PEM `PUBLIC KEY`, as cosign writes it. */
export function publicKeyPem(key: KeyObject): string {
  return encodePem(PUBLIC_KEY_LABEL, key.export({ format: 'der', type: 'spki' }));
}

/** A stable name for a public key in messages: `sha256:` of its SubjectPublicKeyInfo DER. */
export function keyId(key: KeyObject): string {
  return `sha256:${createHash('sha256')
    .update(key.export({ format: 'der', type: 'spki' }))
    .digest('hex')}`;
}

/** ECDSA P-256 over SHA-256 of `data`, as an ASN.1 DER signature (what cosign stores, base64). */
export function signBytes(key: KeyObject, data: Uint8Array): Buffer {
  return signData('sha256', data, { key, dsaEncoding: 'der' });
}

/** True when `sig` is a strict DER `SEQUENCE { INTEGER r, INTEGER s }` (Go's ecdsa.VerifyASN1 form). */
export function isDerEcdsaSignature(sig: Uint8Array): boolean {
  let pos = 0;
  // r and s are at most 33 bytes, so every length fits the short form; DER forbids the long form here.
  const len = (): number => {
    const n = sig[pos++];
    return n === undefined || n >= 0x80 ? -1 : n;
  };
  const integer = (): boolean => {
    if (sig[pos++] !== 0x02) return false;
    const n = len();
    if (n < 1 || n > 33 || pos + n > sig.length) return false;
    const b0 = sig[pos] as number;
    const b1 = sig[pos + 1];
    if (b0 & 0x80) return false; // negative
    if (n > 1 && b0 === 0 && b1 !== undefined && !(b1 & 0x80)) return false; // non-minimal
    pos += n;
    return true;
  };
  if (sig[pos++] !== 0x30) return false;
  const total = len();
  if (total < 0 || pos + total !== sig.length) return false;
  return integer() && integer() && pos === sig.length;
}

/** Verify an ECDSA P-256/SHA-256 DER signature; false for any mismatch or malformed signature. */
export function verifyBytes(key: KeyObject, data: Uint8Array, sig: Uint8Array): boolean {
  if (!isDerEcdsaSignature(sig)) return false;
  try {
    return verifyData('sha256', data, { key, dsaEncoding: 'der' }, sig);
  } catch {
    return false;
  }
}
