import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nugetScheme } from '../../src/advisories/versions/nuget.js';
import { InvalidVersionError } from '../../src/advisories/versions/scheme.js';

/**
 * NuGet has no oracle on this machine (no .NET), so the scheme is held to published vectors:
 * - "Package versioning", https://learn.microsoft.com/nuget/concepts/package-versioning (pre-release sort order,
 *   version ranges, normalized version numbers);
 * - NuGet.Client's own tests, test/NuGet.Core.Tests/NuGet.Versioning.Test/NuGetVersionTest.cs and
 *   VersionRangeTests.cs (https://github.com/NuGet/NuGet.Client), which fix what NuGetVersion.TryParse accepts.
 */
const satisfies = (v: string, r: string): boolean => {
  const f = nugetScheme.satisfies;
  if (!f) throw new Error('nuget has ranges');
  return f(v, r);
};

describe('nuget versions (documented vectors)', () => {
  it('sorts pre-releases as the NuGet docs list them, newest first', () => {
    // "Pre-release versions": 1.0.1-alpha10 sorts strictly alphabetically, 1.0.1-rc.10 above 1.0.1-rc.2.
    const newestFirst = [
      '1.0.1',
      '1.0.1-zzz',
      '1.0.1-rc.10',
      '1.0.1-rc.2',
      '1.0.1-open',
      '1.0.1-beta',
      '1.0.1-alpha2',
      '1.0.1-alpha10',
      '1.0.1-aaa',
    ];
    for (let i = 0; i + 1 < newestFirst.length; i++) {
      const [a, b] = [newestFirst[i] as string, newestFirst[i + 1] as string];
      expect(nugetScheme.compare(a, b), `${a} > ${b}`).toBe(1);
      expect(nugetScheme.compare(b, a), `${b} < ${a}`).toBe(-1);
    }
  });

  it('treats the documented normalizations as the same version', () => {
    // "Normalized version numbers": leading zeros, a zero fourth part and build metadata do not count.
    for (const [a, b] of [
      ['1.00', '1.0'],
      ['1.01.1', '1.1.1'],
      ['1.00.0.1', '1.0.0.1'],
      ['1.0.0.0', '1.0.0'],
      ['1.0.01.0', '1.0.1'],
      ['1.0.7+r3456', '1.0.7'],
      // NuGetVersionTest.SemVerEqualsOperatorWorks
      ['1.0', '1.0.0.0'],
      ['1.23.01', '1.23.1'],
      ['1.45.6', '1.45.6.0'],
      ['1.45.6-Alpha', '1.45.6-Alpha'],
      ['1.6.2-BeTa', '1.6.02-beta'],
      ['22.3.07     ', '22.3.07'],
      ['1.0', '1.0.0.0+beta'],
      ['1.0.0.0+beta.2', '1.0.0.0+beta.1'],
    ] as const) {
      expect(nugetScheme.compare(a, b), `${a} = ${b}`).toBe(0);
    }
  });

  it('orders the NuGet.Client comparison vectors', () => {
    // NuGetVersionTest.SemVerLessThanAndGreaterThanOperatorsWorks
    for (const [a, b] of [
      ['1.0', '1.0.1'],
      ['1.23', '1.231'],
      ['1.4.5.6', '1.45.6'],
      ['1.4.5.6', '1.4.5.60'],
      ['1.01', '1.10'],
      ['1.01-alpha', '1.10-beta'],
      ['1.01.0-RC-1', '1.10.0-rc-2'],
      ['1.01-RC-1', '1.01'],
      ['1.01', '1.2-preview'],
    ] as const) {
      expect(nugetScheme.compare(a, b), `${a} < ${b}`).toBe(-1);
      expect(nugetScheme.compare(b, a), `${b} > ${a}`).toBe(1);
    }
  });

  it('accepts what NuGetVersion.TryParse accepts', () => {
    // NuGetVersionTest: StringConstructorParsesValuesCorrectly, ParseReadsLegacyStyleVersionNumbers,
    // ParseIgnoresLeadingAndTrailingWhitespace, TryParseHandlesValidVersionPatterns; VersionParsingTests.
    for (const v of [
      '2',
      '2.0',
      '2.0.0',
      '2.0.0.0',
      '1.0.0-Beta.2',
      '1.0.0-RC.X.35.A.3455+Meta-A-B-C',
      '2.3-alpha',
      '3.4.0.3-RC-3',
      '1.0.0-beta.x.y.5.79.0+aa',
      '1.3.42.200930-RC-2',
      '  1.022-Beta',
      '    1.3.42.10133-PreRelease  ',
      '   19.   19.   19.   19',
      '19   .19   .19   .19   ',
      '2147483647.1.1.1',
      '1.1.1.2147483647',
      '1.2.3-X.y3+0',
      '1.2.3-0',
    ]) {
      expect(nugetScheme.valid(v), JSON.stringify(v)).toBe(true);
    }
  });

  it('refuses what NuGetVersion.TryParse refuses, with InvalidVersionError', () => {
    // NuGetVersionTest.ParseThrowsIfStringIsNotAValidSemVer and ParseThrowsIfStringIsNullOrEmpty.
    for (const v of [
      '',
      '         ',
      '1beta',
      '1.2Av^c',
      '1.2..',
      '1.2.3.4.5',
      '1.2.3.Beta',
      'So.is.this',
      '1.34.2Alpha',
      '1.4.7-',
      '1.4.7-*',
      '1.4.7+*',
      '1.4.7-AA.01^',
      '1.4.7-A^A',
      '1.4.7+AA.01^',
      '1.2147483648',
      '10000000000000000000',
      '1..2',
      '....',
      '-1.1.1.1',
      '1.-1.1.1',
      '1.',
      '1.1.1.1.',
      '1     1.1.1.1',
      ' .1.1.1',
      '1. .1.1',
      '1 .',
      '2147483648.2.3.4',
      '   19.   1 9',
      '$version$',
      '1.2.3-01',
    ]) {
      expect(nugetScheme.valid(v), JSON.stringify(v)).toBe(false);
      expect(() => nugetScheme.compare(v, '1.0'), JSON.stringify(v)).toThrow(InvalidVersionError);
    }
  });
});

