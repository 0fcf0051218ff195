import http from 'node:http';
import { freePort } from './registry.js';

/**
 * What the proxy does to one request: pass it on, answer with a status, cut the connection mid-body,
 * flip one byte of the response body (`tamper`), hold the request until a promise settles, or let the
 * registry act on the request and then cut the connection before the client sees the answer.
 */
export type Fault =
  | { kind: 'pass' }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'reset-after'; bytes: number }
  /** Headers and the first `bytes` of the body reach the client (flushed), then the connection closes. */
  | { kind: 'reset-mid-body'; bytes: number }
  | { kind: 'tamper'; offset: number }
  | { kind: 'hold'; until: Promise<unknown> }
  | { kind: 'drop-response' };

/**
 * A loopback HTTP proxy in front of a real registry that injects the faults real registries show
 * under load (429 with Retry-After, 5xx, resets mid-blob). `decide` sees each request in order.
 */
export async function startFaultProxy(upstream: string, decide: (req: http.IncomingMessage, n: number) => Fault) {
  const port = await freePort();
  const log: string[] = [];
  let n = 0;
  const server = http.createServer(async (req, res) => {
    const fault = decide(req, n++);
    log.push(`${req.method} ${req.url} -> ${fault.kind === 'status' ? fault.status : fault.kind}`);
    if (fault.kind === 'status') {
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end(fault.body ?? '{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}');
      return;
    }
    if (fault.kind === 'hold') await fault.until.catch(() => {});
    const up = http.request(
      `http://${upstream}${req.url}`,
      { method: req.method, headers: { ...req.headers, host: upstream } },
      (ur) => {
        if (fault.kind === 'drop-response') {
          ur.destroy();
          res.socket?.destroy();
          return;
        }
        const headers = { ...ur.headers };
        if (typeof headers.location === 'string')
          headers.location = headers.location.replace(upstream, `127.0.0.1:${port}`);
        res.writeHead(ur.statusCode ?? 502, headers);
        if (fault.kind === 'reset-after') {
          let sent = 0;
          ur.on('data', (c: Buffer) => {
            if (sent >= fault.bytes) return;
            const part = c.subarray(0, fault.bytes - sent);
            sent += part.length;
            res.write(part);
            if (sent >= fault.bytes) {
              res.socket?.destroy();
              ur.destroy();
            }
          });
          return;
        }
        if (fault.kind === 'reset-mid-body') {
          // reset-after may cut before the headers leave (destroy drops unflushed writes); this one waits for them.
          let sent = 0;
          ur.on('data', (c: Buffer) => {
            if (sent >= fault.bytes) return;
            const part = c.subarray(0, fault.bytes - sent);
            sent += part.length;
            res.write(part);
            if (sent >= fault.bytes) {
              ur.destroy();
              res.socket?.write('', () => res.socket?.destroy());
            }
          });
          return;
        }
        if (fault.kind === 'tamper') {
          let pos = 0;
          ur.on('data', (c: Buffer) => {
            let out = c;
            if (fault.offset >= pos && fault.offset < pos + c.length) {
              out = Buffer.from(c);
              out[fault.offset - pos] = (out[fault.offset - pos] as number) ^ 0xff;
            }
            pos += c.length;
            res.write(out);
          });
          ur.on('end', () => res.end());
          return;
        }
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    host: `127.0.0.1:${port}`,
    log,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
