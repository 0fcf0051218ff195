/**
 * Where a GitLab job's pushes sit relative to the assessment: the job read as the runner runs it, and the jobs that
 * must pass before it starts. Pure.
 *
 * The runner joins `hooks`, `before_script` and `script` into one shell script (`set -o errexit`, and pipefail where
 * the shell has it), so a status kept on one line and checked on the next, or `set +e` on an earlier line, carry over:
 * each job is read as that one script, and `after_script` as a second one, which runs even when the script failed and
 * whose failure never fails the job. CI/CD variables resolve through the configuration's `variables` (project and
 * group settings, which win over the file), the job's and the file's `variables:`, and the predefined
 * `CI_REGISTRY_IMAGE` = `$CI_REGISTRY/$CI_PROJECT_PATH` when those are configured.
 *
 * Order: a job with `needs:` starts once the jobs it needs have passed (an optional need may be absent: no gate); a
 * job without waits for every job of the earlier stages (those that may run for each pipeline source it runs for). A
 * job that may run `when: always` or `on_failure` runs whatever came before. An upstream job with `allow_failure`
 * (a `when: manual` job outside `rules:` has it by default, and the pipeline goes on without it) cannot stop anything.
 * ref: https://docs.gitlab.com/ci/yaml/#needs, https://docs.gitlab.com/ci/yaml/#allow_failure
 */
import { type Assessment, jobAssessments, type Weakness } from '../assessment.js';
import type { CiAuditConfig } from '../config.js';
import { jobPushes, type Push } from '../imagepath.js';
import type { Job, Located, Pos, Step, Workflow } from '../model.js';
import { posIn } from '../rule.js';
import { REVIEW_SOURCES } from './sources.js';

/** The runner's script header sets errexit, and pipefail where the shell has it (bash, busybox ash). */
const RUNNER_SHELL = 'bash -eo pipefail {0}';

const DEFAULT_STAGE = 'test';

interface Segment {
  readonly start: number;
  readonly run: Located;
  /** The command line (a step of the parsed job) the text comes from. */
  readonly source: Step;
}

/** One GitLab job as the runner runs it: the main script (index 0) and after_script (index 1), when present. */
export interface ShellView {
  readonly job: Job;
  readonly main?: Step;
  readonly after?: Step;
  /** Where, in the files, the text at `offset` of a view step is. */
  pos(step: Step, offset: number): Pos;
  /** The parsed job's step (one command line) that the text at `offset` of a view step comes from. */
  source(step: Step, offset: number): Step | undefined;
}

const views = new WeakMap<Job, WeakMap<CiAuditConfig, ShellView>>();

export function shellView(w: Workflow, job: Job, config: CiAuditConfig): ShellView {
  let byConfig = views.get(job);
  if (!byConfig) {
    byConfig = new WeakMap();
    views.set(job, byConfig);
  }
  let v = byConfig.get(config);
  if (!v) {
    v = buildView(w, job, config);
    byConfig.set(config, v);
  }
  return v;
}

function buildView(w: Workflow, job: Job, config: CiAuditConfig): ShellView {
  const segments = new Map<Step, Segment[]>();
  const steps: Step[] = [];
  const configured: Record<string, Located> = {};
  for (const [k, v] of Object.entries(config.variables)) configured[k] = { value: v, pos: job.pos };
  const join = (parts: readonly Step[], name: string): Step | undefined => {
    const sources = parts.filter((s) => s.run);
    const runs = sources.map((s) => s.run as Located);
    const first = runs[0];
    if (!first) return undefined;
    const segs: Segment[] = [];
    let at = 0;
    sources.forEach((source, i) => {
      const run = runs[i] as Located;
      segs.push({ start: at, run, source });
      at += run.value.length + 1;
    });
    const step: Step = {
      index: steps.length,
      name,
      pos: first.pos,
      run: { value: runs.map((r) => r.value).join('\n'), pos: first.pos },
      with: {},
      // Project and group variables (the configuration) win over the file's.
      env: configured,
      continueOnError: false,
    };
    segments.set(step, segs);
    steps.push(step);
    return step;
  };
  const main = join(
    job.steps.filter((s) => !s.name?.startsWith('after_script')),
    'script',
  );
  const after = join(
    job.steps.filter((s) => s.name?.startsWith('after_script')),
    'after_script',
  );
  const predefined: Record<string, Located> = {
    CI_REGISTRY_IMAGE: { value: '$CI_REGISTRY/$CI_PROJECT_PATH', pos: job.pos },
  };
  const { continueOnError: _, ...rest } = job;
  const view: Job = {
    ...rest,
    steps,
    env: { ...predefined, ...w.env, ...job.env },
    defaultShell: RUNNER_SHELL,
  };
  const segmentAt = (step: Step, offset: number): Segment | undefined => {
    const segs = segments.get(step) ?? [];
    let seg = segs[0];
    for (const s of segs) if (s.start <= offset) seg = s;
    return seg;
  };
  return {
    job: view,
    ...(main ? { main } : {}),
    ...(after ? { after } : {}),
    pos(step, offset) {
      const seg = segmentAt(step, offset);
      return seg ? posIn(seg.run, Math.max(0, offset - seg.start)) : step.pos;
    },
    source: (step, offset) => segmentAt(step, Math.max(0, offset))?.source,
  };
}

