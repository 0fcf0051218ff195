import type { KeyObject } from 'node:crypto';
import { fail } from '../errors.js';
import { goJson } from './gojson.js';
import { signBytes, verifyBytes } from './keys.js';

/**
 * DSSE envelopes (ref: secure-systems-lab/dsse envelope.md and protocol.md): the signature covers
 * PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in bytes as ASCII decimals.
 */
export const DSSE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** One signature of an envelope. */
export interface DsseSignature {
  readonly keyid: string;
  readonly sig: Buffer;
}

/** A parsed envelope: the payload decoded, signatures decoded. */
export interface DsseEnvelope {
  readonly payloadType: string;
  readonly payload: Buffer;
  readonly signatures: readonly DsseSignature[];
}

/** The pre-authentication encoding the signature is made over. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/**
 * Sign `payload` into envelope JSON as cosign writes it. The keyid stays empty, as cosign leaves it: verifiers that
 * compute their own key ids (go-securesystemslib) would skip a signature whose keyid differs from theirs.
 */
export function signEnvelope(key: KeyObject, payloadType: string, payload: Uint8Array): Buffer {
  const sig = signBytes(key, pae(payloadType, payload));
  return Buffer.from(
    goJson({
      payloadType,
      payload: Buffer.from(payload).toString('base64'),
      signatures: [{ keyid: '', sig: sig.toString('base64') }],
    }),
  );
}

/** Standard or URL-safe base64, padded or not (DSSE allows both); undefined when it is neither. */
function decodeAnyBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text) || text.length % 4 === 1) return undefined;
  if (/[+/]/.test(text) && /[-_]/.test(text)) return undefined;
  return Buffer.from(text, /[-_]/.test(text) ? 'base64url' : 'base64');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse envelope JSON; SIGNATURE_MALFORMED naming the field otherwise. */
export function parseEnvelope(bytes: Uint8Array, where: string): DsseEnvelope {
  const bad = (what: string): never => fail('SIGNATURE_MALFORMED', `${where}: ${what}`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return bad('the DSSE envelope is not JSON');
  }
  if (!isObject(doc)) return bad('the DSSE envelope is not a JSON object');
  if (typeof doc.payloadType !== 'string' || doc.payloadType === '') return bad("envelope has no 'payloadType'");
  if (typeof doc.payload !== 'string') return bad("envelope has no 'payload'");
  const payload = decodeAnyBase64(doc.payload) ?? bad('envelope payload is not base64');
  if (!Array.isArray(doc.signatures) || doc.signatures.length === 0) return bad("envelope has no 'signatures'");
  if (doc.signatures.length > 64) return bad(`envelope has ${doc.signatures.length} signatures (at most 64 are read)`);
  const signatures = doc.signatures.map((s, i): DsseSignature => {
    if (!isObject(s) || typeof s.sig !== 'string') return bad(`signatures[${i}] has no 'sig'`);
    if (s.keyid !== undefined && typeof s.keyid !== 'string') return bad(`signatures[${i}].keyid is not a string`);
    const sig = decodeAnyBase64(s.sig) ?? bad(`signatures[${i}].sig is not base64`);
    return { keyid: (s.keyid as string | undefined) ?? '', sig };
  });
  return { payloadType: doc.payloadType, payload, signatures };
}

/** True when any signature of the envelope verifies with `key`. */
export function envelopeVerifies(env: DsseEnvelope, key: KeyObject): boolean {
  const message = pae(env.payloadType, env.payload);
  return env.signatures.some((s) => verifyBytes(key, message, s.sig));
}
