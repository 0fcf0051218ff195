/**
 * The semantic summary of a repository's pipelines that `ci baseline` records and `ci drift` compares: per job, what
 * it runs for, what it holds (token, secrets, environment, runner), what it sends where (pushes), whether the
 * assessment gate runs and can fail it, and a fingerprint of each step (the `uses` ref, a hash of the normalised
 * script). Pure: models and file hashes in, a JSON-serialisable value out, in a stable order.
 */
import { createHash } from 'node:crypto';
import { type Assessment, jobAssessments } from './assessment.js';
import type { CiAuditConfig } from './config.js';
import { effectivePermissions, jobRunsFor, secretsRead } from './github/reach.js';
import { gitlabGateFacts, shellView } from './gitlab/gate.js';
import { jobPushes } from './imagepath.js';
import type { Job, Permissions, Step, Workflow } from './model.js';

/** `default`: no `permissions:` anywhere (the repository's default token); else read-all, write-all or scope levels. */
export type PermissionSummary = 'default' | 'read-all' | 'write-all' | Readonly<Record<string, string>>;

export interface TriggerSummary {
  readonly event: string;
  /** The event's filters as canonical JSON (sorted keys), '' when none. */
  readonly filter: string;
  readonly line: number;
}

export interface StepSummary {
  readonly index: number;
  readonly name?: string;
  readonly line: number;
  readonly uses?: string;
  /** `sha256:` of the script with whitespace runs, blank lines and `#` comments taken out. */
  readonly run?: string;
  /** `sha256:` of the `with:` and `env:` inputs (canonical JSON), absent when there are none. */
  readonly inputs?: string;
  readonly if?: string;
  readonly continueOnError: boolean;
}

export interface PushSummary {
  readonly tool: string;
  /** `host/path` for a registry, `local`, or `unresolved:TEXT`. */
  readonly dest: string;
  readonly byGate: boolean;
  readonly line: number;
}

export interface AssessmentSummary {
  readonly step: number;
  readonly line: number;
  readonly how: string;
  /**
   * Whether its failure fails the job. GitLab: as `gate-bypass` judges it, whether it stops the pushes it comes before
   * (in a job that pushes, every push after it; in another job, this job's pushes).
   */
  readonly blocking: boolean;
  readonly why?: string;
  /** GitLab: how sure `why` is, when not certain. */
  readonly confidence?: 'medium' | 'low';
  /** GitLab: the job it runs in, when it is another job that must pass before this one's pushes. */
  readonly job?: string;
}

export interface JobSummary {
  readonly id: string;
  readonly name?: string;
  readonly line: number;
  /** The events (GitHub) or pipeline sources (GitLab) the job may run for. */
  readonly triggers: readonly string[];
  readonly permissions: PermissionSummary;
  readonly runsOn: readonly string[];
  readonly selfHosted: boolean;
  /** Secret names the job reads (`(inherit)` for `secrets: inherit`, `*` for the whole `secrets` object). */
  readonly secrets: readonly string[];
  readonly environment?: string;
  readonly if?: string;
  readonly continueOnError: boolean;
  /** `sha256:` of the workflow's and job's `env:` (canonical JSON), absent when there is none. */
  readonly env?: string;
  readonly needs: readonly string[];
  /** A reusable-workflow call. */
  readonly uses?: string;
  readonly images: readonly string[];
  readonly pushes: readonly PushSummary[];
  readonly assessments: readonly AssessmentSummary[];
  readonly steps: readonly StepSummary[];
}

export interface WorkflowSummary {
  readonly file: string;
  readonly platform: 'github' | 'gitlab' | 'jenkins';
  readonly kind: 'workflow' | 'action';
  readonly name?: string;
  readonly triggers: readonly TriggerSummary[];
  readonly jobs: readonly JobSummary[];
}

export interface FileHash {
  readonly file: string;
  readonly sha256: string;
}

