import { lookup } from '../../util/record.js';
import { type Comparison, InvalidVersionError, type VersionScheme } from './scheme.js';

/**
 * The fallback for ecosystems without a scheme of their own. The rules:
 *
 * - A version is an optional `v`, a number, then letters, digits and the separators `.`, `-` and `_` (which only
 *   separate: `1.0-1` is `1.0.1`). Text after the first `+` is build metadata and is ignored. Surrounding whitespace
 *   is ignored; anything else makes the version invalid.
 * - The version splits into runs of digits and runs of letters. The numbers before the first letters are the
 *   release, compared number by number with missing numbers counting as 0 (`1.0` = `1.0.0`, `1.10` > `1.9`).
 * - The rest is the suffix, compared token by token in the same way, where a prerelease word sorts before any number
 *   and any other word after every number: dev < alpha < beta < milestone < pre, preview < rc, cr < snapshot
 *   < (release) < other words, which compare alphabetically (`1.0.2k` > `1.0.2`, `1.0.post1` > `1.0`).
 *   `a`, `b`, `c` and `m` mean alpha, beta, rc and milestone only when a number follows at once (`1.0a1`), else they
 *   are other words, as in OpenSSL's `1.0.2a`. `final`, `ga`, `release` and `stable` mean the release and are dropped.
 * - Letters compare without regard to case.
 */

const MAX_LENGTH = 1024;

const PRE_RANK: Readonly<Record<string, number>> = {
  dev: 0,
  alpha: 1,
  beta: 2,
  milestone: 3,
  pre: 4,
  preview: 4,
  rc: 5,
  cr: 5,
  snapshot: 6,
};
const LETTER_BEFORE_NUMBER: Readonly<Record<string, string>> = { a: 'alpha', b: 'beta', c: 'rc', m: 'milestone' };
const RELEASE_WORDS = new Set(['final', 'ga', 'release', 'stable']);

type Token =
  | { readonly t: 'pre'; readonly rank: number }
  | { readonly t: 'num'; readonly n: bigint }
  | { readonly t: 'word'; readonly w: string };

interface GenericVersion {
  readonly release: readonly bigint[];
  readonly suffix: readonly Token[];
}

function parseGeneric(input: string): GenericVersion | string {
  if (input.length > MAX_LENGTH) return `longer than ${MAX_LENGTH} characters`;
  const s = input.trim();
  const plus = s.indexOf('+');
  const main = plus < 0 ? s : s.slice(0, plus);
  if (plus >= 0 && !/^[0-9A-Za-z._+-]+$/.test(s.slice(plus + 1))) return 'bad build metadata';
  const body = /^[vV][0-9]/.test(main) ? main.slice(1) : main;
  if (!/^[0-9]/.test(body)) return 'a version starts with a number';
  if (!/^[0-9A-Za-z._-]+$/.test(body)) return 'only letters, digits, ".", "-", "_" and "+" are allowed';
  const release: bigint[] = [];
  const suffix: Token[] = [];
  let inSuffix = false;
  for (const m of body.matchAll(/[0-9]+|[A-Za-z]+/g)) {
    const text = m[0];
    if (/^[0-9]/.test(text)) {
      const n = BigInt(text);
      if (inSuffix) suffix.push({ t: 'num', n });
      else release.push(n);
      continue;
    }
    inSuffix = true;
    const lower = text.toLowerCase();
    const digitFollows = /[0-9]/.test(body[(m.index ?? 0) + text.length] ?? '');
    const word = (digitFollows && lookup(LETTER_BEFORE_NUMBER, lower)) || lower;
    if (RELEASE_WORDS.has(word)) continue;
    const rank = lookup(PRE_RANK, word);
    suffix.push(rank === undefined ? { t: 'word', w: word } : { t: 'pre', rank });
  }
  return { release, suffix };
}

function version(v: string): GenericVersion {
  const p = parseGeneric(v);
  if (typeof p === 'string') throw new InvalidVersionError('generic', v, p);
  return p;
}

const ZERO: Token = { t: 'num', n: 0n };
const CLASS = { pre: 0, num: 1, word: 2 } as const;

function compareToken(a: Token, b: Token): Comparison {
  if (a.t !== b.t) return CLASS[a.t] < CLASS[b.t] ? -1 : 1;
  if (a.t === 'num' && b.t === 'num') return a.n === b.n ? 0 : a.n < b.n ? -1 : 1;
  if (a.t === 'pre' && b.t === 'pre') return a.rank === b.rank ? 0 : a.rank < b.rank ? -1 : 1;
  if (a.t === 'word' && b.t === 'word') return a.w === b.w ? 0 : a.w < b.w ? -1 : 1;
  return 0;
}

/** Token by token, the shorter list padded with zeros. */
function compareTokens(a: readonly Token[], b: readonly Token[]): Comparison {
  for (let i = 0; i < a.length || i < b.length; i++) {
    const c = compareToken(a[i] ?? ZERO, b[i] ?? ZERO);
    if (c) return c;
  }
  return 0;
}

const asTokens = (release: readonly bigint[]): Token[] => release.map((n) => ({ t: 'num', n }));

/** The generic fallback scheme; see the rules above. It has no range syntax. */
export const genericScheme: VersionScheme = {
  name: 'generic',
  valid(v: string): boolean {
    return typeof parseGeneric(v) !== 'string';
  },
  compare(a: string, b: string): Comparison {
    const x = version(a);
    const y = version(b);
    return compareTokens(asTokens(x.release), asTokens(y.release)) || compareTokens(x.suffix, y.suffix);
  },
};
