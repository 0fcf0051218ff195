/**
 * One GitHub Actions file (a workflow, or an action's `action.yml`) into the pipeline model: pure, text in, model or
 * one located error out. YAML is read by the policy's safe parser (bounded size, depth and aliases, unique keys, the
 * YAML 1.2 core schema, so `on:` is the string "on" as GitHub reads it).
 * ref: https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-syntax
 * ref: https://docs.github.com/en/actions/reference/workflows-and-actions/metadata-syntax
 */
import type { Pair, YAMLMap, Node as YamlNode } from 'yaml';
import { printable } from '../../errors.js';
import { parseYaml, type YamlSource } from '../../policy/yaml.js';
import { lazyRequire } from '../../util/lazy.js';
import { emptyRecord } from '../../util/record.js';
import type { Job, LoadError, Located, Permissions, Pos, Step, Trigger, Workflow } from '../model.js';

const yaml = lazyRequire<typeof import('yaml')>('yaml');

/** Workflows are small (GitHub's largest real ones are a few hundred KiB); anything larger is refused unparsed. */
export const MAX_WORKFLOW_BYTES = 1024 * 1024;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const typeName = (v: unknown): string =>
  v === null || v === undefined
    ? 'nothing'
    : Array.isArray(v)
      ? 'a list'
      : typeof v === 'object'
        ? 'a mapping'
        : `a ${typeof v}`;

/** Thrown inside the reader to stop at the first structural problem; caught and turned into a LoadError. */
class Bad extends Error {
  constructor(
    readonly pos: Pos,
    message: string,
  ) {
    super(message);
  }
}

/** Positions of nodes in the parsed document, looked up by their path of keys and indexes. */
class Positions {
  /** Each mapping's pairs by key (the first of a key, as a search from the start finds), built when first asked. */
  private readonly keys = new WeakMap<object, Map<string, Pair>>();

  constructor(private readonly src: YamlSource) {}

  private pair(map: YAMLMap, key: string): Pair | undefined {
    let index = this.keys.get(map);
    if (!index) {
      const { isScalar } = yaml();
      index = new Map();
      for (const p of map.items as Pair[])
        if (isScalar(p.key)) {
          const k = String(p.key.value);
          if (!index.has(k)) index.set(k, p);
        }
      this.keys.set(map, index);
    }
    return index.get(key);
  }

  node(path: readonly (string | number)[]): YamlNode | undefined {
    const { isMap, isSeq } = yaml();
    let node: unknown = this.src.doc.contents;
    for (const seg of path) {
      if (isMap(node)) node = this.pair(node, String(seg))?.value;
      else if (isSeq(node) && typeof seg === 'number') node = node.items[seg];
      else return undefined;
    }
    return (node as YamlNode | undefined) ?? undefined;
  }

  private at(offset: number): Pos {
    const p = this.src.lines.linePos(offset);
    return { line: p.line, column: p.col };
  }

  /** Where the value at `path` starts (its nearest existing ancestor's start when it has no node). */
  of(path: readonly (string | number)[]): Pos {
    for (let n = path.length; n >= 0; n--) {
      const node = this.node(path.slice(0, n));
      if (node?.range) return this.at(node.range[0]);
    }
    return { line: 1, column: 1 };
  }

  /** Where the key `key` of the mapping at `path` is (the line a reader looks for), else the mapping's start. */
  key(path: readonly (string | number)[], key: string): Pos {
    const { isMap } = yaml();
    const map = this.node(path);
    if (isMap(map)) {
      const k = this.pair(map, key)?.key as YamlNode | undefined;
      if (k?.range) return this.at(k.range[0]);
    }
    return this.of(path);
  }

