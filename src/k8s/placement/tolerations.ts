/**
 * Tolerations against the levels' taints, with the scheduler's matching (ToleratesTaint): an empty key matches every
 * key (so `operator: Exists` with no key tolerates everything), an empty effect every effect, `Exists` any value, and
 * `Equal` (the default) only the same value.
 */
import type { SensitivityConfig } from '../config.js';
import { asArray, asRecord } from '../model.js';

export interface Taint {
  readonly key: string;
  readonly value: string;
  readonly effect: string;
}

/** The taint the nodes of a level carry. */
export function levelTaint(s: SensitivityConfig, level: string): Taint {
  return { key: s.taintKey, value: level, effect: 'NoSchedule' };
}

/** The toleration the fix adds for a level. */
export function levelToleration(s: SensitivityConfig, level: string): Record<string, string> {
  return { key: s.taintKey, operator: 'Equal', value: level, effect: 'NoSchedule' };
}

/** Whether one toleration tolerates the taint; undefined for an operator the scheduler does not know. */
export function tolerates(toleration: unknown, taint: Taint): boolean | undefined {
  const t = asRecord(toleration);
  if (!t) return false;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const effect = str(t.effect);
  if (effect !== '' && effect !== taint.effect) return false;
  const key = str(t.key);
  if (key !== '' && key !== taint.key) return false;
  const op = str(t.operator);
  if (op === 'Exists') return true;
  if (op === '' || op === 'Equal') return str(t.value) === taint.value;
  return undefined;
}

export interface TolerationCheck {
  /** Some toleration tolerates the workload's own level's taint. */
  readonly ownTolerated: boolean;
  /** Indexes of tolerations that tolerate another level's taint, with the levels each tolerates. */
  readonly foreign: readonly { readonly index: number; readonly levels: readonly string[] }[];
  /** Indexes of tolerations with an operator the scheduler does not know. */
  readonly unknown: readonly number[];
}

export function checkTolerations(s: SensitivityConfig, tolerations: unknown, level: string): TolerationCheck {
  const list = asArray(tolerations);
  const own = levelTaint(s, level);
  const foreign: { index: number; levels: string[] }[] = [];
  const unknown: number[] = [];
  let ownTolerated = false;
  list.forEach((t, index) => {
    if (tolerates(t, own) === true) ownTolerated = true;
    const levels = s.levels.filter((l) => l !== level && tolerates(t, levelTaint(s, l)) !== false);
    if (s.levels.some((l) => tolerates(t, levelTaint(s, l)) === undefined)) unknown.push(index);
    if (levels.length) foreign.push({ index, levels });
  });
  return { ownTolerated, foreign, unknown };
}

/** A toleration in words: `operator: Exists with no key (tolerates every taint)`, `key=value:effect`. */
export function describeToleration(toleration: unknown): string {
  const t = asRecord(toleration) ?? {};
  const key = typeof t.key === 'string' ? t.key : '';
  const op = typeof t.operator === 'string' ? t.operator : 'Equal';
  const effect = typeof t.effect === 'string' && t.effect ? t.effect : 'any effect';
  if (key === '' && op === 'Exists') return `operator Exists with no key (tolerates every taint, ${effect})`;
  if (op === 'Exists') return `${key} Exists (any value, ${effect})`;
  return `${key || '(any key)'}=${typeof t.value === 'string' ? t.value : ''} (${effect})`;
}
