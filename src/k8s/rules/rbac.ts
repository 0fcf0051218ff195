/**
 * RBAC: cluster-admin bindings, wildcards, secret reads, escalate/bind/impersonate, and pods holding the default
 * service account's token. A role matters only when bound: a finding sits on the role's rule (what to fix) and says
 * which bindings grant it; with no binding in the input it is reported at medium confidence. Upstream's bootstrap
 * roles are judged only through bindings that are not themselves bootstrap defaults.
 */
import type { Severity } from '../../findings/finding.js';
import { lookup } from '../../util/record.js';
import { isBuiltin } from '../kinds.js';
import { describeObject } from '../model.js';
import {
  type Binding,
  bindingsIn,
  bindingsOf,
  coversResource,
  coversVerb,
  describeBinding,
  describeSubject,
  isBootstrap,
  type PolicyRule,
  policyRules,
  subjectCoversServiceAccount,
} from '../rbac.js';
import type { K8sContext, K8sHit, K8sRule } from '../rule.js';
import { inNamespace, nsPhrase } from './scope.js';

/** Where a role's permissions apply: everywhere, one namespace, or not known (a ClusterRole no input binding names). */
type Scope = 'cluster' | 'namespace' | 'unknown';

interface Judged {
  readonly path: readonly (string | number)[];
  readonly what: string;
  readonly severity: Severity;
}

function bindingList(grants: readonly Binding[]): string {
  const shown = grants.slice(0, 3).map(describeBinding).join('; ');
  return `${shown}${grants.length > 3 ? ` and ${grants.length - 3} more` : ''}`;
}

function grantText(grants: readonly Binding[], scope: Scope): string {
  if (grants.length === 0) return 'no binding in the input grants it';
  return `granted ${scope === 'cluster' ? 'cluster-wide' : 'in a namespace'} by ${bindingList(grants)}`;
}

/** Run a judge over every rule of every Role and ClusterRole that is (or may be) bound. */
function roleRuleHits(ctx: K8sContext, judge: (r: PolicyRule, scope: Scope) => Judged | undefined): K8sHit[] {
  const bindings = bindingsIn(ctx.objects);
  const hits: K8sHit[] = [];
  for (const role of ctx.objects) {
    if (!isBuiltin(role, 'Role') && !isBuiltin(role, 'ClusterRole')) continue;
    let grants = bindingsOf(role, bindings);
    if (isBootstrap(role)) {
      grants = grants.filter((b) => !b.bootstrap);
      if (grants.length === 0) continue;
    }
    const scope: Scope =
      role.kind === 'Role'
        ? 'namespace'
        : grants.length === 0
          ? 'unknown'
          : grants.some((g) => g.clusterWide)
            ? 'cluster'
            : 'namespace';
    for (const r of policyRules(role)) {
      const j = judge(r, scope);
      if (!j) continue;
      hits.push({
        object: role,
        path: ['rules', r.index, ...j.path],
        message: `${describeObject(role)} rules[${r.index}] ${j.what}; ${grantText(grants, scope)}`,
        severity: j.severity,
        ...(grants.length === 0 ? { confidence: 'medium' as const } : {}),
      });
    }
  }
  return hits;
}

const LOWER: Readonly<Record<Severity, Severity>> = {
  critical: 'high',
  high: 'medium',
  medium: 'low',
  low: 'low',
  info: 'info',
  unknown: 'unknown',
};

/** The worst case for a cluster-wide (or possibly cluster-wide) grant, one step lower in one namespace. */
function scoped(worst: Severity, scope: Scope): Severity {
  return scope === 'namespace' ? LOWER[worst] : worst;
}

function pathOf(r: PolicyRule, field: 'verbs' | 'resources' | 'apiGroups' | 'nonResourceURLs', value: string) {
  const i = r[field].indexOf(value);
  return i >= 0 ? [field, i] : [field];
}

/**
 * ref: CIS Kubernetes Benchmark 5.1.1. The binding upstream ships (ClusterRoleBinding cluster-admin to the group
 * system:masters) grants nothing the authorizer does not already give that group, so system:masters subjects are
 * left out and a binding with no other subject is not reported. kubeadm's kubeadm:cluster-admins binding (the group
 * of admin.conf, since 1.29) is reported at low severity.
 */
