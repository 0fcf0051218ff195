import { type RuleDescription, ruleDescription } from '../report/sarif.js';
import { ACCESS_RULES } from './accessrules.js';
import type { PostureRule } from './model.js';
import { TLS_RULES } from './tlsrules.js';

/** Every registry posture rule, in report order: transport and certificate first, then access. */
export const POSTURE_RULES: readonly PostureRule[] = [...TLS_RULES, ...ACCESS_RULES];

export function postureRuleById(id: string): PostureRule | undefined {
  return POSTURE_RULES.find((r) => r.id === id);
}

/** SARIF rule texts from the rule: title, rationale and remediation. */
export function describePostureRule(id: string): RuleDescription | undefined {
  const r = postureRuleById(id);
  return r ? ruleDescription(r, ['security', 'posture', r.severity]) : undefined;
}
