/**
 * Sets of label values, as node selector requirements and label selectors constrain one key: the values a matching
 * node (or namespace, or pod) may carry under that key, `null` standing for "no such label". Finite (`In`,
 * `DoesNotExist`) or infinite (`NotIn`, `Exists`, `Gt`, `Lt`); exact for every operator the scheduler knows.
 */
import { asArray, asRecord, stringMap } from '../model.js';

/** A label value, or null for a node that does not carry the label. */
export type LabelValue = string | null;

export type ValueSet =
  | { readonly kind: 'finite'; readonly values: ReadonlySet<LabelValue> }
  | {
      readonly kind: 'infinite';
      /** Whether nodes without the label are in. */
      readonly absent: boolean;
      readonly excluded: ReadonlySet<string>;
      /** `Gt`/`Lt` bounds: members are then integers (as Go's ParseInt reads them) strictly between. */
      readonly gt?: bigint;
      readonly lt?: bigint;
    };

export const UNIVERSE: ValueSet = { kind: 'infinite', absent: true, excluded: new Set() };
const NOTHING: ValueSet = { kind: 'finite', values: new Set() };

const INT = /^[+-]?\d{1,19}$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A label value as the scheduler reads it for Gt/Lt (strconv.ParseInt base 10, 64 bits), or undefined. */
function parseInt64(v: string): bigint | undefined {
  if (!INT.test(v)) return undefined;
  const n = BigInt(v);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

export function has(set: ValueSet, v: LabelValue): boolean {
  if (set.kind === 'finite') return set.values.has(v);
  if (v === null) return set.absent;
  if (set.excluded.has(v)) return false;
  if (set.gt === undefined && set.lt === undefined) return true;
  const n = parseInt64(v);
  return n !== undefined && (set.gt === undefined || n > set.gt) && (set.lt === undefined || n < set.lt);
}

/** The defined one of two bounds, or the one `better` prefers (bigints: Math.max does not take them). */
function pick(
  a: bigint | undefined,
  b: bigint | undefined,
  better: (x: bigint, y: bigint) => boolean,
): bigint | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return better(a, b) ? a : b;
}

export function intersect(a: ValueSet, b: ValueSet): ValueSet {
  if (a.kind === 'finite') return { kind: 'finite', values: new Set([...a.values].filter((v) => has(b, v))) };
  if (b.kind === 'finite') return intersect(b, a);
  const gt = pick(a.gt, b.gt, (x, y) => x > y);
  const lt = pick(a.lt, b.lt, (x, y) => x < y);
  const bounded = gt !== undefined || lt !== undefined;
  return {
    kind: 'infinite',
    absent: a.absent && b.absent && !bounded,
    excluded: new Set([...a.excluded, ...b.excluded]),
    ...(gt !== undefined ? { gt } : {}),
    ...(lt !== undefined ? { lt } : {}),
  };
}

/**
 * Whether no value is in. An infinite set is empty only when its integer bounds leave no integer between them: any
 * integer has endless spellings (`1`, `01`, `+1`), so a finite exclusion list never empties it.
 */
export function isEmpty(set: ValueSet): boolean {
  if (set.kind === 'finite') return set.values.size === 0;
  return set.gt !== undefined && set.lt !== undefined && set.lt - set.gt <= 1n;
}

/** The set is within `allowed` (a finite list of values). */
export function within(set: ValueSet, allowed: readonly LabelValue[]): boolean {
  return set.kind === 'finite' && [...set.values].every((v) => allowed.includes(v));
}

/** The string values of a requirement's `values`; undefined when it is not a list of strings. */
function stringValues(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) return undefined;
  return v as string[];
}

/**
 * The values one requirement (`{key, operator, values}`) admits for its key. `Gt`/`Lt` take one integer. A malformed
 * requirement (unknown operator, bad values) matches nothing, as it does in the scheduler (the API refuses it).
 */
export function requirementSet(operator: unknown, rawValues: unknown, allowNumeric: boolean): ValueSet {
  const values = stringValues(rawValues);
  if (!values) return NOTHING;
  switch (operator) {
    case 'In':
      return { kind: 'finite', values: new Set(values) };
    case 'NotIn':
      return { kind: 'infinite', absent: true, excluded: new Set(values) };
    case 'Exists':
      return { kind: 'infinite', absent: false, excluded: new Set() };
    case 'DoesNotExist':
      return { kind: 'finite', values: new Set([null]) };
    case 'Gt':
    case 'Lt': {
      const n = values.length === 1 && allowNumeric ? parseInt64(values[0] as string) : undefined;
      if (n === undefined) return NOTHING;
      return { kind: 'infinite', absent: false, excluded: new Set(), ...(operator === 'Gt' ? { gt: n } : { lt: n }) };
    }
    default:
      return NOTHING;
  }
}

/** A selector's constraint per key: node selector terms and label selectors both reduce to this. */
export type KeySets = Map<string, ValueSet>;

export function constrain(sets: KeySets, key: string, set: ValueSet): void {
  const cur = sets.get(key);
  sets.set(key, cur ? intersect(cur, set) : set);
}

/**
 * A metav1.LabelSelector (`matchLabels`, `matchExpressions` with In, NotIn, Exists, DoesNotExist) as key sets; undefined
 * for a selector that is not an object. The empty selector has no constraints (it selects everything).
 */
export function labelSelectorSets(selector: unknown): KeySets | undefined {
  const sel = asRecord(selector);
  if (!sel) return undefined;
  const sets: KeySets = new Map();
  for (const [k, v] of Object.entries(stringMap(sel.matchLabels))) constrain(sets, k, requirementSet('In', [v], false));
  for (const e of asArray(sel.matchExpressions)) {
    const r = asRecord(e);
    if (!r || typeof r.key !== 'string') continue;
    constrain(sets, r.key, requirementSet(r.operator, r.values, false));
  }
  return sets;
}

/** Whether labels satisfy every key's set. */
export function matchesSets(sets: KeySets, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, set] of sets) if (!has(set, Object.hasOwn(labels, k) ? (labels[k] as string) : null)) return false;
  return true;
}

/** A set in words, for messages: `confidential, restricted`, `any value but public`, `unlabelled nodes`. */
export function describeSet(set: ValueSet): string {
  if (set.kind === 'finite') {
    if (set.values.size === 0) return 'no value';
    return [...set.values].map((v) => (v === null ? 'no label' : v)).join(', ');
  }
  const parts = [set.gt !== undefined || set.lt !== undefined ? 'any integer value in range' : 'any value'];
  if (set.excluded.size) parts.push(`but ${[...set.excluded].join(', ')}`);
  if (set.absent) parts.push('or no label');
  return parts.join(' ');
}
