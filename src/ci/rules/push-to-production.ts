import { gitlabPushes } from '../gitlab/gate.js';
import { credentialsRead } from '../gitlab/vars.js';
import { describeDest, jobPushes, matches, PRODUCTION_NAME, productionSecrets } from '../imagepath.js';
import type { Job, Workflow } from '../model.js';
import type { CiHit, CiRule } from '../rule.js';

/** GitLab: CI/CD variables the job reads whose names say production credential (the values are project settings). */
function gitlabProductionSecrets(w: Workflow, job: Job): string[] {
  return [
    ...new Set(
      credentialsRead(w, job)
        .map((c) => c.name)
        .filter((n) => PRODUCTION_NAME.test(n)),
    ),
  ].sort();
}

/**
 * CI pushes to staging; only the gate writes to production. A push by `portcullis gate --to` is the sanctioned path
 * when the gate runs in CI: it is not reported when its job runs in an `environment:` (whose required reviewers and
 * own secrets keep the production credential from every other job; the reviewers cannot be seen from the files), and
 * is reported at medium when it does not. A destination the files cannot resolve is reported (confidence low) only
 * when the job also reads a production-looking secret; otherwise it is listed in the notes.
 */
export const pushToProduction: CiRule = {
  id: 'push-to-production',
  title: 'CI pushes to a production registry',
  severity: 'critical',
  confidence: 'high',
  rationale:
    'A pipeline that writes to production holds the production push credential: anyone who can change the workflow, or compromise one action or build tool in it, can put any image where the cluster pulls from, gated or not.',
  remediation:
    'Push to a staging repository from CI and let `portcullis gate` promote (best: as a service inside the production trust zone; else in one job in a protected environment with required reviewers). Remove production credentials from every other job.',
  notChecked(config) {
    return config.production
      ? undefined
      : 'no productionRegistries in the CI audit configuration (.portcullis/ci.yaml, or --config FILE)';
  },
  check(w, ctx) {
    const gitlab = w.platform === 'gitlab';
    const hits: CiHit[] = [];
    const seen = new Set<string>();
    for (const job of w.jobs) {
      const secrets = gitlab ? gitlabProductionSecrets(w, job) : productionSecrets(w, job);
      // GitLab: the runner's script with predefined and configured variables (src/ci/gitlab/gate.ts).
      const pushes = gitlab ? gitlabPushes(w, job, ctx.config).pushes : jobPushes(w, job, ctx.config);
      for (const p of pushes) {
        const key = `${p.pos.file ?? ''}:${p.pos.line}:${p.pos.column}`;
        if (seen.has(key)) continue;
        const d = p.dest;
        const prod = d.kind === 'registry' && matches(d.repo, ctx.config.production);
        if (d.kind === 'local' || (d.kind === 'registry' && !prod)) continue;
        if (p.byGate && job.environment) continue;
        const where = `job ${job.id}: ${p.tool} to ${describeDest(p)}`;
        let hit: CiHit | undefined;
        if (prod && p.byGate)
          hit = {
            pos: p.pos,
            job: job.id,
            severity: 'medium',
            message: `${where}: the gate promotes from a job with no environment, so nothing but the workflow protects the production credential`,
          };
        else if (prod) hit = { pos: p.pos, job: job.id, message: `${where}, a production registry` };
        else if (secrets.length)
          hit = {
            pos: p.pos,
            job: job.id,
            confidence: 'low',
            ...(p.byGate ? { severity: 'medium' as const } : {}),
            message: `${where}, which cannot be resolved from the files, in a job that reads ${secrets.join(', ')}`,
          };
        else ctx.note(p.pos, `job ${job.id}: ${p.tool} to ${describeDest(p)}: the destination cannot be resolved`);
        if (hit) {
          seen.add(key);
          hits.push(hit);
        }
      }
    }
    return hits;
  },
};
