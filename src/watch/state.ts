import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { fail, PortcullisError } from '../errors.js';
import type { Finding } from '../findings/finding.js';
import { lazyRequire } from '../util/lazy.js';
import { type Status, type TagVerdict, toFinding } from './classify.js';
import { acquireStateLock, type LockOwner, type StateLock } from './statelock.js';

/**
 * What `registry watch` remembers between reconciles, in one SQLite file: the last verdict of every tag, the digests
 * ever seen approved (which decide `tampered`), an outbox of alerts with their deliveries per sink, the findings
 * history and the runs. Other watch modules keep their own tables in the same file through `db`.
 */

const SQLite = lazyRequire<typeof Database>('better-sqlite3');

export interface Alert {
  /** Outbox row id: increasing, never reused. */
  readonly id: number;
  /** De-dup key of the state it opens or resolves: `${host}/${repository}:${tag}@${digest}#${status}`. */
  readonly key: string;
  /** opened: a tag became non-approved (or changed digest/status); resolved: it became approved or went away. */
  readonly event: 'opened' | 'resolved';
  readonly host: string;
  readonly repository: string;
  readonly tag: string;
  /** The digest now; for a resolution by removal the last digest seen. */
  readonly digest: string;
  readonly status: Status | 'removed';
  readonly previousDigest?: string;
  readonly detail: string;
  /** ISO time it was queued. */
  readonly at: string;
  /** The finding, for opened alerts. */
  readonly finding?: Finding;
}

export interface RunRecord {
  readonly host: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly complete: boolean;
  readonly counts: Readonly<Record<string, number>>;
}

export interface TagRow {
  readonly host: string;
  readonly repository: string;
  readonly tag: string;
  readonly digest: string;
  readonly status: string;
  /** When the tag took this digest and status. */
  readonly since: string;
}

/** Bumped with each entry of MIGRATIONS; a file written by a newer Portcullis is refused. */
export const STATE_SCHEMA_VERSION = 2;

/** MIGRATIONS[n] takes a file from user_version n to n + 1. */
const MIGRATIONS: readonly string[] = [
  `
CREATE TABLE watch_tags (
  host TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
  digest TEXT NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL, since TEXT NOT NULL,
  PRIMARY KEY (host, repository, tag)
) WITHOUT ROWID;
CREATE TABLE watch_approved (
  host TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL, first_at TEXT NOT NULL,
  PRIMARY KEY (host, repository, digest)
) WITHOUT ROWID;
-- AUTOINCREMENT: an id is never reused, so a delivery recorded for a deleted alert cannot match a new one.
CREATE TABLE watch_alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, event TEXT NOT NULL,
  host TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL, status TEXT NOT NULL,
  previous_digest TEXT, detail TEXT NOT NULL, at TEXT NOT NULL, finding TEXT
);
-- from_id: every alert below it was delivered to the sink (or predates it); deliveries above it are listed.
CREATE TABLE watch_sinks (name TEXT PRIMARY KEY, from_id INTEGER NOT NULL, added_at TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE watch_deliveries (
  sink TEXT NOT NULL, alert_id INTEGER NOT NULL, delivered_at TEXT NOT NULL, PRIMARY KEY (sink, alert_id)
) WITHOUT ROWID;
CREATE TABLE watch_findings (
  id INTEGER PRIMARY KEY, key TEXT NOT NULL, host TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
  digest TEXT NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL, opened_at TEXT NOT NULL,
  resolved_at TEXT, resolution TEXT
);
CREATE INDEX watch_findings_open ON watch_findings (host, repository, tag) WHERE resolved_at IS NULL;
CREATE TABLE watch_runs (
  id INTEGER PRIMARY KEY, host TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
  complete INTEGER NOT NULL, counts TEXT NOT NULL
);
CREATE INDEX watch_runs_host ON watch_runs (host, id);
`,
  // 1 -> 2: a digest event (a signature pushed, a manifest deleted) looks up the tags naming it without a table scan.
  'CREATE INDEX watch_tags_digest ON watch_tags (host, repository, digest);',
];

/** Runs kept per host; older ones are dropped as new ones are recorded. */
const RUNS_KEPT = 1000;

interface StoredTag {
  readonly host: string;
  readonly repository: string;
  readonly tag: string;
  readonly digest: string;
  readonly status: Status;
  readonly detail: string;
  readonly since: string;
}

interface AlertRow {
  id: number;
  key: string;
  event: 'opened' | 'resolved';
  host: string;
  repository: string;
  tag: string;
  digest: string;
  status: Status | 'removed';
  previous_digest: string | null;
  detail: string;
  at: string;
  finding: string | null;
}

