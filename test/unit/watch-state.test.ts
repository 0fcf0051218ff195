import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import type { Status, TagVerdict } from '../../src/watch/classify.js';
import { type Alert, STATE_SCHEMA_VERSION, WatchState } from '../../src/watch/state.js';

const HOST = 'reg.test:5000';
const REPO = 'prod/app';
const D = (c: string) => `sha256:${c.repeat(64)}`;
const [A, B, C] = [D('a'), D('b'), D('c')];
const T0 = new Date('2026-03-10T12:00:00Z');
const later = (min: number) => new Date(T0.getTime() + min * 60_000);

const DETAIL: Record<string, string> = {
  approved: 'signed and assessed PASS at 2026-03-09T12:00:00Z (key keys/gate.pub)',
  unsigned: 'no signature by a trusted key',
  unassessed: 'signed, but no verified assessment attestation',
  failed: 'the assessment of 2026-03-09T12:00:00Z (key keys/gate.pub) says FAIL',
  stale: 'the latest assessment (PASS, 2026-01-01T00:00:00Z) is 68d old, more than the 7d allowed',
  'unknown-repository': 'no entry of trust.yaml matches reg.test:5000/rogue/app',
};

function v(
  tag: string,
  digest: string,
  status: Status,
  repository = REPO,
  detail = DETAIL[status] ?? status,
): TagVerdict {
  return { host: HOST, repository, tag, digest, classification: { status, detail } };
}

