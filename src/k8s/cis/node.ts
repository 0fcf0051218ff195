/**
 * What the CIS checks know of one node: its static pod manifests and their flags, the kubelet's unit, flags and
 * configuration, the kubeconfig and PKI files with their modes and owners, read once from the node's file system
 * (`k8s audit --node-root DIR`) and kept for the run. Everything the rules read is here; they do no I/O of their own.
 */
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { parseManifests } from '../load.js';
import { asArray, asRecord, type K8sLoadError, type K8sObject } from '../model.js';
import { type Flags, parseFlags, type Token, type Where } from './flags.js';
import { listInRoot, readInRoot, resolveInRoot, type Stat, walkInRoot } from './fsroot.js';
import { kubeletCommand, parseEnvFile, type UnitFile } from './systemd.js';

/** A node's file system as given for the CIS checks (`k8s audit --node-root DIR`). */
export interface NodeFiles {
  /** The directory that stands for the node's `/`. */
  readonly root: string;
  /** How reports name it (the path as given). */
  readonly shown: string;
}

export type ComponentName = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'etcd';
export const CONTROL_PLANE: readonly ComponentName[] = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'etcd',
];

/** A file or directory on the node: its path there, how reports show it, and its lstat facts. */
export interface FileFacts {
  readonly nodePath: string;
  readonly shown: string;
  readonly stat: Stat;
}

export interface StaticPod {
  readonly name: ComponentName;
  readonly file: FileFacts;
  readonly object: K8sObject;
  readonly flags: Flags;
  /** Where a flag that is not set is reported: the container's command (or args). */
  readonly anchor: Where;
}

export interface KubeletFacts {
  /** The unit and drop-ins that make its command line (the "kubelet service file"). */
  readonly units: readonly FileFacts[];
  readonly flags: Flags;
  /** Where a setting that is set nowhere is reported. */
  readonly anchor: Where;
  readonly config?: { readonly file: FileFacts; readonly object: K8sObject };
  readonly kubeconfig?: FileFacts;
}

export interface NodeSnapshot {
  readonly node: NodeFiles;
  readonly errors: K8sLoadError[];
  /** What could not be decided or does not apply (reported once per node). */
  readonly notes: string[];
  /** Manifests found (even when they could not be parsed), and the pods read from them. */
  readonly manifests: Partial<Record<ComponentName, FileFacts>>;
  readonly pods: Partial<Record<ComponentName, StaticPod>>;
  readonly kubelet?: KubeletFacts;
  /** admin.conf and super-admin.conf, when present. */
  readonly adminConfs: readonly FileFacts[];
  readonly schedulerKubeconfig?: FileFacts;
  readonly controllerManagerKubeconfig?: FileFacts;
  readonly etcdDataDir?: FileFacts;
  readonly pki?: { readonly entries: readonly FileFacts[]; readonly truncated: boolean };
  /** The authorizers of the API server's `--authorization-config` file, when it names one that could be read. */
  readonly authorizers?: readonly { readonly type: string; readonly at: Where }[];
  /** Names of the node's users and groups (its own /etc/passwd and /etc/group), for messages and etcd:etcd. */
  readonly users: ReadonlyMap<string, number>;
  readonly groups: ReadonlyMap<string, number>;
  readonly userName: (uid: number) => string;
  readonly groupName: (gid: number) => string;
}

/** Kubelet drop-ins, and environment files they name, read at most (kubeadm has one of each). */
export const MAX_UNIT_FILES = 64;
/** PKI entries examined at most (kubeadm writes about 25). */
export const MAX_PKI_ENTRIES = 10_000;

const MANIFEST_DIR = '/etc/kubernetes/manifests';
const MANIFEST_EXT = ['.yaml', '.yml', '.manifest'];
const UNIT_FILES = [
  '/etc/systemd/system/kubelet.service',
  '/usr/lib/systemd/system/kubelet.service',
  '/lib/systemd/system/kubelet.service',
];
const DROPIN_DIRS = [
  '/usr/lib/systemd/system/kubelet.service.d',
  '/lib/systemd/system/kubelet.service.d',
  '/etc/systemd/system/kubelet.service.d',
];

