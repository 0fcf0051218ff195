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

/** A pull request fetched in one step: how, and where in its script (for a run: step) the fetching command ends. */
interface Fetch {
  readonly how: string;
  readonly end?: number;
  /** The ref is a step's output: likely the head (the issue_comment recipes), not certainly. */
  readonly likely?: boolean;
}

const GIT_FETCH = /\bgit\s+(?:fetch|checkout|switch|pull|clone|worktree)\b/;

/**
 * Whether a step fetches the pull request's code into the workspace, and how: actions/checkout of its head, or a
 * git or gh command whose own line names the head (an expression, `pull/N/head`, or an environment variable set to
 * the head, as the template-injection advice recommends).
 */
function fetchesPullRequest(s: Step, env: Readonly<Record<string, string>>): Fetch | undefined {
  const uses = s.uses?.value ?? '';
  if (/^actions\/checkout@/i.test(uses)) {
    const ref = s.with.ref?.value ?? '';
    const repo = s.with.repository?.value ?? '';
    if (readsHead(ref) || readsHead(repo) || /refs\/pull\//.test(ref))
      return { how: `actions/checkout of ${ref || repo}` };
    if (/\$\{\{[^}]*\bsteps\.[\w-]+\.outputs\./.test(ref))
      return { how: `actions/checkout of ${ref}, a step's output`, likely: true };
    return undefined;
  }
  const run = s.run?.value ?? '';
  const headVars = Object.entries({
    ...env,
    ...Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, v.value])),
  })
    .filter(([, v]) => readsHead(v))
    .map(([k]) => k);
  let at = 0;
  for (const line of run.split('\n')) {
    const end = at + line.length;
    at = end + 1;
    if (/\bgh\s+pr\s+checkout\b/.test(line)) return { how: 'gh pr checkout', end };
    if (!GIT_FETCH.test(line)) continue;
    const viaEnv = headVars.some((v) => new RegExp(`\\$\\{?${v}\\b`).test(line));
    if (readsHead(line) || viaEnv || /\bpull\/[^\s/]+\/(head|merge)\b/.test(line))
      return { how: 'git fetch/checkout of the pull request head', end };
  }
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
  const env = Object.fromEntries(Object.entries({ ...w.env, ...job.env }).map(([k, v]) => [k, v.value]));
  const fetches = job.steps.map((s) => fetchesPullRequest(s, env));
  const at = fetches.findIndex((f) => f !== undefined);
  if (at === -1) return undefined;
  const co = job.steps[at] as Step;
  const fetch = fetches[at] as Fetch;
  // The fetching script itself may build what it fetched (`git fetch ...; git checkout pr; make`).
  const rest = co.run && fetch.end !== undefined ? co.run.value.slice(fetch.end) : '';
  const same = CLEAR_EXEC.test(rest) ? [{ s: co, e: { how: 'the same run: script', clear: true } }] : [];
  const runs = [...same, ...job.steps.slice(at + 1).map((s) => ({ s, e: executes(s, repo) }))];
  const first = runs.find((r) => r.e?.clear) ?? runs.find((r) => r.e);
  if (!first?.e) return undefined;
  const p = privileges(w, job);
  const severity = p.certain ? 'critical' : p.what.length ? 'high' : 'medium';
  const confidence = job.environment
    ? 'low'
    : !fetch.likely && first.e.clear && (p.certain || !p.what.length)
      ? 'high'
      : 'medium';
  const where = first.s.run?.pos.line ?? first.s.uses?.pos.line ?? first.s.pos.line;
  return {
    pos: co.uses?.pos ?? co.run?.pos ?? co.pos,
    severity,
    confidence,
    message: `on.${event}: job ${job.id} checks out the pull request's code (${fetch.how}) and runs it with ${first.e.how} at line ${where}, holding ${p.what.length ? p.what.join('; ') : 'a read-only token'}${
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