describe('nuget ranges (documented vectors)', () => {
  it('follows the interval notation table of the docs', () => {
    // "Version ranges": 1.0 means x >= 1.0; [1.0] exact; ( ) exclusive; (1.0) is invalid.
    const table: readonly (readonly [string, readonly string[], readonly string[]])[] = [
      ['1.0', ['1.0', '1.0.1', '9.0'], ['0.9', '1.0-beta']],
      ['[1.0,)', ['1.0', '2.0'], ['0.9']],
      ['(1.0,)', ['1.0.1', '2.0'], ['1.0', '0.9']],
      ['[1.0]', ['1.0', '1.0.0.0', '1.0+meta'], ['1.0.1', '1.0-rc']],
      ['(,1.0]', ['1.0', '0.1'], ['1.0.1']],
      ['(,1.0)', ['0.9', '1.0-rc'], ['1.0']],
      ['[1.0,2.0]', ['1.0', '1.5', '2.0'], ['0.9', '2.0.1']],
      ['(1.0,2.0)', ['1.5', '2.0-rc'], ['1.0', '2.0']],
      ['[1.0,2.0)', ['1.0', '1.9.9'], ['2.0', '0.9']],
    ];
    for (const [range, yes, no] of table) {
      for (const v of yes) expect(satisfies(v, range), `${v} in ${range}`).toBe(true);
      for (const v of no) expect(satisfies(v, range), `${v} in ${range}`).toBe(false);
    }
    expect(() => satisfies('1.0', '(1.0)')).toThrow(InvalidVersionError);
  });

  it('satisfies the NuGet.Client range vectors', () => {
    // VersionRangeTests.ParseVersionRangeSatisfies and ParseVersionRangeDoesNotSatisfy.
    const yes = [
      ['1.0.0', '2.0.0'],
      ['[1.0.0, 2.0.0]', '2.0.0'],
      ['[1.0.0, 2.0.0]', '1.0.0'],
      ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '1.0.0'],
      ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '1.0.0-beta+meta'],
      ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '2.0.0-beta'],
      ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '1.0.0+meta'],
      ['(1.0.0-beta+meta, 2.0.0-beta+meta)', '1.0.0'],
      ['(1.0.0-beta+meta, 2.0.0-beta+meta)', '2.0.0-alpha+meta'],
      ['(, 2.0.0-beta+meta)', '2.0.0-alpha'],
      ['[1,3)', '2.9'],
      ['[1.0.0, ]', '7.0'],
      ['  1  .   2  ', '1.2'],
      ['   [  1 .2   , 2  .3   ]  ', '2.3'],
    ] as const;
    const no = [
      ['1.0.0', '0.0.0'],
      ['[1.0.0, 2.0.0]', '2.0.1'],
      ['[1.0.0, 2.0.0]', '0.0.0'],
      ['[1.0.0, 2.0.0]', '3.0.0'],
      ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '1.0.0-alpha'],
      ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '1.0.0-alpha+meta'],
      ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '2.0.0-rc'],
      ['[1.0.0-beta+meta, 2.0.0-beta+meta]', '2.0.0+meta'],
      ['(1.0.0-beta+meta, 2.0.0-beta+meta)', '2.0.0-beta+meta'],
      ['(, 2.0.0-beta+meta)', '2.0.0-beta+meta'],
      ['[1,3)', '3.0'],
    ] as const;
    for (const [r, v] of yes) expect(satisfies(v, r), `${v} in ${r}`).toBe(true);
    for (const [r, v] of no) expect(satisfies(v, r), `${v} in ${r}`).toBe(false);
  });

  it('refuses the ranges NuGet refuses, and floating ranges', () => {
    // VersionRangeTests: (,) [,] [,) (,] (,1.3..2] (1.2.3.4.5,1.2] and "   [-1, 2]  "; floats are for resolution.
    for (const r of ['(,)', '[,]', '[,)', '(,]', '(,1.3..2]', '(1.2.3.4.5,1.2]', '   [-1, 2]  ', '', '[2.0,1.0]']) {
      expect(() => satisfies('1.0', r), JSON.stringify(r)).toThrow(InvalidVersionError);
    }
    for (const r of ['*', '1.*', '1.0.0-beta*', '[1.0.*, 2.0.0)', '[1.0,2.0,3.0]', '[1.0', '[1.0)']) {
      expect(() => satisfies('1.0', r), JSON.stringify(r)).toThrow(InvalidVersionError);
    }
  });
});

