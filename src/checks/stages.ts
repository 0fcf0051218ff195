/** The stages of a Dockerfile as build rules need them: which is the image, and what it inherits from earlier ones. */
import type { Instruction } from './model.js';

/** The steps of the last stage (the image a Dockerfile builds); empty when there are no steps. */
export function lastStage(steps: readonly Instruction[]): readonly Instruction[] {
  const last = steps.reduce((max, s) => Math.max(max, s.stage ?? 0), 0);
  return steps.filter((s) => (s.stage ?? 0) === last);
}

/** Where the image gets a setting such as USER or HEALTHCHECK from. */
export interface FinalSetting {
  /** The last step with that keyword in the last stage, else in the earlier stages it is built `FROM`. */
  readonly step?: Instruction;
  /** Where a finding about the last stage points: its FROM (its first step when it has none). */
  readonly from?: Instruction;
  /** When no stage sets it: the FROM naming the image it is inherited from (not an earlier stage). */
  readonly base?: Instruction;
}

/** The step that decides `keyword` for the image, following `FROM <earlier stage>` back to an image. */
export function finalSetting(steps: readonly Instruction[], keyword: string): FinalSetting {
  const stages: Instruction[][] = [];
  const names = new Map<string, number>();
  for (const s of steps) {
    const n = s.stage ?? 0;
    const own = stages[n] ?? [];
    own.push(s);
    stages[n] = own;
    if (s.keyword !== 'FROM') continue;
    const words = s.args.trim().split(/\s+/);
    const name = words.length >= 3 && words[1]?.toLowerCase() === 'as' ? words[2]?.toLowerCase() : undefined;
    if (name !== undefined && !names.has(name)) names.set(name, n);
  }
  const last = lastStage(steps);
  const from = last.find((s) => s.keyword === 'FROM') ?? last[0];
  const found = (more: Pick<FinalSetting, 'step' | 'base'>): FinalSetting => ({ ...(from ? { from } : {}), ...more });
  let n = last[0]?.stage ?? 0;
  for (;;) {
    const own = stages[n] ?? [];
    const step = own.findLast((s) => s.keyword === keyword);
    if (step) return found({ step });
    const stageFrom = own.find((s) => s.keyword === 'FROM');
    const image = stageFrom?.args.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    const earlier = names.get(image);
    // Only an earlier stage can be a base, which also bounds the walk.
    if (earlier === undefined || earlier >= n) return found(stageFrom ? { base: stageFrom } : {});
    n = earlier;
  }
}
