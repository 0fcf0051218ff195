import { writeScopes } from '../github/reach.js';
import type { CiHit, CiRule } from '../rule.js';

/**
 * ref: zizmor's excessive-permissions audit (docs.zizmor.sh/audits/#excessive-permissions); GitHub's "Controlling
 * permissions for GITHUB_TOKEN". Job-level grants of single scopes are the recommended form and are not reported.
 */
export const excessivePermissions: CiRule = {
  id: 'excessive-permissions',
  title: 'Token permissions broader than the job needs',
  severity: 'high',
  confidence: 'high',
  platforms: ['github'],
  rationale:
    "Every step of a job, and every action it runs, can use the job's GITHUB_TOKEN; write-all, write scopes granted to every job at the workflow level, or the repository default (write-all in older repositories and organisations) give a compromised step more than it needs.",
  remediation:
    'Set `permissions: {}` (or read-only) at the workflow level and grant each job only the scopes it uses, e.g. `contents: read`, `security-events: write`.',
  check(w) {
    if (w.kind !== 'workflow') return [];
    const hits: CiHit[] = [];
    const wp = w.permissions;
    if (wp?.kind === 'all' && wp.level === 'write')
      hits.push({ pos: wp.pos, message: 'permissions: write-all for every job of the workflow' });
    else if (wp) {
      const writes = writeScopes(wp);
      if (writes.length)
        hits.push({
          pos: wp.pos,
          severity: w.jobs.length > 1 ? 'medium' : 'low',
          message: `workflow-level permissions grant ${writes.map((s) => `${s}: write`).join(', ')} to every job (${w.jobs.length}); grant them to the jobs that need them`,
        });
    }
    for (const job of w.jobs) {
      const jp = job.permissions;
      if (jp?.kind === 'all' && jp.level === 'write')
        hits.push({ pos: jp.pos, message: `job ${job.id}: permissions: write-all` });
      else if (!jp && !wp)
        hits.push({
          pos: job.pos,
          severity: 'medium',
          confidence: 'medium',
          message: `job ${job.id} has no permissions block, nor does the workflow: it gets the repository's default token, which is write-all unless the repository or organisation restricts it (not visible here)`,
        });
    }
    return hits;
  },
};
