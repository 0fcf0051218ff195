import { parse } from 'yaml';

/**
 * Mechanical audits of the CI examples (examples/ci): the trust split between CI (build, push to staging) and the gate
 * (promote to production). Each audit returns one line per broken invariant, so a test can show that a mutation breaks
 * exactly the invariant it targets. Anything the audit cannot reason about (an unknown trigger, an expression it cannot
 * evaluate) is reported as a problem too: fail closed.
 */

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const asList = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

/** Parse one YAML document as GitHub and GitLab do (YAML 1.2: `on` is a string key), refusing duplicate keys. */
export function parseYaml(text: string): Obj {
  const doc: unknown = parse(text, { uniqueKeys: true, prettyErrors: true });
  if (!isObj(doc)) throw new Error('the file is not a YAML mapping');
  return doc;
}

/** Deploy tooling that has no business in CI under this design: CI never holds cluster or infrastructure credentials. */
const DEPLOY_TOOL = /(^|[\s;&|(`$])(kubectl|helm|helmfile|terraform|tofu|kustomize|argocd|flux|pulumi|oc)(\s|$)/m;
/** Destinations that stay on the runner: pushing there writes no registry. */
const LOCAL_TRANSPORT = /^(oci|oci-archive|docker-archive|dir|containers-storage|docker-daemon):/;
/** Names of credentials that only the gate may hold. */
const PRODUCTION_SECRET = /PROD|SIGNING|COSIGN/;

/** Shell text with line continuations joined, so one command is one line. */
const joinContinuations = (script: string): string => script.replace(/\\\n\s*/g, ' ');

/** The destinations of every registry push or copy in a script (`buildah|podman|docker push`, `skopeo copy`). */
export function pushDestinations(script: string): string[] {
  const out: string[] = [];
  for (const line of joinContinuations(script).split('\n')) {
    const m =
      /(?:^|[\s;&|(])(?:(?:buildah|podman|docker)\s+push|skopeo\s+copy|crane\s+(?:push|copy)|oras\s+push)\s+(.*)$/.exec(
        line,
      );
    if (!m) continue;
    const args = (m[1] ?? '')
      .replace(/\s[;&|].*$/, '')
      .split(/\s+/)
      .filter((a) => a !== '' && !a.startsWith('-'));
    // `docker push IMAGE` has one operand; the others take SOURCE DEST.
    out.push((args.at(-1) ?? '').replace(/^["']|["']$/g, ''));
  }
  return out;
}

/** Problems with pushes in a job that is not the gate: only staging (or the runner's own disk) may be written. */
function stagingOnly(where: string, scripts: string[]): string[] {
  const problems: string[] = [];
  for (const s of scripts) {
    for (const dest of pushDestinations(s)) {
      if (LOCAL_TRANSPORT.test(dest)) continue;
      if (!/\$\{?STAGING_REPO\b/.test(dest))
        problems.push(`${where}: pushes to '${dest}', which is not the staging repository`);
    }
  }
  return problems;
}

function deployTools(where: string, scripts: string[]): string[] {
  const problems: string[] = [];
  for (const s of scripts) {
    const m = DEPLOY_TOOL.exec(s);
    if (m) problems.push(`${where}: runs '${m[2]}': CI must not deploy or hold cluster credentials`);
  }
  return problems;
}

const runsGate = (scripts: string[]): boolean => scripts.some((s) => /\bportcullis\s+gate\b/.test(s));

// ---------------------------------------------------------------------------------------------------------------
// Conditions: GitHub's job `if:` and GitLab's `rules:if`, the subset the examples need, evaluated against a simulated
// event. ref: https://docs.github.com/en/actions/reference/workflows-and-actions/expressions and
// https://docs.gitlab.com/ci/jobs/job_rules/ (rules:if expressions)

type Value = string | number | boolean | null;

interface Tok {
  readonly kind: 'op' | 'str' | 'num' | 'word' | 'regex' | 'end';
  readonly text: string;
}

function tokenize(src: string, ident: RegExp): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i);
    const ws = /^\s+/.exec(rest);
    if (ws) {
      i += ws[0].length;
      continue;
    }
    const op = /^(&&|\|\||==|!=|=~|!~|!|\(|\)|,)/.exec(rest);
    const str = /^'((?:[^']|'')*)'/.exec(rest) ?? /^"((?:[^"\\]|\\.)*)"/.exec(rest);
    const num = /^-?\d+(\.\d+)?/.exec(rest);
    const word = ident.exec(rest);
    const regex = /^\/(?:[^/\\]|\\.)*\/[a-z]*/.exec(rest);
    if (op) toks.push({ kind: 'op', text: op[0] });
    else if (str) toks.push({ kind: 'str', text: (str[1] ?? '').replace(/''/g, "'") });
    else if (num) toks.push({ kind: 'num', text: num[0] });
    else if (word) toks.push({ kind: 'word', text: word[0] });
    else if (regex) toks.push({ kind: 'regex', text: regex[0] });
    else throw new Error(`cannot read '${rest}'`);
    i += (op ?? str ?? num ?? word ?? regex)?.[0].length ?? 1;
  }
  toks.push({ kind: 'end', text: '' });
  return toks;
}

/** What differs between the two dialects: how operands and functions read. */
interface Dialect {
  readonly ident: RegExp;
  operand(word: string): Value;
  call(name: string, args: Value[]): Value;
}

/** A small precedence-climbing parser shared by both dialects: `!`, `==`, `!=`, `&&`, `||`, parentheses, calls. */
function evaluate(src: string, d: Dialect): Value {
  const toks = tokenize(src, d.ident);
  let pos = 0;
  const end: Tok = { kind: 'end', text: '' };
  const peek = (): Tok => toks[pos] ?? end;
  const next = (): Tok => toks[pos++] ?? end;
  const expect = (text: string): void => {
    if (next().text !== text) throw new Error(`expected '${text}' in '${src}'`);
  };
  // GitHub compares strings ignoring case; GitLab's examples here compare identical spellings either way.
  const eq = (a: Value, b: Value): boolean =>
    typeof a === 'string' && typeof b === 'string' ? a.toLowerCase() === b.toLowerCase() : a === b;
  const unary = (): Value => {
    const t = next();
    if (t.kind === 'op' && t.text === '!') return !unary();
    if (t.kind === 'op' && t.text === '(') {
      const v = or();
      expect(')');
      return v;
    }
    if (t.kind === 'str') return t.text;
    if (t.kind === 'num') return Number(t.text);
    if (t.kind !== 'word') throw new Error(`unexpected '${t.text}' in '${src}'`);
    if (t.text === 'true' || t.text === 'false') return t.text === 'true';
    if (t.text === 'null') return null;
    if (peek().text !== '(') return d.operand(t.text);
    next();
    const args: Value[] = [];
    while (peek().text !== ')') {
      args.push(or());
      if (peek().text === ',') next();
      else if (peek().text !== ')') throw new Error(`expected ',' or ')' in '${src}'`);
    }
    next();
    return d.call(t.text, args);
  };
  const cmp = (): Value => {
    let v = unary();
    while (peek().text === '==' || peek().text === '!=') {
      const op = next().text;
      const w = unary();
      v = op === '==' ? eq(v, w) : !eq(v, w);
    }
    if (peek().text === '=~' || peek().text === '!~') throw new Error(`regular expression matches are not evaluated`);
    return v;
  };
  const and = (): Value => {
    let v = cmp();
    while (peek().text === '&&') {
      next();
      const w = cmp();
      v = v ? w : v;
    }
    return v;
  };
  const or = (): Value => {
    let v = and();
    while (peek().text === '||') {
      next();
      const w = and();
      v = v ? v : w;
    }
    return v;
  };
  const v = or();
  if (peek().kind !== 'end') throw new Error(`unexpected '${peek().text}' in '${src}'`);
  return v;
}

const text = (v: Value): string => String(v ?? '').toLowerCase();
const GITHUB_FUNCTIONS: Record<string, (args: Value[]) => Value> = {
  // Status functions: the simulation assumes every needed job succeeded.
  success: () => true,
  always: () => true,
  failure: () => false,
  cancelled: () => false,
  startsWith: ([a, b]) => text(a ?? null).startsWith(text(b ?? null)),
  endsWith: ([a, b]) => text(a ?? null).endsWith(text(b ?? null)),
  contains: ([a, b]) => text(a ?? null).includes(text(b ?? null)),
};

/** Evaluate a GitHub `if:` against a context; a path the context lacks is an error, never a guess. */
export function evalGitHubIf(expr: string, ctx: Obj): boolean {
  const src = expr.trim().replace(/^\$\{\{([\s\S]*)\}\}$/, '$1');
  return Boolean(
    evaluate(src, {
      ident: /^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*/,
      operand: (path) => {
        let v: unknown = ctx;
        for (const part of path.split('.')) {
          if (!isObj(v) || !(part in v)) throw new Error(`'${path}' is not in the simulated context`);
          v = v[part];
        }
        if (v !== null && typeof v === 'object') throw new Error(`'${path}' is an object`);
        return v as Value;
      },
      call: (name, args) => {
        const fn = GITHUB_FUNCTIONS[name];
        if (!fn) throw new Error(`function ${name}() is not evaluated`);
        return fn(args);
      },
    }),
  );
}

/** Evaluate a GitLab `rules:if` against the pipeline's variables (an undefined variable is null). */
export function evalGitLabIf(expr: string, vars: Record<string, string>): boolean {
  return Boolean(
    evaluate(expr, {
      ident: /^(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|null)/,
      operand: (word) => vars[word.replace(/^\$\{?|\}$/g, '')] ?? null,
      call: (name) => {
        throw new Error(`GitLab rules have no function ${name}()`);
      },
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// GitHub Actions

/** The events a workflow is simulated under, each with the context its job conditions can read. */
const GITHUB_EVENTS: Record<string, Obj> = {
  'pull_request from a fork': {
    github: {
      event_name: 'pull_request',
      ref: 'refs/pull/7/merge',
      base_ref: 'main',
      head_ref: 'feature',
      event: { pull_request: { head: { repo: { fork: true } } } },
    },
  },
  'push to main': { github: { event_name: 'push', ref: 'refs/heads/main', base_ref: '', head_ref: '', event: {} } },
  'push to another branch': {
    github: { event_name: 'push', ref: 'refs/heads/feature', base_ref: '', head_ref: '', event: {} },
  },
};
const PULL_REQUEST_EVENTS = ['pull_request from a fork'];
/** Triggers that run with the base repository's secrets on behalf of code or data from a pull request. */
const PRIVILEGED_TRIGGERS = ['pull_request_target', 'workflow_run', 'issue_comment', 'pull_request_review_comment'];
const KNOWN_TRIGGERS = ['pull_request', 'push'];

const triggersOf = (on: unknown): Obj =>
  typeof on === 'string'
    ? { [on]: null }
    : Array.isArray(on)
      ? Object.fromEntries(on.map((t) => [String(t), null]))
      : isObj(on)
        ? on
        : {};

/** Whether an event named by the simulation triggers the workflow at all (branch filters of `push`). */
function triggers(on: Obj, event: string): boolean {
  const ctx = GITHUB_EVENTS[event]?.github as Obj;
  const name = String(ctx.event_name);
  if (!(name in on)) return false;
  if (name !== 'push') return true;
  const filter = isObj(on.push) ? on.push : {};
  const branches = asList(filter.branches).map(String);
  if (branches.length === 0) return true;
  const branch = String(ctx.ref).replace(/^refs\/heads\//, '');
  return branches.some((b) =>
    new RegExp(`^${b.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(branch),
  );
}

/** Every string in a value (a job, a step), for reference scans. */
function allStrings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(allStrings);
  if (isObj(v)) return Object.values(v).flatMap(allStrings);
  return [];
}

const secretsOf = (job: unknown): string[] =>
  allStrings(job).flatMap((s) => [...s.matchAll(/\bsecrets\.([A-Za-z_][\w]*)/g)].map((m) => m[1] ?? ''));

const stepsOf = (job: Obj): Obj[] => asList(job.steps).filter(isObj);
const runsOf = (job: Obj): string[] => stepsOf(job).flatMap((s) => (typeof s.run === 'string' ? [s.run] : []));
const environmentOf = (job: Obj): string | undefined =>
  typeof job.environment === 'string'
    ? job.environment
    : isObj(job.environment)
      ? String(job.environment.name)
      : undefined;

/** The jobs that run for an event: their `if:` holds and the jobs they need ran (unless the condition ignores that). */
export function githubJobsFor(wf: Obj, event: string): Set<string> {
  const jobs = isObj(wf.jobs) ? wf.jobs : {};
  const ctx = GITHUB_EVENTS[event];
  if (!ctx) throw new Error(`no simulated event '${event}'`);
  const running = new Set<string>();
  if (!triggers(triggersOf(wf.on), event)) return running;
  const decided = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const [id, job] of Object.entries(jobs)) {
      if (decided.has(id) || !isObj(job)) continue;
      const needs = asList(job.needs).map(String);
      if (!needs.every((n) => decided.has(n))) continue;
      const cond = job.if === undefined ? 'success()' : String(job.if);
      const ignoresNeeds = /\b(always|failure|cancelled)\(\)/.test(cond);
      if ((ignoresNeeds || needs.every((n) => running.has(n))) && evalGitHubIf(cond, ctx)) running.add(id);
      decided.add(id);
      changed = true;
    }
  }
  const undecided = Object.keys(jobs).filter((id) => !decided.has(id));
  if (undecided.length > 0) throw new Error(`jobs ${undecided.join(', ')} need jobs that do not exist (or a cycle)`);
  return running;
}

