import type { Finding } from '../findings/finding.js';
import { days, effectiveSeverity, packageMatches } from './match.js';
import type { PackageRule, PolicySeverity, VulnerabilityRules } from './model.js';

/** Why a vulnerability finding does not count under the policy, when it does not. */
export type NotCounted = 'ignored' | 'unimportant' | 'no-fix' | 'fix-too-recent';

/** How the policy sees one vulnerability finding. */
export interface Classified {
  readonly finding: Finding;
  /** The severity it counts as (`unknown` mapped to unknownSeverity). */
  readonly severity: PolicySeverity;
  /** The threshold that applies to it (its package rule's, else the policy's). */
  readonly threshold: PolicySeverity;
  readonly packageRule?: PackageRule;
  readonly notCounted?: NotCounted;
  /** Set when fixAvailableFor applied but the advisory has no publication date (it then counts). */
  readonly undated?: boolean;
}

/** Whether a finding has a fixed version to upgrade to. */
export function hasFix(f: Finding): boolean {
  return f.vulnerability?.status === 'fixed' && f.vulnerability.fixedVersions.length > 0;
}

/**
 * Classify a vulnerability finding under the policy's vulnerability rules: its package rule (first match), its
 * effective severity and threshold, and whether it counts at all. The fix date is not in the advisory data, so
 * fixAvailableFor measures from the advisory's publication date (docs/policy.md says so); an undated advisory
 * counts, as the safe reading.
 */
export function classify(f: Finding, rules: VulnerabilityRules, now: Date): Classified {
  const packageRule = rules.packages.find((p) => packageMatches(p.package, f));
  const severity = effectiveSeverity(f.severity, rules.unknownSeverity);
  const threshold = packageRule?.failOn ?? rules.failOn;
  const base = { finding: f, severity, threshold, ...(packageRule ? { packageRule } : {}) };
  if (packageRule?.ignore) return { ...base, notCounted: 'ignored' };
  if (!rules.includeUnimportant && f.vulnerability?.urgency === 'unimportant')
    return { ...base, notCounted: 'unimportant' };
  const fixAge =
    packageRule?.fixAvailableFor ?? (packageRule?.onlyFixable === false ? undefined : rules.fixAvailableFor);
  const onlyFixable = packageRule?.onlyFixable ?? (packageRule?.fixAvailableFor ? true : rules.onlyFixable);
  if ((onlyFixable || fixAge) && !hasFix(f)) return { ...base, notCounted: 'no-fix' };
  if (fixAge) {
    const published = f.vulnerability?.published ? Date.parse(f.vulnerability.published) : Number.NaN;
    if (!Number.isFinite(published)) return { ...base, undated: true };
    if (now.getTime() - published <= fixAge.ms) return { ...base, notCounted: 'fix-too-recent' };
  }
  return base;
}

/** `published 2022-03-18, 1717 days ago` for reasons, when the advisory has a date. */
export function publishedNote(f: Finding, now: Date): string | undefined {
  const p = f.vulnerability?.published;
  const t = p ? Date.parse(p) : Number.NaN;
  if (!p || !Number.isFinite(t)) return undefined;
  return `published ${p.slice(0, 10)}, ${days(now.getTime() - t)} days ago`;
}
