/**
 * A GitLab CI configuration (the root `.gitlab-ci.yml` and the local files it includes, already parsed into trees)
 * into the pipeline model: includes merged (deep merge of hashes, later wins, the including file last), `extends:`
 * resolved (multiple parents, hidden `.jobs`, cycles refused, at most 11 levels as GitLab allows), `!reference`
 * resolved, `default:` (and the old top-level image/services/before_script/after_script) inherited, and the pipeline
 * sources each job runs for worked out from `workflow: rules:`, `rules:` and `only:`/`except:`. Pure.
 * ref: https://docs.gitlab.com/ci/yaml/
 */
import { printable } from '../../errors.js';
import { emptyRecord } from '../../util/record.js';
import type { GitLabJob, Include, Job, Located, Pos, Step, Trigger, Workflow } from '../model.js';
import { evaluateOnlyExcept, evaluateRules, REVIEW_SOURCES, type RuleOutcome, SOURCES } from './sources.js';
import {
  deepMerge,
  describe,
  GitLabError,
  get,
  keyPos,
  MAX_EXPANDED_NODES,
  type PEntry,
  type PMap,
  type PNode,
  type PScalar,
  text,
} from './tree.js';

/** GitLab's limit on `extends:` nesting. ref: https://docs.gitlab.com/ci/yaml/#extends */
export const MAX_EXTENDS_DEPTH = 11;
/** GitLab's limit on nested `!reference` tags. */
export const MAX_REFERENCE_DEPTH = 10;

/** Top-level keys that are not jobs. */
const RESERVED = new Set([
  'image',
  'services',
  'stages',
  'types',
  'before_script',
  'after_script',
  'variables',
  'cache',
  'include',
  'workflow',
  'default',
  'spec',
]);
/** Keys a job takes from `default:` when it does not set them. */
const DEFAULT_KEYS = [
  'image',
  'services',
  'before_script',
  'after_script',
  'tags',
  'id_tokens',
  'hooks',
  'cache',
  'artifacts',
  'retry',
  'timeout',
  'interruptible',
];
const LEGACY_GLOBALS = ['image', 'services', 'before_script', 'after_script', 'cache'];

/** One entry of a file's `include:`, with the normalised path of a local one (undefined: it leaves the tree). */
export interface IncludeEntry extends Include {
  readonly local?: string;
}

/**
 * The `include:` entries of one file (a string, a mapping, or a list of either). A string is a local path, or a
 * remote URL when it starts with http(s)://.
 */
export function readIncludes(tree: PNode): IncludeEntry[] {
  const inc = get(tree, 'include');
  if (!inc || (inc.kind === 'scalar' && inc.value === null)) return [];
  const items = inc.kind === 'seq' ? inc.items : [inc];
  const out: IncludeEntry[] = [];
  for (const item of items) {
    const s = text(item);
    if (s !== undefined) {
      out.push(
        /^https?:\/\//i.test(s)
          ? { kind: 'remote', value: s, pos: item.pos }
          : { kind: 'local', value: s, pos: item.pos, ...localOf(s) },
      );
      continue;
    }
    if (item.kind !== 'map')
      throw new GitLabError(item.pos, `include: expected a path or a mapping, found ${describe(item)}`);
    const kind = (['local', 'remote', 'project', 'template', 'component'] as const).find((k) => get(item, k));
    if (!kind) throw new GitLabError(item.pos, 'include: expected one of local, remote, project, template, component');
    const value = text(get(item, kind));
    if (value === undefined)
      throw new GitLabError(
        get(item, kind)?.pos ?? item.pos,
        `include.${kind}: expected a string, found ${describe(get(item, kind))}`,
      );
    const ref = text(get(item, 'ref'));
    const integrity = text(get(item, 'integrity'));
    const pos = keyPos(item, kind) ?? item.pos;
    if (kind === 'project') {
      // One project include may name several files; each is one include of the same reference.
      const files = get(item, 'file');
      const names = files?.kind === 'seq' ? files.items.map((f) => text(f) ?? '') : [text(files) ?? ''];
      for (const f of names)
        out.push({ kind, value: `${value}${f ? `:${f.replace(/^\/?/, '/')}` : ''}`, ...(ref ? { ref } : {}), pos });
      continue;
    }
    out.push({
      kind,
      value,
      pos,
      ...(ref ? { ref } : {}),
      ...(integrity ? { integrity } : {}),
      ...(kind === 'local' ? localOf(value) : {}),
    });
  }
  return out;
}

