import { type Assessment, jobAssessments, type Weakness } from '../assessment.js';
import type { CiAuditConfig } from '../config.js';
import { gitlabGates, gitlabPushes } from '../gitlab/gate.js';
import { describeDest, jobPushes, matches, PRODUCTION_NAME, type Push, STAGING_NAME } from '../imagepath.js';
import { skippedScan } from '../jenkins/when.js';
import type { Job, Pos, Workflow } from '../model.js';
import type { CiHit, CiRule, Confidence } from '../rule.js';

/** An `if:` that runs the job or step when what it needs failed (Jenkins: a post condition such as `always`). */
const RUNS_ON_FAILURE =
  /\b(always|failure|cancelled)\s*\(\s*\)|\bsteps\.[\w-]+\.(outcome|conclusion)\b|\bneeds\.[\w-]+\.result\b|^post \{ \w+ \}$/;

const ifText = (l: { value: string } | undefined): string => l?.value ?? '';

const isPost = (l: { value: string } | undefined): boolean => ifText(l).startsWith('post {');

/** Jobs `job` needs, transitively, with whether the chain up to them can run past a failure. */
function neededJobs(w: Workflow, job: Job): Job[] {
  const out: Job[] = [];
  const seen = new Set<string>([job.id]);
  const queue = [...job.needs];
  while (queue.length > 0) {
    const id = queue.shift() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    const dep = w.jobs.find((j) => j.id === id);
    if (!dep) continue;
    out.push(dep);
    queue.push(...dep.needs);
  }
  return out;
}

/** How sure a push goes somewhere unassessed images must not go, and what to call it; undefined: staging or local. */
function target(
  p: Push,
  config: CiAuditConfig,
  note: (pos: Pos, m: string) => void,
): { confidence: Confidence; what: string } | undefined {
  const d = p.dest;
  if (d.kind === 'local') return undefined;
  // GitLab's predefined CI_* names say nothing about staging (CI_REGISTRY_IMAGE is not a "ci" registry).
  const names = (d.via ?? []).map((v) => v.replace(/^(vars|secrets|env)\./, '').replace(/^CI_/, ''));
  const stagingByName = names.some((n) => STAGING_NAME.test(n)) && !names.some((n) => PRODUCTION_NAME.test(n));
  if (d.kind === 'registry') {
    if (matches(d.repo, config.staging)) return undefined;
    if (matches(d.repo, config.production)) return { confidence: 'high', what: `production ${d.repo}` };
    if (config.staging) return { confidence: 'high', what: `${d.repo}, which is not a staging registry` };
    // Without stagingRegistries, a variable named for staging (STAGING_REPO) is taken at its word, as below.
    if (stagingByName) {
      note(
        p.pos,
        `job ${p.job.id}: ${p.tool} to ${d.repo} is taken as a staging push by the name of ${names.filter((n) => STAGING_NAME.test(n)).join(', ')}`,
      );
      return undefined;
    }
    return { confidence: 'medium', what: `${d.repo} (no stagingRegistries are configured)` };
  }
  if (stagingByName) {
    note(p.pos, `job ${p.job.id}: ${p.tool} to ${describeDest(p)} is taken as a staging push by its name`);
    return undefined;
  }
  const prodName = names.some((n) => PRODUCTION_NAME.test(n));
  return {
    confidence: prodName ? 'medium' : 'low',
    what: `${describeDest(p)}, which cannot be resolved from the files${prodName ? ' (its name says production)' : ''}`,
  };
}

const lower = (a: Confidence, b: Confidence): Confidence => {
  const rank = { low: 0, medium: 1, high: 2 } as const;
  return rank[a] < rank[b] ? a : b;
};

