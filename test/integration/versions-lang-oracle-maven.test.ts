import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mavenScheme } from '../../src/advisories/versions/maven.js';
import { CACHE } from '../helpers/paths.js';
import { mutator, type Query, schemeAnswer } from '../helpers/versions.js';

/**
 * Differential test: the Maven scheme against maven-artifact 3.9.16's own ComparableVersion and VersionRange
 * (downloaded from Maven Central and driven by test/fixtures/mavenversion, both set up by
 * scripts/setup-test-env.sh), thousands of generated cases in one JVM per batch.
 */
const JAR = join(CACHE, 'java', 'maven-artifact-3.9.16.jar');
const CLASSES = join(CACHE, 'java', 'mavenversion');

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

function oracle(queries: readonly Query[]): string[] {
  const input = `${queries.map((q) => (q.k === 'cmp' ? `C\t${b64(q.a)}\t${b64(q.b)}` : `R\t${b64(q.r)}\t${b64(q.v)}`)).join('\n')}\n`;
  const r = spawnSync('java', ['-cp', `${CLASSES}:${JAR}`, 'MavenVersionOracle'], {
    input,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`maven oracle failed: ${r.stderr}`);
  return r.stdout.trimEnd().split('\n');
}

const ours = (q: Query): unknown => schemeAnswer(mavenScheme, q);

function expected(q: Query, line: string): unknown {
  if (q.k === 'cmp') {
    const cmp = q.a === '' || q.b === '' ? 'invalid' : Number(line.replace(/^cmp /, ''));
    return { valid: q.a !== '', cmp };
  }
  if (q.v === '' || !line.startsWith('in ')) return 'invalid';
  return line === 'in true';
}

const num = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 12 }).map(String) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('00', '010', '0000000000', '1234567890', '99999999999999999999', '\u0661', '\uff11'),
  },
);
const qualifier = fc.constantFrom(
  'alpha',
  'beta',
  'milestone',
  'rc',
  'cr',
  'snapshot',
  'SNAPSHOT',
  'ga',
  'final',
  'release',
  'sp',
  'a',
  'b',
  'm',
  'RC',
  'foo',
  'x',
  '\u0130',
  'é',
);
const sepr = fc.constantFrom('.', '.', '-', '');
const wellFormed = fc
  .array(fc.tuple(fc.oneof({ weight: 3, arbitrary: num }, { weight: 2, arbitrary: qualifier }), sepr), {
    minLength: 1,
    maxLength: 6,
  })
  .map((parts) => parts.map(([t, s], i) => (i === parts.length - 1 ? t : t + s)).join(''));
const NOISE = [...'0123456789.-abmrsx_ []()'];
const mutated = mutator(NOISE);
const mavenVersion = fc.oneof(
  { weight: 6, arbitrary: wellFormed },
  { weight: 1, arbitrary: mutated(wellFormed) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);
const space = fc.constantFrom('', '', ' ');
const restriction = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom('[', '('), fc.option(wellFormed, { nil: '' }), space, fc.option(wellFormed, { nil: '' }))
      .chain(([open, lo, s, hi]) => fc.constantFrom(']', ')').map((close) => `${open}${lo},${s}${hi}${close}`)),
  },
  { weight: 1, arbitrary: wellFormed.map((v) => `[${v}]`) },
);
const range = fc.oneof(
  { weight: 6, arbitrary: fc.array(restriction, { minLength: 1, maxLength: 3 }).map((r) => r.join(',')) },
  { weight: 1, arbitrary: mutated(fc.array(restriction, { minLength: 1, maxLength: 2 }).map((r) => r.join(','))) },
  { weight: 1, arbitrary: fc.oneof(wellFormed, fc.constantFrom('', ' [1.0,2.0)', '[1.0,2.0) x', '(1.0)')) },
);
/** A range on two versions and a version at or beside one of its bounds. */
const atBounds = fc
  .tuple(wellFormed, wellFormed)
  .chain(([x, y]) =>
    fc
      .tuple(
        fc.constantFrom('[', '('),
        fc.constantFrom(']', ')'),
        fc.constantFrom(`${x},${y}`, `${y},${x}`, `,${x}`, `${x},`, x),
        fc.constantFrom(x, y, `${x}.0`, `${x}-1`, `${x}-rc`, `${x}.1`, `${y}-snapshot`),
      )
      .map(([open, close, inner, v]): Query => ({ k: 'in', v, r: `${open}${inner}${close}` })),
  );
