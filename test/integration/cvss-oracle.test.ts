import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_CVSS_VECTOR_LENGTH, scoreCvss } from '../../src/advisories/cvss.js';
import {
  allBaseVectors,
  judge,
  type OracleAnswer,
  type OracleTables,
  oracleScores,
  oracleTables,
  sample,
  VERSIONS,
  validVector,
} from '../helpers/cvss-oracle.js';

const SEED = Date.now() % 2 ** 31;
const RUNS = 3000;
let tables: OracleTables;

beforeAll(() => {
  tables = oracleTables();
});

/** Compare scoreCvss with the oracle over vectors both should accept; the disagreements, and the tolerated ones. */
function compareAccepted(vectors: readonly string[]): { mismatches: string[]; tolerated: string[] } {
  const answers = oracleScores(vectors);
  const mismatches: string[] = [];
  const tolerated: string[] = [];
  vectors.forEach((v, i) => {
    const answer = answers[i] as OracleAnswer;
    const ours = scoreCvss(v);
    const verdict = 'error' in answer ? 'the oracle refuses a valid vector' : judge(v, ours, answer);
    const show = `${verdict}: ${v}: ours ${JSON.stringify(ours)}, oracle ${JSON.stringify(answer)} (seed ${SEED})`;
    if (verdict === 'tolerated') tolerated.push(show);
    else if (verdict !== 'equal') mismatches.push(show);
  });
  return { mismatches, tolerated };
}

describe('scoreCvss against the Python cvss package', () => {
  for (const version of VERSIONS) {
    it(`scores ${RUNS} random valid CVSS ${version} vectors (every metric, optional groups) as the oracle does`, () => {
      const vectors = sample(validVector(tables, version), RUNS, SEED);
      const { mismatches, tolerated } = compareAccepted(vectors);
      expect(mismatches).toEqual([]);
      // The 3.0 float round-up differs on a handful of vectors per thousand at most, never elsewhere.
      expect(tolerated.length).toBeLessThanOrEqual(version === '3.0' ? RUNS / 100 : 0);
      expect(new Set(vectors).size).toBeGreaterThan(RUNS / 2);
    });
  }

  for (const version of ['2.0', '3.0', '3.1'] as const) {
    it(`scores every CVSS ${version} base vector as the oracle does`, () => {
      const vectors = allBaseVectors(tables, version);
      expect(vectors.length).toBeGreaterThan(700);
      const { mismatches, tolerated } = compareAccepted(vectors);
      expect(mismatches).toEqual([]);
      expect(tolerated).toEqual([]);
    });
  }

  it('refuses CVSS 2.0 temporal and environmental metrics, which the library scores off the guide', () => {
    const { metrics, mandatory } = { metrics: tables['2.0'], mandatory: tables.mandatory['2.0'] };
    const optional = Object.keys(metrics).filter((m) => !mandatory.includes(m));
    const arb = fc
      .tuple(
        validVector(tables, '2.0'),
        fc
          .constantFrom(...optional)
          .chain((m) => fc.constantFrom(...(metrics[m] ?? []).filter((v) => v !== 'ND')).map((v) => [m, v] as const)),
      )
      .map(([v, [m, value]]) => {
        const kept = v.split('/').filter((f) => !f.startsWith(`${m}:`));
        const order = Object.keys(metrics);
        return [...kept, `${m}:${value}`]
          .sort((a, b) => order.indexOf(a.split(':')[0] ?? '') - order.indexOf(b.split(':')[0] ?? ''))
          .join('/');
      });
    const vectors = sample(arb, 500, SEED);
    const answers = oracleScores(vectors);
    vectors.forEach((v, i) => {
      expect(answers[i], v).toHaveProperty('scores');
      expect(scoreCvss(v), v).toEqual({
        error: expect.stringMatching(/^CVSS 2\.0 temporal and environmental metrics are not supported/),
      });
    });
  });
});

type Mutation = (fields: string[], a: number, b: number, text: string, other: string) => string[] | string;

