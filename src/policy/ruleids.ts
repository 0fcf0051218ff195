import { allRules } from '../checks/registry.js';
import type { FindingKind } from '../findings/finding.js';
import { atOrAbove, effectiveSeverity, findingLabel, globMatch, plural, uniqueIds } from './match.js';
import type { RuleContext, RuleIdRules, RuleVerdict } from './model.js';

/**
 * The check behind the misconfigurations and secrets rules: a finding of `kind` fails the image when its rule id
 * matches one of `fail`, or its severity is at or above `failOn` (a finding without a rating counts as high). When
 * no check of that kind ran, the rule cannot say the image is clean, so it reports an error.
 */
export function checkByRuleId(
  ctx: RuleContext,
  kind: Extract<FindingKind, 'misconfiguration' | 'secret'>,
  rules: RuleIdRules,
): RuleVerdict {
  const noun = kind === 'secret' ? 'secret' : 'misconfiguration';
  if (!ctx.checks.includes(kind))
    return {
      outcome: 'error',
      reasons: [`no ${noun} scan ran on this image, so the policy cannot tell that it has none`],
    };
  // A rule the policy names outright that could not run cannot be passed, nor can a pattern all of whose rules did
  // not run; a pattern that still covers rules that ran passes or fails on them, and says which did not run.
  const skippedIds = new Set(ctx.skipped.map((s) => s.id));
  const ids = allRules()
    .filter((r) => r.kind === kind)
    .map((r) => r.id);
  const unchecked = ctx.skipped.filter((s) => rules.fail.some((p) => !/[*?]/.test(p) && p === s.id));
  const idle = rules.fail.filter((p) => {
    const covered = ids.filter((id) => globMatch(p, id));
    return /[*?]/.test(p) && covered.length > 0 && covered.every((id) => skippedIds.has(id));
  });
  if (unchecked.length > 0 || idle.length > 0)
    return {
      outcome: 'error',
      reasons: [
        ...unchecked.map((s) => `${s.id} did not run on this image (${s.reason}), so the policy cannot tell`),
        ...idle.map((p) => `none of the rules ${p} covers ran on this image, so the policy cannot tell`),
      ],
    };
  const notRun = ctx.skipped.filter((s) => rules.fail.some((p) => /[*?]/.test(p) && globMatch(p, s.id)));
  const all = ctx.findings.filter((f) => f.kind === kind);
  const failing = all.filter(
    (f) =>
      rules.fail.some((p) => globMatch(p, f.ruleId)) ||
      (rules.failOn !== undefined && atOrAbove(effectiveSeverity(f.severity, 'high'), rules.failOn)),
  );
  const criteria = [
    rules.failOn ? `at or above ${rules.failOn}` : '',
    rules.fail.length ? `with a rule id in ${rules.fail.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' or ');
  const alsoNotRun = notRun.length
    ? [`not run on this image: ${notRun.map((s) => `${s.id} (${s.reason})`).join('; ')}`]
    : [];
  if (failing.length === 0)
    return {
      outcome: 'pass',
      reasons: [`no ${noun} finding ${criteria} (${plural(all.length, `${noun} finding`)})`, ...alsoNotRun],
    };
  return {
    outcome: 'fail',
    reasons: [`${plural(failing.length, `${noun} finding`)} ${criteria}`, ...failing.map(findingLabel)],
    findings: uniqueIds(failing),
  };
}
