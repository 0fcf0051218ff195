import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidVersionError } from '../../src/advisories/versions/scheme.js';
import { semverScheme } from '../../src/advisories/versions/semver.js';

/**
 * The npm scheme is npm's own `semver` package, so the oracle would be the implementation itself. These tests hold
 * the scheme to npm's documentation instead: the range grammar and examples of the node-semver README, which
 * https://docs.npmjs.com/cli/v10/using-npm/semver publishes ("Ranges", "Prerelease Tags", "Advanced Range Syntax").
 */
const satisfies = (v: string, r: string): boolean => {
  const f = semverScheme.satisfies;
  if (!f) throw new Error('semver has ranges');
  return f(v, r);
};

/** Documented desugarings: each range means exactly its expansion ("Advanced Range Syntax"). */
const DESUGARED: readonly (readonly [string, string])[] = [
  ['1.2.3 - 2.3.4', '>=1.2.3 <=2.3.4'],
  ['1.2 - 2.3.4', '>=1.2.0 <=2.3.4'],
  ['1.2.3 - 2.3', '>=1.2.3 <2.4.0-0'],
  ['1.2.3 - 2', '>=1.2.3 <3.0.0-0'],
  ['*', '>=0.0.0'],
  ['1.x', '>=1.0.0 <2.0.0-0'],
  ['1.2.x', '>=1.2.0 <1.3.0-0'],
  ['', '*'],
  ['1', '1.x.x'],
  ['1.x.x', '>=1.0.0 <2.0.0-0'],
  ['1.2', '1.2.x'],
  ['~1.2.3', '>=1.2.3 <1.3.0-0'],
  ['~1.2', '>=1.2.0 <1.3.0-0'],
  ['~1', '>=1.0.0 <2.0.0-0'],
  ['~0.2.3', '>=0.2.3 <0.3.0-0'],
  ['~0.2', '>=0.2.0 <0.3.0-0'],
  ['~0', '>=0.0.0 <1.0.0-0'],
  ['~1.2.3-beta.2', '>=1.2.3-beta.2 <1.3.0-0'],
  ['^1.2.3', '>=1.2.3 <2.0.0-0'],
  ['^0.2.3', '>=0.2.3 <0.3.0-0'],
  ['^0.0.3', '>=0.0.3 <0.0.4-0'],
  ['^1.2.3-beta.2', '>=1.2.3-beta.2 <2.0.0-0'],
  ['^0.0.3-beta', '>=0.0.3-beta <0.0.4-0'],
  ['^1.2.x', '>=1.2.0 <2.0.0-0'],
  ['^0.0.x', '>=0.0.0 <0.1.0-0'],
  ['^0.0', '>=0.0.0 <0.1.0-0'],
  ['^1.x', '>=1.0.0 <2.0.0-0'],
  ['^0.x', '>=0.0.0 <1.0.0-0'],
];

/** Documented examples: [range, versions that satisfy it, versions that do not]. */
const EXAMPLES: readonly (readonly [string, readonly string[], readonly string[]])[] = [
  ['>=1.2.7', ['1.2.7', '1.2.8', '2.5.3', '1.3.9'], ['1.2.6', '1.1.0']],
  ['>=1.2.7 <1.3.0', ['1.2.7', '1.2.8', '1.2.99'], ['1.2.6', '1.3.0', '1.1.0']],
  ['1.2.7 || >=1.2.9 <2.0.0', ['1.2.7', '1.2.9', '1.4.6'], ['1.2.8', '2.0.0']],
  // "Prerelease Tags": a prerelease only satisfies a comparator set with a prerelease on the same tuple.
  ['>1.2.3-alpha.3', ['1.2.3-alpha.7', '3.4.5'], ['3.4.5-alpha.9']],
  ['~1.2.3-beta.2', ['1.2.3-beta.4', '1.2.3'], ['1.2.4-beta.2']],
  ['^1.2.3-beta.2', ['1.2.3-beta.4', '1.2.4'], ['1.2.4-beta.2']],
  ['^0.0.3-beta', ['0.0.3-pr.2'], ['0.0.4']],
  ['1.2.3 - 2.3', ['2.3.9'], ['2.4.0']],
  ['*', ['0.0.0', '99.0.0'], ['1.0.0-rc.1']],
];

