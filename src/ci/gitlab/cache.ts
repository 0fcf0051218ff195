/**
 * GitLab's artifact-poisoning case that the files can show: a cache shared across the protected-ref boundary.
 *
 * GitLab keeps caches of protected and unprotected refs apart by default (a `-protected` / `-non_protected` suffix on
 * every key, since 15.0), so a merge request's pipeline cannot write what a protected branch's job restores, whatever
 * the key. `cache: unprotect: true` takes that away for the job: it restores the unprotected cache of its key, which
 * any pipeline on an unprotected branch or merge request can write (with a `.gitlab-ci.yml` of its own, so the key is
 * no protection). A project that turned separate caches off shares every cache the same way: that setting cannot be
 * seen in the files and is not reported. Artifacts are not: jobs take artifacts from their own pipeline, which runs
 * one commit's code; cross-pipeline artifacts (`needs: project:`) are not followed.
 * ref: https://docs.gitlab.com/ci/caching/#cache-key-names, https://docs.gitlab.com/ci/yaml/#cacheunprotect
 */
import type { CiAuditConfig } from '../config.js';
import type { Workflow } from '../model.js';
import type { CiHit } from '../rule.js';
import { gitlabPushes, mayRunProtected } from './gate.js';
import { credentialsRead } from './vars.js';

export function cachePoisoningHits(w: Workflow, config: CiAuditConfig): CiHit[] {
  const hits: CiHit[] = [];
  for (const job of w.jobs) {
    const gl = job.gitlab;
    const shared = (gl?.caches ?? []).filter((c) => c.unprotect && c.policy !== 'push');
    if (!gl || shared.length === 0 || !mayRunProtected(job) || !job.steps.some((s) => s.run)) continue;
    const held: string[] = [];
    const creds = credentialsRead(w, job).map((c) => `$${c.name}`);
    if (creds.length) held.push(`variables ${creds.join(', ')}`);
    if (gl.secrets.length) held.push(`secrets ${gl.secrets.map((s) => s.value).join(', ')}`);
    if (gl.idTokens.length) held.push(`OIDC tokens ${gl.idTokens.map((s) => s.value).join(', ')}`);
    if (gitlabPushes(w, job, config).pushes.some((p) => p.dest.kind !== 'local')) held.push('a registry push');
    if (job.environment && (gl.environmentAction ?? 'start') === 'start')
      held.push(`a deployment to ${job.environment.value}`);
    for (const c of shared) {
      hits.push({
        pos: c.pos,
        job: job.id,
        ...(held.length ? {} : { severity: 'medium' as const }),
        confidence: 'medium',
        message: `job ${job.id} restores cache ${c.key === undefined ? '(default key)' : `'${c.key.slice(0, 60)}'`} with unprotect: true, which any pipeline on an unprotected branch or merge request can write, and then runs its script${held.length ? ` holding ${held.join('; ')}` : ''}; whether the refs it runs for are protected is a project setting`,
      });
    }
  }
  return hits;
}
