import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAlpineSecdb, parseAlpineSecdb } from '../../src/advisories/alpine.js';
import { isDebianTracker, parseDebianTracker } from '../../src/advisories/debian.js';
import { parseOsv } from '../../src/advisories/osv.js';

describe('parseOsv', () => {
  it('reads a GHSA record with PyPI names normalised and severity kept', () => {
    const r = parseOsv({
      id: 'GHSA-xxxx-yyyy-zzzz',
      modified: '2024-01-01T00:00:00Z',
      aliases: ['CVE-2024-1'],
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
      database_specific: { severity: 'CRITICAL' },
      affected: [
        {
          package: { ecosystem: 'PyPI', name: 'Django_REST.framework' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.15.2' }] }],
        },
      ],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.advisory).toMatchObject({ source: 'osv/GHSA', aliases: ['CVE-2024-1'], severityLabel: 'CRITICAL' });
    expect(r.affected[0]).toMatchObject({ ecosystem: 'PyPI', package: 'django-rest-framework' });
  });

  it('reads Debian status from database_specific (resolved, fixed_version 0 = not affected)', () => {
    const r = parseOsv({
      id: 'CVE-2020-1',
      modified: 'm',
      affected: [
        {
          package: { ecosystem: 'Debian:12', name: 'tar' },
          ranges: [],
          database_specific: { status: 'resolved', fixed_version: '0', urgency: 'low' },
        },
      ],
    });
    expect(r.ok && r.affected[0]).toMatchObject({ status: 'not-affected', urgency: 'low' });
  });

  it('reads upstream ids, and the CVEs a Debian DSA/DLA/DTSA lists as related where it has no upstream', () => {
    const doc = (id: string, extra: Record<string, unknown>) => ({ id, modified: 'm', affected: [], ...extra });
    const upstreamOf = (d: unknown) => {
      const r = parseOsv(d);
      if (!r.ok) throw new Error(r.reason);
      return r.advisory.upstream ?? [];
    };
    // osv.dev's current Debian and Ubuntu records: the distribution's view of a CVE, and the notice fixing several.
    expect(upstreamOf(doc('DEBIAN-CVE-2023-2929', { upstream: ['CVE-2023-2929'] }))).toEqual(['CVE-2023-2929']);
    expect(upstreamOf(doc('USN-6000-1', { upstream: ['CVE-2023-1', 'CVE-2023-2'], related: ['CVE-2023-3'] }))).toEqual([
      'CVE-2023-1',
      'CVE-2023-2',
    ]);
    // Once each, strings only; aliases stay aliases.
    const cga = parseOsv(doc('CGA-1', { aliases: ['GHSA-1'], upstream: ['GHSA-1', 'CVE-2024-1', 'CVE-2024-1', 7] }));
    expect(cga.ok && [cga.advisory.aliases, cga.advisory.upstream]).toEqual([['GHSA-1'], ['GHSA-1', 'CVE-2024-1']]);
    // Debian's fix advisories from before the field: their related CVEs (only CVEs: a DSA's related DLA is not it).
    expect(upstreamOf(doc('DSA-5418-1', { related: ['CVE-2023-2929', 'CVE-2023-2930', 'DLA-1-1'] }))).toEqual([
      'CVE-2023-2929',
      'CVE-2023-2930',
    ]);
    expect(upstreamOf(doc('DLA-3000-1', { related: ['CVE-2022-1'] }))).toEqual(['CVE-2022-1']);
    // An upstream field, even empty, is the record's own word over related.
    expect(upstreamOf(doc('DSA-1-1', { upstream: [], related: ['CVE-2023-1'] }))).toEqual([]);
    // Anyone else's related records are merely related: not what the record addresses.
    const ghsa = parseOsv(doc('GHSA-aaaa-bbbb-cccc', { related: ['CVE-2024-9'] }));
    expect(ghsa.ok && [ghsa.advisory.aliases, ghsa.advisory.upstream]).toEqual([[], undefined]);
    expect(upstreamOf(doc('PYSEC-2024-1', { related: ['CVE-2024-9'] }))).toEqual([]);
    // Bounded: a record naming more ids than any real one is refused, not matched in quadratic time.
    const ids = Array.from({ length: 5001 }, (_, i) => `CVE-2024-${10000 + i}`);
    expect(parseOsv(doc('DSA-1-1', { upstream: ids }))).toEqual({
      ok: false,
      reason: 'DSA-1-1: more than 5000 aliases and upstream ids',
    });
  });

  it('refuses malformed records with a reason and never throws', () => {
    expect(parseOsv({ id: 'X', modified: 'm', affected: [{ package: {} }] })).toEqual({
      ok: false,
      reason: 'X: affected[0] lacks ecosystem or name',
    });
    fc.assert(
      fc.property(fc.jsonValue(), (doc) => {
        const r = parseOsv(doc);
        if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.record({ id: fc.string(), modified: fc.string(), affected: fc.jsonValue(), severity: fc.jsonValue() }),
        (doc) => {
          parseOsv(doc);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('parseDebianTracker', () => {
  it('maps tracker statuses: fixed, not-affected, open, ignored, end-of-life', () => {
    const doc = {
      openssl: {
        'CVE-1': {
          releases: { bookworm: { status: 'resolved', fixed_version: '3.0.11-1~deb12u1', urgency: 'medium' } },
        },
        'CVE-2': { releases: { bookworm: { status: 'resolved', fixed_version: '0', urgency: 'not yet assigned' } } },
        'CVE-3': { releases: { bookworm: { status: 'open', urgency: 'unimportant' } } },
        'CVE-4': {
          releases: { bookworm: { status: 'open', urgency: 'low', nodsa: 'Minor issue', nodsa_reason: '<ignored>' } },
        },
        'CVE-5': { releases: { bookworm: { status: 'open', urgency: 'end-of-life' }, sid: { status: 'open' } } },
      },
    };
    expect(isDebianTracker(doc)).toBe(true);
    const out = [...parseDebianTracker(doc, 'm')].flatMap((r) =>
      r.affected.map((a) => `${a.advisoryId} ${a.ecosystem} ${a.status} ${a.urgency} ${a.noDsa ?? ''}`.trim()),
    );
    expect(out).toEqual([
      'CVE-1 Debian:12 fixed medium',
      'CVE-2 Debian:12 not-affected not yet assigned',
      'CVE-3 Debian:12 open unimportant',
      'CVE-4 Debian:12 will-not-fix low <ignored>',
      'CVE-5 Debian:12 end-of-life end-of-life',
    ]);
  });

  it('reads only the releases it knows, whatever names a hostile file gives them', () => {
    // As JSON.parse reads a file: `__proto__` is an own key there, not the prototype.
    const doc = JSON.parse(
      '{"openssl": {"CVE-1": {"releases": {"constructor": {"status": "open"}, "__proto__": {"status": "open"}, "toString": {"status": "open"}, "bookworm": {"status": "open"}}}}}',
    );
    const out = [...parseDebianTracker(doc, 'm')].flatMap((r) => r.affected.map((a) => a.ecosystem));
    expect(out).toEqual(['Debian:12']);
  });
});

describe('parseAlpineSecdb', () => {
  it('turns secfixes into fixed ranges per origin, with 0 meaning never affected', () => {
    const doc = {
      distroversion: 'v3.19',
      reponame: 'main',
      packages: [{ pkg: { name: 'openssl', secfixes: { '3.1.4-r1': ['CVE-2023-5678'], '0': ['CVE-2022-1473'] } } }],
    };
    expect(isAlpineSecdb(doc)).toBe(true);
    const recs = [...parseAlpineSecdb(doc, 'm')].sort((a, b) => (a.advisory.id < b.advisory.id ? -1 : 1));
    expect(
      recs.map((r) => [r.advisory.id, r.advisory.source, r.affected[0]?.ecosystem, r.affected[0]?.status]),
    ).toEqual([
      ['CVE-2022-1473', 'alpine-secdb/v3.19/main', 'Alpine:v3.19', 'not-affected'],
      ['CVE-2023-5678', 'alpine-secdb/v3.19/main', 'Alpine:v3.19', 'fixed'],
    ]);
  });
});
