/**
 * Kinds by API group, not by name alone: a custom resource may be called `Deployment` or `Role` in its own group, and
 * must not be read with the built-in kind's semantics. The table lists the built-in kinds the checks read and the
 * groups that serve them.
 */

/** The API group of an apiVersion: '' for the core group (`v1` only), `apps` for `apps/v1`; undefined if malformed. */
export function groupOf(apiVersion: string): string | undefined {
  if (apiVersion === 'v1') return '';
  const parts = apiVersion.split('/');
  return parts.length === 2 && parts[0] !== '' && parts[1] !== '' ? parts[0] : undefined;
}

/**
 * Legacy groups (`extensions/v1beta1`, `apps/v1beta1`/`v1beta2`, `batch/v1beta1`) count for the workload kinds: an old
 * manifest's pod spec is still checked. Not for NetworkPolicy: an `extensions` policy is one no current API server
 * serves, and counting it would hide a namespace that no policy isolates.
 */
const BUILTIN_GROUPS: Readonly<Record<string, readonly string[]>> = {
  Pod: [''],
  PodTemplate: [''],
  ReplicationController: [''],
  Deployment: ['apps', 'extensions'],
  ReplicaSet: ['apps', 'extensions'],
  DaemonSet: ['apps', 'extensions'],
  StatefulSet: ['apps'],
  Job: ['batch'],
  CronJob: ['batch'],
  // A StatefulSet's or DaemonSet's template history (data.spec.template): it runs nothing, and is not a custom resource.
  ControllerRevision: ['apps'],
  Namespace: [''],
  Node: [''],
  ServiceAccount: [''],
  ResourceQuota: [''],
  LimitRange: [''],
  NetworkPolicy: ['networking.k8s.io'],
  Role: ['rbac.authorization.k8s.io'],
  ClusterRole: ['rbac.authorization.k8s.io'],
  RoleBinding: ['rbac.authorization.k8s.io'],
  ClusterRoleBinding: ['rbac.authorization.k8s.io'],
};

/** A kind the checks read with built-in semantics (when it comes from one of its groups). */
export function isBuiltinKind(kind: string): boolean {
  return Object.hasOwn(BUILTIN_GROUPS, kind);
}

/** Whether the object is the built-in `kind` (default: its own kind), from a group that serves it. */
export function isBuiltin(o: { readonly apiVersion: string; readonly kind: string }, kind: string = o.kind): boolean {
  if (o.kind !== kind || !Object.hasOwn(BUILTIN_GROUPS, kind)) return false;
  const g = groupOf(o.apiVersion);
  return g !== undefined && (BUILTIN_GROUPS[kind] as readonly string[]).includes(g);
}