  /** A string value with its key's position; for literal block scalars, also the line the text starts on. */
  located(path: readonly (string | number)[], key: string, value: string): Located {
    const { isScalar } = yaml();
    const node = this.node([...path, key]);
    const pos = this.key(path, key);
    if (isScalar(node) && node.type === 'BLOCK_LITERAL' && node.range) {
      return { value, pos, bodyLine: this.at(node.range[0]).line + 1 };
    }
    if (node?.range) return { value, pos, bodyLine: this.at(node.range[0]).line };
    return { value, pos };
  }
}

/** A scalar as the text GitHub would see (numbers and booleans printed), undefined for mappings, lists and null. */
function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function strings(p: Positions, path: (string | number)[], v: unknown, what: string): Record<string, Located> {
  if (v === undefined || v === null) return {};
  // An expression may stand for the whole mapping (`env: ${{ fromJSON(...) }}`): kept as one entry.
  if (typeof v === 'string') return { '': p.located(path.slice(0, -1), String(path.at(-1)), v) };
  if (!isObj(v)) throw new Bad(p.of(path), `${what}: expected a mapping, found ${typeName(v)}`);
  const out = emptyRecord<Located>();
  for (const [k, val] of Object.entries(v)) {
    const text = scalarText(val);
    if (text !== undefined) out[k] = p.located(path, k, text);
  }
  return out;
}

function permissions(p: Positions, path: (string | number)[], v: unknown): Permissions | undefined {
  if (v === undefined) return undefined;
  const pos = p.key(path.slice(0, -1), String(path.at(-1)));
  if (v === 'read-all' || v === 'write-all') return { kind: 'all', level: v === 'read-all' ? 'read' : 'write', pos };
  // An empty `permissions:` (null) is read by GitHub as no permissions.
  if (v === null) return { kind: 'scopes', scopes: {}, pos };
  if (!isObj(v)) throw new Bad(pos, `permissions: expected read-all, write-all or a mapping, found ${typeName(v)}`);
  const scopes: Record<string, string> = {};
  for (const [k, level] of Object.entries(v)) {
    if (typeof level !== 'string') throw new Bad(p.of([...path, k]), `permissions.${k}: expected read, write or none`);
    scopes[k] = level;
  }
  return { kind: 'scopes', scopes, pos };
}

function triggers(p: Positions, on: unknown): Trigger[] {
  if (on === undefined) throw new Bad({ line: 1, column: 1 }, "no 'on:' (a workflow needs at least one trigger)");
  if (typeof on === 'string') return [{ event: on, config: null, pos: p.of(['on']) }];
  if (Array.isArray(on)) {
    return on.map((e, i) => {
      if (typeof e !== 'string')
        throw new Bad(p.of(['on', i]), `on[${i}]: expected an event name, found ${typeName(e)}`);
      return { event: e, config: null, pos: p.of(['on', i]) };
    });
  }
  if (!isObj(on)) throw new Bad(p.of(['on']), `on: expected an event, a list or a mapping, found ${typeName(on)}`);
  return Object.entries(on).map(([event, config]) => ({ event, config: config ?? null, pos: p.key(['on'], event) }));
}

function optionalString(p: Positions, path: (string | number)[], key: string, v: unknown): Located | undefined {
  const text = scalarText(v);
  return text === undefined ? undefined : p.located(path, key, text);
}

function step(p: Positions, path: (string | number)[], v: unknown, index: number): Step {
  if (!isObj(v)) throw new Bad(p.of(path), `${dotted(path)}: expected a step (a mapping), found ${typeName(v)}`);
  const uses = typeof v.uses === 'string' ? p.located(path, 'uses', v.uses) : undefined;
  const run = scalarText(v.run);
  if (v.uses !== undefined && uses === undefined)
    throw new Bad(p.key(path, 'uses'), `${dotted(path)}.uses: expected a string, found ${typeName(v.uses)}`);
  const stepIf = optionalString(p, path, 'if', v.if);
  // Assigned in the order the spread literal had (fewer copies: tens of thousands of steps in a large repository).
  const out: { -readonly [K in keyof Step]?: Step[K] } = { index };
  if (typeof v.id === 'string') out.id = v.id;
  if (typeof v.name === 'string') out.name = v.name;
  out.pos = p.of(path);
  if (uses) out.uses = uses;
  if (run !== undefined) out.run = p.located(path, 'run', run);
  out.with = strings(p, [...path, 'with'], v.with, `${dotted(path)}.with`);
  out.env = strings(p, [...path, 'env'], v.env, `${dotted(path)}.env`);
  if (stepIf) out.if = stepIf;
  out.continueOnError = v['continue-on-error'] === true || typeof v['continue-on-error'] === 'string';
  if (typeof v.shell === 'string') out.shell = v.shell;
  if (typeof v['working-directory'] === 'string') out.workingDirectory = v['working-directory'];
  return out as Step;
}

