/**
 * NetworkPolicy semantics the segmentation checks need (networking.k8s.io/v1): which pods a policy selects, which
 * directions it isolates (policyTypes, and its default when omitted), and whether a rule admits any peer.
 * ref: Kubernetes API reference, NetworkPolicySpec; Kubernetes documentation, "Network Policies".
 */
import { coversAnAddressFamily } from './cidr.js';
import { asArray, asRecord, getIn, type K8sObject } from './model.js';
import { type LabelSelector, parseLabelSelector, selectsAll } from './rules/selector.js';

export type Direction = 'Ingress' | 'Egress';

export interface NetPol {
  readonly object: K8sObject;
  /** undefined when the podSelector is one the API server would refuse (the policy then selects nothing here). */
  readonly podSelector?: LabelSelector;
  readonly selectorError?: string;
  /** The directions the policy isolates its pods in. */
  readonly types: ReadonlySet<Direction>;
}

/**
 * Whether an object is a Kubernetes NetworkPolicy: other groups use the same kind with other semantics (Calico's
 * projectcalico.org/v3 NetworkPolicy selects with `spec.selector`, so read as this one it would select every pod).
 */
export function isK8sNetworkPolicy(o: K8sObject): boolean {
  return o.kind === 'NetworkPolicy' && o.apiVersion.startsWith('networking.k8s.io/');
}

/** Read a NetworkPolicy. */
export function netPolOf(o: K8sObject): NetPol {
  const spec = asRecord(o.raw.spec) ?? {};
  const parsed = parseLabelSelector(spec.podSelector);
  const declared = asArray(spec.policyTypes).filter((t): t is Direction => t === 'Ingress' || t === 'Egress');
  // Without policyTypes the API server defaults to Ingress, plus Egress only when egress rules are present.
  const types = new Set<Direction>(
    Array.isArray(spec.policyTypes) && spec.policyTypes.length > 0
      ? declared
      : ['Ingress', ...(asArray(spec.egress).length > 0 ? (['Egress'] as const) : [])],
  );
  return parsed.ok
    ? { object: o, podSelector: parsed.selector, types }
    : { object: o, selectorError: parsed.error, types };
}

export function rulesField(d: Direction): 'ingress' | 'egress' {
  return d === 'Ingress' ? 'ingress' : 'egress';
}

/**
 * Whether a rule admits every peer: no `from`/`to` (or an empty list); a peer of every pod in every namespace (an
 * empty `namespaceSelector`, with no or an empty `podSelector`); or ipBlocks that together, less their `except`
 * ranges, cover the whole IPv4 or IPv6 space (`0.0.0.0/0`, or `0.0.0.0/1` and `128.0.0.0/1`). Ports may still be
 * restricted; every pod of the policy is reachable on them from anywhere.
 */
export function admitsAnyPeer(rule: unknown, d: Direction): boolean {
  const peers = asArray(asRecord(rule)?.[d === 'Ingress' ? 'from' : 'to']).map((p) => asRecord(p) ?? {});
  if (peers.length === 0) return true;
  if (peers.some(everyPod)) return true;
  const blocks = peers.map((p) => asRecord(p.ipBlock)).filter((b) => b !== undefined);
  return coversAnAddressFamily(blocks);
}

/** A peer that selects every pod of the cluster: `namespaceSelector: {}` and a podSelector absent or empty. */
function everyPod(peer: Readonly<Record<string, unknown>>): boolean {
  // null is an omitted field (only the policy's own namespace), as the API server decodes it.
  if (peer.namespaceSelector === undefined || peer.namespaceSelector === null) return false;
  const ns = parseLabelSelector(peer.namespaceSelector);
  if (!ns.ok || !selectsAll(ns.selector)) return false;
  if (peer.podSelector === undefined || peer.podSelector === null) return true;
  const pods = parseLabelSelector(peer.podSelector);
  return pods.ok && selectsAll(pods.selector);
}

export type DefaultDeny =
  | { readonly state: 'deny'; readonly policy: NetPol }
  | { readonly state: 'none' }
  /** A policy isolates every pod but another (or the same) one selecting every pod admits any peer. */
  | { readonly state: 'open'; readonly policy: NetPol; readonly rule: number };

/**
 * Whether a namespace's policies isolate every pod in a direction: some policy with an empty podSelector covers the
 * direction. Its allow rules are then the namespace's allowances (`deny all but DNS` to the DNS pods still isolates
 * every pod), unless a policy selecting every pod has a rule admitting any peer, which undoes the isolation.
 */
export function defaultDeny(policies: readonly NetPol[], d: Direction): DefaultDeny {
  const all = policies.filter((p) => p.podSelector && selectsAll(p.podSelector) && p.types.has(d));
  for (const p of all) {
    const rules = asArray(getIn(p.object.raw, ['spec', rulesField(d)]));
    const open = rules.findIndex((r) => admitsAnyPeer(r, d));
    if (open >= 0) return { state: 'open', policy: p, rule: open };
  }
  const first = all[0];
  return first ? { state: 'deny', policy: first } : { state: 'none' };
}
