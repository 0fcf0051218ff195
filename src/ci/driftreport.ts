/** `ci drift` output: a table for people, JSON and SARIF for machines. */
import { type Finding, SEVERITIES, severityRank } from '../findings/finding.js';
import { findingWhere } from '../report/checks-table.js';
import { type RuleDescription, ruleDescription, toSarif } from '../report/sarif.js';
import { renderTable } from '../report/sbom/table.js';
import { TOOL } from '../version.js';
import { driftRuleById } from './drift.js';

export interface DriftView {
  readonly root: string;
  /** The directory the findings' paths are relative to (repositoryBase). */
  readonly base: string;
  /** What the definitions were compared with: `baseline FILE` or `revision REV`. */
  readonly against: { readonly baseline: string } | { readonly revision: string };
  readonly findings: readonly Finding[];
  readonly notes: readonly string[];
  /** Whether the baseline's signature was verified, and with which key. */
  readonly verifiedWith?: string;
  readonly created: Date;
}

export function describeDriftRule(id: string): RuleDescription | undefined {
  const r = driftRuleById(id);
  return r ? ruleDescription(r, ['security', 'ci', 'drift', r.severity]) : undefined;
}

export function driftJson(v: DriftView): string {
  return `${JSON.stringify(
    {
      tool: TOOL,
      created: v.created.toISOString(),
      root: v.root,
      ...v.against,
      ...(v.verifiedWith ? { verifiedWith: v.verifiedWith } : {}),
      findings: v.findings,
      notes: v.notes,
    },
    null,
    2,
  )}\n`;
}

export function driftSarif(v: DriftView): string {
  const doc = toSarif(
    [
      {
        findings: v.findings,
        category: 'portcullis-ci-drift',
        properties: { ...v.against, notes: v.notes, ...(v.verifiedWith ? { verifiedWith: v.verifiedWith } : {}) },
        notifications: v.notes,
      },
    ],
    { describeRule: (id) => describeDriftRule(id), root: v.base },
  );
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export function driftTable(v: DriftView): string {
  const counts = SEVERITIES.map((s) => [s, v.findings.filter((x) => x.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
  const against = 'baseline' in v.against ? `baseline ${v.against.baseline}` : `revision ${v.against.revision}`;
  const lines = [
    `Compared with ${against}${v.verifiedWith ? ` (signature verified with ${v.verifiedWith})` : ''}`,
    `Drift: ${v.findings.length} change${v.findings.length === 1 ? '' : 's'}${counts ? ` (${counts})` : ''}`,
  ];
  if (v.findings.length) {
    const rows = [...v.findings]
      .sort((a, b) => severityRank(b.severity) - severityRank(a.severity))
      .map((x) => [x.severity.toUpperCase(), x.ruleId, findingWhere(x), x.message]);
    lines.push('', renderTable(['SEVERITY', 'RULE', 'WHERE', 'CHANGE'], rows).trimEnd());
  }
  if (v.notes.length) {
    lines.push('', 'Not checked:');
    for (const n of v.notes) lines.push(`  ${n}`);
  }
  return `${lines.join('\n')}\n`;
}
