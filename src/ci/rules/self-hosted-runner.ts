import { jobGuard, jobRunsFor, OUTSIDER_EVENTS } from '../github/reach.js';
import type { CiHit, CiRule } from '../rule.js';

/**
 * ref: zizmor's self-hosted-runner audit (docs.zizmor.sh/audits/#self-hosted-runner); GitHub's "Hardening for
 * self-hosted runners" (never for public repositories: a fork's pull request runs code on the machine). Whether the
 * repository is public, and whether fork pull requests wait for approval, cannot be seen: confidence medium.
 */
export const selfHostedRunner: CiRule = {
  id: 'self-hosted-runner',
  title: 'Self-hosted runner reachable from forks or outsiders',
  severity: 'high',
  confidence: 'medium',
  platforms: ['github'],
  rationale:
    'A self-hosted runner is not wiped between jobs: code from a fork (a pull request build, or a pwn request) can persist on it, read what later jobs hold, and reach the network it sits in.',
  remediation:
    'Run jobs reachable from forks on GitHub-hosted (or ephemeral, isolated) runners; keep self-hosted runners for jobs that only run on pushes to protected branches, and require approval for fork pull requests.',
  check(w, ctx) {
    if (w.kind !== 'workflow') return [];
    const events = ctx.repo.events(w);
    const hits: CiHit[] = [];
    for (const job of w.jobs) {
      const labels = job.runsOn.map((l) => l.toLowerCase());
      const selfHosted = labels.includes('self-hosted');
      const group = labels.find((l) => l.startsWith('group:'));
      if (!selfHosted && !group) continue;
      const from = [...events].filter((e) => OUTSIDER_EVENTS.has(e) && jobRunsFor(job, e));
      if (from.length === 0 || jobGuard(w, job)) continue;
      hits.push({
        pos: job.runsOnPos ?? job.pos,
        ...(selfHosted ? {} : { severity: 'medium', confidence: 'low' }),
        message: `job ${job.id} runs on ${selfHosted ? 'a self-hosted runner' : `runner group ${group?.slice(6)} (self-hosted or larger runners: not visible here)`} and runs for ${from.join(', ')}`,
      });
    }
    return hits;
  },
};
