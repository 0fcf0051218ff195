import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/advisories/evaluate.js';
import type { Affected, AffectedRange } from '../../src/advisories/model.js';
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
