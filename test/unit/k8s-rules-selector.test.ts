import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LabelSelector, parseLabelSelector, selectorMatches, selectsAll } from '../../src/k8s/rules/selector.js';

function sel(raw: unknown): LabelSelector {
  const p = parseLabelSelector(raw);
  if (!p.ok) throw new Error(p.error);
  return p.selector;
}

describe('label selectors (metav1.LabelSelector)', () => {
  const labels = { app: 'web', tier: 'frontend', canary: '' };

  it('an empty or omitted selector selects everything', () => {
    for (const raw of [undefined, null, {}, { matchLabels: {} }, { matchExpressions: [] }]) {
      expect(selectsAll(sel(raw))).toBe(true);
      expect(selectorMatches(sel(raw), {})).toBe(true);
      expect(selectorMatches(sel(raw), labels)).toBe(true);
    }
  });

  it('matchLabels: every pair must be present with that value', () => {
    expect(selectorMatches(sel({ matchLabels: { app: 'web' } }), labels)).toBe(true);
    expect(selectorMatches(sel({ matchLabels: { app: 'web', tier: 'frontend' } }), labels)).toBe(true);
    expect(selectorMatches(sel({ matchLabels: { app: 'web', tier: 'backend' } }), labels)).toBe(false);
    expect(selectorMatches(sel({ matchLabels: { role: 'web' } }), labels)).toBe(false);
    // An empty value is a value: it matches the empty label, not a missing one.
    expect(selectorMatches(sel({ matchLabels: { canary: '' } }), labels)).toBe(true);
    expect(selectorMatches(sel({ matchLabels: { missing: '' } }), labels)).toBe(false);
  });

  it('matchExpressions: In, NotIn (true when the key is absent), Exists, DoesNotExist', () => {
    const m = (key: string, operator: string, values?: string[]) =>
      selectorMatches(sel({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] }), labels);
    expect(m('tier', 'In', ['frontend', 'backend'])).toBe(true);
    expect(m('tier', 'In', ['backend'])).toBe(false);
    expect(m('zone', 'In', ['a'])).toBe(false);
    expect(m('tier', 'NotIn', ['backend'])).toBe(true);
    expect(m('tier', 'NotIn', ['frontend'])).toBe(false);
    expect(m('zone', 'NotIn', ['a'])).toBe(true);
    expect(m('canary', 'Exists')).toBe(true);
    expect(m('zone', 'Exists')).toBe(false);
    expect(m('zone', 'DoesNotExist')).toBe(true);
    expect(m('app', 'DoesNotExist')).toBe(false);
  });

  it('matchLabels AND matchExpressions', () => {
    const s = sel({
      matchLabels: { app: 'web' },
      matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['backend'] }],
    });
    expect(selectorMatches(s, labels)).toBe(true);
    expect(selectorMatches(s, { app: 'web', tier: 'backend' })).toBe(false);
    expect(selectorMatches(s, { app: 'api' })).toBe(false);
    expect(selectorMatches(s, { app: 'web' })).toBe(true);
  });

  it('refuses what the API server refuses, saying what', () => {
    const bad: [unknown, RegExp][] = [
      ['app=web', /not a mapping/],
      [{ matchLabels: ['app'] }, /matchLabels is not a mapping/],
      [{ matchLabels: { replicas: 3 } }, /matchLabels.replicas is not a string/],
      [{ matchExpressions: { key: 'a' } }, /not a list/],
      [{ matchExpressions: [{ operator: 'Exists' }] }, /has no key/],
      [{ matchExpressions: [{ key: 'a', operator: 'in', values: ['x'] }] }, /unknown operator "in"/],
      [{ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] }, /unknown operator "Gt"/],
      [{ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }, /In needs at least one value/],
      [{ matchExpressions: [{ key: 'a', operator: 'NotIn' }] }, /NotIn needs at least one value/],
      [{ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }, /Exists takes no values/],
      [{ matchExpressions: [{ key: 'a', operator: 'In', values: [1] }] }, /values must be strings/],
    ];
    for (const [raw, why] of bad) {
      const p = parseLabelSelector(raw);
      expect(p.ok, JSON.stringify(raw)).toBe(false);
      if (!p.ok) expect(p.error).toMatch(why);
    }
  });

  // A reference written the way the API documentation states the rules, over the raw selector, to hold the parsed
  // form against: every matchLabels pair equal, and every expression true.
  function reference(
    raw: {
      matchLabels?: Record<string, string>;
      matchExpressions?: { key: string; operator: string; values?: string[] }[];
    },
    l: Record<string, string>,
  ): boolean {
    for (const k of Object.keys(raw.matchLabels ?? {})) if (!(k in l) || l[k] !== raw.matchLabels?.[k]) return false;
    for (const e of raw.matchExpressions ?? []) {
      const present = k(l, e.key);
      const vals = e.values ?? [];
      if (e.operator === 'In' && !(present && vals.indexOf(l[e.key] as string) !== -1)) return false;
      if (e.operator === 'NotIn' && present && vals.indexOf(l[e.key] as string) !== -1) return false;
      if (e.operator === 'Exists' && !present) return false;
      if (e.operator === 'DoesNotExist' && present) return false;
    }
    return true;
  }
  const k = (l: Record<string, string>, key: string) => Object.keys(l).includes(key);

  const key = fc.constantFrom('app', 'tier', 'zone', 'team', 'constructor');
  const value = fc.constantFrom('', 'web', 'api', 'a', 'b');
  const labelsArb = fc.dictionary(key, value, { maxKeys: 5 });
  const expr = fc.oneof(
    fc.record({
      key,
      operator: fc.constantFrom('In', 'NotIn'),
      values: fc.array(value, { minLength: 1, maxLength: 3 }),
    }),
    fc.record({ key, operator: fc.constantFrom('Exists', 'DoesNotExist') }),
  );
  const selectorArb = fc.record(
    { matchLabels: fc.dictionary(key, value, { maxKeys: 3 }), matchExpressions: fc.array(expr, { maxLength: 4 }) },
    { requiredKeys: [] },
  );

  it('property: matching agrees with the reference', () => {
    fc.assert(
      fc.property(selectorArb, labelsArb, (raw, l) => {
        expect(selectorMatches(sel(raw), l)).toBe(reference(raw, l));
      }),
      { numRuns: 2000 },
    );
  });

  it('property: adding a requirement never selects more; NotIn is the negation of In', () => {
    fc.assert(
      fc.property(selectorArb, expr, labelsArb, (raw, e, l) => {
        const wider = selectorMatches(sel(raw), l);
        const narrower = selectorMatches(sel({ ...raw, matchExpressions: [...(raw.matchExpressions ?? []), e] }), l);
        expect(!narrower || wider).toBe(true);
        if (e.operator === 'In' || e.operator === 'NotIn') {
          const flip = { ...e, operator: e.operator === 'In' ? 'NotIn' : 'In' };
          expect(selectorMatches(sel({ matchExpressions: [flip] }), l)).toBe(
            !selectorMatches(sel({ matchExpressions: [e] }), l),
          );
        }
      }),
    );
  });

  it('property: any JSON value parses to a selector or a stated error, never a throw', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (raw) => {
        const p = parseLabelSelector(raw);
        if (p.ok) expect(typeof selectorMatches(p.selector, { app: 'web' })).toBe('boolean');
        else expect(p.error.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });
});
