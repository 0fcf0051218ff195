import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { goScheme } from '../../src/advisories/versions/go.js';
import { InvalidVersionError } from '../../src/advisories/versions/scheme.js';
import { CACHE } from '../helpers/paths.js';
import { mutator } from '../helpers/versions.js';

/**
 * Differential test: the Go scheme against golang.org/x/mod/semver (test/fixtures/goversion, built by
 * scripts/setup-test-env.sh), the package the go command orders module versions with. OSV writes Go versions without
 * the leading `v`; the scheme reads those as if it were there, so the oracle is asked about the `v` form.
 */
const ORACLE = join(CACHE, 'go', 'bin', 'goversion');

interface Answer {
  va: boolean;
  vb: boolean;
  cmp: number;
}

const withV = (s: string): string => (s.startsWith('v') ? s : `v${s}`);

function oracle(pairs: readonly (readonly [string, string])[]): Answer[] {
  const input = `${pairs.map(([a, b]) => JSON.stringify({ a: withV(a), b: withV(b) })).join('\n')}\n`;
  const r = spawnSync(ORACLE, [], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`goversion failed: ${r.stderr}`);
  return r.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Answer);
}

function ours(a: string, b: string): { va: boolean; vb: boolean; cmp: number | 'invalid' } {
  let cmp: number | 'invalid';
  try {
    cmp = goScheme.compare(a, b);
  } catch (err) {
    if (!(err instanceof InvalidVersionError)) throw err;
    cmp = 'invalid';
  }
  return { va: goScheme.valid(a), vb: goScheme.valid(b), cmp };
}

function expected(a: Answer): { va: boolean; vb: boolean; cmp: number | 'invalid' } {
  return { va: a.va, vb: a.vb, cmp: a.va && a.vb ? a.cmp : 'invalid' };
}

const num = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 12 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('00', '01', '123456789012345678901234567890', '9') },
);
const ident = fc.oneof(
  num,
  fc.constantFrom('alpha', 'beta', 'rc', 'pre', 'RC', 'Alpha', '0a', 'a-b', '-', 'x-1', '0x'),
);
const idents = fc.array(ident, { minLength: 1, maxLength: 4 }).map((p) => p.join('.'));
const timestamp = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2030-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14));
const hash = fc.constantFrom('abcdef123456', '000000000000', 'ffffffffffff', '0123456789ab');
/** The three pseudo-version forms of the go command: no base, base release, base prerelease. */
const pseudo = fc.oneof(
  fc.tuple(num, timestamp, hash).map(([m, t, h]) => `v${m}.0.0-${t}-${h}`),
  fc.tuple(num, num, num, timestamp, hash).map(([a, b, c, t, h]) => `v${a}.${b}.${c}-0.${t}-${h}`),
  fc.tuple(num, num, num, idents, timestamp, hash).map(([a, b, c, p, t, h]) => `v${a}.${b}.${c}-${p}.0.${t}-${h}`),
);
/** `arb` in `percent` of cases, else undefined. */
const maybe = <T>(arb: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 100 - percent, arbitrary: fc.constant(undefined) }, { weight: percent, arbitrary: arb });
const wellFormed = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.constantFrom('v', 'v', ''),
        num,
        maybe(num, 90),
        maybe(num, 90),
        maybe(idents, 40),
        maybe(fc.oneof(fc.constant('incompatible'), idents), 25),
      )
      .map(([v, a, b, c, p, m]) => {
        let s = `${v}${a}`;
        if (b !== undefined) s += `.${b}`;
        if (b !== undefined && c !== undefined) s += `.${c}`;
        if (p !== undefined) s += `-${p}`;
        if (m !== undefined) s += `+${m}`;
        return s;
      }),
  },
  { weight: 2, arbitrary: pseudo },
);
const NOISE = [...'0123456789.-+vVaz_ é'];
const mutated = mutator(NOISE);
const goVersion = fc.oneof({ weight: 5, arbitrary: wellFormed }, { weight: 1, arbitrary: mutated(wellFormed) });
const pair = fc.oneof(
  fc.tuple(goVersion, goVersion),
  goVersion.chain((a) => fc.tuple(fc.constant(a), mutated(fc.constant(a)))),
);

describe('go versions against golang.org/x/mod/semver', () => {
  it('has the oracle', () => {
    expect(existsSync(ORACLE), `${ORACLE} is missing: run 'npm run setup'`).toBe(true);
  });

  it('orders pseudo-versions, +incompatible and shorthands as the go command does', () => {
    const fixed = [
      ['v0.0.0-20191109021931-daa7c04131f5', 'v0.0.1'],
      ['v1.2.4-0.20191109021931-daa7c04131f5', 'v1.2.3'],
      ['v1.2.4-0.20191109021931-daa7c04131f5', 'v1.2.4'],
      ['v1.2.3-pre.0.20191109021931-daa7c04131f5', 'v1.2.3-pre'],
      ['v2.0.0+incompatible', 'v2.0.0'],
      ['v2.0.1+incompatible', 'v2.0.0'],
      ['v1.2', 'v1.2.0'],
      ['v1', 'v1.0.0'],
      ['1.2.3', 'v1.2.3'],
      ['v1.0.0-alpha.1', 'v1.0.0-alpha.beta'],
      ['v1.0.0-beta.11', 'v1.0.0-beta.2'],
      ['v1.2-pre', 'v1.2.0'],
      ['v01.2.3', 'v1.2.3'],
    ] as const;
    const answers = oracle(fixed);
    for (const [i, [a, b]] of fixed.entries()) {
      expect(ours(a, b), `${a} vs ${b}`).toEqual(expected(answers[i] as Answer));
    }
  });

  it('agrees with x/mod/semver on thousands of generated pairs', () => {
    const seen = new Map<string, number>();
    fc.assert(
      // One oracle process per batch; no shrinking (every step would rerun the oracle), the mismatches are listed.
      fc.property(fc.noShrink(fc.array(pair, { minLength: 3000, maxLength: 3000 })), (pairs) => {
        const answers = oracle(pairs);
        expect(answers).toHaveLength(pairs.length);
        const mismatches: unknown[] = [];
        for (const [i, [a, b]] of pairs.entries()) {
          const want = expected(answers[i] as Answer);
          const got = ours(a, b);
          if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ a, b, got, want });
          seen.set(String(want.cmp), (seen.get(String(want.cmp)) ?? 0) + 1);
        }
        expect(mismatches.slice(0, 5)).toEqual([]);
      }),
      { numRuns: Number(process.env.VERSION_ORACLE_RUNS ?? 4) },
    );
    for (const kind of ['-1', '0', '1', 'invalid']) expect(seen.get(kind) ?? 0, kind).toBeGreaterThan(200);
  });
});
