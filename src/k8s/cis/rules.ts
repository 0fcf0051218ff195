/**
 * CIS Kubernetes Benchmark v2.0 (Kubernetes 1.34-1.35; kube-bench's cfg/cis-2.0): the automated items of sections 1
 * (control-plane files, API server, controller manager, scheduler), 2 (etcd) and 4.1-4.2 (worker files, kubelet) that
 * can be read from a node's files. Manual items are not checked (docs/rules.md lists them). An item whose component
 * is not on the node does not apply: no finding, and no pass either (the node gets one note saying so).
 */
import type { Severity } from '../../findings/finding.js';
import type { K8sContext, K8sHit, K8sRule } from '../rule.js';
import {
  atLeast,
  boolIs,
  type FileTest,
  gateNotFalse,
  isSet,
  listHas,
  listLacks,
  loopback,
  modeAtMost,
  notSet,
  ownedBy,
  type Problem,
} from './checks.js';
import { type Flags, parseBool, type Where } from './flags.js';
import { type ComponentName, type FileFacts, loadNode, type NodeFiles, type NodeSnapshot } from './node.js';

export const CIS_BENCHMARK = 'CIS Kubernetes Benchmark v2.0';

const noted = new WeakMap<object, Set<NodeFiles>>();

/** Each node's snapshot, its notes given once per run (the first CIS rule to run gives them). */
function snapshots(ctx: K8sContext): NodeSnapshot[] {
  const seen = noted.get(ctx) ?? new Set<NodeFiles>();
  noted.set(ctx, seen);
  return ctx.nodes.map((n) => {
    const s = loadNode(n);
    if (!seen.has(n)) {
      seen.add(n);
      for (const m of s.notes) ctx.note(undefined, `node ${n.shown}: ${m}`);
    }
    return s;
  });
}

interface Meta {
  readonly id: string;
  readonly title: string;
  readonly severity: Severity;
  readonly rationale: string;
  readonly remediation: string;
}

function rule(m: Meta, hits: (s: NodeSnapshot) => K8sHit[]): K8sRule {
  return {
    id: `cis-${m.id}`,
    group: 'cis',
    title: m.title,
    severity: m.severity,
    confidence: 'high',
    rationale: m.rationale,
    remediation: m.remediation,
    mapping: `${CIS_BENCHMARK} ${m.id}`,
    check: (ctx) => snapshots(ctx).flatMap(hits),
  };
}

const hitAt = (at: Where, message: string): K8sHit => ({
  message,
  file: { path: at.path, ...(at.line !== undefined ? { line: at.line } : {}) },
});

/** A file item: the files it is about (none: it does not apply), and the test each must pass. */
function fileRule(m: Meta, files: (s: NodeSnapshot) => readonly (FileFacts | undefined)[], test: FileTest): K8sRule {
  return rule(m, (s) =>
    files(s).flatMap((f) => {
      const msg = f && test(f, s);
      return msg && f ? [hitAt({ path: f.shown }, msg)] : [];
    }),
  );
}

/** A flag item of a static pod: applies when the component's manifest could be read. */
function podRule(m: Meta, c: ComponentName, test: (f: Flags) => Problem[]): K8sRule {
  return rule(m, (s) => {
    const pod = s.pods[c];
    if (!pod || (c === 'etcd' && pod.flags.has('config-file'))) return [];
    return test(pod.flags).map((p) => hitAt(p.at ?? pod.anchor, `${c}: ${p.message}`));
  });
}

const perm600 = modeAtMost(0o600);
const rootRoot = ownedBy('root', 'root');
const manifest = (c: ComponentName) => (s: NodeSnapshot) => [s.manifests[c]];

const filesMeta = (id: string, what: string, kind: 'perm' | 'owner', severity: Severity = 'medium'): Meta =>
  kind === 'perm'
    ? {
        id,
        title: `Ensure that the ${what} permissions are set to 600 or more restrictive`,
        severity,
        rationale: `The ${what} controls how a Kubernetes component runs or authenticates; if others can read or write it they can learn its secrets or change its behaviour.`,
        remediation: `chmod 600 the ${what} on the node.`,
      }
    : {
        id,
        title: `Ensure that the ${what} ownership is set to root:root`,
        severity,
        rationale: `The ${what} should be owned by root so that no other account can change it.`,
        remediation: `chown root:root the ${what} on the node.`,
      };

