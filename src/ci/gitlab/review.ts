/**
 * GitLab's analogue of pull_request_target: jobs that run in merge request pipelines while holding something of value.
 * A merge request pipeline runs the merge request's own `.gitlab-ci.yml` and code. Merge request pipelines have no
 * protected variables and no protected runners, so a credential such a job reads must be an unprotected variable,
 * readable by every merge request pipeline (anyone with the Developer role; a fork's merge request once a member runs
 * its pipeline in this project). OIDC tokens (`id_tokens`), `secrets:` and deployments are minted or made for the job.
 * Whether a variable is protected or an environment needs approval are settings this cannot see: confidence medium.
 * ref: https://docs.gitlab.com/ci/pipelines/merge_request_pipelines/
 */
import type { Severity } from '../../findings/finding.js';
import type { Workflow } from '../model.js';
import type { CiHit } from '../rule.js';
import { REVIEW_SOURCES } from './sources.js';
import { credentialsRead } from './vars.js';

const JOB_TOKEN = new Set(['CI_JOB_TOKEN', 'CI_REGISTRY_PASSWORD', 'CI_DEPENDENCY_PROXY_PASSWORD']);

export function mergeRequestHits(w: Workflow): CiHit[] {
  const hits: CiHit[] = [];
  for (const job of w.jobs) {
    const gl = job.gitlab;
    if (!gl) continue;
    const review = gl.sources.filter((s) => REVIEW_SOURCES.has(s));
    if (review.length === 0) continue;
    const creds = credentialsRead(w, job);
    const own = creds.filter((c) => !JOB_TOKEN.has(c.name));
    const token = creds.filter((c) => JOB_TOKEN.has(c.name));
    const held: string[] = [];
    let severity: Severity = 'low';
    if (own.length) {
      held.push(`variables ${own.map((c) => `$${c.name}`).join(', ')} (unprotected, or the job would not get them)`);
      severity = 'high';
    }
    if (gl.secrets.length) {
      held.push(`secrets ${gl.secrets.map((s) => s.value).join(', ')} from a secrets manager`);
      severity = 'high';
    }
    if (gl.idTokens.length) {
      held.push(
        `OIDC tokens ${gl.idTokens.map((s) => s.value).join(', ')} (what a cloud role trusting them allows cannot be seen)`,
      );
      severity = 'high';
    }
    const deploys = job.environment && (gl.environmentAction ?? 'start') === 'start';
    if (deploys) {
      held.push(`a deployment to environment ${job.environment?.value} (its protection and approvals cannot be seen)`);
      if (severity === 'low') severity = 'medium';
    }
    if (token.length)
      held.push(
        `the job token (${token.map((c) => `$${c.name}`).join(', ')}), with the rights of whoever started the pipeline`,
      );
    if (held.length === 0) continue;
    hits.push({
      pos: gl.sourcesPos,
      job: job.id,
      severity,
      confidence: gl.manual ? 'low' : 'medium',
      message: `job ${job.id} runs in ${review.join(' and ')} pipelines, which run the merge request's own .gitlab-ci.yml and code, and holds ${held.join('; ')}${
        gl.manual ? '; it starts only by hand (when: manual)' : ''
      }`,
    });
  }
  return hits;
}
