import type { Finding } from '../findings/finding.js';
import { formatPlatform } from '../oci/source.js';
import type { Policy } from '../policy/model.js';
import { decisionJson } from '../report/policy-decision.js';
import { TOOL } from '../version.js';
import type { Assessment, AssessmentPredicate, FindingCounts, VulnerabilitySummary } from './model.js';

/** Count findings by severity; suppressed ones are counted apart and not in `total`. Pure. */
export function countFindings(findings: readonly Finding[]): FindingCounts {
  const c = { total: 0, critical: 0, high: 0, medium: 0, low: 0, info: 0, unknown: 0, suppressed: 0 };
  for (const f of findings) {
    if (f.suppression) {
      c.suppressed++;
      continue;
    }
    c.total++;
    c[f.severity]++;
  }
  return c;
}

/** Add counts (the whole image from its platforms). Pure. */
export function addCounts(all: readonly FindingCounts[]): FindingCounts {
  const c = { total: 0, critical: 0, high: 0, medium: 0, low: 0, info: 0, unknown: 0, suppressed: 0 };
  for (const x of all) for (const k of Object.keys(c) as (keyof FindingCounts)[]) c[k] += x[k];
  return c;
}

function summarise(f: Finding): VulnerabilitySummary | undefined {
  const v = f.vulnerability;
  if (!v) return undefined;
  return {
    id: f.ruleId,
    severity: f.severity,
    package: v.package.name,
    version: v.package.version,
    purl: v.package.purl,
    fixedVersions: [...v.fixedVersions],
    ...(f.suppression ? { suppressedBy: f.suppression.source } : {}),
  };
}

/**
 * The assessment predicate: the decision for the digest, the policy that made it, and per platform the decision with
 * its rules and the vulnerabilities behind it. Pure: the caller gives the time.
 */
export function buildPredicate(
  assessment: Assessment,
  subject: AssessmentPredicate['subject'],
  policy: Policy,
  now: Date,
  checkSettings: AssessmentPredicate['checkSettings'] = 'defaults',
): AssessmentPredicate {
  const platforms = assessment.platforms.map((p) => ({
    platform: p.inv.subject.platform ? formatPlatform(p.inv.subject.platform) : 'unknown',
    digest: p.inv.subject.digest ?? subject.digest,
    decision: decisionJson(p.decision),
    findings: countFindings(p.findings),
    vulnerabilities: p.findings.map(summarise).filter((v): v is VulnerabilitySummary => v !== undefined),
  }));
  return {
    decision: assessment.pass ? 'PASS' : 'FAIL',
    subject,
    policy: { name: policy.name, file: policy.file, digest: policy.digest },
    checkSettings,
    assessedAt: now.toISOString(),
    tool: { name: TOOL.name, version: TOOL.version },
    database: { updated: assessment.database.updated },
    findings: addCounts(platforms.map((p) => p.findings)),
    platforms,
  };
}
