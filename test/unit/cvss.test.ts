import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CvssResult,
  type CvssScore,
  MAX_CVSS_VECTOR_LENGTH,
  scoreCvss,
  severityFromScore,
} from '../../src/advisories/cvss.js';

// The specifications' metric tables (base metrics first, then the optional groups), written out again here so the
// properties below do not lean on the module's own copy. The oracle test holds scores against the Python package.
const V3 = {
  base: { AV: 'NALP', AC: 'LH', PR: 'NLH', UI: 'NR', S: 'UC', C: 'HLN', I: 'HLN', A: 'HLN' },
  optional: {
    E: 'XHFPU',
    RL: 'XUWTO',
    RC: 'XCRU',
    CR: 'XHML',
    IR: 'XHML',
    AR: 'XHML',
    MAV: 'XNALP',
    MAC: 'XLH',
    MPR: 'XNLH',
    MUI: 'XNR',
    MS: 'XUC',
    MC: 'XHLN',
    MI: 'XHLN',
    MA: 'XHLN',
  },
};
const V4 = {
  base: {
    AV: 'NALP',
    AC: 'LH',
    AT: 'NP',
    PR: 'NLH',
    UI: 'NPA',
    VC: 'HLN',
    VI: 'HLN',
    VA: 'HLN',
    SC: 'HLN',
    SI: 'HLN',
    SA: 'HLN',
  },
  optional: {
    E: 'XAPU',
    CR: 'XHML',
    IR: 'XHML',
    AR: 'XHML',
    MAV: 'XNALP',
    MAC: 'XLH',
    MAT: 'XNP',
    MPR: 'XNLH',
    MUI: 'XNPA',
    MVC: 'XHLN',
    MVI: 'XHLN',
    MVA: 'XHLN',
    MSC: 'XHLN',
    MSI: 'XSHLN',
    MSA: 'XSHLN',
    S: 'XNP',
    AU: 'XNY',
    R: 'XAUI',
    V: 'XDC',
    RE: 'XLMH',
  },
};
const V2 = { base: { AV: 'LAN', AC: 'HML', Au: 'MSN', C: 'NPC', I: 'NPC', A: 'NPC' } };
const V2_OPTIONAL = ['E', 'RL', 'RC', 'CDP', 'TD', 'CR', 'IR', 'AR'];
const V4_OPTIONAL_ORDER = Object.keys(V4.optional);

type Fields = readonly (readonly [string, string])[];
const fields = (table: Record<string, string>): fc.Arbitrary<Fields> =>
  fc.tuple(
    ...Object.entries(table).map(([m, vs]) => fc.constantFrom(...vs.split('')).map((v): [string, string] => [m, v])),
  );
const optionalFields = (table: Record<string, string>): fc.Arbitrary<Fields> =>
  fields(table).chain((all) => fc.subarray([...all]));
const join = (prefix: string, f: Fields): string => prefix + f.map(([m, v]) => `${m}:${v}`).join('/');

const v3 = fc.tuple(fc.constantFrom('CVSS:3.0/', 'CVSS:3.1/'), fields(V3.base), optionalFields(V3.optional));
const v4 = fc.tuple(fields(V4.base), optionalFields(V4.optional));
const v2 = fields(V2.base);

function ok(r: CvssResult): CvssScore {
  if ('error' in r) throw new Error(`unexpected error: ${r.error}`);
  return r;
}

function expectWellFormed(r: CvssResult): void {
  if ('error' in r) {
    expect(r.error).toMatch(/^[^\n\r\u2028\u2029]{1,300}$/);
    return;
  }
  expect(['2.0', '3.0', '3.1', '4.0']).toContain(r.version);
  expect(r.score).toBeGreaterThanOrEqual(0);
  expect(Object.is(r.score, -0)).toBe(false);
  expect(r.score).toBeLessThanOrEqual(10);
  expect(Math.round(r.score * 10) / 10).toBe(r.score);
  expect(r.severity).toBe(severityFromScore(r.score, r.version));
}