type NewAlert = Omit<Alert, 'id' | 'at'>;

export function alertKey(host: string, repository: string, tag: string, digest: string, status: string): string {
  return `${host}/${repository}:${tag}@${digest}#${status}`;
}

function keyOf(t: StoredTag): string {
  return alertKey(t.host, t.repository, t.tag, t.digest, t.status);
}

function toAlert(r: AlertRow): Alert {
  return {
    id: r.id,
    key: r.key,
    event: r.event,
    host: r.host,
    repository: r.repository,
    tag: r.tag,
    digest: r.digest,
    status: r.status,
    ...(r.previous_digest !== null ? { previousDigest: r.previous_digest } : {}),
    detail: r.detail,
    at: r.at,
    ...(r.finding !== null ? { finding: JSON.parse(r.finding) as Finding } : {}),
  };
}

/** SQLite's own failures (a damaged file, a full disk) as one typed line naming the file. */
function typed(file: string, err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (err instanceof PortcullisError || typeof code !== 'string' || !code.startsWith('SQLITE_')) return err;
  return new PortcullisError('CONFIG_INVALID', `${file}: the watch state cannot be used (${(err as Error).message})`);
}

export class WatchState {
  private readonly s: ReturnType<typeof prepare>;

  private constructor(
    readonly file: string,
    readonly db: Database.Database,
    private readonly lock?: StateLock,
  ) {
    this.s = prepare(db);
  }

  /**
   * Open (creating it and its schema when missing) the state file; ':memory:' for a private in-memory one. A file is
   * locked for this writer alone (STATE_IN_USE while another live process holds it); `onTakeover` hears of a stale
   * lock taken over.
   */
  static open(file: string, opts: { onTakeover?: (previous: LockOwner) => void } = {}): WatchState {
    let db: Database.Database | undefined;
    let lock: StateLock | undefined;
    try {
      if (file !== ':memory:') {
        mkdirSync(dirname(file), { recursive: true });
        lock = acquireStateLock(file);
        if (lock.tookOverFrom) opts.onTakeover?.(lock.tookOverFrom);
      }
      db = new (SQLite())(file);
      db.pragma('busy_timeout = 5000');
      if (file !== ':memory:') db.pragma('journal_mode = WAL');
      migrate(db, file);
      return new WatchState(file, db, lock);
    } catch (err) {
      db?.close();
      lock?.release();
      if (err instanceof PortcullisError) throw err;
      return fail('CONFIG_INVALID', `${file}: not a readable watch state (${(err as Error).message})`);
    }
  }

  /**
   * A complete reconcile of `host`: apply tampered, update the tag table, queue alerts. Tags of `repositories` not in
   * `verdicts` are gone: their open alerts resolve. `vanished` tags (`repository:tag`, as RegistryInventory lists
   * them: listed but gone during the run) are left as they were. One transaction.
   */
  applyReconcile(
    host: string,
    repositories: readonly string[],
    verdicts: readonly TagVerdict[],
    now: Date,
    vanished: readonly string[] = [],
  ): { verdicts: TagVerdict[]; queued: Alert[] } {
    return this.tx(() => {
      const at = now.toISOString();
      const known = new Map<string, StoredTag>();
      for (const row of this.s.tagsOfHost.all(host) as StoredTag[]) known.set(`${row.repository}:${row.tag}`, row);
      for (const v of verdicts) {
        if (v.classification.status === 'approved') this.s.approve.run(v.host, v.repository, v.digest, at);
      }
      const out: TagVerdict[] = [];
      const queued: Alert[] = [];
      const seen = new Set<string>();
      for (const v of verdicts) {
        const id = `${v.repository}:${v.tag}`;
        seen.add(id);
        const r = this.observe(v, v.host === host ? known.get(id) : this.tagRow(v), at);
        out.push(r.verdict);
        if (r.alert) queued.push(r.alert);
      }
      const watched = new Set(repositories);
      const kept = new Set(vanished);
      for (const [id, row] of known) {
        if (seen.has(id) || kept.has(id) || !watched.has(row.repository)) continue;
        const a = this.remove(row, at);
        if (a) queued.push(a);
      }
      return { verdicts: out, queued };
    });
  }

  /** One tag observed outside a full reconcile (a registry notification). */
  applyTag(verdict: TagVerdict, now: Date): { verdict: TagVerdict; queued: Alert[] } {
    return this.tx(() => {
      const at = now.toISOString();
      if (verdict.classification.status === 'approved') {
        this.s.approve.run(verdict.host, verdict.repository, verdict.digest, at);
      }
      const r = this.observe(verdict, this.tagRow(verdict), at);
      return { verdict: r.verdict, queued: r.alert ? [r.alert] : [] };
    });
  }

