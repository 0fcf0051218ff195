/**
 * Who can make a job run, with what: the facts several rules share. Which events a workflow answers (a reusable
 * workflow answers its local callers' events, a local action its users'), which of them an outsider triggers, which
 * jobs an `if:` keeps for an event or guards to trusted people, and what token and secrets a job holds.
 * ref: https://docs.github.com/en/actions/reference/workflows-and-actions/events-that-trigger-workflows
 */
import type { Job, Permissions, Workflow } from '../model.js';
import { attackerPaths, contextPaths, extractExpressions } from './expressions.js';

/**
 * Events that run with the base repository's secrets and a token that may write, on behalf of input an outsider
 * chooses (a fork's pull request, an issue, a comment). `pull_request`, `pull_request_review` and
 * `pull_request_review_comment` from forks run with a read-only token and no secrets, so they are not here.
 */
export const PRIVILEGED_EVENTS: ReadonlySet<string> = new Set([
  'pull_request_target',
  'workflow_run',
  'issue_comment',
  'issues',
  'discussion',
  'discussion_comment',
]);

/** Events an outsider (anyone who can fork, open an issue or comment on a public repository) can cause. */
export const OUTSIDER_EVENTS: ReadonlySet<string> = new Set([
  ...PRIVILEGED_EVENTS,
  'pull_request',
  'pull_request_review',
  'pull_request_review_comment',
]);

/** The whole repository, for rules that follow `uses: ./…` to local reusable workflows and actions. */
export class RepoIndex {
  private readonly byFile = new Map<string, Workflow>();
  private readonly triggersCache = new Map<string, ReadonlySet<string>>();

  constructor(readonly workflows: readonly Workflow[]) {
    for (const w of workflows) this.byFile.set(w.file, w);
  }

  /** A local `uses: ./x` resolved: a reusable workflow file, or the action.yml / action.yaml in a directory. */
  resolveLocal(uses: string): Workflow | undefined {
    if (!uses.startsWith('./')) return undefined;
    const path = uses.slice(2).replace(/\/+$/, '').replace(/@.*$/, '');
    return this.byFile.get(path) ?? this.byFile.get(`${path}/action.yml`) ?? this.byFile.get(`${path}/action.yaml`);
  }

  private readonly taintCache = new Map<string, ReadonlyMap<string, string>>();

  /**
   * The inputs of a local reusable workflow or action that an unguarded local caller fills from attacker-controlled
   * context (`with: title: ${{ github.event.pull_request.title }}`), by lower-cased name, with the path they come from.
   */
  taintedInputs(target: Workflow): ReadonlyMap<string, string> {
    const cached = this.taintCache.get(target.file);
    if (cached) return cached;
    const out = new Map<string, string>();
    for (const c of this.callers(target)) {
      if (jobGuard(c.workflow, c.job)) continue;
      const withs = [
        ...(c.job.uses && this.resolveLocal(c.job.uses.value) === target ? [c.job.with] : []),
        ...c.job.steps.filter((s) => s.uses && this.resolveLocal(s.uses.value) === target).map((s) => s.with),
      ];
      for (const w of withs) {
        for (const [name, l] of Object.entries(w)) {
          for (const e of extractExpressions(l.value)) {
            const path = attackerPaths(e.inner)[0]?.path;
            if (path && !out.has(name.toLowerCase()))
              out.set(name.toLowerCase(), `${path} (from ${c.workflow.file}, job ${c.job.id})`);
          }
        }
      }
    }
    this.taintCache.set(target.file, out);
    return out;
  }

  /** The workflows and jobs that call `target` (by a job's `uses:` or a step's `uses:`). */
  callers(target: Workflow): { workflow: Workflow; job: Job }[] {
    return [...(this.callIndex().get(target) ?? [])];
  }

  private calls?: Map<Workflow, { workflow: Workflow; job: Job }[]>;

