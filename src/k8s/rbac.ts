/**
 * RBAC as the authorizer reads it (rbac.authorization.k8s.io/v1): bindings, their subjects, which roles they grant
 * where, and what one PolicyRule allows. Pure; the rules in rules/rbac.ts report from it.
 * ref: Kubernetes documentation, "Using RBAC Authorization" and "RBAC good practices".
 */
import { isBuiltin } from './kinds.js';
import { asArray, asRecord, type K8sObject } from './model.js';

/** Objects upstream's RBAC bootstrap creates carry this label (`kubectl get clusterrole -l ...=rbac-defaults`). */
export const BOOTSTRAP_LABEL = 'kubernetes.io/bootstrapping';

export interface Subject {
  readonly kind: string;
  readonly name: string;
  /** For ServiceAccount subjects: the namespace, the binding's when omitted in a RoleBinding. */
  readonly namespace?: string;
}

export interface Binding {
  readonly object: K8sObject;
  readonly roleKind: string;
  readonly roleName: string;
  readonly subjects: readonly Subject[];
  /** Cluster-wide (a ClusterRoleBinding) or only in the binding's namespace (a RoleBinding). */
  readonly clusterWide: boolean;
  /** Part of upstream's bootstrap policy (labelled rbac-defaults). */
  readonly bootstrap: boolean;
}

export function isBootstrap(o: K8sObject): boolean {
  return o.labels[BOOTSTRAP_LABEL] === 'rbac-defaults';
}

/** Groups every user or service account is in: a grant to them is a grant to all, whatever the binding's label. */
const EVERYONE = new Set(['system:authenticated', 'system:unauthenticated', 'system:serviceaccounts']);

/** A `system:` user or group other than the everyone-groups, or a service account in kube-system. */
function isControlPlaneIdentity(s: Subject): boolean {
  if (s.kind === 'ServiceAccount') return s.namespace === 'kube-system';
  return (s.kind === 'User' || s.kind === 'Group') && s.name.startsWith('system:') && !EVERYONE.has(s.name);
}

/** Every RoleBinding and ClusterRoleBinding in the input. */
export function bindingsIn(objects: readonly K8sObject[]): Binding[] {
  const out: Binding[] = [];
  for (const o of objects) {
    if (!isBuiltin(o, 'RoleBinding') && !isBuiltin(o, 'ClusterRoleBinding')) continue;
    const ref = asRecord(o.raw.roleRef) ?? {};
    const subjects: Subject[] = [];
    for (const s of asArray(o.raw.subjects)) {
      const r = asRecord(s);
      if (!r || typeof r.kind !== 'string' || typeof r.name !== 'string') continue;
      const ns = typeof r.namespace === 'string' && r.namespace !== '' ? r.namespace : undefined;
      subjects.push({
        kind: r.kind,
        name: r.name,
        ...(r.kind === 'ServiceAccount' && (ns ?? o.namespace) !== undefined ? { namespace: ns ?? o.namespace } : {}),
      });
    }
    out.push({
      object: o,
      roleKind: typeof ref.kind === 'string' ? ref.kind : '',
      roleName: typeof ref.name === 'string' ? ref.name : '',
      subjects,
      clusterWide: o.kind === 'ClusterRoleBinding',
      // The label alone is anyone's to write: a binding counts as upstream's only when it grants to the control
      // plane's own identities, as every upstream binding does.
      bootstrap: isBootstrap(o) && subjects.every(isControlPlaneIdentity),
    });
  }
  return out;
}

/** The bindings that grant a Role (RoleBindings in its namespace) or ClusterRole (any binding naming it). */
export function bindingsOf(role: K8sObject, bindings: readonly Binding[]): Binding[] {
  if (role.kind === 'Role')
    return bindings.filter(
      (b) =>
        !b.clusterWide && b.roleKind === 'Role' && b.roleName === role.name && b.object.namespace === role.namespace,
    );
  return bindings.filter((b) => b.roleKind === 'ClusterRole' && b.roleName === role.name);
}

export function describeSubject(s: Subject): string {
  return s.kind === 'ServiceAccount' ? `ServiceAccount ${s.namespace ?? '?'}/${s.name}` : `${s.kind} ${s.name}`;
}

/** `ClusterRoleBinding x (to Group g)` / `RoleBinding ns/x (to ServiceAccount ns/sa)`. */
export function describeBinding(b: Binding): string {
  const who = b.subjects.map(describeSubject).join(', ') || 'no subjects';
  return `${b.object.kind} ${b.object.namespace !== undefined ? `${b.object.namespace}/` : ''}${b.object.name} (to ${who})`;
}

/** Whether a subject takes in the ServiceAccount `ns/name`: itself, its namespace's group, or every account. */
export function subjectCoversServiceAccount(s: Subject, ns: string | undefined, name: string): boolean {
  if (s.kind === 'ServiceAccount') return s.name === name && s.namespace === ns;
  if (s.kind === 'Group')
    return (
      s.name === 'system:serviceaccounts' ||
      s.name === 'system:authenticated' ||
      (ns !== undefined && s.name === `system:serviceaccounts:${ns}`)
    );
  if (s.kind === 'User') return ns !== undefined && s.name === `system:serviceaccount:${ns}:${name}`;
  return false;
}

/** One PolicyRule's lists (non-string entries dropped). */
export interface PolicyRule {
  readonly index: number;
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames: readonly string[];
  readonly nonResourceURLs: readonly string[];
}

function strings(v: unknown): string[] {
  return asArray(v).filter((x): x is string => typeof x === 'string');
}

export function policyRules(role: K8sObject): PolicyRule[] {
  return asArray(role.raw.rules).map((r, index) => {
    const x = asRecord(r) ?? {};
    return {
      index,
      apiGroups: strings(x.apiGroups),
      resources: strings(x.resources),
      verbs: strings(x.verbs),
      resourceNames: strings(x.resourceNames),
      nonResourceURLs: strings(x.nonResourceURLs),
    };
  });
}

/** Whether a rule's apiGroups and resources cover `group`/`resource` (`*` and `resource/*` as the authorizer reads them). */
export function coversResource(r: PolicyRule, group: string, resource: string): boolean {
  if (!r.apiGroups.some((g) => g === '*' || g === group)) return false;
  const [base, sub] = resource.split('/', 2);
  return r.resources.some(
    (x) =>
      x === '*' ||
      x === resource ||
      (sub !== undefined && x === `${base}/*`) ||
      (sub !== undefined && x === `*/${sub}`),
  );
}

export function coversVerb(r: PolicyRule, verb: string): boolean {
  return r.verbs.some((v) => v === '*' || v === verb);
}
