import { setTimeout as sleep } from 'node:timers/promises';
import { fail, oneLine } from '../errors.js';
import type { RegistryOptions } from '../oci/registry/client.js';
import { type AlertSink, deliverPending } from './alerts.js';
import type { TagVerdict } from './classify.js';
import type { AlertSinkConfig, WatchConfig, WatchedRegistry } from './config.js';
import { entryLogger, type Logger } from './log.js';
import { type Metrics, type WatchMetricName, watchMetrics } from './metrics.js';
import type { ParsedEnvelope, WatchEvent } from './notifications.js';
import { quarantineVerdicts } from './quarantine.js';
import { EVENT_SETTLE_BUDGET_MS, type RegistryInventory, reconcile, reconcileTags, watches } from './reconcile.js';
import { createRematcher, type Rematcher } from './rematchstep.js';
import { startWatchServer, type WatchServer } from './server.js';
import type { Alert, WatchState } from './state.js';

/**
 * `registry watch` without --once: a full reconcile at start and every `reconcileInterval`, registry notifications
 * in between (each a targeted reconcile of the tags it names), every result applied to the state, then metrics, alert
 * delivery (started beside the loop) and quarantine. One step runs at a time; events that arrive meanwhile wait in a bounded queue.
 */

export interface WatchContext {
  readonly config: WatchConfig;
  readonly state: WatchState;
  readonly registry: RegistryOptions;
  readonly sinks: readonly AlertSink[];
  readonly log: Logger;
  readonly metrics: Metrics<WatchMetricName>;
  readonly now: () => number;
  /**
   * `host/repo@digest` whose quarantine outcome will not change (dry-run's would-delete, a refusal): not checked and
   * logged again at every reconcile. A delete or a failure is not settled (the digest may be pushed again).
   */
  readonly settled?: Set<string>;
  /** The SBOM re-match, when a registry names a policy. */
  readonly rematcher?: Rematcher;
  /** A re-match that cannot run ends the run (--once) instead of being logged and retried (the daemon). */
  readonly rematchErrorsFatal?: boolean;
}

/** Alert delivery settings: per request, and attempts after the first. */
const DELIVERY = { timeoutMs: 10_000, retries: 3 };
const MAX_QUEUED_EVENTS = 10_000;
/** First retry of a failed full reconcile; doubled per failure, up to the interval. */
const FIRST_RETRY_MS = 2_000;
/** Consecutive failed full reconciles after which /healthz answers 503. */
export const UNHEALTHY_AFTER = 3;
/** How long a shutdown waits for the current step before abandoning it. */
const SHUTDOWN_GRACE_MS = 5_000;

/** The alert sinks with their headers read from the environment; CONFIG_INVALID when a named variable is unusable. */
export function resolveSinks(config: WatchConfig, env: NodeJS.ProcessEnv): AlertSink[] {
  return config.alerts.map((a: AlertSinkConfig): AlertSink => {
    if (a.headersEnv === undefined) return { name: a.name, kind: a.kind, url: a.url };
    const text = env[a.headersEnv];
    const where = `${config.file}: alerts '${a.name}': headersEnv ${a.headersEnv}`;
    if (!text) fail('CONFIG_INVALID', `${where} is not set in the environment`);
    let headers: unknown;
    try {
      headers = JSON.parse(text);
    } catch {
      return fail('CONFIG_INVALID', `${where} is not JSON (expected an object of header names to strings)`);
    }
    const ok =
      typeof headers === 'object' &&
      headers !== null &&
      !Array.isArray(headers) &&
      Object.entries(headers).every(([k, v]) => /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(k) && typeof v === 'string');
    if (!ok) fail('CONFIG_INVALID', `${where} must be a JSON object of header names to strings`);
    return { name: a.name, kind: a.kind, url: a.url, headers: headers as Record<string, string> };
  });
}

