import { printable } from '../../errors.js';
import { type Comparison, InvalidVersionError, type VersionScheme } from './scheme.js';

/**
 * NuGet versions as NuGet.Versioning's NuGetVersion.TryParse and VersionComparer.Default read and order them: one to
 * four numbers (the fourth is the legacy revision), optional dot-separated release labels compared without regard to
 * case, and build metadata, which ordering ignores. Ranges are NuGet's interval notation without floating (`1.*`).
 */

const MAX_LENGTH = 1024;
const INT_MAX = 2147483647n;

/** .NET's Char.IsWhiteSpace, used by String.Trim. */
const DOTNET_SPACE = /^[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;
const isDotnetSpace = (c: string | undefined): boolean => c !== undefined && DOTNET_SPACE.test(c);
function dotnetTrim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isDotnetSpace(s[a])) a++;
  while (b > a && isDotnetSpace(s[b - 1])) b--;
  return s.slice(a, b);
}

interface NuGetVersion {
  /** Major, minor, patch and revision. */
  readonly numbers: readonly [bigint, bigint, bigint, bigint];
  /** Release labels; empty for a stable version. */
  readonly labels: readonly string[];
}

/** An int.TryParse-style number: ASCII digits with optional blanks around them, within Int32. */
function versionNumber(part: string): bigint | null {
  const m = /^[\t\n\v\f\r ]*([0-9]+)[\t\n\v\f\r ]*$/.exec(part);
  if (!m) return null;
  const n = BigInt(m[1] as string);
  return n <= INT_MAX ? n : null;
}

/** A label or metadata part: letters, digits and '-', not empty; a numeric label has no leading zero. */
function validPart(part: string, allowLeadingZeros: boolean): boolean {
  if (!/^[0-9A-Za-z-]+$/.test(part)) return false;
  return allowLeadingZeros || !/^0[0-9]+$/.test(part);
}

function parseNuGet(input: string): NuGetVersion | string {
  if (input.length > MAX_LENGTH) return `longer than ${MAX_LENGTH} characters`;
  const s = dotnetTrim(input);
  if (s === '') return 'empty';
  const cut = s.search(/[-+]/);
  const head = cut < 0 ? s : s.slice(0, cut);
  let labels: string[] = [];
  let metadata: string | null = null;
  if (cut >= 0) {
    const plus = s.indexOf('+', cut);
    if (s[cut] === '-') labels = s.slice(cut + 1, plus < 0 ? s.length : plus).split('.');
    if (plus >= 0) metadata = s.slice(plus + 1);
  }
  const parts = head.split('.');
  if (parts.length > 4) return 'more than four numbers';
  const numbers = parts.map(versionNumber);
  if (numbers.some((n) => n === null)) return 'each number must be 0 to 2147483647';
  if (!labels.every((l) => validPart(l, false))) return 'bad release label';
  if (metadata !== null && !metadata.split('.').every((m) => validPart(m, true))) return 'bad build metadata';
  const [major = 0n, minor = 0n, patch = 0n, revision = 0n] = numbers as bigint[];
  return { numbers: [major, minor, patch, revision], labels };
}

function version(v: string): NuGetVersion {
  const p = parseNuGet(v);
  if (typeof p === 'string') throw new InvalidVersionError('nuget', v, p);
  return p;
}

/** int.TryParse on a label: an optional '-' and digits within Int32 make it numeric. */
function numericLabel(l: string): bigint | null {
  if (!/^-?[0-9]+$/.test(l)) return null;
  const n = BigInt(l);
  return n <= INT_MAX && n >= -INT_MAX - 1n ? n : null;
}

/** StringComparer.OrdinalIgnoreCase on labels, which are ASCII: compare the upper-cased text. */
function ordinalIgnoreCase(a: string, b: string): Comparison {
  const x = a.toUpperCase();
  const y = b.toUpperCase();
  return x === y ? 0 : x < y ? -1 : 1;
}