const clusterAdminBinding: K8sRule = {
  id: 'rbac-cluster-admin-binding',
  group: 'rbac',
  title: 'Binding to cluster-admin',
  severity: 'critical',
  confidence: 'high',
  rationale:
    'cluster-admin allows every verb on every resource: bound cluster-wide it gives its subjects (and every pod running as a bound service account) the whole cluster, bound in a namespace every Secret, Role and workload there.',
  remediation:
    'Bind a role with only the permissions needed (admin, edit or a custom role, in a namespace); keep break-glass cluster-admin access outside the cluster (a kubeconfig kept offline), not bound to everyday users or service accounts.',
  mapping: 'CIS Kubernetes Benchmark 5.1.1',
  check(ctx) {
    const hits: K8sHit[] = [];
    for (const b of bindingsIn(ctx.objects)) {
      if (b.roleKind !== 'ClusterRole' || b.roleName !== 'cluster-admin') continue;
      const subjects = b.subjects.filter((s) => !(s.kind === 'Group' && s.name === 'system:masters'));
      // No subject but system:masters (upstream's own binding) or none at all: it grants nothing new.
      if (subjects.length === 0) continue;
      const who = subjects.map(describeSubject).join(', ');
      const kubeadm =
        b.clusterWide &&
        b.object.name === 'kubeadm:cluster-admins' &&
        subjects.every((s) => s.kind === 'Group' && s.name === 'kubeadm:cluster-admins');
      hits.push({
        object: b.object,
        path: ['roleRef', 'name'],
        message: kubeadm
          ? `${b.object.kind} ${b.object.name} grants cluster-admin to ${who}: kubeadm's binding for admin.conf; keep that kubeadm-made credential offline`
          : `${b.object.kind} ${b.object.namespace !== undefined ? `${b.object.namespace}/` : ''}${b.object.name} grants cluster-admin ${b.clusterWide ? 'cluster-wide' : `in namespace ${b.object.namespace ?? '(unset)'}`} to ${who}`,
        severity: kubeadm ? 'low' : b.clusterWide ? 'critical' : 'high',
      });
    }
    return hits;
  },
};

/** ref: CIS Kubernetes Benchmark 5.1.3. */
const wildcard: K8sRule = {
  id: 'rbac-wildcard',
  group: 'rbac',
  title: 'RBAC rule with a wildcard',
  severity: 'critical',
  confidence: 'high',
  rationale:
    "`*` grants every verb, resource or API group, including those added later (CRDs, new subresources), so the role's reach grows without anyone changing it; `*` on all three is cluster-admin.",
  remediation:
    'List the verbs, resources and API groups the subject needs; for a controller, take them from its documentation or its audit log.',
  mapping: 'CIS Kubernetes Benchmark 5.1.3',
  check(ctx) {
    return roleRuleHits(ctx, (r, scope) => {
      const fields = (['verbs', 'resources', 'apiGroups', 'nonResourceURLs'] as const).filter((f) =>
        r[f].includes('*'),
      );
      const first = fields[0];
      if (!first) return undefined;
      const all = r.verbs.includes('*') && r.resources.includes('*') && r.apiGroups.includes('*');
      const worst: Severity = all ? 'critical' : r.verbs.includes('*') || r.resources.includes('*') ? 'high' : 'medium';
      return {
        path: pathOf(r, first, '*'),
        what: `has * in ${fields.join(', ')}${all ? ' (every verb on every resource)' : ''}`,
        severity: scoped(worst, scope),
      };
    });
  },
};

const READ_VERBS = ['get', 'list', 'watch'];

/** ref: CIS Kubernetes Benchmark 5.1.2. */
const secretRead: K8sRule = {
  id: 'rbac-secret-read',
  group: 'rbac',
  title: 'RBAC rule that reads Secrets',
  severity: 'high',
  confidence: 'high',
  rationale:
    'get, list or watch on secrets returns their contents: service-account tokens, registry credentials, TLS keys. Granted cluster-wide it reads every namespace (including kube-system); `list` and `watch` return every Secret at once.',
  remediation:
    'Grant secret reads only in the namespace that needs them, with resourceNames for the specific Secrets; mount Secrets into the pod instead of reading them through the API where possible.',
  mapping: 'CIS Kubernetes Benchmark 5.1.2',
  check(ctx) {
    const hits = roleRuleHits(ctx, (r, scope) => {
      const verbs = READ_VERBS.filter((v) => coversVerb(r, v));
      if (verbs.length === 0 || !coversResource(r, '', 'secrets')) return undefined;
      const named = r.resourceNames.length > 0;
      const via = r.resources.includes('secrets') ? '' : ' (through *)';
      return {
        path: pathOf(r, 'resources', r.resources.includes('secrets') ? 'secrets' : '*'),
        what: `allows ${verbs.join(', ')} on secrets${via}${named ? ` named ${r.resourceNames.join(', ')}` : ''}`,
        severity: named ? 'low' : scoped('high', scope),
      };
    });
    return [...hits, ...builtinGrantHits(ctx, 'secrets')];
  },
};

