/** What every placement rule shares: the levels they need, and what they map to. */
import type { SensitivityConfig } from '../config.js';
import type { K8sContext } from '../rule.js';

export const NIST_PLACEMENT = 'NIST SP 800-190 4.3.4 (mixing of workload sensitivity levels)';

/** Every placement rule needs the levels; without them it is listed as not checked. */
export function needsLevels(ctx: K8sContext): string | undefined {
  return ctx.config.sensitivity ? undefined : 'no sensitivity levels configured (sensitivity.levels in --config)';
}

export function sensitivityOf(ctx: K8sContext): SensitivityConfig {
  const s = ctx.config.sensitivity;
  if (!s) throw new Error('placement rule run without sensitivity levels (notChecked should have stopped it)');
  return s;
}
