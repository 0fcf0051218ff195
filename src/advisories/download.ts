import { createWriteStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import { PortcullisError } from '../errors.js';
import { retryAfterSeconds } from '../oci/registry/client.js';
import {
  classifyNetworkError,
  discard,
  type HttpTransport,
  redactUrl,
  type StreamResponse,
  type TlsSettings,
} from '../oci/registry/http.js';

/**
 * One conditional GET of an advisory feed into a file: verified TLS (plain HTTP only when allowed), the validators
 * of the last download sent back, redirects followed, the body counted against a size limit and its declared
 * length, retries with backoff for 5xx, 429, resets and short bodies.
 */

/** What the last download of a feed said about its content (ref: RFC 9110 section 13.1). */
export interface Validators {
  readonly etag?: string | null;
  readonly lastModified?: string | null;
}

export interface DownloadOptions {
  readonly tls?: TlsSettings;
  /** Allow http: URLs (a mirror on a trusted network); https is required otherwise, redirects included. */
  readonly allowHttp: boolean;
  /** Attempts for retryable failures (default 5). */
  readonly retries: number;
  /** First backoff delay in ms, doubled per attempt with jitter (default 500). */
  readonly backoffMs?: number;
  /** Largest body, as sent and after gzip decoding. */
  readonly maxBytes: number;
  /** Milliseconds without socket activity before an attempt fails (default 60 s). */
  readonly idleTimeoutMs?: number;
  readonly onProgress?: (got: number, total: number | undefined) => void;
}

export type DownloadResult =
  | { readonly kind: 'unchanged' }
  | {
      readonly kind: 'fetched';
      readonly bytes: number;
      readonly etag: string | null;
      readonly lastModified: string | null;
      /** The URL that answered, after redirects. */
      readonly url: URL;
    };

const MAX_REDIRECTS = 5;
/** Longest Retry-After honoured, in seconds. */
const MAX_RETRY_AFTER = 60;
/** A gzip-encoded body may expand this much; JSON gives 10-20. */
const MAX_GZIP_RATIO = 100;

function header(res: StreamResponse, name: string): string | null {
  const v = res.headers[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? (v[0] ?? null) : null;
}

/** Refuse URLs the options do not allow, before any byte is sent. */
export function checkScheme(url: URL, allowHttp: boolean, what: string): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:') {
    if (allowHttp) return;
    throw new PortcullisError(
      'USAGE',
      `${what} ${redactUrl(url)}: plain HTTP is refused; use https, or --allow-http for a mirror on a trusted network`,
    );
  }
  throw new PortcullisError('USAGE', `${what} ${redactUrl(url)}: only https URLs can be downloaded`);
}

/** Counts bytes through, failing past `max` or when `check` objects. */
class Counter extends Transform {
  bytes = 0;
  constructor(
    private readonly max: number,
    private readonly what: string,
    private readonly check?: (bytes: number) => PortcullisError | undefined,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.max) {
      done(new PortcullisError('FEED_ERROR', `${this.what}: more than the ${this.max}-byte download limit`));
      return;
    }
    const err = this.check?.(this.bytes);
    if (err) done(err);
    else done(null, chunk);
  }
}

/**
 * GET `url` into `dest`, conditionally on `validators`. Resolves `unchanged` on 304; any other outcome than a
 * complete 2xx body throws (FEED_ERROR, NETWORK, TLS_FAILED, USAGE), after retrying what is worth retrying.
 */
export async function downloadFeed(
  transport: HttpTransport,
  url: URL,
  dest: string,
  validators: Validators,
  opts: DownloadOptions,
): Promise<DownloadResult> {
  checkScheme(url, opts.allowHttp, 'feed');
  let lastErr: unknown;
  for (let attempt = 1; attempt <= Math.max(1, opts.retries); attempt++) {
    if (attempt > 1) {
      const base = (opts.backoffMs ?? 500) * 2 ** (attempt - 2);
      const after = (lastErr as { retryAfter?: number }).retryAfter;
      await sleep(after !== undefined ? after * 1000 : Math.min(base + Math.random() * base, 30_000));
    }
    try {
      return await attemptOnce(transport, url, dest, validators, opts);
    } catch (err) {
      lastErr = err;
      if (!(err instanceof PortcullisError) || !err.retryable) throw err;
    }
  }
  const e = lastErr as PortcullisError;
  if (opts.retries <= 1) throw e;
  throw new PortcullisError(e.code, `${e.message} (after ${opts.retries} attempts)`, { cause: e });
}