export interface CiSummary {
  readonly files: readonly FileHash[];
  readonly workflows: readonly WorkflowSummary[];
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v as object)
      .sort(byText)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v ?? null);
}

export const sha256 = (data: string | Uint8Array): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

/**
 * A script as far as its meaning goes: blank lines, full-line `#` comments and trailing ` # comments` outside quotes
 * removed, whitespace runs outside quotes made one space. Python keeps its indentation (it is syntax there).
 */
export function normaliseScript(script: string, shell?: string): string {
  const keepIndent = /^python/.test(shell ?? '');
  const out: string[] = [];
  for (const raw of script.split(/\r?\n/)) {
    let line = '';
    let quote = '';
    let space = false;
    const indent = keepIndent ? (/^[ \t]*/.exec(raw)?.[0] ?? '') : '';
    const text = raw.trim();
    for (let i = 0; i < text.length; i++) {
      const c = text[i] as string;
      if (quote) {
        line += c;
        if (c === quote) quote = '';
        else if (c === '\\' && quote === '"' && i + 1 < text.length) line += text[++i];
        continue;
      }
      if (c === '#' && (i === 0 || space)) break;
      if (c === ' ' || c === '\t') {
        space = true;
        continue;
      }
      if (space && line) line += ' ';
      space = false;
      if (c === '"' || c === "'") quote = c;
      else if (c === '\\' && i + 1 < text.length) {
        line += c + text[++i];
        continue;
      }
      line += c;
    }
    if (line) out.push(indent + line);
  }
  return out.join('\n');
}

function permissionSummary(p: Permissions | undefined): PermissionSummary {
  if (!p) return 'default';
  if (p.kind === 'all') return p.level === 'write' ? 'write-all' : 'read-all';
  return Object.fromEntries(Object.entries(p.scopes).sort(([a], [b]) => byText(a, b)));
}

const compactIf = (v: string | undefined): string | undefined =>
  v === undefined ? undefined : v.replace(/\s+/g, ' ').trim();

function stepSummary(job: Job, s: Step): StepSummary {
  const inputs = { ...Object.fromEntries(Object.entries(s.with).map(([k, v]) => [`with.${k}`, v.value])) };
  for (const [k, v] of Object.entries(s.env)) inputs[`env.${k}`] = v.value;
  const cond = compactIf(s.if?.value);
  return {
    index: s.index,
    ...(s.name !== undefined ? { name: s.name } : {}),
    line: s.pos.line,
    ...(s.uses ? { uses: s.uses.value.trim() } : {}),
    ...(s.run ? { run: sha256(normaliseScript(s.run.value, s.shell ?? job.defaultShell)) } : {}),
    ...(Object.keys(inputs).length ? { inputs: sha256(canonicalJson(inputs)) } : {}),
    ...(cond !== undefined ? { if: cond } : {}),
    continueOnError: s.continueOnError,
  };
}

function destText(d: ReturnType<typeof jobPushes>[number]['dest']): string {
  if (d.kind === 'registry') return d.repo;
  if (d.kind === 'local') return 'local';
  return `unresolved:${d.text.replace(/\u0000/g, '?')}`;
}

const uniqSorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort(byText);

