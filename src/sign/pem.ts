import { fail, printable } from '../errors.js';

/** One PEM block: its label (`PUBLIC KEY`, `ENCRYPTED SIGSTORE PRIVATE KEY`, ...) and the decoded bytes. */
export interface PemBlock {
  readonly label: string;
  readonly bytes: Buffer;
}

const BEGIN = /-----BEGIN ([A-Z0-9 ]{1,64})-----\r?\n/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict standard base64 (RFC 4648 §4, padded): Node's decoder skips junk, so check first. */
export function decodeBase64(text: string, where: string): Buffer {
  if (text.length % 4 !== 0 || !B64.test(text)) fail('KEY_INVALID', `${where}: not valid base64`);
  return Buffer.from(text, 'base64');
}

/**
 * The first PEM block of a file (ref: RFC 7468): text before it is ignored, as Go's pem.Decode does, but the block
 * itself must be well formed: no RFC 1421 headers, base64 lines only, an END line with the same label.
 */
export function decodePem(text: string, where: string): PemBlock {
  const m = BEGIN.exec(text);
  if (!m) fail('KEY_INVALID', `${where}: no PEM block (-----BEGIN ...-----) found`);
  const label = m[1] as string;
  const start = m.index + m[0].length;
  const endMarker = `-----END ${label}-----`;
  const end = text.indexOf(endMarker, start);
  if (end < 0) fail('KEY_INVALID', `${where}: PEM block '${label}' has no matching END line`);
  const lines = text
    .slice(start, end)
    .split(/\r?\n/)
    .filter((l) => l.length > 0);
  if (lines.some((l) => l.includes(':')))
    fail('KEY_INVALID', `${where}: PEM block '${label}' has headers, which keys never carry`);
  const body = lines.join('').replace(/[ \t]/g, '');
  if (body.length === 0) fail('KEY_INVALID', `${where}: PEM block '${label}' is empty`);
  return { label, bytes: decodeBase64(body, `${where}: PEM block '${printable(label, 64)}'`) };
}

/** PEM text as Go's pem.EncodeToMemory writes it: 64-character lines, a trailing newline. */
export function encodePem(label: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