async function attemptOnce(
  transport: HttpTransport,
  start: URL,
  dest: string,
  validators: Validators,
  opts: DownloadOptions,
): Promise<DownloadResult> {
  const headers: Record<string, string> = { accept: '*/*', 'accept-encoding': 'gzip' };
  if (validators.etag) headers['if-none-match'] = validators.etag;
  if (validators.lastModified) headers['if-modified-since'] = validators.lastModified;
  let url = start;
  for (let hop = 0; ; hop++) {
    const res = await transport
      .request(url, { headers, ...(opts.idleTimeoutMs ? { idleTimeoutMs: opts.idleTimeoutMs } : {}) }, opts.tls)
      .catch((err: unknown) => {
        throw feedNetworkError(err, url);
      });
    const where = redactUrl(url);
    if (res.status >= 300 && res.status < 400 && res.status !== 304) {
      discard(res);
      const location = header(res, 'location');
      if (!location || hop >= MAX_REDIRECTS) {
        throw new PortcullisError(
          'FEED_ERROR',
          `${where}: ${res.status} redirect ${location ? 'loop' : 'without a Location'}`,
        );
      }
      const next = new URL(location, url);
      // A redirect must not downgrade a verified download to plain HTTP (--allow-http is for mirrors given as http).
      checkScheme(next, opts.allowHttp && url.protocol === 'http:', `redirect from ${where} to`);
      url = next;
      continue;
    }
    if (res.status === 304) {
      discard(res);
      if (!validators.etag && !validators.lastModified) {
        throw new PortcullisError('FEED_ERROR', `${where}: 304 Not Modified to an unconditional request`);
      }
      return { kind: 'unchanged' };
    }
    if (res.status < 200 || res.status >= 300) {
      discard(res);
      const retryable = res.status === 429 || res.status >= 500;
      const err = new PortcullisError('FEED_ERROR', `${where}: HTTP ${res.status}`, { retryable });
      const after = retryAfterSeconds(res.headers['retry-after']);
      if (retryable && after !== undefined) {
        if (after > MAX_RETRY_AFTER)
          throw new PortcullisError('FEED_ERROR', `${where}: HTTP ${res.status}, retry after ${after} s`);
        throw Object.assign(err, { retryAfter: after });
      }
      throw err;
    }
    return saveBody(res, url, dest, opts);
  }
}

async function saveBody(res: StreamResponse, url: URL, dest: string, opts: DownloadOptions): Promise<DownloadResult> {
  const where = redactUrl(url);
  const declared = header(res, 'content-length');
  const total = declared !== null && /^\d+$/.test(declared) ? Number(declared) : undefined;
  if (total !== undefined && total > opts.maxBytes) {
    res.body.destroy();
    throw new PortcullisError('FEED_ERROR', `${where}: ${total} bytes, over the ${opts.maxBytes}-byte download limit`);
  }
  const encoding = (header(res, 'content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip') {
    res.body.destroy();
    throw new PortcullisError('FEED_ERROR', `${where}: unsupported content-encoding '${encoding}'`);
  }
  const sent = new Counter(opts.maxBytes, where, (n) => {
    opts.onProgress?.(n, total);
    return undefined;
  });
  let decoded: Counter | undefined;
  if (encoding === 'gzip') {
    // Decoded bytes are bounded too, absolutely and relative to what was sent (a gzip bomb).
    decoded = new Counter(opts.maxBytes, `${where} (decoded)`, (n) =>
      n > 1024 * 1024 && n > MAX_GZIP_RATIO * sent.bytes
        ? new PortcullisError(
            'DECOMPRESSION_BOMB',
            `${where}: gzip body inflates to more than ${MAX_GZIP_RATIO} times its size; refusing it`,
          )
        : undefined,
    );
  }
  try {
    const out = createWriteStream(dest);
    if (decoded) await pipeline(res.body, sent, createGunzip(), decoded, out);
    else await pipeline(res.body, sent, out);
  } catch (err) {
    if (err instanceof PortcullisError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') {
      throw new PortcullisError('FEED_ERROR', `${where}: damaged gzip body (${(err as Error).message})`, {
        retryable: true,
      });
    }
    if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || (err as Error).message === 'aborted') {
      throw new PortcullisError(
        'FEED_ERROR',
        `${where}: connection closed after ${sent.bytes} bytes${total !== undefined ? ` of ${total}` : ''} (truncated body)`,
        { retryable: true, cause: err },
      );
    }
    throw feedNetworkError(err, url);
  }
  if (total !== undefined && sent.bytes !== total) {
    throw new PortcullisError(
      'FEED_ERROR',
      `${where}: body has ${sent.bytes} bytes, Content-Length says ${total} (truncated)`,
      {
        retryable: true,
      },
    );
  }
  return {
    kind: 'fetched',
    bytes: decoded?.bytes ?? sent.bytes,
    etag: header(res, 'etag'),
    lastModified: header(res, 'last-modified'),
    url,
  };
}

/** The registry client's classification, with hints about feed options rather than registry ones. */
function feedNetworkError(err: unknown, url: URL): PortcullisError {
  const e = classifyNetworkError(err, url);
  if (e.code !== 'TLS_FAILED') return e;
  const plain = /does not speak TLS/.test(e.message);
  const message = e.message.replace(/ \(the server does not speak TLS;.*\)$/, '');
  const hint = plain
    ? ' (the server does not speak TLS: for a plain-HTTP mirror give an http:// URL and --allow-http)'
    : ' (trust a private mirror CA with --ca-cert)';
  return new PortcullisError('TLS_FAILED', message + hint, { cause: err });
}