/** Ways to break a vector: each gives the new fields (joined with '/') or a whole new string. */
const MUTATIONS: Record<string, Mutation> = {
  duplicate: (f, a, b) => [...f.slice(0, b % (f.length + 1)), f[a % f.length] ?? '', ...f.slice(b % (f.length + 1))],
  duplicateOtherValue: (f, a, _b, _t, other) => [
    ...f,
    `${(f[a % f.length] ?? '').split(':')[0]}:${other.split(':')[1]}`,
  ],
  unknownMetric: (f, a, _b, text) => [...f.slice(0, a % f.length), `${text}:H`, ...f.slice(a % f.length)],
  foreignMetric: (f, a, _b, _t, other) => [...f.slice(0, a % f.length), other, ...f.slice(a % f.length)],
  badValue: (f, a, _b, text) => f.map((x, i) => (i === a % f.length ? `${x.split(':')[0]}:${text}` : x)),
  otherValue: (f, a, _b, _t, other) =>
    f.map((x, i) => (i === a % f.length ? `${x.split(':')[0]}:${other.split(':')[1]}` : x)),
  drop: (f, a) => f.filter((_, i) => i !== a % f.length),
  swap: (f, a, b) => {
    const g = [...f];
    const [i, j] = [a % g.length, b % g.length];
    [g[i], g[j]] = [g[j] ?? '', g[i] ?? ''];
    return g;
  },
  reverse: (f) => [...f].reverse(),
  emptyField: (f, a) => [...f.slice(0, a % (f.length + 1)), '', ...f.slice(a % (f.length + 1))],
  noColon: (f, a) => f.map((x, i) => (i === a % f.length ? x.replace(':', '') : x)),
  twoColons: (f, a, _b, text) => f.map((x, i) => (i === a % f.length ? `${x}:${text}` : x)),
  lowerCase: (f, a) => f.map((x, i) => (i === a % f.length ? x.toLowerCase() : x)),
  insertText: (f, a, b, text) => {
    const s = f.join('/');
    const at = (a * 7919 + b) % (s.length + 1);
    return s.slice(0, at) + text + s.slice(at);
  },
  truncate: (f, a) => {
    const s = f.join('/');
    return s.slice(0, a % (s.length + 1));
  },
  spaces: (f) => ` ${f.join('/')} `,
  newline: (f, a) => f.map((x, i) => (i === a % f.length ? `${x}\n` : x)),
};

const PREFIX_SWAPS = [
  'CVSS:3.2/',
  'CVSS:2.0/',
  'CVSS:4/',
  'cvss:3.1/',
  'CVSS:3.1',
  'CVSS:4.0//',
  '',
  '(',
  'CVSS:3.1/CVSS:3.1/',
];

/** Where scoreCvss is stricter than the oracle, by the specification: the test's own reading of each rule. */
function stricterBySpec(v: string): string | undefined {
  if (v.length > MAX_CVSS_VECTOR_LENGTH) return 'length';
  const fields = v.split('/');
  const is4 = v.startsWith('CVSS:4.0/');
  const is2 = !v.startsWith('CVSS:');
  if (!is4 && !is2) return undefined;
  const key = is4 ? '4.0' : '2.0';
  const order = Object.keys(tables[key]);
  const at = fields.slice(is4 ? 1 : 0).map((f) => order.indexOf(f.split(':')[0] ?? ''));
  if (at.some((x, i) => i > 0 && x < (at[i - 1] ?? 0))) return 'order';
  if (is2 && fields.some((f) => !tables.mandatory['2.0'].includes(f.split(':')[0] ?? '') && !f.endsWith(':ND'))) {
    return '2.0 optional metrics';
  }
  return undefined;
}

