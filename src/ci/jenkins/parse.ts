/**
 * A Jenkinsfile into the pipeline model, best effort: the declarative subset (`pipeline { agent; environment;
 * triggers; stages { stage { agent; environment; when; steps; stages; parallel; matrix; post } }; post }`) is mapped
 * stage by stage, each stage with steps a job that needs the stages before it. Shell steps (`sh`, `bat`,
 * `powershell`, `pwsh`) become `run` steps; `withCredentials`, `withKubeConfig`, `withAWS` and `withEnv` put their
 * bindings in the wrapped steps' env; `catchError`, `warnError` and `returnStatus: true` make a step unable to fail the
 * stage. `script { }` blocks and scripted pipelines (`node { }`) are only searched for shell steps, with a note saying
 * so; shared libraries and `load` are noted as not read. Pure: text in, model and notes (or one located error) out.
 * ref: https://www.jenkins.io/doc/book/pipeline/syntax/
 */
import { printable } from '../../errors.js';
import { copyRecord, emptyRecord, lookup } from '../../util/record.js';
import type { Job, LoadError, Located, Pos, Step, Trigger, Workflow } from '../model.js';
import { type Block, JenkinsError, type Part, type Stmt, statements, type Token, tokenize } from './lex.js';
import { setStageConditions } from './when.js';

export interface JenkinsParse {
  readonly workflow: Workflow;
  /** What was not read or not analysed (script blocks, shared libraries, non-literal scripts). */
  readonly notes: LoadError[];
}

const RUN_STEPS: Record<string, string> = { sh: 'sh', bat: 'cmd', powershell: 'powershell', pwsh: 'pwsh' };
/** Steps whose closure runs with credentials bound to variables. */
const CREDENTIAL_WRAPPERS = new Set([
  'withCredentials',
  'withKubeConfig',
  'withKubeCredentials',
  'withAWS',
  'sshagent',
]);
/** Steps whose closure cannot fail the stage (the build is marked, the stage goes on). */
const NON_FAILING = new Set(['catchError', 'warnError']);
const STAGE_DIRECTIVES = new Set(['agent', 'environment', 'when', 'steps', 'stages', 'parallel', 'matrix', 'post']);

type Env = Record<string, Located>;
const isTok = (p: Part | undefined, kind?: Token['kind'], text?: string): p is Token =>
  p !== undefined &&
  p.kind !== 'block' &&
  (kind === undefined || p.kind === kind) &&
  (text === undefined || p.text === text);
const headOf = (s: Stmt): string | undefined => (isTok(s.parts[0], 'ident') ? s.parts[0].text : undefined);
const blockOf = (s: Stmt): Block | undefined => {
  const last = s.parts.at(-1);
  return last?.kind === 'block' ? last : undefined;
};
const firstString = (parts: readonly Part[]): Extract<Token, { kind: 'string' }> | undefined =>
  parts.find((p): p is Extract<Token, { kind: 'string' }> => isTok(p, 'string'));