const query: fc.Arbitrary<Query> = fc.oneof(
  atBounds,
  fc.tuple(mavenVersion, mavenVersion).map(([a, b]): Query => ({ k: 'cmp', a, b })),
  mavenVersion.chain((a) => mutated(fc.constant(a)).map((b): Query => ({ k: 'cmp', a, b }))),
  fc.tuple(mavenVersion, range).map(([v, r]): Query => ({ k: 'in', v, r })),
);

describe('maven against maven-artifact ComparableVersion and VersionRange', () => {
  it('has the oracle', () => {
    expect(existsSync(join(CLASSES, 'MavenVersionOracle.class')), `run 'npm run setup'`).toBe(true);
    expect(existsSync(JAR), `${JAR} is missing: run 'npm run setup'`).toBe(true);
  });

  it('orders the cases Maven documents as Maven does', () => {
    // From the Maven POM reference ("Version Order Specification") and Maven's own ComparableVersion tests.
    const fixed: Query[] = [
      { k: 'cmp', a: '1', b: '1.0.0' },
      { k: 'cmp', a: '1-alpha', b: '1-beta' },
      { k: 'cmp', a: '1-rc', b: '1-snapshot' },
      { k: 'cmp', a: '1-snapshot', b: '1' },
      { k: 'cmp', a: '1', b: '1-sp' },
      { k: 'cmp', a: '1-ga', b: '1' },
      { k: 'cmp', a: '1-cr1', b: '1-rc1' },
      { k: 'cmp', a: '1-a1', b: '1-alpha-1' },
      { k: 'cmp', a: '1.0.0.X1', b: '1.0.0-X2' },
      { k: 'cmp', a: '1-1', b: '1.1' },
      { k: 'cmp', a: '1-foo', b: '1-sp' },
      { k: 'in', v: '1.5', r: '[1.0,2.0)' },
      { k: 'in', v: '2.0', r: '[1.0,2.0)' },
      { k: 'in', v: '1.1', r: '(,1.0],[1.2,)' },
      { k: 'in', v: '1.0', r: '[1.0]' },
      { k: 'in', v: '3.0', r: '1.0' },
      { k: 'in', v: '1.5', r: '[2.0,1.0)' },
      { k: 'in', v: '1.5', r: '[1.0,2.0),[1.5,3.0)' },
    ];
    const answers = oracle(fixed);
    for (const [i, q] of fixed.entries()) expect(ours(q), JSON.stringify(q)).toEqual(expected(q, answers[i] ?? ''));
  });

  it('agrees with maven-artifact on thousands of generated versions and ranges', () => {
    const seen = new Map<string, number>();
    fc.assert(
      // One JVM per batch; no shrinking (every step would rerun the oracle), the mismatches are listed.
      fc.property(fc.noShrink(fc.array(query, { minLength: 3000, maxLength: 3000 })), (queries) => {
        const answers = oracle(queries);
        expect(answers).toHaveLength(queries.length);
        const mismatches: unknown[] = [];
        for (const [i, q] of queries.entries()) {
          const want = expected(q, answers[i] ?? '');
          const got = ours(q);
          if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ q, got, want });
          const kind = `${q.k}:${JSON.stringify(q.k === 'cmp' ? (want as { cmp: unknown }).cmp : want)}`;
          seen.set(kind, (seen.get(kind) ?? 0) + 1);
        }
        expect(mismatches.slice(0, 5)).toEqual([]);
      }),
      { numRuns: Number(process.env.VERSION_ORACLE_RUNS ?? 4) },
    );
    for (const kind of ['cmp:-1', 'cmp:0', 'cmp:1', 'cmp:"invalid"', 'in:true', 'in:false', 'in:"invalid"']) {
      expect(seen.get(kind) ?? 0, kind).toBeGreaterThan(100);
    }
  });
});
