import { printable } from '../errors.js';
import { type Finding, SEVERITIES, severityRank } from '../findings/finding.js';
import { renderTable } from './sbom/table.js';

/** What the remediation view needs of the matcher: version order, and whether a version is clear of a finding. */
export interface Remedy {
  /** Orders two versions of an ecosystem (the matcher's schemes). */
  compare(ecosystem: string, a: string, b: string): number;
  /** Whether `version` of the finding's package is affected by none of the advisories the finding stands for. */
  clears(finding: Finding, version: string): boolean;
  /** Fixed versions of those advisories above the installed one, on any branch (the finding lists its own only). */
  fixesOf(finding: Finding): readonly string[];
}

/** "upgrade openssl to 3.0.15-1~deb12u1: fixes 4 (1 critical)": one line per package with a fix. */
export function remediation(findings: readonly Finding[], remedy: Remedy): string[] {
  const byPkg = new Map<string, Finding[]>();
  for (const f of findings) {
    const v = f.vulnerability;
    if (!v || v.fixedVersions.length === 0) continue;
    // The advisory coordinates too: npm and PyPI packages (or Maven artifacts of two groups) may share a name and version.
    const key = `${v.matched.ecosystem}\0${v.matched.name}\0${v.package.name}\0${v.package.version}`;
    byPkg.set(key, [...(byPkg.get(key) ?? []), f]);
  }
  const lines: { rank: number; text: string }[] = [];
  for (const list of byPkg.values()) {
    const v = list[0]?.vulnerability;
    if (!v) continue;
    // The lowest fixed version that clears every finding, checked against the advisories: the highest of the lowest
    // fix of each can fall inside another branch of an advisory fixed on several (fixed 1.2.3 and 2.0.5: 2.0.1 is
    // affected), so the fixes of every branch are candidates. When none clears them all, the one that clears the
    // most, counting only those.
    const eco = v.matched.ecosystem;
    const candidates = [
      ...new Set(list.flatMap((f) => [...(f.vulnerability?.fixedVersions ?? []), ...remedy.fixesOf(f)])),
    ].sort((a, b) => remedy.compare(eco, a, b));
    // Below the highest of the lowest fix of each, some finding is still in its range: none clears them all there.
    const floor = list
      .map((f) => f.vulnerability?.fixedVersions[0] ?? '')
      .reduce((a, b) => (remedy.compare(eco, a, b) >= 0 ? a : b));
    let target = candidates.find((c) => remedy.compare(eco, c, floor) >= 0 && list.every((f) => remedy.clears(f, c)));
    let fixed: Finding[] = target === undefined ? [] : list;
    for (const c of target === undefined ? candidates : []) {
      const cleared = list.filter((f) => remedy.clears(f, c));
      if (cleared.length > fixed.length) {
        target = c;
        fixed = cleared;
      }
    }
    if (target === undefined) continue;
    const counts = SEVERITIES.map((s) => [s, fixed.filter((f) => f.severity === s).length] as const).filter(
      ([, n]) => n > 0,
    );
    const top = counts[0];
    lines.push({
      rank: Math.max(...fixed.map((f) => severityRank(f.severity))) * 10_000 + fixed.length,
      text: `upgrade ${printable(v.package.name)} ${printable(v.package.version)} to ${printable(target)}: fixes ${fixed.length}${top ? ` (${counts.map(([s, n]) => `${n} ${s}`).join(', ')})` : ''}`,
    });
  }
  return lines.sort((a, b) => b.rank - a.rank).map((l) => l.text);
}

/** A readable vulnerability report: one row per finding, most severe first, then the remediation view. */
export function findingsTable(findings: readonly Finding[], header: string[], remedy: Remedy): string {
  const rows = [...findings]
    .sort(
      (a, b) =>
        severityRank(b.severity) - severityRank(a.severity) ||
        (a.vulnerability?.package.name ?? '').localeCompare(b.vulnerability?.package.name ?? '') ||
        a.ruleId.localeCompare(b.ruleId),
    )
    .map((f) => {
      const v = f.vulnerability;
      // Names, versions and titles come from the image and the feeds: control characters are printed as `?`.
      return [
        v?.package.name ?? '',
        f.ruleId,
        f.severity.toUpperCase(),
        v?.status ?? '',
        v?.package.version ?? '',
        v?.fixedVersions.join(', ') ?? '',
        f.title.slice(0, 60),
      ].map((cell) => printable(cell, 1000));
    });
  const counts = SEVERITIES.map((s) => `${s}: ${findings.filter((f) => f.severity === s).length}`).join(', ');
  const out = [...header, `Vulnerabilities: ${findings.length} (${counts})`, ''];
  if (rows.length)
    out.push(renderTable(['PACKAGE', 'VULNERABILITY', 'SEVERITY', 'STATUS', 'INSTALLED', 'FIXED IN', 'TITLE'], rows));
  const fixes = remediation(findings, remedy);
  if (fixes.length) out.push('', 'Remediation:', ...fixes.map((l) => `  ${l}`));
  return `${out.join('\n')}\n`;
}