const FILE_RULES: K8sRule[] = [
  fileRule(filesMeta('1.1.1', 'API server pod specification file', 'perm'), manifest('kube-apiserver'), perm600),
  fileRule(filesMeta('1.1.2', 'API server pod specification file', 'owner'), manifest('kube-apiserver'), rootRoot),
  fileRule(
    filesMeta('1.1.3', 'controller manager pod specification file', 'perm'),
    manifest('kube-controller-manager'),
    perm600,
  ),
  fileRule(
    filesMeta('1.1.4', 'controller manager pod specification file', 'owner'),
    manifest('kube-controller-manager'),
    rootRoot,
  ),
  fileRule(filesMeta('1.1.5', 'scheduler pod specification file', 'perm'), manifest('kube-scheduler'), perm600),
  fileRule(filesMeta('1.1.6', 'scheduler pod specification file', 'owner'), manifest('kube-scheduler'), rootRoot),
  fileRule(filesMeta('1.1.7', 'etcd pod specification file', 'perm'), manifest('etcd'), perm600),
  fileRule(filesMeta('1.1.8', 'etcd pod specification file', 'owner'), manifest('etcd'), rootRoot),
  fileRule(
    {
      id: '1.1.11',
      title: 'Ensure that the etcd data directory permissions are set to 700 or more restrictive',
      severity: 'medium',
      rationale: "etcd's data directory holds every object of the cluster, Secrets included.",
      remediation: 'chmod 700 the directory etcd is given as --data-dir.',
    },
    (s) => [s.etcdDataDir],
    modeAtMost(0o700),
  ),
  fileRule(
    {
      id: '1.1.12',
      title: 'Ensure that the etcd data directory ownership is set to etcd:etcd',
      severity: 'medium',
      rationale: "etcd's data directory holds every object of the cluster and should belong to the etcd account.",
      remediation: 'chown etcd:etcd the directory etcd is given as --data-dir (create the etcd user and group first).',
    },
    (s) => [s.etcdDataDir],
    ownedBy('etcd', 'etcd'),
  ),
  fileRule(
    {
      ...filesMeta('1.1.13', 'default administrative credential file', 'perm', 'high'),
      title: 'Ensure that the default administrative credential file permissions are set to 600',
      remediation: 'chmod 600 /etc/kubernetes/admin.conf (and /etc/kubernetes/super-admin.conf when present).',
    },
    (s) => s.adminConfs,
    perm600,
  ),
  fileRule(
    {
      ...filesMeta('1.1.14', 'default administrative credential file', 'owner', 'high'),
      remediation: 'chown root:root /etc/kubernetes/admin.conf (and /etc/kubernetes/super-admin.conf when present).',
    },
    (s) => s.adminConfs,
    rootRoot,
  ),
  fileRule(filesMeta('1.1.15', 'scheduler.conf file', 'perm'), (s) => [s.schedulerKubeconfig], perm600),
  fileRule(filesMeta('1.1.16', 'scheduler.conf file', 'owner'), (s) => [s.schedulerKubeconfig], rootRoot),
  fileRule(
    filesMeta('1.1.17', 'controller-manager.conf file', 'perm'),
    (s) => [s.controllerManagerKubeconfig],
    perm600,
  ),
  fileRule(
    filesMeta('1.1.18', 'controller-manager.conf file', 'owner'),
    (s) => [s.controllerManagerKubeconfig],
    rootRoot,
  ),
  fileRule(
    {
      id: '1.1.19',
      title: 'Ensure that the Kubernetes PKI directory and file ownership is set to root:root',
      severity: 'medium',
      rationale: 'The PKI directory holds the cluster CA keys and the components’ certificates and keys.',
      remediation: 'chown -R root:root /etc/kubernetes/pki/',
    },
    (s) => s.pki?.entries ?? [],
    rootRoot,
  ),
];

const api = (id: string, title: string, severity: Severity, rationale: string, remediation: string) => ({
  id,
  title,
  severity,
  rationale,
  remediation: `${remediation} (in the API server pod specification, /etc/kubernetes/manifests/kube-apiserver.yaml).`,
});