function steps(p: Positions, path: (string | number)[], v: unknown): Step[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Bad(p.of(path), `${dotted(path)}: expected a list of steps, found ${typeName(v)}`);
  return v.map((s, i) => step(p, [...path, i], s, i));
}

function runsOn(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.map((x) => scalarText(x) ?? '').filter((x) => x !== '');
  if (isObj(v)) {
    const labels = Array.isArray(v.labels) ? v.labels.map(String) : typeof v.labels === 'string' ? [v.labels] : [];
    return [...(typeof v.group === 'string' ? [`group:${v.group}`] : []), ...labels];
  }
  return [];
}

function images(p: Positions, path: (string | number)[], job: Obj): Located[] {
  const out: Located[] = [];
  const c = job.container;
  if (typeof c === 'string') out.push(p.located(path, 'container', c));
  else if (isObj(c) && typeof c.image === 'string') out.push(p.located([...path, 'container'], 'image', c.image));
  if (isObj(job.services)) {
    for (const [name, s] of Object.entries(job.services)) {
      if (typeof s === 'string') out.push(p.located([...path, 'services'], name, s));
      else if (isObj(s) && typeof s.image === 'string')
        out.push(p.located([...path, 'services', name], 'image', s.image));
    }
  }
  return out;
}

/** `defaults.run.shell` of a workflow or job mapping. */
function defaultShell(v: Obj): string | undefined {
  const run = isObj(v.defaults) ? v.defaults.run : undefined;
  return isObj(run) && typeof run.shell === 'string' ? run.shell : undefined;
}

function job(p: Positions, id: string, v: unknown, workflowShell?: string): Job {
  const path = ['jobs', id];
  if (!isObj(v)) throw new Bad(p.of(path), `jobs.${id}: expected a job (a mapping), found ${typeName(v)}`);
  const perms = permissions(p, [...path, 'permissions'], v.permissions);
  const env = v.environment;
  const environment =
    typeof env === 'string'
      ? p.located(path, 'environment', env)
      : isObj(env) && typeof env.name === 'string'
        ? p.located([...path, 'environment'], 'name', env.name)
        : undefined;
  const needs =
    typeof v.needs === 'string' ? [v.needs] : Array.isArray(v.needs) ? v.needs.map((n) => String(n)) : ([] as string[]);
  const jobIf = optionalString(p, path, 'if', v.if);
  const shell = defaultShell(v) ?? workflowShell;
  const secrets =
    v.secrets === 'inherit'
      ? { value: 'inherit' as const, pos: p.key(path, 'secrets') }
      : isObj(v.secrets)
        ? {
            value: Object.fromEntries(Object.entries(v.secrets).map(([k, s]) => [k, scalarText(s) ?? ''])),
            pos: p.key(path, 'secrets'),
          }
        : undefined;
  if (v.uses !== undefined && typeof v.uses !== 'string')
    throw new Bad(p.key(path, 'uses'), `jobs.${id}.uses: expected a string, found ${typeName(v.uses)}`);
  return {
    id,
    ...(typeof v.name === 'string' ? { name: v.name } : {}),
    pos: p.key(['jobs'], id),
    runsOn: runsOn(v['runs-on']),
    ...(v['runs-on'] !== undefined ? { runsOnPos: p.key(path, 'runs-on') } : {}),
    ...(perms ? { permissions: perms } : {}),
    ...(jobIf ? { if: jobIf } : {}),
    ...(environment ? { environment } : {}),
    needs,
    ...(typeof v.uses === 'string' ? { uses: p.located(path, 'uses', v.uses) } : {}),
    ...(secrets ? { secrets } : {}),
    with: strings(p, [...path, 'with'], v.with, `jobs.${id}.with`),
    env: strings(p, [...path, 'env'], v.env, `jobs.${id}.env`),
    images: images(p, path, v),
    steps: steps(p, [...path, 'steps'], v.steps),
    ...(v['continue-on-error'] === true || typeof v['continue-on-error'] === 'string' ? { continueOnError: true } : {}),
    ...(shell !== undefined ? { defaultShell: shell } : {}),
  };
}

