import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rubygemsScheme } from '../../src/advisories/versions/rubygems.js';
import { mutator, type Query, schemeAnswer } from '../helpers/versions.js';

/**
 * Differential test: the RubyGems scheme against Ruby's own Gem::Version and Gem::Requirement (the ruby that
 * scripts/setup-test-env.sh installs), thousands of generated cases in one `ruby -e` process per batch. A range is
 * the requirement list `Gem::Requirement.new(*range.split(',', -1))` reads.
 */
const ORACLE = `
require 'json'
STDIN.each_line do |line|
  q = JSON.parse(line)
  if q['k'] == 'cmp'
    va = Gem::Version.correct?(q['a'])
    vb = Gem::Version.correct?(q['b'])
    r = { va: va, vb: vb, cmp: (va && vb) ? (Gem::Version.new(q['a']) <=> Gem::Version.new(q['b'])) : nil }
  else
    vv = Gem::Version.correct?(q['v'])
    begin
      req = Gem::Requirement.new(*q['r'].split(',', -1))
    rescue ArgumentError
      req = nil
    end
    r = { vv: vv, vr: !req.nil?, in: (vv && req) ? req.satisfied_by?(Gem::Version.new(q['v'])) : nil }
  end
  STDOUT.write(JSON.generate(r), "\\n")
end
`;

interface Answer {
  va?: boolean;
  vb?: boolean;
  cmp?: number | null;
  vv?: boolean;
  vr?: boolean;
  in?: boolean | null;
}

function oracle(queries: readonly Query[]): Answer[] {
  const input = `${queries.map((q) => JSON.stringify(q)).join('\n')}\n`;
  const r = spawnSync('ruby', ['-e', ORACLE], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`ruby oracle failed: ${r.stderr}`);
  return r.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Answer);
}

const ours = (q: Query): unknown => schemeAnswer(rubygemsScheme, q);

function expected(q: Query, a: Answer): unknown {
  if (q.k === 'cmp') return { valid: a.va, cmp: a.va && a.vb ? a.cmp : 'invalid' };
  return a.vv && a.vr ? a.in : 'invalid';
}

const num = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 3 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('00', '010', '12345678901234567890123') },
);
const word = fc.constantFrom('a', 'b', 'pre', 'rc', 'beta', 'RC', 'Alpha', 'x1', '1a', 'z');
const segment = fc.oneof({ weight: 3, arbitrary: num }, { weight: 1, arbitrary: word });
const space = fc.constantFrom('', '', '', ' ', '\t', '\n', '\v', '\f', '\r', '\u00a0');
const wellFormed = fc
  .tuple(
    space,
    num,
    fc.array(segment, { maxLength: 4 }),
    fc.oneof(
      { weight: 2, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.array(fc.oneof(segment, fc.constant('x-y')), { minLength: 1, maxLength: 2 }) },
    ),
    space,
  )
  .map(([w1, first, rest, pre, w2]) => {
    let s = [first, ...rest].join('.');
    if (pre) s += `-${pre.join('.')}`;
    return `${w1}${s}${w2}`;
  });
const NOISE = [...'0123456789.-_aZ ~=<>!,\t'];
const mutated = mutator(NOISE);
const gemVersion = fc.oneof(
  { weight: 5, arbitrary: wellFormed },
  { weight: 2, arbitrary: mutated(wellFormed) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '0', '0.a', '1.0.0.0', '1.0.a.0') },
);
const op = fc.constantFrom('', '=', '!=', '>', '<', '>=', '<=', '~>');
const requirement = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(space, op, space, wellFormed).map((p) => p.join('')) },
  { weight: 1, arbitrary: mutated(fc.tuple(op, wellFormed).map((p) => p.join(''))) },
);
const requirements = fc.oneof(
  fc.array(requirement, { minLength: 1, maxLength: 3 }).map((r) => r.join(',')),
  fc.constantFrom('', ',', '>= 1,'),
);
/** A version and one a step away: a segment added, dropped or moved, a prerelease added; where `~>` bites. */
const stepped = fc
  .array(
    fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }).map(String) }, { weight: 1, arbitrary: word }),
    {
      minLength: 1,
      maxLength: 4,
    },
  )
  .chain((segs) => {
    const base = ['1', ...segs.slice(1)];
    const last = base.length - 1;
    const bumped = /^[0-9]+$/.test(base[last] as string) ? String(Number(base[last]) + 1) : 'z';
    const near = fc.constantFrom(
      base,
      [...base, '0'],
      [...base, 'a'],
      [...base, '1'],
      base.slice(0, -1).length ? base.slice(0, -1) : base,
      [...base.slice(0, -1), bumped],
      [...base.slice(0, -2), String(Number(/^[0-9]+$/.test(base[last - 1] ?? '') ? base[last - 1] : 0) + 1)],
    );
    return fc.tuple(
      fc.constant(base.join('.')),
      near.map((n) => n.join('.')),
    );
  });
const query: fc.Arbitrary<Query> = fc.oneof(
  stepped.map(([a, b]): Query => ({ k: 'cmp', a, b })),
  fc.tuple(stepped, op, space).map(([[r, v], o, w]): Query => ({ k: 'in', v, r: `${o}${w}${r}` })),
  fc.tuple(gemVersion, gemVersion).map(([a, b]): Query => ({ k: 'cmp', a, b })),
  gemVersion.chain((a) => mutated(fc.constant(a)).map((b): Query => ({ k: 'cmp', a, b }))),
  fc.tuple(gemVersion, requirements).map(([v, r]): Query => ({ k: 'in', v, r })),
);

describe('rubygems against Gem::Version and Gem::Requirement', () => {
  it('orders documented cases as RubyGems does', () => {
    // From the Gem::Version documentation: prereleases, "~>" (the pessimistic operator) and trailing zeros.
    const fixed: Query[] = [
      { k: 'cmp', a: '1.0.a.2', b: '1.0.a.10' },
      { k: 'cmp', a: '1.0.b1', b: '1.0.a.2' },
      { k: 'cmp', a: '1.0.0', b: '1' },
      { k: 'cmp', a: '1.0-1', b: '1.0.pre.1' },
      { k: 'cmp', a: '1.0.a', b: '1.0' },
      { k: 'in', v: '3.5', r: '~> 3.0' },
      { k: 'in', v: '4.0', r: '~> 3.0' },
      { k: 'in', v: '3.1.2', r: '~> 3.0.0' },
      { k: 'in', v: '3.0.9', r: '~> 3.0.0' },
      { k: 'in', v: '2.0.0.a', r: '~> 1.0' },
      { k: 'in', v: '1.2.3', r: '>= 1.2, < 2' },
      { k: 'in', v: '0', r: '' },
    ];
    const answers = oracle(fixed);
    for (const [i, q] of fixed.entries()) expect(ours(q), JSON.stringify(q)).toEqual(expected(q, answers[i] as Answer));
  });

  it('agrees with RubyGems on thousands of generated versions and requirements', () => {
    const seen = new Map<string, number>();
    fc.assert(
      // One oracle process per batch; no shrinking (every step would rerun the oracle), the mismatches are listed.
      fc.property(fc.noShrink(fc.array(query, { minLength: 2500, maxLength: 2500 })), (queries) => {
        const answers = oracle(queries);
        expect(answers).toHaveLength(queries.length);
        const mismatches: unknown[] = [];
        for (const [i, q] of queries.entries()) {
          const want = expected(q, answers[i] as Answer);
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
      expect(seen.get(kind) ?? 0, kind).toBeGreaterThan(200);
    }
  });
});