/** A job's pushes with the files' positions (the view's steps kept, for ordering against assessments). */
export function gitlabPushes(w: Workflow, job: Job, config: CiAuditConfig): { view: ShellView; pushes: Push[] } {
  const view = shellView(w, job, config);
  const pushes = jobPushes(w, view.job, config).map((p) => ({ ...p, job, pos: view.pos(p.step, p.offset) }));
  return { view, pushes };
}

const mains = new WeakMap<Job, WeakMap<CiAuditConfig, Assessment[]>>();

/** A job's assessments in its main script (after_script cannot fail the job), with the files' positions. */
function mainAssessments(w: Workflow, job: Job, config: CiAuditConfig, upTo?: Push): Assessment[] {
  const view = shellView(w, job, config);
  const map = (all: readonly Assessment[]) =>
    all.filter((a) => a.step === view.main).map((a) => ({ ...a, job, pos: view.pos(a.step, a.offset) }));
  if (upTo) return map(jobAssessments(view.job, config, { step: upTo.step.index, offset: upTo.offset }));
  // Upstream jobs are asked once per push downstream of them: kept per job and configuration.
  let byConfig = mains.get(job);
  if (!byConfig) {
    byConfig = new WeakMap();
    mains.set(job, byConfig);
  }
  let out = byConfig.get(config);
  if (!out) {
    out = map(jobAssessments(view.job, config));
    byConfig.set(config, out);
  }
  return out;
}

const stageOf = (j: Job): string => j.gitlab?.stage ?? DEFAULT_STAGE;
const runsAnyway = (j: Job): string | undefined => j.gitlab?.whens?.find((x) => x === 'always' || x === 'on_failure');

/**
 * What must pass before a job starts, summed up: one assessment that can stop it (when there is one), else the worst
 * that cannot. Three slots instead of every assessment keep a pipeline of thousands of jobs linear.
 */
interface Upstream {
  readonly strong?: Assessment;
  readonly weakHigh?: Assessment;
  readonly weak?: Assessment;
}

function add(into: { -readonly [K in keyof Upstream]: Upstream[K] }, a: Assessment | undefined): void {
  if (!a) return;
  if (!a.weak) into.strong ??= a;
  else if (a.weak.confidence === 'high') into.weakHigh ??= a;
  else into.weak ??= a;
}

const slots = (u: Upstream): Assessment[] => [u.strong, u.weakHigh, u.weak].filter((a) => a !== undefined);

/** Why an upstream job's failure does not stop the pipeline, or undefined when it does. */
function nonBlocking(j: Job): Weakness | undefined {
  const af = j.gitlab?.allowFailure;
  if (af === undefined) return undefined;
  if (af === true) {
    const manual = j.gitlab?.whens?.includes('manual');
    return {
      why: manual
        ? `job ${j.id} is manual with allow_failure (the default for when: manual outside rules:), so the pipeline goes on without it`
        : `job ${j.id} has allow_failure: true, so the jobs after it run when it fails`,
      confidence: 'high',
    };
  }
  // Exit codes allowed: Portcullis fails a policy with 1 and bad input with 2; other scanners differ.
  return {
    why: `job ${j.id} has allow_failure: exit_codes [${af.join(', ')}], which may be the assessment's failure`,
    confidence: af.includes(1) ? 'high' : 'medium',
  };
}

