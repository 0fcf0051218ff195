import type { Inventory } from '../../inventory/image.js';
import { scrubSubject } from '../../secrets/scrub.js';
import { TOOL } from '../../version.js';
import type { SbomOptions } from './common.js';

/** Portcullis's own JSON inventory: every field the catalogers found, for machines. */
export function toInventoryJson(inv: Inventory, opts: SbomOptions = {}): Record<string, unknown> {
  return {
    schema: 'https://portcullis.invalid/schemas/inventory-v1.json',
    tool: TOOL,
    created: (opts.timestamp ?? new Date()).toISOString(),
    subject: scrubSubject(inv.subject), // labels and history as the secret findings show them: masked
    os: inv.os ?? null,
    complete: inv.unknowns.length === 0,
    packages: inv.packages,
    unknowns: inv.unknowns,
    stats: inv.stats,
  };
}
