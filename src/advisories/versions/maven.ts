import { type Comparison, InvalidVersionError, type VersionScheme } from './scheme.js';

/**
 * Maven versions as maven-artifact 3.9's ComparableVersion orders them, and Maven's version-range syntax as its
 * VersionRange reads it. Maven can order any string, so only the empty string and overlong ones are refused.
 */

const MAX_LENGTH = 1024;
const MAX_RANGE_LENGTH = 4096;

/** Item kinds; an int (up to 9 digits) < a long (up to 18) < a big integer, whatever the values (as in Maven). */
type Item =
  | { readonly k: 'int' | 'long' | 'big'; readonly n: bigint }
  | { readonly k: 'str'; readonly s: string }
  | { readonly k: 'list'; readonly items: Item[] };

const ZERO: Item = { k: 'int', n: 0n };
const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Readonly<Record<string, string>> = { ga: '', final: '', release: '', cr: 'rc' };
const RELEASE_INDEX = String(QUALIFIERS.indexOf(''));

/** Java's Character.isDigit on one UTF-16 unit: Unicode decimal digits (Nd), not only ASCII. */
const isDigit = (c: string): boolean => (c >= '0' && c <= '9') || (c > '\u007f' && /^\p{Nd}$/u.test(c));

/** Java's Character.digit: each run of decimal digits starts at its zero (no two runs touch in the BMP). */
function digitValue(c: string): number {
  if (c <= '9') return c.charCodeAt(0) - 0x30;
  let code = c.charCodeAt(0);
  let n = 0;
  while (/^\p{Nd}$/u.test(String.fromCharCode(code - 1))) {
    code--;
    n++;
  }
  return n;
}

function numberItem(text: string): Item {
  // Like Maven, strip ASCII leading zeros unless all are zeros; the kind follows the length of what is left.
  const digits = /^0+$/.test(text) ? text : text.replace(/^0+/, '');
  let n = 0n;
  for (const c of digits) n = n * 10n + BigInt(digitValue(c));
  return { k: digits.length <= 9 ? 'int' : digits.length <= 18 ? 'long' : 'big', n };
}

function stringItem(value: string, followedByDigit: boolean): Item {
  let s = value;
  if (followedByDigit && s.length === 1) s = s === 'a' ? 'alpha' : s === 'b' ? 'beta' : s === 'm' ? 'milestone' : s;
  return { k: 'str', s: ALIASES[s] ?? s };
}

function isNull(item: Item): boolean {
  if (item.k === 'str') return comparable(item.s) === RELEASE_INDEX;
  if (item.k === 'list') return item.items.length === 0;
  return item.n === 0n;
}

/** ListItem.normalize: drop trailing null items (0, "", empty list), stopping at the first list that is not null. */
function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const item = list[i] as Item;
    if (isNull(item)) list.splice(i, 1);
    else if (item.k !== 'list') break;
  }
}

/** ComparableVersion.parseVersion, step by step. */
function parseMaven(version: string): Item {
  const root: Item[] = [];
  const stack: Item[][] = [root];
  let list = root;
  const v = version.toLowerCase();
  let isDigitRun = false;
  let start = 0;
  const parseItem = (digit: boolean, text: string): Item => (digit ? numberItem(text) : stringItem(text, false));
  const push = (): void => {
    const next: Item[] = [];
    list.push({ k: 'list', items: next });
    list = next;
    stack.push(next);
  };
  for (let i = 0; i < v.length; i++) {
    const c = v[i] as string;
    if (c === '.' || c === '-') {
      list.push(i === start ? ZERO : parseItem(isDigitRun, v.slice(start, i)));
      start = i + 1;
      if (c === '-') push();
    } else if (isDigit(c)) {
      if (!isDigitRun && i > start) {
        // 1.0.0.X1 < 1.0.0-X2: a qualifier directly followed by a number starts a sublist, like -X.
        if (list.length > 0) push();
        list.push(stringItem(v.slice(start, i), true));
        start = i;
        push();
      }
      isDigitRun = true;
    } else {
      if (isDigitRun && i > start) {
        list.push(parseItem(true, v.slice(start, i)));
        start = i;
        push();
      }
      isDigitRun = false;
    }
  }
  if (v.length > start) {
    if (!isDigitRun && list.length > 0) push();
    list.push(parseItem(isDigitRun, v.slice(start)));
  }
  for (let l = stack.pop(); l; l = stack.pop()) normalize(l);
  return { k: 'list', items: root };
}

/** StringItem.comparableQualifier: the index of a known qualifier, else "7-" and the text (compared as text). */
function comparable(q: string): string {
  const i = QUALIFIERS.indexOf(q);
  return i === -1 ? `${QUALIFIERS.length}-${q}` : String(i);
}

const sign = (a: string | bigint, b: string | bigint): Comparison => (a < b ? -1 : a > b ? 1 : 0);
const RANK = { int: 0, long: 1, big: 2 } as const;

