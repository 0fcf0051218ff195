import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { gzipSync } from 'node:zlib';
import { freePort, type TestPki } from './registry.js';

/** One file the server holds, with the validators a static file server (or GCS) sends for it. */
export interface FeedFile {
  body: Buffer;
  etag?: string;
  lastModified?: string;
  /** Send it gzip-encoded to clients that accept gzip (as web servers do for JSON). */
  gzip?: boolean;
}

/** What the server does to one request instead of answering it normally. */
export type FeedFault =
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  /** Declare the full Content-Length, send this many bytes, then cut the connection. */
  | { kind: 'truncate'; bytes: number };

/** One request as the server saw it. */
export interface FeedRequest {
  readonly path: string;
  readonly ifNoneMatch: string | undefined;
  readonly ifModifiedSince: string | undefined;
  readonly status: number;
}

export interface FeedServer {
  /** `https://127.0.0.1:PORT` (or http without a PKI). */
  readonly url: string;
  readonly files: Map<string, FeedFile>;
  readonly requests: FeedRequest[];
  /** Decide a fault for a request (undefined: serve it); `n` counts requests for this path. */
  fault: (path: string, n: number) => FeedFault | undefined;
  stop(): Promise<void>;
}

/** If-None-Match against an entity tag, weak comparison (ref: RFC 9110 sections 8.8.3.2 and 13.1.2). */
function noneMatch(header: string, etag: string): boolean {
  const opaque = (t: string): string => t.trim().replace(/^W\//, '');
  return header.trim() === '*' || header.split(',').some((t) => opaque(t) === opaque(etag));
}

/**
 * A static file server on 127.0.0.1 that answers like a mirror or Cloud Storage does: ETag and Last-Modified on
 * every 200, 304 for a matching If-None-Match (or, without one, an If-Modified-Since not older than the file),
 * optional gzip content-encoding, and injected faults (5xx, truncated bodies) that a real server shows under load.
 */
export async function startFeedServer(pki?: TestPki): Promise<FeedServer> {
  const port = await freePort();
  const files = new Map<string, FeedFile>();
  const requests: FeedRequest[] = [];
  const counts = new Map<string, number>();
  const state: { fault: FeedServer['fault'] } = { fault: () => undefined };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://feed.invalid').pathname;
    const n = counts.get(path) ?? 0;
    counts.set(path, n + 1);
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    const log = (status: number): void => {
      requests.push({ path, ifNoneMatch: inm, ifModifiedSince: ims, status });
    };
    const fault = state.fault(path, n);
    if (fault?.kind === 'status') {
      log(fault.status);
      res.writeHead(fault.status, { 'content-type': 'text/plain', ...fault.headers });
      res.end(`injected ${fault.status}\n`);
      return;
    }
    const file = files.get(path);
    if (!file) {
      log(404);
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    const validators: Record<string, string> = {};
    if (file.etag) validators.etag = file.etag;
    if (file.lastModified) validators['last-modified'] = file.lastModified;
    const notModified =
      inm !== undefined
        ? file.etag !== undefined && noneMatch(inm, file.etag)
        : ims !== undefined && file.lastModified !== undefined && Date.parse(file.lastModified) <= Date.parse(ims);
    if (notModified) {
      log(304);
      res.writeHead(304, validators);
      res.end();
      return;
    }
    const gzip = file.gzip === true && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? gzipSync(file.body) : file.body;
    const headers = {
      ...validators,
      'content-length': String(body.length),
      'content-type': 'application/octet-stream',
    };
    log(200);
    res.writeHead(200, gzip ? { ...headers, 'content-encoding': 'gzip' } : headers);
    if (fault?.kind === 'truncate') {
      res.write(body.subarray(0, fault.bytes), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  };

  const server = pki
    ? https.createServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }, handle)
    : http.createServer(handle);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `${pki ? 'https' : 'http'}://127.0.0.1:${port}`,
    files,
    requests,
    get fault() {
      return state.fault;
    },
    set fault(f) {
      state.fault = f;
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
