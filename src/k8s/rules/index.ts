import { type RuleDescription, ruleDescription } from '../../report/sarif.js';
import { CIS_RULES } from '../cis/rules.js';
import { PLACEMENT_RULES } from '../placement/rules.js';
import { PSS_RULES } from '../pss/index.js';
import type { K8sRule } from '../rule.js';
import { IMAGE_RULES } from './images.js';
import { NAMESPACE_RULES } from './namespaces.js';
import { NETWORK_RULES } from './network.js';
import { RBAC_RULES } from './rbac.js';

/** Every Kubernetes check, in report and docs order. */
export const K8S_RULES: readonly K8sRule[] = [
  ...PSS_RULES,
  ...NAMESPACE_RULES,
  ...NETWORK_RULES,
  ...RBAC_RULES,
  ...IMAGE_RULES,
  ...PLACEMENT_RULES,
  ...CIS_RULES,
];

export function k8sRuleById(id: string): K8sRule | undefined {
  return K8S_RULES.find((r) => r.id === id);
}

/** SARIF rule texts from the rule: title, rationale, remediation and what it maps to. */
export function describeK8sRule(id: string): RuleDescription | undefined {
  const r = k8sRuleById(id);
  return r ? ruleDescription(r, ['security', 'kubernetes', r.group, r.severity], r.mapping) : undefined;
}
