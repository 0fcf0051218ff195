import type { RuleDescription } from '../../report/sarif.js';
import type { CiRule } from '../rule.js';
import { artifactPoisoning } from './artifact-poisoning.js';
import { ciDeploys } from './ci-deploys.js';
import { dangerousTriggers } from './dangerous-triggers.js';
import { excessivePermissions } from './excessive-permissions.js';
import { gateBypass } from './gate-bypass.js';
import { pushToProduction } from './push-to-production.js';
import { secretsInherit } from './secrets-inherit.js';
import { selfHostedRunner } from './self-hosted-runner.js';
import { templateInjection } from './template-injection.js';
import { unpinnedUses } from './unpinned-uses.js';
import { untrustedCheckout } from './untrusted-checkout.js';
import { unverifiedScriptExec } from './unverified-script-exec.js';

/** Every CI rule, in report and docs order. */
export const CI_RULES: readonly CiRule[] = [
  dangerousTriggers,
  untrustedCheckout,
  templateInjection,
  excessivePermissions,
  secretsInherit,
  unpinnedUses,
  selfHostedRunner,
  unverifiedScriptExec,
  ciDeploys,
  pushToProduction,
  gateBypass,
  artifactPoisoning,
];

export function ciRuleById(id: string): CiRule | undefined {
  return CI_RULES.find((r) => r.id === id);
}

/** SARIF rule texts from the rule: title, rationale and remediation. */
export function describeCiRule(id: string): RuleDescription | undefined {
  const r = ciRuleById(id);
  if (!r) return undefined;
  return {
    shortDescription: r.title,
    fullDescription: `${r.title}. ${r.rationale}`,
    help: {
      text: [r.title, '', r.rationale, '', `Remediation: ${r.remediation}`].join('\n'),
      markdown: [
        `**${r.title}**`,
        '',
        r.rationale,
        '',
        `**Remediation:** ${r.remediation}`,
        '',
        `Documented in docs/rules.md (\`${r.id}\`).`,
      ].join('\n'),
    },
    tags: ['security', 'ci', r.severity],
  };
}
