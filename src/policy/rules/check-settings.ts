import type { PolicyRule } from '../model.js';

/**
 * The image checks must have run with settings the policy allows. A --checks-config file can disable rules, skip
 * paths and raise limits; the pipeline that runs the gate chooses it, the policy's owner may not want it to.
 */
export const checkSettingsRule: PolicyRule = {
  id: 'check-settings',
  title: 'Check settings allowed',
  configured: (p) => p.rules.checkSettings !== undefined,
  evaluate: (ctx) => {
    const allow = ctx.policy.rules.checkSettings?.allow ?? [];
    const used = ctx.settings;
    if (used === undefined)
      return {
        outcome: 'error',
        reasons: ['the settings the checks ran with are not known, so the policy cannot tell'],
      };
    const allowed = `allowed: ${allow.join(', ')}`;
    if (used === 'defaults')
      return allow.includes('defaults')
        ? { outcome: 'pass', reasons: ['the checks ran with the default settings'] }
        : {
            outcome: 'fail',
            reasons: [`the checks ran with the default settings, which the policy does not allow (${allowed})`],
          };
    const digest = used.digest.toLowerCase();
    return allow.includes(digest)
      ? {
          outcome: 'pass',
          reasons: [`the checks ran with the settings of ${used.file} (${digest}), which the policy allows`],
        }
      : {
          outcome: 'fail',
          reasons: [
            `the checks ran with the settings of ${used.file} (${digest}), which the policy does not allow (${allowed})`,
          ],
        };
  },
};
