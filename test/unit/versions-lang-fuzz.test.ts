import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { genericScheme } from '../../src/advisories/versions/generic.js';
import { goScheme } from '../../src/advisories/versions/go.js';
import { mavenScheme } from '../../src/advisories/versions/maven.js';
import { nugetScheme } from '../../src/advisories/versions/nuget.js';
import { pep440Scheme } from '../../src/advisories/versions/pep440.js';
import { rubygemsScheme } from '../../src/advisories/versions/rubygems.js';
import { InvalidVersionError, type VersionScheme } from '../../src/advisories/versions/scheme.js';
import { semverScheme } from '../../src/advisories/versions/semver.js';

/**
 * Hostile input for every language scheme's parsers: random and mutated text must give a typed InvalidVersionError
 * or an answer, never another exception, and huge or pathological input must be refused or answered quickly.
 */
const SCHEMES: readonly VersionScheme[] = [
  semverScheme,
  pep440Scheme,
  mavenScheme,
  goScheme,
  rubygemsScheme,
  nugetScheme,
  genericScheme,
];

const SEEDS = [
  '1.2.3',
  'v1.2.3-rc.1+build.5',
  '1!2.0a1.post2.dev3+local.7',
  '1.0-SNAPSHOT',
  'v0.0.0-20240102030405-abcdef123456',
  '2.0.0+incompatible',
  '1.0.a.2',
  '1.0.0.0-Beta.2+meta',
  '[1.0,2.0)',
  '(,1.0],[1.2,)',
  '>=1.0,<2.0',
  '~> 1.2, >= 1.2.3',
  '^1.2.3 || ~2.0',
  '==1.0.*',
  '===foo',
];
const ALPHABET = [...'0123456789.-+_!*~^=<>|,()[] vVaAbBrcdeilmnopst\t\u00a0\u0661\uff11İ\u{1f600}'];

/** Text near the grammars: seeds with edits, fragments glued together, and arbitrary Unicode. */
const hostile = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(...SEEDS),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom(...ALPHABET), fc.boolean()), { maxLength: 4 }),
    )
    .map(([seed, edits]) =>
      edits.reduce((s, [at, c, insert]) => {
        const i = s.length === 0 ? 0 : at % s.length;
        return insert ? s.slice(0, i) + c + s.slice(i) : s.slice(0, i) + c + s.slice(i + 1);
      }, seed),
    ),
  fc.array(fc.constantFrom(...ALPHABET), { maxLength: 30 }).map((cs) => cs.join('')),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
);

/** Run one call; an InvalidVersionError is the only exception allowed. */
function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(InvalidVersionError);
    return 'invalid';
  }
}

describe.each(SCHEMES.map((s) => [s.name, s] as const))('%s scheme under hostile input', (_name, scheme) => {
  it('answers or throws InvalidVersionError, and valid() agrees with compare()', () => {
    fc.assert(
      fc.property(hostile, hostile, (a, b) => {
        const valid = scheme.valid(a);
        expect(typeof valid).toBe('boolean');
        const self = outcome(() => scheme.compare(a, a));
        expect(self).toBe(valid ? 0 : 'invalid');
        const ab = outcome(() => scheme.compare(a, b));
        const ba = outcome(() => scheme.compare(b, a));
        if (ab === 'invalid') expect(ba).toBe('invalid');
        else expect(ba).toBe(-(ab as number) || 0);
        if (scheme.satisfies) {
          const r = outcome(() => scheme.satisfies?.(a, b));
          expect(r === 'invalid' || typeof r === 'boolean').toBe(true);
          if (!valid) expect(r).toBe('invalid');
        }
      }),
      { numRuns: 4000 },
    );
  });

  it('refuses or answers huge and pathological input quickly', () => {
    const huge = [
      '1'.repeat(100_000),
      '1.'.repeat(50_000),
      `1${'.0a'.repeat(30_000)}`,
      `1${'-'.repeat(100_000)}`,
      `1.0+${'a.'.repeat(40_000)}a`,
      '['.repeat(50_000),
      `[${'1.0,'.repeat(20_000)}2.0]`,
      `${'>=1.0,'.repeat(20_000)}<2`,
      `1${'.0a'.repeat(300)}`,
      `${'1.'.repeat(500)}1`,
      `1-${'a.'.repeat(400)}a`,
    ];
    for (const text of huge) {
      const started = performance.now();
      outcome(() => scheme.valid(text));
      outcome(() => scheme.compare(text, text));
      outcome(() => scheme.compare('1.0.0', text));
      if (scheme.satisfies) {
        outcome(() => scheme.satisfies?.('1.0.0', text));
        outcome(() => scheme.satisfies?.(text, '>=1.0.0'));
      }
      expect(performance.now() - started, `${scheme.name}: ${text.slice(0, 20)}…`).toBeLessThan(500);
    }
  });
});
