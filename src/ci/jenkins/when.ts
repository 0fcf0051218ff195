/**
 * The `when` conditions a Jenkins stage runs under, for gate-bypass. A stage whose `when` does not hold is skipped and
 * the pipeline goes on with the next stage, so an assessment in a conditional stage gates a later push only when the
 * push's stage runs under the same conditions (those and maybe more). The conditions are the stage's own and its
 * enclosing stages' (all must hold; `allOf` is taken apart), compared as written, whitespace aside: never evaluated, so
 * conditions that differ in text but mean the same (or imply the other) cannot be told apart. Pure.
 * ref: https://www.jenkins.io/doc/book/pipeline/syntax/#when
 */
import { printable } from '../../errors.js';
import type { Weakness } from '../assessment.js';
import type { Job } from '../model.js';

const conditions = new WeakMap<Job, readonly string[]>();

/** Record the conditions of a stage's job (parse.ts, when it builds the job). */
export function setStageConditions(job: Job, conds: readonly string[]): void {
  if (conds.length > 0) conditions.set(job, conds);
}

/** The conditions that must all hold for the job's stage to run; empty when it always runs. */
export const stageConditions = (job: Job): readonly string[] => conditions.get(job) ?? [];

/**
 * Why an assessment in `scan`'s stage may not have run when `push`'s stage runs, or undefined when it must have (it
 * has no conditions, or the push's stage has them all). High when the push's stage has no conditions at all (it runs
 * whenever the scan's is skipped); medium when it has others, which may or may not imply the scan's.
 */
export function skippedScan(scan: Job, push: Job): Weakness | undefined {
  const need = stageConditions(scan);
  if (need.length === 0) return undefined;
  const have = stageConditions(push);
  const missing = need.filter((c) => !have.includes(c));
  if (missing.length === 0) return undefined;
  const shown = printable(missing.join('; '), 80);
  return {
    why: `stage ${scan.id} runs only when { ${shown} }, which stage ${push.id} does not require: a skipped stage does not stop the next ones`,
    confidence: have.length === 0 ? 'high' : 'medium',
  };
}
