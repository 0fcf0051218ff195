/**
 * Namespaces as boundaries: workloads kept out of `default`, and every namespace the input describes fenced with a
 * ResourceQuota, a LimitRange and an enforcing Pod Security Admission label.
 */
import type { K8sObject } from '../model.js';
import type { K8sContext, K8sHit, K8sRule } from '../rule.js';
import { describedNamespaces, inNamespace } from './scope.js';

const SYSTEM_NOTE =
  'The system namespaces (kube-system, kube-public, kube-node-lease) are left out: Kubernetes creates them and runs its own components there.';

/**
 * ref: CIS Kubernetes Benchmark 5.7.4 ("The default namespace should not be used"). Only an explicit
 * `namespace: default` is reported: a manifest without one lands wherever `kubectl -n` or the context says.
 */
const workloadInDefault: K8sRule = {
  id: 'workload-in-default-namespace',
  group: 'namespaces',
  title: 'Workload in the default namespace',
  severity: 'medium',
  confidence: 'high',
  rationale:
    'Everything in `default` shares one boundary: RBAC granted there, its quota and its network policies apply to every workload anyone put there without thinking about it, and new namespaces get no such accidental neighbours.',
  remediation:
    'Create a namespace per application or team, with its own RBAC, ResourceQuota, LimitRange, Pod Security label and NetworkPolicies, and move the workload there.',
  mapping: 'CIS Kubernetes Benchmark 5.7.4',
  check(ctx) {
    const hits: K8sHit[] = [];
    const notedFiles = new Set<string>();
    for (const w of ctx.workloads) {
      const o = w.object;
      if (o.namespace === 'default') {
        hits.push({
          object: o,
          path: ['metadata', 'namespace'],
          message: `${o.kind} ${o.name || '(unnamed)'} runs in the default namespace`,
        });
      } else if (o.namespace === undefined && !notedFiles.has(o.source.file)) {
        notedFiles.add(o.source.file);
        ctx.note(
          o,
          'workloads in this file have no metadata.namespace: they land in the namespace kubectl -n (or the context) selects, so whether that is default was not judged',
        );
      }
    }
    return hits;
  },
};

function namespaceHit(ns: K8sObject, message: string, extra: Partial<K8sHit> = {}): K8sHit {
  return { object: ns, path: ['metadata', 'name'], message, ...extra };
}

function workloadCounts(ctx: K8sContext): Map<string | undefined, number> {
  const counts = new Map<string | undefined, number>();
  for (const w of ctx.workloads) counts.set(w.object.namespace, (counts.get(w.object.namespace) ?? 0) + 1);
  return counts;
}

/** ref: Kubernetes documentation, "Resource Quotas" and "Limit Ranges"; NSA/CISA Kubernetes Hardening Guide. */
const withoutQuota: K8sRule = {
  id: 'namespace-without-resourcequota',
  group: 'namespaces',
  title: 'Namespace without a ResourceQuota',
  severity: 'medium',
  confidence: 'high',
  rationale: `Without a ResourceQuota one namespace's workloads (or whoever can create pods there) can take the cluster's CPU, memory, pods and volumes from every other namespace. Judged only for namespaces the input describes (a Namespace object is present). ${SYSTEM_NOTE}`,
  remediation:
    'Add a ResourceQuota to the namespace limiting requests and limits of CPU and memory, pods and persistent volume claims.',
  check(ctx) {
    const counts = workloadCounts(ctx);
    return describedNamespaces(ctx)
      .filter((ns) => inNamespace(ctx, 'ResourceQuota', ns.name).length === 0)
      .map((ns) =>
        namespaceHit(
          ns,
          `namespace ${ns.name} has no ResourceQuota in the input (${counts.get(ns.name) ?? 0} workload(s) in it)`,
        ),
      );
  },
};

const withoutLimitRange: K8sRule = {
  id: 'namespace-without-limitrange',
  group: 'namespaces',
  title: 'Namespace without a LimitRange',
  severity: 'low',
  confidence: 'high',
  rationale: `A LimitRange gives containers that declare no requests or limits default ones and caps what one container may ask for; without it a single pod can exhaust its node, and a quota on limits rejects pods that set none. Judged only for namespaces the input describes. ${SYSTEM_NOTE}`,
  remediation: 'Add a LimitRange with default requests and limits (and a max) for containers in the namespace.',
  check(ctx) {
    return describedNamespaces(ctx)
      .filter((ns) => inNamespace(ctx, 'LimitRange', ns.name).length === 0)
      .map((ns) => namespaceHit(ns, `namespace ${ns.name} has no LimitRange in the input`));
  },
};

const ENFORCE = 'pod-security.kubernetes.io/enforce';
const LEVELS = ['privileged', 'baseline', 'restricted'];

/**
 * ref: Kubernetes documentation, "Pod Security Admission" (labels `pod-security.kubernetes.io/<mode>: <level>`);
 * CIS Kubernetes Benchmark 5.2.1 (at least one active policy control mechanism). An invalid level is evaluated by the
 * admission plugin as restricted (with an error), so it is reported at low severity as a mistake, not a hole.
 */
const withoutPssLabel: K8sRule = {
  id: 'namespace-without-pss-label',
  group: 'namespaces',
  title: 'Namespace without an enforcing Pod Security label',
  severity: 'high',
  confidence: 'high',
  rationale: `Pod Security Admission enforces a Pod Security Standard in a namespace only through its \`${ENFORCE}\` label; without it the cluster's default applies (privileged unless the admission configuration says otherwise), and \`privileged\` turns enforcement off. Judged only for namespaces the input describes. ${SYSTEM_NOTE}`,
  remediation: `Label the namespace \`${ENFORCE}: restricted\` (or \`baseline\` where restricted cannot be met yet), with \`${ENFORCE}-version\` pinned if you want upgrades to be deliberate.`,
  mapping: 'CIS Kubernetes Benchmark 5.2.1; Pod Security Admission',
  check(ctx) {
    const hits: K8sHit[] = [];
    for (const ns of describedNamespaces(ctx)) {
      const level = ns.labels[ENFORCE];
      if (level === undefined) {
        hits.push(
          namespaceHit(
            ns,
            `namespace ${ns.name} has no ${ENFORCE} label: the cluster's default level applies (privileged unless the admission configuration sets another)`,
            { severity: 'medium', confidence: 'medium' },
          ),
        );
      } else if (level === 'privileged') {
        hits.push({
          object: ns,
          path: ['metadata', 'labels', ENFORCE],
          message: `namespace ${ns.name} is labelled ${ENFORCE}: privileged, which enforces nothing`,
        });
      } else if (!LEVELS.includes(level)) {
        hits.push({
          object: ns,
          path: ['metadata', 'labels', ENFORCE],
          message: `namespace ${ns.name} has ${ENFORCE}: ${JSON.stringify(level)}, not a level (privileged, baseline, restricted); admission evaluates it as restricted and reports an error`,
          severity: 'low',
        });
      }
    }
    return hits;
  },
};

export const NAMESPACE_RULES: readonly K8sRule[] = [
  workloadInDefault,
  withoutQuota,
  withoutLimitRange,
  withoutPssLabel,
];
