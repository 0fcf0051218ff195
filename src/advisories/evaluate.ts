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

/** The empty lists of most evaluations, shared (frozen). */
const NONE: readonly string[] = Object.freeze([]);
/** The two outcomes without a fixed version or a problem, shared (frozen): most rows are a miss. */
const MISS: Evaluation = Object.freeze({ affected: false, fixedIn: NONE, problems: NONE });
const HIT: Evaluation = Object.freeze({ affected: true, fixedIn: NONE, problems: NONE });

const eventVersion = (e: RangeEvent): string =>
  'introduced' in e ? e.introduced : 'fixed' in e ? e.fixed : 'last_affected' in e ? e.last_affected : e.limit;

function cmp(scheme: VersionScheme, a: string, b: string): number {
  // "0" is OSV's "from the beginning", lower than every version whatever the scheme says.
  if (a === '0' && b === '0') return 0;
  if (a === '0') return -1;
  if (b === '0') return 1;
  return scheme.compare(a, b);
}

/**
 * ref: OSV schema, "Evaluation", BeforeLimits: no limit events, or `v` below at least one of them (each limit widens
 * the range, one branch each). A limit containing "*" is infinity.
 */
function beforeLimits(v: string, events: readonly RangeEvent[], scheme: VersionScheme): boolean {
  let limited = false;
  for (const e of events) {
    if (!('limit' in e)) continue;
    if (e.limit.includes('*') || cmp(scheme, v, e.limit) < 0) return true;
    limited = true;
  }
  return !limited;
}

/** ref: OSV schema, "Evaluation": walk the events sorted by version. */
function inRange(v: string, range: AffectedRange, scheme: VersionScheme): boolean {
  if (!beforeLimits(v, range.events, scheme)) return false;
  const events =
    range.events.length < 2
      ? range.events
      : range.events.filter((e) => !('limit' in e)).sort((x, y) => cmp(scheme, eventVersion(x), eventVersion(y)));
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
  if (entry.status === 'not-affected') return MISS;
  // Most rows do not hold the version: nothing is allocated for them beyond the result.
  let problems: string[] | undefined;
  let affected = entry.versions.length > 0 && entry.versions.includes(version);
  let fixedIn: Set<string> | undefined;
  for (const range of entry.ranges) {
    if (range.type === 'GIT') continue;
    const s = range.type === 'SEMVER' && semver ? semver : scheme;
    try {
      if (inRange(version, range, s)) {
        affected = true;
        for (const e of range.events) {
          if ('fixed' in e && cmp(s, e.fixed, version) > 0) {
            fixedIn ??= new Set();
            fixedIn.add(e.fixed);
          }
        }
      }
    } catch (err) {
      problems ??= [];
      problems.push(`${entry.advisoryId}: ${(err as Error).message}`);
    }
  }
  if (fixedIn === undefined) return problems ? { affected, fixedIn: NONE, problems } : affected ? HIT : MISS;
  const sorted = [...fixedIn];
  if (sorted.length > 1) {
    sorted.sort((a, b) => {
      try {
        return cmp(scheme, a, b);
      } catch {
        return a < b ? -1 : 1;
      }
    });
  }
  return { affected, fixedIn: sorted, problems: problems ?? NONE };
}