function dotted(path: readonly (string | number)[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function workflow(p: Positions, file: string, doc: Obj): Workflow {
  const jobs = doc.jobs;
  if (!isObj(jobs))
    throw new Bad(p.of(['jobs']), `jobs: expected a mapping of job ids to jobs, found ${typeName(jobs)}`);
  const perms = permissions(p, ['permissions'], doc.permissions);
  return {
    file,
    kind: 'workflow',
    ...(typeof doc.name === 'string' ? { name: doc.name } : {}),
    triggers: triggers(p, doc.on),
    ...(perms ? { permissions: perms } : {}),
    env: strings(p, ['env'], doc.env, 'env'),
    jobs: Object.entries(jobs).map(([id, j]) => job(p, id, j, defaultShell(doc))),
  };
}

function action(p: Positions, file: string, doc: Obj): Workflow {
  const runs = doc.runs;
  if (!isObj(runs))
    throw new Bad(p.of(['runs']), `runs: expected a mapping (an action's runs.using), found ${typeName(runs)}`);
  const using = typeof runs.using === 'string' ? runs.using : '';
  if (!using) throw new Bad(p.of(['runs']), 'runs.using: expected composite, docker or nodeNN');
  const image =
    typeof runs.image === 'string' && runs.image.startsWith('docker://')
      ? [p.located(['runs'], 'image', runs.image)]
      : [];
  const only: Job = {
    id: '(action)',
    pos: p.of(['runs']),
    runsOn: [],
    needs: [],
    with: {},
    env: {},
    images: image,
    steps: using === 'composite' ? steps(p, ['runs', 'steps'], runs.steps) : [],
  };
  return {
    file,
    kind: 'action',
    ...(typeof doc.name === 'string' ? { name: doc.name } : {}),
    triggers: [],
    env: {},
    jobs: [only],
    using,
  };
}

/** Parse one file's text. `kind` says which schema it follows (by where it was found). Never throws for bad input. */
export function parseGitHubFile(file: string, text: string, kind: 'workflow' | 'action'): Workflow | LoadError {
  const clean = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const parsed = parseYaml(clean, { maxBytes: MAX_WORKFLOW_BYTES, what: `a ${kind} file` });
  if ('problems' in parsed) {
    const first = parsed.problems[0] ?? { line: 1, column: 1, message: 'cannot be parsed' };
    const more = parsed.problems.length > 1 ? ` (and ${parsed.problems.length - 1} more)` : '';
    return { file, line: first.line, column: first.column, message: `${first.message}${more}` };
  }
  const doc = parsed.value;
  if (!isObj(doc))
    return { file, line: 1, column: 1, message: `expected a mapping at the top, found ${typeName(doc)}` };
  const p = new Positions(parsed);
  try {
    return kind === 'workflow' ? workflow(p, file, doc) : action(p, file, doc);
  } catch (err) {
    if (err instanceof Bad) return { file, ...err.pos, message: printable(err.message, 200) };
    throw err;
  }
}

export function isLoadError(v: Workflow | LoadError): v is LoadError {
  return 'message' in v;
}