  /** A tag deleted (notification): resolves its open alert. */
  removeTag(host: string, repository: string, tag: string, now: Date): Alert[] {
    return this.tx(() => {
      const row = this.s.tag.get(host, repository, tag) as StoredTag | undefined;
      if (!row) return [];
      const a = this.remove(row, now.toISOString());
      return a ? [a] : [];
    });
  }

  /**
   * Alerts not yet delivered to `sink`, oldest first. A sink named for the first time gets what some known sink has
   * not had yet (every alert, for the first sink): not the whole history the others already received.
   */
  pending(sink: string, limit = 100): Alert[] {
    return this.tx(() => {
      if (this.s.sink.get(sink) === undefined) {
        const others = (this.s.sinks.all() as { name: string }[]).map((o) => this.firstPending(o.name, 1)[0]);
        this.s.addSink.run(sink, others.length ? Math.min(...others) : 0, new Date().toISOString());
      }
      return this.firstPending(sink, limit)[1].map(toAlert);
    });
  }

  /** The id of the first alert `sink` still lacks (the next id when none) and up to `limit` pending rows. */
  private firstPending(sink: string, limit: number): [number, AlertRow[]] {
    const from = (this.s.sink.get(sink) as { from_id: number }).from_id;
    const rows = this.s.pending.all({ from, sink, limit }) as AlertRow[];
    const first = rows[0]?.id ?? ((this.s.maxId.get() as { m: number | null }).m ?? from - 1) + 1;
    // Everything below the first pending alert was delivered: move the mark up and forget those deliveries.
    if (first > from) {
      this.s.setFrom.run(first, sink);
      this.s.forgetDeliveries.run(sink, first);
    }
    return [first, rows];
  }

  markDelivered(alertId: number, sink: string, now: Date): void {
    this.guard(() => this.s.deliver.run(sink, alertId, now.toISOString()));
  }

  /** Was this digest ever seen approved in host/repository? */
  wasApproved(host: string, repository: string, digest: string): boolean {
    return this.guard(() => this.s.wasApproved.get(host, repository, digest) !== undefined);
  }

  /** Every digest ever seen approved in host/repository. */
  approvedDigests(host: string, repository: string): string[] {
    return this.guard(() => this.s.approvedDigests.all(host, repository) as string[]);
  }

  /** The tags of host/repository last seen naming `digest`, sorted (an indexed lookup). */
  tagsNaming(host: string, repository: string, digest: string): string[] {
    return this.guard(() => this.s.tagsNaming.all(host, repository, digest) as string[]);
  }

  /** The tags last seen (for metrics and reports), ordered by host, repository and tag. */
  tags(host?: string): TagRow[] {
    return this.guard(() => (host === undefined ? this.s.allTags.all() : this.s.tagsOfHost.all(host)) as TagRow[]).map(
      (r) => ({
        host: r.host,
        repository: r.repository,
        tag: r.tag,
        digest: r.digest,
        status: r.status,
        since: r.since,
      }),
    );
  }

  /** The findings history: when each non-approved state opened and how it ended (approved, removed, superseded). */
  history(host?: string): {
    key: string;
    status: string;
    detail: string;
    openedAt: string;
    resolvedAt?: string;
    resolution?: string;
  }[] {
    const rows = this.guard(() => this.s.history.all({ host: host ?? null })) as {
      key: string;
      status: string;
      detail: string;
      opened_at: string;
      resolved_at: string | null;
      resolution: string | null;
    }[];
    return rows.map((r) => ({
      key: r.key,
      status: r.status,
      detail: r.detail,
      openedAt: r.opened_at,
      ...(r.resolved_at !== null ? { resolvedAt: r.resolved_at } : {}),
      ...(r.resolution !== null ? { resolution: r.resolution } : {}),
    }));
  }

  recordRun(run: RunRecord): void {
    this.tx(() => {
      this.s.addRun.run(run.host, run.startedAt, run.finishedAt, run.complete ? 1 : 0, JSON.stringify(run.counts));
      this.s.pruneRuns.run({ host: run.host });
    });
  }

  lastRun(host: string): RunRecord | undefined {
    const r = this.guard(() => this.s.lastRun.get(host)) as
      | { host: string; started_at: string; finished_at: string; complete: number; counts: string }
      | undefined;
    if (!r) return undefined;
    return {
      host: r.host,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      complete: r.complete === 1,
      counts: JSON.parse(r.counts) as Record<string, number>,
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
    this.lock?.release();
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw typed(this.file, err);
    }
  }

