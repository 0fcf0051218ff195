import { describeUnknown } from '../../inventory/model.js';
import type { PolicyRule } from '../model.js';

/** Gaps listed in the decision; the rest are counted. */
const SHOWN = 20;

/**
 * Every package record the catalogers found must have been read, and every installed version. A jar whose central
 * directory disagrees with its entries, metadata that does not parse, a file over the size limit, or a version its
 * ecosystem's scheme cannot read is otherwise only a warning: no advisory can ever match those packages.
 */
export const inventoryRule: PolicyRule = {
  id: 'inventory',
  title: 'Inventory complete',
  configured: (p) => p.rules.completeInventory === true,
  evaluate: (ctx) => {
    const gaps = ctx.gaps;
    if (gaps === undefined) return { outcome: 'fail', reasons: ['no inventory was taken, so it cannot be complete'] };
    if (gaps.length === 0)
      return { outcome: 'pass', reasons: ['every package record found was read, and every installed version'] };
    const reasons = gaps.slice(0, SHOWN).map(describeUnknown);
    if (gaps.length > SHOWN) reasons.push(`… and ${gaps.length - SHOWN} more not read`);
    return { outcome: 'fail', reasons };
  },
};
