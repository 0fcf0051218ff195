/**
 * Kubernetes label selectors (metav1.LabelSelector) as the API server reads them: `matchLabels` AND every
 * `matchExpressions` requirement; an empty selector selects everything. A selector the API server would refuse
 * (an unknown operator, `In` without values, a non-string label value) is returned as an error, never as "matches".
 */
import { asArray, asRecord } from '../model.js';

export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  readonly values: readonly string[];
}

export interface LabelSelector {
  /** matchLabels as `key In [value]` requirements, then matchExpressions, in order. */
  readonly requirements: readonly Requirement[];
}

export type ParsedSelector =
  | { readonly ok: true; readonly selector: LabelSelector }
  | { readonly ok: false; readonly error: string };

const OPERATORS: readonly Operator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/** Parse a selector; `undefined`/`null` (an omitted podSelector) is the empty selector. */
export function parseLabelSelector(raw: unknown): ParsedSelector {
  if (raw === undefined || raw === null) return { ok: true, selector: { requirements: [] } };
  const r = asRecord(raw);
  if (!r) return { ok: false, error: 'not a mapping' };
  const requirements: Requirement[] = [];
  if (r.matchLabels !== undefined && r.matchLabels !== null) {
    const ml = asRecord(r.matchLabels);
    if (!ml) return { ok: false, error: 'matchLabels is not a mapping' };
    for (const [key, value] of Object.entries(ml)) {
      if (typeof value !== 'string') return { ok: false, error: `matchLabels.${key} is not a string` };
      requirements.push({ key, operator: 'In', values: [value] });
    }
  }
  if (r.matchExpressions !== undefined && r.matchExpressions !== null) {
    if (!Array.isArray(r.matchExpressions)) return { ok: false, error: 'matchExpressions is not a list' };
    for (const [i, e] of r.matchExpressions.entries()) {
      const x = asRecord(e);
      const key = x?.key;
      const op = x?.operator;
      if (typeof key !== 'string' || key === '') return { ok: false, error: `matchExpressions[${i}] has no key` };
      if (typeof op !== 'string' || !(OPERATORS as readonly string[]).includes(op))
        return { ok: false, error: `matchExpressions[${i}]: unknown operator ${JSON.stringify(op)}` };
      const values = asArray(x?.values);
      if (!values.every((v) => typeof v === 'string'))
        return { ok: false, error: `matchExpressions[${i}]: values must be strings` };
      const operator = op as Operator;
      const needsValues = operator === 'In' || operator === 'NotIn';
      if (needsValues && values.length === 0)
        return { ok: false, error: `matchExpressions[${i}]: ${operator} needs at least one value` };
      if (!needsValues && values.length > 0)
        return { ok: false, error: `matchExpressions[${i}]: ${operator} takes no values` };
      requirements.push({ key, operator, values: values as string[] });
    }
  }
  return { ok: true, selector: { requirements } };
}

function satisfies(req: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, req.key);
  switch (req.operator) {
    case 'In':
      return has && req.values.includes(labels[req.key] as string);
    case 'NotIn':
      return !has || !req.values.includes(labels[req.key] as string);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

export function selectorMatches(s: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  return s.requirements.every((r) => satisfies(r, labels));
}

/** An empty selector (`{}`), which selects every pod (or namespace). */
export function selectsAll(s: LabelSelector): boolean {
  return s.requirements.length === 0;
}
