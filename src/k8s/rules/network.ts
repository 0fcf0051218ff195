/**
 * Network segmentation: every namespace the input describes or its workloads name isolates its pods by default in
 * both directions, and every workload in a namespace with NetworkPolicies is selected by at least one.
 */
import type { K8sObject } from '../model.js';
import { type Direction, defaultDeny, isK8sNetworkPolicy, type NetPol, netPolOf, rulesField } from '../netpol.js';
import type { K8sContext, K8sHit, K8sRule } from '../rule.js';
import { describedNamespaces, nsPhrase, SYSTEM_NAMESPACES } from './scope.js';
import { selectorMatches } from './selector.js';

/** Every NetworkPolicy by namespace (key undefined for those without one). */
function policiesByNamespace(ctx: K8sContext, noteErrors = false): Map<string | undefined, NetPol[]> {
  const out = new Map<string | undefined, NetPol[]>();
  // Every group: policies of other groups (Calico's) are noted as not read.
  for (const o of ctx.index.ofKind('NetworkPolicy', '*')) {
    if (!isK8sNetworkPolicy(o)) {
      if (noteErrors) ctx.note(o, `${o.apiVersion} is not networking.k8s.io: not read as a Kubernetes NetworkPolicy`);
      continue;
    }
    const p = netPolOf(o);
    if (p.selectorError && noteErrors)
      ctx.note(o, `podSelector cannot be read (${p.selectorError}): the policy is counted as selecting no pod`);
    const list = out.get(o.namespace);
    if (list) list.push(p);
    else out.set(o.namespace, [p]);
  }
  return out;
}

const RATIONALE_NS =
  'Judged for namespaces the input describes (a Namespace object is present) and those its workloads name (confidence medium without the Namespace object), except kube-system, kube-public and kube-node-lease, whose system components often need host networking and are set up by the distribution. A policy with an empty podSelector that isolates the direction counts even with allow rules (deny all but DNS to the DNS pods is a default deny), unless a policy selecting every pod admits any peer (a rule without from/to, an empty namespaceSelector, or ipBlocks covering every address: 0.0.0.0/0, or 0.0.0.0/1 and 128.0.0.0/1).';

interface JudgedNamespace {
  readonly name: string;
  /** What a finding points at: the Namespace object, else the first workload naming the namespace. */
  readonly at: K8sObject;
  readonly described: boolean;
}

/** Namespaces described by a Namespace object, then those only workloads name, neither a system namespace. */
function judgedNamespaces(ctx: K8sContext): JudgedNamespace[] {
  const out: JudgedNamespace[] = describedNamespaces(ctx).map((n) => ({ name: n.name, at: n, described: true }));
  const seen = new Set(ctx.index.ofKind('Namespace').map((n) => n.name));
  for (const w of ctx.workloads) {
    const ns = w.object.namespace;
    if (ns === undefined || ns === '' || seen.has(ns) || SYSTEM_NAMESPACES.has(ns)) continue;
    seen.add(ns);
    out.push({ name: ns, at: w.object, described: false });
  }
  return out;
}

function defaultDenyRule(d: Direction): K8sRule {
  const field = rulesField(d);
  return {
    id: `namespace-without-default-deny-${field}`,
    group: 'network',
    title: `Namespace without a default-deny ${field} NetworkPolicy`,
    severity: 'medium',
    confidence: 'high',
    rationale: `Pods are non-isolated for ${field} until a NetworkPolicy selects them, so without a policy that selects every pod a new or mislabelled workload ${d === 'Ingress' ? 'accepts connections from every pod in the cluster' : 'can reach every pod and the internet (exfiltration, lateral movement)'}. ${RATIONALE_NS}`,
    remediation: `Add a NetworkPolicy with \`podSelector: {}\` and \`policyTypes: [${d}]\` and no ${field} rules (or only narrow ones${d === 'Egress' ? ', such as DNS to kube-dns' : ''}), then allow the traffic each workload needs with its own policy.`,
    mapping: 'CIS Kubernetes Benchmark 5.3.2',
    check(ctx) {
      const byNs = policiesByNamespace(ctx);
      const hits: K8sHit[] = [];
      for (const ns of judgedNamespaces(ctx)) {
        const pols = byNs.get(ns.name) ?? [];
        const r = defaultDeny(pols, d);
        if (r.state === 'none')
          hits.push({
            object: ns.at,
            path: ns.described ? ['metadata', 'name'] : ['metadata', 'namespace'],
            message: `namespace ${ns.name}${ns.described ? '' : ` (no Namespace object in the input; named by ${ns.at.kind} ${ns.at.name || '(unnamed)'})`} has no NetworkPolicy that selects every pod for ${d} (${pols.length} polic${pols.length === 1 ? 'y' : 'ies'} there): pods no policy selects are open to all ${field}`,
            // Its policies may be applied apart from the workloads given (another file, another tool).
            ...(ns.described ? {} : { confidence: 'medium' as const }),
          });
        else if (r.state === 'open')
          hits.push({
            object: r.policy.object,
            path: ['spec', field, r.rule],
            message: `NetworkPolicy ${r.policy.object.name} selects every pod in namespace ${ns.name} and its ${field}[${r.rule}] admits any peer, which undoes the default deny`,
          });
      }
      return hits;
    },
  };
}

/** ref: Kubernetes documentation, "Network Policies" (isolated and non-isolated pods). */
const podNotSelected: K8sRule = {
  id: 'pod-not-selected-by-networkpolicy',
  group: 'network',
  title: 'Workload selected by no NetworkPolicy',
  severity: 'medium',
  confidence: 'high',
  rationale:
    "A pod no NetworkPolicy selects is isolated in neither direction, whatever the namespace's other policies say. Judged for workloads in namespaces that have NetworkPolicies in the input or that the input describes (not the system namespaces without policies); label selectors as the API server evaluates them (matchLabels and every matchExpressions requirement).",
  remediation:
    "Add a default-deny policy (`podSelector: {}`) to the namespace, or a policy that selects the workload's pod labels and allows only the traffic it needs.",
  mapping: 'CIS Kubernetes Benchmark 5.3.2',
  check(ctx) {
    const byNs = policiesByNamespace(ctx, true);
    const described = new Set(describedNamespaces(ctx).map((n) => n.name));
    const hits: K8sHit[] = [];
    for (const w of ctx.workloads) {
      const ns = w.object.namespace;
      const pols = byNs.get(ns) ?? [];
      if (pols.length === 0 && (ns === undefined || !described.has(ns) || SYSTEM_NAMESPACES.has(ns))) continue;
      if (pols.some((p) => p.podSelector && selectorMatches(p.podSelector, w.labels))) continue;
      const labels = Object.entries(w.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      hits.push({
        object: w.object,
        path: Object.keys(w.labels).length > 0 ? [...w.metaPath, 'labels'] : ['metadata', 'name'],
        message: `${w.object.kind} ${w.object.name || '(unnamed)'} ${nsPhrase(ns)} (pod labels ${labels || 'none'}) is selected by ${pols.length === 0 ? 'no NetworkPolicy (there is none in the namespace)' : `none of the ${pols.length} NetworkPolicies there`}: open to all ingress and egress`,
        // Objects without a namespace are assumed to be applied to the same one as the policies beside them.
        ...(ns === undefined ? { confidence: 'medium' as const } : {}),
      });
    }
    return hits;
  },
};

export const NETWORK_RULES: readonly K8sRule[] = [
  defaultDenyRule('Ingress'),
  defaultDenyRule('Egress'),
  podNotSelected,
];