/** A local include's path relative to the root, or nothing when it leaves the tree. */
function localOf(value: string): { local?: string } {
  const parts: string[] = [];
  for (const seg of value.replace(/^\/+/, '').split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length === 0) return {};
      parts.pop();
    } else parts.push(seg);
  }
  return parts.length ? { local: parts.join('/') } : {};
}

/** What the loader gives: every parsed file, and for each, the local files it includes (in order, already read). */
export interface Sources {
  readonly root: string;
  readonly trees: ReadonlyMap<string, PNode>;
  readonly children: ReadonlyMap<string, readonly string[]>;
  /** The non-local includes of every file read (those the model lists and unpinned-uses judges). */
  readonly includes: readonly Include[];
}

export interface Built {
  readonly workflow: Workflow;
  /** Things not read or not resolved, that do not make the audit fail (an `extends` of a job from a remote include). */
  readonly notes: readonly { readonly pos: Pos; readonly message: string }[];
}

/** Nodes built for the whole pipeline (every job with its extends, default: and references resolved). */
export const MAX_BUILD_NODES = 10 * MAX_EXPANDED_NODES;

class Budget {
  private n = 0;
  spend(k: number, pos: Pos): void {
    this.n += k;
    if (this.n > MAX_BUILD_NODES)
      throw new GitLabError(pos, `extends and !reference expand to more than ${MAX_BUILD_NODES} nodes`);
  }
}

/** Merge a file with what it includes: the included files first (in order), the file itself on top. */
function effective(file: string, src: Sources, seen: Set<string>): PNode {
  seen.add(file);
  const own = src.trees.get(file) as PNode;
  let merged: PNode | undefined;
  for (const child of src.children.get(file) ?? []) {
    if (seen.has(child)) continue;
    merged = deepMerge(merged, effective(child, src, seen));
  }
  if (own.kind !== 'map') return merged ?? own;
  const entries = new Map(own.entries);
  entries.delete('include');
  return deepMerge(merged, { kind: 'map', entries, pos: own.pos });
}

export function buildPipeline(src: Sources): Built {
  const rootTree = src.trees.get(src.root);
  if (rootTree?.kind !== 'map')
    throw new GitLabError(
      rootTree?.pos ?? { line: 1, column: 1, file: src.root },
      `expected a mapping at the top, found ${describe(rootTree)}`,
    );
  const top = effective(src.root, src, new Set()) as PMap;
  return new Builder(src, top).build();
}

class Builder {
  private readonly notes: { pos: Pos; message: string }[] = [];
  private readonly resolved = new Map<string, PMap>();
  private readonly budget = new Budget();
  /** Non-local includes exist: an unknown `extends` or `!reference` target may be defined there. */
  private readonly unread: boolean;

  constructor(
    private readonly src: Sources,
    private readonly top: PMap,
  ) {
    this.unread = src.includes.some((i) => i.kind !== 'local');
  }

  private mp(p: Pos): Pos {
    return p.file === this.src.root || p.file === undefined ? { line: p.line, column: p.column } : p;
  }

  private located(n: PScalar, value: string, at: Pos = n.pos): Located {
    return {
      value,
      pos: this.mp(at),
      ...(n.bodyLine !== undefined && at === n.pos ? { bodyLine: n.bodyLine } : {}),
    };
  }