  /** Every local call, by target, built once: asking each target in turn scans the repository once per target. */
  private callIndex(): Map<Workflow, { workflow: Workflow; job: Job }[]> {
    if (this.calls) return this.calls;
    const index = new Map<Workflow, { workflow: Workflow; job: Job }[]>();
    for (const w of this.workflows) {
      for (const j of w.jobs) {
        const targets = new Set<Workflow>();
        for (const u of [j.uses?.value, ...j.steps.map((s) => s.uses?.value)]) {
          const t = u === undefined ? undefined : this.resolveLocal(u);
          if (t) targets.add(t);
        }
        for (const t of targets) {
          const list = index.get(t) ?? [];
          list.push({ workflow: w, job: j });
          index.set(t, list);
        }
      }
    }
    this.calls = index;
    return index;
  }

  /**
   * The events a workflow or action runs for: its own triggers, with `workflow_call` (and an action's use) replaced
   * by the events of its local callers. A reusable workflow no local file calls keeps `workflow_call`: its callers
   * are elsewhere and unknown.
   */
  events(w: Workflow, seen: ReadonlySet<string> = new Set()): ReadonlySet<string> {
    const cached = this.triggersCache.get(w.file);
    if (cached) return cached;
    const out = new Set<string>();
    const own = w.triggers.map((t) => t.event);
    for (const e of own) if (e !== 'workflow_call') out.add(e);
    if (w.kind === 'action' || own.includes('workflow_call')) {
      const callers = this.callers(w).filter((c) => !seen.has(c.workflow.file));
      if (callers.length === 0 && own.includes('workflow_call')) out.add('workflow_call');
      const next = new Set([...seen, w.file]);
      // A caller guarded to trusted people (its own pull requests, members) passes its events on to no outsider.
      for (const c of callers) {
        if (jobGuard(c.workflow, c.job)) continue;
        for (const e of this.events(c.workflow, next)) if (jobRunsFor(c.job, e)) out.add(e);
      }
    }
    if (seen.size === 0) this.triggersCache.set(w.file, out);
    return out;
  }
}

function ifText(job: { readonly if?: { readonly value: string } }): string {
  return (job.if?.value ?? '').replace(/^\s*\$\{\{([\s\S]*)\}\}\s*$/, '$1');
}

/**
 * Whether the job's `if:` can hold for `event`: `github.event_name == 'x'` or `contains(fromJSON('["x","y"]'),
 * github.event_name)` keeps only those events; an `||` runs for what any branch runs for. A negation (`!`) could
 * mean anything: the job may run.
 */
export function jobRunsFor(job: Job, event: string): boolean {
  const cond = ifText(job);
  return !cond || branchRunsFor(unwrap(cond), event, 0);
}

function branchRunsFor(cond: string, event: string, depth: number): boolean {
  if (depth > 32 || /!(?!=)/.test(cond)) return true;
  const any = splitTop(cond, '||');
  if (any.length > 1) return any.some((b) => branchRunsFor(unwrap(b), event, depth + 1));
  const eq = [...cond.matchAll(/github\.event_name\s*==\s*'([^']*)'|'([^']*)'\s*==\s*github\.event_name/gi)].map((m) =>
    (m[1] ?? m[2] ?? '').toLowerCase(),
  );
  for (const m of cond.matchAll(/contains\(\s*fromJSON\(\s*'(\[[^']*\])'\s*\)\s*,\s*github\.event_name\s*\)/gi)) {
    try {
      const list = JSON.parse(m[1] ?? '') as unknown;
      if (Array.isArray(list)) for (const e of list) if (typeof e === 'string') eq.push(e.toLowerCase());
    } catch {
      return true; // not a list we can read: the job may run
    }
  }
  if (eq.length > 0 && !eq.includes(event)) return false;
  const ne = [...cond.matchAll(/github\.event_name\s*!=\s*'([^']*)'/gi)].map((m) => (m[1] ?? '').toLowerCase());
  return !ne.includes(event);
}

/** Split at a top-level operator (outside parentheses and quotes). */
function splitTop(cond: string, op: '||' | '&&'): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let from = 0;
  for (let i = 0; i < cond.length; i++) {
    const c = cond[i];
    if (c === "'") quoted = !quoted;
    else if (quoted) continue;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && cond.startsWith(op, i)) {
      parts.push(cond.slice(from, i));
      from = i + 2;
      i++;
    }
  }
  parts.push(cond.slice(from));
  return parts.map((p) => p.trim());
}

