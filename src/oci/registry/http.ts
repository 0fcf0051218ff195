import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { type ErrorCode, PortcullisError } from '../../errors.js';

/** TLS material for one registry host. */
export interface TlsSettings {
  /** PEM CA certificates trusted in addition to the system roots. */
  readonly ca?: readonly string[];
  /** PEM client certificate and key (mutual TLS, from a certs.d directory). */
  readonly cert?: string;
  readonly key?: string;
}

/** A response whose body is still a stream. */
export interface StreamResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly url: URL;
  readonly body: IncomingMessage;
}

export interface RequestOptions {
  readonly method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly headers?: Record<string, string>;
  /** Sent whole; a Buffer body may be resent by a retry, so it is never a stream. */
  readonly body?: string | Uint8Array;
  /** Milliseconds without any socket activity before the request fails (default 60 s). */
  readonly idleTimeoutMs?: number;
}

const USER_AGENT = 'portcullis/0.1';

/** Redact credentials and query strings (tokens, signed URLs) from a URL for messages. */
export function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}${url.search ? '?…' : ''}`;
}

/**
 * Secure contexts by TLS material, for the whole process: a context with a private CA parses Node's ~150 roots again
 * (about 30 ms), and a gate opens several clients (the source, the registries it copies between, verification).
 */
const secureContexts = new Map<string, SecureContext>();

function secureContextFor(tls: TlsSettings | undefined): SecureContext {
  const key = JSON.stringify([tls?.ca ?? [], tls?.cert ?? '', tls?.key ?? '']);
  let context = secureContexts.get(key);
  if (!context) {
    const base = {
      minVersion: 'TLSv1.2',
      ...(tls?.cert ? { cert: tls.cert } : {}),
      ...(tls?.key ? { key: tls.key } : {}),
    } as const;
    context = createSecureContext(base);
    if (tls?.ca?.length) {
      // Trust the given CAs in addition to the system roots. Node's `ca` option replaces the roots instead, and
      // adding them back that way parses ~150 PEM roots (30-90 ms); the context's own addCACert (what `ca` calls
      // underneath) copies the parsed store. Where it is missing, the roots are given back as PEM.
      const native = (context as unknown as { context?: { addCACert?: (pem: string) => void } }).context;
      if (typeof native?.addCACert === 'function') {
        for (const pem of tls.ca) native.addCACert(pem);
      } else {
        context = createSecureContext({ ...base, ca: [...rootCertificates, ...tls.ca] });
      }
    }
    secureContexts.set(key, context);
  }
  return context;
}

/** One HTTP(S) agent per host and TLS setting, so connections are reused across requests. */
export class HttpTransport {
  private readonly agents = new Map<string, http.Agent>();

  agentFor(url: URL, tls: TlsSettings | undefined): http.Agent {
    const key = `${url.protocol}//${url.host}`;
    let agent = this.agents.get(key);
    if (!agent) {
      if (url.protocol === 'https:') {
        // The context is shared: given as options instead, Node parses the ~150 roots again for every connection.
        const secureContext = secureContextFor(tls);
        agent = new https.Agent({
          keepAlive: true,
          maxSockets: 8,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
          secureContext,
        });
      } else {
        agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
      }
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** Send one request (no redirects, no retries) and resolve once headers arrive. */
  request(url: URL, opts: RequestOptions, tls: TlsSettings | undefined): Promise<StreamResponse> {
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      let req: http.ClientRequest;
      try {
        req = mod.request(
          url,
          {
            method: opts.method ?? 'GET',
            agent: this.agentFor(url, tls),
            headers: { 'user-agent': USER_AGENT, ...bodyLength(opts), ...opts.headers },
          },
          (res) => {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, url, body: res });
          },
        );
      } catch (err) {
        // Invalid header values (from a hostile token service or redirect) throw synchronously.
        reject(
          new PortcullisError(
            'REGISTRY_ERROR',
            `${redactUrl(url)}: cannot send the request (${(err as Error).message})`,
          ),
        );
        return;
      }
      req.setTimeout(opts.idleTimeoutMs ?? 60_000, () => {
        req.destroy(Object.assign(new Error('no response within the idle timeout'), { code: 'ETIMEDOUT' }));
      });
      req.on('error', (err) => reject(classifyNetworkError(err, url)));
      req.end(opts.body);
    });
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}

/** Requests that carry a body (or may, like an empty PUT) say how long it is: no chunked encoding for registries. */
function bodyLength(opts: RequestOptions): Record<string, string> {
  const m = opts.method ?? 'GET';
  if (opts.body === undefined && m !== 'POST' && m !== 'PUT' && m !== 'PATCH') return {};
  const n =
    opts.body === undefined ? 0 : typeof opts.body === 'string' ? Buffer.byteLength(opts.body) : opts.body.length;
  return { 'content-length': String(n) };
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'EPROTO',
]);

/** Turn a socket-level error into a typed one: TLS problems are not retried, resets and timeouts are. */
export function classifyNetworkError(err: unknown, url: URL): PortcullisError {
  if (err instanceof PortcullisError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? '';
  const where = redactUrl(url);
  if (TLS_CODES.has(code) || /ssl|tls|certificate/i.test(e?.message ?? '')) {
    const hint = /wrong version number|packet length too long|http request/i.test(e?.message ?? '')
      ? ' (the server does not speak TLS; for a trusted plain-HTTP registry use --insecure-registry)'
      : '';
    return new PortcullisError('TLS_FAILED', `${where}: TLS verification failed: ${code || e?.message}${hint}`, {
      cause: err,
    });
  }
  return new PortcullisError(
    'NETWORK',
    `${where}: ${code || 'network error'}${e?.message && !e.message.includes(code) ? ` (${e.message})` : ''}`,
    {
      cause: err,
      retryable: true,
    },
  );
}

/**
 * Read a whole body, refusing more than `max` bytes (Content-Length is checked first) with `tooLarge`. A body
 * cut short is a retryable NETWORK error; a size breach is not.
 */
export async function readBody(
  res: StreamResponse,
  max: number,
  what: string,
  tooLarge: ErrorCode = 'MANIFEST_TOO_LARGE',
): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    res.body.destroy();
    throw new PortcullisError(tooLarge, `${what}: ${declared} bytes, over the ${max}-byte limit`);
  }
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of res.body as Readable) {
      got += (chunk as Buffer).length;
      if (got > max) {
        res.body.destroy();
        throw new PortcullisError(tooLarge, `${what}: more than the ${max}-byte limit`);
      }
      parts.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof PortcullisError) throw err;
    const code = (err as NodeJS.ErrnoException)?.code ?? 'network error';
    const of = Number.isFinite(declared) ? ` of ${declared}` : '';
    throw new PortcullisError(
      'NETWORK',
      `${redactUrl(res.url)}: the body broke off after ${got}${of} bytes (${code})`,
      { cause: err, retryable: true },
    );
  }
  return Buffer.concat(parts, got);
}

/** Drain and discard a body so the connection can be reused (bounded: large bodies just close it). */
export function discard(res: StreamResponse): void {
  const len = Number(res.headers['content-length']);
  if (Number.isFinite(len) && len < 64 * 1024) res.body.resume();
  else res.body.destroy();
}