/** The API server's authorizers: --authorization-config's when given, else --authorization-mode (default AlwaysAllow). */
function authzTest(mode: string, must: boolean) {
  return (s: NodeSnapshot): K8sHit[] => {
    const pod = s.pods['kube-apiserver'];
    // An --authorization-config that could not be read is an error already: nothing to decide here.
    if (!pod || (pod.flags.has('authorization-config') && !s.authorizers)) return [];
    if (s.authorizers) {
      const found = s.authorizers.find((a) => a.type === mode);
      if (must)
        return found ? [] : [hitAt(pod.anchor, `kube-apiserver: --authorization-config has no ${mode} authorizer`)];
      return found ? [hitAt(found.at, `kube-apiserver: --authorization-config has an ${mode} authorizer`)] : [];
    }
    const test = must
      ? listHas('authorization-mode', mode, ['AlwaysAllow'])
      : listLacks('authorization-mode', mode, ['AlwaysAllow']);
    return test(pod.flags).map((p) => hitAt(p.at ?? pod.anchor, `kube-apiserver: ${p.message}`));
  };
}

const API_RULES: K8sRule[] = [
  podRule(
    api(
      '1.2.2',
      'Ensure that the --token-auth-file parameter is not set',
      'high',
      'Static tokens are long-lived, kept in clear text and cannot be revoked without restarting the API server.',
      'Remove --token-auth-file and use certificates, OIDC or webhook authentication',
    ),
    'kube-apiserver',
    notSet('token-auth-file'),
  ),
  podRule(
    api(
      '1.2.4',
      'Ensure that the --kubelet-client-certificate and --kubelet-client-key arguments are set as appropriate',
      'high',
      'Without a client certificate the kubelets cannot authenticate the API server, and must allow its requests unauthenticated.',
      'Set --kubelet-client-certificate and --kubelet-client-key',
    ),
    'kube-apiserver',
    isSet('kubelet-client-certificate', 'kubelet-client-key'),
  ),
  podRule(
    api(
      '1.2.5',
      'Ensure that the --kubelet-certificate-authority argument is set as appropriate',
      'medium',
      'Without it the API server does not verify the kubelets’ serving certificates, so its connections to them can be intercepted.',
      'Set --kubelet-certificate-authority to the CA that signs the kubelets’ serving certificates',
    ),
    'kube-apiserver',
    isSet('kubelet-certificate-authority'),
  ),
  rule(
    api(
      '1.2.6',
      'Ensure that the --authorization-mode argument is not set to AlwaysAllow',
      'critical',
      'AlwaysAllow lets every authenticated (or anonymous) request do anything.',
      'Set --authorization-mode=Node,RBAC',
    ),
    authzTest('AlwaysAllow', false),
  ),
  rule(
    api(
      '1.2.7',
      'Ensure that the --authorization-mode argument includes Node',
      'high',
      'The Node authorizer limits each kubelet to the objects of its own pods.',
      'Set --authorization-mode to include Node (e.g. Node,RBAC)',
    ),
    authzTest('Node', true),
  ),
  rule(
    api(
      '1.2.8',
      'Ensure that the --authorization-mode argument includes RBAC',
      'high',
      'RBAC gives each user and service account only the permissions granted to it.',
      'Set --authorization-mode to include RBAC (e.g. Node,RBAC)',
    ),
    authzTest('RBAC', true),
  ),
  podRule(
    api(
      '1.2.10',
      'Ensure that the admission control plugin AlwaysAdmit is not set',
      'high',
      'AlwaysAdmit admits every request, switching off the protection of admission control.',
      'Remove AlwaysAdmit from --enable-admission-plugins',
    ),
    'kube-apiserver',
    listLacks('enable-admission-plugins', 'AlwaysAdmit'),
  ),
  podRule(
    api(
      '1.2.12',
      'Ensure that the admission control plugin ServiceAccount is set',
      'medium',
      'The ServiceAccount plugin gives pods their service account and refuses pods naming one that does not exist.',
      'Remove ServiceAccount from --disable-admission-plugins',
    ),
    'kube-apiserver',
    listLacks('disable-admission-plugins', 'ServiceAccount'),
  ),
  podRule(
    api(
      '1.2.13',
      'Ensure that the admission control plugin NamespaceLifecycle is set',
      'medium',
      'NamespaceLifecycle refuses objects in namespaces that do not exist or are being deleted.',
      'Remove NamespaceLifecycle from --disable-admission-plugins',
    ),
    'kube-apiserver',
    listLacks('disable-admission-plugins', 'NamespaceLifecycle'),
  ),
  podRule(
    api(
      '1.2.14',
      'Ensure that the admission control plugin NodeRestriction is set',
      'medium',
      'NodeRestriction limits the Node and Pod objects a kubelet may change to its own, and the labels it may set.',
      'Add NodeRestriction to --enable-admission-plugins',
    ),
    'kube-apiserver',
    listHas('enable-admission-plugins', 'NodeRestriction'),
  ),
  podRule(
    api(
      '1.2.15',
      'Ensure that the --profiling argument is set to false',
      'low',
      'Profiling endpoints expose details of the program and its performance, useful to an attacker and rarely needed.',
      'Set --profiling=false',
    ),
    'kube-apiserver',
    boolIs('profiling', false, true),
  ),
  podRule(
    api(
      '1.2.16',
      'Ensure that the --audit-log-path argument is set',
      'medium',
      'Without an audit log there is no record of who did what in the cluster.',
      'Set --audit-log-path (and --audit-policy-file)',
    ),
    'kube-apiserver',
    isSet('audit-log-path'),
  ),
  podRule(
    api(
      '1.2.17',
      'Ensure that the --audit-log-maxage argument is set to 30 or as appropriate',
      'low',
      'Audit logs kept too briefly may be gone when an incident is investigated.',
      'Set --audit-log-maxage=30 or more',
    ),
    'kube-apiserver',
    atLeast('audit-log-maxage', 30),
  ),
  podRule(
    api(
      '1.2.18',
      'Ensure that the --audit-log-maxbackup argument is set to 10 or as appropriate',
      'low',
      'Too few rotated audit logs lose history.',
      'Set --audit-log-maxbackup=10 or more',
    ),
    'kube-apiserver',
    atLeast('audit-log-maxbackup', 10),
  ),
  podRule(
    api(
      '1.2.19',
      'Ensure that the --audit-log-maxsize argument is set to 100 or as appropriate',
      'low',
      'Small audit log files rotate history away quickly.',
      'Set --audit-log-maxsize=100 or more',
    ),
    'kube-apiserver',
    atLeast('audit-log-maxsize', 100),
  ),
  podRule(
    api(
      '1.2.21',
      'Ensure that the --service-account-lookup argument is set to true',
      'medium',
      'Without the lookup, tokens of deleted service accounts keep working until they expire.',
      'Remove --service-account-lookup or set it to true',
    ),
    'kube-apiserver',
    boolIs('service-account-lookup', true, true),
  ),
  podRule(
    api(
      '1.2.22',
      'Ensure that the --service-account-key-file argument is set as appropriate',
      'medium',
      'The public keys that verify service account tokens should be set explicitly so that keys can be rotated.',
      'Set --service-account-key-file',
    ),
    'kube-apiserver',
    isSet('service-account-key-file'),
  ),
  podRule(
    api(
      '1.2.23',
      'Ensure that the --etcd-certfile and --etcd-keyfile arguments are set as appropriate',
      'high',
      'etcd holds every object of the cluster; the API server should authenticate to it with a client certificate.',
      'Set --etcd-certfile and --etcd-keyfile',
    ),
    'kube-apiserver',
    isSet('etcd-certfile', 'etcd-keyfile'),
  ),
  podRule(
    api(
      '1.2.24',
      'Ensure that the --tls-cert-file and --tls-private-key-file arguments are set as appropriate',
      'high',
      'The API server should serve TLS with a certificate of the cluster’s CA, not a self-generated one.',
      'Set --tls-cert-file and --tls-private-key-file',
    ),
    'kube-apiserver',
    isSet('tls-cert-file', 'tls-private-key-file'),
  ),
  podRule(
    api(
      '1.2.25',
      'Ensure that the --client-ca-file argument is set as appropriate',
      'high',
      'Without a client CA the API server cannot authenticate clients (kubelets, components, users) by certificate.',
      'Set --client-ca-file',
    ),
    'kube-apiserver',
    isSet('client-ca-file'),
  ),
  podRule(
    api(
      '1.2.26',
      'Ensure that the --etcd-cafile argument is set as appropriate',
      'high',
      'Without it the API server does not verify etcd’s certificate.',
      'Set --etcd-cafile',
    ),
    'kube-apiserver',
    isSet('etcd-cafile'),
  ),
  podRule(
    api(
      '1.2.30',
      'Ensure that the --service-account-extend-token-expiration parameter is set to false',
      'low',
      'Extended expiration makes projected service account tokens valid for a year instead of their requested lifetime.',
      'Set --service-account-extend-token-expiration=false',
    ),
    'kube-apiserver',
    boolIs('service-account-extend-token-expiration', false, true),
  ),
];

