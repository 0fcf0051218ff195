/**
 * Where a job sends images: every push (registry CLIs in `run:` scripts, push actions, `portcullis gate --to`) with
 * its destination resolved, as far as the files allow, through the script's own assignments, the step's, job's and
 * workflow's `env:`, and the configured values of `vars.*`. A destination that stays unknown (a secret, an output, a
 * variable the configuration does not give) is kept as unresolved with the names it went through, so a rule can say
 * why it cannot tell.
 */

import { emptyRecord, lookup } from '../util/record.js';
import type { CiAuditConfig } from './config.js';
import { contextPaths, extractExpressions } from './github/expressions.js';
import type { Job, Located, Pos, Step, Workflow } from './model.js';
import { usesRepo } from './rule.js';
import { type Command, commandPos, commands } from './shell.js';

/** Stands for text that cannot be known from the files. */
const UNKNOWN = '\u0000';

export type Destination =
  | { readonly kind: 'registry'; readonly repo: string; readonly via?: readonly string[] }
  | { readonly kind: 'local' }
  | { readonly kind: 'unresolved'; readonly text: string; readonly via: readonly string[] };

export interface Push {
  readonly job: Job;
  readonly step: Step;
  /** Where in the script (the command's line offset), -1 for an action. */
  readonly offset: number;
  readonly pos: Pos;
  /** The tool and verb, e.g. `buildah push`, `docker/build-push-action`. */
  readonly tool: string;
  readonly dest: Destination;
  /** `portcullis gate --to`: the gate assesses, and pushes only on PASS. */
  readonly byGate: boolean;
}

interface Scope {
  readonly w: Workflow;
  readonly job: Job;
  readonly step: Step;
  readonly config: CiAuditConfig;
  /** Assignments made earlier in the script. */
  readonly shell: Readonly<Record<string, string>>;
}

/** Text with what the files cannot tell replaced by UNKNOWN, and the variable names it went through. */
function resolve(text: string, scope: Scope, via: string[], depth = 0): string {
  if (depth > 8) return UNKNOWN;
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('${{', i)) {
      const end = text.indexOf('}}', i);
      const inner = text.slice(i + 3, end === -1 ? text.length : end).trim();
      out += expression(inner, scope, via, depth);
      i = end === -1 ? text.length : end + 2;
      continue;
    }
    // Only a `$` can start a reference (and slicing the rest of the text at every character is quadratic).
    const m =
      text.charCodeAt(i) === 36
        ? /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|\{[^}]*\}|\(|\d|[@*#?$!-])/.exec(text.slice(i))
        : null;
    if (m) {
      const name = m[1] ?? m[2];
      out += name ? shellVar(name, scope, via, depth) : UNKNOWN;
      i += m[0] === '$(' ? skipSubst(text, i) : m[0].length;
      continue;
    }
    out += text[i];
    i++;
  }
  return out;
}

function skipSubst(text: string, from: number): number {
  let depth = 0;
  for (let i = from + 1; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i + 1 - from;
  }
  return text.length - from;
}

function envValue(name: string, scope: Scope): Located | undefined {
  return lookup(scope.step.env, name) ?? lookup(scope.job.env, name) ?? lookup(scope.w.env, name);
}

function shellVar(name: string, scope: Scope, via: string[], depth: number): string {
  via.push(name);
  const assigned = lookup(scope.shell, name);
  if (assigned !== undefined) return resolve(assigned, { ...scope, shell: {} }, via, depth + 1);
  const env = envValue(name, scope);
  return env ? resolve(env.value, scope, via, depth + 1) : UNKNOWN;
}

function expression(inner: string, scope: Scope, via: string[], depth: number): string {
  const m = /^(env|vars|secrets)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(inner);
  if (m?.[1] === 'env') {
    const env = envValue(m[2] as string, scope);
    via.push(m[2] as string);
    return env ? resolve(env.value, scope, via, depth + 1) : UNKNOWN;
  }
  if (m?.[1] === 'vars') {
    via.push(`vars.${m[2]}`);
    return scope.config.variables[m[2] as string] ?? UNKNOWN;
  }
  for (const p of contextPaths(inner)) via.push(p);
  return UNKNOWN;
}

const LOCAL_TRANSPORT =
  /^(oci|oci-archive|docker-archive|dir|containers-storage|docker-daemon|ostree|sif|tarball|type=local|type=tar|type=docker|type=oci):/i;

