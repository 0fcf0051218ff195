import { type Finding, SEVERITIES, severityRank } from '../findings/finding.js';
import { renderTable } from './sbom/table.js';

/** Orders two versions of an ecosystem (the matcher's schemes). */
export type VersionCompare = (ecosystem: string, a: string, b: string) => number;

/** "upgrade openssl to 3.0.15-1~deb12u1: fixes 4 (1 critical)": one line per package with a fix. */
export function remediation(findings: readonly Finding[], compare: VersionCompare): string[] {
  const byPkg = new Map<string, Finding[]>();
  for (const f of findings) {
    const v = f.vulnerability;
    if (!v || v.fixedVersions.length === 0) continue;
    const key = `${v.package.name}\0${v.package.version}`;
    byPkg.set(key, [...(byPkg.get(key) ?? []), f]);
  }
  const lines: { rank: number; text: string }[] = [];
  for (const list of byPkg.values()) {
    const v = list[0]?.vulnerability;
    if (!v) continue;
    // The version that fixes all of them is the highest of the lowest fix of each (same scheme, same package).
    const target = list
      .map((f) => f.vulnerability?.fixedVersions[0] ?? '')
      .sort((a, b) => compare(v.matched.ecosystem, a, b))[list.length - 1];
    const counts = SEVERITIES.map((s) => [s, list.filter((f) => f.severity === s).length] as const).filter(
      ([, n]) => n > 0,
    );
    const top = counts[0];
    lines.push({
      rank: Math.max(...list.map((f) => severityRank(f.severity))) * 10_000 + list.length,
      text: `upgrade ${v.package.name} ${v.package.version} to ${target}: fixes ${list.length}${top ? ` (${counts.map(([s, n]) => `${n} ${s}`).join(', ')})` : ''}`,
    });
  }
  return lines.sort((a, b) => b.rank - a.rank).map((l) => l.text);
}

/** A readable vulnerability report: one row per finding, most severe first, then the remediation view. */
export function findingsTable(findings: readonly Finding[], header: string[], compare: VersionCompare): string {
  const rows = [...findings]
    .sort(
      (a, b) =>
        severityRank(b.severity) - severityRank(a.severity) ||
        (a.vulnerability?.package.name ?? '').localeCompare(b.vulnerability?.package.name ?? '') ||
        a.ruleId.localeCompare(b.ruleId),
    )
    .map((f) => {
      const v = f.vulnerability;
      return [
        v?.package.name ?? '',
        f.ruleId,
        f.severity.toUpperCase(),
        v?.status ?? '',
        v?.package.version ?? '',
        v?.fixedVersions.join(', ') ?? '',
        f.title.slice(0, 60),
      ];
    });
  const counts = SEVERITIES.map((s) => `${s}: ${findings.filter((f) => f.severity === s).length}`).join(', ');
  const out = [...header, `Vulnerabilities: ${findings.length} (${counts})`, ''];
  if (rows.length)
    out.push(renderTable(['PACKAGE', 'VULNERABILITY', 'SEVERITY', 'STATUS', 'INSTALLED', 'FIXED IN', 'TITLE'], rows));
  const fixes = remediation(findings, compare);
  if (fixes.length) out.push('', 'Remediation:', ...fixes.map((l) => `  ${l}`));
  return `${out.join('\n')}\n`;
}
