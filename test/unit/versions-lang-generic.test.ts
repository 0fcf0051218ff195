import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { genericScheme } from '../../src/advisories/versions/generic.js';
import { InvalidVersionError } from '../../src/advisories/versions/scheme.js';

/** The generic fallback has no oracle: it is held to its documented rules (generic.ts) and to the laws of an order. */
const ascending = (list: readonly string[]): void => {
  for (let i = 0; i + 1 < list.length; i++) {
    const [a, b] = [list[i] as string, list[i + 1] as string];
    expect(genericScheme.compare(a, b), `${a} < ${b}`).toBe(-1);
    expect(genericScheme.compare(b, a), `${b} > ${a}`).toBe(1);
  }
};

describe('generic scheme rules', () => {
  it('compares release numbers as numbers, missing ones as zero', () => {
    ascending(['0.9', '1', '1.0.1', '1.2', '1.9', '1.10', '2.0', '10.0', '99999999999999999999999.0']);
    for (const [a, b] of [
      ['1.0', '1.0.0'],
      ['1', '1.0.0.0'],
      ['v1.2', '1.2.0'],
      ['1.2+build.7', '1.2'],
      ['1.0-1', '1.0.1'],
      ['1_0_1', '1.0.1'],
      ['01.002', '1.2'],
      ['1.0.final', '1.0'],
      ['1.0-GA', '1.0'],
      [' 1.0 ', '1.0'],
    ] as const) {
      expect(genericScheme.compare(a, b), `${a} = ${b}`).toBe(0);
    }
  });

  it('puts prerelease words before the release and other words after it', () => {
    ascending([
      '1.0-dev',
      '1.0a1',
      '1.0-alpha.2',
      '1.0-beta',
      '1.0b2',
      '1.0-M1',
      '1.0-pre',
      '1.0rc1',
      '1.0-RC2',
      '1.0-SNAPSHOT',
      '1.0',
      '1.0.post1',
      '1.0.1',
    ]);
    ascending(['1.0.2', '1.0.2a', '1.0.2k', '1.0.2za', '1.0.3']);
    expect(genericScheme.compare('1.0-Beta', '1.0-beta')).toBe(0);
    expect(genericScheme.compare('1.0a1', '1.0alpha1')).toBe(0);
    expect(genericScheme.compare('1.0c1', '1.0rc1')).toBe(0);
    expect(genericScheme.compare('1.0rc1', '1.0rc')).toBe(1);
    expect(genericScheme.compare('1.0rc1.dev', '1.0rc1')).toBe(-1);
  });

  it('refuses what is not a version, with InvalidVersionError', () => {
    for (const v of [
      '',
      ' ',
      'v',
      'abc',
      '.1',
      '-1',
      '1.0 beta',
      '1.0~rc1',
      '1.0+',
      '1.0/2',
      '١.٢',
      'x'.repeat(2000),
    ]) {
      expect(genericScheme.valid(v), JSON.stringify(v)).toBe(false);
      expect(() => genericScheme.compare(v, '1.0'), JSON.stringify(v)).toThrow(InvalidVersionError);
      expect(() => genericScheme.compare('1.0', v), JSON.stringify(v)).toThrow(InvalidVersionError);
    }
  });
});

const word = fc.constantFrom(
  'dev',
  'a',
  'alpha',
  'b',
  'beta',
  'm',
  'rc',
  'RC',
  'c',
  'pre',
  'snapshot',
  'final',
  'k',
  'post',
);
const token = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 12 }).map(String) },
  { weight: 1, arbitrary: word },
);
const genericVersion = fc
  .tuple(
    fc.constantFrom('', 'v'),
    fc.integer({ min: 0, max: 3 }),
    fc.array(fc.tuple(fc.constantFrom('.', '-', '_', ''), token), { maxLength: 5 }),
    fc.option(fc.constantFrom('build', 'b.1'), { nil: undefined }),
  )
  .map(([v, first, rest, build]) => {
    let s = `${v}${first}`;
    for (const [sep, t] of rest) s += sep === '' && /^[0-9]/.test(t) === /[0-9]$/.test(s) ? `.${t}` : sep + t;
    return build === undefined ? s : `${s}+${build}`;
  });

describe('generic scheme order laws', () => {
  it('is reflexive, antisymmetric and transitive on generated versions', () => {
    fc.assert(
      fc.property(genericVersion, genericVersion, genericVersion, (a, b, c) => {
        expect(genericScheme.valid(a)).toBe(true);
        expect(genericScheme.compare(a, a)).toBe(0);
        const ab = genericScheme.compare(a, b);
        expect(genericScheme.compare(b, a)).toBe(-ab || 0);
        const bc = genericScheme.compare(b, c);
        if (ab <= 0 && bc <= 0) expect(genericScheme.compare(a, c)).toBeLessThanOrEqual(0);
        if (ab === 0) expect(genericScheme.compare(a, c)).toBe(bc);
      }),
      { numRuns: 10000 },
    );
  });

  it('ignores build metadata, a leading v and trailing zeros of the release', () => {
    fc.assert(
      fc.property(genericVersion, fc.constantFrom('+x', '+1.2-3'), (v, build) => {
        const plain = v.replace(/\+.*$/, '');
        expect(genericScheme.compare(`${plain}${build}`, plain)).toBe(0);
        if (!plain.startsWith('v')) expect(genericScheme.compare(`v${plain}`, plain)).toBe(0);
        if (/^[0-9.]+$/.test(plain)) expect(genericScheme.compare(`${plain}.0`, plain)).toBe(0);
      }),
      { numRuns: 3000 },
    );
  });
});