export function jobSummary(w: Workflow, job: Job, config: CiAuditConfig): JobSummary {
  const platform = w.platform ?? 'github';
  const triggers =
    platform === 'gitlab'
      ? uniqSorted(job.gitlab?.sources ?? [])
      : uniqSorted(w.triggers.map((t) => t.event).filter((e) => jobRunsFor(job, e)));
  const gl = job.gitlab;
  const secrets =
    platform === 'gitlab'
      ? uniqSorted([...(gl?.secrets ?? []), ...(gl?.idTokens ?? [])].map((l) => l.value))
      : secretsRead(w, job);
  const seen = new Set<string>();
  const pushes: PushSummary[] = [];
  // GitLab: the job as the runner runs it (one script), its pushes and gate exactly as gate-bypass reads them.
  const facts = platform === 'gitlab' ? gitlabGateFacts(w, job, config) : undefined;
  for (const p of facts?.pushes ?? jobPushes(w, job, config)) {
    const dest = destText(p.dest);
    const key = `${p.tool}\0${dest}\0${p.byGate}`;
    if (seen.has(key)) continue;
    seen.add(key);
    pushes.push({ tool: p.tool, dest, byGate: p.byGate, line: p.pos.line });
  }
  pushes.sort((a, b) => byText(a.dest, b.dest) || byText(a.tool, b.tool));
  const cond = compactIf(job.if?.value);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(w.env)) env[`workflow.${k}`] = v.value;
  for (const [k, v] of Object.entries(job.env)) env[`job.${k}`] = v.value;
  return {
    id: job.id,
    ...(job.name !== undefined ? { name: job.name } : {}),
    line: job.pos.line,
    triggers,
    permissions: platform === 'gitlab' ? 'default' : permissionSummary(effectivePermissions(w, job)),
    runsOn: [...job.runsOn],
    selfHosted: job.runsOn.some((l) => /^self-hosted$/i.test(l) || l.startsWith('group:')),
    secrets,
    ...(job.environment ? { environment: job.environment.value } : {}),
    ...(cond !== undefined ? { if: cond } : {}),
    continueOnError: job.continueOnError === true,
    ...(Object.keys(env).length ? { env: sha256(canonicalJson(env)) } : {}),
    needs: uniqSorted(job.needs),
    ...(job.uses ? { uses: job.uses.value.trim() } : {}),
    images: uniqSorted(job.images.map((i) => i.value.trim())),
    pushes,
    assessments: facts
      ? [
          ...facts.own.map((a) => gitlabAssessment(w, a, config)),
          ...facts.upstream.map((a) => gitlabAssessment(w, a, config, a.job.id)),
        ]
      : jobAssessments(job, config).map((a) => ({
          step: a.step.index,
          line: a.pos.line,
          how: a.how,
          blocking: a.weak === undefined,
          ...(a.weak ? { why: a.weak.why } : {}),
        })),
    steps: job.steps.map((s) => stepSummary(job, s)),
  };
}

/** A GitLab assessment (its step: the command line of the parsed job it is on). */
function gitlabAssessment(w: Workflow, a: Assessment, config: CiAuditConfig, job?: string): AssessmentSummary {
  const conf = a.weak?.confidence;
  return {
    step: shellView(w, a.job, config).source(a.step, a.offset)?.index ?? 0,
    line: a.pos.line,
    how: a.how,
    blocking: a.weak === undefined,
    ...(a.weak ? { why: a.weak.why } : {}),
    ...(conf && conf !== 'high' ? { confidence: conf } : {}),
    ...(job !== undefined ? { job } : {}),
  };
}

function triggerSummary(t: Workflow['triggers'][number]): TriggerSummary {
  const none = t.config === null || t.config === undefined;
  return { event: t.event, filter: none ? '' : canonicalJson(t.config), line: t.pos.line };
}

/** The summary of loaded workflows; `hashes` are the sha256 of every file read (workflows and included files). */
export function summarise(
  workflows: readonly Workflow[],
  hashes: readonly FileHash[],
  config: CiAuditConfig,
): CiSummary {
  const ws = workflows
    .map(
      (w): WorkflowSummary => ({
        file: w.file,
        platform: w.platform ?? 'github',
        kind: w.kind,
        ...(w.name !== undefined ? { name: w.name } : {}),
        triggers: w.triggers.map(triggerSummary).sort((a, b) => byText(a.event, b.event)),
        jobs: w.jobs.map((j) => jobSummary(w, j, config)).sort((a, b) => byText(a.id, b.id)),
      }),
    )
    .sort((a, b) => byText(a.file, b.file));
  const files = [...new Map(hashes.map((h) => [h.file, h])).values()].sort((a, b) => byText(a.file, b.file));
  return { files, workflows: ws };
}