/** The notification secret from the environment; CONFIG_INVALID when the config names a variable that is unset. */
export function resolveSecret(config: WatchConfig, env: NodeJS.ProcessEnv): string | undefined {
  const name = config.notificationSecretEnv;
  if (name === undefined) return undefined;
  const secret = env[name];
  if (!secret) fail('CONFIG_INVALID', `${config.file}: notificationSecretEnv ${name} is not set in the environment`);
  return secret;
}

function countByStatus(verdicts: readonly TagVerdict[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of verdicts) counts[v.classification.status] = (counts[v.classification.status] ?? 0) + 1;
  return counts;
}

/** The tag gauge from the state: what /metrics reports between reconciles too. */
export function refreshTagGauge(ctx: WatchContext): void {
  ctx.metrics.clear('portcullis_watch_tags');
  const counts = new Map<string, { host: string; status: string; n: number }>();
  for (const t of ctx.state.tags()) {
    const k = `${t.host}\n${t.status}`;
    const c = counts.get(k) ?? { host: t.host, status: t.status, n: 0 };
    c.n++;
    counts.set(k, c);
  }
  for (const c of counts.values()) ctx.metrics.set('portcullis_watch_tags', { host: c.host, status: c.status }, c.n);
}

function logQueued(ctx: WatchContext, queued: readonly Alert[]): void {
  ctx.metrics.inc('portcullis_watch_alerts_queued_total', {}, queued.length);
  for (const a of queued) {
    ctx.log(
      a.event === 'opened' ? 'warn' : 'info',
      `alert ${a.event}: ${a.host}/${a.repository}:${a.tag} ${a.status}`,
      {
        event: 'alert.queued',
        alert: a.id,
        key: a.key,
        host: a.host,
        repository: a.repository,
        tag: a.tag,
        digest: a.digest,
        status: a.status,
      },
    );
  }
}

/** Quarantine what the entry's mode allows among `verdicts` (effective ones, tampered included); logged and counted. */
export async function quarantineStep(ctx: WatchContext, entry: WatchedRegistry, verdicts: readonly TagVerdict[]) {
  if (entry.quarantine === 'off') return;
  const id = (v: TagVerdict) => `${entry.host}/${v.repository}@${v.digest}`;
  await quarantineVerdicts(
    entry,
    verdicts.filter((v) => !ctx.settled?.has(id(v))),
    ctx.state,
    { registry: ctx.registry, now: ctx.now },
    (v, result) => {
      if (result.outcome === 'would-delete' || result.outcome === 'refused') ctx.settled?.add(id(v));
      ctx.metrics.inc('portcullis_watch_quarantine_actions_total', {
        host: entry.host,
        mode: entry.quarantine,
        outcome: result.outcome,
      });
      ctx.log(
        result.outcome === 'failed' ? 'error' : 'warn',
        `quarantine ${result.outcome}: ${v.repository}@${v.digest}`,
        {
          event: 'quarantine',
          host: entry.host,
          repository: v.repository,
          tag: v.tag,
          digest: v.digest,
          status: v.classification.status,
          mode: entry.quarantine,
          outcome: result.outcome,
          reason: result.reason,
        },
      );
    },
  );
}

/**
 * Apply one registry's full reconcile to the state: tampered decided, alerts queued, the run recorded. Returns the
 * effective verdicts (what reports and quarantine must use).
 */
export function applyInventory(
  ctx: WatchContext,
  inv: RegistryInventory,
  startedAt: Date,
): { verdicts: TagVerdict[]; queued: Alert[] } {
  const verdicts = withRematch(ctx, inv.verdicts);
  const now = new Date(ctx.now());
  const r = ctx.state.applyReconcile(inv.host, inv.repositories, verdicts, now, inv.vanished);
  ctx.state.recordRun({
    host: inv.host,
    startedAt: startedAt.toISOString(),
    finishedAt: now.toISOString(),
    complete: true,
    counts: countByStatus(r.verdicts),
  });
  logQueued(ctx, r.queued);
  return r;
}