/** Audit a GitHub Actions workflow (its text, for the pin comments) against the CI trust split. */
export function auditGitHubWorkflow(text: string): string[] {
  const problems: string[] = [];
  let wf: Obj;
  try {
    wf = parseYaml(text);
  } catch (e) {
    return [`does not parse: ${(e as Error).message}`];
  }
  const on = triggersOf(wf.on);
  for (const t of Object.keys(on)) {
    if (PRIVILEGED_TRIGGERS.includes(t)) problems.push(`on.${t}: runs with secrets on behalf of pull request content`);
    else if (!KNOWN_TRIGGERS.includes(t)) problems.push(`on.${t}: a trigger this audit does not simulate`);
  }
  if (!isObj(wf.permissions) || Object.values(wf.permissions).some((v) => v !== 'read' && v !== 'none')) {
    problems.push('permissions: the workflow default must be {} (or read-only), each job asking for what it needs');
  }
  const jobs = isObj(wf.jobs) ? wf.jobs : {};

  // Pins: in the data, and as written (the comment names the tag the SHA was taken from).
  for (const [id, job] of Object.entries(jobs)) {
    if (!isObj(job)) continue;
    const uses = [job.uses, ...stepsOf(job).map((s) => s.uses)].filter((u): u is string => typeof u === 'string');
    for (const u of uses) {
      if (u.startsWith('./')) continue;
      const pinned = u.startsWith('docker://') ? /@sha256:[0-9a-f]{64}$/.test(u) : /^[^@\s]+@[0-9a-f]{40}$/.test(u);
      if (!pinned) problems.push(`jobs.${id}: uses '${u}', which is not pinned to a full commit SHA (or image digest)`);
      if (/kube|k8s|helm|terraform|argo|deploy/i.test(u)) problems.push(`jobs.${id}: uses '${u}': CI must not deploy`);
    }
  }
  for (const [n, line] of text.split('\n').entries()) {
    if (/^\s*(-\s+)?uses:\s*[^.\s]/.test(line) && !/@[0-9a-f]{40} # v\d+(\.\d+)*\s*$/.test(line)) {
      problems.push(`line ${n + 1}: a 'uses:' without '@<sha> # vX.Y.Z': '${line.trim()}'`);
    }
  }

  for (const [id, job] of Object.entries(jobs)) {
    if (!isObj(job)) continue;
    const where = `jobs.${id}`;
    const runs = runsOf(job);
    const perms = job.permissions;
    if (!isObj(perms)) problems.push(`${where}: no permissions block (it would get the repository's default token)`);
    else {
      const uploadsSarif = stepsOf(job).some((s) =>
        String(s.uses ?? '').startsWith('github/codeql-action/upload-sarif@'),
      );
      for (const [scope, level] of Object.entries(perms)) {
        if (level === 'write' && !(scope === 'security-events' && uploadsSarif)) {
          problems.push(`${where}: permissions.${scope}: write is more than building and scanning need`);
        }
      }
    }
    for (const [i, step] of stepsOf(job).entries()) {
      if (typeof step.run === 'string' && step.run.includes('${{')) {
        problems.push(`${where}.steps[${i}]: an expression inside run: (pass it through env: instead)`);
      }
      if (String(step.uses ?? '').startsWith('actions/checkout@')) {
        const w = isObj(step.with) ? step.with : {};
        if (w['persist-credentials'] !== false)
          problems.push(`${where}.steps[${i}]: checkout must set persist-credentials: false`);
      }
    }
    problems.push(...deployTools(where, runs));
    const production = environmentOf(job) === 'production';
    const prodSecrets = secretsOf(job).filter((s) => PRODUCTION_SECRET.test(s));
    if (runsGate(runs) && !production) problems.push(`${where}: runs the gate outside the production environment`);
    if (prodSecrets.length > 0 && !production) {
      problems.push(`${where}: holds ${prodSecrets.join(', ')} outside the protected production environment`);
    }
    if (production) {
      if (pushDestinations(runs.join('\n')).length > 0)
        problems.push(`${where}: pushes itself; only the gate writes to production`);
    } else {
      problems.push(...stagingOnly(where, runs));
      const mentions = allStrings(job).filter((s) => /\bPROD_/.test(s));
      if (mentions.length > 0) problems.push(`${where}: mentions production (${mentions[0]}) outside the gate`);
    }
  }
  if (!Object.values(jobs).some((j) => isObj(j) && runsGate(runsOf(j)))) problems.push('no job runs portcullis gate');

  // Simulated events: what runs for a pull request, and what runs for main.
  for (const event of Object.keys(GITHUB_EVENTS)) {
    let running: Set<string>;
    try {
      running = githubJobsFor(wf, event);
    } catch (e) {
      problems.push(`${event}: ${(e as Error).message}`);
      continue;
    }
    for (const id of running) {
      const job = jobs[id] as Obj;
      if (PULL_REQUEST_EVENTS.includes(event)) {
        const secrets = secretsOf(job);
        if (secrets.length > 0) problems.push(`${event}: jobs.${id} runs and references secrets ${secrets.join(', ')}`);
        if (environmentOf(job) !== undefined)
          problems.push(`${event}: jobs.${id} runs in environment ${environmentOf(job)}`);
      }
    }
    if (event === 'push to main' && ![...running].some((id) => runsGate(runsOf(jobs[id] as Obj)))) {
      problems.push(`${event}: the gate does not run`);
    }
    if (PULL_REQUEST_EVENTS.includes(event) && running.size === 0) problems.push(`${event}: nothing builds or scans`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// GitLab CI

const GITLAB_GLOBAL_KEYS = new Set([
  'default',
  'include',
  'stages',
  'variables',
  'workflow',
  'image',
  'services',
  'cache',
  'before_script',
  'after_script',
]);

/** The pipelines a GitLab configuration is simulated under, each with its predefined variables. */
const GITLAB_PIPELINES: Record<string, Record<string, string>> = {
  'merge request (from a fork)': {
    CI_PIPELINE_SOURCE: 'merge_request_event',
    CI_DEFAULT_BRANCH: 'main',
    CI_COMMIT_REF_NAME: 'feature',
    CI_MERGE_REQUEST_IID: '7',
    CI_MERGE_REQUEST_SOURCE_PROJECT_PATH: 'someone/fork',
  },
  'push to the default branch': {
    CI_PIPELINE_SOURCE: 'push',
    CI_DEFAULT_BRANCH: 'main',
    CI_COMMIT_BRANCH: 'main',
    CI_COMMIT_REF_NAME: 'main',
    CI_COMMIT_REF_PROTECTED: 'true',
  },
  'push to another branch': {
    CI_PIPELINE_SOURCE: 'push',
    CI_DEFAULT_BRANCH: 'main',
    CI_COMMIT_BRANCH: 'feature',
    CI_COMMIT_REF_NAME: 'feature',
  },
  'push of a tag': {
    CI_PIPELINE_SOURCE: 'push',
    CI_DEFAULT_BRANCH: 'main',
    CI_COMMIT_TAG: 'v1',
    CI_COMMIT_REF_NAME: 'v1',
  },
};
const MERGE_REQUEST_PIPELINES = ['merge request (from a fork)'];

/** GitLab's `extends`: hashes merged deeply, everything else (arrays included) replaced by the extending job. */
function merge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObj(v) && isObj(out[k]) ? merge(out[k] as Obj, v) : v;
  return out;
}

/** Every job of a GitLab configuration with `extends` resolved (hidden `.templates` are not jobs). */
export function gitlabJobs(cfg: Obj): Record<string, Obj> {
  const resolve = (name: string, seen: string[]): Obj => {
    const raw = cfg[name];
    if (!isObj(raw)) throw new Error(`extends '${name}', which is not a job or template`);
    if (seen.includes(name)) throw new Error(`extends cycle ${[...seen, name].join(' -> ')}`);
    let out: Obj = {};
    for (const parent of asList(raw.extends).map(String)) out = merge(out, resolve(parent, [...seen, name]));
    const { extends: _ignored, ...own } = raw;
    return merge(out, own);
  };
  const jobs: Record<string, Obj> = {};
  for (const name of Object.keys(cfg)) {
    if (GITLAB_GLOBAL_KEYS.has(name) || name.startsWith('.')) continue;
    jobs[name] = resolve(name, []);
  }
  return jobs;
}

/** The script lines of a job as the runner joins them (before_script, script; after_script runs on its own). */
export function gitlabScripts(cfg: Obj, job: Obj): string[] {
  const dflt = isObj(cfg.default) ? cfg.default : {};
  const pick = (k: string): string[] => asList(job[k] ?? dflt[k] ?? cfg[k]).map(String);
  return [[...pick('before_script'), ...pick('script')].join('\n'), pick('after_script').join('\n')].filter(
    (s) => s !== '',
  );
}

interface Rule {
  readonly if?: string;
  readonly when?: string;
}

/** The first matching rule's `when`, or undefined when no rule matches (the job is not added). */
function firstRule(rules: unknown, vars: Record<string, string>): string | undefined {
  for (const r of asList(rules)) {
    if (!isObj(r)) throw new Error(`a rule that is not a mapping`);
    const rule = r as Rule;
    if (Object.keys(r).some((k) => k !== 'if' && k !== 'when')) throw new Error(`rule keys other than if/when`);
    if (rule.if === undefined || evalGitLabIf(rule.if, vars)) return rule.when ?? 'on_success';
  }
  return undefined;
}

/** The jobs a pipeline has, each with its `when` (on_success, manual, ...); empty when workflow:rules refuse it. */
export function gitlabJobsFor(cfg: Obj, pipeline: string): Map<string, string> {
  const vars = GITLAB_PIPELINES[pipeline];
  if (!vars) throw new Error(`no simulated pipeline '${pipeline}'`);
  const out = new Map<string, string>();
  const wfRules = isObj(cfg.workflow) ? cfg.workflow.rules : undefined;
  const wfWhen = wfRules === undefined ? 'always' : firstRule(wfRules, vars);
  if (wfWhen === undefined || wfWhen === 'never') return out;
  for (const [name, job] of Object.entries(gitlabJobs(cfg))) {
    const when = job.rules === undefined ? String(job.when ?? 'on_success') : firstRule(job.rules, vars);
    if (when !== undefined && when !== 'never') out.set(name, when);
  }
  return out;
}

const IMAGE_PIN = /@sha256:([0-9a-f]{64}|<digest>)$/;
const imageName = (image: unknown): string | undefined =>
  typeof image === 'string' ? image : isObj(image) ? String(image.name) : undefined;
/** Variables a job reads from the project's settings by naming convention: credentials and keys. */
const referencedSecrets = (scripts: string[]): string[] => [
  ...new Set(
    scripts.flatMap((s) =>
      [...s.matchAll(/\$\{?([A-Z][A-Z0-9_]*(?:TOKEN|PASSWORD|USER|SIGNING_KEY|SECRET))\b/g)].map((m) => m[1] ?? ''),
    ),
  ),
];

/** Audit a GitLab CI configuration against the CI trust split. */
export function auditGitLabCi(text: string): string[] {
  const problems: string[] = [];
  let cfg: Obj;
  try {
    cfg = parseYaml(text);
  } catch (e) {
    return [`does not parse: ${(e as Error).message}`];
  }
  if (!isObj(cfg.workflow) || !Array.isArray(cfg.workflow.rules)) {
    problems.push('workflow:rules missing: every event would start a pipeline');
  }
  const defined = [cfg.variables, ...Object.values(cfg).map((v) => (isObj(v) ? v.variables : undefined))]
    .filter(isObj)
    .flatMap((v) => Object.keys(v));
  for (const name of defined) {
    if (/TOKEN|PASSWORD|SECRET|SIGNING_KEY/.test(name))
      problems.push(`variables.${name}: a credential in the file itself`);
  }
  for (const [where, image] of [
    ['image', cfg.image],
    ['default.image', isObj(cfg.default) ? cfg.default.image : undefined],
    ...Object.entries(cfg)
      .filter(([k, v]) => !GITLAB_GLOBAL_KEYS.has(k) && isObj(v))
      .flatMap(([k, v]) => [
        [`${k}.image`, (v as Obj).image],
        ...asList((v as Obj).services).map((s, i) => [`${k}.services[${i}]`, s]),
      ]),
  ] as Array<[string, unknown]>) {
    const name = imageName(image);
    if (name !== undefined && !IMAGE_PIN.test(name)) problems.push(`${where}: '${name}' is not pinned by digest`);
  }

  let jobs: Record<string, Obj>;
  try {
    jobs = gitlabJobs(cfg);
  } catch (e) {
    return [...problems, (e as Error).message];
  }
  for (const [name, job] of Object.entries(jobs)) {
    const scripts = gitlabScripts(cfg, job);
    if (job.only !== undefined || job.except !== undefined) problems.push(`${name}: only/except instead of rules`);
    if (job.rules === undefined) problems.push(`${name}: no rules (it would run in every pipeline)`);
    if (imageName(job.image) === undefined && imageName(cfg.image) === undefined) {
      problems.push(`${name}: no image (the runner's default image is not pinned)`);
    }
    problems.push(...deployTools(name, scripts));
    const env = isObj(job.environment) ? String(job.environment.name) : job.environment;
    const production = env === 'production';
    const prodSecrets = referencedSecrets(scripts).filter((s) => PRODUCTION_SECRET.test(s));
    if (runsGate(scripts) && !production) problems.push(`${name}: runs the gate outside the production environment`);
    if (prodSecrets.length > 0 && !production)
      problems.push(`${name}: reads ${prodSecrets.join(', ')} outside production`);
    if (production) {
      if (pushDestinations(scripts.join('\n')).length > 0)
        problems.push(`${name}: pushes itself; only the gate writes`);
      if (job.resource_group === undefined) problems.push(`${name}: no resource_group: two promotions could race`);
    } else {
      problems.push(...stagingOnly(name, scripts));
      if (scripts.some((s) => /\bPROD_/.test(s))) problems.push(`${name}: mentions production outside the gate`);
    }
  }
  if (!Object.values(jobs).some((j) => runsGate(gitlabScripts(cfg, j)))) problems.push('no job runs portcullis gate');

  for (const pipeline of Object.keys(GITLAB_PIPELINES)) {
    let running: Map<string, string>;
    try {
      running = gitlabJobsFor(cfg, pipeline);
    } catch (e) {
      problems.push(`${pipeline}: ${(e as Error).message}`);
      continue;
    }
    for (const [name, when] of running) {
      const job = jobs[name] as Obj;
      for (const need of asList(job.needs).map((n) => (isObj(n) ? String(n.job) : String(n)))) {
        if (!running.has(need)) problems.push(`${pipeline}: ${name} needs ${need}, which is not in the pipeline`);
      }
      const env = isObj(job.environment) ? String(job.environment.name) : job.environment;
      const scripts = gitlabScripts(cfg, job);
      if (MERGE_REQUEST_PIPELINES.includes(pipeline)) {
        if (env !== undefined) problems.push(`${pipeline}: ${name} runs in environment ${String(env)}`);
        const secrets = referencedSecrets(scripts);
        if (secrets.length > 0) problems.push(`${pipeline}: ${name} reads ${secrets.join(', ')}`);
      }
      if (runsGate(scripts) && pipeline !== 'push to the default branch') {
        problems.push(`${pipeline}: the gate job ${name} is in this pipeline`);
      }
      if (runsGate(scripts) && when !== 'manual') problems.push(`${pipeline}: the gate job ${name} is not manual`);
    }
    if (MERGE_REQUEST_PIPELINES.includes(pipeline) && running.size === 0) {
      problems.push(`${pipeline}: nothing builds or scans`);
    }
  }
  return problems;
}
