/**
 * Which pipeline sources (`$CI_PIPELINE_SOURCE`: push, merge_request_event, schedule, ...) a GitLab pipeline and each
 * of its jobs may run for, from `workflow: rules:`, job `rules:` and `only:`/`except:`. `rules: if:` expressions are
 * evaluated for each source with three-valued logic: what depends on anything but the source (a branch name, a
 * changed file, a variable set in the project) is unknown, and an unknown match counts as "may run". Pure.
 * ref: https://docs.gitlab.com/ci/jobs/job_rules/ and https://docs.gitlab.com/ci/variables/predefined_variables/
 */

import { lookup } from '../../util/record.js';
import type { Pos } from '../model.js';
import { get, type PNode, text } from './tree.js';

export const SOURCES = [
  'push',
  'web',
  'schedule',
  'api',
  'trigger',
  'pipeline',
  'parent_pipeline',
  'chat',
  'webide',
  'external',
  'merge_request_event',
  'external_pull_request_event',
  'ondemand_dast_scan',
  'security_orchestration_policy',
] as const;

/** Sources in which a merge request's (or an external pull request's) code runs. */
export const REVIEW_SOURCES: ReadonlySet<string> = new Set(['merge_request_event', 'external_pull_request_event']);
/** Branch and tag pipelines: everything but merge request and external pull request pipelines. */
const REF_SOURCES = SOURCES.filter((s) => !REVIEW_SOURCES.has(s));

type T = true | false | undefined;
const not = (a: T): T => (a === undefined ? undefined : !a);
const and = (a: T, b: T): T => (a === false || b === false ? false : a === true && b === true ? true : undefined);
const or = (a: T, b: T): T => (a === true || b === true ? true : a === false && b === false ? false : undefined);

/** A variable's value in a pipeline of one source: a string, unset (null), set to something unknown, or unknown. */
type Val =
  | { k: 'str'; v: string }
  | { k: 'null' }
  | { k: 'set'; default?: boolean; prBranch?: boolean }
  | { k: 'unknown' };

/** Predefined variables every pipeline has (their values are unknown here, but never empty). */
const ALWAYS_SET = new Set([
  'CI_COMMIT_SHA',
  'CI_COMMIT_REF_NAME',
  'CI_COMMIT_REF_SLUG',
  'CI_PROJECT_ID',
  'CI_PROJECT_PATH',
  'CI_PROJECT_NAME',
  'CI_PROJECT_NAMESPACE',
  'CI_SERVER_HOST',
  'CI_SERVER_URL',
  'CI_API_V4_URL',
  'CI_PIPELINE_ID',
  'CI_JOB_NAME',
]);

function variable(name: string, source: string): Val {
  const mr = source === 'merge_request_event';
  if (name === 'CI_PIPELINE_SOURCE') return { k: 'str', v: source };
  if (/^CI_MERGE_REQUEST_(ID|IID|EVENT_TYPE|SOURCE_BRANCH_NAME|TARGET_BRANCH_NAME|PROJECT_ID|PROJECT_PATH)$/.test(name))
    return mr ? { k: 'set' } : { k: 'null' };
  if (/^CI_EXTERNAL_PULL_REQUEST_(IID|SOURCE_BRANCH_NAME|TARGET_BRANCH_NAME)$/.test(name))
    return source === 'external_pull_request_event' ? { k: 'set' } : { k: 'null' };
  // Merge request pipelines have no branch or tag of their own.
  if (name === 'CI_COMMIT_BRANCH' || name === 'CI_COMMIT_TAG') {
    if (mr) return { k: 'null' };
    // An external pull request pipeline runs for the pull request's branch, never the default branch.
    if (source === 'external_pull_request_event')
      return name === 'CI_COMMIT_TAG' ? { k: 'null' } : { k: 'set', prBranch: true };
    return { k: 'unknown' };
  }
  if (name === 'CI_DEFAULT_BRANCH') return { k: 'set', default: true };
  if (ALWAYS_SET.has(name)) return { k: 'set' };
  if (name === 'CI_PIPELINE_TRIGGERED') return source === 'trigger' ? { k: 'set' } : { k: 'unknown' };
  return { k: 'unknown' };
}

type Tok =
  | { t: 'var'; v: string }
  | { t: 'str'; v: string }
  | { t: 're'; v: string; flags: string }
  | { t: 'null' }
  | { t: 'op'; v: '==' | '!=' | '=~' | '!~' }
  | { t: 'and' | 'or' | '(' | ')' };

