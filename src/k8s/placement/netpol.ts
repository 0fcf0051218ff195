/**
 * NetworkPolicies that let traffic from a lower level into pods of a higher one. Levels are read from the selectors'
 * own labels when they name the level key, else from the Namespace objects and workloads in the input that the
 * selectors match; what cannot be read is a note, never a pass in silence.
 */
import type { SensitivityConfig } from '../config.js';
import { asArray, asRecord, describeObject, type K8sObject } from '../model.js';
import { isK8sNetworkPolicy } from '../netpol.js';
import type { K8sContext, K8sHit, K8sRule } from '../rule.js';
import { needsLevels, sensitivityOf } from './common.js';
import { levelOf, namespaceObject, rank } from './levels.js';
import { type KeySets, labelSelectorSets, matchesSets, type ValueSet } from './values.js';

interface Levels {
  readonly levels: Set<string>;
  /** Every namespace (an empty namespaceSelector): every level. */
  all: boolean;
  readonly undecided: string[];
  /** Read from objects in the input rather than from the selector itself (others may exist outside it). */
  resolved: boolean;
}

/** The levels a selector's own constraint on the level key names; undefined when it does not pin the key. */
function namedLevels(set: ValueSet | undefined): string[] | undefined {
  if (set?.kind !== 'finite' || set.values.has(null) || set.values.size === 0) return undefined;
  return [...set.values] as string[];
}

function addNamed(s: SensitivityConfig, out: Levels, values: readonly string[], what: string): void {
  for (const v of values)
    if (s.levels.includes(v)) out.levels.add(v);
    else out.undecided.push(`${what} names ${s.labelKey}=${v}, not a level`);
}

/** Levels of the workloads in the input in these namespaces that the pod selector matches. */
function workloadLevels(
  ctx: K8sContext,
  s: SensitivityConfig,
  namespaces: ReadonlySet<string>,
  pods: KeySets | undefined,
  out: Levels,
): void {
  for (const w of ctx.workloads) {
    if (w.object.namespace === undefined || !namespaces.has(w.object.namespace)) continue;
    if (pods && !matchesSets(pods, w.labels)) continue;
    const lv = levelOf(s, ctx.index, w);
    if (lv.known && lv.value !== undefined) {
      out.levels.add(lv.value);
      out.resolved = true;
    }
  }
}

function namespaceLevels(ctx: K8sContext, s: SensitivityConfig, names: readonly string[], out: Levels): void {
  for (const name of names) {
    const ns = namespaceObject(ctx.index, name);
    const v = ns?.labels[s.labelKey];
    if (v !== undefined && s.levels.includes(v)) {
      out.levels.add(v);
      out.resolved = true;
    } else out.undecided.push(ns ? `namespace ${name} has no level` : `namespace ${name} is not in the input`);
  }
}

/** The levels of the pods a NetworkPolicy applies to. */
function targetLevels(ctx: K8sContext, s: SensitivityConfig, np: K8sObject, spec: Record<string, unknown>): Levels {
  const out: Levels = { levels: new Set(), all: false, undecided: [], resolved: false };
  const pods = labelSelectorSets(spec.podSelector) ?? new Map();
  const named = namedLevels(pods.get(s.labelKey));
  if (named) {
    addNamed(s, out, named, 'its podSelector');
    return out;
  }
  if (np.namespace === undefined) {
    out.undecided.push('no namespace is written');
    return out;
  }
  namespaceLevels(ctx, s, [np.namespace], out);
  workloadLevels(ctx, s, new Set([np.namespace]), pods, out);
  return out;
}