/** pflag booleans of the components, so that `--flag value` is read as pflag reads it. */
const BOOLEANS: Record<ComponentName | 'kubelet', readonly string[]> = {
  'kube-apiserver': [
    'anonymous-auth',
    'profiling',
    'contention-profiling',
    'service-account-lookup',
    'service-account-extend-token-expiration',
    'allow-privileged',
    'enable-bootstrap-token-auth',
    'enable-aggregator-routing',
    'enable-priority-and-fairness',
    'enable-garbage-collector',
    'enable-logs-handler',
    'audit-log-compress',
    'kubelet-https',
    'logtostderr',
  ],
  'kube-controller-manager': [
    'profiling',
    'contention-profiling',
    'use-service-account-credentials',
    'leader-elect',
    'allocate-node-cidrs',
    'configure-cloud-routes',
    'enable-garbage-collector',
    'enable-hostpath-provisioner',
    'enable-dynamic-provisioning',
    'enable-taint-manager',
    'logtostderr',
  ],
  'kube-scheduler': ['profiling', 'contention-profiling', 'leader-elect', 'logtostderr'],
  etcd: [
    'client-cert-auth',
    'peer-client-cert-auth',
    'auto-tls',
    'peer-auto-tls',
    'enable-pprof',
    'strict-reconfig-check',
    'force-new-cluster',
    'enable-v2',
    'debug',
  ],
  kubelet: [
    'anonymous-auth',
    'authentication-token-webhook',
    'make-iptables-util-chains',
    'rotate-certificates',
    'rotate-server-certificates',
    'protect-kernel-defaults',
    'fail-swap-on',
    'enable-server',
    'enable-debugging-handlers',
    'seccomp-default',
    'serialize-image-pulls',
    'cgroups-per-qos',
    'register-node',
    'logtostderr',
  ],
};

export function syntaxOf(c: ComponentName | 'kubelet') {
  return { booleans: new Set(BOOLEANS[c]), ...(c === 'etcd' ? { goFlag: true } : {}) };
}

/** The path reports show for a node path: the node root as given, then the path. */
export function shownPath(node: NodeFiles, nodePath: string): string {
  const base = node.shown.replace(/\/+$/, '');
  return `${base}${nodePath.startsWith('/') ? '' : '/'}${nodePath}`;
}

const cache = new WeakMap<NodeFiles, NodeSnapshot>();

/** The node's snapshot, read on first use and kept for the run (keyed by the NodeFiles object). */
export function loadNode(node: NodeFiles): NodeSnapshot {
  let s = cache.get(node);
  if (!s) {
    s = readNode(node);
    cache.set(node, s);
  }
  return s;
}

/** Node files that could not be read: added to the audit's errors, so the run fails closed. */
export function nodeErrors(nodes: readonly NodeFiles[]): K8sLoadError[] {
  return nodes.flatMap((n) => loadNode(n).errors);
}

