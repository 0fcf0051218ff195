import type { AdvisoryLookup } from '../advisories/match.js';
import { matchInventory } from '../advisories/match.js';
import { severityOf } from '../advisories/severity.js';
import { SCHEME_CHOOSER } from '../advisories/versions/index.js';
import type { CheckResult } from '../checks/model.js';
import type { Finding } from '../findings/finding.js';
import type { Inventory } from '../inventory/image.js';
import { evaluate } from '../policy/evaluate.js';
import { imageFactsOf } from '../policy/facts.js';
import type { Decision, Policy, PolicyRule, SettingsUsed, SignatureCheck, SkippedRule } from '../policy/model.js';
import { POLICY_RULES } from '../policy/rules/index.js';
import { applyVex, vexTargetOf } from '../vex/apply.js';
import type { VexStatement } from '../vex/model.js';

/** What deciding on one inventory reads besides the inventory: all of it already at hand (no I/O). */
export interface DecideInput {
  readonly policy: Policy;
  readonly advisories: AdvisoryLookup;
  readonly vex: readonly VexStatement[];
  readonly now: Date;
  /** The image checks that rode the walk, when they ran. */
  readonly checks?: CheckResult;
  readonly skipped?: readonly SkippedRule[];
  readonly signatures?: readonly SignatureCheck[];
  /** The settings the image checks ran with (the check-settings rule errs without them). */
  readonly settings?: SettingsUsed;
  /** The policy rules to run (all of them by default; the watcher swaps in stand-ins for those an SBOM cannot feed). */
  readonly rules?: readonly PolicyRule[];
}

/** The findings (after VEX, suppressed ones marked), the decision, and the matcher's problems (packages it could not match). */
export interface Decided {
  readonly findings: Finding[];
  readonly decision: Decision;
  readonly problems: readonly string[];
}

/**
 * Match an inventory against the advisories, apply VEX, and evaluate the policy. Pure: the gate runs it on the
 * inventory it walked, and the registry watcher on an inventory read back from the SBOM the gate attested, so both
 * reach their findings and vulnerability verdicts by the same code.
 */
export function decideInventory(inv: Inventory, input: DecideInput): Decided {
  const matched = matchInventory(inv, input.advisories, SCHEME_CHOOSER, severityOf);
  const applied = applyVex([...matched.findings, ...(input.checks?.findings ?? [])], input.vex, vexTargetOf(inv));
  const decision = evaluate(
    input.policy,
    {
      findings: applied.findings,
      checks: ['vulnerability', ...(input.checks?.checks ?? [])],
      skipped: input.skipped ?? [],
      gaps: [...matched.gaps, ...inv.unknowns], // the matcher's first: one line each for whole kinds of packages
      image: imageFactsOf(inv.subject),
      now: input.now,
      ...(input.signatures ? { signatures: input.signatures } : {}),
      ...(input.settings ? { settings: input.settings } : {}),
    },
    input.rules ?? POLICY_RULES,
  );
  return { findings: applied.findings, decision, problems: matched.problems };
}