  build(): Built {
    const wf = get(this.top, 'workflow');
    const wfRules = get(wf, 'rules');
    const wfOutcome: RuleOutcome | undefined = wfRules ? evaluateRules(this.deref(wfRules, 0), 'always') : undefined;
    const wfSources = wfOutcome ? [...wfOutcome.runs.keys()] : [...SOURCES];
    const trigPos = this.mp(wfRules ? (keyPos(wf, 'rules') ?? wfRules.pos) : { line: 1, column: 1 });
    const triggers: Trigger[] = wfSources.map((event) => ({ event, config: null, pos: trigPos }));
    const defaults = this.defaults();
    const jobs: Job[] = [];
    for (const [name, entry] of this.top.entries) {
      if (RESERVED.has(name) || name.startsWith('.')) continue;
      if (entry.value.kind !== 'map')
        throw new GitLabError(
          entry.value.pos,
          `${printable(name, 60)}: expected a job (a mapping), found ${describe(entry.value)}`,
        );
      jobs.push(this.job(name, entry, defaults, wfSources, wfOutcome !== undefined));
    }
    const name = text(get(wf, 'name'));
    const included = [...this.src.trees.keys()].filter((f) => f !== this.src.root);
    return {
      workflow: {
        file: this.src.root,
        kind: 'workflow',
        platform: 'gitlab',
        ...(name !== undefined ? { name } : {}),
        triggers,
        env: this.variables(this.top, 'variables'),
        jobs,
        includes: this.src.includes.map((i) => ({ ...i, pos: this.mp(i.pos) })),
        included,
        stages: this.stages(),
      },
      notes: this.notes,
    };
  }

  /** `stages:` (or the old `types:`) between `.pre` and `.post`; GitLab's default list when absent. */
  private stages(): string[] {
    const st = get(this.top, 'stages') ?? get(this.top, 'types');
    const given = st?.kind === 'seq' ? st.items.map((i) => text(i)).filter((s) => s !== undefined) : undefined;
    return ['.pre', ...(given ?? ['build', 'test', 'deploy']).filter((s) => s !== '.pre' && s !== '.post'), '.post'];
  }

  private defaults(): PMap {
    const entries = new Map<string, PEntry>();
    for (const k of LEGACY_GLOBALS) {
      const e = this.top.entries.get(k);
      if (e) entries.set(k, e);
    }
    const d = get(this.top, 'default');
    if (d && d.kind !== 'map') throw new GitLabError(d.pos, `default: expected a mapping, found ${describe(d)}`);
    if (d) for (const [k, e] of d.entries) entries.set(k, e);
    return { kind: 'map', entries, pos: d?.pos ?? this.top.pos };
  }

  /** A job (or hidden job) with its `extends:` chain merged in. */
  private extended(name: string, stack: readonly string[], at: Pos): PMap | undefined {
    const done = this.resolved.get(name);
    if (done) return done;
    if (stack.includes(name))
      throw new GitLabError(at, `extends: circular: ${[...stack, name].map((s) => printable(s, 40)).join(' -> ')}`);
    if (stack.length > MAX_EXTENDS_DEPTH)
      throw new GitLabError(
        at,
        `extends: nested more than ${MAX_EXTENDS_DEPTH} levels (${printable(stack[0] ?? '', 40)})`,
      );
    const own = get(this.top, name);
    if (!own) return undefined;
    if (own.kind !== 'map')
      throw new GitLabError(own.pos, `${printable(name, 60)}: expected a mapping, found ${describe(own)}`);
    const ext = get(own, 'extends');
    const extAt = keyPos(own, 'extends') ?? own.pos;
    const parents = !ext ? [] : ext.kind === 'seq' ? ext.items.map((i) => text(i)) : [text(ext)];
    let merged: PNode | undefined;
    for (const p of parents) {
      if (p === undefined)
        throw new GitLabError(extAt, `${printable(name, 60)}.extends: expected a job name or a list of them`);
      const parent = this.extended(p, [...stack, name], extAt);
      if (!parent) {
        if (!this.unread)
          throw new GitLabError(
            extAt,
            `${printable(name, 60)}.extends: ${printable(p, 60)} is not defined in the configuration`,
          );
        this.notes.push({
          pos: extAt,
          message: `${printable(name, 60)} extends ${printable(p, 60)}, which is not in the files read (a remote, project, template or component include?): what it adds is not audited`,
        });
        continue;
      }
      this.budget.spend(parent.entries.size, extAt);
      merged = deepMerge(merged, parent);
    }
    const entries = new Map(own.entries);
    entries.delete('extends');
    const out = deepMerge(merged, { kind: 'map', entries, pos: own.pos }) as PMap;
    this.resolved.set(name, out);
    return out;
  }