function readNode(given: NodeFiles): NodeSnapshot {
  // The root itself is trusted as given (it may be a link, as /host often is); nothing below it is.
  let real = given.root;
  try {
    real = realpathSync(given.root);
  } catch {
    // reported below as not a directory
  }
  const node: NodeFiles = { root: real, shown: given.shown };
  const errors: K8sLoadError[] = [];
  const notes: string[] = [];
  const err = (shown: string, message: string, line = 1, column = 1) =>
    errors.push({ file: shown, line, column, message });
  const facts = (nodePath: string): FileFacts | undefined => {
    const r = resolveInRoot(node.root, nodePath);
    if (r.ok) return { nodePath, shown: shownPath(node, nodePath), stat: r.stat };
    if (!r.missing) err(shownPath(node, nodePath), r.problem);
    return undefined;
  };
  const read = (nodePath: string): { text: string; file: FileFacts } | undefined => {
    const r = readInRoot(node.root, nodePath);
    if (r.ok) return { text: r.text, file: { nodePath, shown: shownPath(node, nodePath), stat: r.stat } };
    if (!r.missing) err(shownPath(node, nodePath), r.problem);
    return undefined;
  };

  const rootStat = resolveInRoot(node.root, '/');
  const users = new Map<string, number>();
  const groups = new Map<string, number>();
  const base = {
    node: given,
    errors,
    notes,
    manifests: {},
    pods: {},
    adminConfs: [],
    users,
    groups,
    userName: (uid: number) => nameOf(users, uid),
    groupName: (gid: number) => nameOf(groups, gid),
  };
  if (!rootStat.ok || rootStat.stat.type !== 'dir') {
    err(node.shown, 'node root: not a directory');
    return base;
  }
  for (const [file, into] of [
    ['/etc/passwd', users],
    ['/etc/group', groups],
  ] as const) {
    const t = read(file);
    if (t) for (const [name, id] of accountIds(t.text)) if (!into.has(name)) into.set(name, id);
  }

  const kubelet = readKubelet(node, read, facts, err, notes);

  const manifests: Partial<Record<ComponentName, FileFacts>> = {};
  const pods: Partial<Record<ComponentName, StaticPod>> = {};
  const onNode = new Set<ComponentName>();
  const staticDir = staticPodPath(kubelet);
  for (const c of CONTROL_PLANE) {
    const found = MANIFEST_EXT.map((e) => `${staticDir}/${c}${e}`).find((p) => {
      const r = resolveInRoot(node.root, p);
      return r.ok || !r.missing;
    });
    if (!found) continue;
    // A manifest there but unreadable is an error (the run fails closed): its component is not called absent.
    onNode.add(c);
    const t = read(found);
    if (!t) continue;
    manifests[c] = t.file;
    const pod = staticPod(c, t.file, t.text, err);
    if (pod) pods[c] = pod;
  }

  const kubeconfigOf = (c: ComponentName, fallback: string): FileFacts | undefined => {
    const p = pods[c]?.flags.last('kubeconfig')?.value || fallback;
    return manifests[c] ? facts(p) : undefined;
  };
  const adminConfs = manifests['kube-apiserver']
    ? ['/etc/kubernetes/admin.conf', '/etc/kubernetes/super-admin.conf'].flatMap((p) => facts(p) ?? [])
    : [];
  let etcdDataDir: FileFacts | undefined;
  const etcd = pods.etcd;
  if (etcd && !etcd.flags.has('config-file')) {
    const dir = etcd.flags.last('data-dir')?.value || '/var/lib/etcd/default.etcd';
    etcdDataDir = facts(dir);
    if (!etcdDataDir) notes.push(`etcd data directory ${dir} is not on the node: 1.1.11 and 1.1.12 not checked`);
  }
  let authorizers: { type: string; at: Where }[] | undefined;
  const authzPath = pods['kube-apiserver']?.flags.last('authorization-config')?.value;
  if (authzPath) {
    const there = resolveInRoot(node.root, authzPath);
    const t = there.ok || !there.missing ? read(authzPath) : undefined;
    if (!there.ok && there.missing)
      err(shownPath(node, authzPath), 'the API server --authorization-config file is not on the node');
    else if (t) {
      const parsed = parseManifests(t.text, t.file.shown);
      for (const e of parsed.errors) err(e.file, e.message, e.line, e.column);
      const o = parsed.objects[0];
      if (parsed.errors.length === 0 && o?.kind === 'AuthorizationConfiguration')
        authorizers = asArray(o.raw.authorizers).map((a, i) => ({
          type: String(asRecord(a)?.type ?? ''),
          at: { path: t.file.shown, line: o.locate(['authorizers', i, 'type']).line },
        }));
      else if (parsed.errors.length === 0) err(t.file.shown, 'not an AuthorizationConfiguration');
    }
  }
  if (etcd?.flags.has('config-file'))
    notes.push('etcd reads --config-file, which Portcullis does not read: section 2 and 1.1.11-1.1.12 not checked');
  let pki: NodeSnapshot['pki'];
  if (manifests['kube-apiserver']) {
    const w = walkInRoot(node.root, '/etc/kubernetes/pki', MAX_PKI_ENTRIES);
    if (w) {
      pki = {
        entries: w.entries.map((e) => ({ nodePath: e.nodePath, shown: shownPath(node, e.nodePath), stat: e.stat })),
        truncated: w.truncated,
      };
      if (w.truncated)
        err(shownPath(node, '/etc/kubernetes/pki'), `more than ${MAX_PKI_ENTRIES} entries: not all read`);
    }
  }

  const absent = CONTROL_PLANE.filter((c) => !onNode.has(c));
  if (absent.length === CONTROL_PLANE.length)
    notes.push('no control-plane static pod manifests: sections 1 and 2 do not apply to this node');
  else if (absent.length > 0) notes.push(`no static pod manifest for ${absent.join(', ')}: their items do not apply`);
  if (!kubelet) notes.push('no kubelet unit or configuration: section 4 does not apply to this node');
  if (absent.length === CONTROL_PLANE.length && !kubelet && errors.length === 0)
    err(
      node.shown,
      'no Kubernetes node files found (no static pod manifests in /etc/kubernetes/manifests, no kubelet unit or configuration): is this the node root?',
    );
  return {
    ...base,
    manifests,
    pods,
    ...(kubelet ? { kubelet } : {}),
    adminConfs,
    ...optional('schedulerKubeconfig', kubeconfigOf('kube-scheduler', '/etc/kubernetes/scheduler.conf')),
    ...optional(
      'controllerManagerKubeconfig',
      kubeconfigOf('kube-controller-manager', '/etc/kubernetes/controller-manager.conf'),
    ),
    ...optional('etcdDataDir', etcdDataDir),
    ...(pki ? { pki } : {}),
    ...(authorizers ? { authorizers } : {}),
  };
}

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}