  private tx<T>(fn: () => T): T {
    return this.guard(() => this.db.transaction(fn)());
  }

  private tagRow(v: { host: string; repository: string; tag: string }): StoredTag | undefined {
    return this.s.tag.get(v.host, v.repository, v.tag) as StoredTag | undefined;
  }

  /** The effective verdict of one observation against what was remembered, stored; the alert it queues, if any. */
  private observe(v: TagVerdict, prev: StoredTag | undefined, at: string): { verdict: TagVerdict; alert?: Alert } {
    const verdict = this.withTampered(v, prev);
    const { status, detail } = verdict.classification;
    const next: StoredTag = {
      host: v.host,
      repository: v.repository,
      tag: v.tag,
      digest: v.digest,
      status,
      detail,
      since: at,
    };
    if (prev && prev.digest === next.digest && prev.status === next.status) {
      if (prev.detail !== detail) this.s.setDetail.run(detail, v.host, v.repository, v.tag);
      return { verdict };
    }
    this.s.putTag.run(next.host, next.repository, next.tag, next.digest, next.status, next.detail, next.since);
    const wasOpen = prev !== undefined && prev.status !== 'approved';
    const moved = prev && prev.digest !== v.digest ? { previousDigest: prev.digest } : {};
    if (status === 'approved') {
      if (!wasOpen) return { verdict };
      this.s.closeFinding.run(at, 'approved', prev.host, prev.repository, prev.tag);
      const alert = this.queue(
        {
          key: keyOf(prev),
          event: 'resolved',
          host: v.host,
          repository: v.repository,
          tag: v.tag,
          digest: v.digest,
          status,
          ...moved,
          detail: `was ${prev.status}, now approved: ${detail}`,
        },
        at,
      );
      return { verdict, alert };
    }
    if (wasOpen) this.s.closeFinding.run(at, 'superseded', prev.host, prev.repository, prev.tag);
    const key = keyOf(next);
    this.s.openFinding.run(key, v.host, v.repository, v.tag, v.digest, status, detail, at);
    const finding = toFinding(verdict);
    const alert = this.queue(
      {
        key,
        event: 'opened',
        host: v.host,
        repository: v.repository,
        tag: v.tag,
        digest: v.digest,
        status,
        ...moved,
        detail,
        ...(finding ? { finding } : {}),
      },
      at,
    );
    return { verdict, alert };
  }

  /**
   * `tampered`: the tag now names another digest than remembered, one not approved now nor ever seen approved here.
   * It stays tampered while it names that digest and the digest was never approved. A repository without a trust policy entry has
   * no approvals to compare with: its tags keep `unknown-repository`.
   */
  private withTampered(v: TagVerdict, prev: StoredTag | undefined): TagVerdict {
    const { status } = v.classification;
    if (!prev || status === 'approved' || status === 'unknown-repository') return v;
    if (prev.digest === v.digest && prev.status !== 'tampered') return v;
    if (this.s.wasApproved.get(v.host, v.repository, v.digest) !== undefined) return v;
    if (prev.digest === v.digest) return { ...v, classification: { status: 'tampered', detail: prev.detail } };
    return {
      ...v,
      classification: {
        status: 'tampered',
        detail: `moved from ${prev.digest} (${prev.status}) to ${v.digest}, which the gate never approved: ${v.classification.detail}`,
      },
    };
  }

  private remove(row: StoredTag, at: string): Alert | undefined {
    this.s.deleteTag.run(row.host, row.repository, row.tag);
    if (row.status === 'approved') return undefined;
    this.s.closeFinding.run(at, 'removed', row.host, row.repository, row.tag);
    return this.queue(
      {
        key: keyOf(row),
        event: 'resolved',
        host: row.host,
        repository: row.repository,
        tag: row.tag,
        digest: row.digest,
        status: 'removed',
        detail: `the tag is gone (it named ${row.digest}, ${row.status})`,
      },
      at,
    );
  }

  private queue(a: NewAlert, at: string): Alert {
    const { lastInsertRowid } = this.s.addAlert.run(
      a.key,
      a.event,
      a.host,
      a.repository,
      a.tag,
      a.digest,
      a.status,
      a.previousDigest ?? null,
      a.detail,
      at,
      a.finding ? JSON.stringify(a.finding) : null,
    );
    return { ...a, id: Number(lastInsertRowid), at };
  }
}

