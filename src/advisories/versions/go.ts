import { type Comparison, InvalidVersionError, type VersionScheme } from './scheme.js';

const MAX_LENGTH = 1024;

interface GoVersion {
  readonly major: string;
  readonly minor: string;
  readonly patch: string;
  /** Dot-separated identifiers without the leading '-'; empty for a release. */
  readonly prerelease: readonly string[];
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isIdentChar = (c: number): boolean =>
  isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d;
const isNumeric = (s: string): boolean => /^[0-9]*$/.test(s);
const badNumber = (s: string): boolean => s.length > 1 && s[0] === '0' && isNumeric(s);

/** A numeric field at `at`: digits, no leading zero; returns its end or -1. */
function numberEnd(s: string, at: number): number {
  let i = at;
  while (i < s.length && isDigit(s.charCodeAt(i))) i++;
  if (i === at || (s[at] === '0' && i - at > 1)) return -1;
  return i;
}

/** Identifiers of a `-pre` or `+build` part between `from` and `to`, or null when one is empty or bad. */
function identifiers(s: string, from: number, to: number, prerelease: boolean): string[] | null {
  const ids = s.slice(from, to).split('.');
  for (const id of ids) {
    if (id === '' || (prerelease && badNumber(id))) return null;
    for (let i = 0; i < id.length; i++) if (!isIdentChar(id.charCodeAt(i))) return null;
  }
  return ids;
}

/**
 * Parse as golang.org/x/mod/semver does: `vMAJOR[.MINOR[.PATCH[-pre][+build]]]`, where the shorthands `v1` and
 * `v1.2` (no prerelease or build) mean v1.0.0 and v1.2.0. OSV writes Go versions without the `v`, so a version
 * without one is read as if it had it.
 */
function parse(input: string): GoVersion | string {
  if (input.length > MAX_LENGTH) return `longer than ${MAX_LENGTH} characters`;
  const s = input.startsWith('v') ? input : `v${input}`;
  const majorEnd = numberEnd(s, 1);
  if (majorEnd < 0) return 'the major version must be a number without leading zeros';
  const major = s.slice(1, majorEnd);
  if (majorEnd === s.length) return { major, minor: '0', patch: '0', prerelease: [] };
  if (s[majorEnd] !== '.') return 'expected . after the major version';
  const minorEnd = numberEnd(s, majorEnd + 1);
  if (minorEnd < 0) return 'the minor version must be a number without leading zeros';
  const minor = s.slice(majorEnd + 1, minorEnd);
  if (minorEnd === s.length) return { major, minor, patch: '0', prerelease: [] };
  if (s[minorEnd] !== '.') return 'expected . after the minor version';
  const patchEnd = numberEnd(s, minorEnd + 1);
  if (patchEnd < 0) return 'the patch version must be a number without leading zeros';
  const patch = s.slice(minorEnd + 1, patchEnd);
  let at = patchEnd;
  let prerelease: string[] = [];
  if (s[at] === '-') {
    const plus = s.indexOf('+', at);
    const end = plus < 0 ? s.length : plus;
    const ids = identifiers(s, at + 1, end, true);
    if (!ids) return 'bad prerelease identifiers';
    prerelease = ids;
    at = end;
  }
  if (s[at] === '+') {
    if (!identifiers(s, at + 1, s.length, false)) return 'bad build metadata';
    at = s.length;
  }
  if (at !== s.length) return 'unexpected characters after the patch version';
  return { major, minor, patch, prerelease };
}

function parsed(v: string): GoVersion {
  const p = parse(v);
  if (typeof p === 'string') throw new InvalidVersionError('go', v, p);
  return p;
}

/** Numbers without leading zeros (guaranteed by the parser): longer is larger, else by text. */
function compareNumber(a: string, b: string): Comparison {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

function comparePrerelease(a: readonly string[], b: readonly string[]): Comparison {
  if (a.length === 0 || b.length === 0) return a.length === b.length ? 0 : a.length === 0 ? 1 : -1;
  for (let i = 0; i < a.length && i < b.length; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x === y) continue;
    const nx = isNumeric(x);
    const ny = isNumeric(y);
    if (nx !== ny) return nx ? -1 : 1;
    if (nx) return compareNumber(x, y);
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * Go module versions, ordered as golang.org/x/mod/semver orders them: pseudo-versions
 * (v0.0.0-20240102030405-abcdef123456, vX.Y.(Z+1)-0.yyyymmddhhmmss-hash, vX.Y.Z-pre.0.yyyymmddhhmmss-hash) are
 * prereleases and order as such, and `+incompatible` is build metadata, which ordering ignores.
 */
export const goScheme: VersionScheme = {
  name: 'go',
  valid(v: string): boolean {
    return typeof parse(v) !== 'string';
  },
  compare(a: string, b: string): Comparison {
    const x = parsed(a);
    const y = parsed(b);
    return (
      compareNumber(x.major, y.major) ||
      compareNumber(x.minor, y.minor) ||
      compareNumber(x.patch, y.patch) ||
      comparePrerelease(x.prerelease, y.prerelease)
    );
  },
};