const alwaysWeakness = (j: Job, when: string): Weakness => ({
  why: `job ${j.id} may run with when: ${when}, so it runs when the jobs before it failed`,
  confidence: 'high',
});

const upstreams = new WeakMap<Workflow, WeakMap<CiAuditConfig, Map<Job, Upstream>>>();

/**
 * For every job, what must pass before it starts (its own `when:` aside). Jobs are taken stage by stage: those without
 * `needs:` from what every earlier stage gives (per set of pipeline sources), then those with `needs:` in the order
 * their needs allow. A need on a later stage, an unknown job or a cycle (GitLab refuses those) gives nothing.
 */
function upstreamOf(w: Workflow, config: CiAuditConfig): Map<Job, Upstream> {
  let byConfig = upstreams.get(w);
  if (!byConfig) {
    byConfig = new WeakMap();
    upstreams.set(w, byConfig);
  }
  const known = byConfig.get(config);
  if (known) return known;
  const out = new Map<Job, Upstream>();
  /** What a job hands on to those after it: its own assessments, and what came before it unless it runs anyway. */
  const given = new Map<Job, Upstream>();
  const give = (d: Job): Upstream => {
    const done = given.get(d);
    if (done) return done;
    const g: { -readonly [K in keyof Upstream]: Upstream[K] } = {};
    const blocked = nonBlocking(d);
    for (const a of mainAssessments(w, d, config)) add(g, a.weak || !blocked ? a : { ...a, weak: blocked });
    const anyway = runsAnyway(d);
    for (const a of slots(out.get(d) ?? {}))
      add(g, anyway && !a.weak ? { ...a, pos: d.pos, weak: alwaysWeakness(d, anyway) } : a);
    given.set(d, g);
    return g;
  };
  const stages = w.stages ?? [];
  const byStage = new Map<number, Job[]>();
  for (const j of w.jobs) {
    const s = stages.indexOf(stageOf(j));
    if (s === -1) out.set(j, {});
    else {
      const list = byStage.get(s);
      if (list) list.push(j);
      else byStage.set(s, [j]);
    }
  }
  const ids = new Map(w.jobs.map((j) => [j.id, j]));
  /** Jobs of the earlier stages, and what they give per set of sources (computed once per set). */
  const earlier: Job[] = [];
  for (let s = 0; s < stages.length; s++) {
    const jobs = byStage.get(s) ?? [];
    const here = new Set(jobs);
    const bySources = new Map<string, Upstream>();
    for (const j of jobs) {
      if (j.gitlab?.needs) continue;
      const sources = j.gitlab?.sources ?? [];
      const key = sources.join(',');
      let u = bySources.get(key);
      if (!u) {
        const acc: { -readonly [K in keyof Upstream]: Upstream[K] } = {};
        for (const d of earlier)
          if (sources.every((x) => d.gitlab?.sources.includes(x))) for (const a of slots(give(d))) add(acc, a);
        u = acc;
        bySources.set(key, u);
      }
      out.set(j, u);
    }
    // Jobs with needs: a need may be in this stage; settle them in rounds (a cycle is left with nothing).
    let pending = jobs.filter((j) => j.gitlab?.needs);
    while (pending.length > 0) {
      const next: Job[] = [];
      for (const j of pending) {
        const needs = (j.gitlab?.needs ?? []).filter((n) => !n.optional).map((n) => ids.get(n.job));
        if (needs.some((d) => d && !out.has(d) && here.has(d))) {
          next.push(j);
          continue;
        }
        const acc: { -readonly [K in keyof Upstream]: Upstream[K] } = {};
        for (const d of needs) if (d && out.has(d)) for (const a of slots(give(d))) add(acc, a);
        out.set(j, acc);
      }
      if (next.length === pending.length) {
        for (const j of next) out.set(j, {});
        break;
      }
      pending = next;
    }
    earlier.push(...jobs);
  }
  byConfig.set(config, out);
  return out;
}

/**
 * The assessments that come before a push, each with why it cannot stop the push (when it cannot): earlier in the
 * same script, then (summed up) in the jobs upstream of the pushing job.
 */