const num = fc.integer({ min: 0, max: 5 });
const pre = fc.option(fc.constantFrom('alpha', 'alpha.3', 'alpha.7', 'beta', 'beta.2', 'beta.4', 'rc.1', '0', 'pr.2'), {
  nil: undefined,
});
const version = fc.tuple(num, num, num, pre).map(([a, b, c, p]) => `${a}.${b}.${c}${p === undefined ? '' : `-${p}`}`);

describe('semver scheme (npm)', () => {
  it('reads versions loosely, as npm does', () => {
    for (const v of ['=1.2.3', 'v1.2.3', ' 1.2.3 ', '=v1.2.3', '01.2.3']) {
      expect(semverScheme.valid(v), v).toBe(true);
      expect(semverScheme.compare(v, '1.2.3'), v).toBe(0);
    }
    expect(semverScheme.compare('1.2.3beta', '1.2.3-beta')).toBe(0);
    expect(semverScheme.compare('1.0.0+build.1', '1.0.0+build.2')).toBe(0);
  });

  it('orders prereleases as SemVer 2.0.0 section 11 lists them', () => {
    const order = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
    ];
    for (let i = 0; i + 1 < order.length; i++) {
      expect(semverScheme.compare(order[i] as string, order[i + 1] as string), `${order[i]} < ${order[i + 1]}`).toBe(
        -1,
      );
      expect(semverScheme.compare(order[i + 1] as string, order[i] as string)).toBe(1);
    }
  });

  it('refuses what is not a version or a range with InvalidVersionError', () => {
    for (const v of ['1.2', '1.2.3.4', 'a.b.c', '', 'V1.2.3', `1.2.${'9'.repeat(300)}`]) {
      expect(semverScheme.valid(v), v).toBe(false);
      expect(() => semverScheme.compare(v, '1.0.0'), v).toThrow(InvalidVersionError);
      expect(() => satisfies(v, '*'), v).toThrow(InvalidVersionError);
    }
    for (const r of ['blah', '>=>1', '=>1.0.0', `>=${'1.'.repeat(3000)}0`]) {
      expect(() => satisfies('1.0.0', r), r).toThrow(InvalidVersionError);
    }
  });

  it('matches the documented examples', () => {
    for (const [range, yes, no] of EXAMPLES) {
      for (const v of yes) expect(satisfies(v, range), `${v} in ${range}`).toBe(true);
      for (const v of no) expect(satisfies(v, range), `${v} in ${range}`).toBe(false);
    }
  });

  it('gives each documented range the meaning of its expansion, for thousands of versions', () => {
    fc.assert(
      fc.property(fc.constantFrom(...DESUGARED), version, ([range, expansion], v) => {
        expect(satisfies(v, range)).toBe(satisfies(v, expansion));
      }),
      { numRuns: 5000 },
    );
  });

  it('agrees between satisfies and compare on single comparators', () => {
    fc.assert(
      fc.property(version, version, fc.constantFrom('<', '<=', '>', '>=', '='), (v, bound, op) => {
        const c = semverScheme.compare(v, bound);
        const want = { '<': c < 0, '<=': c <= 0, '>': c > 0, '>=': c >= 0, '=': c === 0 }[op];
        // npm excludes a prerelease unless the comparator is a prerelease of the same major.minor.patch.
        const [vTuple, vPre] = v.split('-');
        const [bTuple, bPre] = bound.split('-');
        const allowed = vPre === undefined || (bPre !== undefined && vTuple === bTuple);
        expect(satisfies(v, `${op}${bound}`)).toBe(want && allowed);
      }),
      { numRuns: 3000 },
    );
  });
});