/** Item.compareTo(other), with null for a missing item; only the sign of Java's result matters. */
function compareItem(a: Item, b: Item | null): Comparison {
  if (a.k === 'str') {
    if (b === null) return sign(comparable(a.s), RELEASE_INDEX);
    if (b.k === 'str') return sign(comparable(a.s), comparable(b.s));
    return -1;
  }
  if (a.k === 'list') {
    if (b === null) {
      for (const item of a.items) {
        const r = compareItem(item, null);
        if (r) return r;
      }
      return 0;
    }
    if (b.k === 'str') return 1;
    if (b.k !== 'list') return -1;
    for (let i = 0; i < a.items.length || i < b.items.length; i++) {
      const l = a.items[i];
      const r = b.items[i] ?? null;
      const c = l === undefined ? (r === null ? 0 : (-compareItem(r, null) as Comparison)) : compareItem(l, r);
      if (c) return c;
    }
    return 0;
  }
  if (b === null) return a.n === 0n ? 0 : 1;
  if (b.k === 'str' || b.k === 'list') return 1;
  if (a.k !== b.k) return RANK[a.k] < RANK[b.k] ? -1 : 1;
  return sign(a.n, b.n);
}

function check(v: string): string {
  if (v === '') throw new InvalidVersionError('maven', v, 'empty');
  if (v.length > MAX_LENGTH) throw new InvalidVersionError('maven', v, `longer than ${MAX_LENGTH} characters`);
  return v;
}

const compareMaven = (a: string, b: string): Comparison => compareItem(parseMaven(a), parseMaven(b));

/** Java's String.trim: characters up to U+0020 at either end. */
const javaTrim = (s: string): string => s.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '');

interface Restriction {
  readonly lower: string | null;
  readonly lowerInclusive: boolean;
  readonly upper: string | null;
  readonly upperInclusive: boolean;
}

/**
 * VersionRange.createFromVersionSpec: `[1.0,2.0)`, `[1.0]`, `(,1.0],[1.2,)`. A bare version, which Maven reads as a
 * soft preference that every version satisfies, is refused: write `[1.0]` for exactly 1.0.
 */
function parseRange(spec: string): Restriction[] {
  const bad = (why: string): never => {
    throw new InvalidVersionError('maven', spec, `invalid range: ${why}`);
  };
  if (spec.length > MAX_RANGE_LENGTH) bad(`over ${MAX_RANGE_LENGTH} characters`);
  const restrictions: Restriction[] = [];
  let process = spec;
  let upperBound: string | null = null;
  while (process.startsWith('[') || process.startsWith('(')) {
    const close = process.indexOf(')');
    const bracket = process.indexOf(']');
    let index = bracket;
    if ((bracket < 0 || close < bracket) && close >= 0) index = close;
    if (index < 0) bad('unbounded range');
    const r = parseRestriction(process.slice(0, index + 1), bad);
    if (upperBound !== null && (r.lower === null || compareMaven(r.lower, upperBound) < 0)) bad('ranges overlap');
    restrictions.push(r);
    upperBound = r.upper;
    process = javaTrim(process.slice(index + 1));
    if (process.startsWith(',')) process = javaTrim(process.slice(1));
  }
  if (process.length > 0) {
    if (restrictions.length > 0) bad('only fully-qualified sets are allowed with several sets');
    bad(spec === '' ? 'empty' : 'a bare version is a soft requirement that every version meets; write [v] for v');
  }
  if (restrictions.length === 0) bad('empty');
  return restrictions;
}

function parseRestriction(spec: string, bad: (why: string) => never): Restriction {
  const lowerInclusive = spec.startsWith('[');
  const upperInclusive = spec.endsWith(']');
  const inner = javaTrim(spec.slice(1, -1));
  const comma = inner.indexOf(',');
  if (comma < 0) {
    if (!lowerInclusive || !upperInclusive) bad('a single version must be in []');
    return { lower: inner, lowerInclusive, upper: inner, upperInclusive };
  }
  const lo = javaTrim(inner.slice(0, comma));
  const hi = javaTrim(inner.slice(comma + 1));
  const lower = lo.length > 0 ? lo : null;
  const upper = hi.length > 0 ? hi : null;
  if (lower !== null && upper !== null) {
    const c = compareMaven(upper, lower);
    if (c < 0 || (c === 0 && (!lowerInclusive || !upperInclusive))) bad('the range defies version ordering');
  }
  return { lower, lowerInclusive, upper, upperInclusive };
}

function contains(r: Restriction, v: string): boolean {
  if (r.lower !== null) {
    const c = compareMaven(r.lower, v);
    if (c > 0 || (c === 0 && !r.lowerInclusive)) return false;
  }
  if (r.upper !== null) {
    const c = compareMaven(r.upper, v);
    if (c < 0 || (c === 0 && !r.upperInclusive)) return false;
  }
  return true;
}

/** Maven: ComparableVersion ordering (qualifiers alpha < beta < milestone < rc < snapshot < release < sp) and ranges. */
export const mavenScheme: VersionScheme = {
  name: 'maven',
  valid(v: string): boolean {
    return v !== '' && v.length <= MAX_LENGTH;
  },
  compare(a: string, b: string): Comparison {
    return compareMaven(check(a), check(b));
  },
  satisfies(v: string, range: string): boolean {
    check(v);
    return parseRange(range).some((r) => contains(r, v));
  },
};
