import { jobGuard, jobRunsFor, privileges } from '../github/reach.js';
import { cachePoisoningHits } from '../gitlab/cache.js';
import type { Job, Step, Workflow } from '../model.js';
import { type CiHit, type CiRule, type Confidence, ENV_WRITE, usesRepo } from '../rule.js';
import { commands } from '../shell.js';

/** Events whose jobs hold the base repository's secrets and token while reacting to an outsider's run or code. */
const PRIVILEGED = ['workflow_run', 'pull_request_target'];

/** How a step brings in another run's artifacts, or a cache an untrusted run may have written; undefined otherwise. */
function fetches(s: Step, events: readonly string[]): { what: string; cache: boolean } | undefined {
  const uses = (s.uses?.value ?? '').replace(/@.*/, '').toLowerCase();
  if (uses === 'actions/download-artifact' && (s.with['run-id'] || s.with['github-token']))
    return { what: 'actions/download-artifact with run-id or github-token', cache: false };
  if (uses === 'dawidd6/action-download-artifact') return { what: 'dawidd6/action-download-artifact', cache: false };
  if (
    uses === 'actions/github-script' &&
    /\b(downloadArtifact|listWorkflowRunArtifacts)\b/.test(s.with.script?.value ?? '')
  )
    return { what: 'actions/github-script downloading a run artifact', cache: false };
  if (
    s.run &&
    commands(s.run.value).some((c) => c.words[0] === 'gh' && c.words[1] === 'run' && c.words[2] === 'download')
  )
    return { what: 'gh run download', cache: false };
  // A pull_request_target run shares the base branch's cache scope, which the pull request's own runs cannot write but
  // earlier pull_request_target and workflow_run jobs that ran the pull request's code can.
  if (events.includes('pull_request_target') && /^actions\/cache(\/restore)?$/.test(uses))
    return { what: `${uses} in a pull_request_target workflow`, cache: true };
  return undefined;
}

const VERIFY =
  /(^|[\s;&|])(sha256sum|sha512sum|shasum)\s[^\n]*-c\b|cosign\s+verify(-blob|-attestation)?\b|gh\s+attestation\s+verify\b|slsa-verifier\b|gpg\s+--verify\b|minisign\s+-V\b/;
const EXEC =
  /(^|[\s;&|(])(npm|npx|yarn|pnpm|bun|node|make|gradle|\.\/gradlew|mvn|pip3?|python3?|pytest|cargo|go|bundle|dotnet|bash|sh|source|chmod\s+\+x|\.\/[\w./-]+|\.\s+\S+)(\s|$)/m;

/** What a later step does with what was fetched: runs something, writes the environment, or may read it as data. */
function uses(s: Step): { how: string; confidence: Confidence } | undefined {
  const action = s.uses?.value ?? '';
  if (action.startsWith('./')) return { how: `runs the local action ${action}`, confidence: 'high' };
  if (/^docker\/(build-push|bake)-action@/i.test(action))
    return { how: `builds with ${action.replace(/@.*/, '')}`, confidence: 'high' };
  if (!s.run)
    return usesRepo(action)
      ? { how: `passes the workspace to ${action.replace(/@.*/, '')}`, confidence: 'low' }
      : undefined;
  if (ENV_WRITE.test(s.run.value)) return { how: 'writes to $GITHUB_ENV or $GITHUB_PATH', confidence: 'high' };
  if (EXEC.test(s.run.value)) return { how: 'runs a script or build tool', confidence: 'high' };
  return { how: 'reads it in a script', confidence: 'medium' };
}

function checkJob(w: Workflow, job: Job, events: readonly string[], privileged: string | undefined): CiHit | undefined {
  let p: ReturnType<typeof privileges> | undefined;
  for (const s of job.steps) {
    const f = fetches(s, events);
    if (!f) continue;
    // What the job holds is looked up only for a job that fetches (most do not).
    p ??= privileges(w, job);
    if (!privileged && !p.certain) return undefined;
    const later = job.steps.slice(s.index + 1);
    const verified = later.findIndex((x) => x.run && VERIFY.test(x.run.value));
    const used = later
      .slice(0, verified === -1 ? undefined : verified)
      .map((x) => ({ x, u: uses(x) }))
      .filter((r) => r.u !== undefined);
    const first = used.find((r) => r.u?.confidence === 'high') ?? used[0];
    if (!first?.u) continue;
    const holds = p.what.length ? p.what.join('; ') : 'a read-only token';
    const confidence: Confidence =
      !privileged || f.cache || job.environment
        ? first.u.confidence === 'high'
          ? 'medium'
          : 'low'
        : first.u.confidence;
    return {
      pos: s.uses?.pos ?? s.run?.pos ?? s.pos,
      job: job.id,
      // Only read as data (as far as can be seen): medium, as the rules documentation says.
      ...(f.cache || first.u.how === 'reads it in a script' ? { severity: 'medium' as const } : {}),
      confidence,
      message: `${privileged ? `on.${privileged}: ` : ''}job ${job.id} takes ${f.cache ? 'a cache' : 'artifacts of another run'} (${f.what}) and then ${first.u.how} at line ${(first.x.run ?? first.x.uses ?? { pos: first.x.pos }).pos.line} without verification, holding ${holds}`,
    };
  }
  return undefined;
}

/**
 * A privileged job that takes in what an untrusted run produced and then executes or trusts it. ref: GitHub Security
 * Lab, "Keeping your GitHub Actions and workflows secure Part 1"; zizmor's artifact and cache audits.
 */
export const artifactPoisoning: CiRule = {
  id: 'artifact-poisoning',
  title: "Privileged workflow runs or trusts an untrusted run's artifacts or caches",
  severity: 'high',
  confidence: 'high',
  rationale:
    "A workflow_run or pull_request_target job, or any job with secrets or a write token, that downloads another run's artifacts (which a pull request's run may have written) or restores a cache an untrusted run could fill, and then runs or builds from them, runs the attacker's files with its privileges.",
  remediation:
    'Treat artifacts from other runs as untrusted data: download them outside the workspace, verify a digest or signature produced by a trusted run, never execute them or write them to $GITHUB_ENV, and keep caches out of privileged and release workflows.',
  // Jenkins: `copyArtifacts` from another job's build (the analogue) is not read; see docs/commands/ci.md.
  platforms: ['github', 'gitlab'],
  check(w, ctx) {
    // GitLab: a cache shared across the protected-ref boundary (src/ci/gitlab/cache.ts says what is and is not read).
    if (w.platform === 'gitlab') return cachePoisoningHits(w, ctx.config);
    const events = [...ctx.repo.events(w)];
    const hits: CiHit[] = [];
    for (const job of w.jobs) {
      const privileged = PRIVILEGED.find((e) => events.includes(e) && jobRunsFor(job, e));
      if (privileged && jobGuard(w, job)) continue;
      const hit = checkJob(w, job, events, privileged);
      if (hit) hits.push(hit);
    }
    return hits;
  },
};
