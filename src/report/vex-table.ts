import { printable } from '../errors.js';
import type { Finding } from '../findings/finding.js';
import { renderTable } from './sbom/table.js';

/** The findings VEX statements suppressed, with the statement each one cites (`scan --show-suppressed`). */
export function suppressedTable(findings: readonly Finding[]): string {
  const rows = findings.map((f) => [
    f.vulnerability?.package.name ?? '',
    f.ruleId,
    f.severity.toUpperCase(),
    printable(f.suppression?.status ?? '', 40),
    printable(f.suppression?.justification ?? '', 80),
    printable(f.suppression?.source ?? '', 200),
  ]);
  const head = `Suppressed by VEX: ${findings.length}`;
  if (rows.length === 0) return `${head}\n`;
  return `${head}\n\n${renderTable(['PACKAGE', 'VULNERABILITY', 'SEVERITY', 'VEX STATUS', 'JUSTIFICATION', 'STATEMENT'], rows)}\n`;
}