/** Tokens as readable Groovy (strings re-quoted), for env values and messages. */
function render(parts: readonly Part[]): string {
  let out = '';
  for (const p of parts) {
    if (p.kind === 'block') out += ' { ... }';
    else if (p.kind === 'string') out += `${/\w$/.test(out) ? ' ' : ''}'${p.text}'`;
    else if (p.kind === 'newline') out += ' ';
    else if (p.kind === 'punct') out += p.text === ',' || p.text === ':' ? `${p.text} ` : p.text;
    else out += /[\w'$]$/.test(out) ? ` ${p.text}` : p.text;
  }
  return out.trim();
}

/** Tokens as Groovy with closures written out (`anyOf { branch 'a'; branch 'b' }`), whitespace made single spaces. */
function renderDeep(parts: readonly Part[]): string {
  let out = '';
  let from = 0;
  for (let i = 0; i <= parts.length; i++) {
    const p = parts[i];
    if (p !== undefined && p.kind !== 'block') continue;
    out += render(parts.slice(from, i));
    if (p) out += ` { ${p.body.map((s) => renderDeep(s.parts)).join('; ')} }`;
    from = i + 1;
  }
  return out.replace(/\s+/g, ' ').trim();
}

/** Options inside `when` that say when it is evaluated, not whether the stage runs. */
const WHEN_OPTIONS = new Set(['beforeAgent', 'beforeInput', 'beforeOptions']);

/** The conditions of a `when` block that must all hold (`allOf` taken apart), each as written. */
function whenConditions(body: readonly Stmt[], depth = 0): string[] {
  return body.flatMap((s) => {
    const head = headOf(s);
    if (head && WHEN_OPTIONS.has(head)) return [];
    const b = blockOf(s);
    if (head === 'allOf' && b && s.parts.length === 2 && depth < 16) return whenConditions(b.body, depth + 1);
    const text = renderDeep(s.parts);
    return text ? [text] : [];
  });
}

/** The value of `name: value` among the parts (a string, number, boolean or identifier), else undefined. */
function named(parts: readonly Part[], name: string): Token | undefined {
  for (let i = 0; i + 2 < parts.length; i++) {
    if (isTok(parts[i], 'ident', name) && isTok(parts[i + 1], 'punct', ':')) {
      const v = parts[i + 2];
      return isTok(v) ? v : undefined;
    }
  }
  return undefined;
}

/** The parts between the `(` at `open` and its `)`, and the index after it. */
function parenArgs(parts: readonly Part[], open: number): { args: Part[]; next: number } {
  let depth = 0;
  for (let i = open; i < parts.length; i++) {
    const p = parts[i];
    if (isTok(p, 'punct', '(') || isTok(p, 'punct', '[')) depth++;
    else if ((isTok(p, 'punct', ')') || isTok(p, 'punct', ']')) && --depth === 0)
      return { args: parts.slice(open + 1, i), next: i + 1 };
  }
  return { args: parts.slice(open + 1), next: parts.length };
}

/** Where offset `at` of a string token's text is (its own line for a multi-line string). */
function lineIn(t: Extract<Token, { kind: 'string' }>, at: number): Pos {
  let line = t.pos.line;
  let last = -1;
  for (let i = 0; i < at; i++)
    if (t.text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  return last < 0 ? t.pos : { line, column: at - last };
}

class Reader {
  readonly notes: LoadError[] = [];
  readonly jobs: Job[] = [];

  constructor(readonly file: string) {}

  note(pos: Pos, message: string): void {
    this.notes.push({ file: this.file, line: pos.line, column: pos.column, message });
  }

  env(block: Block | undefined, into: Env = emptyRecord()): Env {
    for (const s of block?.body ?? []) {
      const eq = s.parts.findIndex((p) => isTok(p, 'punct', '='));
      const key = s.parts[0];
      if (eq !== 1 || !isTok(key, 'ident')) continue;
      const rest = s.parts.slice(2);
      const str = rest.length === 1 && isTok(rest[0], 'string') ? rest[0].text : undefined;
      into[key.text] = { value: str ?? render(rest), pos: key.pos };
    }
    return into;
  }

  /** `withCredentials([...])` and friends: each binding under its variable names, as written. */
  bindings(args: readonly Part[], wrapper: string, pos: Pos, into: Env): void {
    const found: { parts: Part[]; pos: Pos }[] = [];
    for (let i = 0; i < args.length; i++) {
      const p = args[i];
      if (isTok(p, 'ident') && isTok(args[i + 1], 'punct', '(')) {
        const { args: inner, next } = parenArgs(args, i + 1);
        found.push({ parts: args.slice(i, next), pos: p.pos });
        if (!inner.some((x) => isTok(x, 'ident') && /Variable$|^variable$|^credentialsId$/.test(x.text))) found.pop();
        i = next - 1;
      } else if (isTok(p, 'punct', '[') && wrapper === 'withCredentials' && isTok(args[i + 1], 'ident', '$class')) {
        const { next } = parenArgs(args, i);
        found.push({ parts: args.slice(i, next), pos: p.pos });
        i = next - 1;
      }
    }
    // withKubeConfig(credentialsId: ...), withAWS(credentials: ...), sshagent(['id']): the wrapper is the binding.
    if (found.length === 0) found.push({ parts: [{ kind: 'ident', text: wrapper, pos }, ...args], pos });
    for (const b of found) {
      const text = b.parts[0] && b.parts.length === 1 ? wrapper : render(b.parts);
      const value = b.parts[0]?.kind === 'ident' && b.parts[0].text === wrapper ? `${wrapper}(${render(args)})` : text;
      const vars = b.parts.filter(
        (x, k) =>
          isTok(x, 'string') &&
          isTok(b.parts[k - 2], 'ident') &&
          /Variable$|^variable$/.test((b.parts[k - 2] as Token).text),
      ) as Token[];
      const keys = vars.length ? vars.map((v) => v.text) : [wrapper === 'withKubeConfig' ? 'KUBECONFIG' : wrapper];
      for (const k of keys) into[k] = { value, pos: b.pos };
    }
  }

  /** A shell step at `parts[k]` (`sh '...'`, `sh("...")`, `sh(script: '...', returnStatus: true)`). */
  runStep(parts: readonly Part[], k: number, steps: Step[], env: Env, nonFailing: boolean): number {
    const head = parts[k] as Token;
    let args: Part[];
    let next: number;
    if (isTok(parts[k + 1], 'punct', '(')) ({ args, next } = parenArgs(parts, k + 1));
    else {
      args = parts.slice(k + 1).filter((p) => p.kind !== 'block');
      next = parts.length;
    }
    const scriptTok = named(args, 'script') ?? (isTok(args[0], 'string') ? args[0] : undefined);
    const literal =
      scriptTok?.kind === 'string' &&
      !(args.indexOf(scriptTok) >= 0 && isTok(args[args.indexOf(scriptTok) + 1], 'punct', '+'));
    if (!literal || scriptTok?.kind !== 'string') {
      this.note(head.pos, `${head.text} step whose script is not a string literal: not analysed`);
      return next;
    }
    // Groovy fills a GString in before the shell runs: pull request fields and build parameters land in the script.
    const outside = scriptTok.interpolated
      ? /\$\{?\s*((env\.)?CHANGE_(TITLE|BRANCH|AUTHOR\w*|FORK|URL)|params\.\w+)/.exec(scriptTok.text)
      : null;
    if (outside)
      this.note(
        scriptTok.pos,
        `${head.text} step interpolates ${outside[1]} into its script (a double-quoted GString): not checked for injection on Jenkins; pass it through the environment and quote it in the shell`,
      );
    const status = named(args, 'returnStatus');
    const label = named(args, 'label');
    steps.push({
      index: steps.length,
      ...(label?.kind === 'string' ? { name: label.text } : {}),
      pos: head.pos,
      run: { value: scriptTok.text, pos: scriptTok.pos, bodyLine: scriptTok.bodyLine },
      with: {},
      env: copyRecord(env),
      continueOnError: nonFailing || status?.text === 'true',
      shell: lookup(RUN_STEPS, head.text) as string,
    });
    return next;
  }

  /** The steps of a closure, in order. `groovy`: inside `script { }` or a scripted pipeline, so any call is searched. */
  steps(body: readonly Stmt[], steps: Step[], env: Env, nonFailing: boolean, groovy: boolean, depth = 0): void {
    for (const s of body) {
      const head = headOf(s);
      const block = blockOf(s);
      if (head === 'script' && block && !groovy) {
        this.note(
          s.pos,
          'script block: only its sh/bat/powershell steps were read; its Groovy (conditions, loops, variables, other calls) was not analysed',
        );
        this.steps(block.body, steps, env, nonFailing, true, depth + 1);
        continue;
      }
      if (head === 'load') this.note(s.pos, 'load of another Groovy file: not read');
      if (head && (CREDENTIAL_WRAPPERS.has(head) || head === 'withEnv') && block) {
        const inner = copyRecord(env);
        const args = isTok(s.parts[1], 'punct', '(') ? parenArgs(s.parts, 1).args : s.parts.slice(1, -1);
        if (head === 'withEnv') {
          for (const t of args)
            if (isTok(t, 'string') && t.text.includes('='))
              inner[t.text.slice(0, t.text.indexOf('='))] = {
                value: t.text.slice(t.text.indexOf('=') + 1),
                pos: t.pos,
              };
        } else this.bindings(args, head, s.pos, inner);
        this.steps(block.body, steps, inner, nonFailing, groovy, depth + 1);
        continue;
      }
      const quiet = nonFailing || (head !== undefined && NON_FAILING.has(head));
      // Any shell call in the statement (`def v = sh(...)`, `sh '...'`), then any closure in it (`if (x) { ... }`).
      for (let k = 0; k < s.parts.length; k++) {
        const p = s.parts[k] as Part;
        if (p.kind === 'block') this.steps(p.body, steps, env, quiet, groovy, depth + 1);
        else if (
          isTok(p, 'ident') &&
          lookup(RUN_STEPS, p.text) !== undefined &&
          !isTok(s.parts[k - 1], 'punct', '.') &&
          (isTok(s.parts[k + 1], 'string') || isTok(s.parts[k + 1], 'punct', '(') || isTok(s.parts[k + 1], 'ident'))
        )
          k = this.runStep(s.parts, k, steps, env, quiet) - 1;
      }
    }
  }

  agent(s: Stmt | undefined): { runsOn: string[]; images: Located[] } | undefined {
    if (!s) return undefined;
    const block = blockOf(s);
    if (!block) {
      const word = s.parts[1];
      return { runsOn: isTok(word) && word.text !== 'none' ? [word.text] : [], images: [] };
    }
    const runsOn: string[] = [];
    const images: Located[] = [];
    const walk = (body: readonly Stmt[]): void => {
      for (const c of body) {
        const h = headOf(c);
        const str = firstString(c.parts);
        if (h === 'label' && str) runsOn.push(str.text);
        else if (h === 'image' && str) images.push({ value: str.text, pos: str.pos });
        else if ((h === 'docker' || h === 'dockerContainer') && str && !blockOf(c))
          images.push({ value: str.text, pos: str.pos });
        else if (h === 'yaml' && str)
          for (const m of str.text.matchAll(/^\s*-?\s*image:\s*["']?([^\s"']+)/gm))
            images.push({ value: m[1] as string, pos: lineIn(str, m.index) });
        else if (h === 'dockerfile' || h === 'kubernetes') runsOn.push(h);
        const b = blockOf(c);
        if (b) walk(b.body);
      }
    };
    walk(block.body);
    return { runsOn, images };
  }
}

interface Scope {
  readonly prefix: string;
  readonly env: Env;
  readonly runsOn: readonly string[];
  readonly images: readonly Located[];
  readonly when?: Located;
  /** The `when` conditions of the stage and the stages around it (all must hold). */
  readonly conditions: readonly string[];
}

const child = (b: Block | undefined, name: string): Stmt | undefined => b?.body.find((s) => headOf(s) === name);
const children = (b: Block | undefined, name: string): Stmt[] => (b?.body ?? []).filter((s) => headOf(s) === name);

function stageName(s: Stmt): string {
  const str = firstString(s.parts.slice(1));
  return str ? printable(str.text, 80) : `stage@${s.pos.line}`;
}

/** Stages in order; returns the ids of the jobs that finish last (what the next stage needs). */
function readStages(r: Reader, stages: readonly Stmt[], scope: Scope, before: string[], depth: number): string[] {
  let prev = before;
  for (const s of stages) {
    if (depth > 16) throw new JenkinsError(s.pos, 'stages nested more than 16 deep');
    prev = readStage(r, s, scope, prev, depth);
  }
  return prev;
}

function readStage(r: Reader, s: Stmt, outer: Scope, before: string[], depth: number): string[] {
  const block = blockOf(s);
  const name = stageName(s);
  const id = outer.prefix ? `${outer.prefix} / ${name}` : name;
  const agent = r.agent(child(block, 'agent'));
  const whenStmt = child(block, 'when');
  const whenBlock = whenStmt ? blockOf(whenStmt) : undefined;
  const when: Located | undefined = whenBlock
    ? { value: whenBlock.body.map((w) => render(w.parts)).join('; '), pos: whenStmt?.pos as Pos }
    : outer.when;
  const scope: Scope = {
    prefix: id,
    env: r.env(blockOf(child(block, 'environment') ?? { pos: s.pos, parts: [] }), copyRecord(outer.env)),
    runsOn: agent?.runsOn.length ? agent.runsOn : outer.runsOn,
    images: agent ? [...outer.images, ...agent.images] : outer.images,
    ...(when ? { when } : {}),
    conditions: whenBlock ? [...new Set([...outer.conditions, ...whenConditions(whenBlock.body)])] : outer.conditions,
  };
  for (const d of block?.body ?? [])
    if (headOf(d) === 'input') r.note(d.pos, `stage ${id}: input (a manual approval) is not modelled`);
  const nested = blockOf(child(block, 'stages') ?? { pos: s.pos, parts: [] });
  const parallel = blockOf(child(block, 'parallel') ?? { pos: s.pos, parts: [] });
  const matrix = blockOf(child(block, 'matrix') ?? { pos: s.pos, parts: [] });
  let ends = before;
  if (nested) ends = readStages(r, children(nested, 'stage'), scope, before, depth + 1);
  if (parallel) ends = children(parallel, 'stage').flatMap((p) => readStage(r, p, scope, before, depth + 1));
  if (matrix) {
    const inner = blockOf(child(matrix, 'stages') ?? { pos: s.pos, parts: [] });
    ends = readStages(r, children(inner, 'stage'), scope, before, depth + 1);
  }
  const stepsBlock = blockOf(child(block, 'steps') ?? { pos: s.pos, parts: [] });
  const post = blockOf(child(block, 'post') ?? { pos: s.pos, parts: [] });
  if (!stepsBlock && !post) {
    if (!nested && !parallel && !matrix && block)
      for (const d of block.body)
        if (
          headOf(d) &&
          !STAGE_DIRECTIVES.has(headOf(d) as string) &&
          !['options', 'tools', 'input', 'failFast'].includes(headOf(d) as string)
        )
          r.note(d.pos, `stage ${id}: '${headOf(d)}' is not a declarative stage directive: not read`);
    return ends;
  }
  const steps: Step[] = [];
  if (stepsBlock) r.steps(stepsBlock.body, steps, scope.env, false, false);
  for (const cond of post?.body ?? []) postSteps(r, cond, steps, scope.env);
  r.jobs.push(job(id, s.pos, scope, ends, steps));
  return [id];
}

/**
 * Post conditions that run whatever the stage or pipeline did (ref: Jenkins pipeline syntax, `post`): their steps
 * carry the condition as their `if`, so that a push there counts as one that runs after a failed scan.
 */
const POST_AFTER_FAILURE = new Set([
  'always',
  'changed',
  'regression',
  'aborted',
  'failure',
  'unstable',
  'unsuccessful',
  'cleanup',
]);

/** The steps of one post condition, appended to `steps`. */
function postSteps(r: Reader, cond: Stmt, steps: Step[], env: Env): void {
  const b = blockOf(cond);
  if (!b) return;
  const name = headOf(cond) ?? '';
  const from = steps.length;
  r.steps(b.body, steps, env, false, false);
  if (!POST_AFTER_FAILURE.has(name)) return;
  for (let i = from; i < steps.length; i++)
    steps[i] = { ...(steps[i] as Step), if: { value: `post { ${name} }`, pos: cond.pos } };
}

function job(id: string, pos: Pos, scope: Scope, needs: readonly string[], steps: Step[]): Job {
  const j: Job = {
    id,
    pos,
    runsOn: [...scope.runsOn],
    ...(scope.when ? { if: scope.when } : {}),
    needs: [...needs],
    with: {},
    env: {},
    images: [...scope.images],
    steps,
    // Steps carry the stage's environment (bound before they run), so the job's own stays empty.
  };
  setStageConditions(j, scope.conditions);
  return j;
}

function triggers(block: Block | undefined): Trigger[] {
  return (block?.body ?? []).flatMap((s) => {
    const h = headOf(s);
    if (!h) return [];
    const str = firstString(s.parts);
    return [{ event: h, config: str ? str.text : null, pos: s.pos }];
  });
}

function declarative(r: Reader, pipeline: Stmt, file: string): Workflow {
  const block = blockOf(pipeline) as Block;
  const agent = r.agent(child(block, 'agent'));
  const env = r.env(blockOf(child(block, 'environment') ?? { pos: pipeline.pos, parts: [] }));
  const scope: Scope = {
    prefix: '',
    env,
    runsOn: agent?.runsOn ?? [],
    images: agent?.images ?? [],
    conditions: [],
  };
  const stages = blockOf(child(block, 'stages') ?? { pos: pipeline.pos, parts: [] });
  if (!stages) r.note(pipeline.pos, 'pipeline without stages: nothing to read');
  const ends = readStages(r, children(stages, 'stage'), scope, [], 0);
  // The pipeline's post conditions: a job each, after the last stages; one that runs after a failure says so in its if.
  for (const cond of blockOf(child(block, 'post') ?? { pos: pipeline.pos, parts: [] })?.body ?? []) {
    const steps: Step[] = [];
    postSteps(r, cond, steps, env);
    const name = headOf(cond) ?? '';
    const anyway = POST_AFTER_FAILURE.has(name);
    const at = { ...scope, ...(anyway ? { when: { value: `post { ${name} }`, pos: cond.pos } } : {}) };
    if (steps.length) r.jobs.push(job(`post { ${name} }`, cond.pos, at, ends, steps));
  }
  return {
    file,
    kind: 'workflow',
    platform: 'jenkins',
    triggers: triggers(blockOf(child(block, 'triggers') ?? { pos: pipeline.pos, parts: [] })),
    env,
    jobs: r.jobs,
  };
}

/** A scripted pipeline: each `stage` inside `node` is a job of the shell steps found in it, in order. */
function scripted(r: Reader, nodes: readonly Stmt[], file: string): Workflow {
  let prev: string[] = [];
  for (const n of nodes) {
    r.note(
      n.pos,
      'scripted pipeline (node { }): only its sh/bat/powershell steps were read; its Groovy (conditions, loops, variables, other calls) was not analysed',
    );
    const label = firstString(n.parts.slice(1));
    const scope: Scope = { prefix: '', env: {}, runsOn: label ? [label.text] : ['any'], images: [], conditions: [] };
    const loose: Step[] = [];
    for (const s of blockOf(n)?.body ?? []) {
      const b = blockOf(s);
      if (headOf(s) === 'stage' && b) {
        const steps: Step[] = [];
        r.steps(b.body, steps, {}, false, true);
        const id = stageName(s);
        r.jobs.push(job(id, s.pos, scope, prev, steps));
        prev = [id];
      } else r.steps([s], loose, {}, false, true);
    }
    if (loose.length) r.jobs.push(job(`node@${n.pos.line}`, n.pos, scope, prev, loose));
  }
  return { file, kind: 'workflow', platform: 'jenkins', triggers: [], env: {}, jobs: r.jobs };
}

/** Find `node { }` blocks anywhere at the top (also inside `timestamps { }`, `properties(...)`, try blocks). */
function findNodes(body: readonly Stmt[], depth = 0): Stmt[] {
  const out: Stmt[] = [];
  for (const s of body) {
    if (headOf(s) === 'node' && blockOf(s)) out.push(s);
    else if (depth < 8) for (const p of s.parts) if (p.kind === 'block') out.push(...findNodes(p.body, depth + 1));
  }
  return out;
}

/** Parse one Jenkinsfile; bad input is one LoadError, never a throw. */
export function parseJenkinsFile(file: string, text: string): JenkinsParse | LoadError {
  try {
    const tokens = tokenize(text);
    const top = statements(tokens);
    const r = new Reader(file);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i] as Token;
      if (isTok(t, 'punct', '@') && isTok(tokens[i + 1], 'ident', 'Library'))
        r.note(t.pos, 'shared library (@Library): its steps and vars are not in this file and were not read');
    }
    const pipeline = top.find((s) => headOf(s) === 'pipeline' && blockOf(s));
    if (pipeline) return { workflow: declarative(r, pipeline, file), notes: r.notes };
    const nodes = findNodes(top);
    if (nodes.length) return { workflow: scripted(r, nodes, file), notes: r.notes };
    r.note(
      top[0]?.pos ?? { line: 1, column: 1 },
      'no pipeline { } or node { } block (a shared-library call?): the pipeline this file runs was not read',
    );
    return {
      workflow: { file, kind: 'workflow', platform: 'jenkins', triggers: [], env: {}, jobs: [] },
      notes: r.notes,
    };
  } catch (err) {
    if (err instanceof JenkinsError)
      return { file, line: err.pos.line, column: err.pos.column, message: printable(err.message, 200) };
    throw err;
  }
}

export const isJenkinsError = (v: JenkinsParse | LoadError): v is LoadError => 'message' in v;