/** The levels of the sources one `from` peer admits. */
function peerLevels(
  ctx: K8sContext,
  s: SensitivityConfig,
  np: K8sObject,
  peer: Record<string, unknown>,
  where: string,
): Levels {
  const out: Levels = { levels: new Set(), all: false, undecided: [], resolved: false };
  if (peer.ipBlock !== undefined) {
    out.undecided.push(`${where} is an ipBlock (addresses carry no level)`);
    return out;
  }
  const pods = peer.podSelector !== undefined ? labelSelectorSets(peer.podSelector) : undefined;
  const named = namedLevels(pods?.get(s.labelKey));
  if (named) {
    addNamed(s, out, named, `${where}'s podSelector`);
    return out;
  }
  let names: string[];
  if (peer.namespaceSelector === undefined) {
    if (np.namespace === undefined) {
      out.undecided.push(`${where}: the policy's namespace is not written`);
      return out;
    }
    names = [np.namespace];
  } else {
    const nsSets = labelSelectorSets(peer.namespaceSelector);
    if (!nsSets) {
      out.undecided.push(`${where}: namespaceSelector is not an object`);
      return out;
    }
    const nsNamed = namedLevels(nsSets.get(s.labelKey));
    if (nsNamed) {
      addNamed(s, out, nsNamed, `${where}'s namespaceSelector`);
      return out;
    }
    if (nsSets.size === 0) {
      out.all = true;
      return out;
    }
    names = ctx.index
      .ofKind('Namespace')
      .filter((n) => matchesSets(nsSets, n.labels))
      .map((n) => n.name);
    if (names.length === 0) {
      out.undecided.push(`${where}: its namespaceSelector matches no Namespace in the input`);
      return out;
    }
  }
  namespaceLevels(ctx, s, names, out);
  workloadLevels(ctx, s, new Set(names), pods, out);
  return out;
}

export const networkPolicyLowerToHigher: K8sRule = {
  id: 'networkpolicy-lower-to-higher',
  group: 'placement',
  title: 'NetworkPolicy admits traffic from a lower sensitivity level',
  severity: 'high',
  confidence: 'high',
  rationale:
    'Workloads of a higher level must not accept connections from lower-level ones: a compromised public workload would otherwise reach confidential services directly.',
  remediation:
    'Restrict the ingress rule to sources of the same or a higher level: a namespaceSelector or podSelector on the sensitivity label (`In [<level>, <higher levels>]`) instead of an empty `from` or `{}` selector.',
  mapping: 'NIST SP 800-190 4.3.3 (poorly separated inter-container network traffic)',
  notChecked: needsLevels,
  check(ctx) {
    const s = sensitivityOf(ctx);
    const hits: K8sHit[] = [];
    for (const np of ctx.index.ofKind('NetworkPolicy')) {
      if (!isK8sNetworkPolicy(np)) continue;
      const spec = asRecord(np.raw.spec) ?? {};
      const types = asArray(spec.policyTypes);
      if (types.length > 0 && !types.includes('Ingress')) continue;
      const target = targetLevels(ctx, s, np, spec);
      if (target.levels.size === 0) {
        ctx.note(np, `the level of the pods it selects cannot be read (${target.undecided.join('; ')}): not judged`);
        continue;
      }
      const top = Math.max(...[...target.levels].map((l) => rank(s, l)));
      const tl = s.levels[top] as string;
      if (top === 0) continue;
      const lowerThan = (l: string) => rank(s, l) >= 0 && rank(s, l) < top;
      asArray(spec.ingress).forEach((r, i) => {
        const from = asArray(asRecord(r)?.from);
        const rule = `ingress rule ${i + 1}`;
        if (from.length === 0) {
          hits.push({
            object: np,
            path: ['spec', 'ingress', i],
            message: `${describeObject(np)} admits every source into pods of level ${tl}: ${rule} has no from`,
          });
          return;
        }
        const found: string[] = [];
        const undecided: string[] = [];
        let resolved = false;
        from.forEach((p, j) => {
          const where = `${rule}, from ${j + 1}`;
          const peer = asRecord(p);
          if (!peer) return;
          const src = peerLevels(ctx, s, np, peer, where);
          undecided.push(...src.undecided);
          if (src.all) {
            found.push(`${where} (an empty namespaceSelector: every namespace, of every level)`);
            return;
          }
          const lower = s.levels.filter((l) => src.levels.has(l) && lowerThan(l));
          if (lower.length) {
            found.push(`${where} (level ${lower.join(', ')})`);
            resolved ||= src.resolved;
          }
        });
        if (found.length)
          hits.push({
            object: np,
            path: ['spec', 'ingress', i, 'from'],
            message: `${describeObject(np)} admits lower levels into pods of level ${tl}: ${found.join('; ')}`,
            ...(resolved ? { confidence: 'medium' as const } : {}),
          });
        if (undecided.length)
          ctx.note(np, `${undecided.join('; ')}: whether they are below level ${tl} cannot be read`);
      });
    }
    return hits;
  },
};