  /** `!reference [a, b, ...]` tags resolved against the merged configuration; lists from references are flattened. */
  private deref(n: PNode, depth: number): PNode {
    if (depth > MAX_REFERENCE_DEPTH)
      throw new GitLabError(n.pos, `!reference: nested more than ${MAX_REFERENCE_DEPTH} levels`);
    this.budget.spend(1, n.pos);
    if (n.kind === 'scalar') return n;
    if (n.kind === 'map') {
      const entries = new Map<string, PEntry>();
      for (const [k, e] of n.entries) entries.set(k, { key: e.key, value: this.deref(e.value, depth) });
      return { kind: 'map', entries, pos: n.pos };
    }
    if (n.reference) return this.follow(n, depth) ?? { kind: 'seq', items: [], pos: n.pos };
    const items: PNode[] = [];
    for (const i of n.items) {
      const r = this.deref(i, depth);
      if (i.kind === 'seq' && i.reference && r.kind === 'seq') for (const x of r.items) items.push(x);
      else items.push(r);
    }
    return { kind: 'seq', items, pos: n.pos };
  }

  private follow(ref: PNode & { kind: 'seq' }, depth: number): PNode | undefined {
    const path = ref.items.map((i) => text(i));
    if (path.length === 0 || path.some((p) => p === undefined))
      throw new GitLabError(ref.pos, '!reference: expected a list of keys ([.job, script])');
    let node: PNode | undefined = this.top;
    for (const p of path as string[]) node = get(node, p);
    if (!node) {
      const where = (path as string[]).map((p) => printable(p, 40)).join('.');
      if (!this.unread) throw new GitLabError(ref.pos, `!reference [${where}]: not defined in the configuration`);
      this.notes.push({
        pos: ref.pos,
        message: `!reference [${where}] is not in the files read: what it adds is not audited`,
      });
      return undefined;
    }
    return this.deref(node, depth + 1);
  }

  private variables(map: PNode | undefined, key: string): Record<string, Located> {
    const v = get(map, key);
    if (!v || (v.kind === 'scalar' && v.value === null)) return {};
    if (v.kind !== 'map')
      throw new GitLabError(v.pos, `${key}: expected a mapping of names to values, found ${describe(v)}`);
    const out = emptyRecord<Located>();
    for (const [name, e] of v.entries) {
      const val = e.value.kind === 'map' ? get(e.value, 'value') : e.value;
      const s = text(val);
      out[name] = { value: s ?? '', pos: this.mp(e.key) };
    }
    return out;
  }

