import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PortcullisError } from '../errors.js';
import { METRICS_CONTENT_TYPE } from './metrics.js';
import { EVENTS_MEDIA_TYPE, MAX_ENVELOPE_BYTES, type ParsedEnvelope, parseEnvelope } from './notifications.js';

/**
 * The watcher's HTTP edge (node:http): `POST /events` takes distribution's notification envelopes, `GET /metrics`
 * serves Prometheus text, `GET /healthz` says whether the watcher runs. An envelope is parsed, handed over to be
 * queued and answered 200 at once: distribution retries on anything else, so the answer must not wait for a
 * reconcile.
 */

export type RefusalReason = 'unauthorized' | 'malformed' | 'too_large' | 'media_type';

export interface WatchServerOptions {
  readonly host: string;
  readonly port: number;
  /** When set, `POST /events` needs `Authorization: Bearer <secret>`. */
  readonly secret?: string;
  /** A parsed envelope; must only queue the work. */
  readonly onEnvelope: (envelope: ParsedEnvelope) => void;
  /** False once the watcher stops: envelopes get 503 (distribution retries them) rather than 200 and a drop. */
  readonly accepting?: () => boolean;
  readonly onRefused?: (reason: RefusalReason, detail: string) => void;
  readonly metrics: () => string;
  /** 200 when healthy, else 503; the body is JSON. */
  readonly health: () => { readonly ok: boolean; readonly detail: Readonly<Record<string, unknown>> };
}

export interface WatchServer {
  /** host:port actually bound (the port chosen when 0 was asked). */
  readonly address: string;
  close(): Promise<void>;
}

const digestOf = (s: string) => createHash('sha256').update(s).digest();

/** Compare the Authorization header with the expected bearer token in constant time (hashes hide the length). */
export function authorized(header: string | undefined, secret: string | undefined): boolean {
  if (secret === undefined) return true;
  if (header === undefined) return false;
  return timingSafeEqual(digestOf(header), digestOf(`Bearer ${secret}`));
}

function send(res: http.ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

const error = (message: string) => `${JSON.stringify({ error: message })}\n`;

/** Read a request body up to `max` bytes; undefined when it is larger (the rest is not read). */
function readLimited(req: http.IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) return resolve(undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function acceptable(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  return type === EVENTS_MEDIA_TYPE || type === 'application/json';
}

async function handleEvents(req: http.IncomingMessage, res: http.ServerResponse, opts: WatchServerOptions) {
  const refuse = (status: number, reason: RefusalReason, detail: string) => {
    opts.onRefused?.(reason, detail);
    if (status === 413) res.setHeader('connection', 'close');
    send(res, status, error(detail));
  };
  if (!authorized(req.headers.authorization, opts.secret)) {
    res.setHeader('www-authenticate', 'Bearer realm="portcullis-watch"');
    return refuse(401, 'unauthorized', 'a valid Authorization: Bearer header is required');
  }
  if (!acceptable(req.headers['content-type'])) {
    return refuse(415, 'media_type', `content type must be ${EVENTS_MEDIA_TYPE} or application/json`);
  }
  const body = await readLimited(req, MAX_ENVELOPE_BYTES);
  if (body === undefined) return refuse(413, 'too_large', `the envelope is larger than ${MAX_ENVELOPE_BYTES} bytes`);
  let envelope: ParsedEnvelope;
  try {
    envelope = parseEnvelope(body);
  } catch (err) {
    if (!(err instanceof PortcullisError)) throw err;
    return refuse(400, 'malformed', err.message);
  }
  if (opts.accepting && !opts.accepting()) {
    res.setHeader('retry-after', '5');
    return send(res, 503, error('the watcher is stopping; send this envelope again'));
  }
  opts.onEnvelope(envelope);
  send(res, 200, `${JSON.stringify({ accepted: envelope.events.length, ignored: envelope.ignored })}\n`);
}

export function startWatchServer(opts: WatchServerOptions): Promise<WatchServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const route = `${req.method} ${path}`;
    const work = async () => {
      if (route === 'POST /events') return handleEvents(req, res, opts);
      if (route === 'GET /metrics') return send(res, 200, opts.metrics(), METRICS_CONTENT_TYPE);
      if (route === 'GET /healthz') {
        const h = opts.health();
        return send(res, h.ok ? 200 : 503, `${JSON.stringify({ ok: h.ok, ...h.detail })}\n`);
      }
      if (path === '/events' || path === '/metrics' || path === '/healthz') {
        res.setHeader('allow', path === '/events' ? 'POST' : 'GET');
        return send(res, 405, error('method not allowed'));
      }
      send(res, 404, error('not found'));
    };
    work().catch(() => {
      if (!res.headersSent) send(res, 500, error('internal error'));
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      const address = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
      resolve({
        address,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