describe('scoreCvss on hostile input', () => {
  it('never throws, and gives a score in 0-10 or a one-line error, for any string', () => {
    const allFields = [
      ...Object.entries({ ...V3.base, ...V3.optional, ...V4.base, ...V4.optional, ...V2.base }),
    ].flatMap(([m, vs]) => [...vs.split(''), 'ND', 'Clear', 'POC', 'q'].map((v) => `${m}:${v}`));
    const soup = fc
      .tuple(
        fc.constantFrom('', 'CVSS:3.0/', 'CVSS:3.1/', 'CVSS:4.0/', 'CVSS:', 'CVSS:9.9/', 'CVSS:3.1'),
        fc.array(fc.oneof(fc.constantFrom(...allFields), fc.string({ maxLength: 5 })), { maxLength: 40 }),
        fc.constantFrom('/', '//', ':', '/ '),
      )
      .map(([p, f, sep]) => p + f.join(sep));
    const input = fc.oneof(soup, fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }));
    fc.assert(
      fc.property(input, (s) => expectWellFormed(scoreCvss(s))),
      { numRuns: 5000 },
    );
  });

  it('gives an error, not a throw, for values that are not strings', () => {
    fc.assert(
      fc.property(fc.anything(), (x) => {
        fc.pre(typeof x !== 'string');
        expect(scoreCvss(x as string)).toEqual({ error: expect.stringMatching(/must be a string/) });
      }),
    );
  });

  it('refuses a vector over the length limit before reading it, and reads one at the limit', () => {
    const at = `CVSS:3.1/${'x'.repeat(MAX_CVSS_VECTOR_LENGTH - 9)}`;
    expect(at.length).toBe(MAX_CVSS_VECTOR_LENGTH);
    expect(scoreCvss(at)).toEqual({ error: expect.stringMatching(/not METRIC:VALUE/) });
    expect(scoreCvss(`${at}x`)).toEqual({ error: expect.stringMatching(/longer than 512 characters/) });
    const started = performance.now();
    expect(scoreCvss('CVSS:3.1/AV:N/'.repeat(1_000_000))).toHaveProperty('error');
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('keeps control characters and long hostile text out of error messages', () => {
    const r = scoreCvss(`CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/\u001b[31m${'Z'.repeat(300)}:H`);
    expect(r).toHaveProperty('error', expect.not.stringMatching(/\u001b/));
    expect(r).toHaveProperty('error', expect.stringMatching(/^.{1,200}$/));
  });
});

