/**
 * Whether a pod spec pins the pod to nodes of exactly one level, with the scheduler's semantics: `nodeSelector`
 * (every entry must match) AND the required node affinity, whose `nodeSelectorTerms` are ORed and whose
 * requirements within a term are ANDed; an empty term matches no node. Preferred affinity never pins.
 */
import { asArray, asRecord, getIn, type Path, stringMap } from '../model.js';
import {
  constrain,
  describeSet,
  isEmpty,
  type KeySets,
  requirementSet,
  UNIVERSE,
  type ValueSet,
  within,
} from './values.js';

export const REQUIRED: Path = ['affinity', 'nodeAffinity', 'requiredDuringSchedulingIgnoredDuringExecution'];
export const TERMS: Path = [...REQUIRED, 'nodeSelectorTerms'];
const PREFERRED: Path = ['affinity', 'nodeAffinity', 'preferredDuringSchedulingIgnoredDuringExecution'];

export type Pinning =
  /** Every node the pod can be scheduled on carries exactly the level. */
  | { readonly verdict: 'pinned' }
  /** Nothing can match for reasons other than the level label (empty terms, contradictions on other keys). */
  | { readonly verdict: 'unschedulable' }
  /** The constraints on the level label exclude every node. */
  | { readonly verdict: 'contradiction'; readonly path: Path }
  | {
      readonly verdict: 'unpinned';
      /** What the constraints let through, in words. */
      readonly why: string;
      /** The field in the pod spec to point at. */
      readonly path: Path;
      /** A preferred node affinity names the level key (which does not pin). */
      readonly preferredOnly: boolean;
    };

interface Term {
  readonly sets: KeySets;
  readonly index?: number;
  /** The term can match no node at all (empty, or malformed). */
  readonly dead: boolean;
}

function terms(spec: Readonly<Record<string, unknown>>): Term[] {
  const base: KeySets = new Map();
  for (const [k, v] of Object.entries(stringMap(spec.nodeSelector)))
    constrain(base, k, requirementSet('In', [v], true));
  const required = asRecord(getIn(spec, REQUIRED));
  if (!required) return [{ sets: base, dead: false }];
  return asArray(required.nodeSelectorTerms).map((raw, index): Term => {
    const t = asRecord(raw);
    const exprs = asArray(t?.matchExpressions);
    const fields = asArray(t?.matchFields);
    const sets: KeySets = new Map(base);
    if (exprs.length + fields.length === 0) return { sets, index, dead: true };
    for (const [list, prefix] of [
      [exprs, ''],
      [fields, 'field:'],
    ] as const) {
      for (const e of list) {
        const r = asRecord(e);
        if (!r || typeof r.key !== 'string') return { sets, index, dead: true };
        constrain(sets, prefix + r.key, requirementSet(r.operator, r.values, prefix === ''));
      }
    }
    return { sets, index, dead: false };
  });
}

function isUniverse(s: ValueSet): boolean {
  return s.kind === 'infinite' && s.absent && s.excluded.size === 0 && s.gt === undefined && s.lt === undefined;
}

/** How the pod spec places the pod with respect to `key` (the node label key) and `level`. */
export function pinning(spec: Readonly<Record<string, unknown>>, key: string, level: string): Pinning {
  const all = terms(spec);
  const live = all.filter((t) => !t.dead && [...t.sets].every(([k, s]) => k === key || !isEmpty(s)));
  if (live.length === 0) return { verdict: 'unschedulable' };
  const levelSet = (t: Term) => t.sets.get(key) ?? UNIVERSE;
  const termPath = (t: Term): Path => (t.index === undefined ? ['nodeSelector'] : [...TERMS, t.index]);
  if (live.every((t) => isEmpty(levelSet(t)))) return { verdict: 'contradiction', path: termPath(live[0] as Term) };
  // A term whose level constraints exclude every node (Gt 3 and Lt 2) matches nothing: it cannot unpin.
  const bad = live.find((t) => !isEmpty(levelSet(t)) && !within(levelSet(t), [level]));
  if (!bad) return { verdict: 'pinned' };
  const set = levelSet(bad);
  const where =
    bad.index !== undefined && all.length > 1 ? ` (node selector term ${bad.index + 1} of ${all.length})` : '';
  const why = isUniverse(set)
    ? `nothing in its nodeSelector or required node affinity constrains ${key}${where}`
    : set.kind === 'finite' && set.values.size === 1 && !set.values.has(null)
      ? `it is pinned to ${key}=${describeSet(set)}, not ${level}${where}`
      : `it may run on nodes whose ${key} is ${describeSet(set)}${where}`;
  const preferredOnly = asArray(getIn(spec, PREFERRED)).some((p) =>
    asArray(getIn(p, ['preference', 'matchExpressions'])).some((e) => asRecord(e)?.key === key),
  );
  const path: Path =
    bad.index !== undefined ? termPath(bad) : Object.hasOwn(stringMap(spec.nodeSelector), key) ? ['nodeSelector'] : [];
  return { verdict: 'unpinned', why, path, preferredOnly };
}
