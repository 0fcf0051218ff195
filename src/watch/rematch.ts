/**
 * Re-evaluation of a promoted image from the SBOM the gate attested, without pulling the image: its packages are
 * matched against the advisory data as it is now, and the policy decided again, by the gate's own code
 * (gate/decide.ts). Rules about the image itself (misconfigurations, secrets, base image, labels, age, registries)
 * cannot be re-evaluated from an SBOM: they keep the outcome of the stored assessment, and say so; without a stored
 * outcome under the same policy they are errors, which fail the decision. Pure.
 */
import type { AdvisoryLookup } from '../advisories/match.js';
import type { Finding } from '../findings/finding.js';
import { decideInventory } from '../gate/decide.js';
import type { AssessmentPredicate } from '../gate/model.js';
import { readCycloneDx, type SbomInventory, type SbomPlatform } from '../inventory/fromcyclonedx.js';
import type { Inventory } from '../inventory/image.js';
import { formatPlatform } from '../oci/source.js';
import type { Decision, Policy, PolicyRule, RuleOutcomeKind, RuleVerdict } from '../policy/model.js';
import { POLICY_RULES } from '../policy/rules/index.js';
import type { VexStatement } from '../vex/model.js';

/** The policy rules an SBOM feeds: they read only the findings of matched packages. */
export const REMATCHED_RULES: ReadonlySet<string> = new Set(['vulnerabilities', 'vulnerability-limits']);

export interface RematchOptions {
  readonly advisories: AdvisoryLookup;
  readonly policy: Policy;
  readonly now: Date;
  /** The VEX statements the gate applied (none by default). */
  readonly vex?: readonly VexStatement[];
  /** The assessment attested with the SBOM: the source of the outcomes an SBOM cannot give. */
  readonly assessment?: AssessmentPredicate;
  /** Names the document in messages. */
  readonly where?: string;
}

/** A configured rule that was not re-evaluated, and what it counts as now. */
export interface KeptRule {
  readonly id: string;
  readonly platform: string;
  readonly outcome: RuleOutcomeKind;
  /** Why it was not re-evaluated, and where its outcome comes from (or why there is none). */
  readonly reason: string;
}

/** One platform re-matched. */
export interface PlatformRematch {
  readonly inv: Inventory;
  /** All findings after VEX (suppressed ones marked), as the gate reports them. */
  readonly findings: readonly Finding[];
  readonly decision: Decision;
  /** Active findings the stored SBOM and assessment did not report (by id or alias, and package). */
  readonly newFindings: readonly Finding[];
  /** Versions the matcher could not read (not fatal, as in the gate). */
  readonly problems: readonly string[];
}

export interface RematchResult {
  /** PASS only when every platform's decision passes. */
  readonly pass: boolean;
  readonly platforms: readonly PlatformRematch[];
  readonly kept: readonly KeptRule[];
  readonly newFindings: readonly Finding[];
  /** What the SBOM could not give the matcher (components without purls, unmatched types). */
  readonly notes: readonly string[];
}

/** Re-match a CycloneDX document (as parsed JSON). Throws SBOM_INVALID when the document is not one. */
export function rematch(sbom: unknown, opts: RematchOptions): RematchResult {
  return rematchRead(readCycloneDx(sbom, opts.where ?? 'SBOM'), opts);
}

/** Re-match an SBOM already read by inventory/fromcyclonedx.ts. */
export function rematchRead(read: SbomInventory, opts: RematchOptions): RematchResult {
  const platforms = read.platforms.map((p) => rematchPlatform(p, opts));
  const kept: KeptRule[] = [];
  for (const p of platforms) {
    const name = platformName(p.inv);
    for (const r of p.decision.rules) {
      if (REMATCHED_RULES.has(r.id)) continue;
      kept.push({ id: r.id, platform: name, outcome: r.outcome, reason: r.reasons[0] ?? '' });
    }
  }
  return {
    pass: platforms.length > 0 && platforms.every((p) => p.decision.pass),
    platforms,
    kept,
    newFindings: platforms.flatMap((p) => p.newFindings),
    notes: read.notes,
  };
}

function platformName(inv: Inventory): string {
  return inv.subject.platform ? formatPlatform(inv.subject.platform) : (inv.subject.digest ?? inv.subject.source);
}

function rematchPlatform(p: SbomPlatform, opts: RematchOptions): PlatformRematch {
  const stored = opts.assessment?.platforms?.find((s) => s.digest === p.inv.subject.digest);
  const rules = POLICY_RULES.map((rule) => (REMATCHED_RULES.has(rule.id) ? rule : keptRule(rule, opts, stored)));
  const decided = decideInventory(p.inv, {
    policy: opts.policy,
    advisories: opts.advisories,
    vex: opts.vex ?? [],
    now: opts.now,
    rules,
  });
  const known = new Set<string>();
  for (const v of p.vulnerabilities) for (const id of v.ids) known.add(`${id}\0${v.purl}`);
  for (const v of stored?.vulnerabilities ?? []) known.add(`${v.id}\0${v.purl}`);
  const newFindings = decided.findings.filter((f) => {
    const v = f.vulnerability;
    if (!v || f.suppression) return false;
    return ![f.ruleId, ...v.aliases].some((id) => known.has(`${id}\0${v.package.purl}`));
  });
  return {
    inv: p.inv,
    findings: decided.findings,
    decision: decided.decision,
    newFindings,
    problems: decided.problems,
  };
}

type StoredPlatform = AssessmentPredicate['platforms'][number];

/** A stand-in for a rule an SBOM cannot feed: the stored outcome under the same policy, else an error. */
function keptRule(rule: PolicyRule, opts: RematchOptions, stored: StoredPlatform | undefined): PolicyRule {
  const needs = 'not re-evaluated: it needs the image itself, not its SBOM';
  const verdict = (): RuleVerdict => {
    const a = opts.assessment;
    if (!a) return { outcome: 'error', reasons: [`${needs}, and no stored assessment gives its outcome`] };
    if (a.policy?.digest !== opts.policy.digest) {
      return {
        outcome: 'error',
        reasons: [
          `${needs}, and the stored assessment was made under another policy (${String(a.policy?.digest).slice(0, 19)}…); re-assess the image with portcullis gate`,
        ],
      };
    }
    const outcome = stored?.decision?.rules?.find((r) => r.id === rule.id);
    if (!outcome) return { outcome: 'error', reasons: [`${needs}, and the stored assessment has no outcome for it`] };
    const reasons = Array.isArray(outcome.reasons) ? outcome.reasons.filter((x) => typeof x === 'string') : [];
    const findings = Array.isArray(outcome.findings) ? outcome.findings.filter((x) => typeof x === 'string') : [];
    return {
      outcome: outcome.outcome,
      reasons: [`${needs}; outcome kept from the assessment of ${String(a.assessedAt)}`, ...reasons.slice(0, 50)],
      findings,
    };
  };
  return { id: rule.id, title: rule.title, configured: rule.configured, evaluate: verdict };
}