describe('scoreCvss grammar rules', () => {
  it('refuses a duplicated metric, even with the same value', () => {
    fc.assert(
      fc.property(v3, fc.nat(), ([p, base, opt], i) => {
        const f = [...base, ...opt];
        const dup = f[i % f.length] as [string, string];
        expect(scoreCvss(join(p, [...f, dup]))).toEqual({ error: expect.stringMatching(/appears twice/) });
      }),
    );
  });

  it('refuses a vector that lacks any base metric', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          v3,
          v4.map(([b, o]) => ['CVSS:4.0/', b, o] as const),
        ),
        fc.nat(),
        ([p, base, opt], i) => {
          const without = base.filter((_, j) => j !== i % base.length);
          expect(scoreCvss(join(p, [...without, ...opt]))).toEqual({
            error: expect.stringMatching(/lacks base metric/),
          });
        },
      ),
    );
  });

  it('refuses unknown metrics and values', () => {
    const base = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H';
    expect(scoreCvss(`${base}/ZZ:H`)).toEqual({ error: expect.stringMatching(/no metric 'ZZ'/) });
    expect(scoreCvss(`${base}/E:Q`)).toEqual({ error: expect.stringMatching(/E has no value 'Q'/) });
    expect(scoreCvss(`${base}/AT:N`)).toEqual({ error: expect.stringMatching(/no metric 'AT'/) });
    expect(scoreCvss(`${base}/`)).toEqual({ error: expect.stringMatching(/empty field/) });
    expect(scoreCvss(base.toLowerCase())).toHaveProperty('error');
    expect(scoreCvss(`CVSS:3.2/${base.slice(9)}`)).toEqual({ error: "unsupported CVSS version '3.2'" });
  });

  it('accepts 3.x metrics in any order, with the same score (3.x readers must accept any order)', () => {
    fc.assert(
      fc.property(
        v3.chain(([p, b, o]) =>
          fc.tuple(
            fc.constant(p),
            fc.constant([...b, ...o]),
            fc.shuffledSubarray([...b, ...o], { minLength: b.length + o.length }),
          ),
        ),
        ([p, ordered, shuffled]) => {
          expect(scoreCvss(join(p, shuffled))).toEqual(ok(scoreCvss(join(p, ordered))));
        },
      ),
    );
  });

  it('refuses 4.0 metrics out of the order of the specification, and scores them in order', () => {
    fc.assert(
      fc.property(v4, fc.nat(), fc.nat(), ([base, opt], i, j) => {
        const f = [...base, ...opt];
        const [a, b] = [i % f.length, j % f.length];
        fc.pre(a !== b);
        expectWellFormed(ok(scoreCvss(join('CVSS:4.0/', f))));
        const swapped = [...f];
        [swapped[a], swapped[b]] = [f[b] as [string, string], f[a] as [string, string]];
        expect(scoreCvss(join('CVSS:4.0/', swapped))).toEqual({
          error: expect.stringMatching(/out of the specification's order/),
        });
      }),
    );
  });

  it('gives the same score whether Not Defined metrics are written out or left out', () => {
    fc.assert(
      fc.property(v3, v4, v2, ([p, b3, o3], [b4, o4], b2) => {
        const x3 = Object.keys(V3.optional).filter((m) => !o3.some(([n]) => n === m));
        expect(scoreCvss(join(p, [...b3, ...o3, ...x3.map((m): [string, string] => [m, 'X'])]))).toEqual(
          ok(scoreCvss(join(p, [...b3, ...o3]))),
        );
        const x4 = V4_OPTIONAL_ORDER.map((m): readonly [string, string] => o4.find(([n]) => n === m) ?? [m, 'X']);
        expect(scoreCvss(join('CVSS:4.0/', [...b4, ...x4]))).toEqual(ok(scoreCvss(join('CVSS:4.0/', [...b4, ...o4]))));
        expect(scoreCvss(join('', [...b2, ...V2_OPTIONAL.map((m): [string, string] => [m, 'ND'])]))).toEqual(
          ok(scoreCvss(join('', b2))),
        );
      }),
    );
  });

  it('refuses 2.0 temporal and environmental metrics that are defined, which it does not score', () => {
    expect(scoreCvss('AV:N/AC:L/Au:N/C:P/I:P/A:P/E:F')).toEqual({
      error: 'CVSS 2.0 temporal and environmental metrics are not supported (E)',
    });
    expect(scoreCvss('AV:N/AC:L/Au:N/C:P/I:P/A:P/E:ND/RL:ND/RC:ND')).toHaveProperty('version', '2.0');
  });

  it('gives the same object for the same vector (results are cached and frozen)', () => {
    const a = scoreCvss('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H');
    expect(scoreCvss('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
  });
});

describe('severityFromScore', () => {
  it("follows FIRST's rating scale for 3.x and 4.0 and NVD's for 2.0", () => {
    const bands3 = [
      [0, 'none'],
      [0.1, 'low'],
      [3.9, 'low'],
      [4, 'medium'],
      [6.9, 'medium'],
      [7, 'high'],
      [8.9, 'high'],
      [9, 'critical'],
      [10, 'critical'],
    ] as const;
    for (const [s, want] of bands3) {
      expect(severityFromScore(s, '3.1')).toBe(want);
      expect(severityFromScore(s, '4.0')).toBe(want);
      expect(severityFromScore(s)).toBe(want);
    }
    for (const [s, want] of [
      [0, 'low'],
      [3.9, 'low'],
      [4, 'medium'],
      [6.9, 'medium'],
      [7, 'high'],
      [10, 'high'],
    ] as const) {
      expect(severityFromScore(s, '2.0')).toBe(want);
    }
  });

  it('is undefined for anything that is not a score from 0 to 10', () => {
    for (const s of [
      Number.NaN,
      -0.1,
      10.1,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      '5' as unknown as number,
    ]) {
      expect(severityFromScore(s)).toBeUndefined();
    }
  });
});
