/**
 * The advisory model shared by importers, the store and the matcher. It follows OSV (ref: ossf.github.io/osv-schema)
 * and adds the distribution facts OSV leaves in database_specific: status, urgency, no-DSA.
 */

/** One OSV range event. */
export type RangeEvent =
  | { readonly introduced: string }
  | { readonly fixed: string }
  | { readonly last_affected: string }
  | { readonly limit: string };

export interface AffectedRange {
  /** ECOSYSTEM (the ecosystem's own version order), SEMVER, or GIT (commit hashes; never matched to packages). */
  readonly type: 'ECOSYSTEM' | 'SEMVER' | 'GIT';
  readonly events: readonly RangeEvent[];
}

/**
 * How the source itself classifies the issue for this package: `fixed` (a fix exists, see ranges), `open` (no fix
 * yet), `not-affected`, `will-not-fix` (e.g. Debian no-dsa <ignored>), `undetermined`, `end-of-life`.
 */
export type AffectedStatus = 'fixed' | 'open' | 'not-affected' | 'will-not-fix' | 'undetermined' | 'end-of-life';

/** One (advisory, package) pair. */
export interface Affected {
  /** The OSV ecosystem, e.g. `Debian:12`, `Alpine:v3.19`, `npm`, `PyPI`, `Go`, `Maven`. */
  readonly ecosystem: string;
  /** The package name, normalised for lookup (PEP 503 for PyPI; Debian and Alpine: the source package). */
  readonly package: string;
  readonly advisoryId: string;
  readonly ranges: readonly AffectedRange[];
  /** Explicitly listed affected versions (OSV `versions`). */
  readonly versions: readonly string[];
  readonly status?: AffectedStatus;
  /** Distribution urgency as the source writes it (Debian: unimportant, low, medium, high, ...). */
  readonly urgency?: string;
  /** Debian no-DSA reason (`<no-dsa>`, `<postponed>`, `<ignored>`), when the tracker gives one. */
  readonly noDsa?: string;
}

/** A severity score as OSV writes it: a CVSS vector (scored by the matcher) or a source's label. */
export interface Severity {
  readonly type: string;
  readonly score: string;
}

export interface Advisory {
  readonly id: string;
  /** The data source it came from: osv, debian-tracker, alpine-secdb. */
  readonly source: string;
  readonly modified: string;
  readonly published?: string;
  readonly withdrawn?: string;
  /** Ids of the same vulnerability elsewhere. */
  readonly aliases: readonly string[];
  /**
   * Ids of the records this one addresses (OSV `upstream`): CVE-X for DEBIAN-CVE-X, the CVEs a DSA or USN fixes. Each
   * is a vulnerability of its own, so a notice naming several is one finding per CVE, not one with aliases.
   */
  readonly upstream?: readonly string[];
  readonly summary?: string;
  readonly severity: readonly Severity[];
  /** A label such as GHSA's database_specific.severity (HIGH, MODERATE, ...), when there is no vector. */
  readonly severityLabel?: string;
}
