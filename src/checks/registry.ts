import { type RuleDescription, ruleDescription } from '../report/sarif.js';
import { SECRET_RULES } from '../secrets/rules.js';
import type { RuleMeta } from './model.js';
import { MISCONFIG_RULES } from './rules/index.js';

const ALL: readonly RuleMeta[] = [...MISCONFIG_RULES, ...SECRET_RULES];
const BY_ID = new Map(ALL.map((r) => [r.id, r]));

/** Every image check rule, misconfigurations then secrets: what `portcullis rules` lists and SARIF describes. */
export function allRules(): readonly RuleMeta[] {
  return ALL;
}

/** A rule by id, for reporters (called per finding: a map, not a scan of the list). */
export function ruleById(id: string): RuleMeta | undefined {
  return BY_ID.get(id);
}

/** SARIF rule texts from the rule object: title, rationale, remediation and the CIS / Dockle mapping. */
export function describeCheckRule(id: string): RuleDescription | undefined {
  const r = ruleById(id);
  if (!r) return undefined;
  const mapping = [r.cis ? `CIS Docker Benchmark ${r.cis}` : '', r.dockle ? `Dockle ${r.dockle}` : '']
    .filter(Boolean)
    .join(', ');
  return ruleDescription(r, ['security', r.kind, r.severity, ...(r.cis ? [`CIS-${r.cis}`] : [])], mapping);
}
