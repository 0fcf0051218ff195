/** The sensitivity placement checks, in report and docs order. All need `sensitivity` in the configuration. */
import { printable } from '../../errors.js';
import type { K8sRule } from '../rule.js';
import { networkPolicyLowerToHigher } from './netpol.js';
import { NODE_RULES } from './nodes.js';
import { namespaceDefaultMismatch } from './nsdefault.js';
import { WORKLOAD_RULES } from './workloads.js';

/** Messages quote names and label values from the input: control characters (a newline in a name) are shown as `?`. */
function oneLine(rule: K8sRule): K8sRule {
  return {
    ...rule,
    check: (ctx) =>
      rule
        .check({ ...ctx, note: (o, message) => ctx.note(o, printable(message, 2000)) })
        .map((h) => ({ ...h, message: printable(h.message, 2000) })),
  };
}

export const PLACEMENT_RULES: readonly K8sRule[] = [
  ...WORKLOAD_RULES,
  namespaceDefaultMismatch,
  ...NODE_RULES,
  networkPolicyLowerToHigher,
].map(oneLine);
