/**
 * Alpine package versions, `digits{.digits}[letter]{_suffix[digits]}[~hash][-rN]`, read and ordered by the rules of
 * apk-tools 3 (src/version.c): suffixes `_alpha _beta _pre _rc` sort before the release and `_cvs _svn _git _hg _p`
 * after it; a dotted component with a leading zero compares as text (`1.05 < 1.5`, `1.0 < 1.00`); a `~hash` of
 * lowercase hex digits compares as text. Numbers compare exactly at any length (apk itself wraps past 2^64).
 * apk-tools 2 differs only on versions apk-tools 3 refuses or on leading-zero components (`1.0` vs `1.00`).
 */
import { type Comparison, InvalidVersionError, type VersionScheme } from './scheme.js';

// Token kinds in the order apk ranks them when one version runs out of tokens before the other.
const INITIAL = 0;
const DIGIT = 1;
const LETTER = 2;
const SUFFIX = 3;
const SUFFIX_NO = 4;
const HASH = 5;
const REVISION = 6;
const END = 7;

/** Suffix ranks; a version without one ranks 5, between the pre-release and the post-release suffixes. */
const SUFFIXES: Readonly<Record<string, number>> = {
  alpha: 1,
  beta: 2,
  pre: 3,
  rc: 4,
  cvs: 6,
  svn: 7,
  git: 8,
  hg: 9,
  p: 10,
};
const NO_SUFFIX = 5;

interface Token {
  readonly kind: number;
  readonly text: string;
  readonly suffix: number;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isLower = (c: number): boolean => c >= 97 && c <= 122;
const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102);

function runEnd(s: string, i: number, test: (c: number) => boolean): number {
  let j = i;
  while (j < s.length && test(s.charCodeAt(j))) j++;
  return j;
}

/** Split a version into tokens ending with END, or return why apk refuses it. */
function tokenize(v: string): Token[] | string {
  const tokens: Token[] = [];
  const push = (kind: number, text: string, suffix = NO_SUFFIX): void => {
    tokens.push({ kind, text, suffix });
  };
  let i = runEnd(v, 0, isDigit);
  if (i === 0) return 'does not start with a digit';
  push(INITIAL, v.slice(0, i));
  while (i < v.length) {
    const prev = tokens[tokens.length - 1]!.kind;
    const c = v.charCodeAt(i);
    if (isLower(c)) {
      if (prev > DIGIT) return `letter '${v[i]}' after ${prev === LETTER ? 'a letter' : 'a suffix or revision'}`;
      push(LETTER, v[i]!);
      i++;
    } else if (c === 0x2e || isDigit(c)) {
      if (c === 0x2e) {
        if (prev > DIGIT) return `'.' after a letter, suffix or revision`;
        i++;
      } else if (prev !== SUFFIX) return 'digits after a letter';
      const end = runEnd(v, i, isDigit);
      if (end === i) return `'.' not followed by digits`;
      push(prev === SUFFIX ? SUFFIX_NO : DIGIT, v.slice(i, end));
      i = end;
    } else if (c === 0x5f) {
      if (prev > SUFFIX_NO) return `'_' after a hash or revision`;
      const end = runEnd(v, i + 1, isLower);
      const name = v.slice(i + 1, end);
      const rank = Object.hasOwn(SUFFIXES, name) ? SUFFIXES[name] : undefined;
      if (rank === undefined) return `unknown suffix '_${name}'`;
      push(SUFFIX, name, rank);
      i = end;
    } else if (c === 0x7e) {
      if (prev >= HASH) return `'~' after a hash or revision`;
      const end = runEnd(v, i + 1, isHex);
      if (end === i + 1) return `'~' not followed by lowercase hex digits`;
      push(HASH, v.slice(i + 1, end));
      i = end;
    } else if (c === 0x2d) {
      if (prev >= REVISION || v[i + 1] !== 'r') return `'-' not starting the one '-rN' revision`;
      const end = runEnd(v, i + 2, isDigit);
      if (end === i + 2) return `'-r' not followed by digits`;
      push(REVISION, v.slice(i + 2, end));
      i = end;
    } else {
      return `unexpected character at position ${i + 1}`;
    }
  }
  push(END, '');
  return tokens;
}

function parse(v: string): Token[] {
  const tokens = tokenize(v);
  if (typeof tokens === 'string') throw new InvalidVersionError('apk', v, tokens);
  return tokens;
}

function compareText(a: string, b: string): Comparison {
  return a === b ? 0 : a < b ? -1 : 1;
}

/** Compare unsigned decimal strings by value, without converting them to numbers. */
function compareNumber(a: string, b: string): Comparison {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return compareText(x, y);
}

/** Compare two tokens of the same kind. */
function compareToken(a: Token, b: Token): Comparison {
  switch (a.kind) {
    case DIGIT:
      return a.text.startsWith('0') || b.text.startsWith('0')
        ? compareText(a.text, b.text)
        : compareNumber(a.text, b.text);
    case INITIAL:
    case SUFFIX_NO:
    case REVISION:
      return compareNumber(a.text, b.text);
    case SUFFIX:
      return a.suffix === b.suffix ? 0 : a.suffix < b.suffix ? -1 : 1;
    default:
      return compareText(a.text, b.text);
  }
}

function compareTokens(a: Token[], b: Token[]): Comparison {
  let k = 0;
  while (a[k]!.kind === b[k]!.kind && a[k]!.kind !== END) {
    const r = compareToken(a[k]!, b[k]!);
    if (r !== 0) return r;
    k++;
  }
  const ta = a[k]!;
  const tb = b[k]!;
  if (ta.kind === tb.kind) return 0;
  // Where one version goes on and the other stops or changes kind, a pre-release suffix makes its side older;
  // otherwise the side whose token kind ranks later (END ranks last) is the older one.
  if (ta.kind === SUFFIX && ta.suffix < NO_SUFFIX) return -1;
  if (tb.kind === SUFFIX && tb.suffix < NO_SUFFIX) return 1;
  return ta.kind > tb.kind ? -1 : 1;
}

/** The apk version scheme (Alpine Linux, Wolfi, postmarketOS). */
export const apkScheme: VersionScheme = {
  name: 'apk',
  valid: (v) => typeof tokenize(v) !== 'string',
  compare: (a, b) => compareTokens(parse(a), parse(b)),
};