function nameOf(m: ReadonlyMap<string, number>, id: number): string {
  for (const [name, v] of m) if (v === id) return name;
  return String(id);
}

/** `name:x:id:...` lines of /etc/passwd or /etc/group. */
function accountIds(text: string): [string, number][] {
  const out: [string, number][] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    const id = Number(f[2]);
    if (f[0] && f.length >= 3 && /^\d+$/.test(f[2] ?? '') && Number.isSafeInteger(id)) out.push([f[0], id]);
  }
  return out;
}

function staticPodPath(kubelet: KubeletFacts | undefined): string {
  const fromFlag = kubelet?.flags.last('pod-manifest-path')?.value;
  const fromConfig = kubelet?.config?.object.raw.staticPodPath;
  const p = fromFlag || (typeof fromConfig === 'string' ? fromConfig : '') || MANIFEST_DIR;
  return p.replace(/\/+$/, '') || MANIFEST_DIR;
}

type Err = (shown: string, message: string, line?: number, column?: number) => void;

/** The component's pod: its container and the flags on its command line. */
function staticPod(c: ComponentName, file: FileFacts, text: string, err: Err): StaticPod | undefined {
  const parsed = parseManifests(text, file.shown);
  for (const e of parsed.errors) err(e.file, e.message, e.line, e.column);
  if (parsed.errors.length > 0) return undefined;
  const pod = parsed.objects.find((o) => o.kind === 'Pod');
  if (!pod || parsed.objects.length !== 1) {
    err(
      file.shown,
      `expected one Pod (the ${c} static pod), found ${parsed.objects.map((o) => o.kind).join(', ') || 'none'}`,
    );
    return undefined;
  }
  const containers = asArray(asRecord(pod.raw.spec)?.containers);
  const strings = (v: unknown) => asArray(v).map((x) => (typeof x === 'string' ? x : String(x)));
  let index = containers.findIndex((x) => asRecord(x)?.name === c);
  if (index < 0) index = containers.findIndex((x) => strings(asRecord(x)?.command).some((w) => basename(w) === c));
  if (index < 0 && containers.length === 1) index = 0;
  const container = asRecord(containers[index]);
  if (!container) {
    err(file.shown, `no ${c} container in the pod`, pod.locate(['spec']).line);
    return undefined;
  }
  const words: Token[] = [];
  for (const key of ['command', 'args'] as const) {
    const list = strings(container[key]);
    for (let i = 0; i < list.length; i++) {
      const line = pod.locate(['spec', 'containers', index, key, i]).line;
      words.push({ text: list[i] as string, at: { path: file.shown, line } });
    }
  }
  const hasCommand = Array.isArray(container.command) && container.command.length > 0;
  // The program is the word naming the component (kube-apiserver, hyperkube kube-apiserver); without a command the
  // image's entrypoint is the program and every arg is a flag.
  const prog = words.findIndex((w) => basename(w.text) === c);
  if (hasCommand && prog < 0) {
    err(
      file.shown,
      `the ${c} container's command does not run ${c}: its flags cannot be read`,
      pod.locate(['spec', 'containers', index, 'command']).line,
    );
    return undefined;
  }
  const args = prog >= 0 ? words.slice(prog + 1) : words;
  let flags = parseFlags(args, syntaxOf(c));
  if (c === 'etcd') {
    // etcd reads ETCD_<FLAG> from the environment for a flag not given on the command line.
    const env: Token[] = [];
    asArray(container.env).forEach((e, i) => {
      const r = asRecord(e);
      if (typeof r?.name !== 'string' || typeof r.value !== 'string' || !r.name.startsWith('ETCD_')) return;
      const name = r.name.slice(5).toLowerCase().replace(/_/g, '-');
      env.push({
        text: `--${name}=${r.value}`,
        at: { path: file.shown, line: pod.locate(['spec', 'containers', index, 'env', i, 'value']).line },
      });
    });
    if (env.length > 0) flags = parseFlags([...env, ...args], syntaxOf(c));
  }
  // A flag that is not set is reported at the program's word (or the first arg when the image runs it).
  const anchor = (prog >= 0 ? words[prog]?.at : words[0]?.at) ?? {
    path: file.shown,
    line: pod.locate(['spec', 'containers', index]).line,
  };
  return { name: c, file, object: pod, flags, anchor };
}

