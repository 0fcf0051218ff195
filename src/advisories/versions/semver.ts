import semver from 'semver';
import { printable } from '../../errors.js';
import { type Comparison, InvalidVersionError, type VersionScheme } from './scheme.js';

/** Ranges longer than this are refused before the semver package sees them (hostile input). */
const MAX_RANGE_LENGTH = 4096;
/** npm reads versions loosely: `=1.2.3`, `v1.2.3`, `1.2.3beta` and leading zeros, as `semver.clean(v, true)` does. */
const OPTIONS = { loose: true } as const;

function parse(v: string): semver.SemVer {
  try {
    return new semver.SemVer(v, OPTIONS);
  } catch (err) {
    // The semver package throws TypeError for bad syntax and for versions over 256 characters.
    throw new InvalidVersionError('semver', v, err instanceof Error ? printable(err.message, 120) : 'not a version');
  }
}

// Matching compares one installed version with every event of every advisory row: parses for `compare` are
// remembered in a bounded map (only `compare` reads them, and it never changes a SemVer).
const PARSED = new Map<string, semver.SemVer>();
const MAX_PARSED = 65_536;
const MAX_REMEMBERED_LENGTH = 64;

function parsed(v: string): semver.SemVer {
  let r = PARSED.get(v);
  if (r === undefined) {
    r = parse(v);
    if (v.length > MAX_REMEMBERED_LENGTH) return r;
    if (PARSED.size >= MAX_PARSED) PARSED.clear();
    PARSED.set(v, r);
  }
  return r;
}

function range(r: string): semver.Range {
  if (r.length > MAX_RANGE_LENGTH) throw new InvalidVersionError('semver', r, `range over ${MAX_RANGE_LENGTH} chars`);
  try {
    return new semver.Range(r, OPTIONS);
  } catch (err) {
    throw new InvalidVersionError(
      'semver',
      r,
      `invalid range: ${err instanceof Error ? printable(err.message, 120) : 'unreadable'}`,
    );
  }
}

/**
 * npm's SemVer: the `semver` package npm itself uses, in loose mode. Build metadata is ignored when ordering, and
 * `satisfies` follows npm's range syntax exactly, including its rule that a prerelease satisfies a range only when a
 * comparator of the same `major.minor.patch` carries a prerelease.
 */
export const semverScheme: VersionScheme = {
  name: 'semver',
  valid(v: string): boolean {
    return semver.valid(v, OPTIONS) !== null;
  },
  compare(a: string, b: string): Comparison {
    return parsed(a).compare(parsed(b));
  },
  satisfies(v: string, r: string): boolean {
    const version = parse(v);
    return range(r).test(version);
  },
};
