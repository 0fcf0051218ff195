import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/advisories/evaluate.js';
import type { Affected, AffectedRange, RangeEvent } from '../../src/advisories/model.js';
import { SCHEME_CHOOSER } from '../../src/advisories/versions/index.js';

/** One affected row of `ecosystem` with these ranges. */
function row(ecosystem: string, ranges: AffectedRange[]): Affected {
  return { ecosystem, package: 'p', advisoryId: 'TEST-1', ranges, versions: [] };
}

function affected(ecosystem: string, version: string, ranges: AffectedRange[]) {
  const ev = evaluate(
    version,
    row(ecosystem, ranges),
    SCHEME_CHOOSER.forEcosystem(ecosystem),
    SCHEME_CHOOSER.semver(ecosystem),
  );
  return { affected: ev.affected, problems: ev.problems.length };
}

describe('evaluate: limit events (OSV "Evaluation": BeforeLimits)', () => {
  it('is before the limits when below any one of them, not only below all', () => {
    // ref: OSV schema BeforeLimits: true as soon as one limit is above v.
    const r: AffectedRange = {
      type: 'ECOSYSTEM',
      events: [{ introduced: '1.0.0' }, { limit: '1.5.0' }, { limit: '3.0.0' }],
    };
    expect(affected('npm', '2.0.0', [r])).toEqual({ affected: true, problems: 0 });
    expect(affected('npm', '1.2.0', [r])).toEqual({ affected: true, problems: 0 });
    expect(affected('npm', '3.0.0', [r])).toEqual({ affected: false, problems: 0 });
  });

  it('reads a limit of "*" as infinity, not as an unreadable version', () => {
    const r: AffectedRange = { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.0.0' }, { limit: '*' }] };
    expect(affected('npm', '1.0.0', [r])).toEqual({ affected: true, problems: 0 });
    expect(affected('npm', '2.0.0', [r])).toEqual({ affected: false, problems: 0 });
    const deb: AffectedRange = { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { limit: '*' }] };
    expect(affected('Debian:12', '1.2-3', [deb])).toEqual({ affected: true, problems: 0 });
  });
});

type Kind = 'introduced' | 'fixed' | 'last_affected' | 'limit';

/** The OSV schema's "Evaluation" pseudo-code, word for word, on versions that are plain numbers. */
function osvReference(v: number, ranges: readonly { kind: Kind; n: number }[][]): boolean {
  for (const r of ranges) {
    const limits = r.filter((e) => e.kind === 'limit');
    if (limits.length > 0 && !limits.some((e) => v < e.n)) continue;
    let vulnerable = false;
    for (const e of [...r].sort((a, b) => a.n - b.n)) {
      if (e.kind === 'introduced' && v >= e.n) vulnerable = true;
      else if (e.kind === 'fixed' && v >= e.n) vulnerable = false;
      else if (e.kind === 'last_affected' && v > e.n) vulnerable = false;
    }
    if (vulnerable) return true;
  }
  return false;
}

describe('evaluate: the OSV pseudo-code', () => {
  it('agrees with it on unsorted events, several ranges and limits (fast-check)', () => {
    const event = fc.record({
      kind: fc.constantFrom<Kind>('introduced', 'fixed', 'last_affected', 'limit'),
      n: fc.integer({ min: 1, max: 12 }),
    });
    // Distinct versions within a range: the schema leaves the order of events at one version unsaid.
    const range = fc.uniqueArray(event, { selector: (e) => e.n, maxLength: 6 });
    fc.assert(
      fc.property(fc.array(range, { maxLength: 3 }), fc.integer({ min: 0, max: 13 }), (ranges, v) => {
        const osv: AffectedRange[] = ranges.map((r) => ({
          type: 'ECOSYSTEM',
          events: r.map((e) => ({ [e.kind]: `${e.n}.0.0` }) as RangeEvent),
        }));
        expect(affected('npm', `${v}.0.0`, osv)).toEqual({ affected: osvReference(v, ranges), problems: 0 });
      }),
      { numRuns: 5000 },
    );
  });
});
