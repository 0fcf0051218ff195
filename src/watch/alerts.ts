import { setTimeout as sleep } from 'node:timers/promises';
import { printable } from '../errors.js';
import { TOOL } from '../version.js';
import { WATCH_RULES } from './classify.js';
import type { Alert, WatchState } from './state.js';

/**
 * Alert delivery from the outbox in `WatchState`: every sink gets every alert once, in queue order. A sink that fails
 * keeps its alerts pending (at-least-once: a receiver that answered 2xx too late for us sees a repeat).
 */

export interface AlertSink {
  readonly name: string;
  readonly kind: 'webhook' | 'slack';
  readonly url: string;
  /** Sent with each request (an Authorization header, say); never logged and never in a body. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The `version` of the generic JSON body; bumped only when a field changes meaning or goes away. */
export const ALERT_BODY_VERSION = 1;

const SLACK_TEXT_MAX = 2900;

/** `&`, `<` and `>` are Slack's control characters in mrkdwn; everything else shows as written. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function severityOf(alert: Alert): string {
  if (alert.event === 'resolved') return 'resolved';
  if (alert.finding) return alert.finding.severity;
  return alert.status in WATCH_RULES ? WATCH_RULES[alert.status as keyof typeof WATCH_RULES].severity : 'unknown';
}

/** One line: what happened to which tag. */
export function alertSummary(alert: Alert): string {
  const where = `${alert.host}/${alert.repository}:${alert.tag}`;
  const what =
    alert.event === 'opened'
      ? `${alert.status} (${severityOf(alert)})`
      : alert.status === 'removed'
        ? 'resolved: tag removed'
        : `resolved: now ${alert.status}`;
  return printable(`${where} ${what}`, 500);
}

/** The request body for one alert: generic JSON (documented, versioned, with the finding) or Slack's `{text, blocks}`. */
export function alertBody(sink: AlertSink, alert: Alert): string {
  if (sink.kind === 'slack') {
    const lines = [
      `*${slackEscape(alertSummary(alert))}*`,
      `digest \`${slackEscape(alert.digest)}\`${alert.previousDigest ? ` (was \`${slackEscape(alert.previousDigest)}\`)` : ''}`,
      slackEscape(printable(alert.detail, 1500)),
      ...(alert.finding?.fix ? [`_Fix:_ ${slackEscape(printable(alert.finding.fix.text, 600))}`] : []),
    ];
    const icon = alert.event === 'opened' ? ':rotating_light:' : ':white_check_mark:';
    return JSON.stringify({
      text: `${icon} ${slackEscape(alertSummary(alert))}`,
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n').slice(0, SLACK_TEXT_MAX) } }],
    });
  }
  return JSON.stringify({
    version: ALERT_BODY_VERSION,
    source: { tool: TOOL.name, version: TOOL.version },
    id: alert.id,
    key: alert.key,
    event: alert.event,
    at: alert.at,
    registry: alert.host,
    repository: alert.repository,
    tag: alert.tag,
    digest: alert.digest,
    ...(alert.previousDigest ? { previousDigest: alert.previousDigest } : {}),
    status: alert.status,
    summary: alertSummary(alert),
    detail: alert.detail,
    ...(alert.finding ? { finding: alert.finding } : {}),
  });
}

export interface DeliverOptions {
  /** Per request: connect, headers and body. */
  readonly timeoutMs: number;
  /** Further attempts after the first fails. */
  readonly retries: number;
  readonly log: (entry: Record<string, unknown>) => void;
  readonly now: () => Date;
  /** First backoff delay, doubled per retry (default 500 ms). */
  readonly backoffMs?: number;
  /** Longest wait between attempts, a Retry-After included (default 30 s). */
  readonly maxBackoffMs?: number;
}

const BATCH = 100;

/** Seconds of a Retry-After header (the delta form only); undefined otherwise. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || !/^\d{1,6}$/.test(header.trim())) return undefined;
  return Number(header.trim()) * 1000;
}

/**
 * An error text fit for a log: the sink's URL (a Slack webhook URL is itself a secret) becomes `<url of NAME>` and any
 * other URL's user:password@ becomes `<redacted>@` (fetch names the URL in some of its errors).
 */
export function redactUrls(text: string, sink: Pick<AlertSink, 'name' | 'url'>): string {
  const own = sink.url === '' ? text : text.split(sink.url).join(`<url of ${sink.name}>`);
  return own.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi, '$1<redacted>@');
}

type Attempt = { ok: true; status: number } | { ok: false; error: string; waitMs?: number };

async function post(sink: AlertSink, body: string, timeoutMs: number): Promise<Attempt> {
  try {
    const res = await fetch(sink.url, {
      method: 'POST',
      headers: { ...sink.headers, 'content-type': 'application/json', 'user-agent': `${TOOL.name}/${TOOL.version}` },
      body,
      // A redirect could carry the alert (and our headers) elsewhere: it is a failure, never followed.
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    const wait = res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get('retry-after')) : undefined;
    return { ok: false, error: `HTTP ${res.status}`, ...(wait !== undefined ? { waitMs: wait } : {}) };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why =
      e.name === 'TimeoutError' || e.name === 'AbortError'
        ? `no answer within ${timeoutMs} ms`
        : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { ok: false, error: printable(redactUrls(String(why), sink), 200) };
  }
}

/** Deliver to one sink in order; stops at the first alert that still fails after the retries. */
async function deliverTo(
  state: WatchState,
  sink: AlertSink,
  opts: DeliverOptions,
): Promise<{ delivered: number; failed: number }> {
  const backoff = opts.backoffMs ?? 500;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  let delivered = 0;
  const tried = new Set<number>();
  for (;;) {
    const batch = state.pending(sink.name, BATCH).filter((a) => !tried.has(a.id));
    if (batch.length === 0) return { delivered, failed: 0 };
    for (const alert of batch) {
      tried.add(alert.id);
      const body = alertBody(sink, alert);
      let attempt: Attempt | undefined;
      for (let n = 0; n <= opts.retries; n++) {
        if (n > 0) {
          const wait = Math.min(
            maxBackoff,
            attempt && !attempt.ok && attempt.waitMs !== undefined ? attempt.waitMs : backoff * 2 ** (n - 1),
          );
          await sleep(wait);
        }
        attempt = await post(sink, body, opts.timeoutMs);
        if (attempt.ok) break;
        opts.log({
          level: 'warn',
          event: 'alert.attempt-failed',
          sink: sink.name,
          alert: alert.id,
          key: alert.key,
          attempt: n + 1,
          error: attempt.error,
        });
      }
      if (!attempt?.ok) {
        opts.log({
          level: 'error',
          event: 'alert.undelivered',
          sink: sink.name,
          alert: alert.id,
          key: alert.key,
          attempts: opts.retries + 1,
          error: attempt?.error,
          message: `alert ${alert.id} not delivered to ${sink.name}: it and the ones after it stay pending`,
        });
        return { delivered, failed: 1 };
      }
      state.markDelivered(alert.id, sink.name, opts.now());
      delivered++;
      opts.log({
        level: 'info',
        event: 'alert.delivered',
        sink: sink.name,
        alert: alert.id,
        key: alert.key,
        status: attempt.status,
      });
    }
  }
}

/**
 * Deliver every pending alert to every sink (sinks side by side, each in queue order). A sink that fails (non-2xx,
 * timeout, reset) is retried with backoff up to `retries` times, then left pending for the next call. Never throws
 * for a failing sink. `failed` counts the sinks given up on in this call.
 */
export function deliverPending(
  state: WatchState,
  sinks: readonly AlertSink[],
  opts: DeliverOptions,
): Promise<{ delivered: number; failed: number }> {
  // Calls on one state run one after another: two at once would send the same pending alert twice.
  const run = (running.get(state) ?? Promise.resolve()).then(async () => {
    const results = await Promise.all(sinks.map((s) => deliverTo(state, s, opts)));
    return results.reduce((a, b) => ({ delivered: a.delivered + b.delivered, failed: a.failed + b.failed }), {
      delivered: 0,
      failed: 0,
    });
  });
  running.set(
    state,
    run.then(
      () => undefined,
      () => undefined,
    ),
  );
  return run;
}

const running = new WeakMap<WatchState, Promise<unknown>>();
