import fc from 'fast-check';
import { type Comparison, InvalidVersionError, type VersionScheme } from '../../src/advisories/versions/scheme.js';

/** Where `vs` breaks reflexivity, antisymmetry or transitivity under `compare`, as readable lines. */
export function orderViolations(compare: (a: string, b: string) => Comparison, vs: string[]): string[] {
  const m = vs.map((a) => vs.map((b) => compare(a, b)));
  const bad: string[] = [];
  for (let i = 0; i < vs.length; i++) {
    if (m[i]![i] !== 0) bad.push(`${vs[i]} != itself`);
    for (let j = 0; j < vs.length; j++) {
      if (m[i]![j] !== (-m[j]![i]! || 0)) bad.push(`${vs[i]} vs ${vs[j]} is not antisymmetric`);
      for (let k = 0; k < vs.length; k++) {
        if (m[i]![j]! <= 0 && m[j]![k]! <= 0 && m[i]![k]! > 0) bad.push(`${vs[i]} <= ${vs[j]} <= ${vs[k]} but not ≤`);
      }
    }
  }
  return bad;
}

/** A query to a version oracle: compare two versions, or test one against a range. */
export type Query = { k: 'cmp'; a: string; b: string } | { k: 'in'; v: string; r: string };

/** Our answer in the oracles' shape: an InvalidVersionError becomes "invalid", anything else thrown fails the test. */
export function schemeAnswer(scheme: VersionScheme, q: Query): unknown {
  const attempt = <T>(f: () => T): T | 'invalid' => {
    try {
      return f();
    } catch (err) {
      if (err instanceof InvalidVersionError) return 'invalid';
      throw err;
    }
  };
  if (q.k === 'cmp') return { valid: scheme.valid(q.a), cmp: attempt(() => scheme.compare(q.a, q.b)) };
  return attempt(() => scheme.satisfies?.(q.v, q.r));
}

/** Generated strings with one character inserted, deleted or replaced by one of `noise`: near-misses of a syntax. */
export const mutator =
  (noise: readonly string[]) =>
  (base: fc.Arbitrary<string>): fc.Arbitrary<string> =>
    fc
      .tuple(base, fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), fc.constantFrom(...noise))
      .map(([s, at, how, c]) => {
        const i = s.length === 0 ? 0 : at % s.length;
        if (how === 'insert') return s.slice(0, i) + c + s.slice(i);
        if (how === 'delete') return s.slice(0, i) + s.slice(i + 1);
        return s.slice(0, i) + c + s.slice(i + 1);
      });