function compareLabel(a: string, b: string): Comparison {
  const x = numericLabel(a);
  const y = numericLabel(b);
  if (x !== null && y !== null) return x === y ? 0 : x < y ? -1 : 1;
  if (x !== null || y !== null) return x !== null ? -1 : 1;
  return ordinalIgnoreCase(a, b);
}

function compareNuGet(a: NuGetVersion, b: NuGetVersion): Comparison {
  for (let i = 0; i < 4; i++) {
    const x = a.numbers[i] as bigint;
    const y = b.numbers[i] as bigint;
    if (x !== y) return x < y ? -1 : 1;
  }
  if (a.labels.length === 0 || b.labels.length === 0) {
    return a.labels.length === b.labels.length ? 0 : a.labels.length === 0 ? 1 : -1;
  }
  for (let i = 0; i < a.labels.length && i < b.labels.length; i++) {
    const c = compareLabel(a.labels[i] as string, b.labels[i] as string);
    if (c) return c;
  }
  return a.labels.length === b.labels.length ? 0 : a.labels.length < b.labels.length ? -1 : 1;
}

interface NuGetRange {
  readonly min: NuGetVersion | null;
  readonly minInclusive: boolean;
  readonly max: NuGetVersion | null;
  readonly maxInclusive: boolean;
}

/** VersionRange.TryParse(value, allowFloating: false): `1.0` (at least), `[1.0]`, `(1.0,)`, `(,1.0]`, `[1.0,2.0)`. */
function parseRange(value: string): NuGetRange {
  const bad = (why: string): never => {
    throw new InvalidVersionError('nuget', value, `invalid range: ${why}`);
  };
  if (value.length > MAX_LENGTH) bad(`over ${MAX_LENGTH} characters`);
  const s = dotnetTrim(value);
  if (s === '') bad('empty');
  let minText: string;
  let maxText: string | null = null;
  let minInclusive = true;
  let maxInclusive = false;
  if (s[0] === '[' || s[0] === '(') {
    minInclusive = s[0] === '[';
    const last = s[s.length - 1];
    if (s.length < 2 || (last !== ']' && last !== ')')) bad('a range must end with ] or )');
    maxInclusive = last === ']';
    const parts = s.slice(1, -1).split(',');
    if (parts.length > 2) bad('more than two bounds');
    if (parts.every((p) => p === '')) bad('no bounds');
    if (parts.length === 1 && !(minInclusive && maxInclusive)) bad('a single version must be in []');
    minText = parts[0] as string;
    maxText = parts.length === 2 ? (parts[1] as string) : minText;
  } else {
    minText = s;
  }
  const bound = (text: string | null): NuGetVersion | null => {
    if (text === null || dotnetTrim(text) === '') return null;
    const v = parseNuGet(text);
    return typeof v === 'string' ? bad(`bound '${printable(text, 60)}': ${v}`) : v;
  };
  const min = bound(minText);
  const max = bound(maxText);
  if (min && max) {
    const c = compareNuGet(min, max);
    if (c > 0 || (c === 0 && minInclusive !== maxInclusive)) bad('the lower bound is above the upper');
  }
  return { min, minInclusive, max, maxInclusive };
}

/** NuGet (SemVer 2.0 with NuGet's legacy four-part versions). */
export const nugetScheme: VersionScheme = {
  name: 'nuget',
  valid(v: string): boolean {
    return typeof parseNuGet(v) !== 'string';
  },
  compare(a: string, b: string): Comparison {
    return compareNuGet(version(a), version(b));
  },
  satisfies(v: string, range: string): boolean {
    const x = version(v);
    const r = parseRange(range);
    if (r.min) {
      const c = compareNuGet(r.min, x);
      if (c > 0 || (c === 0 && !r.minInclusive)) return false;
    }
    if (r.max) {
      const c = compareNuGet(r.max, x);
      if (c < 0 || (c === 0 && !r.maxInclusive)) return false;
    }
    return true;
  },
};
