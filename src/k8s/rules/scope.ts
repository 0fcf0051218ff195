/**
 * What the namespace, network, RBAC and image checks look at: the namespaces the input describes, and the workloads
 * that are not just copies of another workload in the input (a cluster dump holds a Deployment, its ReplicaSets and
 * their Pods, all with the same pod template: reported once, on the owner).
 */
import type { K8sObject } from '../model.js';
import type { K8sContext } from '../rule.js';
import type { Workload } from '../workload.js';

/** Namespaces Kubernetes creates for itself; the namespace-level checks leave them out (see each rule's rationale). */
export const SYSTEM_NAMESPACES: ReadonlySet<string> = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

/** Namespace objects in the input, other than the system namespaces. */
export function describedNamespaces(ctx: K8sContext): K8sObject[] {
  return ctx.index.ofKind('Namespace').filter((n) => n.name !== '' && !SYSTEM_NAMESPACES.has(n.name));
}

// Memoised per run (keyed by the run's index and workload list): the rules ask these once per namespace or workload.
const byKindAndNs = new WeakMap<object, Map<string, Map<string | undefined, K8sObject[]>>>();
const tops = new WeakMap<object, Workload[]>();

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

/** The workloads not controlled by another object in the input (ownerReferences with controller: true). */
export function topWorkloads(ctx: K8sContext): readonly Workload[] {
  const cached = tops.get(ctx.workloads);
  if (cached) return cached;
  const found = findTopWorkloads(ctx);
  tops.set(ctx.workloads, found);
  return found;
}

function findTopWorkloads(ctx: K8sContext): Workload[] {
  // runK8sRules has already left out the objects checked through their controller (audit.ts, controlledByInput); a
  // controlled pod still in ctx.workloads differs from its owner's template (a mutated pod) and is judged on its own.
  return [...ctx.workloads];
}

/** `in namespace x` or `without a namespace` for messages. */
export function nsPhrase(ns: string | undefined): string {
  return ns === undefined ? 'without a namespace' : `in namespace ${ns}`;
}
