import type { RuleMeta } from '../checks/model.js';
import { printable } from '../errors.js';
import { type Finding, SEVERITIES, severityRank } from '../findings/finding.js';
import { renderTable } from './sbom/table.js';

/** Where a check finding is, in one short string: `/etc/shadow (layer 2)` or `Dockerfile:12`. */
export function findingWhere(f: Finding): string {
  return printable(where(f), 300);
}

/** Paths come from the image: printed with control characters as `?` (no terminal escapes reach the table). */
function where(f: Finding): string {
  const l = f.location;
  if (l.kind === 'file') return `${l.path}${l.line ? `:${l.line}` : ''}`;
  if (l.kind === 'registry')
    return `${l.host}${l.path === undefined ? '' : l.path.startsWith('/') ? l.path : `/${l.path}`}`;
  if (l.path === undefined) return l.layer !== undefined ? `layer ${l.layer}` : 'image config';
  return `/${l.path}${l.layer !== undefined ? ` (layer ${l.layer})` : ''}`;
}

function section(title: string, findings: readonly Finding[], rules: (id: string) => RuleMeta | undefined): string[] {
  const counts = SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
  const out = [`${title}: ${findings.length}${counts ? ` (${counts})` : ''}`];
  if (findings.length === 0) return out;
  const rows = [...findings]
    .sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.ruleId.localeCompare(b.ruleId))
    .map((f) => {
      const cis = rules(f.ruleId)?.cis;
      return [f.severity.toUpperCase(), f.ruleId, cis ? `CIS ${cis}` : '', findingWhere(f), f.message.slice(0, 100)];
    });
  out.push('', renderTable(['SEVERITY', 'RULE', 'CIS', 'WHERE', 'MESSAGE'], rows));
  return out;
}

/** The misconfiguration and secret findings as two readable tables, most severe first. */
export function checksTable(
  findings: readonly Finding[],
  kinds: readonly ('misconfiguration' | 'secret')[],
  rules: (id: string) => RuleMeta | undefined,
): string {
  const out: string[] = [];
  if (kinds.includes('misconfiguration'))
    out.push(
      ...section(
        'Misconfigurations',
        findings.filter((f) => f.kind === 'misconfiguration'),
        rules,
      ),
      '',
    );
  if (kinds.includes('secret'))
    out.push(
      ...section(
        'Secrets',
        findings.filter((f) => f.kind === 'secret'),
        rules,
      ),
      '',
    );
  return out.join('\n');
}

/** `portcullis rules`: every rule with its CIS and Dockle mapping. */
export function rulesTable(rules: readonly RuleMeta[]): string {
  return renderTable(
    ['ID', 'KIND', 'SEVERITY', 'CIS', 'DOCKLE', 'TITLE'],
    rules.map((r) => [r.id, r.kind, r.severity, r.cis ?? '', r.dockle ?? '', r.title]),
  );
}
