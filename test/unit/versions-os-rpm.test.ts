import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRpmVersion, rpmScheme, rpmvercmp } from '../../src/advisories/versions/rpm.js';
import { InvalidVersionError } from '../../src/advisories/versions/scheme.js';
import { orderViolations } from '../helpers/versions.js';

describe('rpm versions', () => {
  it('orders ~ before the end and ^ after it but before anything else, as rpm 4.18 does', () => {
    const ascending = ['1.0~rc1', '1.0~rc1^git1', '1.0', '1.0^', '1.0^git1', '1.0a', '1.0.1', '1:0.1'];
    for (let i = 0; i + 1 < ascending.length; i++) {
      expect(rpmScheme.compare(ascending[i]!, ascending[i + 1]!), `${ascending[i]} < ${ascending[i + 1]}`).toBe(-1);
      expect(rpmScheme.compare(ascending[i + 1]!, ascending[i]!)).toBe(1);
    }
    expect(rpmScheme.compare('1.0~~', '1.0~')).toBe(-1);
  });

  it('ignores separators, prefers numbers to letters, and compares numbers exactly', () => {
    expect(rpmvercmp('1_0', '1.0')).toBe(0);
    expect(rpmvercmp('5.5p10', '5.5p2')).toBe(1);
    expect(rpmvercmp('10xyz', '10.1xyz')).toBe(-1);
    expect(rpmvercmp('1.0.a', '1.0.1')).toBe(-1);
    expect(rpmvercmp('1.18446744073709551617', '1.18446744073709551616')).toBe(1);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 40n }), fc.bigInt({ min: 0n, max: 10n ** 40n }), (x, y) => {
        expect(rpmScheme.compare(`${x}:1.${x}-${y}`, `${y}:1.${y}-${x}`)).toBe(x < y ? -1 : x > y ? 1 : 0);
      }),
    );
  });

  it('splits epoch:version-release like rpm: a leading digit run before the colon, the last hyphen', () => {
    expect(parseRpmVersion('2:1.0-3.el9')).toEqual({ epoch: '2', version: '1.0', release: '3.el9' });
    expect(parseRpmVersion(':1.0')).toEqual({ epoch: '0', version: '1.0', release: undefined });
    expect(parseRpmVersion('a:1-2-3')).toEqual({ epoch: undefined, version: 'a:1-2', release: '3' });
    expect(rpmScheme.compare('0:1.0-1', '1.0-1')).toBe(0);
    // A version without release is older than the same version with any release, even an empty one.
    expect(rpmScheme.compare('1.0', '1.0-1')).toBe(-1);
    expect(rpmScheme.compare('1.0-', '1.0')).toBe(1);
  });

  it('refuses only what rpm cannot be given: the empty string and NUL', () => {
    for (const v of ['', 'a\u00001']) {
      expect(rpmScheme.valid(v)).toBe(false);
      expect(() => rpmScheme.compare(v, '1')).toThrow(InvalidVersionError);
      expect(() => rpmScheme.compare('1', v)).toThrow(InvalidVersionError);
    }
  });

  it('never fails on hostile input other than with InvalidVersionError, and valid() agrees with compare()', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (s) => {
        let threw: unknown;
        try {
          rpmScheme.compare(s, '1.0');
        } catch (err) {
          threw = err;
        }
        if (threw !== undefined) expect(threw).toBeInstanceOf(InvalidVersionError);
        expect(rpmScheme.valid(s)).toBe(threw === undefined);
      }),
      { numRuns: 5000 },
    );
    const long = `1${'.1'.repeat(300_000)}`;
    expect(rpmScheme.compare(long, `${long}^`)).toBe(-1);
    expect(rpmScheme.compare(`${'-'.repeat(300_000)}1`, `${'.'.repeat(300_000)}1`)).toBe(-1);
  });

  it('is a total preorder: reflexive, antisymmetric and transitive', () => {
    const part = fc.oneof(
      fc.constantFrom('0', '00', '1', '10', '9007199254740993', 'a', 'A', 'z', '.', '_', '-', '~', '^', ':', 'é'),
      fc.integer({ min: 0, max: 99 }).map(String),
    );
    const version = fc.array(part, { minLength: 1, maxLength: 7 }).map((p) => p.join(''));
    fc.assert(
      fc.property(fc.array(version, { minLength: 3, maxLength: 10 }), (vs) => {
        expect(orderViolations(rpmScheme.compare, vs)).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });
});