  private job(name: string, entry: PEntry, defaults: PMap, wfSources: readonly string[], wfRules: boolean): Job {
    const ext = this.extended(name, [], entry.key) as PMap;
    const raw = this.deref(ext, 0) as PMap;
    // default: keys the job does not set, unless `inherit: default:` says otherwise.
    const inherit = get(get(raw, 'inherit'), 'default');
    const allowed = (k: string): boolean =>
      !inherit ||
      (inherit.kind === 'scalar'
        ? inherit.value !== false
        : inherit.kind === 'seq' && inherit.items.some((i) => text(i) === k));
    const entries = new Map(raw.entries);
    for (const k of DEFAULT_KEYS) {
      const d = defaults.entries.get(k);
      if (d && !entries.has(k) && allowed(k)) entries.set(k, { key: d.key, value: this.deref(d.value, 0) });
    }
    const j: PMap = { kind: 'map', entries, pos: raw.pos };
    const when = text(get(j, 'when')) ?? 'on_success';
    const rules = get(j, 'rules');
    const only = get(j, 'only');
    const except = get(j, 'except');
    let outcome: RuleOutcome;
    if (rules) outcome = evaluateRules(rules, when);
    else if (only || except) outcome = evaluateOnlyExcept(only, except, when);
    // No rules: every pipeline workflow: rules creates; else branch and tag pipelines (not merge request ones).
    else
      outcome = {
        runs: new Map(wfSources.filter((s) => wfRules || !REVIEW_SOURCES.has(s)).map((s) => [s, new Set([when])])),
      };
    const sources = SOURCES.filter((s) => wfSources.includes(s) && outcome.runs.has(s));
    const whens = sources.flatMap((s) => [...(outcome.runs.get(s) ?? [])]);
    const allowFailure =
      get(j, 'allow_failure') !== undefined
        ? !(text(get(j, 'allow_failure')) === 'false')
        : rules?.kind === 'seq' && rules.items.some((r) => text(get(r, 'allow_failure')) === 'true');
    const envNode = get(j, 'environment');
    const envName = envNode?.kind === 'map' ? get(envNode, 'name') : envNode;
    const envText = text(envName);
    const envAction = text(get(envNode, 'action'));
    const jobPos = this.mp(entry.key);
    const gitlab: GitLabJob = {
      sources,
      sourcesPos: this.mp(keyPos(j, rules ? 'rules' : only ? 'only' : 'except') ?? entry.key),
      manual: whens.length > 0 && whens.every((w) => w === 'manual'),
      ...(text(get(j, 'stage')) !== undefined ? { stage: text(get(j, 'stage')) as string } : {}),
      ...(envAction ? { environmentAction: envAction } : {}),
      idTokens: this.names(get(j, 'id_tokens')),
      secrets: this.names(get(j, 'secrets')),
      ...this.trigger(get(j, 'trigger')),
      ...this.ordering(j, rules, when, whens),
    };
    const tags = get(j, 'tags');
    return {
      id: name,
      pos: jobPos,
      runsOn: tags?.kind === 'seq' ? tags.items.map((t) => text(t) ?? '').filter((t) => t) : [],
      ...(tags ? { runsOnPos: this.mp(keyPos(j, 'tags') ?? tags.pos) } : {}),
      ...(envText !== undefined && envName?.kind === 'scalar' ? { environment: this.located(envName, envText) } : {}),
      needs: this.needs(j),
      with: {},
      env: this.variables(j, 'variables'),
      images: this.images(j),
      steps: this.steps(name, j),
      ...(allowFailure ? { continueOnError: true } : {}),
      gitlab,
    };
  }

  /** What decides when the job runs relative to others, and the caches it shares (gate-bypass, artifact-poisoning). */
  private ordering(j: PMap, rules: PNode | undefined, when: string, whens: readonly string[]): Partial<GitLabJob> {
    const out: { -readonly [K in keyof GitLabJob]?: GitLabJob[K] } = { whens: [...new Set(whens)] };
    const needs = get(j, 'needs');
    if (needs?.kind === 'seq')
      out.needs = needs.items.flatMap((i) => {
        const s = text(i);
        if (s !== undefined) return [{ job: s, optional: false }];
        if (get(i, 'project') || get(i, 'pipeline')) return [];
        const name = text(get(i, 'job'));
        return name === undefined ? [] : [{ job: name, optional: text(get(i, 'optional')) === 'true' }];
      });
    const af = get(j, 'allow_failure');
    if (af?.kind === 'map') {
      const codes = get(af, 'exit_codes');
      const list = codes?.kind === 'seq' ? codes.items : codes ? [codes] : [];
      out.allowFailure = list.map((c) => Number(text(c))).filter((n) => Number.isInteger(n));
    } else if (af) {
      if (text(af) !== 'false') out.allowFailure = true;
    } else if (rules?.kind === 'seq' && rules.items.some((r) => text(get(r, 'allow_failure')) === 'true'))
      out.allowFailure = true;
    // A manual job outside rules: is optional (allow_failure true) unless it says otherwise.
    else if (!rules && when === 'manual') out.allowFailure = true;
    const cache = get(j, 'cache');
    const entries = cache?.kind === 'seq' ? cache.items : cache ? [cache] : [];
    out.caches = entries.flatMap((c) => {
      if (c.kind !== 'map') return [];
      const k = get(c, 'key');
      const files = get(k, 'files');
      const key =
        k?.kind === 'map'
          ? `files:${(files?.kind === 'seq' ? files.items : files ? [files] : []).map((f) => text(f) ?? '').join(',')}`
          : text(k);
      return [
        {
          ...(key !== undefined ? { key } : {}),
          unprotect: text(get(c, 'unprotect')) === 'true',
          policy: text(get(c, 'policy')) ?? 'pull-push',
          pos: this.mp(keyPos(j, 'cache') ?? c.pos),
        },
      ];
    });
    return out;
  }

