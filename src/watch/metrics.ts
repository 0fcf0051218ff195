/**
 * The watcher's Prometheus metrics: a tiny in-process registry of counters and gauges with labels, and a pure renderer
 * of the text exposition format 0.0.4 (HELP and TYPE lines, label values escaped, one sample per line).
 */

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly labels: Labels;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  /** The label names every sample carries, in the order rendered. */
  readonly labelNames: readonly string[];
  readonly samples: readonly Sample[];
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** A sample value as Go's strconv formats floats for Prometheus: +Inf, -Inf, NaN, else the shortest decimal. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

/** Render families in the text format, in the order given; samples sorted by their labels for stable output. */
export function renderExposition(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    const lines = f.samples.map((s) => {
      const labels = f.labelNames.map((n) => `${n}="${escapeLabel(s.labels[n] ?? '')}"`).join(',');
      return `${f.name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`;
    });
    out.push(...lines.sort());
  }
  return `${out.join('\n')}\n`;
}

interface Definition {
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly labels?: readonly string[];
}

/** A registry of families defined up front; unknown names and label sets that do not match are programming errors. */
export class Metrics<N extends string> {
  private readonly values = new Map<N, Map<string, Sample>>();
  constructor(private readonly defs: Readonly<Record<N, Definition>>) {
    for (const [name, def] of Object.entries(defs) as [N, Definition][]) {
      if (!NAME_RE.test(name)) throw new Error(`metric name ${name} is not valid`);
      for (const l of def.labels ?? []) if (!LABEL_RE.test(l) || l.startsWith('__')) throw new Error(`label ${l}`);
      const samples = new Map<string, Sample>();
      // A family without labels has exactly one sample, there from the start.
      if ((def.labels ?? []).length === 0) samples.set('[]', { labels: {}, value: 0 });
      this.values.set(name, samples);
    }
  }

  private key(name: N, labels: Labels): string {
    const names = this.defs[name].labels ?? [];
    const given = Object.keys(labels);
    if (given.length !== names.length || !names.every((n) => typeof labels[n] === 'string')) {
      throw new Error(`metric ${name} takes labels [${names.join(',')}], got [${given.join(',')}]`);
    }
    return JSON.stringify(names.map((n) => labels[n]));
  }

  /** Add `by` (at least 0) to a counter or gauge. */
  inc(name: N, labels: Labels = {}, by = 1): void {
    if (this.defs[name].type === 'counter' && !(by >= 0)) throw new Error(`counter ${name} cannot go down`);
    const samples = this.values.get(name) as Map<string, Sample>;
    const k = this.key(name, labels);
    samples.set(k, { labels, value: (samples.get(k)?.value ?? 0) + by });
  }

  set(name: N, labels: Labels, value: number): void {
    if (this.defs[name].type !== 'gauge') throw new Error(`${name} is not a gauge`);
    (this.values.get(name) as Map<string, Sample>).set(this.key(name, labels), { labels, value });
  }

  /** Drop every sample of a labelled gauge (before setting the current set, so vanished label sets disappear). */
  clear(name: N): void {
    if ((this.defs[name].labels ?? []).length > 0) this.values.get(name)?.clear();
  }

  get(name: N, labels: Labels = {}): number {
    return this.values.get(name)?.get(this.key(name, labels))?.value ?? 0;
  }

  families(): MetricFamily[] {
    return (Object.entries(this.defs) as [N, Definition][]).map(([name, def]) => ({
      name,
      help: def.help,
      type: def.type,
      labelNames: def.labels ?? [],
      samples: [...(this.values.get(name)?.values() ?? [])],
    }));
  }

  render(): string {
    return renderExposition(this.families());
  }
}

/** The metrics `registry watch` serves on /metrics. */
export const WATCH_METRICS = {
  portcullis_watch_tags: {
    help: 'Tags watched, by registry and status after the last reconcile or event.',
    type: 'gauge',
    labels: ['host', 'status'],
  },
  portcullis_watch_reconciles_total: { help: 'Full reconciles started.', type: 'counter' },
  portcullis_watch_reconciles_failed_total: {
    help: 'Full reconciles that failed (the registry unreachable or answering errors); the last state was kept.',
    type: 'counter',
  },
  portcullis_watch_last_reconcile_timestamp_seconds: {
    help: 'When the last successful full reconcile ended, in seconds since the epoch (0 before the first).',
    type: 'gauge',
  },
  portcullis_watch_last_reconcile_duration_seconds: {
    help: 'How long the last successful full reconcile took.',
    type: 'gauge',
  },
  portcullis_watch_events_received_total: {
    help: 'Registry notification events received, kept or not.',
    type: 'counter',
  },
  portcullis_watch_events_ignored_total: {
    help: 'Notification events that change no tag (blobs, pulls, mounts) or name a registry not watched.',
    type: 'counter',
  },
  portcullis_watch_rematched_total: {
    help: 'Stored SBOMs re-matched against changed advisory data.',
    type: 'counter',
  },
  portcullis_watch_rematch_failing_total: {
    help: 'Re-matched SBOMs whose image no longer passes its policy.',
    type: 'counter',
  },
  portcullis_watch_rematch_errors_total: {
    help: 'Re-match runs that could not read the advisory database.',
    type: 'counter',
  },
  portcullis_watch_events_failed_total: {
    help: 'Targeted reconciles of one tag or digest that failed; the next full reconcile covers them.',
    type: 'counter',
  },
  portcullis_watch_envelopes_refused_total: {
    help: 'Notification requests refused, by reason (unauthorized, malformed, too_large).',
    type: 'counter',
    labels: ['reason'],
  },
  portcullis_watch_alerts_queued_total: { help: 'Alerts queued for delivery.', type: 'counter' },
  portcullis_watch_alerts_delivered_total: { help: 'Alerts delivered to a sink.', type: 'counter' },
  portcullis_watch_alerts_failed_total: {
    help: 'Alert deliveries that failed after their retries (they stay queued).',
    type: 'counter',
  },
  portcullis_watch_quarantine_actions_total: {
    help: 'Quarantine actions, by registry, mode (dry-run, delete) and outcome (would-delete, deleted, refused, failed).',
    type: 'counter',
    labels: ['host', 'mode', 'outcome'],
  },
} as const satisfies Record<string, Definition>;

export type WatchMetricName = keyof typeof WATCH_METRICS;

export function watchMetrics(): Metrics<WatchMetricName> {
  return new Metrics(WATCH_METRICS);
}
