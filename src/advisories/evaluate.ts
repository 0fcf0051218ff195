import type { Affected, AffectedRange, RangeEvent } from './model.js';
import type { VersionScheme } from './versions/scheme.js';

/** The outcome for one installed version against one affected entry. */
export interface Evaluation {
  readonly affected: boolean;
  /** Fixed versions above the installed one, lowest first: what to upgrade to. */
  readonly fixedIn: readonly string[];
  /** Ranges that could not be read (an event version the scheme refuses); they are skipped, never guessed. */
  readonly problems: readonly string[];
}

const eventVersion = (e: RangeEvent): string =>
  'introduced' in e ? e.introduced : 'fixed' in e ? e.fixed : 'last_affected' in e ? e.last_affected : e.limit;

function cmp(scheme: VersionScheme, a: string, b: string): number {
  // "0" is OSV's "from the beginning", lower than every version whatever the scheme says.
  if (a === '0' && b === '0') return 0;
  if (a === '0') return -1;
  if (b === '0') return 1;
  return scheme.compare(a, b);
}

/** ref: OSV schema, "Evaluation": walk the events sorted by version. */
function inRange(v: string, range: AffectedRange, scheme: VersionScheme): boolean {
  const events = [...range.events].sort((x, y) => cmp(scheme, eventVersion(x), eventVersion(y)));
  for (const e of events) if ('limit' in e && cmp(scheme, v, e.limit) >= 0) return false;
  let vulnerable = false;
  for (const e of events) {
    if ('introduced' in e) {
      if (cmp(scheme, v, e.introduced) >= 0) vulnerable = true;
    } else if ('fixed' in e) {
      if (cmp(scheme, v, e.fixed) >= 0) vulnerable = false;
    } else if ('last_affected' in e) {
      if (cmp(scheme, v, e.last_affected) > 0) vulnerable = false;
    }
  }
  return vulnerable;
}

/**
 * Whether `version` is affected by an entry, by its explicit version list or its ranges (GIT ranges name
 * commits, not package versions, and are skipped). A source's "not-affected" status wins.
 */
export function evaluate(version: string, entry: Affected, scheme: VersionScheme, semver?: VersionScheme): Evaluation {
  if (entry.status === 'not-affected') return { affected: false, fixedIn: [], problems: [] };
  const problems: string[] = [];
  let affected = entry.versions.includes(version);
  const fixedIn = new Set<string>();
  for (const range of entry.ranges) {
    if (range.type === 'GIT') continue;
    const s = range.type === 'SEMVER' && semver ? semver : scheme;
    try {
      if (inRange(version, range, s)) {
        affected = true;
        for (const e of range.events) if ('fixed' in e && cmp(s, e.fixed, version) > 0) fixedIn.add(e.fixed);
      }
    } catch (err) {
      problems.push(`${entry.advisoryId}: ${(err as Error).message}`);
    }
  }
  const sorted = [...fixedIn].sort((a, b) => {
    try {
      return cmp(scheme, a, b);
    } catch {
      return a < b ? -1 : 1;
    }
  });
  return { affected, fixedIn: sorted, problems };
}
