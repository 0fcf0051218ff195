/**
 * Matching shared by many inventories while the advisory data cannot change (one re-match of every stored SBOM): a
 * fleet shares base images, so the same (ecosystem, package) is read from the store once, and the same (ecosystem,
 * package, version) evaluated once, for all of them. Both memos are bounded (least recently used out first); what
 * they give is exactly what matching each inventory on its own gives (test/unit/matchcache.test.ts).
 */
import type { AdvisoryLookup, MatchedTarget, SchemeChooser, SeverityOf, TargetMemo } from './match.js';

type Rows = ReturnType<AdvisoryLookup['affected']>;

/** The bounds: advisory rows held, and matched targets held (each weighing one plus its vulnerabilities). */
export interface MatchCacheLimits {
  readonly rows: number;
  readonly targets: number;
}

/** About 300 bytes a row on the real data set: some tens of MB at most. */
export const DEFAULT_MATCH_CACHE_LIMITS: MatchCacheLimits = { rows: 100_000, targets: 200_000 };

/** A map that drops its least recently used entries once their total weight passes `limit`. */
class Lru<V> {
  private readonly map = new Map<string, { value: V; weight: number }>();
  private total = 0;

  constructor(private readonly limit: number) {}

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  set(key: string, value: V, weight: number): void {
    const old = this.map.get(key);
    if (old) {
      this.total -= old.weight;
      this.map.delete(key);
    }
    if (weight > this.limit) return; // larger than the whole memo: not kept
    this.map.set(key, { value, weight });
    this.total += weight;
    for (const [k, e] of this.map) {
      if (this.total <= this.limit) break;
      this.map.delete(k);
      this.total -= e.weight;
    }
  }

  get size(): number {
    return this.map.size;
  }
}

/** An advisory lookup over `db` with both memos; make one per run, over data that does not change during it. */
export class MatchCache implements AdvisoryLookup {
  private readonly rows: Lru<Rows>;
  private readonly matched: Lru<MatchedTarget>;
  /** The schemes and severities the memo of targets holds results for (the first ones used). */
  private bound: { schemes: SchemeChooser; severityOf: SeverityOf } | undefined;
  readonly targets: TargetMemo;
  /** Store lookups made, and answered from the memo: what the cache saved. */
  lookups = 0;
  hits = 0;

  constructor(
    private readonly db: AdvisoryLookup,
    limits: MatchCacheLimits = DEFAULT_MATCH_CACHE_LIMITS,
  ) {
    this.rows = new Lru(limits.rows);
    this.matched = new Lru(limits.targets);
    // Results depend on the schemes and severities as well as the data: another pair is matched without the memo.
    const same = (schemes: SchemeChooser, severityOf: SeverityOf): boolean => {
      this.bound ??= { schemes, severityOf };
      return this.bound.schemes === schemes && this.bound.severityOf === severityOf;
    };
    this.targets = {
      get: (key, schemes, severityOf) => (same(schemes, severityOf) ? this.matched.get(key) : undefined),
      set: (key, schemes, severityOf, m) => {
        if (same(schemes, severityOf)) this.matched.set(key, m, 1 + m.vulnerabilities.length);
      },
    };
  }

  covers(ecosystem: string): boolean {
    return this.db.covers?.(ecosystem) ?? true;
  }

  affected(ecosystem: string, pkg: string): Rows {
    const key = `${ecosystem}\0${pkg}`;
    const held = this.rows.get(key);
    if (held) {
      this.hits++;
      return held;
    }
    this.lookups++;
    const rows = this.db.affected(ecosystem, pkg);
    this.rows.set(key, rows, 1 + rows.length);
    return rows;
  }

  /** Entries held now: (ecosystem, package) row sets and matched targets. */
  get held(): { rows: number; targets: number } {
    return { rows: this.rows.size, targets: this.matched.size };
  }
}
