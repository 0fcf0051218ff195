import { atOrAbove, findingLabel, plural, uniqueIds } from '../match.js';
import type { PolicyRule, RuleVerdict } from '../model.js';
import { type Classified, classify, hasFix, publishedNote } from '../vulnfilter.js';

function why(c: Classified, now: Date): string {
  const f = c.finding;
  const parts = [
    `${findingLabel(f)}${f.severity === 'unknown' ? `, counted as ${c.severity}` : ''} is at or above ${c.threshold}`,
  ];
  if (c.packageRule) parts.push(`package rule #${c.packageRule.index} (${c.packageRule.package})`);
  parts.push(hasFix(f) ? `fixed in ${f.vulnerability?.fixedVersions.join(', ')}` : 'no fix yet');
  const published = publishedNote(f, now);
  if (published) parts.push(published);
  if (c.undated) parts.push('the advisory has no publication date, so it counts whatever fixAvailableFor says');
  return parts.join('; ');
}

/** Vulnerability findings at or above the threshold (per package where a package rule says so) fail the image. */
export const vulnerabilitiesRule: PolicyRule = {
  id: 'vulnerabilities',
  title: 'No vulnerabilities at or above the severity threshold',
  configured: (p) => p.rules.vulnerabilities !== undefined,
  evaluate: (ctx): RuleVerdict => {
    const rules = ctx.policy.rules.vulnerabilities;
    if (!rules) throw new Error('vulnerabilities rule evaluated without its settings');
    if (!ctx.checks.includes('vulnerability'))
      return { outcome: 'error', reasons: ['no vulnerability scan ran on this image'] };
    const all = ctx.findings.filter((f) => f.kind === 'vulnerability').map((f) => classify(f, rules, ctx.now));
    const failing = all.filter((c) => !c.notCounted && atOrAbove(c.severity, c.threshold));
    const count = (k: Classified['notCounted']): number => all.filter((c) => c.notCounted === k).length;
    const below = all.filter((c) => !c.notCounted && !atOrAbove(c.severity, c.threshold)).length;
    const tally = [
      below ? `${below} below the threshold` : '',
      count('no-fix') ? `${count('no-fix')} without a fix` : '',
      count('fix-too-recent')
        ? `${count('fix-too-recent')} published within fixAvailableFor ${rules.fixAvailableFor?.text ?? '(per package)'}`
        : '',
      count('ignored') ? `${count('ignored')} in packages the policy ignores` : '',
      count('unimportant') ? `${count('unimportant')} rated unimportant by the distribution` : '',
    ].filter(Boolean);
    const summary = `${plural(all.length, 'vulnerability finding')} considered${tally.length ? ` (not failing: ${tally.join(', ')})` : ''}`;
    if (failing.length === 0) {
      return {
        outcome: 'pass',
        reasons: [`no vulnerability at or above ${rules.failOn}${rules.onlyFixable ? ' with a fix' : ''}; ${summary}`],
      };
    }
    // Highest severity first, then by id (the input is sorted by id, and sort is stable).
    const order = ['critical', 'high', 'medium', 'low', 'info'];
    const sorted = [...failing].sort((a, b) => order.indexOf(a.severity) - order.indexOf(b.severity));
    return {
      outcome: 'fail',
      reasons: [
        `${plural(uniqueIds(failing.map((c) => c.finding)).length, 'finding')} at or above the threshold; ${summary}`,
        ...sorted.map((c) => why(c, ctx.now)),
      ],
      findings: uniqueIds(failing.map((c) => c.finding)),
    };
  },
};
