/**
 * `k8s webhook serve`: the HTTPS edge (node:https, TLS 1.2+). POST /validate (and /mutate when enabled) answer
 * AdmissionReview v1; GET /healthz says the process is up. Fail closed: in enforce mode nothing but a passing decision
 * is admitted; a body that is no review gets a 4xx (the API server then applies failurePolicy Fail), a request that
 * cannot be decided in time or hits a bug is denied.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import { oneLine, printable } from '../../errors.js';
import { type AdmitContext, type Decision, decide, numbered, resolvePatch } from './admit.js';
import { type AdmissionAnswer, parseAdmissionReview, reviewResponse } from './review.js';

export type WebhookMode = 'enforce' | 'audit';

export interface WebhookOptions {
  readonly ctx: AdmitContext;
  readonly mode: WebhookMode;
  /** Serve /mutate (tag-to-digest resolution). */
  readonly mutate: boolean;
  /** Larger bodies are refused with 413 (default 4 MiB: the API server's own object limit is about 3 MiB). */
  readonly maxBodyBytes?: number;
  /** A decision not made by then is a denial (default 8 s, under the configuration's timeoutSeconds of 10). */
  readonly decisionTimeoutMs?: number;
  /** One JSON object per decision and per refused body. */
  readonly log?: (entry: Record<string, unknown>) => void;
}

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
export const DEFAULT_DECISION_TIMEOUT_MS = 8000;

/** An HTTP answer: status and JSON body. */
export interface HttpAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const ANNOTATION_DECISION = 'decision';
const ANNOTATION_REASONS = 'reasons';

/** The decision as the mode answers it. */
export function answerFor(d: Decision, mode: WebhookMode): AdmissionAnswer {
  if (d.pass) {
    return {
      allowed: true,
      ...(d.notes.length > 0 ? { message: `portcullis: ${d.subject}: ${d.notes.join('; ')}` } : {}),
    };
  }
  const listed = `${d.reasons.length} reason${d.reasons.length === 1 ? '' : 's'}: ${numbered(d.reasons)}`;
  if (mode === 'audit') {
    return {
      allowed: true,
      message: `portcullis (audit mode): ${d.subject} would be denied: ${listed}`,
      warnings: d.reasons.map((r) => `portcullis audit: would deny: ${r}`),
      auditAnnotations: { [ANNOTATION_DECISION]: 'would-deny', [ANNOTATION_REASONS]: numbered(d.reasons) },
    };
  }
  return {
    allowed: false,
    message: `portcullis denied ${d.subject}: ${listed}`,
    auditAnnotations: { [ANNOTATION_DECISION]: 'deny', [ANNOTATION_REASONS]: numbered(d.reasons) },
  };
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Answer one body for `/validate` or `/mutate`; never throws. */
export async function handleReview(
  body: Buffer,
  path: '/validate' | '/mutate',
  opts: WebhookOptions,
): Promise<HttpAnswer> {
  const parsed = parseAdmissionReview(body);
  if (!parsed.ok) {
    opts.log?.({ event: 'refused', path, status: 400, message: parsed.message });
    return { status: 400, body: { error: `not an AdmissionReview v1: ${parsed.message}` } };
  }
  const req = parsed.request;
  const started = process.hrtime.bigint();
  let decision: Decision;
  let patch: Awaited<ReturnType<typeof resolvePatch>>['patch'] = [];
  try {
    const work =
      path === '/mutate'
        ? resolvePatch(req, opts.ctx)
        : decide(req, opts.ctx).then((decision) => ({ decision, patch: [] }));
    const r = await withDeadline(work, opts.decisionTimeoutMs ?? DEFAULT_DECISION_TIMEOUT_MS);
    if (r === 'timeout') {
      work.catch(() => {}); // settles later; nothing waits for it
      decision = {
        pass: path === '/mutate',
        subject: printable(`${req.kind.kind} ${req.namespace ?? ''}/${req.name ?? ''}`, 300),
        reasons: path === '/mutate' ? [] : ['the checks did not finish in time (registry slow or unreachable)'],
        notes: path === '/mutate' ? ['tag resolution did not finish in time; left as it is'] : [],
      };
    } else {
      decision = r.decision;
      patch = r.patch;
    }
  } catch (err) {
    // A bug, not a verdict: deny (enforce) and say so; never an accidental allow.
    opts.log?.({ event: 'error', uid: req.uid, message: oneLine(err) });
    decision = {
      pass: false,
      subject: printable(`${req.kind.kind} ${req.namespace ?? ''}/${req.name ?? ''}`, 300),
      reasons: [`internal error: ${printable(oneLine(err), 300)}`],
      notes: [],
    };
  }
  const answer = answerFor(decision, opts.mode);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  opts.log?.({
    event: 'decision',
    path,
    uid: req.uid,
    operation: req.operation,
    subject: decision.subject,
    allowed: answer.allowed,
    ...(decision.reasons.length > 0 ? { reasons: decision.reasons } : {}),
    ...(patch.length > 0 ? { patched: patch.length } : {}),
    ms: Math.round(ms * 100) / 100,
  });
  return { status: 200, body: reviewResponse(req.uid, { ...answer, ...(patch.length > 0 ? { patch } : {}) }) };
}

function send(res: ServerResponse, status: number, body: Record<string, unknown> | string): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Read the body, at most `max` bytes; undefined (and 413 sent) when it is larger. */
function readBody(req: IncomingMessage, res: ServerResponse, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      send(res, 413, { error: `body of ${declared} bytes is over the limit of ${max}` });
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        res.setHeader('connection', 'close');
        send(res, 413, { error: `body over the limit of ${max} bytes` });
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', () => resolve(undefined));
  });
}

/** The HTTPS server; `listen` it yourself. */
export function createWebhookServer(tls: { cert: string | Buffer; key: string | Buffer }, opts: WebhookOptions) {
  const max = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const server = https.createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, (req, res) => {
    void route(req, res).catch((err: unknown) => {
      opts.log?.({ event: 'error', message: oneLine(err) });
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  // Slow or stalled clients cannot hold sockets for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 30_000;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The API server appends ?timeout=10s; only the path routes.
    const path = new URL(req.url ?? '/', 'https://webhook').pathname;
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'GET /healthz' });
      return send(res, 200, 'ok\n');
    }
    if (path !== '/validate' && !(path === '/mutate' && opts.mutate)) {
      req.resume();
      return send(res, 404, { error: `no such endpoint: ${printable(path, 100)}` });
    }
    if (req.method !== 'POST') {
      req.resume();
      return send(res, 405, { error: `POST ${path}` });
    }
    const type = String(req.headers['content-type'] ?? '');
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      req.resume();
      return send(res, 415, { error: 'the body must be application/json' });
    }
    const body = await readBody(req, res, max);
    if (!body) {
      opts.log?.({ event: 'refused', path, status: 413 });
      return;
    }
    const a = await handleReview(body, path, opts);
    send(res, a.status, a.body);
  }

  return server;
}

/** Listen on host:port; resolves with the port (useful with 0). */
export function listen(server: https.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
}