  private names(n: PNode | undefined): Located[] {
    if (n?.kind !== 'map') return [];
    return [...n.entries].map(([k, e]) => ({ value: k, pos: this.mp(e.key) }));
  }

  private trigger(n: PNode | undefined): { trigger?: Located } {
    if (!n) return {};
    const t = n.kind === 'map' ? (get(n, 'project') ?? get(n, 'include')) : n;
    const s = text(t);
    if (s !== undefined && t?.kind === 'scalar') return { trigger: this.located(t, s) };
    return { trigger: { value: '(child pipeline)', pos: this.mp(n.pos) } };
  }

  private needs(j: PMap): string[] {
    const out = new Set<string>();
    for (const key of ['needs', 'dependencies']) {
      const n = get(j, key);
      if (n?.kind !== 'seq') continue;
      for (const i of n.items) {
        const s = text(i) ?? text(get(i, 'job'));
        if (s !== undefined) out.add(s);
      }
    }
    return [...out];
  }

  private images(j: PMap): Located[] {
    const out: Located[] = [];
    const one = (n: PNode | undefined): void => {
      const name = n?.kind === 'map' ? get(n, 'name') : n;
      const s = text(name);
      if (s !== undefined && name?.kind === 'scalar') out.push(this.located(name, s));
    };
    one(get(j, 'image'));
    const services = get(j, 'services');
    if (services?.kind === 'seq') for (const s of services.items) one(s);
    return out;
  }

  /** before_script, script, after_script (and hook scripts): one step per command, in the order they run. */
  private steps(job: string, j: PMap): Step[] {
    const out: Step[] = [];
    const add = (label: string, n: PNode | undefined): void => {
      if (!n) return;
      const lines: PScalar[] = [];
      this.flatten(`${job}.${label}`, n, lines, 0);
      lines.forEach((l, i) => {
        const value = String(l.value);
        out.push({
          index: out.length,
          name: `${label}[${i}]`,
          pos: this.mp(l.pos),
          run: this.located(l, value),
          with: {},
          env: {},
          continueOnError: false,
        });
      });
    };
    const hooks = get(j, 'hooks');
    if (hooks?.kind === 'map') for (const [k, e] of hooks.entries) add(`hooks.${k}`, e.value);
    add('before_script', get(j, 'before_script'));
    add('script', get(j, 'script'));
    add('after_script', get(j, 'after_script'));
    return out;
  }

  private flatten(where: string, n: PNode, out: PScalar[], depth: number): void {
    if (depth > MAX_REFERENCE_DEPTH) throw new GitLabError(n.pos, `${printable(where, 80)}: lists nested too deep`);
    if (n.kind === 'scalar') {
      if (n.value !== null) out.push(n);
      return;
    }
    if (n.kind === 'map')
      throw new GitLabError(
        n.pos,
        `${printable(where, 80)}: expected a command or a list of commands, found a mapping`,
      );
    for (const i of n.items) this.flatten(where, i, out, depth + 1);
  }
}