/** Bring the file to STATE_SCHEMA_VERSION, one transaction per step; refuse newer files and foreign databases. */
function migrate(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > STATE_SCHEMA_VERSION) {
    fail(
      'CONFIG_INVALID',
      `${file}: watch state schema ${version} was written by a newer Portcullis (this one reads up to ${STATE_SCHEMA_VERSION}); upgrade Portcullis or point the watcher at another state file`,
    );
  }
  if (version === 0) {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    if (tables.length > 0) {
      fail(
        'CONFIG_INVALID',
        `${file}: not a Portcullis watch state (it holds tables ${tables.slice(0, 5).join(', ')}); point the watcher at a new file`,
      );
    }
  }
  for (let v = version; v < STATE_SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

function prepare(db: Database.Database) {
  const tagCols = 'host, repository, tag, digest, status, detail, since';
  return {
    tag: db.prepare(`SELECT ${tagCols} FROM watch_tags WHERE host = ? AND repository = ? AND tag = ?`),
    tagsOfHost: db.prepare(`SELECT ${tagCols} FROM watch_tags WHERE host = ? ORDER BY repository, tag`),
    tagsNaming: db
      .prepare('SELECT tag FROM watch_tags WHERE host = ? AND repository = ? AND digest = ? ORDER BY tag')
      .pluck(),
    allTags: db.prepare(`SELECT ${tagCols} FROM watch_tags ORDER BY host, repository, tag`),
    putTag: db.prepare(`INSERT OR REPLACE INTO watch_tags (${tagCols}) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    setDetail: db.prepare('UPDATE watch_tags SET detail = ? WHERE host = ? AND repository = ? AND tag = ?'),
    deleteTag: db.prepare('DELETE FROM watch_tags WHERE host = ? AND repository = ? AND tag = ?'),
    approve: db.prepare(
      'INSERT OR IGNORE INTO watch_approved (host, repository, digest, first_at) VALUES (?, ?, ?, ?)',
    ),
    wasApproved: db.prepare('SELECT 1 FROM watch_approved WHERE host = ? AND repository = ? AND digest = ?'),
    approvedDigests: db
      .prepare('SELECT digest FROM watch_approved WHERE host = ? AND repository = ? ORDER BY digest')
      .pluck(),
    addAlert: db.prepare(
      `INSERT INTO watch_alerts (key, event, host, repository, tag, digest, status, previous_digest, detail, at, finding)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    maxId: db.prepare('SELECT max(id) AS m FROM watch_alerts'),
    sink: db.prepare('SELECT from_id FROM watch_sinks WHERE name = ?'),
    sinks: db.prepare('SELECT name FROM watch_sinks'),
    addSink: db.prepare('INSERT INTO watch_sinks (name, from_id, added_at) VALUES (?, ?, ?)'),
    setFrom: db.prepare('UPDATE watch_sinks SET from_id = ? WHERE name = ?'),
    pending: db.prepare(
      `SELECT * FROM watch_alerts a WHERE a.id >= @from
       AND NOT EXISTS (SELECT 1 FROM watch_deliveries d WHERE d.sink = @sink AND d.alert_id = a.id)
       ORDER BY a.id LIMIT @limit`,
    ),
    deliver: db.prepare('INSERT OR IGNORE INTO watch_deliveries (sink, alert_id, delivered_at) VALUES (?, ?, ?)'),
    forgetDeliveries: db.prepare('DELETE FROM watch_deliveries WHERE sink = ? AND alert_id < ?'),
    openFinding: db.prepare(
      `INSERT INTO watch_findings (key, host, repository, tag, digest, status, detail, opened_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    closeFinding: db.prepare(
      `UPDATE watch_findings SET resolved_at = ?, resolution = ?
       WHERE host = ? AND repository = ? AND tag = ? AND resolved_at IS NULL`,
    ),
    history: db.prepare(
      `SELECT key, status, detail, opened_at, resolved_at, resolution FROM watch_findings
       WHERE @host IS NULL OR host = @host ORDER BY id`,
    ),
    addRun: db.prepare(
      'INSERT INTO watch_runs (host, started_at, finished_at, complete, counts) VALUES (?, ?, ?, ?, ?)',
    ),
    pruneRuns: db.prepare(
      `DELETE FROM watch_runs WHERE host = @host AND id NOT IN
       (SELECT id FROM watch_runs WHERE host = @host ORDER BY id DESC LIMIT ${RUNS_KEPT})`,
    ),
    lastRun: db.prepare(
      'SELECT host, started_at, finished_at, complete, counts FROM watch_runs WHERE host = ? ORDER BY id DESC LIMIT 1',
    ),
  };
}
