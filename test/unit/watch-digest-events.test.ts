import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Status, TagVerdict } from '../../src/watch/classify.js';
import type { WatchedRegistry } from '../../src/watch/config.js';
import { addToGroups, type EventGroups } from '../../src/watch/daemon.js';
import type { WatchEvent } from '../../src/watch/notifications.js';
import { STATE_SCHEMA_VERSION, WatchState } from '../../src/watch/state.js';

/** Digest events look their tags up by index; the groups they make are those of the former full-table scan. */

const HOST = 'reg.test:5000';
const REPOS = ['prod/app', 'prod/db', 'team/x'];
const TAGS = ['1', '2', 'latest', 'v3'];
const DIGESTS = ['a', 'b', 'c'].map((c) => `sha256:${c.repeat(64)}`);
const ENTRY = { host: HOST } as WatchedRegistry;
const T0 = new Date('2026-03-10T12:00:00Z');
const tmp = mkdtempSync(join(tmpdir(), 'portcullis-digestevents-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function verdict(repository: string, tag: string, digest: string, status: Status): TagVerdict {
  return { host: HOST, repository, tag, digest, classification: { status, detail: status } };
}

/** The behaviour before: every tag of the host read per digest event and filtered. */
function scanGroups(state: WatchState, events: readonly WatchEvent[]): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const e of events) {
    const k = `${HOST}/${e.repository}`;
    const g = out[k] ?? new Set<string>();
    out[k] = g;
    if (e.kind === 'tag') g.add(e.tag);
    else for (const t of state.tags(HOST)) if (t.repository === e.repository && t.digest === e.digest) g.add(t.tag);
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()]));
}

function indexedGroups(state: WatchState, events: readonly WatchEvent[]): Record<string, string[]> {
  const groups: EventGroups = new Map();
  for (const e of events) addToGroups(groups, ENTRY, e, (h, r, d) => state.tagsNaming(h, r, d));
  return Object.fromEntries([...groups].map(([k, g]) => [k, [...g.tags].sort()]));
}

const tagRow = fc.record({
  repository: fc.constantFrom(...REPOS),
  tag: fc.constantFrom(...TAGS),
  digest: fc.constantFrom(...DIGESTS),
  status: fc.constantFrom<Status>('approved', 'unsigned', 'failed'),
});
const event: fc.Arbitrary<WatchEvent> = fc.oneof(
  fc.record({
    kind: fc.constant('tag' as const),
    action: fc.constantFrom('push' as const, 'delete' as const),
    id: fc.constant(undefined),
    host: fc.constant(HOST),
    repository: fc.constantFrom(...REPOS),
    tag: fc.constantFrom(...TAGS),
  }),
  fc.record({
    kind: fc.constant('digest' as const),
    action: fc.constantFrom('push' as const, 'delete' as const),
    id: fc.constant(undefined),
    host: fc.constant(HOST),
    repository: fc.constantFrom(...REPOS),
    digest: fc.constantFrom(...DIGESTS),
  }),
);

describe('digest events: indexed lookup', () => {
  it('groups exactly as the full-table scan did, for any tag table and event batch', () => {
    fc.assert(
      fc.property(fc.array(tagRow, { maxLength: 30 }), fc.array(event, { maxLength: 20 }), (rows, events) => {
        const state = WatchState.open(':memory:');
        try {
          // Another host naming the same digests must not leak in.
          state.applyReconcile(
            'other.test',
            REPOS,
            [verdict(REPOS[0] as string, '1', DIGESTS[0] as string, 'failed')].map((v) => ({
              ...v,
              host: 'other.test',
            })),
            T0,
          );
          const unique = new Map(rows.map((r) => [`${r.repository}:${r.tag}`, r]));
          state.applyReconcile(
            HOST,
            REPOS,
            [...unique.values()].map((r) => verdict(r.repository, r.tag, r.digest, r.status)),
            T0,
          );
          expect(indexedGroups(state, events)).toEqual(scanGroups(state, events));
        } finally {
          state.close();
        }
      }),
      { numRuns: 200 },
    );
  });

  it('the lookup uses the (host, repository, digest) index, and a schema-1 file gains it when opened', () => {
    const file = join(tmp, 'v1.db');
    let s = WatchState.open(file);
    s.applyReconcile(HOST, REPOS, [verdict('prod/app', '1', DIGESTS[0] as string, 'unsigned')], T0);
    // Back to what a schema-1 file looked like.
    s.db.exec('DROP INDEX watch_tags_digest');
    s.db.pragma('user_version = 1');
    s.close();

    s = WatchState.open(file);
    try {
      expect(STATE_SCHEMA_VERSION).toBe(2);
      expect(s.db.pragma('user_version', { simple: true })).toBe(2);
      expect(s.tagsNaming(HOST, 'prod/app', DIGESTS[0] as string)).toEqual(['1']);
      const plan = s.db
        .prepare('EXPLAIN QUERY PLAN SELECT tag FROM watch_tags WHERE host = ? AND repository = ? AND digest = ?')
        .all(HOST, 'prod/app', DIGESTS[0]) as { detail: string }[];
      expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING (COVERING )?INDEX watch_tags_digest/);
    } finally {
      s.close();
    }
  });
});