const RBAC_GROUP = 'rbac.authorization.k8s.io';

function escalation(r: PolicyRule, scope: Scope): { what: string[]; path: (string | number)[]; worst: Severity } {
  const what: string[] = [];
  let worst: Severity = 'high';
  // Roles are namespaced; ClusterRoles and users/groups are cluster-scoped, so a namespaced grant cannot reach them.
  const roleKinds = scope === 'namespace' ? ['roles'] : ['roles', 'clusterroles'];
  for (const verb of ['escalate', 'bind']) {
    const on = roleKinds.filter((k) => coversResource(r, RBAC_GROUP, k));
    if (coversVerb(r, verb) && on.length > 0) {
      what.push(`${verb} on ${on.join(', ')}`);
      if (on.includes('clusterroles')) worst = 'critical';
    }
  }
  if (coversVerb(r, 'impersonate')) {
    const kinds = scope === 'namespace' ? ['serviceaccounts'] : ['users', 'groups', 'serviceaccounts'];
    const on = kinds.filter((k) => coversResource(r, '', k));
    const auth = r.apiGroups.some((g) => g === '*' || g === 'authentication.k8s.io');
    if (
      scope !== 'namespace' &&
      auth &&
      r.resources.some((x) => x === '*' || x === 'uids' || x.startsWith('userextras'))
    )
      on.push('uids/userextras');
    if (on.length > 0) {
      what.push(`impersonate on ${on.join(', ')}`);
      if (on.includes('users') || on.includes('groups')) worst = 'critical';
    }
  }
  const verbField = ['escalate', 'bind', 'impersonate'].find((v) => r.verbs.includes(v)) ?? '*';
  return { what, path: pathOf(r, 'verbs', verbField), worst };
}

/** ref: CIS Kubernetes Benchmark 5.1.8; Kubernetes documentation, "RBAC good practices" (escalate, bind, impersonate). */
const escalateBindImpersonate: K8sRule = {
  id: 'rbac-escalate-bind-impersonate',
  group: 'rbac',
  title: 'RBAC rule allowing escalate, bind or impersonate',
  severity: 'critical',
  confidence: 'high',
  rationale:
    "RBAC stops subjects from granting permissions they do not hold, except with these verbs: escalate edits a role beyond the editor's own permissions, bind binds any role (cluster-admin included), impersonate acts as another user, group or service account (system:masters included).",
  remediation:
    'Remove escalate, bind and impersonate; where a controller needs them, restrict them with resourceNames to the specific roles or accounts.',
  mapping: 'CIS Kubernetes Benchmark 5.1.8',
  check(ctx) {
    const hits = roleRuleHits(ctx, (r, scope) => {
      const e = escalation(r, scope);
      if (e.what.length === 0) return undefined;
      const named = r.resourceNames.length > 0;
      return {
        path: e.path,
        what: `allows ${e.what.join('; ')}${named ? ` (only ${r.resourceNames.join(', ')})` : ''}`,
        severity: named ? 'medium' : scoped(e.worst, scope),
      };
    });
    return [...hits, ...builtinGrantHits(ctx, 'impersonate')];
  },
};

/**
 * Upstream's user-facing ClusterRoles that read secrets and impersonate service accounts (the edit role, which admin
 * aggregates), for bindings to them when the role itself is not in the input.
 * ref: Kubernetes documentation, "Using RBAC Authorization", user-facing roles.
 */
const BUILTIN_GRANTS: Readonly<Record<string, { secrets: string; impersonate: string }>> = {
  admin: { secrets: 'get, list, watch on secrets', impersonate: 'impersonate on serviceaccounts' },
  edit: { secrets: 'get, list, watch on secrets', impersonate: 'impersonate on serviceaccounts' },
};

