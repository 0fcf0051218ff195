import { printable } from '../errors.js';
import type { Decision, ExceptionReport } from '../policy/model.js';

/** Reasons shown per rule in the table; JSON always has them all. */
const MAX_REASONS = 12;

function exceptionWhat(e: ExceptionReport): string {
  return [e.id, e.package, e.image].filter((s) => s !== undefined).join(', ');
}

/**
 * The decision for people: the verdict, each rule with its outcome and reasons, the exceptions used and those that
 * expired. One line per reason; long lists are cut with a count (the JSON output has everything).
 */
export function decisionTable(d: Decision): string {
  const lines: string[] = [];
  lines.push(`Policy: ${printable(d.policy.name)} (${printable(d.policy.file)}, ${d.policy.digest.slice(0, 19)}…)`);
  const width = Math.max(4, ...d.rules.map((r) => r.id.length));
  lines.push('');
  lines.push(`${'RULE'.padEnd(width)}  OUTCOME  REASONS`);
  lines.push(`${'-'.repeat(width)}  -------  ${'-'.repeat(60)}`);
  for (const r of d.rules) {
    const reasons = r.reasons.slice(0, MAX_REASONS);
    if (r.reasons.length > MAX_REASONS)
      reasons.push(`… and ${r.reasons.length - MAX_REASONS} more (-f json lists all)`);
    reasons.forEach((reason, i) => {
      const head = i === 0 ? `${r.id.padEnd(width)}  ${r.outcome.toUpperCase().padEnd(7)}` : ' '.repeat(width + 9);
      lines.push(`${head}  ${printable(reason, 400)}`);
    });
  }
  if (d.exceptionsUsed.length > 0) {
    lines.push('', 'Exceptions used:');
    for (const e of d.exceptionsUsed)
      lines.push(
        `  #${e.index} (line ${e.line}) ${printable(exceptionWhat(e))}, expires ${e.expires}: ${e.findings.length} finding${e.findings.length === 1 ? '' : 's'}; reason: ${printable(e.reason, 200)}`,
      );
  }
  if (d.exceptionsExpired.length > 0) {
    lines.push('', 'Exceptions expired (no longer applied):');
    for (const e of d.exceptionsExpired) {
      const kept = e.stillExcepted?.findings.length ?? 0;
      const again = e.findings.length - kept;
      const n = (k: number) => `${k} finding${k === 1 ? '' : 's'}`;
      lines.push(
        `  #${e.index} (line ${e.line}) ${printable(exceptionWhat(e))}: expired ${e.expires}${again ? `; ${n(again)} it covered count again` : ''}${kept ? `; ${n(kept)} stay excepted by ${e.stillExcepted?.by.map((b) => `#${b}`).join(', ')}` : ''}`,
      );
    }
  }
  const failed = d.rules.filter((r) => r.outcome !== 'pass').length;
  lines.push(
    '',
    d.pass
      ? `Decision: PASS (${d.rules.length} rule${d.rules.length === 1 ? '' : 's'} passed)`
      : `Decision: FAIL (${failed} of ${d.rules.length} rule${d.rules.length === 1 ? '' : 's'} did not pass)`,
  );
  return `${lines.join('\n')}\n`;
}

/** The decision as JSON data: the Decision object itself, with the verdict spelled out first. */
export function decisionJson(d: Decision): { verdict: 'PASS' | 'FAIL' } & Decision {
  return { verdict: d.pass ? 'PASS' : 'FAIL', ...d };
}
