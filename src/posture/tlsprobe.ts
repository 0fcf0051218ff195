import { isIP } from 'node:net';
import { checkServerIdentity, connect, type PeerCertificate, rootCertificates, type TLSSocket } from 'node:tls';
import type { CertFacts, HandshakeFacts, OldProtocolFacts, Outcome, TlsFacts } from './facts.js';

export interface TlsProbeOptions {
  readonly hostname: string;
  readonly port: number;
  /** PEM CAs trusted besides the system roots (--ca-cert, --cert-dir). */
  readonly ca?: readonly string[];
  readonly timeoutMs: number;
}

/** Connection failures that mean nothing listens (or answers) at all, as opposed to a refused handshake. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT']);

interface Attempt {
  readonly socket?: TLSSocket;
  readonly error?: NodeJS.ErrnoException;
  /** A TCP connection was made before the handshake ended. */
  readonly connected: boolean;
}

/** One handshake with a hard deadline; the socket is handed back open so the caller can read it, then destroy it. */
function handshake(o: TlsProbeOptions, extra: { minVersion?: string; maxVersion?: string; ciphers?: string }) {
  return new Promise<Attempt>((resolve) => {
    let connected = false;
    const socket = connect({
      host: o.hostname,
      port: o.port,
      ...(isIP(o.hostname) ? {} : { servername: o.hostname }),
      ...(o.ca?.length ? { ca: [...rootCertificates, ...o.ca] } : {}),
      // The probe reads the chain verdict itself (authorized / authorizationError) and sends no secrets.
      rejectUnauthorized: false,
      ...(extra as object),
    });
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error(`no TLS handshake within ${o.timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, o.timeoutMs);
    socket.once('connect', () => {
      connected = true;
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve({ socket, connected: true });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ error, connected });
    });
  });
}

function iso(s: string): string {
  const t = Date.parse(s);
  return Number.isNaN(t) ? s : new Date(t).toISOString();
}

function certFacts(c: PeerCertificate): CertFacts | undefined {
  if (!c?.valid_to) return undefined;
  const name = (n: unknown) =>
    n && typeof n === 'object'
      ? Object.entries(n as Record<string, unknown>)
          .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
          .join(', ')
      : '';
  return {
    subject: name(c.subject) || '(empty subject)',
    issuer: name(c.issuer) || '(empty issuer)',
    validFrom: iso(c.valid_from),
    validTo: iso(c.valid_to),
    ...(c.subjectaltname ? { subjectAltName: c.subjectaltname } : {}),
    fingerprint256: c.fingerprint256,
  };
}

function describe(e: NodeJS.ErrnoException | undefined): string {
  return `${e?.code ?? 'error'}${e?.message && !e.message.includes(e.code ?? '\0') ? ` (${e.message.split('\n')[0]})` : ''}`;
}

async function oldProtocol(o: TlsProbeOptions, version: 'TLSv1' | 'TLSv1.1'): Promise<OldProtocolFacts> {
  // OpenSSL 3 refuses TLS 1.0/1.1 signatures (SHA-1, MD5-SHA1) above security level 0: the probe must be able to
  // speak the old protocol for the answer to mean anything.
  const a = await handshake(o, { minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' });
  if (a.socket) {
    const got = a.socket.getProtocol();
    a.socket.destroy();
    return { version, accepted: { ok: true, value: got === version } };
  }
  if (!a.connected || a.error?.code === 'ETIMEDOUT')
    return { version, accepted: { ok: false, note: `no answer to a ${version} handshake: ${describe(a.error)}` } };
  // An alert or a hang-up after our ClientHello: the server refused the version (or had no cipher for it).
  return { version, accepted: { ok: true, value: false } };
}

/** Handshake once as a modern client, then once for each deprecated protocol version. */
export async function probeTls(o: TlsProbeOptions): Promise<TlsFacts> {
  const a = await handshake(o, {});
  if (!a.socket) {
    const reachable = a.connected || !UNREACHABLE.has(a.error?.code ?? '');
    return { reachable, handshake: { ok: false, note: describe(a.error) }, oldProtocols: [] };
  }
  const s = a.socket;
  const peer = s.getPeerCertificate();
  const cert = certFacts(peer);
  const authErr = s.authorizationError as unknown;
  const chainError = s.authorized
    ? undefined
    : typeof authErr === 'string'
      ? authErr
      : ((authErr as NodeJS.ErrnoException | undefined)?.code ?? String(authErr));
  const identity = cert ? checkServerIdentity(o.hostname, peer) : undefined;
  const facts: HandshakeFacts = {
    protocol: s.getProtocol() ?? 'unknown',
    cipher: s.getCipher()?.name ?? 'unknown',
    cert,
    ...(chainError ? { chainError } : {}),
    ...(identity ? { hostnameError: identity.message } : {}),
  };
  s.destroy();
  const oldProtocols = [await oldProtocol(o, 'TLSv1'), await oldProtocol(o, 'TLSv1.1')];
  const handshakeOk: Outcome<HandshakeFacts> = { ok: true, value: facts };
  return { reachable: true, handshake: handshakeOk, oldProtocols };
}