/** The assessments that gate a push, and the weakness of each. */
function gating(w: Workflow, p: Push, config: CiAuditConfig): Assessment[] {
  const out: Assessment[] = [];
  const runsAnyway = RUNS_ON_FAILURE.test(ifText(p.step.if));
  for (const a of jobAssessments(p.job, config, { step: p.step.index, offset: p.offset })) {
    const weak: Weakness | undefined =
      a.weak ??
      (runsAnyway && a.step !== p.step
        ? {
            why: isPost(p.step.if)
              ? `the push is in the stage's ${ifText(p.step.if)}, which runs after a failure too`
              : `the push step's if: (${ifText(p.step.if).slice(0, 40)}) runs it after a failure`,
            confidence: 'high',
          }
        : a.step.if &&
            a.step !== p.step &&
            ifText(a.step.if) !== ifText(p.step.if) &&
            !/^\s*(\$\{\{\s*)?(always|success)\(\)/.test(ifText(a.step.if))
          ? { why: `its if: (${ifText(a.step.if).slice(0, 40)}) may skip it when the push runs`, confidence: 'medium' }
          : undefined);
    const pos = !a.weak && runsAnyway && a.step !== p.step && p.step.if ? p.step.if.pos : a.pos;
    out.push({ ...a, pos, ...(weak ? { weak } : {}) });
  }
  const jobRunsAnyway = RUNS_ON_FAILURE.test(ifText(p.job.if));
  for (const dep of neededJobs(w, p.job)) {
    // Jenkins: a stage skipped by its `when` does not stop the next stages (a GitHub job skipped by `if:` does).
    const skipped = w.platform === 'jenkins' ? skippedScan(dep, p.job) : undefined;
    for (const a of jobAssessments(dep, config)) {
      const weak: Weakness | undefined =
        a.weak ??
        (dep.continueOnError
          ? {
              why: `job ${dep.id} has continue-on-error, so the jobs that need it run when it fails`,
              confidence: 'high',
            }
          : skipped
            ? skipped
            : jobRunsAnyway
              ? {
                  why: isPost(p.job.if)
                    ? `the push is in the pipeline's ${ifText(p.job.if)}, which runs when a stage failed too`
                    : `job ${p.job.id}'s if: (${ifText(p.job.if).slice(0, 40)}) runs it when a needed job failed`,
                  confidence: 'high',
                }
              : a.step.if && !/^\s*(\$\{\{\s*)?(always|success)\(\)/.test(ifText(a.step.if))
                ? { why: `its if: (${ifText(a.step.if).slice(0, 40)}) may skip it`, confidence: 'medium' }
                : undefined);
      // When the pushing job's own if: is the cause, point at it rather than at the needed job's step.
      const pos = !a.weak && !dep.continueOnError && !skipped && jobRunsAnyway && p.job.if ? p.job.if.pos : a.pos;
      out.push({ ...a, pos, ...(weak ? { weak } : {}) });
    }
  }
  return out;
}

const plain = (a: Assessment): boolean => !a.weak && !a.step.if;

/**
 * The common case decided once per job (the full reading, per push, is for the pushes this does not settle): a job
 * that needs a job with an unconditional assessment that can fail it, or whose own such assessment comes first.
 */
function plainGate(w: Workflow, job: Job, config: CiAuditConfig): { gated(p: Push): boolean } {
  const byNeeds =
    !RUNS_ON_FAILURE.test(ifText(job.if)) &&
    neededJobs(w, job).some(
      (d) =>
        !d.continueOnError &&
        !(w.platform === 'jenkins' && skippedScan(d, job)) &&
        jobAssessments(d, config).some(plain),
    );
  const first = jobAssessments(job, config).find(plain);
  return {
    gated(p) {
      if (byNeeds) return true;
      if (!first || RUNS_ON_FAILURE.test(ifText(p.step.if))) return false;
      return (
        first.step.index < p.step.index || (first.step === p.step && first.offset !== -1 && first.offset <= p.offset)
      );
    },
  };
}

/**
 * The design: nothing reaches a registry outside staging without the assessment gate before it, and the gate can fail
 * the job. A push by `portcullis gate` itself is the gate (it pushes only on PASS). Pushes to staging registries (by
 * the configuration, or by a variable's name when the destination cannot be resolved) are the expected path.
 */
export const gateBypass: CiRule = {
  id: 'gate-bypass',
  title: 'Image pushed without an assessment that can fail the job',
  severity: 'critical',
  confidence: 'high',
  rationale:
    'An image that reaches a registry outside staging without an assessment that can stop it has passed no gate: its vulnerabilities, secrets and policy violations go where the orchestrator pulls from. An assessment whose failure is swallowed (continue-on-error, `|| true`, a status kept and never checked) is no gate either.',
  remediation:
    'Push only to staging from CI and promote with `portcullis gate`; or run `portcullis scan --policy` (or the configured assessment) before the push, in the same job or a job it needs, and let its failure fail the job.',
  check(w, ctx) {
    if (w.platform === 'gitlab') return gitlabCheck(w, ctx.config, ctx.note);
    const hits: CiHit[] = [];
    const seen = new Set<string>();
    for (const job of w.jobs) {
      const pushes = jobPushes(w, job, ctx.config);
      if (pushes.length === 0) continue;
      const fast = plainGate(w, job, ctx.config);
      for (const p of pushes) {
        if (p.byGate) continue;
        const t = target(p, ctx.config, ctx.note);
        if (!t) continue;
        if (fast.gated(p)) continue;
        const all = gating(w, p, ctx.config);
        if (all.some((a) => !a.weak)) continue;
        const where = `job ${job.id}: ${p.tool} to ${t.what}`;
        const worst = all.find((a) => a.weak?.confidence === 'high') ?? all[0];
        const hit: { -readonly [K in keyof CiHit]: CiHit[K] } = worst?.weak
          ? {
              pos: worst.pos,
              job: job.id,
              confidence: lower(t.confidence, worst.weak.confidence),
              message: `${where} at line ${p.pos.line}; its assessment (${worst.how}${worst.job === job ? '' : ` in job ${worst.job.id}`}) cannot fail the job: ${worst.weak.why}`,
            }
          : {
              pos: p.pos,
              job: job.id,
              confidence: t.confidence,
              message: `${where} with no assessment before it (in the job, or a job it needs)`,
            };
        // An action's steps run inside its callers' jobs, whose earlier steps may assess: it cannot be told here.
        if (w.kind === 'action' && hit.confidence === 'high') hit.confidence = 'medium';
        const key = `${hit.pos.line}:${hit.pos.column}:${job.id}`;
        if (seen.has(key)) continue;
        seen.add(key);
        hits.push(hit);
      }
    }
    return hits;
  },
};

/** GitLab: the same design, with the runner's script, stages, `needs:` and `allow_failure` (src/ci/gitlab/gate.ts). */
function gitlabCheck(w: Workflow, config: CiAuditConfig, note: (pos: Pos, m: string) => void): CiHit[] {
  const hits: CiHit[] = [];
  for (const job of w.jobs) {
    const { view, pushes } = gitlabPushes(w, job, config);
    for (const p of pushes) {
      if (p.byGate) continue;
      const t = target(p, config, note);
      if (!t) continue;
      const all = gitlabGates(w, p, view, config);
      if (all.some((a) => !a.weak)) continue;
      const after = p.step === view.after ? ' in after_script (which runs even when the script failed)' : '';
      const manual = job.gitlab?.manual ? ' (started by hand: when: manual is no assessment)' : '';
      const where = `job ${job.id}: ${p.tool} to ${t.what}${after}${manual}`;
      const worst = all.find((a) => a.weak?.confidence === 'high') ?? all[0];
      hits.push(
        worst?.weak
          ? {
              pos: worst.pos,
              job: job.id,
              confidence: lower(t.confidence, worst.weak.confidence),
              message: `${where} at line ${p.pos.line}; its assessment (${worst.how}${worst.job === job ? '' : ` in job ${worst.job.id}`}) cannot stop it: ${worst.weak.why}`,
            }
          : {
              pos: p.pos,
              job: job.id,
              confidence: t.confidence,
              message: `${where} with no assessment before it (earlier in the job's script, in a job of an earlier stage, or in a job it needs)`,
            },
      );
    }
  }
  return hits;
}
