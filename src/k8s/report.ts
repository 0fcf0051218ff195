/** `k8s audit` reports: a table for people, JSON for machines, SARIF 2.1.0 for code scanning. */
import { type Finding, SEVERITIES, severityRank } from '../findings/finding.js';
import { findingWhere } from '../report/checks-table.js';
import { toSarif } from '../report/sarif.js';
import { renderTable } from '../report/sbom/table.js';
import { TOOL } from '../version.js';
import type { K8sAuditResult, K8sNote } from './audit.js';
import type { K8sLoadError } from './model.js';
import { describeK8sRule } from './rules/index.js';

export interface K8sView {
  readonly result: K8sAuditResult;
  /** The findings left after the severity filter. */
  readonly shown: readonly Finding[];
  readonly created: Date;
}

export function k8sErrorLine(e: K8sLoadError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.message}`;
}

export function k8sNoteLine(n: K8sNote): string {
  return `${n.ruleId}: ${n.where ? `${n.where}: ` : ''}${n.message}`;
}

export function k8sJson(v: K8sView): string {
  const r = v.result;
  return `${JSON.stringify(
    {
      tool: TOOL,
      created: v.created.toISOString(),
      files: r.files,
      ...(r.skipped ? { skipped: r.skipped } : {}),
      objects: r.objects,
      findings: v.shown,
      hidden: r.findings.length - v.shown.length,
      errors: r.errors,
      notes: r.notes,
      ignored: r.ignored,
      ...(r.config ? { config: r.config } : {}),
    },
    null,
    2,
  )}\n`;
}

export function k8sSarif(v: K8sView): string {
  const doc = toSarif(
    [
      {
        findings: v.shown,
        category: 'portcullis-k8s',
        properties: {
          files: v.result.files,
          objects: v.result.objects,
          errors: v.result.errors.map(k8sErrorLine),
          notes: v.result.notes.map(k8sNoteLine),
          ignored: v.result.ignored.length,
        },
        notifications: [...v.result.errors.map(k8sErrorLine), ...v.result.notes.map(k8sNoteLine)],
      },
    ],
    { describeRule: (id) => describeK8sRule(id) },
  );
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** `Kind namespace/name` of a finding's object, or '' for node-file findings. */
export function resourceName(f: Finding): string {
  const r = f.resource;
  return r ? `${r.kind} ${r.namespace !== undefined ? `${r.namespace}/` : ''}${r.name}` : '';
}

export function k8sTable(v: K8sView): string {
  const r = v.result;
  const counts = SEVERITIES.map((s) => [s, v.shown.filter((x) => x.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
  const hidden = r.findings.length - v.shown.length;
  const lines = [
    `Objects read: ${r.objects} from ${r.files.length} file${r.files.length === 1 ? '' : 's'}${r.skipped?.length ? ` (${r.skipped.length} other YAML/JSON file${r.skipped.length === 1 ? '' : 's'} without Kubernetes objects left out)` : ''}${r.errors.length ? `; ${r.errors.length} could not be read` : ''}`,
    `Kubernetes findings: ${v.shown.length}${counts ? ` (${counts})` : ''}${hidden ? `; ${hidden} hidden by --severity` : ''}`,
  ];
  if (v.shown.length) {
    const rows = [...v.shown]
      .sort((a, b) => severityRank(b.severity) - severityRank(a.severity))
      .map((x) => [x.severity.toUpperCase(), x.ruleId, resourceName(x), findingWhere(x), x.message]);
    lines.push('', renderTable(['SEVERITY', 'CHECK', 'OBJECT', 'WHERE', 'MESSAGE'], rows).trimEnd());
  }
  if (r.ignored.length) lines.push('', `Accepted by the configuration's ignore entries: ${r.ignored.length}`);
  const notRun = r.notes.filter((n) => !n.where);
  if (notRun.length) {
    lines.push('', 'Not checked:');
    for (const n of notRun) lines.push(`  ${k8sNoteLine(n)}`);
  }
  const notes = r.notes.filter((n) => n.where);
  if (notes.length) {
    lines.push('', 'Notes (not findings):');
    for (const n of notes) lines.push(`  ${k8sNoteLine(n)}`);
  }
  if (r.errors.length) {
    lines.push('', 'Not read (the audit is incomplete):');
    for (const e of r.errors) lines.push(`  ${k8sErrorLine(e)}`);
  }
  return `${lines.join('\n')}\n`;
}
