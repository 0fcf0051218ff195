import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dpkgScheme, parseDpkgVersion } from '../../src/advisories/versions/dpkg.js';
import { InvalidVersionError } from '../../src/advisories/versions/scheme.js';
import { orderViolations } from '../helpers/versions.js';

describe('dpkg versions', () => {
  it('orders as Debian Policy 5.6.12 describes: ~ before the end, the end before letters, letters before marks', () => {
    const ascending = ['1.0~~', '1.0~~a', '1.0~', '1.0', '1.0a', '1.0+', '1.0.1', '1.1', '1:0.1'];
    for (let i = 0; i + 1 < ascending.length; i++) {
      expect(dpkgScheme.compare(ascending[i]!, ascending[i + 1]!), `${ascending[i]} < ${ascending[i + 1]}`).toBe(-1);
      expect(dpkgScheme.compare(ascending[i + 1]!, ascending[i]!)).toBe(1);
    }
    expect(dpkgScheme.compare('2.36-9+deb12u4', '2.36-9+deb12u10')).toBe(-1);
    expect(dpkgScheme.compare('3.0.11-1~deb12u2', '3.0.11-1')).toBe(-1);
  });

  it('treats a missing epoch as 0, a missing revision as 0, and leading zeros as nothing', () => {
    expect(dpkgScheme.compare('0:1.0', '1.0')).toBe(0);
    expect(dpkgScheme.compare('1.0-0', '1.0')).toBe(0);
    expect(dpkgScheme.compare('1.01', '1.1')).toBe(0);
    expect(dpkgScheme.compare('0000000000000000000001:1', '1:1')).toBe(0);
  });

  it('compares digit runs of any length exactly', () => {
    expect(dpkgScheme.compare('1.9007199254740993', '1.9007199254740992')).toBe(1);
    expect(dpkgScheme.compare('18446744073709551617', '18446744073709551616')).toBe(1);
    expect(dpkgScheme.compare(`1.${'9'.repeat(400)}`, `1.1${'0'.repeat(400)}`)).toBe(-1);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 40n }), fc.bigInt({ min: 0n, max: 10n ** 40n }), (x, y) => {
        expect(dpkgScheme.compare(`1.${x}-${y}`, `1.${y}-${x}`)).toBe(x < y ? -1 : x > y ? 1 : 0);
      }),
    );
  });

  it('splits epoch at the first colon and revision at the last hyphen, trimming blanks', () => {
    expect(parseDpkgVersion('1:2.3-4')).toEqual({ epoch: 1, upstream: '2.3', revision: '4' });
    expect(parseDpkgVersion('1.2-3-4')).toEqual({ epoch: 0, upstream: '1.2-3', revision: '4' });
    expect(parseDpkgVersion('1:2:3-a')).toEqual({ epoch: 1, upstream: '2:3', revision: 'a' });
    expect(parseDpkgVersion(' \t2147483647:0 ')).toEqual({ epoch: 2147483647, upstream: '0', revision: '' });
  });

  it('refuses what dpkg refuses, with dpkg’s reason', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['1-', /revision number is empty/],
      [':1', /epoch in version is empty/],
      ['a:1', /epoch in version is empty/],
      ['1a:1', /epoch in version is not number/],
      ['-1:1', /negative/],
      ['2147483648:1', /too big/],
      ['1:', /nothing after colon/],
      ['1:-1', /version number is empty/],
      ['1 2', /embedded spaces/],
      ['a', /does not start with digit/],
      ['1_2', /invalid character in version number/],
      ['1:2\n', /invalid character in version number/],
      ['1-a_b', /invalid character in revision number/],
      ['1-2:3', /epoch in version is not number/],
    ];
    for (const [v, reason] of cases) {
      expect(dpkgScheme.valid(v), JSON.stringify(v)).toBe(false);
      expect(() => dpkgScheme.compare(v, '1')).toThrow(InvalidVersionError);
      expect(() => dpkgScheme.compare('1', v)).toThrow(reason);
    }
  });

  it('never fails on hostile input other than with InvalidVersionError, and valid() agrees with compare()', () => {
    const unit = fc.constantFrom(...'0123456789aZ.+~:-_ \t\n\r!é\u0000'.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit, maxLength: 16 })), (s) => {
        let threw: unknown;
        try {
          dpkgScheme.compare(s, '1.0');
        } catch (err) {
          threw = err;
        }
        if (threw !== undefined) expect(threw).toBeInstanceOf(InvalidVersionError);
        expect(dpkgScheme.valid(s)).toBe(threw === undefined);
      }),
      { numRuns: 5000 },
    );
    const long = `1${'.1'.repeat(300_000)}`;
    expect(dpkgScheme.compare(long, `${long}~`)).toBe(1);
    expect(dpkgScheme.valid(`1${' 1'.repeat(300_000)}x`)).toBe(false);
  });

  it('is a total preorder: reflexive, antisymmetric and transitive', () => {
    const part = fc.oneof(
      fc.constantFrom('0', '00', '1', '2', '10', '9007199254740993', 'a', 'A', 'z', '.', '+', '~', '~~', '-', ':'),
      fc.integer({ min: 0, max: 99 }).map(String),
    );
    const version = fc
      .tuple(
        fc.option(fc.constantFrom('0', '1', '2')),
        fc.integer({ min: 0, max: 3 }),
        fc.array(part, { maxLength: 6 }),
      )
      .map(([e, first, rest]) => `${e === null ? '' : `${e}:`}${first}${rest.join('')}`)
      .filter((v) => dpkgScheme.valid(v));
    fc.assert(
      fc.property(fc.array(version, { minLength: 3, maxLength: 10 }), (vs) => {
        expect(orderViolations(dpkgScheme.compare, vs)).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });
});
