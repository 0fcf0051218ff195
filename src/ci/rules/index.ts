import { type RuleDescription, ruleDescription } from '../../report/sarif.js';
import type { CiRule } from '../rule.js';
import { artifactPoisoning } from './artifact-poisoning.js';
import { artipacked } from './artipacked.js';
import { botConditions } from './bot-conditions.js';
import { ciDeploys } from './ci-deploys.js';
import { dangerousTriggers } from './dangerous-triggers.js';
import { excessivePermissions } from './excessive-permissions.js';
import { gateBypass } from './gate-bypass.js';
import { githubEnv } from './github-env.js';
import { overprovisionedSecrets } from './overprovisioned-secrets.js';
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
  botConditions,
  githubEnv,
  excessivePermissions,
  secretsInherit,
  overprovisionedSecrets,
  unpinnedUses,
  selfHostedRunner,
  unverifiedScriptExec,
  ciDeploys,
  pushToProduction,
  gateBypass,
  artifactPoisoning,
  artipacked,
];

export function ciRuleById(id: string): CiRule | undefined {
  return CI_RULES.find((r) => r.id === id);
}

/** SARIF rule texts from the rule: title, rationale and remediation. */
export function describeCiRule(id: string): RuleDescription | undefined {
  const r = ciRuleById(id);
  return r ? ruleDescription(r, ['security', 'ci', r.severity]) : undefined;
}
