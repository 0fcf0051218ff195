/**
 * A version scheme: how one ecosystem orders its versions. Each scheme is a small pure module; the matcher
 * and `portcullis version compare` reach them through SCHEMES (index.ts).
 */
import { printable } from '../../errors.js';

export type Comparison = -1 | 0 | 1;

/** Thrown by a scheme for a version it cannot read; the message says which and why, on one line. */
export class InvalidVersionError extends Error {
  constructor(
    readonly scheme: string,
    readonly version: string,
    reason: string,
  ) {
    super(`${scheme}: '${printable(version, 100)}' is not a valid version (${printable(reason, 200)})`);
    this.name = 'InvalidVersionError';
  }
}

export interface VersionScheme {
  /** The scheme's name as users write it: dpkg, apk, rpm, semver, pep440, maven, go, rubygems, nuget, generic. */
  readonly name: string;
  /** Whether `v` is a version this scheme can order. */
  valid(v: string): boolean;
  /** Order two versions; throws InvalidVersionError for an invalid one. */
  compare(a: string, b: string): Comparison;
  /**
   * Whether `v` satisfies a range in the ecosystem's own range syntax (npm ranges, PEP 440 specifiers, Maven
   * ranges, ...), for schemes that have one. Throws InvalidVersionError for an invalid version or range.
   */
  satisfies?(v: string, range: string): boolean;
}