/** A destination reference (maybe with a transport) to what it names. */
export function destination(resolved: string, raw: string, via: readonly string[]): Destination {
  let ref = resolved.trim();
  if (LOCAL_TRANSPORT.test(ref)) return { kind: 'local' };
  ref = ref.replace(/^docker:\/\//i, '');
  const at = ref.indexOf('@');
  if (at !== -1) ref = ref.slice(0, at);
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) ref = ref.slice(0, colon);
  if (ref === '' || ref.includes(UNKNOWN) || /\s/.test(ref)) return { kind: 'unresolved', text: raw, via };
  const parts = ref.split('/');
  const first = parts[0] as string;
  const isHost = parts.length > 1 && (/[.:]/.test(first) || first === 'localhost');
  const host = isHost ? first.toLowerCase() : 'docker.io';
  const path = isHost ? parts.slice(1) : parts.length === 1 ? ['library', ...parts] : parts;
  if (/^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|ko\.local|kind\.local)(:\d+)?$/.test(host)) return { kind: 'local' };
  return { kind: 'registry', repo: `${host}/${path.join('/')}`, ...(via.length ? { via } : {}) };
}

/** Flags of the tools below that take a value as the next word (so that word is not a positional argument). */
const VALUE_FLAGS = new Set(
  (
    'authfile digestfile creds cert-dir format sign-by sign-passphrase-file sign-by-sigstore sign-by-sigstore-private-key ' +
    'compression-format compression-level retry retry-delay retry-times encryption-key signature-policy platform ' +
    'src-authfile dest-authfile src-creds dest-creds src-cert-dir dest-cert-dir additional-tag multi-arch ' +
    'src-registry-token dest-registry-token override-os override-arch override-variant src dest scoped registries.d ' +
    'policy file build-arg label target cache-from cache-to secret ssh network progress iidfile metadata-file builder ' +
    'provenance sbom annotation allow add-host shm-size ulimit artifact-type config annotation-file username password ' +
    'index db key record vex tag to src-tls-verify dest-tls-verify registry-config context f o u p c'
  ).split(' '),
);

function positionals(words: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (w === '--') {
      out.push(...words.slice(i + 1));
      break;
    }
    if (w.startsWith('-') && w.length > 1) {
      if (!w.includes('=') && VALUE_FLAGS.has(w.replace(/^--?/, ''))) i++;
      continue;
    }
    if (/^[0-9]*[<>]/.test(w)) {
      if (/^[0-9]*[<>]+$/.test(w)) i++;
      continue;
    }
    out.push(w);
  }
  return out;
}

/** Values of a flag (`-t X`, `--tag X`, `--tag=X`). */
function flagValues(words: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    for (const n of names) {
      if (w === n && words[i + 1] !== undefined) out.push(words[i + 1] as string);
      else if (w.startsWith(`${n}=`)) out.push(w.slice(n.length + 1));
    }
  }
  return out;
}

const ENGINES = new Set(['docker', 'podman', 'buildah', 'nerdctl']);