const cm = (id: string, title: string, severity: Severity, rationale: string, remediation: string) => ({
  id,
  title,
  severity,
  rationale,
  remediation: `${remediation} (in /etc/kubernetes/manifests/kube-controller-manager.yaml).`,
});
const sched = (id: string, title: string, severity: Severity, rationale: string, remediation: string) => ({
  id,
  title,
  severity,
  rationale,
  remediation: `${remediation} (in /etc/kubernetes/manifests/kube-scheduler.yaml).`,
});

const CONTROLLER_SCHEDULER_RULES: K8sRule[] = [
  podRule(
    cm(
      '1.3.2',
      'Ensure that the --profiling argument is set to false',
      'low',
      'Profiling endpoints expose details of the program, useful to an attacker and rarely needed.',
      'Set --profiling=false',
    ),
    'kube-controller-manager',
    boolIs('profiling', false, true),
  ),
  podRule(
    cm(
      '1.3.3',
      'Ensure that the --use-service-account-credentials argument is set to true',
      'medium',
      'With it each controller runs with its own service account and least privilege, not the manager’s own broad credentials.',
      'Set --use-service-account-credentials=true',
    ),
    'kube-controller-manager',
    boolIs('use-service-account-credentials', true, false),
  ),
  podRule(
    cm(
      '1.3.4',
      'Ensure that the --service-account-private-key-file argument is set as appropriate',
      'medium',
      'The key that signs service account tokens should be set explicitly so that it can be rotated.',
      'Set --service-account-private-key-file',
    ),
    'kube-controller-manager',
    isSet('service-account-private-key-file'),
  ),
  podRule(
    cm(
      '1.3.5',
      'Ensure that the --root-ca-file argument is set as appropriate',
      'medium',
      'Pods verify the API server’s certificate with the root CA the controller manager puts in their service account data.',
      'Set --root-ca-file to the cluster CA bundle',
    ),
    'kube-controller-manager',
    isSet('root-ca-file'),
  ),
  podRule(
    cm(
      '1.3.6',
      'Ensure that the RotateKubeletServerCertificate argument is set to true',
      'medium',
      'Rotated kubelet serving certificates do not outlive their keys.',
      'Remove RotateKubeletServerCertificate=false from --feature-gates',
    ),
    'kube-controller-manager',
    gateNotFalse('RotateKubeletServerCertificate'),
  ),
  podRule(
    cm(
      '1.3.7',
      'Ensure that the --bind-address argument is set to 127.0.0.1',
      'medium',
      'The controller manager’s health and metrics endpoints should not listen beyond the node.',
      'Set --bind-address=127.0.0.1',
    ),
    'kube-controller-manager',
    loopback('bind-address'),
  ),
  podRule(
    sched(
      '1.4.1',
      'Ensure that the --profiling argument is set to false',
      'low',
      'Profiling endpoints expose details of the program, useful to an attacker and rarely needed.',
      'Set --profiling=false',
    ),
    'kube-scheduler',
    boolIs('profiling', false, true),
  ),
  podRule(
    sched(
      '1.4.2',
      'Ensure that the --bind-address argument is set to 127.0.0.1',
      'medium',
      'The scheduler’s health and metrics endpoints should not listen beyond the node.',
      'Set --bind-address=127.0.0.1',
    ),
    'kube-scheduler',
    loopback('bind-address'),
  ),
];

