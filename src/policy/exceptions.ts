import type { Finding } from '../findings/finding.js';
import { days, globMatch, packageMatches, plural, uniqueIds } from './match.js';
import type { ExceptionReport, ImageFacts, Policy, PolicyException } from './model.js';

/** Exceptions about to expire are announced this long ahead. */
const EXPIRY_NOTICE_MS = 14 * 86_400_000;

/** What applying a policy's exceptions gives: the findings (excepted ones carry a suppression) and the report. */
export interface ExceptionOutcome {
  readonly findings: readonly Finding[];
  readonly used: readonly ExceptionReport[];
  readonly expired: readonly ExceptionReport[];
  readonly warnings: readonly string[];
}

/** Whether every criterion the exception gives matches the finding on this image. */
export function exceptionMatches(e: PolicyException, f: Finding, image: ImageFacts): boolean {
  if (e.id !== undefined) {
    const id = e.id.toLowerCase();
    const ids = [f.ruleId, ...(f.vulnerability?.aliases ?? [])].map((s) => s.toLowerCase());
    if (!ids.includes(id)) return false;
  }
  if (e.package !== undefined && !packageMatches(e.package, f)) return false;
  if (e.image !== undefined) {
    const onImage =
      globMatch(e.image, image.name) ||
      globMatch(e.image, image.reference) ||
      e.image === image.digest ||
      e.image === image.indexDigest;
    if (!onImage) return false;
  }
  return true;
}

function describe(e: PolicyException): string {
  const what = [e.id, e.package, e.image].filter((s) => s !== undefined).join(', ');
  return `exception #${e.index} (line ${e.at.line}: ${what})`;
}

function report(e: PolicyException, findings: readonly Finding[]): ExceptionReport {
  return {
    index: e.index,
    line: e.at.line,
    ...(e.id !== undefined ? { id: e.id } : {}),
    ...(e.package !== undefined ? { package: e.package } : {}),
    ...(e.image !== undefined ? { image: e.image } : {}),
    reason: e.reason,
    expires: e.expires,
    findings: uniqueIds(findings),
  };
}

/**
 * Apply the policy's exceptions to findings that VEX has not already suppressed. An exception whose expiry has come
 * never applies: it is reported as expired with the findings it would have covered, and a warning says so. Pure.
 */
export function applyExceptions(
  policy: Policy,
  findings: readonly Finding[],
  image: ImageFacts,
  now: Date,
): ExceptionOutcome {
  const t = now.getTime();
  const active = policy.exceptions.filter((e) => t < e.expiresAt);
  const expired = policy.exceptions.filter((e) => t >= e.expiresAt);
  const covered = new Map<number, Finding[]>();
  /** For each finding an active exception covers, that exception's number. */
  const coveredBy = new Map<number, number>();
  const out = findings.map((f, i) => {
    if (f.suppression) return f;
    const hits = active.filter((e) => exceptionMatches(e, f, image));
    for (const e of hits) covered.set(e.index, [...(covered.get(e.index) ?? []), f]);
    const first = hits[0];
    if (!first) return f;
    coveredBy.set(i, first.index);
    return {
      ...f,
      suppression: {
        kind: 'exception' as const,
        status: 'excepted',
        justification: first.reason,
        source: `${policy.file} exceptions #${first.index} (line ${first.at.line}), expires ${first.expires}`,
      },
    };
  });
  const warnings: string[] = [];
  const expiredReports = expired.map((e) => {
    const would = findings.flatMap((f, i) => (!f.suppression && exceptionMatches(e, f, image) ? [i] : []));
    // Findings another exception still covers do not count again: say which covers them.
    const again = would.filter((i) => !coveredBy.has(i)).map((i) => findings[i] as Finding);
    const kept = would.filter((i) => coveredBy.has(i)).map((i) => findings[i] as Finding);
    const by = [...new Set(would.flatMap((i) => (coveredBy.has(i) ? [coveredBy.get(i) as number] : [])))];
    const parts = [
      again.length ? `${plural(uniqueIds(again).length, 'finding')} it covered count again` : '',
      kept.length
        ? `${plural(uniqueIds(kept).length, 'finding')} it covered stay excepted by ${by.map((n) => `#${n}`).join(', ')}`
        : '',
    ].filter(Boolean);
    warnings.push(
      `${describe(e)} expired on ${e.expires} and no longer applies${parts.length ? `: ${parts.join('; ')}` : ''}`,
    );
    const r = report(
      e,
      would.map((i) => findings[i] as Finding),
    );
    return kept.length ? { ...r, stillExcepted: { findings: uniqueIds(kept), by } } : r;
  });
  for (const e of active) {
    if (e.expiresAt - t <= EXPIRY_NOTICE_MS && covered.has(e.index))
      warnings.push(`${describe(e)} expires on ${e.expires} (in ${days(e.expiresAt - t)} days)`);
  }
  const used = active.filter((e) => covered.has(e.index)).map((e) => report(e, covered.get(e.index) ?? []));
  return { findings: out, used, expired: expiredReports, warnings };
}
