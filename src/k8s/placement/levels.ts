/**
 * Sensitivity levels: where a workload's level comes from (its pod template's label, else its namespace's), their
 * order, and which workloads are reported on their own rather than through the controller that owns them.
 */
import type { SensitivityConfig } from '../config.js';
import { groupOf } from '../kinds.js';
import { asArray, asRecord, getIn, type K8sObject, ownerChainCycles } from '../model.js';
import type { ObjectIndex } from '../rule.js';
import { customWorkloadsOf, placementOf, type Workload, workloadOf } from '../workload.js';

export interface LevelOf {
  /** The value found, known level or not; undefined when neither the pod nor its namespace carries one. */
  readonly value?: string;
  readonly from?: 'pod' | 'namespace';
  /** The value is one of the configured levels. */
  readonly known: boolean;
  /** The namespace's own level (configured, else its Namespace object's label), when it has one. */
  readonly namespaceLevel?: string;
}

/** 0 for the lowest level; -1 for a value that is not a level. */
export function rank(s: SensitivityConfig, level: string): number {
  return s.levels.indexOf(level);
}

// Lookups by name, built once per run and kind (an index lives for one run): a cluster dump holds tens of thousands of
// pods, each looking up its namespace and its owner.
const cache = new WeakMap<ObjectIndex, Map<string, Map<string, K8sObject>>>();

function named(
  index: ObjectIndex,
  kind: string,
  namespace: string | undefined,
  name: string,
  group?: string,
): K8sObject | undefined {
  let kinds = cache.get(index);
  if (!kinds) {
    kinds = new Map();
    cache.set(index, kinds);
  }
  const key = (ns: string | undefined, n: string) => `${ns ?? ''}\0${n}`;
  const kindKey = group === undefined ? kind : `${kind}\0${group}`;
  let objects = kinds.get(kindKey);
  if (!objects) {
    objects = new Map();
    // Namespaces are cluster-scoped: looked up by name alone. The first of duplicates wins, as in input order.
    for (const o of index.ofKind(kind, group)) {
      const k = key(kind === 'Namespace' ? undefined : o.namespace, o.name);
      if (!objects.has(k)) objects.set(k, o);
    }
    kinds.set(kindKey, objects);
  }
  return objects.get(key(kind === 'Namespace' ? undefined : namespace, name));
}

/** The Namespace object of that name, when the input holds it. */
export function namespaceObject(index: ObjectIndex, name: string | undefined): K8sObject | undefined {
  return name === undefined ? undefined : named(index, 'Namespace', undefined, name);
}

/**
 * The level of pods with these labels in this namespace: their own label, else the namespace's (the configuration's
 * sensitivity.namespaces, else the Namespace object's label). A pod's own label that its namespace's level does not
 * vouch for (a different level, or none) is reported by sensitivity-level-mismatch.
 */
export function levelOfLabels(
  s: SensitivityConfig,
  index: ObjectIndex,
  labels: Readonly<Record<string, string>>,
  namespace: string | undefined,
): LevelOf {
  const configured =
    namespace !== undefined && Object.hasOwn(s.namespaces, namespace) ? s.namespaces[namespace] : undefined;
  const ns = configured ?? namespaceObject(index, namespace)?.labels[s.labelKey];
  const nsPart = ns !== undefined ? { namespaceLevel: ns } : {};
  const own = labels[s.labelKey];
  if (own !== undefined) return { value: own, from: 'pod', known: s.levels.includes(own), ...nsPart };
  if (ns !== undefined) return { value: ns, from: 'namespace', known: s.levels.includes(ns), ...nsPart };
  return { known: false };
}

export function levelOf(s: SensitivityConfig, index: ObjectIndex, w: Workload): LevelOf {
  return levelOfLabels(s, index, w.labels, w.object.namespace);
}

/** The controller that owns the object (ownerReferences with controller: true), when the input holds it. */
export function presentOwner(o: K8sObject, index: ObjectIndex): K8sObject | undefined {
  for (const ref of asArray(getIn(o.raw, ['metadata', 'ownerReferences']))) {
    const r = asRecord(ref);
    if (r?.controller !== true || typeof r.kind !== 'string') continue;
    // The owner's group as the reference names it: a custom `Deployment` does not own through the built-in one.
    const group = typeof r.apiVersion === 'string' ? (groupOf(r.apiVersion) ?? '\0') : undefined;
    const owner = typeof r.name === 'string' ? named(index, r.kind, o.namespace, r.name, group) : undefined;
    if (owner) return owner;
  }
  return undefined;
}

/** The controller named in ownerReferences (controller: true), present or not: `ReplicaSet web-5d4f`. */
export function ownerName(o: K8sObject): string | undefined {
  for (const ref of asArray(getIn(o.raw, ['metadata', 'ownerReferences']))) {
    const r = asRecord(ref);
    if (r?.controller === true && typeof r.kind === 'string' && typeof r.name === 'string')
      return `${r.kind} ${r.name}`;
  }
  return undefined;
}

/**
 * The workloads judged on their own: a Pod or ReplicaSet whose controller is in the input is judged through it (a
 * cluster dump holds the Deployment, its ReplicaSets and their Pods: one finding, on the Deployment, where it is fixed),
 * unless its placement is not its controller's template's (a pod that dropped the nodeSelector or tolerates every
 * taint is placed by what it holds, not by the template).
 */
export function ownWorkloads(workloads: readonly Workload[], index: ObjectIndex): Workload[] {
  return workloads.filter((w) => {
    const owner = presentOwner(w.object, index);
    // One that names itself as its controller, or owners naming each other, is judged on its own: never through itself.
    if (owner === undefined || ownerChainCycles(w.object, (o) => presentOwner(o, index))) return true;
    return !placedAsTemplate(w, owner);
  });
}

function placedAsTemplate(w: Workload, owner: K8sObject): boolean {
  const own = workloadOf(owner);
  const templates = own ? [own] : customWorkloadsOf(owner).workloads;
  const mine = placementOf(w);
  return templates.some((t) => placementOf(t) === mine);
}
