/**
 * RPM versions, `[epoch:]version[-release]`, ordered as rpm 4.18's `rpmverCmp` / `rpm.vercmp` order them: epochs,
 * versions and releases each by rpmvercmp, where `~` sorts before anything (even the end) and `^` after the end
 * but before anything else. A missing release sorts below any release. rpm accepts every non-empty string.
 */
import { type Comparison, InvalidVersionError, type VersionScheme } from './scheme.js';

/** A split RPM version; `epoch` and `release` are undefined when the string has none. */
export interface RpmVersion {
  readonly epoch: string | undefined;
  readonly version: string;
  readonly release: string | undefined;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const TILDE = 0x7e;
const CARET = 0x5e;

/** Split an RPM version into epoch, version and release; throws InvalidVersionError for one rpm refuses. */
export function parseRpmVersion(v: string): RpmVersion {
  if (v === '') throw new InvalidVersionError('rpm', v, 'empty');
  // rpm works on C strings: a NUL could never reach it, so a version holding one is not a version rpm could see.
  if (v.includes('\0')) throw new InvalidVersionError('rpm', v, 'contains a NUL character');
  let s = 0;
  while (s < v.length && isDigit(v.charCodeAt(s))) s++;
  const hasEpoch = v.charCodeAt(s) === 0x3a;
  const dash = v.lastIndexOf('-');
  return {
    epoch: hasEpoch ? (s === 0 ? '0' : v.slice(0, s)) : undefined,
    version: v.slice(hasEpoch ? s + 1 : 0, dash < 0 ? v.length : dash),
    release: dash < 0 ? undefined : v.slice(dash + 1),
  };
}

function runEnd(s: string, i: number, test: (c: number) => boolean): number {
  let j = i;
  while (j < s.length && test(s.charCodeAt(j))) j++;
  return j;
}

const isSeparator = (c: number): boolean => !isDigit(c) && !isAlpha(c) && c !== TILDE && c !== CARET;

/** rpmvercmp: compare two version or release strings segment by segment. */
export function rpmvercmp(a: string, b: string): Comparison {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    i = runEnd(a, i, isSeparator);
    j = runEnd(b, j, isSeparator);
    const ca = a.charCodeAt(i); // NaN past the end
    const cb = b.charCodeAt(j);
    if (ca === TILDE || cb === TILDE) {
      if (ca !== TILDE) return 1;
      if (cb !== TILDE) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === CARET || cb === CARET) {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (ca !== CARET) return 1;
      if (cb !== CARET) return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const numeric = isDigit(ca);
    const test = numeric ? isDigit : isAlpha;
    const ie = runEnd(a, i, test);
    const je = runEnd(b, j, test);
    // A numeric segment facing an alphabetic one is newer.
    if (je === j) return numeric ? 1 : -1;
    let x = a.slice(i, ie);
    let y = b.slice(j, je);
    if (numeric) {
      x = x.replace(/^0+/, '');
      y = y.replace(/^0+/, '');
      if (x.length !== y.length) return x.length > y.length ? 1 : -1;
    }
    if (x !== y) return x < y ? -1 : 1;
    i = ie;
    j = je;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

function compareOptional(a: string | undefined, b: string | undefined): Comparison {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  return rpmvercmp(a, b);
}

/** Order two split RPM versions: epoch (absent is 0), version, then release (absent is lowest). */
export function compareRpmVersions(a: RpmVersion, b: RpmVersion): Comparison {
  return (
    rpmvercmp(a.epoch ?? '0', b.epoch ?? '0') ||
    rpmvercmp(a.version, b.version) ||
    compareOptional(a.release, b.release)
  );
}

/** The rpm version scheme (Red Hat, Fedora, SUSE, Alma, Rocky, Amazon Linux, ...). */
export const rpmScheme: VersionScheme = {
  name: 'rpm',
  valid: (v) => v !== '' && !v.includes('\0'),
  compare: (a, b) => compareRpmVersions(parseRpmVersion(a), parseRpmVersion(b)),
};
