import { printable } from '../../errors.js';
import { type Comparison, InvalidVersionError, type VersionScheme } from './scheme.js';

const MAX_LENGTH = 1024;
const MAX_RANGE_LENGTH = 4096;

/** Ruby's `\s`: space, tab, newline, vertical tab, form feed, carriage return. */
const isSpace = (c: string | undefined): boolean => c !== undefined && ' \t\n\v\f\r'.includes(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlnum = (c: string | undefined): boolean => c !== undefined && /^[0-9A-Za-z]$/.test(c);
const isAlnumDash = (c: string | undefined): boolean => c !== undefined && /^[0-9A-Za-z-]$/.test(c);

/**
 * The end of Gem::Version::VERSION_PATTERN (`[0-9]+(?>\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`) matched
 * from `at`, or -1. Each later part of the pattern can only be followed by the end or whitespace, so taking every
 * group greedily finds the same match as Ruby's backtracking engine.
 */
function versionEnd(s: string, at: number): number {
  let i = at;
  while (isDigit(s[i])) i++;
  if (i === at) return -1;
  while (s[i] === '.' && isAlnum(s[i + 1])) {
    i++;
    while (isAlnum(s[i])) i++;
  }
  if (s[i] === '-' && isAlnumDash(s[i + 1])) {
    i++;
    while (isAlnumDash(s[i])) i++;
    while (s[i] === '.' && isAlnumDash(s[i + 1])) {
      i++;
      while (isAlnumDash(s[i])) i++;
    }
  }
  return i;
}

function skipSpace(s: string, at: number): number {
  let i = at;
  while (isSpace(s[i])) i++;
  return i;
}

type Segment = bigint | string;

/** A Gem::Version: the text as Ruby keeps it (stripped, `-` spelled `.pre.`) and its segments. */
interface GemVersion {
  readonly text: string;
  readonly segments: readonly Segment[];
}

function gemVersion(text: string): GemVersion {
  const segments = (text.match(/[0-9]+|[a-z]+/gi) ?? []).map((s) => (/^[0-9]/.test(s) ? BigInt(s) : s));
  return { text, segments };
}

/** Parse as Gem::Version.new: surrounding whitespace is allowed and an empty or blank string is version 0. */
function parseGemVersion(input: string): GemVersion | string {
  if (input.length > MAX_LENGTH) return `longer than ${MAX_LENGTH} characters`;
  const start = skipSpace(input, 0);
  if (start === input.length) return gemVersion('0');
  const end = versionEnd(input, start);
  if (end < 0) return 'a version starts with a number';
  if (skipSpace(input, end) !== input.length) return `unexpected '${printable(input[end] ?? '')}' at ${end}`;
  return gemVersion(input.slice(start, end).replaceAll('-', '.pre.'));
}

function version(v: string): GemVersion {
  const p = parseGemVersion(v);
  if (typeof p === 'string') throw new InvalidVersionError('rubygems', v, p);
  return p;
}

/** Numbers before the first letter and the rest, each without trailing zeros (Gem::Version#canonical_segments). */
function canonical(segments: readonly Segment[]): Segment[] {
  const firstString = segments.findIndex((s) => typeof s === 'string');
  const cut = firstString < 0 ? segments.length : firstString;
  const dropZeros = (part: readonly Segment[]): Segment[] => {
    let end = part.length;
    while (end > 0 && part[end - 1] === 0n) end--;
    return part.slice(0, end);
  };
  return [...dropZeros(segments.slice(0, cut)), ...dropZeros(segments.slice(cut))];
}

/** Gem::Version#<=>: letters sort before numbers (1.0.a < 1.0), missing segments count as 0. */
function compareGems(a: GemVersion, b: GemVersion): Comparison {
  if (a.text === b.text) return 0;
  const x = canonical(a.segments);
  const y = canonical(b.segments);
  for (let i = 0; i < x.length || i < y.length; i++) {
    const l = x[i] ?? 0n;
    const r = y[i] ?? 0n;
    if (l === r) continue;
    if (typeof l === 'string' && typeof r !== 'string') return -1;
    if (typeof l !== 'string' && typeof r === 'string') return 1;
    return l < r ? -1 : 1;
  }
  return 0;
}

/** Gem::Version#release: a prerelease without its letters and everything after them. */
function release(v: GemVersion): GemVersion {
  if (!/[a-zA-Z]/.test(v.text)) return v;
  const firstString = v.segments.findIndex((s) => typeof s === 'string');
  return gemVersion(v.segments.slice(0, firstString).join('.'));
}

/** Gem::Version#bump: drop letters and the last number, then add one to the new last (1.2.3 -> 1.3, 1 -> 2). */
function bump(v: GemVersion): GemVersion {
  const firstString = v.segments.findIndex((s) => typeof s === 'string');
  const nums = (firstString < 0 ? v.segments : v.segments.slice(0, firstString)) as bigint[];
  const kept = nums.length > 1 ? nums.slice(0, -1) : nums;
  return gemVersion([...kept.slice(0, -1), (kept[kept.length - 1] as bigint) + 1n].join('.'));
}

const OPS = {
  '=': (v: GemVersion, r: GemVersion) => compareGems(v, r) === 0,
  '!=': (v: GemVersion, r: GemVersion) => compareGems(v, r) !== 0,
  '>': (v: GemVersion, r: GemVersion) => compareGems(v, r) > 0,
  '<': (v: GemVersion, r: GemVersion) => compareGems(v, r) < 0,
  '>=': (v: GemVersion, r: GemVersion) => compareGems(v, r) >= 0,
  '<=': (v: GemVersion, r: GemVersion) => compareGems(v, r) <= 0,
  '~>': (v: GemVersion, r: GemVersion) => compareGems(v, r) >= 0 && compareGems(release(v), bump(r)) < 0,
} as const;
type Op = keyof typeof OPS;
/** Longest operators first; Ruby's regex backtracks to the same choice, as a version never starts with `=`. */
const OP_ORDER: readonly Op[] = ['>=', '<=', '~>', '!=', '=', '>', '<'];

/** One requirement as Gem::Requirement.parse reads it: `\s*(op)?\s*VERSION\s*`, the operator defaulting to `=`. */
function requirement(text: string, whole: string): (v: GemVersion) => boolean {
  let i = skipSpace(text, 0);
  const op = OP_ORDER.find((o) => text.startsWith(o, i)) ?? '=';
  if (text.startsWith(op, i)) i += op.length;
  i = skipSpace(text, i);
  const end = versionEnd(text, i);
  if (end < 0 || skipSpace(text, end) !== text.length) {
    throw new InvalidVersionError('rubygems', whole, `ill-formed requirement '${printable(text, 60)}'`);
  }
  const wanted = gemVersion(text.slice(i, end).replaceAll('-', '.pre.'));
  return (v) => OPS[op](v, wanted);
}

/**
 * RubyGems (Gem::Version and Gem::Requirement of RubyGems 3.3). A range is a comma-separated list of requirements
 * (`~> 1.2, >= 1.2.3`, as `Gem::Requirement#to_s` writes it), all of which must hold; an empty range is `>= 0`.
 */
export const rubygemsScheme: VersionScheme = {
  name: 'rubygems',
  valid(v: string): boolean {
    return typeof parseGemVersion(v) !== 'string';
  },
  compare(a: string, b: string): Comparison {
    return compareGems(version(a), version(b));
  },
  satisfies(v: string, range: string): boolean {
    if (range.length > MAX_RANGE_LENGTH) throw new InvalidVersionError('rubygems', range, 'requirement too long');
    const parsed = version(v);
    const parts = range === '' ? ['>= 0'] : range.split(',');
    const tests = parts.map((p) => requirement(p, range));
    return tests.every((t) => t(parsed));
  },
};
