import { type Finding, SEVERITIES, severityRank } from '../findings/finding.js';
import { findingWhere } from '../report/checks-table.js';
import { toSarif } from '../report/sarif.js';
import { renderTable } from '../report/sbom/table.js';
import { TOOL } from '../version.js';
import type { AuditFacts } from './facts.js';
import { describePostureRule } from './rules.js';
import type { AuditResult } from './verdicts.js';

/** What the report shows: the findings left after the severity filter, what it hid, and what was not checked. */
export interface AuditView {
  readonly facts: AuditFacts;
  readonly result: AuditResult;
  readonly shown: readonly Finding[];
  readonly created: Date;
}

function summary(f: AuditFacts): Record<string, unknown> {
  const h = f.tls.handshake.ok ? f.tls.handshake.value : undefined;
  return {
    endpoint: f.endpoint ?? null,
    tls: h
      ? {
          protocol: h.protocol,
          cipher: h.cipher,
          certificate: h.cert ?? null,
          chainError: h.chainError ?? null,
          hostnameError: h.hostnameError ?? null,
        }
      : { error: f.tls.handshake.ok ? null : f.tls.handshake.note },
    oldProtocols: Object.fromEntries(
      f.tls.oldProtocols.map((p) => [p.version, p.accepted.ok ? p.accepted.value : `unknown: ${p.accepted.note}`]),
    ),
    repository: f.repository.ok ? f.repository.value : null,
  };
}

export function auditJson(v: AuditView): string {
  return `${JSON.stringify(
    {
      tool: TOOL,
      created: v.created.toISOString(),
      registry: v.facts.host,
      ...summary(v.facts),
      findings: v.shown,
      hidden: v.result.findings.length - v.shown.length,
      notChecked: v.result.notChecked,
      passed: v.result.passed,
    },
    null,
    2,
  )}\n`;
}

export function auditSarif(v: AuditView): string {
  const doc = toSarif(
    [
      {
        findings: v.shown,
        target: v.facts.host,
        category: `portcullis-registry/${v.facts.host}`,
        properties: { endpoint: v.facts.endpoint ?? null, notChecked: v.result.notChecked },
        notifications: v.result.notChecked.map((n) => `${n.ruleId}: not checked: ${n.reason}`),
      },
    ],
    { describeRule: (id) => describePostureRule(id) },
  );
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export function auditTable(v: AuditView): string {
  const f = v.facts;
  const h = f.tls.handshake.ok ? f.tls.handshake.value : undefined;
  const lines = [
    `Registry:   ${f.host}`,
    `Endpoint:   ${f.endpoint === 'https' ? `https (${h?.protocol}, ${h?.cipher})` : (f.endpoint ?? 'none')}`,
  ];
  if (h?.cert)
    lines.push(
      `Certificate: ${h.cert.subject}; issuer ${h.cert.issuer}; valid ${h.cert.validFrom} to ${h.cert.validTo}`,
    );
  lines.push(`Repository: ${f.repository.ok ? `${f.repository.value.name} (${f.repository.value.from})` : 'none'}`);
  const counts = SEVERITIES.map((s) => [s, v.shown.filter((x) => x.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
  const hidden = v.result.findings.length - v.shown.length;
  lines.push(
    '',
    `Posture findings: ${v.shown.length}${counts ? ` (${counts})` : ''}${hidden ? `; ${hidden} hidden by --severity` : ''}`,
  );
  if (v.shown.length) {
    const rows = [...v.shown]
      .sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.ruleId.localeCompare(b.ruleId))
      .map((x) => [x.severity.toUpperCase(), x.ruleId, findingWhere(x), x.message]);
    lines.push('', renderTable(['SEVERITY', 'RULE', 'WHERE', 'MESSAGE'], rows).trimEnd());
  }
  if (v.result.notChecked.length) {
    lines.push('', `Not checked: ${v.result.notChecked.length}`);
    for (const n of v.result.notChecked) lines.push(`  ${n.ruleId}: ${n.reason}`);
  }
  return `${lines.join('\n')}\n`;
}