function readKubelet(
  node: NodeFiles,
  read: (p: string) => { text: string; file: FileFacts } | undefined,
  facts: (p: string) => FileFacts | undefined,
  err: Err,
  notes: string[],
): KubeletFacts | undefined {
  const unitFiles: { file: FileFacts; text: string }[] = [];
  const unit = UNIT_FILES.map((p) => read(p)).find((x) => x !== undefined);
  if (unit) unitFiles.push(unit);
  // Drop-ins by file name; a name in /etc overrides the same name in /usr/lib or /lib (systemd.unit).
  const dropins = new Map<string, string>();
  for (const dir of DROPIN_DIRS)
    for (const name of listInRoot(node.root, dir)) if (name.endsWith('.conf')) dropins.set(name, `${dir}/${name}`);
  if (dropins.size > MAX_UNIT_FILES) {
    err(
      shownPath(node, '/etc/systemd/system/kubelet.service.d'),
      `more than ${MAX_UNIT_FILES} kubelet drop-ins: not read`,
    );
    return undefined;
  }
  for (const name of [...dropins.keys()].sort()) {
    const t = read(dropins.get(name) as string);
    if (t) unitFiles.push(t);
  }
  const units: UnitFile[] = unitFiles.map((u) => ({ shown: u.file.shown, text: u.text }));
  let envReads = 0;
  const cmd = kubeletCommand(units, (p) => {
    if (++envReads > MAX_UNIT_FILES) {
      if (envReads === MAX_UNIT_FILES + 1)
        err(unitFiles[0]?.file.shown ?? node.shown, 'too many EnvironmentFile= entries: not all read');
      return undefined;
    }
    const t = read(p);
    return t ? parseEnvFile(t.text, t.file.shown) : undefined;
  });
  for (const f of cmd.envFiles)
    if (!f.optional && !resolveInRoot(node.root, f.path).ok)
      notes.push(`kubelet environment file ${f.path} is named by the unit but is not on the node`);
  const flags = parseFlags(cmd.args, syntaxOf('kubelet'));
  if (unitFiles.length > 0 && !cmd.at) notes.push('the kubelet unit has no ExecStart: kubelet flags not known');
  // Without a unit, kube-bench's default configuration path; with one, only what --config names.
  const configPath = flags.last('config')?.value || (unitFiles.length === 0 ? '/var/lib/kubelet/config.yaml' : '');
  let config: KubeletFacts['config'];
  if (configPath) {
    const t = read(configPath);
    if (t) {
      const parsed = parseManifests(t.text, t.file.shown);
      for (const e of parsed.errors) err(e.file, e.message, e.line, e.column);
      const o = parsed.objects[0];
      if (parsed.errors.length === 0) {
        if (o?.kind === 'KubeletConfiguration' && parsed.objects.length === 1) config = { file: t.file, object: o };
        else err(t.file.shown, 'not a KubeletConfiguration');
      }
    } else if (flags.has('config')) notes.push(`kubelet --config ${configPath} is not on the node`);
  }
  if (unitFiles.length === 0 && !config) return undefined;
  const kubeconfig = facts(flags.last('kubeconfig')?.value || '/etc/kubernetes/kubelet.conf');
  const anchor: Where = cmd.at ?? (config ? { path: config.file.shown, line: 1 } : { path: node.shown });
  return {
    units: unitFiles.filter((u) => u !== unit || unitFiles.length === 1).map((u) => u.file),
    flags,
    anchor,
    ...(config ? { config } : {}),
    ...(kubeconfig ? { kubeconfig } : {}),
  };
}
