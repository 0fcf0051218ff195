import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pep440Scheme } from '../../src/advisories/versions/pep440.js';
import { CACHE } from '../helpers/paths.js';
import { mutator, type Query, schemeAnswer } from '../helpers/versions.js';

/**
 * Differential test: the PEP 440 scheme against pip's own `packaging` (26.4, installed into .cache/venv by
 * scripts/setup-test-env.sh): Version ordering and SpecifierSet.contains, thousands of generated cases per run, one
 * Python process per batch.
 */
const PYTHON = join(CACHE, 'venv', 'bin', 'python');

const ORACLE = `
import sys, json
import packaging
from packaging.version import Version, InvalidVersion
from packaging.specifiers import SpecifierSet, InvalidSpecifier
assert packaging.__version__ == "26.4", packaging.__version__
def ver(s):
    try:
        return Version(s)
    except InvalidVersion:
        return None
for line in sys.stdin:
    q = json.loads(line)
    if q["k"] == "cmp":
        a, b = ver(q["a"]), ver(q["b"])
        r = {"va": a is not None, "vb": b is not None, "cmp": None if a is None or b is None else (a > b) - (a < b)}
    else:
        v = ver(q["v"])
        try:
            s = SpecifierSet(q["r"])
        except InvalidSpecifier:
            s = None
        r = {"vv": v is not None, "vr": s is not None, "in": s.contains(q["v"]) if s is not None and v is not None else None}
    sys.stdout.write(json.dumps(r) + "\\n")
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
  const r = spawnSync(PYTHON, ['-c', ORACLE], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`packaging oracle failed: ${r.stderr}`);
  return r.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Answer);
}

const ours = (q: Query): unknown => schemeAnswer(pep440Scheme, q);

function expected(q: Query, a: Answer): unknown {
  if (q.k === 'cmp') return { valid: a.va, cmp: a.va && a.vb ? a.cmp : 'invalid' };
  return a.vv && a.vr ? a.in : 'invalid';
}

// ---- generators: version-shaped text around a few release numbers, with every spelling PEP 440 normalises ----------
const num = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 3 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('00', '01', '10', '007', '99999999999999999999') },
);
const sep = fc.constantFrom('', '', '.', '-', '_');
/** `arb` in `percent` of cases, else `none` (fc.option's freq sets how rare the nil is, not the value). */
const maybe = <T>(arb: fc.Arbitrary<T>, none: T, percent: number): fc.Arbitrary<T> =>
  fc.oneof({ weight: 100 - percent, arbitrary: fc.constant(none) }, { weight: percent, arbitrary: arb });
const cased = (words: readonly string[]) =>
  fc.tuple(fc.constantFrom(...words), fc.boolean()).map(([w, upper]) => (upper ? w.toUpperCase() : w));
const release = fc.array(num, { minLength: 1, maxLength: 4 }).map((p) => p.join('.'));
const pre = fc
  .tuple(sep, cased(['a', 'b', 'c', 'rc', 'alpha', 'beta', 'pre', 'preview']), sep, fc.option(num, { nil: '' }))
  .map((p) => p.join(''));
const post = fc.oneof(
  num.map((n) => `-${n}`),
  fc.tuple(sep, cased(['post', 'rev', 'r']), sep, fc.option(num, { nil: '' })).map((p) => p.join('')),
);
const dev = fc.tuple(sep, cased(['dev']), sep, fc.option(num, { nil: '' })).map((p) => p.join(''));
const local = fc
  .array(fc.oneof(num, fc.constantFrom('abc', 'ubuntu', 'Z', 'x1')), { minLength: 1, maxLength: 3 })
  .chain((parts) => fc.tuple(...parts.map(() => fc.constantFrom('.', '-', '_'))).map((s) => ({ parts, s })))
  .map(({ parts, s }) => `+${parts.map((p, i) => (i ? s[i] : '') + p).join('')}`);
/** Version text around a given release, with every optional part PEP 440 allows. */
const versionOf = (rel: fc.Arbitrary<string>) =>
  fc
    .tuple(
      fc.constantFrom('', '', '', 'v', 'V'),
      maybe(
        num.map((n) => `${n}!`),
        '',
        10,
      ),
      rel,
      maybe(pre, '', 35),
      maybe(post, '', 25),
      maybe(dev, '', 25),
      maybe(local, '', 20),
      fc.constantFrom('', '', '', ' ', '\t', '\u00a0', '\u2003', '\x1c', '\ufeff'),
    )
    .map(([v, e, r, p, po, d, l, ws]) => `${ws}${v}${e}${r}${p}${po}${d}${l}${ws}`);
const wellFormed = versionOf(release);
/** A version as parts, to spell in several ways and to move by one step, where the ordering rules bite. */
interface Parts {
  epoch: number | undefined;
  release: number[];
  pre: readonly [readonly string[], number] | undefined;
  post: number | undefined;
  dev: number | undefined;
  local: string[] | undefined;
}
const small = fc.integer({ min: 0, max: 3 });
const preWords = fc.constantFrom(['a', 'alpha'], ['b', 'beta'], ['rc', 'c', 'pre', 'preview']);
const localParts = fc.array(fc.constantFrom('abc', '1', '01', 'Z'), { minLength: 1, maxLength: 2 });
const parts: fc.Arbitrary<Parts> = fc.record({
  epoch: maybe<number | undefined>(small, undefined, 15),
  release: fc.array(small, { minLength: 1, maxLength: 3 }),
  pre: maybe<Parts['pre']>(fc.tuple(preWords, small), undefined, 40),
  post: maybe<number | undefined>(small, undefined, 30),
  dev: maybe<number | undefined>(small, undefined, 30),
  local: maybe<string[] | undefined>(localParts, undefined, 25),
});
/** The same version a step or two away: a pre, post, dev or local added, dropped or moved, or a zero added. */
const step = (v: Parts): fc.Arbitrary<Parts> =>
  fc.oneof(
    maybe<Parts['pre']>(fc.tuple(preWords, small), undefined, 50).map((pre): Parts => ({ ...v, pre })),
    maybe<number | undefined>(small, undefined, 50).map((post): Parts => ({ ...v, post })),
    maybe<number | undefined>(small, undefined, 50).map((dev): Parts => ({ ...v, dev })),
    maybe<string[] | undefined>(localParts, undefined, 50).map((local): Parts => ({ ...v, local })),
    fc.constant<Parts>({ ...v, release: [...v.release, 0] }),
    fc.constant(v),
  );
const tweak = (v: Parts): fc.Arbitrary<Parts> => step(v).chain((w) => fc.oneof(fc.constant(w), step(w)));
/** One of the spellings packaging normalises to `v`: aliases, separators, case, implicit numbers, a trailing zero. */
const spell = (v: Parts): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.constantFrom('', 'v'),
      fc.constantFrom('', '0', '.0'),
      fc.constantFrom(...(v.pre?.[0] ?? [''])),
      fc.constantFrom('', '.', '-', '_'),
      fc.constantFrom('post', 'rev', 'r', 'implicit'),
      fc.constantFrom('.', '-', '_'),
      fc.boolean(),
    )
    .map(([pfx, zeros, preWord, sepr, postWord, localSep, upper]) => {
      let out = `${pfx}${v.epoch === undefined ? '' : `${v.epoch}!`}${v.release.join('.')}`;
      if (zeros === '.0') out += '.0';
      if (v.pre) out += `${sepr}${preWord}${v.pre[1] === 0 && zeros === '' ? '' : v.pre[1]}`;
      if (v.post !== undefined) out += postWord === 'implicit' ? `-${v.post}` : `${sepr}${postWord}${v.post}`;
      if (v.dev !== undefined) out += `${sepr}dev${v.dev === 0 && zeros === '0' ? '' : v.dev}`;
      if (v.local) out += `+${v.local.join(localSep)}`;
      return upper ? out.toUpperCase() : out;
    });
/** Two spellings of one version, or of two versions one step apart. */
const nearPair = parts.chain((v) => fc.tuple(spell(v), fc.oneof(spell(v), tweak(v).chain(spell))));
const NOISE = [...'0123456789.-_+!*vVabcdeilnoprstw ,;)'];
const mutated = mutator(NOISE);
/** A small edit of a version: the cases just beside the grammar. */
const pepVersion = fc.oneof({ weight: 4, arbitrary: wellFormed }, { weight: 1, arbitrary: mutated(wellFormed) });

const op = fc.constantFrom('==', '!=', '<=', '>=', '<', '>', '~=', '===');
/** Specifier sets whose versions share a release with the tested version, where the exclusive rules bite. */
const specSetOf = (rel: fc.Arbitrary<string>) => {
  const around = versionOf(rel);
  const oneSpec = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(op, fc.constantFrom('', ' '), around).map(([o, s, v]) => `${o}${s}${v.trim()}`) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom('==', '!='), fc.constantFrom('', 'v', '1!'), rel)
        .map(([o, p, r]) => `${o}${p}${r}.*`),
    },
    { weight: 1, arbitrary: mutated(fc.tuple(op, around).map(([o, v]) => `${o}${v.trim()}`)) },
  );
  return fc
    .array(oneSpec, { minLength: 0, maxLength: 3 })
    .chain((specs) => fc.constantFrom(',', ', ', ' , ').map((j) => specs.join(j)));
};

const query: fc.Arbitrary<Query> = fc.oneof(
  fc.tuple(pepVersion, pepVersion).map(([a, b]): Query => ({ k: 'cmp', a, b })),
  pepVersion.chain((a) => mutated(fc.constant(a)).map((b): Query => ({ k: 'cmp', a, b }))),
  nearPair.map(([a, b]): Query => ({ k: 'cmp', a, b })),
  fc.tuple(pepVersion, specSetOf(release)).map(([v, r]): Query => ({ k: 'in', v, r })),
  release.chain((r) => {
    const near = fc.constantFrom(r, `${r}.0`, `${r}.1`);
    return fc.tuple(versionOf(near), specSetOf(near)).map(([v, spec]): Query => ({ k: 'in', v, r: spec }));
  }),
  // A specifier on a version and a version one step from it: the exclusive and prefix rules at their edges.
  parts.chain((p) =>
    fc
      .tuple(op, spell(p), spell({ ...p, local: undefined }), tweak(p).chain(spell))
      .map(([o, withLocal, plain, v]): Query => {
        if (o === '==' || o === '!=' || o === '===') return { k: 'in', v, r: `${o}${withLocal}` };
        return { k: 'in', v, r: `${o}${plain}` };
      }),
  ),
  parts.chain((p) =>
    fc
      .tuple(fc.constantFrom('==', '!='), tweak(p).chain(spell))
      .map(([o, v]): Query => ({ k: 'in', v, r: `${o}${p.release.join('.')}.*` })),
  ),
);

describe('pep440 against packaging', () => {
  it('has the oracle', () => {
    expect(existsSync(PYTHON), `${PYTHON} is missing: run 'npm run setup'`).toBe(true);
  });

  it('orders PEP 440 examples and the documented edge cases as packaging does', () => {
    // From PEP 440's "Summary of permitted suffixes and relative ordering" and packaging's specifier docs.
    const fixed: Query[] = [
      { k: 'cmp', a: '1.0.dev456', b: '1.0a1' },
      { k: 'cmp', a: '1.0a12.dev456', b: '1.0a12' },
      { k: 'cmp', a: '1.0b2.post345.dev456', b: '1.0b2.post345' },
      { k: 'cmp', a: '1.0', b: '1.0+abc.5' },
      { k: 'cmp', a: '1.0+abc.7', b: '1.0+5' },
      { k: 'cmp', a: '1.0.post456.dev34', b: '1.0.post456' },
      { k: 'cmp', a: '1!0.1', b: '2.0' },
      { k: 'cmp', a: '1.0.0', b: '1' },
      { k: 'in', v: '1.0.post2', r: '>1.0.post1' },
      { k: 'in', v: '1.0.post2.dev1', r: '>1.0.post1' },
      { k: 'in', v: '1.0b1', r: '<1.0rc1' },
      { k: 'in', v: '1.0+b', r: '==1.0+a' },
      { k: 'in', v: '1', r: '==1.0.*' },
      { k: 'in', v: '1.0.post1', r: '>1.0' },
      { k: 'in', v: '1.0a1', r: '<1.0' },
      { k: 'in', v: '2.2.post3', r: '~=2.2.post3' },
      { k: 'in', v: '1.3a1', r: '>=1.0,!=1.3.*' },
      { k: 'in', v: 'FOO', r: '===foo' },
      { k: 'in', v: '1.0', r: '' },
    ];
    const answers = oracle(fixed);
    for (const [i, q] of fixed.entries()) expect(ours(q), JSON.stringify(q)).toEqual(expected(q, answers[i] as Answer));
  });

  it('agrees with packaging on thousands of generated versions and specifier sets', () => {
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
    // The generators must keep reaching every outcome, or the agreement proves little.
    for (const kind of ['cmp:-1', 'cmp:0', 'cmp:1', 'cmp:"invalid"', 'in:true', 'in:false', 'in:"invalid"']) {
      expect(seen.get(kind) ?? 0, kind).toBeGreaterThan(200);
    }
  });
});
