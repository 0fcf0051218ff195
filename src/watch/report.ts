import { type Finding, SEVERITIES, severityRank } from '../findings/finding.js';
import { findingWhere } from '../report/checks-table.js';
import { toSarif } from '../report/sarif.js';
import { renderTable } from '../report/sbom/table.js';
import { TOOL } from '../version.js';
import { describeWatchRule, type Status, toFinding } from './classify.js';
import type { RegistryInventory } from './reconcile.js';

/** What `registry watch --once` reports: per registry its tags by status, and one finding per non-approved tag. */
export interface WatchView {
  readonly inventories: readonly RegistryInventory[];
  readonly created: Date;
}

const STATUSES: readonly Status[] = [
  'approved',
  'unsigned',
  'unassessed',
  'failed',
  'stale',
  'tampered',
  'unverifiable',
  'unknown-repository',
];

export function watchFindings(inv: RegistryInventory): Finding[] {
  return inv.verdicts.map(toFinding).filter((f): f is Finding => f !== undefined);
}

function counts(inv: RegistryInventory): Partial<Record<Status, number>> {
  // `tampered` needs the watcher's remembered state: counted only when a tag is, so a one-off run shows no such key.
  const c: Partial<Record<Status, number>> = Object.fromEntries(
    STATUSES.filter((s) => s !== 'tampered').map((s) => [s, 0]),
  );
  for (const v of inv.verdicts) c[v.classification.status] = (c[v.classification.status] ?? 0) + 1;
  return c;
}

export function watchJson(v: WatchView): string {
  return `${JSON.stringify(
    {
      tool: TOOL,
      created: v.created.toISOString(),
      registries: v.inventories.map((inv) => ({
        registry: inv.host,
        catalog: inv.catalog,
        repositories: inv.repositories,
        unmatchedPatterns: inv.unmatchedPatterns,
        signatureTags: inv.signatureTags,
        vanished: inv.vanished,
        counts: counts(inv),
        tags: inv.verdicts.map((t) => ({
          repository: t.repository,
          tag: t.tag,
          digest: t.digest,
          status: t.classification.status,
          detail: t.classification.detail,
          ...(t.classification.assessedAt ? { assessedAt: t.classification.assessedAt } : {}),
        })),
        findings: watchFindings(inv),
      })),
    },
    null,
    2,
  )}\n`;
}

export function watchSarif(v: WatchView): string {
  const doc = toSarif(
    v.inventories.map((inv) => ({
      findings: watchFindings(inv),
      target: inv.host,
      category: `portcullis-registry-watch/${inv.host}`,
      properties: { repositories: inv.repositories, counts: counts(inv) },
    })),
    { describeRule: (id) => describeWatchRule(id) },
  );
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export function watchTable(v: WatchView): string {
  const lines: string[] = [];
  for (const inv of v.inventories) {
    const c = counts(inv);
    const summary = STATUSES.filter((s) => (c[s] ?? 0) > 0)
      .map((s) => `${s}: ${c[s]}`)
      .join(', ');
    if (lines.length) lines.push('');
    lines.push(
      `Registry:     ${inv.host}`,
      `Repositories: ${inv.repositories.length} watched of ${inv.catalog} in the catalog`,
      `Tags:         ${inv.verdicts.length}${summary ? ` (${summary})` : ''}; ${inv.signatureTags} signature tags not counted`,
    );
    if (inv.unmatchedPatterns.length) {
      lines.push(
        `Warning:      ${inv.unmatchedPatterns.join(', ')} matched no repository (not watched: a typo, or not visible to these credentials)`,
      );
    }
    if (inv.vanished.length) lines.push(`Vanished:     ${inv.vanished.join(', ')} (untagged while listed)`);
    const findings = watchFindings(inv);
    const sev = SEVERITIES.map((s) => [s, findings.filter((x) => x.severity === s).length] as const)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    lines.push('', `Findings: ${findings.length}${sev ? ` (${sev})` : ''}`);
    if (findings.length) {
      const rows = [...findings]
        .sort(
          (a, b) =>
            severityRank(b.severity) - severityRank(a.severity) ||
            findingWhere(a).localeCompare(findingWhere(b)) ||
            a.ruleId.localeCompare(b.ruleId),
        )
        .map((x) => [x.severity.toUpperCase(), x.ruleId, findingWhere(x), x.message]);
      lines.push('', renderTable(['SEVERITY', 'RULE', 'WHERE', 'MESSAGE'], rows).trimEnd());
    }
  }
  return `${lines.join('\n')}\n`;
}
