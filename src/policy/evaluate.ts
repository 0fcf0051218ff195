import { oneLine, printable } from '../errors.js';
import { applyExceptions } from './exceptions.js';
import { cmp, sortFindings } from './match.js';
import type { Decision, EvaluationInput, Policy, PolicyRule, RuleOutcome, RuleVerdict } from './model.js';
import { POLICY_RULES } from './rules/index.js';

const OUTCOMES = new Set(['pass', 'fail', 'error']);

/** Run one rule; anything it throws, or a malformed verdict, is an `error` outcome, which fails the decision. */
function run(rule: PolicyRule, ctx: Parameters<PolicyRule['evaluate']>[0]): RuleOutcome {
  let v: RuleVerdict;
  try {
    v = rule.evaluate(ctx);
  } catch (err) {
    return {
      id: rule.id,
      title: rule.title,
      outcome: 'error',
      reasons: [`the rule could not be evaluated: ${printable(oneLine(err), 300)}`],
      findings: [],
    };
  }
  if (!v || !OUTCOMES.has(v.outcome) || !Array.isArray(v.reasons) || v.reasons.length === 0) {
    return { id: rule.id, title: rule.title, outcome: 'error', reasons: ['the rule gave no verdict'], findings: [] };
  }
  return {
    id: rule.id,
    title: rule.title,
    outcome: v.outcome,
    reasons: [...v.reasons],
    findings: [...new Set(v.findings ?? [])].sort(cmp),
  };
}

/**
 * Decide whether the image passes the policy. Pure and deterministic: the same policy and input give the same
 * decision whatever the order of the findings (they are sorted first), and rules are reported sorted by id.
 * Exceptions apply first (expired ones never do); each configured rule then sees the findings that still count.
 * The image passes only when every rule passes: a rule that fails, errs or throws fails the decision, and so does a
 * policy with no rules or a clock without a valid time.
 */
export function evaluate(
  policy: Policy,
  input: EvaluationInput,
  rules: readonly PolicyRule[] = POLICY_RULES,
): Decision {
  const validClock = Number.isFinite(input.now.getTime());
  const sorted = sortFindings(input.findings);
  const ex = applyExceptions(policy, sorted, input.image, input.now);
  const ctx = {
    policy,
    findings: ex.findings.filter((f) => !f.suppression),
    checks: input.checks,
    image: input.image,
    now: input.now,
    signatures: input.signatures,
    skipped: input.skipped ?? [],
    gaps: input.gaps,
    settings: input.settings,
  };
  const outcomes: RuleOutcome[] = [];
  for (const rule of rules) {
    let configured: boolean;
    try {
      configured = rule.configured(policy);
    } catch {
      configured = true;
    }
    if (!configured) continue;
    outcomes.push(
      validClock
        ? run(rule, ctx)
        : { id: rule.id, title: rule.title, outcome: 'error', reasons: ['the clock gave no valid time'], findings: [] },
    );
  }
  outcomes.sort((a, b) => cmp(a.id, b.id));
  const warnings = [...ex.warnings];
  if (outcomes.length === 0) warnings.push('the policy configures no rule, so nothing can pass');
  return {
    pass: outcomes.length > 0 && outcomes.every((o) => o.outcome === 'pass'),
    policy: { name: policy.name, file: policy.file, digest: policy.digest },
    image: { reference: input.image.reference, ...(input.image.digest ? { digest: input.image.digest } : {}) },
    evaluatedAt: validClock ? input.now.toISOString() : 'invalid time',
    rules: outcomes,
    exceptionsUsed: ex.used,
    exceptionsExpired: ex.expired,
    warnings,
  };
}
