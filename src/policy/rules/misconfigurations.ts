import type { PolicyRule } from '../model.js';
import { checkByRuleId } from '../ruleids.js';

/** Misconfiguration findings whose rule id the policy lists, or at or above its severity, fail the image. */
export const misconfigurationsRule: PolicyRule = {
  id: 'misconfigurations',
  title: 'No forbidden misconfigurations',
  configured: (p) => p.rules.misconfigurations !== undefined,
  evaluate: (ctx) => {
    const rules = ctx.policy.rules.misconfigurations;
    if (!rules) throw new Error('misconfigurations rule evaluated without its settings');
    return checkByRuleId(ctx, 'misconfiguration', rules);
  },
};