function builtinGrantHits(ctx: K8sContext, what: 'secrets' | 'impersonate'): K8sHit[] {
  const present = new Set(ctx.index.ofKind('ClusterRole').map((r) => r.name));
  const hits: K8sHit[] = [];
  for (const b of bindingsIn(ctx.objects)) {
    const g = b.roleKind === 'ClusterRole' && !present.has(b.roleName) ? lookup(BUILTIN_GRANTS, b.roleName) : undefined;
    if (!g || b.bootstrap) continue;
    hits.push({
      object: b.object,
      path: ['roleRef', 'name'],
      message: `${describeBinding(b)} grants the built-in ClusterRole ${b.roleName}, which allows ${g[what]} ${b.clusterWide ? 'cluster-wide' : `in namespace ${b.object.namespace ?? '(unset)'}`} (the role as upstream ships it; it is not in the input)`,
      severity: b.clusterWide ? 'high' : 'medium',
      confidence: 'medium',
    });
  }
  return hits;
}

const MIRROR = 'kubernetes.io/config.mirror';

/**
 * ref: CIS Kubernetes Benchmark 5.1.5 and 5.1.6; Kubernetes documentation, "Configure Service Accounts for Pods"
 * (the pod's automountServiceAccountToken wins over the ServiceAccount's). Mirror pods of static pods get no token.
 */
const defaultSaAutomount: K8sRule = {
  id: 'default-serviceaccount-token-automount',
  group: 'rbac',
  title: "Pod mounts the default service account's token",
  severity: 'medium',
  confidence: 'high',
  rationale:
    "Every pod that names no service account runs as its namespace's `default` one and gets its API token mounted; anything granted to that account (or later bound to it) then reaches every such pod, and a compromised container holds a credential it never needed.",
  remediation:
    "Give the workload its own ServiceAccount with only the permissions it needs, and set `automountServiceAccountToken: false` on the pod (or on the namespace's default ServiceAccount) when it does not call the API.",
  mapping: 'CIS Kubernetes Benchmark 5.1.5, 5.1.6',
  check(ctx) {
    // Upstream grants every account discovery-level roles (system:basic-user, system:discovery): not worth naming
    // here. A borrowed label on a broad grant is still judged by the role checks (Binding.bootstrap is stricter).
    const bindings = bindingsIn(ctx.objects).filter((b) => !isBootstrap(b.object));
    const grantsByNs = new Map<string | undefined, Binding[]>();
    const hits: K8sHit[] = [];
    for (const w of ctx.workloads) {
      if (isBuiltin(w.object, 'Pod') && w.annotations[MIRROR] !== undefined) continue;
      const spec = w.spec;
      const named = typeof spec.serviceAccountName === 'string' && spec.serviceAccountName !== '';
      const legacy = typeof spec.serviceAccount === 'string' && spec.serviceAccount !== '';
      const sa = named ? spec.serviceAccountName : legacy ? spec.serviceAccount : 'default';
      if (sa !== 'default' || spec.automountServiceAccountToken === false) continue;
      const ns = w.object.namespace;
      const saObj = inNamespace(ctx, 'ServiceAccount', ns).find((s) => s.name === 'default');
      if (spec.automountServiceAccountToken !== true && saObj?.raw.automountServiceAccountToken === false) continue;
      let grants = grantsByNs.get(ns);
      if (!grants) {
        grants = bindings.filter((b) => b.subjects.some((s) => subjectCoversServiceAccount(s, ns, 'default')));
        grantsByNs.set(ns, grants);
      }
      const why =
        spec.automountServiceAccountToken === true
          ? 'sets automountServiceAccountToken: true'
          : saObj
            ? 'does not set automountServiceAccountToken: false, nor does the ServiceAccount default there'
            : 'does not set automountServiceAccountToken: false (and no ServiceAccount default in the input does)';
      hits.push({
        object: w.object,
        path:
          spec.automountServiceAccountToken === true
            ? [...w.specPath, 'automountServiceAccountToken']
            : named || legacy
              ? [...w.specPath, named ? 'serviceAccountName' : 'serviceAccount']
              : ['metadata', 'name'],
        message: `${w.object.kind} ${w.object.name || '(unnamed)'} ${nsPhrase(ns)} runs as the default service account and ${why}${grants.length > 0 ? `; bound to that account: ${bindingList(grants)}` : ''}`,
        severity: grants.length > 0 ? 'medium' : 'low',
        ...(saObj || spec.automountServiceAccountToken === true ? {} : { confidence: 'medium' as const }),
      });
    }
    return hits;
  },
};

export const RBAC_RULES: readonly K8sRule[] = [
  clusterAdminBinding,
  wildcard,
  secretRead,
  escalateBindImpersonate,
  defaultSaAutomount,
];