/**
 * Re-match what is due (the advisory data changed, or SBOMs never matched) and apply the outcome to verdicts. A
 * database that cannot be read ends a --once run; the daemon logs and counts it (the verdicts then stay as the
 * attestations say, and the next reconcile tries again).
 */
export function withRematch(ctx: WatchContext, verdicts: readonly TagVerdict[]): readonly TagVerdict[] {
  const r = ctx.rematcher;
  if (!r) return verdicts;
  try {
    const done = r.run(new Date(ctx.now()));
    ctx.metrics.inc('portcullis_watch_rematched_total', {}, done.rematched);
    ctx.metrics.inc('portcullis_watch_rematch_failing_total', {}, done.failing);
  } catch (err) {
    if (ctx.rematchErrorsFatal) throw err;
    ctx.metrics.inc('portcullis_watch_rematch_errors_total');
    ctx.log('error', `re-match skipped: ${oneLine(err)}`, { event: 'rematch.error' });
  }
  return r.apply(verdicts);
}

/** `{ rematcher }` when a registry names a policy, to spread into a WatchContext. */
export function withRematcher(
  config: WatchConfig,
  state: WatchState,
  dbPath: string,
  log: Logger,
): { rematcher?: Rematcher } {
  const rematcher = createRematcher(config, state, dbPath, log);
  return rematcher ? { rematcher } : {};
}

/** Deliver what is pending to every sink; counted, never throws. */
export async function deliver(ctx: WatchContext): Promise<void> {
  if (ctx.sinks.length === 0) return;
  try {
    const r = await deliverPending(ctx.state, ctx.sinks, {
      ...DELIVERY,
      log: entryLogger(ctx.log),
      now: () => new Date(ctx.now()),
    });
    ctx.metrics.inc('portcullis_watch_alerts_delivered_total', {}, r.delivered);
    ctx.metrics.inc('portcullis_watch_alerts_failed_total', {}, r.failed);
  } catch (err) {
    ctx.log('error', `alert delivery stopped: ${oneLine(err)}`, { event: 'alert.error' });
  }
}

/**
 * Which configured registry an event came from: the host its client named (a default port ignored); with one registry
 * configured, that one (behind a proxy the registry sees another host name). A wrong guess costs only a re-check of
 * what the registry really holds.
 */
function entryFor(config: WatchConfig, host: string | undefined): WatchedRegistry | undefined {
  const bare = host?.replace(/:443$/, '');
  const named = config.registries.find((r) => r.host === host || r.host === bare);
  return named ?? (config.registries.length === 1 ? config.registries[0] : undefined);
}

export type EventGroups = Map<
  string,
  {
    entry: WatchedRegistry;
    repository: string;
    tags: Set<string>;
    /** Per pushed tag, the digest the push named (the last push of the batch): checked once the tag names it. */
    expected: Map<string, string>;
  }
>;

/**
 * Add one watched event to its repository's group: a tag event names its tag; a digest event (deleted, or its
 * signature or attestation pushed) every tag known to name that digest, by an indexed lookup.
 */
export function addToGroups(
  groups: EventGroups,
  entry: WatchedRegistry,
  e: WatchEvent,
  tagsNaming: (host: string, repository: string, digest: string) => readonly string[],
): void {
  const k = `${entry.host}/${e.repository}`;
  const g = groups.get(k) ?? { entry, repository: e.repository, tags: new Set<string>(), expected: new Map() };
  groups.set(k, g);
  if (e.kind === 'digest') {
    for (const t of tagsNaming(entry.host, e.repository, e.digest)) g.tags.add(t);
    return;
  }
  g.tags.add(e.tag);
  if (e.digest !== undefined) g.expected.set(e.tag, e.digest);
  else g.expected.delete(e.tag);
}