describe('hostile CVSS vectors against the Python cvss package', () => {
  it('refuses every vector the oracle refuses, and scores the rest as the oracle does', () => {
    const anyValid = fc.constantFrom(...VERSIONS).chain((version) => validVector(tables, version));
    const allFields = (['2.0', '3', '4.0'] as const).flatMap((k) =>
      Object.entries(tables[k]).flatMap(([m, vs]) => vs.map((x) => `${m}:${x}`)),
    );
    const text = fc.oneof(
      fc.string({ maxLength: 6 }),
      fc.string({ unit: 'binary', maxLength: 6 }),
      fc.constantFrom('X', 'ND', 'x', 'Y', 'Clear', 'red', '', 'H ', ' N', '\u0000', 'É', '\ud800'),
    );
    const mutated = fc
      .tuple(
        anyValid,
        fc.constantFrom(...Object.keys(MUTATIONS)),
        fc.nat(),
        fc.nat(),
        text,
        fc.constantFrom(...allFields),
      )
      .map(([v, name, a, b, t, other]) => {
        const prefix = v.startsWith('CVSS:') ? v.slice(0, 9) : '';
        const out = (MUTATIONS[name] as Mutation)(v.slice(prefix.length).split('/'), a, b, t, other);
        return typeof out === 'string' ? prefix + out : prefix + out.join('/');
      });
    const reprefixed = fc
      .tuple(anyValid, fc.constantFrom(...PREFIX_SWAPS))
      .map(([v, p]) => p + (v.startsWith('CVSS:') ? v.slice(9) : v));
    const soup = fc
      .tuple(
        fc.constantFrom('', 'CVSS:3.0/', 'CVSS:3.1/', 'CVSS:4.0/'),
        fc.array(fc.constantFrom(...allFields), { maxLength: 40 }),
      )
      .map(([p, f]) => p + f.join('/'));
    const junk = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }));
    const vectors = [
      ...sample(mutated, 6000, SEED),
      ...sample(reprefixed, 500, SEED),
      ...sample(soup, 1500, SEED),
      ...sample(junk, 500, SEED),
    ];
    const answers = oracleScores(vectors);
    const problems: string[] = [];
    const seen = { oracleRefused: 0, stricter: 0, bothScored: 0, tolerated: 0 };
    vectors.forEach((v, i) => {
      const answer = answers[i] as OracleAnswer;
      const ours = scoreCvss(v);
      const show = (why: string) =>
        `${why}: ${JSON.stringify(v)}: ours ${JSON.stringify(ours)}, oracle ${JSON.stringify(answer)} (seed ${SEED})`;
      if ('error' in ours) expect(ours.error).not.toMatch(/[\n\r]/);
      if ('error' in answer) seen.oracleRefused++;
      else if ('error' in ours) seen.stricter++;
      else seen.bothScored++;
      const verdict = judge(v, ours, answer);
      if (verdict === 'tolerated') seen.tolerated++;
      else if (verdict === 'refused a vector the oracle scores') {
        if (!stricterBySpec(v)) problems.push(show('refused a vector the oracle scores, with no rule of the spec'));
      } else if (verdict !== 'equal') problems.push(show(verdict));
    });
    expect(problems).toEqual([]);
    // Each path was exercised.
    expect(seen.oracleRefused).toBeGreaterThan(vectors.length / 3);
    expect(seen.stricter).toBeGreaterThan(50);
    expect(seen.bothScored).toBeGreaterThan(200);
  });

  it('refuses huge vectors quickly, whatever they hold', () => {
    const valid = sample(validVector(tables, '3.1'), 1, SEED)[0] ?? '';
    const huge = [
      `${valid}${'/E:X'.repeat(250_000)}`,
      `CVSS:4.0/${'AV:N/'.repeat(200_000)}`,
      'A'.repeat(5_000_000),
      `${valid}/${'x'.repeat(1_000_000)}`,
    ];
    const answers = oracleScores(huge);
    huge.forEach((v, i) => {
      const started = performance.now();
      const ours = scoreCvss(v);
      expect(performance.now() - started).toBeLessThan(50);
      expect(ours).toEqual({ error: expect.stringContaining(`longer than ${MAX_CVSS_VECTOR_LENGTH}`) });
      expect(ours).toHaveProperty('error', expect.not.stringMatching(/.{300}/));
      // The oracle has no length limit, but refuses these for what they hold.
      expect(answers[i], v.slice(0, 40)).toHaveProperty('error');
    });
  });
});