const etcd = (id: string, title: string, severity: Severity, rationale: string, remediation: string) => ({
  id,
  title,
  severity,
  rationale,
  remediation: `${remediation} (in /etc/kubernetes/manifests/etcd.yaml).`,
});

const ETCD_RULES: K8sRule[] = [
  podRule(
    etcd(
      '2.1',
      'Ensure that the --cert-file and --key-file arguments are set as appropriate',
      'high',
      'etcd holds every object of the cluster, Secrets included; its clients should reach it over TLS only.',
      'Set --cert-file and --key-file',
    ),
    'etcd',
    isSet('cert-file', 'key-file'),
  ),
  podRule(
    etcd(
      '2.2',
      'Ensure that the --client-cert-auth argument is set to true',
      'high',
      'Without client certificate authentication anyone who reaches etcd can read and write the cluster’s data.',
      'Set --client-cert-auth=true',
    ),
    'etcd',
    boolIs('client-cert-auth', true, false),
  ),
  podRule(
    etcd(
      '2.3',
      'Ensure that the --auto-tls argument is not set to true',
      'medium',
      'Auto TLS uses self-signed certificates that clients cannot verify.',
      'Remove --auto-tls or set it to false',
    ),
    'etcd',
    boolIs('auto-tls', false, false),
  ),
  podRule(
    etcd(
      '2.4',
      'Ensure that the --peer-cert-file and --peer-key-file arguments are set as appropriate',
      'high',
      'etcd members replicate the whole cluster state to each other; that traffic should be encrypted and authenticated.',
      'Set --peer-cert-file and --peer-key-file',
    ),
    'etcd',
    isSet('peer-cert-file', 'peer-key-file'),
  ),
  podRule(
    etcd(
      '2.5',
      'Ensure that the --peer-client-cert-auth argument is set to true',
      'high',
      'Without peer client certificate authentication anyone who reaches the peer port can join or read the cluster.',
      'Set --peer-client-cert-auth=true',
    ),
    'etcd',
    boolIs('peer-client-cert-auth', true, false),
  ),
  podRule(
    etcd(
      '2.6',
      'Ensure that the --peer-auto-tls argument is not set to true',
      'medium',
      'Peer auto TLS uses self-signed certificates that members cannot verify.',
      'Remove --peer-auto-tls or set it to false',
    ),
    'etcd',
    boolIs('peer-auto-tls', false, false),
  ),
];