export class Watcher {
  private readonly queue: WatchEvent[] = [];
  private reconcileDue = true;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private stopping = false;
  private delivering: Promise<void> | undefined;
  private deliverAgain = false;
  private readonly abort = new AbortController();
  lastReconcile: { ok: boolean; at: string; error?: string } | undefined;

  constructor(private readonly ctx: WatchContext) {}

  /** Queue an envelope's events (the server's callback: no I/O here). */
  enqueue(envelope: ParsedEnvelope): void {
    const m = this.ctx.metrics;
    m.inc('portcullis_watch_events_received_total', {}, envelope.events.length + envelope.ignored);
    m.inc('portcullis_watch_events_ignored_total', {}, envelope.ignored);
    for (const e of envelope.events) {
      if (this.queue.length >= MAX_QUEUED_EVENTS) {
        // The full reconcile sees whatever the dropped events were about.
        if (!this.reconcileDue) this.ctx.log('warn', 'event queue full: a full reconcile will run instead', {});
        this.reconcileDue = true;
        break;
      }
      this.queue.push(e);
    }
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.reconcileDue = true;
      this.poke();
    }, ms);
    this.timer.unref();
  }

  /** The loop; resolves after stop(). */
  async run(): Promise<void> {
    while (!this.stopping) {
      if (this.reconcileDue) {
        this.reconcileDue = false;
        await this.fullReconcile();
      } else if (this.queue.length > 0) {
        await this.events(this.queue.splice(0, this.queue.length));
      } else {
        await new Promise<void>((r) => {
          this.wake = r;
        });
      }
    }
  }

  private async fullReconcile(): Promise<void> {
    const { ctx } = this;
    let failed = 0;
    for (const entry of ctx.config.registries) {
      if (this.stopping) return;
      const started = new Date(ctx.now());
      ctx.metrics.inc('portcullis_watch_reconciles_total');
      ctx.log('info', `reconcile of ${entry.host} started`, { event: 'reconcile.start', host: entry.host });
      try {
        const [inv] = await reconcile(
          { ...ctx.config, registries: [entry] },
          {
            registry: ctx.registry,
            now: ctx.now,
            signal: this.abort.signal,
            ...(ctx.rematcher ? { onApproved: ctx.rematcher.onApproved } : {}),
          },
        );
        if (this.stopping || !inv) return;
        const r = applyInventory(ctx, inv, started);
        const seconds = (ctx.now() - started.getTime()) / 1000;
        ctx.metrics.set('portcullis_watch_last_reconcile_timestamp_seconds', {}, ctx.now() / 1000);
        ctx.metrics.set('portcullis_watch_last_reconcile_duration_seconds', {}, seconds);
        ctx.log('info', `reconcile of ${entry.host} done`, {
          event: 'reconcile.done',
          host: entry.host,
          tags: inv.verdicts.length,
          counts: countByStatus(r.verdicts),
          queued: r.queued.length,
          seconds,
        });
        refreshTagGauge(ctx);
        // Alerts go out now: quarantine (re-checks, deletes) may take long, and they must not wait for it.
        this.startDelivery();
        await quarantineStep(ctx, entry, r.verdicts);
      } catch (err) {
        if (this.stopping) return;
        failed++;
        ctx.metrics.inc('portcullis_watch_reconciles_failed_total');
        // Nothing is applied: the state keeps what the last good reconcile saw.
        ctx.log('error', `reconcile of ${entry.host} failed: ${oneLine(err)}`, {
          event: 'reconcile.failed',
          host: entry.host,
          code: (err as { code?: unknown }).code,
        });
        ctx.state.recordRun({
          host: entry.host,
          startedAt: started.toISOString(),
          finishedAt: new Date(ctx.now()).toISOString(),
          complete: false,
          counts: {},
        });
      }
    }
    this.failures = failed > 0 ? this.failures + 1 : 0;
    this.lastReconcile = { ok: failed === 0, at: new Date(ctx.now()).toISOString() };
    const interval = ctx.config.reconcileIntervalMs;
    const next = failed > 0 ? Math.min(interval, FIRST_RETRY_MS * 2 ** (this.failures - 1)) : interval;
    if (failed > 0)
      ctx.log('warn', `next reconcile in ${next} ms`, { event: 'reconcile.retry', failures: this.failures });
    this.schedule(next);
    this.startDelivery();
  }

  /** A batch of events: coalesced into one targeted reconcile per repository. */
  private async events(batch: readonly WatchEvent[]): Promise<void> {
    const { ctx } = this;
    const groups: EventGroups = new Map();
    for (const e of batch) {
      const entry = entryFor(ctx.config, e.host);
      if (!entry || !watches(entry, e.repository)) {
        ctx.metrics.inc('portcullis_watch_events_ignored_total');
        ctx.log('debug', 'event for a registry or repository not watched', {
          event: 'event.ignored',
          host: e.host,
          repository: e.repository,
        });
        continue;
      }
      addToGroups(groups, entry, e, (h, r, d) => ctx.state.tagsNaming(h, r, d));
    }
    // One settle budget for the whole batch (groups run one after the other): what it leaves is the next reconcile's.
    const settleDeadline = Date.now() + EVENT_SETTLE_BUDGET_MS;
    for (const g of groups.values()) {
      if (this.stopping) return;
      if (g.tags.size === 0) continue;
      const tags = [...g.tags].sort();
      try {
        const results = await reconcileTags(
          g.entry,
          g.repository,
          tags,
          {
            registry: ctx.registry,
            now: ctx.now,
            settleDeadline,
            ...(ctx.rematcher ? { onApproved: ctx.rematcher.onApproved } : {}),
          },
          g.expected,
        );
        if (this.stopping) return;
        const found = withRematch(
          ctx,
          results.flatMap((r) => (r.verdict ? [r.verdict] : [])),
        );
        const now = new Date(ctx.now());
        const verdicts: TagVerdict[] = [];
        let k = 0;
        for (const r of results) {
          if (r.verdict) {
            const applied = ctx.state.applyTag(found[k++] as TagVerdict, now);
            verdicts.push(applied.verdict);
            logQueued(ctx, applied.queued);
          } else if (r.pending) {
            ctx.log(
              'warn',
              `event: ${g.repository}:${r.tag} did not name the pushed digest within the batch's ${EVENT_SETTLE_BUDGET_MS} ms settle budget; the next reconcile checks it`,
              {
                event: 'event.pending',
                host: g.entry.host,
                repository: g.repository,
                tag: r.tag,
                digest: g.expected.get(r.tag),
              },
            );
          } else logQueued(ctx, ctx.state.removeTag(g.entry.host, g.repository, r.tag, now));
        }
        ctx.log('info', `event: ${g.repository} checked`, {
          event: 'event.done',
          host: g.entry.host,
          repository: g.repository,
          tags: results.map((r) => ({
            tag: r.tag,
            status:
              r.verdict?.classification.status ??
              (r.attachment ? 'cosign-attachment' : r.pending ? 'pending' : 'removed'),
          })),
        });
        refreshTagGauge(ctx);
        this.startDelivery();
        await quarantineStep(ctx, g.entry, verdicts);
      } catch (err) {
        if (this.stopping) return;
        ctx.metrics.inc('portcullis_watch_events_failed_total');
        ctx.log('error', `event for ${g.repository} failed (the next full reconcile covers it): ${oneLine(err)}`, {
          event: 'event.failed',
          host: g.entry.host,
          repository: g.repository,
        });
      }
    }
    this.startDelivery();
  }

  /** Delivery runs beside the loop (a slow sink must not hold up reconciles); one at a time, rerun when asked. */
  private startDelivery(): void {
    if (this.delivering) {
      this.deliverAgain = true;
      return;
    }
    this.delivering = (async () => {
      do {
        this.deliverAgain = false;
        if (this.stopping) break;
        await deliver(this.ctx);
      } while (this.deliverAgain);
    })().finally(() => {
      this.delivering = undefined;
    });
  }

  /** Whether new events will still be processed (false from the moment stop begins). */
  accepting(): boolean {
    return !this.stopping;
  }

  /**
   * Not ok while stopping, or after UNHEALTHY_AFTER full reconciles failed in a row: the registry is then not being
   * watched, and an orchestrator or probe must see it rather than a green check.
   */
  health(): { ok: boolean; detail: Record<string, unknown> } {
    return {
      ok: !this.stopping && this.failures < UNHEALTHY_AFTER,
      detail: {
        queued: this.queue.length,
        reconcileFailures: this.failures,
        ...(this.lastReconcile ? { lastReconcile: this.lastReconcile } : {}),
      },
    };
  }

  /** Stop: the loop ends after (or, past the grace time, without) its current step; delivery gets the same grace. */
  async stop(loop: Promise<void>): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.abort.abort();
    this.poke();
    const grace = sleep(SHUTDOWN_GRACE_MS, undefined, { ref: false });
    await Promise.race([Promise.all([loop, this.delivering]), grace]);
  }
}

