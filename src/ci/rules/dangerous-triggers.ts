import { jobGuard, jobRunsFor, privileges } from '../github/reach.js';
import { mergeRequestHits } from '../gitlab/review.js';
import type { CiHit, CiRule } from '../rule.js';

/** Triggers that run with the base repository's secrets and token for an outsider's pull request, run or comment. */
const DANGEROUS: Readonly<Record<string, { kind: string; max: 'high' | 'medium' }>> = {
  pull_request_target: { kind: "a pull request (forks included) in the base repository's context", max: 'high' },
  workflow_run: { kind: 'another workflow run, which a fork can start, in the base context', max: 'high' },
  issue_comment: { kind: 'any comment on an issue or pull request', max: 'medium' },
  discussion_comment: { kind: 'any comment on a discussion', max: 'medium' },
};

/**
 * ref: zizmor's dangerous-triggers audit (docs.zizmor.sh/audits/#dangerous-triggers); GitHub Security Lab,
 * "Preventing pwn requests". Jobs an `if:` keeps to trusted people, or to other events, do not count.
 */
export const dangerousTriggers: CiRule = {
  id: 'dangerous-triggers',
  title: 'Workflow trigger runs with secrets or a write token for outsiders',
  severity: 'high',
  confidence: 'high',
  rationale:
    'pull_request_target, workflow_run and comment triggers run in the base repository with its secrets and a token that may write, but anyone who can fork or comment starts them; any mistake in such a workflow is exploitable from outside.',
  remediation:
    'Use pull_request (no secrets, read-only token for forks) where possible; otherwise give the workflow `permissions: {}` and no secrets, or guard each job with an `if:` on the pull request coming from this repository or the author being a member.',
  check(w) {
    // GitLab: jobs in merge request pipelines holding credentials or deploying (src/ci/gitlab/review.ts).
    if (w.platform === 'gitlab') return mergeRequestHits(w);
    if (w.kind !== 'workflow') return [];
    const hits: CiHit[] = [];
    for (const t of w.triggers) {
      const d = DANGEROUS[t.event];
      if (!d) continue;
      const open = w.jobs.filter((j) => jobRunsFor(j, t.event) && !jobGuard(w, j));
      if (open.length === 0) continue;
      const held = open.map((j) => ({ j, p: privileges(w, j) })).filter((x) => x.p.what.length > 0);
      if (held.length === 0) {
        hits.push({
          pos: t.pos,
          severity: 'low',
          message: `on.${t.event} runs for ${d.kind}; its jobs (${open.map((j) => j.id).join(', ')}) hold no secrets and a read-only token`,
        });
        continue;
      }
      const certain = held.some((x) => x.p.certain);
      const allEnv = held.every((x) => x.j.environment);
      const jobs = held.map((x) => `${x.j.id} (${x.p.what.join('; ')})`).join(', ');
      hits.push({
        pos: t.pos,
        severity: certain ? d.max : 'medium',
        confidence: allEnv ? 'low' : certain ? 'high' : 'medium',
        message: `on.${t.event} runs for ${d.kind}, and unguarded jobs hold: ${jobs}${
          allEnv ? '; every such job is in an environment, whose required reviewers (if any) cannot be seen here' : ''
        }`,
      });
    }
    return hits;
  },
};
