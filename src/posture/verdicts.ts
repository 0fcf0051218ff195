import type { Finding } from '../findings/finding.js';
import type { AuditFacts } from './facts.js';
import type { AuditContext } from './model.js';
import { POSTURE_RULES } from './rules.js';

/** The audit's result: findings in the shared shape, and one note for every rule that could not be judged. */
export interface AuditResult {
  readonly findings: Finding[];
  readonly notChecked: { readonly ruleId: string; readonly reason: string }[];
  readonly passed: string[];
}

/** Every rule's verdict on the facts, as findings located at the registry (pure). */
export function judge(facts: AuditFacts, ctx: AuditContext): AuditResult {
  const out: AuditResult = { findings: [], notChecked: [], passed: [] };
  for (const rule of POSTURE_RULES) {
    const v = rule.evaluate(facts, ctx);
    if (v.result === 'pass') out.passed.push(rule.id);
    else if (v.result === 'not-checked') out.notChecked.push({ ruleId: rule.id, reason: v.reason });
    else
      out.findings.push({
        ruleId: rule.id,
        kind: 'posture',
        severity: v.severity ?? rule.severity,
        confidence: 'high',
        title: rule.title,
        message: v.message,
        location: { kind: 'registry', host: facts.host, ...(v.path ? { path: v.path } : {}) },
        fix: { text: rule.remediation },
      });
  }
  return out;
}
