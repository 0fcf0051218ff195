import { contextPaths, extractExpressions } from '../github/expressions.js';
import { jobGuard, jobRunsFor, privileges, type RepoIndex } from '../github/reach.js';
import type { Job, Step, Workflow } from '../model.js';
import type { CiHit, CiRule } from '../rule.js';

/** Triggers whose checkout of the pull request's code runs it with the base repository's secrets and token. */
const EVENTS = ['pull_request_target', 'workflow_run', 'issue_comment'];

/** Context paths naming the pull request's (or the triggering run's) head: checking it out fetches outsider code. */
const HEAD =
  /^(github\.head_ref|github\.event\.pull_request\.head\.(sha|ref|repo\.full_name|repo\.clone_url)|github\.event\.pull_request\.(number|merge_commit_sha)|github\.event\.number|github\.event\.issue\.number|github\.event\.workflow_run\.(head_sha|head_branch|head_repository\.full_name|pull_requests\.\*\.(head\.(sha|ref)|number)))$/;

function readsHead(text: string): boolean {
  return extractExpressions(text).some((e) => contextPaths(e.inner).some((p) => HEAD.test(p)));
}

/** Whether a step fetches the pull request's code into the workspace, and how. */
function fetchesPullRequest(s: Step): string | undefined {
  const uses = s.uses?.value ?? '';
  if (/^actions\/checkout@/i.test(uses)) {
    const ref = s.with.ref?.value ?? '';
    const repo = s.with.repository?.value ?? '';
    if (readsHead(ref) || readsHead(repo) || /refs\/pull\//.test(ref)) return `actions/checkout of ${ref || repo}`;
    return undefined;
  }
  const run = s.run?.value ?? '';
  if (/\bgh\s+pr\s+checkout\b/.test(run)) return 'gh pr checkout';
  if (
    /\bgit\s+(fetch|checkout|switch|pull)\b/.test(run) &&
    (readsHead(run) || /\bpull\/[^\s/]+\/(head|merge)\b/.test(run))
  )
    return 'git fetch/checkout of the pull request head';
  return undefined;
}

/** Steps that run what the workspace holds: any script, a local action, or an action that builds the tree. */
const BUILD_ACTION =
  /^(docker\/build-push-action|docker\/bake-action|gradle\/(actions|gradle-build-action)|pre-commit\/action)(\/|@)/i;
const CLEAR_EXEC =
  /(^|[\s;&|(])(npm|npx|yarn|pnpm|bun|node|make|cmake|gradle|\.\/gradlew|mvn|\.\/mvnw|pip3?|python3?|pytest|tox|nox|poetry|cargo|go|rake|bundle|composer|dotnet|docker|buildah|podman|bash|sh|\.\/[\w./-]+)(\s|$)/m;

function executes(s: Step, repo: RepoIndex): { how: string; clear: boolean } | undefined {
  const uses = s.uses?.value;
  if (uses?.startsWith('./')) {
    const local = repo.resolveLocal(uses);
    return { how: `the local action ${uses}${local ? '' : ' (from the checked-out tree)'}`, clear: true };
  }
  if (uses && BUILD_ACTION.test(uses)) return { how: uses.replace(/@.*/, ''), clear: true };
  if (s.run) return { how: 'a run: script', clear: CLEAR_EXEC.test(s.run.value) };
  return undefined;
}

function checkJob(w: Workflow, job: Job, event: string, repo: RepoIndex): CiHit | undefined {
  const at = job.steps.findIndex((s) => fetchesPullRequest(s) !== undefined);
  if (at === -1) return undefined;
  const co = job.steps[at] as Step;
  const runs = job.steps.slice(at + 1).map((s) => ({ s, e: executes(s, repo) }));
  const first = runs.find((r) => r.e?.clear) ?? runs.find((r) => r.e);
  if (!first?.e) return undefined;
  const p = privileges(w, job);
  const severity = p.certain ? 'critical' : p.what.length ? 'high' : 'medium';
  const confidence = job.environment ? 'low' : first.e.clear && (p.certain || !p.what.length) ? 'high' : 'medium';
  const where = first.s.run?.pos.line ?? first.s.uses?.pos.line ?? first.s.pos.line;
  return {
    pos: co.uses?.pos ?? co.run?.pos ?? co.pos,
    severity,
    confidence,
    message: `on.${event}: job ${job.id} checks out the pull request's code (${fetchesPullRequest(co)}) and runs it with ${first.e.how} at line ${where}, holding ${p.what.length ? p.what.join('; ') : 'a read-only token'}${
      job.environment
        ? `; it runs in environment ${job.environment.value}, whose reviewers (if any) cannot be seen here`
        : ''
    }`,
  };
}

/** The pwn request. ref: GitHub Security Lab, "Preventing pwn requests"; zizmor's artipacked/dangerous-triggers. */
export const untrustedCheckout: CiRule = {
  id: 'untrusted-checkout',
  title: "Privileged workflow checks out and runs the pull request's code",
  severity: 'critical',
  confidence: 'high',
  platforms: ['github'],
  rationale:
    "Under pull_request_target, workflow_run or issue_comment, checking out the pull request's head and then building it, running its scripts or its local actions runs the outsider's code with the base repository's secrets and token.",
  remediation:
    'Build untrusted code only in a pull_request workflow (no secrets, read-only token) and pass results on as data; if the privileged job must look at the code, never execute it, and guard the job to pull requests from this repository.',
  check(w, ctx) {
    const events = ctx.repo.events(w);
    const hits: CiHit[] = [];
    for (const job of w.jobs) {
      const event = EVENTS.find((e) => events.has(e) && jobRunsFor(job, e));
      if (!event || jobGuard(w, job)) continue;
      const hit = checkJob(w, job, event, ctx.repo);
      if (hit) hits.push(hit);
    }
    return hits;
  },
};