export function gitlabGates(w: Workflow, p: Push, view: ShellView, config: CiAuditConfig): Assessment[] {
  const job = p.job;
  const out: Assessment[] = [];
  if (p.step === view.main) out.push(...mainAssessments(w, job, config, p));
  else if (p.step === view.after) {
    // after_script runs after a failed script too; only its own earlier lines (or a test of the job's status) gate.
    const own = jobAssessments(view.job, config, { step: p.step.index, offset: p.offset })
      .filter((a) => a.step === view.after)
      .map((a) => ({ ...a, job, pos: view.pos(a.step, a.offset) }));
    out.push(...own);
    if (/\bCI_JOB_STATUS\b/.test(p.step.run?.value ?? ''))
      out.push(
        ...mainAssessments(w, job, config).map((a) => ({
          ...a,
          weak: a.weak ?? {
            why: 'after_script runs even when the script failed; whether its test of $CI_JOB_STATUS holds back the push cannot be told',
            confidence: 'medium' as const,
          },
        })),
      );
  }
  const anyway = runsAnyway(job);
  // The pushing job's own when: is the cause: point at its push, not at another job's scan.
  for (const a of slots(upstreamOf(w, config).get(job) ?? {}))
    out.push(anyway && !a.weak ? { ...a, pos: p.pos, weak: alwaysWeakness(job, anyway) } : a);
  return out;
}

/** Whether a job may run for a ref that can be protected (any pipeline but a merge request's). */
export function mayRunProtected(job: Job): boolean {
  return (job.gitlab?.sources ?? []).some((s) => !REVIEW_SOURCES.has(s));
}

/** What `ci baseline` records of a GitLab job's gate (src/ci/summary.ts): the judgement `gate-bypass` makes. */
export interface GitLabGateFacts {
  /** The job's pushes, with the files' positions. */
  readonly pushes: readonly Push[];
  /**
   * The job's own assessments (script, then after_script), each weak when it cannot fail the job or, in a job that
   * pushes, when it cannot stop every push after it (or comes after them all).
   */
  readonly own: readonly Assessment[];
  /** Assessments of other jobs that must pass before this one's pushes, with why each cannot stop them. */
  readonly upstream: readonly Assessment[];
}

const AFTER_SCRIPT: Weakness = {
  why: 'it is in after_script, which runs after a failed script too and whose failure does not fail the job',
  confidence: 'high',
};

export function gitlabGateFacts(w: Workflow, job: Job, config: CiAuditConfig): GitLabGateFacts {
  const { view, pushes } = gitlabPushes(w, job, config);
  // The pushes gate-bypass asks about (a push by portcullis gate is the gate; a local one goes nowhere).
  const judged = pushes
    .filter((p) => !p.byGate && p.dest.kind !== 'local')
    .map((p) => ({ p, gates: gitlabGates(w, p, view, config) }));
  const inAfter = view.after
    ? jobAssessments(view.job, config)
        .filter((a) => a.step === view.after)
        .map((a) => ({ ...a, job, pos: view.pos(a.step, a.offset) }))
    : [];
  const own = [...mainAssessments(w, job, config), ...inAfter].map((a): Assessment => {
    const later = judged.filter(
      ({ p }) => (a.step === view.main && p.step === view.after) || (p.step === a.step && p.offset >= a.offset),
    );
    const fallback = a.step === view.after ? AFTER_SCRIPT : undefined;
    if (later.length === 0) {
      const first = judged[0]?.p;
      if (!first || a.weak) return a.weak || !fallback ? a : { ...a, weak: fallback };
      return { ...a, weak: { why: `it runs after the job's push at line ${first.pos.line}`, confidence: 'high' } };
    }
    for (const { p, gates } of later) {
      const g = gates.find((x) => x.job === job && x.step === a.step && x.offset === a.offset);
      if (g && !g.weak) continue;
      const weak: Weakness = g?.weak ??
        a.weak ?? {
          why:
            p.step === view.after
              ? `the push at line ${p.pos.line} is in after_script, which runs even when the script failed`
              : `the push at line ${p.pos.line} does not wait for it`,
          confidence: 'high',
        };
      return { ...a, weak };
    }
    // It stops every push after it (`scan && push` on one line included).
    const { weak: _, ...gating } = a;
    return gating;
  });
  const upstream: Assessment[] = [];
  const seen = new Set<string>();
  for (const { gates } of judged)
    for (const g of gates) {
      if (g.job === job) continue;
      const key = `${g.job.id}\0${g.how}\0${g.step.index}\0${g.offset}\0${g.weak?.why ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      upstream.push(g);
    }
  return { pushes, own, upstream };
}