const kubeletFile = (
  id: string,
  what: string,
  kind: 'perm' | 'owner',
  files: (s: NodeSnapshot) => (FileFacts | undefined)[],
) => fileRule(filesMeta(id, what, kind), files, kind === 'perm' ? perm600 : rootRoot);

/**
 * A kubelet setting: a flag overrides the configuration file, as the kubelet does. `dflt` is the value when neither
 * sets it, which differs with and without a configuration file for the legacy authentication defaults.
 */
function kubeletSetting(
  s: NodeSnapshot,
  flag: string,
  path: readonly string[],
): { value: unknown; at?: Where; from: 'flag' | 'config' } | undefined {
  const k = s.kubelet;
  if (!k) return undefined;
  const u = k.flags.last(flag);
  if (u) return { value: u.value, ...(u.at ? { at: u.at } : {}), from: 'flag' };
  const c = k.config;
  if (!c) return undefined;
  let v: unknown = c.object.raw;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  if (v === undefined || v === null) return undefined;
  return { value: v, at: { path: c.file.shown, line: c.object.locate(path).line }, from: 'config' };
}

const asBool = (v: unknown): boolean | undefined =>
  typeof v === 'boolean' ? v : typeof v === 'string' ? parseBool(v) : undefined;

function kubeletRule(m: Meta, test: (s: NodeSnapshot) => Problem[]): K8sRule {
  return rule(
    {
      ...m,
      remediation: `${m.remediation} Then restart the kubelet (systemctl daemon-reload; systemctl restart kubelet).`,
    },
    (s) => {
      const k = s.kubelet;
      if (!k) return [];
      return test(s).map((p) => hitAt(p.at ?? k.anchor, `kubelet: ${p.message}`));
    },
  );
}

function kubeletBool(
  flag: string,
  path: readonly string[],
  want: boolean,
  dflt: (s: NodeSnapshot) => boolean | undefined,
) {
  const key = path.join('.');
  return (s: NodeSnapshot): Problem[] => {
    const v = kubeletSetting(s, flag, path);
    if (!v) {
      const d = dflt(s);
      return d === undefined || d === want
        ? []
        : [{ message: `neither --${flag} nor ${key} is set (the default here is ${d})` }];
    }
    const b = asBool(v.value);
    const name = v.from === 'flag' ? `--${flag}=${String(v.value)}` : `${key}: ${String(v.value)}`;
    if (b === undefined) return [{ message: `${name} is not a boolean`, ...(v.at ? { at: v.at } : {}) }];
    return b === want ? [] : [{ message: name, ...(v.at ? { at: v.at } : {}) }];
  };
}