/** Longest `if:` looked at; a longer one is unknown. */
const MAX_IF = 4096;

/** Token patterns, tried in order; a regex literal only right after =~ or !~. */
const LEX: readonly [RegExp, (m: RegExpExecArray, prev: Tok | undefined) => Tok | undefined][] = [
  [/^\$\{?([A-Za-z_]\w*)\}?/, (m) => ({ t: 'var', v: m[1] as string })],
  [/^"([^"]*)"|^'([^']*)'/, (m) => ({ t: 'str', v: (m[1] ?? m[2]) as string })],
  [/^(==|!=|=~|!~)/, (m) => ({ t: 'op', v: m[1] as '==' })],
  [/^&&/, () => ({ t: 'and' })],
  [/^\|\|/, () => ({ t: 'or' })],
  [/^[()]/, (m) => ({ t: m[0] as '(' })],
  [/^null\b/, () => ({ t: 'null' })],
  [
    /^\/((?:\\.|[^/\\])*)\/([a-z]*)/,
    (m, prev) => (prev?.t === 'op' ? { t: 're', v: m[1] as string, flags: m[2] as string } : undefined),
  ],
];

function lex(s: string): Tok[] | undefined {
  const out: Tok[] = [];
  let rest = s.trimStart();
  while (rest) {
    let tok: { t: Tok; len: number } | undefined;
    for (const [re, make] of LEX) {
      const m = re.exec(rest);
      const t = m ? make(m, out.at(-1)) : undefined;
      if (m && t) {
        tok = { t, len: m[0].length };
        break;
      }
    }
    if (!tok) return undefined;
    out.push(tok.t);
    rest = rest.slice(tok.len).trimStart();
  }
  return out;
}

function value(t: Tok | undefined, source: string): Val | undefined {
  if (t?.t === 'var') return variable(t.v, source);
  if (t?.t === 'str') return { k: 'str', v: t.v };
  if (t?.t === 'null') return { k: 'null' };
  return undefined;
}

function truthy(v: Val): T {
  if (v.k === 'str') return v.v !== '';
  if (v.k === 'null') return false;
  return v.k === 'set' ? true : undefined;
}

function equal(a: Val, b: Val): T {
  if (a.k === 'str' && b.k === 'str') return a.v === b.v;
  if (a.k === 'null' && b.k === 'null') return true;
  if (a.k === 'set' && b.k === 'set' && ((a.prBranch && b.default) || (a.default && b.prBranch))) return false;
  if ((a.k === 'null' && (b.k === 'str' || b.k === 'set')) || (b.k === 'null' && (a.k === 'str' || a.k === 'set')))
    return false;
  return undefined;
}

function matches(a: Val, re: { v: string; flags: string }): T {
  if (a.k === 'null') return false;
  if (a.k !== 'str') return undefined;
  try {
    return new RegExp(re.v, re.flags.replace(/[^im]/g, '')).test(a.v);
  } catch {
    return undefined;
  }
}

/** Results by expression and source: a pipeline repeats the same few `if:`s in every job. Bounded. */
const memo = new Map<string, T>();

/** Evaluate an `if:` for one source; undefined when it cannot be decided (or cannot be read). */
export function evaluateIf(expr: string, source: string): T {
  if (expr.length > MAX_IF) return undefined;
  const key = `${source}\0${expr}`;
  if (memo.has(key)) return memo.get(key);
  const r = evaluate(expr, source);
  if (memo.size > 10_000) memo.clear();
  memo.set(key, r);
  return r;
}

