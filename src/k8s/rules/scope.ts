/**
 * What the namespace, network, RBAC and image checks look at: the namespaces the input describes and objects by
 * namespace. (Their workloads are ctx.workloads: runK8sRules has already left out the pods that are only copies of
 * their controller's template.)
 */
import type { K8sObject } from '../model.js';
import type { K8sContext } from '../rule.js';

/** Namespaces Kubernetes creates for itself; the namespace-level checks leave them out (see each rule's rationale). */
export const SYSTEM_NAMESPACES: ReadonlySet<string> = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

/** Namespace objects in the input, other than the system namespaces. */
export function describedNamespaces(ctx: K8sContext): K8sObject[] {
  return ctx.index.ofKind('Namespace').filter((n) => n.name !== '' && !SYSTEM_NAMESPACES.has(n.name));
}

// Memoised per run (keyed by the run's index and workload list): the rules ask these once per namespace or workload.
const byKindAndNs = new WeakMap<object, Map<string, Map<string | undefined, K8sObject[]>>>();

/** Objects of a kind in a namespace; `undefined` matches objects that name none (applied with the same `-n`). */
export function inNamespace(ctx: K8sContext, kind: string, ns: string | undefined): readonly K8sObject[] {
  let kinds = byKindAndNs.get(ctx.index);
  if (!kinds) {
    kinds = new Map();
    byKindAndNs.set(ctx.index, kinds);
  }
  let byNs = kinds.get(kind);
  if (!byNs) {
    byNs = new Map();
    for (const o of ctx.index.ofKind(kind)) {
      const list = byNs.get(o.namespace);
      if (list) list.push(o);
      else byNs.set(o.namespace, [o]);
    }
    kinds.set(kind, byNs);
  }
  return byNs.get(ns) ?? [];
}

/** `in namespace x` or `without a namespace` for messages. */
export function nsPhrase(ns: string | undefined): string {
  return ns === undefined ? 'without a namespace' : `in namespace ${ns}`;
}