export interface DaemonOptions {
  readonly config: WatchConfig;
  readonly state: WatchState;
  readonly registry: RegistryOptions;
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
  readonly now?: () => number;
  /** The advisory database the SBOM re-match reads (when a registry names a policy). */
  readonly dbPath: string;
  /** Resolves when the daemon should stop (SIGTERM/SIGINT). */
  readonly stopped: Promise<unknown>;
}

/** Run until `stopped` settles: the server up, the loop running; then a clean stop. The caller closes the state. */
export async function runDaemon(opts: DaemonOptions): Promise<void> {
  const { config, log } = opts;
  const sinks = resolveSinks(config, opts.env);
  const secret = resolveSecret(config, opts.env);
  const ctx: WatchContext = {
    config,
    state: opts.state,
    registry: opts.registry,
    sinks,
    log,
    metrics: watchMetrics(),
    now: opts.now ?? Date.now,
    settled: new Set(),
    ...withRematcher(config, opts.state, opts.dbPath, log),
  };
  refreshTagGauge(ctx);
  const watcher = new Watcher(ctx);
  let server: WatchServer;
  try {
    server = await startWatchServer({
      host: config.listen.host,
      port: config.listen.port,
      ...(secret !== undefined ? { secret } : {}),
      onEnvelope: (e) => watcher.enqueue(e),
      accepting: () => watcher.accepting(),
      onRefused: (reason, detail) => {
        ctx.metrics.inc('portcullis_watch_envelopes_refused_total', { reason });
        log('warn', `notification refused: ${detail}`, { event: 'event.refused', reason });
      },
      metrics: () => ctx.metrics.render(),
      health: () => watcher.health(),
    });
  } catch (err) {
    return fail(
      'NETWORK',
      `registry watch: cannot listen on ${config.listen.host}:${config.listen.port}: ${oneLine(err)}`,
    );
  }
  log('info', `listening on http://${server.address}`, {
    event: 'listening',
    address: server.address,
    state: opts.state.file,
    registries: config.registries.map((r) => r.host),
    sinks: sinks.map((s) => s.name),
    authenticated: secret !== undefined,
  });
  if (secret === undefined) {
    log('warn', 'no notificationSecretEnv: POST /events takes notifications from anyone who can reach it', {
      event: 'listening.open',
    });
  }
  const loop = watcher.run();
  try {
    await Promise.race([opts.stopped, loop]);
  } finally {
    log('info', 'stopping', { event: 'stopping' });
    await watcher.stop(loop.catch(() => undefined));
    await server.close();
    log('info', 'stopped', { event: 'stopped' });
  }
}