const tmp = mkdtempSync(join(tmpdir(), 'portcullis-state-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const opened: WatchState[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});
function open(file = ':memory:'): WatchState {
  const s = WatchState.open(file);
  opened.push(s);
  return s;
}
let fileNo = 0;
const newFile = () => join(tmp, `state-${fileNo++}.db`);

const summary = (alerts: readonly Alert[]) => alerts.map((a) => [a.event, a.tag, a.status, a.digest]);

describe('WatchState: tampered', () => {
  it('an approved tag moved to a never-approved digest is tampered, with a critical finding naming both digests', () => {
    const s = open();
    expect(s.applyReconcile(HOST, [REPO], [v('1', A, 'approved')], T0).queued).toEqual([]);
    const r = s.applyReconcile(HOST, [REPO], [v('1', B, 'unsigned')], later(5));
    expect(r.verdicts[0]?.classification).toEqual({
      status: 'tampered',
      detail: `moved from ${A} (approved) to ${B}, which the gate never approved: no signature by a trusted key`,
    });
    expect(r.queued).toHaveLength(1);
    const a = r.queued[0] as Alert;
    expect(a).toMatchObject({
      event: 'opened',
      status: 'tampered',
      digest: B,
      previousDigest: A,
      key: `${HOST}/${REPO}:1@${B}#tampered`,
      at: later(5).toISOString(),
    });
    expect(a.finding).toMatchObject({
      ruleId: 'watch-tampered',
      severity: 'critical',
      location: { kind: 'registry', host: HOST, path: `${REPO}:1` },
    });
    expect(s.tags()).toEqual([
      { host: HOST, repository: REPO, tag: '1', digest: B, status: 'tampered', since: later(5).toISOString() },
    ]);
  });

  it('twin: a tag moved to a digest approved now is fine, and no alert is queued', () => {
    const s = open();
    s.applyReconcile(HOST, [REPO], [v('1', A, 'approved')], T0);
    const r = s.applyReconcile(HOST, [REPO], [v('1', B, 'approved')], later(5));
    expect(r.verdicts[0]?.classification.status).toBe('approved');
    expect(r.queued).toEqual([]);
  });

  it('a tag moved to a digest seen approved before, now stale, keeps stale (not tampered)', () => {
    const s = open();
    s.applyReconcile(HOST, [REPO], [v('1', A, 'approved'), v('2', B, 'approved')], T0);
    // Tag 2 goes away, B's assessment ages; then tag 1 moves to B.
    s.applyReconcile(HOST, [REPO], [v('1', A, 'approved')], later(5));
    const r = s.applyReconcile(HOST, [REPO], [v('1', B, 'stale')], later(10));
    expect(r.verdicts[0]?.classification.status).toBe('stale');
    expect(summary(r.queued)).toEqual([['opened', '1', 'stale', B]]);
    expect(s.wasApproved(HOST, REPO, B)).toBe(true);
    expect(s.wasApproved(HOST, 'other/repo', B)).toBe(false);
  });

  it('an approval in the same reconcile (another tag naming the digest) counts', () => {
    const s = open();
    s.applyReconcile(HOST, [REPO], [v('latest', A, 'approved')], T0);
    const r = s.applyReconcile(HOST, [REPO], [v('latest', B, 'approved'), v('v2', B, 'approved')], later(1));
    expect(r.queued).toEqual([]);
  });

  it('a tag first seen has no history: its plain status', () => {
    const s = open();
    const r = s.applyReconcile(HOST, [REPO], [v('1', B, 'unsigned')], T0);
    expect(r.verdicts[0]?.classification.status).toBe('unsigned');
    expect(r.queued[0]?.finding?.ruleId).toBe('watch-unsigned');
    expect(r.queued[0]?.previousDigest).toBeUndefined();
  });

  it('a repository without a trust policy entry keeps unknown-repository when a tag moves', () => {
    const s = open();
    s.applyReconcile(HOST, ['rogue/app'], [v('1', A, 'unknown-repository', 'rogue/app')], T0);
    const r = s.applyReconcile(HOST, ['rogue/app'], [v('1', B, 'unknown-repository', 'rogue/app')], later(1));
    expect(r.verdicts[0]?.classification.status).toBe('unknown-repository');
    expect(summary(r.queued)).toEqual([['opened', '1', 'unknown-repository', B]]);
  });

  it('tampered stays while the tag names that digest, alerts once, and resolves when the digest is approved', () => {
    const s = open();
    s.applyReconcile(HOST, [REPO], [v('1', A, 'approved')], T0);
    s.applyReconcile(HOST, [REPO], [v('1', B, 'unsigned')], later(1));
    // Later someone signs it, without an assessment: still a digest the gate never approved.
    const again = s.applyReconcile(HOST, [REPO], [v('1', B, 'unassessed')], later(2));
    expect(again.verdicts[0]?.classification.status).toBe('tampered');
    expect(again.verdicts[0]?.classification.detail).toContain(`moved from ${A} (approved) to ${B}`);
    expect(again.queued).toEqual([]);
    const fixed = s.applyReconcile(HOST, [REPO], [v('1', B, 'approved')], later(3));
    expect(summary(fixed.queued)).toEqual([['resolved', '1', 'approved', B]]);
    expect(fixed.queued[0]?.key).toBe(`${HOST}/${REPO}:1@${B}#tampered`);
    expect(fixed.queued[0]?.previousDigest).toBeUndefined();
  });

  it('a moved tag from a notification (applyTag) is tampered too', () => {
    const s = open();
    s.applyTag(v('1', A, 'approved'), T0);
    const r = s.applyTag(v('1', C, 'failed'), later(1));
    expect(r.verdict.classification.status).toBe('tampered');
    expect(r.verdict.classification.detail).toContain('says FAIL');
    expect(summary(r.queued)).toEqual([['opened', '1', 'tampered', C]]);
  });
});

describe('WatchState: de-duplication and resolution', () => {
  it('the same non-approved state in every reconcile alerts once; a changed detail alone does not alert', () => {
    const s = open();
    const first = s.applyReconcile(HOST, [REPO], [v('1', A, 'stale', REPO, 'is 8d old')], T0);
    expect(first.queued).toHaveLength(1);
    for (let i = 1; i <= 3; i++) {
      expect(s.applyReconcile(HOST, [REPO], [v('1', A, 'stale', REPO, `is ${8 + i}d old`)], later(i)).queued).toEqual(
        [],
      );
    }
    expect(s.tags()[0]?.since).toBe(T0.toISOString());
    expect(s.history()).toEqual([
      { key: `${HOST}/${REPO}:1@${A}#stale`, status: 'stale', detail: 'is 8d old', openedAt: T0.toISOString() },
    ]);
  });

  it('approved to approved never alerts; non-approved to approved resolves once', () => {
    const s = open();
    s.applyReconcile(HOST, [REPO], [v('1', A, 'approved')], T0);
    expect(s.applyReconcile(HOST, [REPO], [v('1', A, 'approved')], later(1)).queued).toEqual([]);
    s.applyReconcile(HOST, [REPO], [v('2', B, 'unassessed'), v('1', A, 'approved')], later(2));
    const r = s.applyReconcile(HOST, [REPO], [v('2', B, 'approved'), v('1', A, 'approved')], later(3));
    expect(summary(r.queued)).toEqual([['resolved', '2', 'approved', B]]);
    expect(r.queued[0]?.key).toBe(`${HOST}/${REPO}:2@${B}#unassessed`);
    expect(s.applyReconcile(HOST, [REPO], [v('2', B, 'approved'), v('1', A, 'approved')], later(4)).queued).toEqual([]);
    expect(s.history()[0]).toMatchObject({ resolvedAt: later(3).toISOString(), resolution: 'approved' });
  });

  it('a change between non-approved states opens a new alert and supersedes the old finding', () => {
    const s = open();
    s.applyReconcile(HOST, [REPO], [v('1', A, 'unassessed')], T0);
    const r = s.applyReconcile(HOST, [REPO], [v('1', A, 'failed')], later(1));
    expect(summary(r.queued)).toEqual([['opened', '1', 'failed', A]]);
    expect(s.history().map((h) => [h.status, h.resolution])).toEqual([
      ['unassessed', 'superseded'],
      ['failed', undefined],
    ]);
  });

  it('a tag missing from a complete reconcile resolves as removed with its last digest; vanished and unwatched are kept', () => {
    const s = open();
    s.applyReconcile(
      HOST,
      [REPO, 'prod/other'],
      [v('1', A, 'unsigned'), v('2', B, 'unsigned'), v('3', C, 'approved'), v('x', A, 'unsigned', 'prod/other')],
      T0,
    );
    // Tag 2 was listed but gone by the time its digest was asked for; prod/other was not reconciled this time.
    const r = s.applyReconcile(HOST, [REPO], [], later(1), [`${REPO}:2`]);
    expect(summary(r.queued)).toEqual([['resolved', '1', 'removed', A]]);
    expect(r.queued[0]?.key).toBe(`${HOST}/${REPO}:1@${A}#unsigned`);
    expect(s.tags().map((t) => `${t.repository}:${t.tag}`)).toEqual([`${REPO}:2`, 'prod/other:x']);
  });

  it('removeTag (a delete notification) resolves an open alert; an approved tag leaves quietly', () => {
    const s = open();
    s.applyReconcile(HOST, [REPO], [v('1', A, 'unsigned'), v('2', B, 'approved')], T0);
    expect(summary(s.removeTag(HOST, REPO, '1', later(1)))).toEqual([['resolved', '1', 'removed', A]]);
    expect(s.removeTag(HOST, REPO, '2', later(1))).toEqual([]);
    expect(s.removeTag(HOST, REPO, 'never', later(1))).toEqual([]);
    expect(s.tags()).toEqual([]);
  });

  it('another host is untouched by a reconcile', () => {
    const s = open();
    s.applyTag({ ...v('1', A, 'unsigned'), host: 'other:5000' }, T0);
    expect(s.applyReconcile(HOST, [REPO], [], later(1)).queued).toEqual([]);
    expect(s.tags('other:5000')).toHaveLength(1);
  });
});

describe('WatchState: the outbox and restarts', () => {
  it('a restart neither repeats delivered alerts nor loses undelivered ones', () => {
    const file = newFile();
    let s = WatchState.open(file);
    const q = s.applyReconcile(HOST, [REPO], [v('1', A, 'unsigned'), v('2', B, 'failed'), v('3', C, 'stale')], T0);
    expect(s.pending('hook').map((a) => a.id)).toEqual(q.queued.map((a) => a.id));
    s.markDelivered(q.queued[0]?.id as number, 'hook', later(1));
    s.close();

    s = open(file);
    expect(s.pending('hook')).toEqual(q.queued.slice(1));
    // The same tags seen again after the restart: nothing new.
    expect(
      s.applyReconcile(HOST, [REPO], [v('1', A, 'unsigned'), v('2', B, 'failed'), v('3', C, 'stale')], later(2)).queued,
    ).toEqual([]);
    for (const a of s.pending('hook')) s.markDelivered(a.id, 'hook', later(3));
    expect(s.pending('hook')).toEqual([]);
    s.close();
    expect(open(file).pending('hook')).toEqual([]);
  });

  it('pending is oldest first and honours limit; sinks are independent', () => {
    const s = open();
    const q = s.applyReconcile(
      HOST,
      [REPO],
      ['1', '2', '3', '4'].map((t) => v(t, A, 'unsigned')),
      T0,
    ).queued;
    expect(s.pending('a', 2).map((x) => x.tag)).toEqual(['1', '2']);
    expect(s.pending('b', 10)).toHaveLength(4);
    s.markDelivered(q[1]?.id as number, 'a', T0);
    expect(s.pending('a').map((x) => x.tag)).toEqual(['1', '3', '4']);
    expect(s.pending('b').map((x) => x.tag)).toEqual(['1', '2', '3', '4']);
  });

  it('a sink named for the first time gets what another sink still lacks, not the delivered history', () => {
    const s = open();
    const q = s.applyReconcile(HOST, [REPO], [v('1', A, 'unsigned'), v('2', B, 'unsigned')], T0).queued;
    s.pending('old');
    s.markDelivered(q[0]?.id as number, 'old', T0);
    expect(s.pending('old').map((x) => x.tag)).toEqual(['2']);
    expect(s.pending('new').map((x) => x.tag)).toEqual(['2']);
    s.markDelivered(q[1]?.id as number, 'old', T0);
    s.markDelivered(q[1]?.id as number, 'new', T0);
    expect(s.pending('old')).toEqual([]);
    expect(s.pending('newest')).toEqual([]);
    const next = s.applyReconcile(HOST, [REPO], [v('1', A, 'approved'), v('2', B, 'unsigned')], later(1)).queued;
    for (const sink of ['old', 'new', 'newest']) expect(s.pending(sink)).toEqual(next);
  });

  it('records runs and answers the last one per host, keeping the last 1000', () => {
    const s = open();
    expect(s.lastRun(HOST)).toBeUndefined();
    for (let i = 0; i < 1005; i++) {
      s.recordRun({
        host: HOST,
        startedAt: later(i).toISOString(),
        finishedAt: later(i + 0.5).toISOString(),
        complete: i % 2 === 0,
        counts: { approved: i, unsigned: 1 },
      });
    }
    s.recordRun({ host: 'other', startedAt: 'x', finishedAt: 'y', complete: false, counts: {} });
    expect(s.lastRun(HOST)).toEqual({
      host: HOST,
      startedAt: later(1004).toISOString(),
      finishedAt: later(1004.5).toISOString(),
      complete: true,
      counts: { approved: 1004, unsigned: 1 },
    });
    expect(s.db.prepare('SELECT count(*) FROM watch_runs WHERE host = ?').pluck().get(HOST)).toBe(1000);
  });
});

describe('WatchState.open: schema', () => {
  it('creates the schema at the current version in WAL mode; other modules can add their tables', () => {
    const file = newFile();
    const s = open(file);
    expect(s.db.pragma('user_version', { simple: true })).toBe(STATE_SCHEMA_VERSION);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    s.db.exec('CREATE TABLE IF NOT EXISTS sbom_store (digest TEXT PRIMARY KEY)');
    s.close();
    expect(open(file).db.prepare("SELECT name FROM sqlite_master WHERE name = 'sbom_store'").pluck().get()).toBe(
      'sbom_store',
    );
  });

  it('refuses a file written by a newer Portcullis, naming file and versions', () => {
    const file = newFile();
    const raw = new Database(file);
    raw.pragma(`user_version = ${STATE_SCHEMA_VERSION + 7}`);
    raw.close();
    const err = catchOpen(file);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain(file);
    expect(err.message).toMatch(new RegExp(`schema ${STATE_SCHEMA_VERSION + 7} was written by a newer Portcullis`));
  });

  it('refuses another SQLite database and a file that is not SQLite', () => {
    const foreign = newFile();
    const raw = new Database(foreign);
    raw.exec('CREATE TABLE meta (key TEXT)');
    raw.close();
    expect(catchOpen(foreign).message).toMatch(/not a Portcullis watch state \(it holds tables meta\)/);
    const junk = newFile();
    writeFileSync(junk, 'x'.repeat(4096));
    const err = catchOpen(junk);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain(junk);
    expect(err.message.split('\n')).toHaveLength(1);
  });
});

function catchOpen(file: string): PortcullisError {
  try {
    WatchState.open(file).close();
  } catch (err) {
    expect(err).toBeInstanceOf(PortcullisError);
    return err as PortcullisError;
  }
  throw new Error(`${file} opened`);
}

describe('WatchState: properties over reconcile sequences', () => {
  const TAGS = ['t1', 't2', 't3'];
  const DIGESTS = [A, B, C];
  const STATUSES: Status[] = ['approved', 'approved', 'unsigned', 'stale', 'failed'];
  const observation = fc.record({ digest: fc.constantFrom(...DIGESTS), status: fc.constantFrom(...STATUSES) });
  // Each reconcile: per tag an observation, or absent (removed).
  const reconcileArb = fc.tuple(...TAGS.map(() => fc.option(observation, { nil: undefined })));

  it('alerts follow (digest, status) changes exactly, tampered follows its rule, and restarts change nothing', () => {
    fc.assert(
      fc.property(fc.array(reconcileArb, { minLength: 1, maxLength: 8 }), fc.nat(8), (runs, restartAt) => {
        const file = newFile();
        let s = WatchState.open(file);
        try {
          const effective = new Map<string, { digest: string; status: string }>();
          const approvedEver = new Set<string>();
          const lastOpened = new Map<string, Alert>();
          const queuedIds: number[] = [];
          runs.forEach((run, i) => {
            if (i === restartAt) {
              s.close();
              s = WatchState.open(file);
            }
            const verdicts = TAGS.flatMap((t, k) => {
              const o = run[k];
              return o ? [v(t, o.digest, o.status)] : [];
            });
            const r = s.applyReconcile(HOST, [REPO], verdicts, later(i));
            queuedIds.push(...r.queued.map((a) => a.id));
            for (const x of verdicts) if (x.classification.status === 'approved') approvedEver.add(x.digest);
            const perTag = new Map<string, Alert[]>();
            for (const a of r.queued) perTag.set(a.tag, [...(perTag.get(a.tag) ?? []), a]);
            for (const t of TAGS) {
              const before = effective.get(t);
              const out = r.verdicts.find((x) => x.tag === t);
              const now = out ? { digest: out.digest, status: out.classification.status } : undefined;
              const alerts = perTag.get(t) ?? [];
              expect(alerts.length).toBeLessThanOrEqual(1);
              const changed = before?.digest !== now?.digest || before?.status !== now?.status;
              if (now && out && now.status === 'tampered') {
                // Only a move (or staying on the moved-to digest) to a digest never approved here.
                expect(approvedEver.has(now.digest)).toBe(false);
                expect(before === undefined).toBe(false);
              }
              if (now && out && before && before.digest !== now.digest && now.status !== 'approved') {
                const input = verdicts.find((x) => x.tag === t);
                const wasEver = s.wasApproved(HOST, REPO, now.digest);
                expect(now.status).toBe(wasEver ? input?.classification.status : 'tampered');
              }
              if (!changed) expect(alerts).toEqual([]);
              else if (now && now.status !== 'approved') {
                // Each new non-approved state: exactly one opened alert, keyed by it.
                expect(alerts.map((a) => [a.event, a.key])).toEqual([
                  ['opened', `${HOST}/${REPO}:${t}@${now.digest}#${now.status}`],
                ]);
              } else if (before && before.status !== 'approved') {
                // The open state ended (approved or gone): one resolved alert carrying its key.
                expect(alerts.map((a) => [a.event, a.key, a.status])).toEqual([
                  ['resolved', lastOpened.get(t)?.key, now ? 'approved' : 'removed'],
                ]);
              } else expect(alerts).toEqual([]);
              for (const a of alerts) if (a.event === 'opened') lastOpened.set(t, a);
              if (now) effective.set(t, now);
              else effective.delete(t);
            }
          });
          // Every alert queued is pending exactly once, in queue order, across the restart.
          expect(s.pending('sink', 10_000).map((a) => a.id)).toEqual(queuedIds);
        } finally {
          s.close();
          rmSync(file, { force: true });
          rmSync(`${file}-wal`, { force: true });
          rmSync(`${file}-shm`, { force: true });
        }
      }),
      { numRuns: 100 },
    );
  });
});