/** The destinations (as written) a command pushes to, with the tool, or undefined when it pushes nothing. */
function pushTargets(c: Command): { tool: string; targets: string[]; byGate?: boolean; via?: string } | undefined {
  const base = (c.words[0] ?? '').replace(/^.*\//, '');
  const rest = c.words.slice(1);
  if (ENGINES.has(base)) {
    let args = rest;
    if (args[0] === 'image' && args[1] === 'push') args = args.slice(1);
    const verb = positionals(args)[0];
    if (verb === 'push') {
      const pos = positionals(args).slice(1);
      const dest = base === 'docker' || base === 'nerdctl' ? pos[0] : (pos[1] ?? pos[0]);
      return dest ? { tool: `${base} push`, targets: [dest] } : undefined;
    }
    // `docker buildx imagetools create -t X`: writes a manifest list to X.
    if (verb === 'buildx' && positionals(args)[1] === 'imagetools' && positionals(args)[2] === 'create') {
      if (args.includes('--dry-run')) return undefined;
      const tags = flagValues(args, ['-t', '--tag']);
      return tags.length ? { tool: `${base} buildx imagetools create`, targets: tags } : undefined;
    }
    const isBuild =
      verb === 'build' || verb === 'bud' || (verb === 'buildx' && positionals(args)[1] === 'build') || verb === 'bake';
    if (isBuild || (verb === 'buildx' && positionals(args)[1] === 'bake')) {
      const outputs = flagValues(args, ['--output', '-o']);
      const pushes =
        args.includes('--push') ||
        outputs.some((o) => /type=registry|push=true/.test(o)) ||
        args.includes('--push=true');
      if (!pushes) return undefined;
      const bake = verb === 'bake' || positionals(args)[1] === 'bake';
      const tags = bake ? [] : flagValues(args, ['-t', '--tag']);
      return { tool: `${base} ${bake ? 'buildx bake' : 'build'} --push`, targets: tags.length ? tags : [UNKNOWN] };
    }
    return undefined;
  }
  const pos = positionals(rest);
  // kaniko: /kaniko/executor pushes to every --destination unless --no-push.
  if ((base === 'executor' && /kaniko/.test(c.words[0] ?? '')) || base === 'kaniko') {
    if (rest.some((x) => x === '--no-push' || x === '--no-push=true')) return undefined;
    const to = flagValues(rest, ['--destination', '-d']);
    return to.length ? { tool: 'kaniko executor', targets: to } : undefined;
  }
  if (base === 'skopeo' && (pos[0] === 'copy' || pos[0] === 'sync') && pos[2])
    return { tool: `skopeo ${pos[0]}`, targets: [pos[2]] };
  if (base === 'crane' || base === 'gcrane') {
    if ((pos[0] === 'push' || pos[0] === 'copy' || pos[0] === 'cp') && pos[2])
      return { tool: `crane ${pos[0]}`, targets: [pos[2]] };
    if (pos[0] === 'tag' && pos[1]) return { tool: 'crane tag', targets: [pos[1]] };
    return undefined;
  }
  if (base === 'regctl' && pos[0] === 'image' && (pos[1] === 'copy' || pos[1] === 'cp') && pos[3])
    return { tool: 'regctl image copy', targets: [pos[3]] };
  if (base === 'cosign' && pos[0] === 'copy' && pos[2]) return { tool: 'cosign copy', targets: [pos[2]] };
  if (base === 'oras' && pos[0] === 'push' && pos[1]) return { tool: 'oras push', targets: [pos[1]] };
  if (base === 'ko' && /^(build|publish|resolve|apply|create|run)$/.test(pos[0] ?? '')) {
    if (rest.some((x) => x === '--local' || x === '-L' || x === '--push=false')) return undefined;
    return { tool: `ko ${pos[0]}`, targets: ['$KO_DOCKER_REPO'] };
  }
  if (/^(mvn|mvnw|gradle|gradlew)$/.test(base.replace(/^\.\//, ''))) {
    if (!rest.some((x) => /(^|:)jib(:build)?$/.test(x))) return undefined;
    const image = flagValues(rest, ['-Djib.to.image', '--image']);
    return { tool: `${base} jib`, targets: image.length ? image : [UNKNOWN] };
  }
  if (base === 'portcullis' && pos[0] === 'gate') {
    const to = flagValues(rest, ['--to']);
    return { tool: 'portcullis gate --to', targets: to.length ? to : [UNKNOWN], byGate: true };
  }
  return undefined;
}

/** Actions that push, and how to read their destinations. */
function actionTargets(s: Step): { tool: string; targets: string[] } | undefined {
  const repo = s.uses ? usesRepo(s.uses.value) : undefined;
  if (!repo) return undefined;
  const path = (s.uses?.value ?? '').replace(/@.*/, '').toLowerCase();
  const w = (k: string) => s.with[k]?.value;
  const list = (v: string | undefined) =>
    (v ?? '')
      .split(/[\n,]/)
      .map((x) => x.trim())
      .filter((x) => x && !x.startsWith('#'));
  const truthy = (v: string | undefined) => v !== undefined && v.trim() !== 'false' && v.trim() !== '';
  if (path === 'docker/build-push-action' || path === 'int128/kaniko-action') {
    const pushes = truthy(w('push')) || /type=registry|push=true/.test(w('outputs') ?? '');
    if (!pushes) return undefined;
    const tags = list(w('tags'));
    return { tool: path, targets: tags.length ? tags : [UNKNOWN] };
  }
  if (path === 'docker/bake-action') return truthy(w('push')) ? { tool: path, targets: [UNKNOWN] } : undefined;
  if (path === 'redhat-actions/push-to-registry') {
    const image = w('image') ?? UNKNOWN;
    const registry = w('registry');
    return { tool: path, targets: [registry ? `${registry.replace(/\/+$/, '')}/${image}` : image] };
  }
  if (path === 'akhilerm/tag-push-action') return { tool: path, targets: list(w('dst')) };
  return undefined;
}

const pushMemo = new WeakMap<Job, WeakMap<CiAuditConfig, WeakMap<Workflow, readonly Push[]>>>();

/** Every push a job makes, in step order (computed once per job, configuration and workflow; read only). */
export function jobPushes(w: Workflow, job: Job, config: CiAuditConfig): readonly Push[] {
  let byConfig = pushMemo.get(job);
  if (!byConfig) {
    byConfig = new WeakMap();
    pushMemo.set(job, byConfig);
  }
  let byWorkflow = byConfig.get(config);
  if (!byWorkflow) {
    byWorkflow = new WeakMap();
    byConfig.set(config, byWorkflow);
  }
  let out = byWorkflow.get(w);
  if (!out) {
    out = findPushes(w, job, config);
    byWorkflow.set(w, out);
  }
  return out;
}

function findPushes(w: Workflow, job: Job, config: CiAuditConfig): Push[] {
  const out: Push[] = [];
  for (const step of job.steps) {
    const act = actionTargets(step);
    if (act && step.uses) {
      for (const t of act.targets) {
        const via: string[] = [];
        const resolved = t === UNKNOWN ? UNKNOWN : resolve(t, { w, job, step, config, shell: {} }, via);
        out.push({
          job,
          step,
          offset: -1,
          pos: step.uses.pos,
          tool: act.tool,
          dest: destination(resolved, t === UNKNOWN ? '(not given)' : t, via),
          byGate: false,
        });
      }
    }
    if (!step.run) continue;
    const shell = emptyRecord<string>();
    for (const c of commands(step.run.value)) {
      const hit = pushTargets(c);
      if (hit) {
        for (const t of hit.targets) {
          const via: string[] = [];
          const resolved = t === UNKNOWN ? UNKNOWN : resolve(t, { w, job, step, config, shell }, via);
          out.push({
            job,
            step,
            offset: c.offset,
            pos: commandPos(step.run, c),
            tool: hit.tool,
            dest: destination(resolved, t === UNKNOWN ? '(not given)' : t, via),
            byGate: hit.byGate === true,
          });
        }
      }
      Object.assign(shell, c.assigns);
    }
  }
  return out;
}

/** Whether a registry repository (host/path) matches one of the globs. */
export function matches(repo: string, globs: readonly RegExp[] | undefined): boolean {
  return (globs ?? []).some((g) => g.test(repo));
}

/** A secret or variable whose name says production (PROD_PUSH_TOKEN, PRODUCTION_REGISTRY, LIVE_REGISTRY). */
export const PRODUCTION_NAME = /(^|[^a-z])(prod|production|live)([^a-z]|$)/i;
/** One whose name says staging, development or test. */
export const STAGING_NAME =
  /(^|[^a-z])(staging|stage|stg|dev|develop|test|testing|sandbox|ci|pr|preview|nightly)([^a-z]|$)/i;

/** Secrets a job reads whose names look like production credentials. */
export function productionSecrets(w: Workflow, job: Job): string[] {
  const texts = [
    ...Object.values(w.env),
    ...Object.values(job.env),
    ...job.steps.flatMap((s) => [...Object.values(s.env), ...Object.values(s.with), ...(s.run ? [s.run] : [])]),
  ];
  const names = new Set<string>();
  for (const t of texts)
    for (const e of extractExpressions(t.value))
      for (const p of contextPaths(e.inner)) {
        const m = /^secrets\.(.+)$/.exec(p);
        if (m && PRODUCTION_NAME.test(m[1] as string)) names.add((m[1] as string).toUpperCase());
      }
  return [...names].sort();
}

/** How a destination is written, for messages. */
export function describeDest(p: Push): string {
  if (p.dest.kind === 'registry') return p.dest.repo;
  if (p.dest.kind === 'local') return 'a local store';
  const via = [...new Set(p.dest.via)].slice(0, 4);
  return `${p.dest.text.slice(0, 80)}${via.length ? ` (through ${via.join(', ')})` : ''}`;
}