function evaluate(expr: string, source: string): T {
  const toks = lex(expr);
  if (!toks || toks.length === 0) return undefined;
  let i = 0;
  let bad = false;
  const primary = (depth: number): T => {
    if (depth > 32) {
      bad = true;
      return undefined;
    }
    const t = toks[i];
    if (t?.t === '(') {
      i++;
      const r = orExpr(depth + 1);
      if (toks[i]?.t !== ')') bad = true;
      i++;
      return r;
    }
    const left = value(t, source);
    if (!left) {
      bad = true;
      return undefined;
    }
    i++;
    const op = toks[i];
    if (op?.t !== 'op') return truthy(left);
    i++;
    const rhs = toks[i++];
    if (op.v === '=~' || op.v === '!~') {
      if (rhs?.t !== 're') {
        // The pattern may come from a variable: unknown.
        if (!value(rhs, source)) bad = true;
        return undefined;
      }
      const r = matches(left, rhs);
      return op.v === '=~' ? r : not(r);
    }
    const right = value(rhs, source);
    if (!right) {
      bad = true;
      return undefined;
    }
    const r = equal(left, right);
    return op.v === '==' ? r : not(r);
  };
  const andExpr = (depth: number): T => {
    let r = primary(depth);
    while (toks[i]?.t === 'and') {
      i++;
      r = and(r, primary(depth));
    }
    return r;
  };
  const orExpr = (depth: number): T => {
    let r = andExpr(depth);
    while (toks[i]?.t === 'or') {
      i++;
      r = or(r, andExpr(depth));
    }
    return r;
  };
  const r = orExpr(0);
  return bad || i !== toks.length ? undefined : r;
}

export interface RuleOutcome {
  /** The sources the job (or pipeline) may run for, each with the `when:` values it may run with. */
  readonly runs: ReadonlyMap<string, ReadonlySet<string>>;
  /** Where the decision is written. */
  readonly pos?: Pos;
}

/** Walk `rules:` for each source: the first rule that surely matches decides; one that may match may run. */
export function evaluateRules(rules: PNode, defaultWhen: string): RuleOutcome {
  const runs = new Map<string, Set<string>>();
  const list = rules.kind === 'seq' ? rules.items : [];
  for (const source of SOURCES) {
    const whens = new Set<string>();
    for (const rule of list) {
      if (rule.kind !== 'map') continue;
      let m: T = true;
      const cond = get(rule, 'if');
      if (cond) m = and(m, evaluateIf(text(cond) ?? '', source));
      // changes/exists depend on the files of the commit: unknown here.
      if (get(rule, 'changes') || get(rule, 'exists')) m = and(m, undefined);
      if (m === false) continue;
      const when = text(get(rule, 'when')) ?? defaultWhen;
      if (when === 'never') {
        if (m === true) break;
        continue;
      }
      whens.add(when);
      if (m === true) break;
    }
    if (whens.size) runs.set(source, whens);
  }
  return { runs, pos: rules.pos };
}

/** `only:`/`except:` ref keywords and the sources they stand for. */
const KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  branches: REF_SOURCES,
  tags: REF_SOURCES,
  merge_requests: ['merge_request_event'],
  external_pull_requests: ['external_pull_request_event'],
  schedules: ['schedule'],
  pushes: ['push'],
  web: ['web'],
  api: ['api'],
  triggers: ['trigger'],
  pipelines: ['pipeline', 'parent_pipeline'],
  chat: ['chat'],
  external: ['external'],
};

/** The refs of `only:`/`except:` (a list, or `refs:` of a mapping); undefined when only variables/changes are given. */
function refsOf(v: PNode): { refs: string[]; conditional: boolean } {
  if (v.kind === 'seq') return { refs: v.items.map((i) => text(i) ?? ''), conditional: false };
  if (v.kind === 'scalar') return { refs: [text(v) ?? ''], conditional: false };
  const refs = get(v, 'refs');
  const conditional = ['variables', 'changes', 'kubernetes'].some((k) => get(v, k) !== undefined);
  if (!refs) return { refs: ['branches', 'tags'], conditional };
  return { refs: refsOf(refs).refs, conditional };
}

/** `only:`/`except:` for one job. A branch name or pattern stands for branch pipelines of every source. */
export function evaluateOnlyExcept(only: PNode | undefined, except: PNode | undefined, when: string): RuleOutcome {
  const may = new Set<string>();
  const o = only ? refsOf(only) : { refs: ['branches', 'tags'], conditional: false };
  for (const r of o.refs) for (const s of lookup(KEYWORDS, r) ?? REF_SOURCES) may.add(s);
  if (except) {
    const e = refsOf(except);
    // Only what is surely excluded goes: a keyword without variables or changes beside it.
    if (!e.conditional)
      for (const r of e.refs)
        for (const s of lookup(KEYWORDS, r) ?? []) if (r !== 'branches' && r !== 'tags') may.delete(s);
  }
  const runs = new Map<string, ReadonlySet<string>>();
  if (when !== 'never') for (const s of may) runs.set(s, new Set([when]));
  return { runs, ...(only ? { pos: only.pos } : except ? { pos: except.pos } : {}) };
}