const part = fc.oneof(fc.integer({ min: 0, max: 3 }).map(String), fc.constantFrom('00', '01', '2147483647'));
const label = fc.constantFrom('alpha', 'Alpha', 'ALPHA', 'beta', 'rc', 'RC', '0', '1', '2', '10', '-1', 'a-b', 'zzz');
const nugetVersion = fc
  .tuple(
    fc.array(part, { minLength: 1, maxLength: 4 }),
    fc.array(label, { maxLength: 3 }),
    fc.option(fc.constantFrom('meta', 'build.5', 'A-B'), { nil: undefined }),
  )
  .map(([nums, labels, meta]) => {
    let s = nums.join('.');
    if (labels.length) s += `-${labels.join('.')}`;
    if (meta !== undefined) s += `+${meta}`;
    return s;
  });

describe('nuget ordering properties', () => {
  it('is a total order on generated versions (antisymmetric, transitive)', () => {
    fc.assert(
      fc.property(nugetVersion, nugetVersion, nugetVersion, (a, b, c) => {
        const ab = nugetScheme.compare(a, b);
        expect(nugetScheme.compare(b, a)).toBe(-ab || 0);
        if (ab <= 0 && nugetScheme.compare(b, c) <= 0) expect(nugetScheme.compare(a, c)).toBeLessThanOrEqual(0);
      }),
      { numRuns: 5000 },
    );
  });

  it('agrees between satisfies and compare on interval ranges', () => {
    fc.assert(
      fc.property(nugetVersion, nugetVersion, nugetVersion, fc.boolean(), fc.boolean(), (v, x, y, li, ui) => {
        const [lo, hi] = nugetScheme.compare(x, y) <= 0 ? [x, y] : [y, x];
        const range = `${li ? '[' : '('}${lo},${hi}${ui ? ']' : ')'}`;
        const c = nugetScheme.compare(lo, hi);
        if (c === 0 && li !== ui) {
          expect(() => satisfies(v, range)).toThrow(InvalidVersionError);
          return;
        }
        const above = nugetScheme.compare(v, lo);
        const below = nugetScheme.compare(v, hi);
        const want = (li ? above >= 0 : above > 0) && (ui ? below <= 0 : below < 0);
        expect(satisfies(v, range)).toBe(want);
      }),
      { numRuns: 5000 },
    );
  });
});
