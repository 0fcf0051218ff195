import { type Finding, SEVERITIES, severityRank } from '../findings/finding.js';
import { findingWhere } from '../report/checks-table.js';
import { toSarif } from '../report/sarif.js';
import { renderTable } from '../report/sbom/table.js';
import { TOOL } from '../version.js';
import type { CiAuditResult, CiNote } from './audit.js';
import type { LoadError } from './model.js';
import { describeCiRule } from './rules/index.js';

/** What the report shows: the findings left after the severity filter, and the result they came from. */
export interface CiView {
  readonly result: CiAuditResult;
  readonly shown: readonly Finding[];
  readonly created: Date;
}

export function errorLine(e: LoadError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.message}`;
}

export function noteLine(n: CiNote): string {
  return `${n.ruleId}: ${n.file ? `${n.file}:${n.line ?? 1}: ` : ''}${n.message}`;
}

export function ciJson(v: CiView): string {
  return `${JSON.stringify(
    {
      tool: TOOL,
      created: v.created.toISOString(),
      root: v.result.root,
      files: v.result.files,
      findings: v.shown,
      hidden: v.result.findings.length - v.shown.length,
      errors: v.result.errors,
      notes: v.result.notes,
      ignored: v.result.ignored,
      ...(v.result.config ? { config: v.result.config } : {}),
    },
    null,
    2,
  )}\n`;
}

export function ciSarif(v: CiView): string {
  const doc = toSarif(
    [
      {
        findings: v.shown,
        category: 'portcullis-ci',
        properties: {
          files: v.result.files,
          errors: v.result.errors.map(errorLine),
          notes: v.result.notes.map(noteLine),
          ignored: v.result.ignored.length,
        },
        notifications: [...v.result.errors.map(errorLine), ...v.result.notes.map(noteLine)],
      },
    ],
    // Paths are relative to the repository root (PATH, or the repository of the one file audited).
    { describeRule: (id) => describeCiRule(id), root: v.result.base },
  );
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export function ciTable(v: CiView): string {
  const counts = SEVERITIES.map((s) => [s, v.shown.filter((x) => x.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
  const hidden = v.result.findings.length - v.shown.length;
  const lines = [
    `Files read: ${v.result.files.length}${v.result.errors.length ? `; ${v.result.errors.length} could not be read` : ''}`,
    `CI findings: ${v.shown.length}${counts ? ` (${counts})` : ''}${hidden ? `; ${hidden} hidden by --severity` : ''}`,
  ];
  if (v.shown.length) {
    const rows = [...v.shown]
      .sort((a, b) => severityRank(b.severity) - severityRank(a.severity))
      .map((x) => [x.severity.toUpperCase(), x.confidence, x.ruleId, findingWhere(x), x.message]);
    lines.push('', renderTable(['SEVERITY', 'CONFIDENCE', 'RULE', 'WHERE', 'MESSAGE'], rows).trimEnd());
  }
  if (v.result.ignored.length)
    lines.push('', `Accepted by the configuration's ignore entries: ${v.result.ignored.length}`);
  const notRun = v.result.notes.filter((n) => !n.file);
  if (notRun.length) {
    lines.push('', 'Not checked:');
    for (const n of notRun) lines.push(`  ${noteLine(n)}`);
  }
  const notes = v.result.notes.filter((n) => n.file);
  if (notes.length) {
    lines.push('', 'Notes (not findings):');
    for (const n of notes) lines.push(`  ${noteLine(n)}`);
  }
  if (v.result.errors.length) {
    lines.push('', 'Not read (the audit is incomplete):');
    for (const e of v.result.errors) lines.push(`  ${errorLine(e)}`);
  }
  return `${lines.join('\n')}\n`;
}
