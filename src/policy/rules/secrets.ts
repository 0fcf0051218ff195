import type { PolicyRule } from '../model.js';
import { checkByRuleId } from '../ruleids.js';

/** Secret findings whose rule id the policy lists, or at or above its severity, fail the image. */
export const secretsRule: PolicyRule = {
  id: 'secrets',
  title: 'No forbidden secrets',
  configured: (p) => p.rules.secrets !== undefined,
  evaluate: (ctx) => {
    const rules = ctx.policy.rules.secrets;
    if (!rules) throw new Error('secrets rule evaluated without its settings');
    return checkByRuleId(ctx, 'secret', rules);
  },
};