const KUBELET_RULES: K8sRule[] = [
  kubeletFile('4.1.1', 'kubelet service file', 'perm', (s) => [...(s.kubelet?.units ?? [])]),
  kubeletFile('4.1.2', 'kubelet service file', 'owner', (s) => [...(s.kubelet?.units ?? [])]),
  kubeletFile('4.1.5', '--kubeconfig kubelet.conf file', 'perm', (s) => [s.kubelet?.kubeconfig]),
  kubeletFile('4.1.6', '--kubeconfig kubelet.conf file', 'owner', (s) => [s.kubelet?.kubeconfig]),
  kubeletFile('4.1.9', 'kubelet config.yaml configuration file', 'perm', (s) => [s.kubelet?.config?.file]),
  kubeletFile('4.1.10', 'kubelet config.yaml configuration file', 'owner', (s) => [s.kubelet?.config?.file]),
  kubeletRule(
    {
      id: '4.2.1',
      title: 'Ensure that the --anonymous-auth argument is set to false',
      severity: 'high',
      rationale: 'Anonymous requests to the kubelet API reach pods, logs and exec unless authorization stops them.',
      remediation:
        'Set authentication.anonymous.enabled: false in the kubelet configuration (or --anonymous-auth=false).',
    },
    // Without a configuration file the kubelet's legacy flag default is true; KubeletConfiguration's is false.
    kubeletBool('anonymous-auth', ['authentication', 'anonymous', 'enabled'], false, (s) => !s.kubelet?.config),
  ),
  kubeletRule(
    {
      id: '4.2.2',
      title: 'Ensure that the --authorization-mode argument is not set to AlwaysAllow',
      severity: 'critical',
      rationale:
        'AlwaysAllow lets any request the kubelet authenticates (anonymous ones too) run commands in its pods.',
      remediation: 'Set authorization.mode: Webhook in the kubelet configuration (or --authorization-mode=Webhook).',
    },
    (s) => {
      const v = kubeletSetting(s, 'authorization-mode', ['authorization', 'mode']);
      // Without a configuration file the legacy flag default is AlwaysAllow; KubeletConfiguration's is Webhook.
      const mode = v ? String(v.value) : s.kubelet?.config ? 'Webhook' : 'AlwaysAllow';
      if (mode !== 'AlwaysAllow') return [];
      if (!v)
        return [
          { message: 'neither --authorization-mode nor authorization.mode is set (the default here is AlwaysAllow)' },
        ];
      const name = v.from === 'flag' ? `--authorization-mode=${mode}` : `authorization.mode: ${mode}`;
      return [{ message: name, ...(v.at ? { at: v.at } : {}) }];
    },
  ),
  kubeletRule(
    {
      id: '4.2.3',
      title: 'Ensure that the --client-ca-file argument is set as appropriate',
      severity: 'high',
      rationale: 'Without a client CA the kubelet cannot authenticate the API server and other clients by certificate.',
      remediation: 'Set authentication.x509.clientCAFile in the kubelet configuration (or --client-ca-file).',
    },
    (s) => {
      const v = kubeletSetting(s, 'client-ca-file', ['authentication', 'x509', 'clientCAFile']);
      if (!v) return [{ message: 'neither --client-ca-file nor authentication.x509.clientCAFile is set' }];
      return String(v.value).trim() === ''
        ? [{ message: 'the client CA file is set to an empty value', ...(v.at ? { at: v.at } : {}) }]
        : [];
    },
  ),
  kubeletRule(
    {
      id: '4.2.6',
      title: 'Ensure that the --make-iptables-util-chains argument is set to true',
      severity: 'low',
      rationale:
        'The kubelet should manage the iptables chains pods rely on, so that they stay in step with the network configuration.',
      remediation:
        'Set makeIPTablesUtilChains: true in the kubelet configuration, or remove --make-iptables-util-chains.',
    },
    kubeletBool('make-iptables-util-chains', ['makeIPTablesUtilChains'], true, () => true),
  ),
  kubeletRule(
    {
      id: '4.2.10',
      title: 'Ensure that the --rotate-certificates argument is not set to false',
      severity: 'medium',
      rationale: 'Rotated kubelet client certificates do not outlive their keys.',
      remediation: 'Set rotateCertificates: true in the kubelet configuration, or remove --rotate-certificates=false.',
    },
    // The benchmark reports only an explicit false.
    kubeletBool('rotate-certificates', ['rotateCertificates'], true, () => undefined),
  ),
];

export const CIS_RULES: readonly K8sRule[] = [
  ...FILE_RULES,
  ...API_RULES,
  ...CONTROLLER_SCHEDULER_RULES,
  ...ETCD_RULES,
  ...KUBELET_RULES,
];