/** Strip parentheses that enclose the whole expression. */
function unwrap(cond: string): string {
  let c = cond.trim();
  while (c.startsWith('(') && c.endsWith(')')) {
    let depth = 0;
    let closesAtEnd = true;
    for (let i = 0; i < c.length - 1; i++) {
      if (c[i] === '(') depth++;
      else if (c[i] === ')') depth--;
      if (depth === 0) {
        closesAtEnd = false;
        break;
      }
    }
    if (!closesAtEnd) break;
    c = c.slice(1, -1).trim();
  }
  return c;
}

/** The guard on who wrote the comment or review: the only one that vouches for a comment's or review's text. */
export const COMMENTER_GUARD = 'the commenter must be an owner, member or collaborator';

/** One comparison that admits only trusted people or this repository's own pull requests. */
function atomGuard(atom: string): string | undefined {
  const c = atom.replace(/\s+/g, ' ');
  if (
    /head\.repo\.full_name ?== ?github\.repository$/i.test(c) ||
    /^github\.repository ?== ?github\.event\.pull_request\.head\.repo\.full_name/i.test(c) ||
    /head\.repo\.fork ?== ?false$/i.test(c) ||
    /^! ?github\.event\.pull_request\.head\.repo\.fork$/i.test(c)
  )
    return 'the pull request must come from this repository';
  if (
    /workflow_run\.head_repository\.full_name ?== ?github\.repository$/i.test(c) ||
    /workflow_run\.event ?== ?'(push|schedule|workflow_dispatch)'$/i.test(c)
  )
    return 'the triggering run must come from this repository';
  if (
    /author_association/i.test(c) &&
    /^(contains\(|[\w.]+author_association ?== ?'(OWNER|MEMBER|COLLABORATOR)'$|'(OWNER|MEMBER|COLLABORATOR)' ?== ?)/i.test(
      c,
    ) &&
    /["'](OWNER|MEMBER|COLLABORATOR)["']/i.test(c) &&
    !/["'](CONTRIBUTOR|FIRST_TIME_CONTRIBUTOR|FIRST_TIMER|NONE|MANNEQUIN)["']/i.test(c)
  )
    return /\b(comment|review)\.author_association/i.test(c)
      ? COMMENTER_GUARD
      : 'the author must be an owner, member or collaborator';
  // The pull request's author, not github.actor: the actor is whoever caused the event (a maintainer labelling or
  // re-running it, Dependabot rebasing it) while the code stays the author's, so an actor check is no guard.
  if (/^github\.event\.pull_request\.user\.login ?== ?'[^']+'$/i.test(c)) return 'only a named pull request author';
  return undefined;
}

/**
 * A guard holds for an expression when every `||` branch holds one, or some `&&` operand does. A negation (`!`,
 * `== false`, `!= true`) is never read as one: it may admit exactly the outsiders.
 */
function condGuard(cond: string, depth = 0): string | undefined {
  if (depth > 32) return undefined;
  const c = unwrap(cond);
  const any = splitTop(c, '||');
  if (any.length > 1) {
    const gs = any.map((p) => condGuard(p, depth + 1));
    return gs.every((g) => g !== undefined) ? gs[0] : undefined;
  }
  const all = splitTop(c, '&&');
  if (all.length > 1) {
    for (const p of all) {
      const g = condGuard(p, depth + 1);
      if (g) return g;
    }
    return undefined;
  }
  const flat = c.replace(/\s+/g, ' ');
  const forkCheck = /head\.repo\.fork ?== ?false$|^! ?github\.event\.pull_request\.head\.repo\.fork$/i.test(flat);
  if (/^!|[=!]= ?(?:false|true)$/i.test(flat) && !forkCheck) return undefined;
  return atomGuard(c);
}

/**
 * How a job's `if:` keeps outsiders out, or undefined. Recognised comparisons: the pull request's head repository is
 * this one, the author is an owner, member or collaborator, a named actor, and for workflow_run a run that came from
 * this repository or a push. An `||` branch without one lets anyone through. A job that needs a guarded job is
 * skipped with it (unless its own `if:` runs it anyway with always(), failure() or cancelled()). Labels are not a
 * guard: an outsider can push new code after a maintainer labels the pull request.
 */
export const jobGuard: (w: Workflow, job: Job) => string | undefined = memoised((w, job) => guardOf(w, job, new Set()));

function guardOf(w: Workflow, job: Job, seen: Set<string>): string | undefined {
  const cond = ifText(job);
  if (cond) {
    const g = condGuard(cond);
    if (g) return g;
  }
  if (/\b(always|failure|cancelled)\(\)/.test(cond)) return undefined;
  for (const n of job.needs) {
    if (seen.has(n)) continue;
    seen.add(n);
    const dep = w.jobs.find((j) => j.id === n);
    const g = dep && guardOf(w, dep, seen);
    if (g) return `${g} (through the job it needs, ${n})`;
  }
  return undefined;
}

/** The token a job holds: its own permissions, else the workflow's, else undefined (the repository default). */
export function effectivePermissions(w: Workflow, job: Job): Permissions | undefined {
  return job.permissions ?? w.permissions;
}

/** The write scopes of a permission set ('*' for write-all). */
export function writeScopes(p: Permissions | undefined): string[] {
  if (!p) return [];
  if (p.kind === 'all') return p.level === 'write' ? ['*'] : [];
  return Object.entries(p.scopes)
    .filter(([, l]) => l === 'write')
    .map(([s]) => s);
}

/** Every string a job carries (steps, env, with, the workflow's env), to look for secrets. */
function jobStrings(w: Workflow, job: Job): string[] {
  const out = [...Object.values(w.env), ...Object.values(job.env), ...Object.values(job.with)].map((l) => l.value);
  if (job.secrets && job.secrets.value !== 'inherit') out.push(...Object.values(job.secrets.value));
  for (const s of job.steps) {
    if (s.run) out.push(s.run.value);
    out.push(...Object.values(s.with).map((l) => l.value), ...Object.values(s.env).map((l) => l.value));
  }
  return out;
}

/** Facts about a job in its workflow, computed once per run (the model is not changed after it is loaded). */
function memoised<T>(compute: (w: Workflow, job: Job) => T): (w: Workflow, job: Job) => T {
  const memo = new WeakMap<Job, WeakMap<Workflow, T>>();
  return (w, job) => {
    let byWorkflow = memo.get(job);
    if (!byWorkflow) {
      byWorkflow = new WeakMap();
      memo.set(job, byWorkflow);
    }
    if (byWorkflow.has(w)) return byWorkflow.get(w) as T;
    const v = compute(w, job);
    byWorkflow.set(w, v);
    return v;
  };
}

/** The secrets a job reads (`secrets.NAME`, GITHUB_TOKEN excluded: the token is judged by its permissions). */
export const secretsRead: (w: Workflow, job: Job) => readonly string[] = memoised(findSecretsRead);

function findSecretsRead(w: Workflow, job: Job): string[] {
  const names = new Set<string>();
  for (const text of jobStrings(w, job)) {
    for (const e of extractExpressions(text)) {
      for (const p of contextPaths(e.inner)) {
        const m = /^secrets\.([a-z0-9_-]+)$/.exec(p);
        if (m && m[1] !== 'github_token') names.add((m[1] as string).toUpperCase());
        else if (p === 'secrets') names.add('*');
      }
    }
  }
  if (job.secrets?.value === 'inherit') names.add('(inherit)');
  return [...names].sort();
}

/**
 * What a job holds that an attacker running code in it could steal or use: secrets, a token that can write, or the
 * repository's default token (which is write-all in older repositories and organisations: it cannot be seen from
 * the files). Empty when the job holds nothing of value.
 */
export const privileges: (w: Workflow, job: Job) => { readonly what: readonly string[]; readonly certain: boolean } =
  memoised(findPrivileges);

function findPrivileges(w: Workflow, job: Job): { what: string[]; certain: boolean } {
  const what: string[] = [];
  const perms = effectivePermissions(w, job);
  const secrets = secretsRead(w, job);
  if (secrets.length) what.push(`secrets ${secrets.join(', ')}`);
  const writes = writeScopes(perms);
  if (writes.length) what.push(writes[0] === '*' ? 'a write-all token' : `a token that writes ${writes.join(', ')}`);
  if (!perms) what.push("the repository's default token (write-all unless the repository restricts it)");
  return { what, certain: secrets.length > 0 || writes.length > 0 };
}
