import { PortcullisError } from '../errors.js';
import type { Finding, FindingKind } from '../findings/finding.js';
import type { Inventory } from '../inventory/image.js';
import { evaluate } from '../policy/evaluate.js';
import { imageFactsOf } from '../policy/facts.js';
import { loadPolicy, PolicyInvalidError } from '../policy/load.js';
import type { Decision, InventoryGap, Policy, SettingsUsed, SkippedRule } from '../policy/model.js';

/**
 * Load `--policy FILE`. Every problem is one line on stderr with the same prefix as the error that ends the run,
 * so a policy with three mistakes shows three lines, each with its line and column.
 */
export function loadPolicyFlag(path: string): Policy {
  try {
    return loadPolicy(path);
  } catch (err) {
    if (err instanceof PolicyInvalidError && err.problems.length > 1) {
      for (const p of err.problems.slice(0, -1)) process.stderr.write(`portcullis: POLICY_INVALID: ${p}\n`);
      throw new PortcullisError('POLICY_INVALID', err.problems.at(-1) as string);
    }
    throw err;
  }
}

/** What the scan saw besides its findings: check rules not run, packages not matched, the check settings used. */
export interface ScanFacts {
  readonly checks: readonly FindingKind[];
  readonly skipped: readonly SkippedRule[];
  /** The matcher's gaps (packages it could not match, or only in part). */
  readonly matcherGaps: readonly InventoryGap[];
  readonly settings: SettingsUsed;
}

/**
 * The decision `scan --policy` shows: the findings after VEX, the image's facts, this machine's clock, and no
 * signature verifier (so a rule that needs one fails, as it must). Warnings (expired exceptions) go to stderr.
 */
export function decideForScan(
  policy: Policy,
  inv: Inventory,
  findings: readonly Finding[],
  facts: ScanFacts,
): Decision {
  const decision = evaluate(policy, {
    findings,
    checks: facts.checks,
    skipped: facts.skipped,
    gaps: [...facts.matcherGaps, ...inv.unknowns], // as the gate orders them: see decideInventory
    image: imageFactsOf(inv.subject),
    now: new Date(),
    settings: facts.settings,
  });
  for (const w of decision.warnings) process.stderr.write(`portcullis: warning: policy: ${w}\n`);
  return decision;
}
