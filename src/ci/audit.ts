/**
 * `ci audit`: discover and load the repository's pipeline files, run every rule on each, and return the findings
 * sorted by file and line, with the files that could not be read (which make the run fail closed).
 */
import type { Finding } from '../findings/finding.js';
import { loadGitHub } from './github/load.js';
import { RepoIndex } from './github/reach.js';
import type { LoadError, Repository, Workflow } from './model.js';
import type { CiRule } from './rule.js';
import { CI_RULES } from './rules/index.js';

export interface CiAuditResult {
  readonly root: string;
  /** The files read, relative to the root. */
  readonly files: readonly string[];
  readonly findings: readonly Finding[];
  readonly errors: readonly LoadError[];
}

/** Run the rules on loaded workflows (pure). A rule that throws is a bug: it is not swallowed. */
export function auditWorkflows(workflows: readonly Workflow[], rules: readonly CiRule[] = CI_RULES): Finding[] {
  const repo = new RepoIndex(workflows);
  const out: Finding[] = [];
  for (const w of workflows) {
    for (const rule of rules) {
      for (const hit of rule.check(w, { repo })) {
        out.push({
          ruleId: rule.id,
          kind: 'ci',
          severity: hit.severity ?? rule.severity,
          confidence: hit.confidence ?? rule.confidence,
          title: rule.title,
          message: hit.message,
          location: { kind: 'file', path: w.file, line: hit.pos.line, column: hit.pos.column },
          fix: { text: rule.remediation },
        });
      }
    }
  }
  return sortFindings(out);
}

const ORDER = new Map(CI_RULES.map((r, i) => [r.id, i]));

export function sortFindings(findings: Finding[]): Finding[] {
  const key = (f: Finding) =>
    f.location.kind === 'file' ? [f.location.path, f.location.line ?? 0, f.location.column ?? 0] : ['', 0, 0];
  return findings.sort((a, b) => {
    const [pa, la, ca] = key(a) as [string, number, number];
    const [pb, lb, cb] = key(b) as [string, number, number];
    return (
      (pa < pb ? -1 : pa > pb ? 1 : 0) ||
      la - lb ||
      ca - cb ||
      (ORDER.get(a.ruleId) ?? 0) - (ORDER.get(b.ruleId) ?? 0) ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0)
    );
  });
}

export function auditRepository(repo: Repository): CiAuditResult {
  return {
    root: repo.root,
    files: repo.workflows.map((w) => w.file),
    findings: auditWorkflows(repo.workflows),
    errors: repo.errors,
  };
}

/** Audit a repository (or one file) on disk. */
export async function auditPath(root: string): Promise<CiAuditResult> {
  return auditRepository(await loadGitHub(root));
}
