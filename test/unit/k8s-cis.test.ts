import { chmodSync, chownSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runK8sRules } from '../../src/k8s/audit.js';
import type { NodeFiles } from '../../src/k8s/cis/node.js';
import { nodeErrors } from '../../src/k8s/cis/node.js';
import { CIS_BENCHMARK, CIS_RULES } from '../../src/k8s/cis/rules.js';
import { K8S_RULES } from '../../src/k8s/rules/index.js';
import { runCli } from '../helpers/cli.js';

// Node roots are built in temporary directories with real files, modes and owners (the tests run as root). The
// compliant node is a kubeadm control plane hardened to the benchmark; each misconfigured node changes one group of
// items and must yield exactly the findings listed, at the lines found by searching the fixture's text.

const ETCD_UID = 990;

const APISERVER = `apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
  labels: {component: kube-apiserver, tier: control-plane}
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.34.1
    command:
    - kube-apiserver
    - --advertise-address=10.0.0.10
    - --allow-privileged=true
    - --anonymous-auth=false
    - --audit-log-path=/var/log/kubernetes/audit/audit.log
    - --audit-log-maxage=30
    - --audit-log-maxbackup=10
    - --audit-log-maxsize=100
    - --audit-policy-file=/etc/kubernetes/audit-policy.yaml
    - --authorization-mode=Node,RBAC
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    - --enable-admission-plugins=NodeRestriction
    - --enable-bootstrap-token-auth=true
    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
    - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
    - --etcd-servers=https://127.0.0.1:2379
    - --kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt
    - --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt
    - --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key
    - --kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname
    - --profiling=false
    - --secure-port=6443
    - --service-account-extend-token-expiration=false
    - --service-account-issuer=https://kubernetes.default.svc.cluster.local
    - --service-account-key-file=/etc/kubernetes/pki/sa.pub
    - --service-account-signing-key-file=/etc/kubernetes/pki/sa.key
    - --service-cluster-ip-range=10.96.0.0/12
    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt
    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key
    volumeMounts:
    - {mountPath: /etc/kubernetes/pki, name: k8s-certs, readOnly: true}
  volumes:
  - {hostPath: {path: /etc/kubernetes/pki, type: DirectoryOrCreate}, name: k8s-certs}
`;

const CONTROLLER_MANAGER = `apiVersion: v1
kind: Pod
metadata:
  name: kube-controller-manager
  namespace: kube-system
spec:
  hostNetwork: true
  containers:
  - name: kube-controller-manager
    image: registry.k8s.io/kube-controller-manager:v1.34.1
    command:
    - kube-controller-manager
    - --authentication-kubeconfig=/etc/kubernetes/controller-manager.conf
    - --authorization-kubeconfig=/etc/kubernetes/controller-manager.conf
    - --bind-address=127.0.0.1
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    - --cluster-signing-cert-file=/etc/kubernetes/pki/ca.crt
    - --cluster-signing-key-file=/etc/kubernetes/pki/ca.key
    - --controllers=*,bootstrapsigner,tokencleaner
    - --kubeconfig=/etc/kubernetes/controller-manager.conf
    - --leader-elect=true
    - --profiling=false
    - --root-ca-file=/etc/kubernetes/pki/ca.crt
    - --service-account-private-key-file=/etc/kubernetes/pki/sa.key
    - --use-service-account-credentials=true
`;

const SCHEDULER = `apiVersion: v1
kind: Pod
metadata:
  name: kube-scheduler
  namespace: kube-system
spec:
  hostNetwork: true
  containers:
  - name: kube-scheduler
    image: registry.k8s.io/kube-scheduler:v1.34.1
    command:
    - kube-scheduler
    - --authentication-kubeconfig=/etc/kubernetes/scheduler.conf
    - --authorization-kubeconfig=/etc/kubernetes/scheduler.conf
    - --bind-address=127.0.0.1
    - --kubeconfig=/etc/kubernetes/scheduler.conf
    - --leader-elect=true
    - --profiling=false
`;

const ETCD = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  hostNetwork: true
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.6.4-0
    command:
    - etcd
    - --advertise-client-urls=https://10.0.0.10:2379
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --key-file=/etc/kubernetes/pki/etcd/server.key
    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.10:2379
    - --name=cp1
    - --peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt
    - --peer-client-cert-auth=true
    - --peer-key-file=/etc/kubernetes/pki/etcd/peer.key
    - --peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
`;

const DROPIN = `# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;

const UNIT = `[Unit]
Description=kubelet: The Kubernetes Node Agent
[Service]
ExecStart=/usr/bin/kubelet
Restart=always
[Install]
WantedBy=multi-user.target
`;

const KUBELET_CONFIG = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  webhook:
    cacheTTL: 0s
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
cgroupDriver: systemd
rotateCertificates: true
staticPodPath: /etc/kubernetes/manifests
`;

interface Entry {
  text?: string;
  dir?: boolean;
  mode?: number;
  uid?: number;
  gid?: number;
}

function baseNode(controlPlane: boolean): Record<string, Entry> {
  const files: Record<string, Entry> = {
    'etc/passwd': {
      text: `root:x:0:0:root:/root:/bin/bash\netcd:x:${ETCD_UID}:${ETCD_UID}::/var/lib/etcd:/sbin/nologin\n`,
      mode: 0o644,
    },
    'etc/group': { text: `root:x:0:\netcd:x:${ETCD_UID}:\n`, mode: 0o644 },
    'usr/lib/systemd/system/kubelet.service': { text: UNIT, mode: 0o644 },
    'etc/systemd/system/kubelet.service.d/10-kubeadm.conf': { text: DROPIN },
    'var/lib/kubelet/kubeadm-flags.env': {
      text: 'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock"\n',
      mode: 0o644,
    },
    'var/lib/kubelet/config.yaml': { text: KUBELET_CONFIG },
    'etc/kubernetes/kubelet.conf': { text: 'apiVersion: v1\nkind: Config\n' },
    'etc/kubernetes/pki/ca.crt': { text: 'CA', mode: 0o644 },
  };
  if (!controlPlane) return files;
  return {
    ...files,
    'etc/kubernetes/manifests/kube-apiserver.yaml': { text: APISERVER },
    'etc/kubernetes/manifests/kube-controller-manager.yaml': { text: CONTROLLER_MANAGER },
    'etc/kubernetes/manifests/kube-scheduler.yaml': { text: SCHEDULER },
    'etc/kubernetes/manifests/etcd.yaml': { text: ETCD },
    'etc/kubernetes/admin.conf': { text: 'apiVersion: v1\nkind: Config\n' },
    'etc/kubernetes/super-admin.conf': { text: 'apiVersion: v1\nkind: Config\n' },
    'etc/kubernetes/scheduler.conf': { text: 'apiVersion: v1\nkind: Config\n' },
    'etc/kubernetes/controller-manager.conf': { text: 'apiVersion: v1\nkind: Config\n' },
    'etc/kubernetes/pki/ca.key': { text: 'KEY' },
    'etc/kubernetes/pki/apiserver.crt': { text: 'CRT', mode: 0o644 },
    'etc/kubernetes/pki/apiserver.key': { text: 'KEY' },
    'etc/kubernetes/pki/etcd/ca.crt': { text: 'CRT', mode: 0o644 },
    'etc/kubernetes/pki/etcd/ca.key': { text: 'KEY' },
    'var/lib/etcd': { dir: true, mode: 0o700, uid: ETCD_UID, gid: ETCD_UID },
    'var/lib/etcd/member': { dir: true, mode: 0o700, uid: ETCD_UID, gid: ETCD_UID },
  };
}

function build(entries: Record<string, Entry>): NodeFiles {
  const root = mkdtempSync(join(tmpdir(), 'pc-cis-node-'));
  for (const [path, e] of Object.entries(entries)) {
    const abs = join(root, path);
    mkdirSync(e.dir ? abs : dirname(abs), { recursive: true });
    if (!e.dir) writeFileSync(abs, e.text ?? '');
    chownSync(abs, e.uid ?? 0, e.gid ?? 0); // before chmod: chown clears set-id bits
    chmodSync(abs, e.mode ?? (e.dir ? 0o755 : 0o600));
  }
  return { root, shown: root };
}

function audit(node: NodeFiles) {
  const r = runK8sRules([], { nodes: [node], rules: CIS_RULES });
  return {
    ...r,
    errors: nodeErrors([node]),
    got: r.findings
      .map(
        (f) =>
          `${f.ruleId} ${f.location.kind === 'file' ? `${f.location.path.slice(node.shown.length)}:${f.location.line}` : ''}`,
      )
      .sort(),
  };
}

/** The 1-based line of the first line of `text` that contains `needle`. */
function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`fixture has no ${needle}`);
  return i + 1;
}

const M = '/etc/kubernetes/manifests';

describe('CIS node checks', () => {
  it('registers every item once, with the benchmark id and version', () => {
    const ids = CIS_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of CIS_RULES) {
      expect(r.id).toMatch(/^cis-[1-4](\.\d+){1,2}$/);
      expect(r.mapping).toBe(`${CIS_BENCHMARK} ${r.id.slice(4)}`);
      expect(r.group).toBe('cis');
    }
    expect(K8S_RULES.filter((r) => r.group === 'cis')).toEqual(CIS_RULES);
  });

  it('finds nothing on a compliant kubeadm control-plane node, with nothing unread', () => {
    const r = audit(build(baseNode(true)));
    expect(r.errors).toEqual([]);
    expect(r.got).toEqual([]);
    expect(r.notes).toEqual([]);
  });

  it('finds nothing on a compliant worker, and says once that sections 1 and 2 do not apply', () => {
    const node = build(baseNode(false));
    const r = audit(node);
    expect(r.errors).toEqual([]);
    expect(r.got).toEqual([]);
    expect(r.notes.map((n) => n.message)).toEqual([
      `node ${node.shown}: no control-plane static pod manifests: sections 1 and 2 do not apply to this node`,
    ]);
  });

  it('control-plane files: modes and owners (1.1.x)', () => {
    const e = baseNode(true);
    e['etc/kubernetes/manifests/kube-apiserver.yaml'] = { text: APISERVER, mode: 0o644 };
    e['etc/kubernetes/manifests/kube-scheduler.yaml'] = { text: SCHEDULER, uid: 1000 };
    e['etc/kubernetes/manifests/etcd.yaml'] = { text: ETCD, mode: 0o4600 };
    e['etc/kubernetes/super-admin.conf'] = { text: 'x', mode: 0o640, gid: 1000 };
    e['etc/kubernetes/controller-manager.conf'] = { text: 'x', mode: 0o666 };
    e['var/lib/etcd'] = { dir: true, mode: 0o755 };
    e['etc/kubernetes/pki/etcd/ca.key'] = { text: 'KEY', uid: 1000, gid: 1000 };
    const r = audit(build(e));
    expect(r.errors).toEqual([]);
    expect(r.got).toEqual(
      [
        `cis-1.1.1 ${M}/kube-apiserver.yaml:1`,
        `cis-1.1.6 ${M}/kube-scheduler.yaml:1`,
        `cis-1.1.7 ${M}/etcd.yaml:1`,
        'cis-1.1.11 /var/lib/etcd:1',
        'cis-1.1.12 /var/lib/etcd:1',
        'cis-1.1.13 /etc/kubernetes/super-admin.conf:1',
        'cis-1.1.14 /etc/kubernetes/super-admin.conf:1',
        'cis-1.1.17 /etc/kubernetes/controller-manager.conf:1',
        'cis-1.1.19 /etc/kubernetes/pki/etcd/ca.key:1',
      ].sort(),
    );
    const msg = (id: string) => r.findings.find((f) => f.ruleId === id)?.message;
    expect(msg('cis-1.1.1')).toBe('mode 0644, more permissive than 0600');
    expect(msg('cis-1.1.7')).toBe('mode 04600, more permissive than 0600');
    expect(msg('cis-1.1.12')).toBe('owned by root:root, not etcd:etcd');
    expect(msg('cis-1.1.19')).toBe('owned by 1000:1000, not root:root');
  });

  it('the etcd data directory without an etcd account on the node is reported as such', () => {
    const e = baseNode(true);
    e['etc/passwd'] = { text: 'root:x:0:0::/root:/bin/sh\n', mode: 0o644 };
    e['etc/group'] = { text: 'root:x:0:\n', mode: 0o644 };
    e['var/lib/etcd'] = { dir: true, mode: 0o700 };
    const r = audit(build(e));
    expect(r.got).toEqual(['cis-1.1.12 /var/lib/etcd:1']);
    expect(r.findings[0]?.message).toMatch(/not etcd:etcd \(the node has no etcd user and no etcd group\)$/);
  });

  it('API server flags (1.2.x), at the line of each flag, or of the command when a flag is missing', () => {
    const bad = APISERVER.replace('--anonymous-auth=false', '--token-auth-file=/etc/kubernetes/tokens.csv')
      .replace('--authorization-mode=Node,RBAC', '--authorization-mode=AlwaysAllow')
      .replace('--enable-admission-plugins=NodeRestriction', '--enable-admission-plugins=AlwaysAdmit,EventRateLimit')
      .replace('--enable-bootstrap-token-auth=true', '--disable-admission-plugins=ServiceAccount,NamespaceLifecycle')
      .replace('--profiling=false', '--profiling')
      .replace('--audit-log-maxage=30', '--audit-log-maxage=7')
      .replace('    - --audit-log-maxbackup=10\n', '')
      .replace('--audit-log-maxsize=100', '--audit-log-maxsize=big')
      .replace('--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt', '--kubelet-certificate-authority=')
      .replace('    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key\n', '')
      .replace('--service-account-extend-token-expiration=false', '--service-account-lookup=false');
    const e = baseNode(true);
    e['etc/kubernetes/manifests/kube-apiserver.yaml'] = { text: bad };
    const r = audit(build(e));
    expect(r.errors).toEqual([]);
    const at = (n: string) => `${M}/kube-apiserver.yaml:${lineOf(bad, n)}`;
    expect(r.got).toEqual(
      [
        `cis-1.2.2 ${at('--token-auth-file')}`,
        `cis-1.2.5 ${at('--kubelet-certificate-authority=')}`,
        `cis-1.2.6 ${at('--authorization-mode')}`,
        `cis-1.2.7 ${at('--authorization-mode')}`,
        `cis-1.2.8 ${at('--authorization-mode')}`,
        `cis-1.2.10 ${at('--enable-admission-plugins')}`,
        `cis-1.2.12 ${at('--disable-admission-plugins')}`,
        `cis-1.2.13 ${at('--disable-admission-plugins')}`,
        `cis-1.2.14 ${at('--enable-admission-plugins')}`,
        `cis-1.2.15 ${at('--profiling')}`,
        `cis-1.2.17 ${at('--audit-log-maxage')}`,
        `cis-1.2.18 ${at('- kube-apiserver')}`,
        `cis-1.2.19 ${at('--audit-log-maxsize')}`,
        `cis-1.2.21 ${at('--service-account-lookup')}`,
        `cis-1.2.23 ${at('- kube-apiserver')}`,
        `cis-1.2.30 ${at('- kube-apiserver')}`,
      ].sort(),
    );
    const msg = (id: string) => r.findings.find((f) => f.ruleId === id)?.message;
    expect(msg('cis-1.2.15')).toBe('kube-apiserver: --profiling is given without a value, which means true');
    expect(msg('cis-1.2.19')).toBe('kube-apiserver: --audit-log-maxsize=big is not a whole number');
    expect(msg('cis-1.2.23')).toBe('kube-apiserver: --etcd-keyfile is not set');
    expect(msg('cis-1.2.30')).toBe(
      'kube-apiserver: --service-account-extend-token-expiration is not set (the default is true)',
    );
  });

  it('API server in the args form with --flag value words, and authorizers from --authorization-config', () => {
    const args = APISERVER.replace('    command:\n    - kube-apiserver\n', '    args:\n')
      .replace('--authorization-mode=Node,RBAC', '--authorization-config=/etc/kubernetes/authz.yaml')
      .replace('- --profiling=false', '- --profiling\n    - "false"')
      .replace('- --audit-log-path=/var/log/kubernetes/audit/audit.log', '- --audit-log-path\n    - /var/log/a.log');
    const e = baseNode(true);
    e['etc/kubernetes/manifests/kube-apiserver.yaml'] = { text: args };
    e['etc/kubernetes/authz.yaml'] = {
      text: 'apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizers:\n- type: Webhook\n  name: w\n- type: AlwaysAllow\n  name: all\n',
    };
    const r = audit(build(e));
    expect(r.errors).toEqual([]);
    expect(r.got).toEqual(
      [
        `cis-1.2.6 /etc/kubernetes/authz.yaml:6`,
        `cis-1.2.7 ${M}/kube-apiserver.yaml:${lineOf(args, '--advertise-address')}`,
        `cis-1.2.8 ${M}/kube-apiserver.yaml:${lineOf(args, '--advertise-address')}`,
        `cis-1.2.15 ${M}/kube-apiserver.yaml:${lineOf(args, '--profiling')}`,
      ].sort(),
    );
  });

  it('controller manager and scheduler flags (1.3.x, 1.4.x)', () => {
    const cmBad = CONTROLLER_MANAGER.replace('--bind-address=127.0.0.1', '--bind-address=0.0.0.0')
      .replace('--profiling=false', '--profiling=true')
      .replace('--use-service-account-credentials=true', '--feature-gates=RotateKubeletServerCertificate=false')
      .replace('    - --root-ca-file=/etc/kubernetes/pki/ca.crt\n', '');
    const schedBad = SCHEDULER.replace('    - --bind-address=127.0.0.1\n', '').replace(
      '--profiling=false',
      '--profiling=False',
    );
    const e = baseNode(true);
    e['etc/kubernetes/manifests/kube-controller-manager.yaml'] = { text: cmBad };
    e['etc/kubernetes/manifests/kube-scheduler.yaml'] = { text: schedBad };
    const r = audit(build(e));
    expect(r.errors).toEqual([]);
    const cm = (n: string) => `${M}/kube-controller-manager.yaml:${lineOf(cmBad, n)}`;
    expect(r.got).toEqual(
      [
        `cis-1.3.2 ${cm('--profiling')}`,
        `cis-1.3.3 ${cm('- kube-controller-manager')}`,
        `cis-1.3.5 ${cm('- kube-controller-manager')}`,
        `cis-1.3.6 ${cm('--feature-gates')}`,
        `cis-1.3.7 ${cm('--bind-address')}`,
        `cis-1.4.2 ${M}/kube-scheduler.yaml:${lineOf(schedBad, '- kube-scheduler')}`,
      ].sort(),
    );
  });

  it('etcd flags (2.x), from the command line and from ETCD_* variables, which a flag overrides', () => {
    const bad = ETCD.replace('--client-cert-auth=true', '-client-cert-auth=false')
      .replace('    - --peer-key-file=/etc/kubernetes/pki/etcd/peer.key\n', '')
      .replace('--peer-client-cert-auth=true', '--auto-tls')
      .replace(
        '    command:',
        '    env:\n    - {name: ETCD_PEER_AUTO_TLS, value: "true"}\n    - {name: ETCD_PEER_CLIENT_CERT_AUTH, value: "false"}\n    - {name: ETCD_CERT_FILE, value: ""}\n    command:',
      );
    const e = baseNode(true);
    e['etc/kubernetes/manifests/etcd.yaml'] = { text: bad };
    const r = audit(build(e));
    expect(r.errors).toEqual([]);
    const at = (n: string) => `${M}/etcd.yaml:${lineOf(bad, n)}`;
    expect(r.got).toEqual(
      [
        `cis-2.2 ${at('-client-cert-auth=false')}`,
        `cis-2.3 ${at('--auto-tls')}`,
        `cis-2.4 ${at('- etcd')}`,
        `cis-2.5 ${at('ETCD_PEER_CLIENT_CERT_AUTH')}`,
        `cis-2.6 ${at('ETCD_PEER_AUTO_TLS')}`,
      ].sort(),
    );
  });

  it('kubelet: files, configuration and flags, a flag overriding the configuration (4.1.x, 4.2.x)', () => {
    const config = KUBELET_CONFIG.replace('    clientCAFile: /etc/kubernetes/pki/ca.crt\n', '').replace(
      'rotateCertificates: true',
      'rotateCertificates: false\nmakeIPTablesUtilChains: false',
    );
    const e = baseNode(false);
    e['var/lib/kubelet/config.yaml'] = { text: config, mode: 0o644 };
    e['etc/systemd/system/kubelet.service.d/10-kubeadm.conf'] = { text: DROPIN, mode: 0o644, gid: 1000 };
    e['etc/kubernetes/kubelet.conf'] = { text: 'x', uid: 1000 };
    e['etc/default/kubelet'] = { text: 'KUBELET_EXTRA_ARGS="--anonymous-auth --authorization-mode AlwaysAllow"\n' };
    const node = build(e);
    const r = audit(node);
    expect(r.errors).toEqual([]);
    const cfg = (n: string) => `/var/lib/kubelet/config.yaml:${lineOf(config, n)}`;
    expect(r.got).toEqual(
      [
        'cis-4.1.1 /etc/systemd/system/kubelet.service.d/10-kubeadm.conf:1',
        'cis-4.1.2 /etc/systemd/system/kubelet.service.d/10-kubeadm.conf:1',
        'cis-4.1.6 /etc/kubernetes/kubelet.conf:1',
        'cis-4.1.9 /var/lib/kubelet/config.yaml:1',
        'cis-4.2.1 /etc/default/kubelet:1',
        'cis-4.2.2 /etc/default/kubelet:1',
        `cis-4.2.3 /etc/systemd/system/kubelet.service.d/10-kubeadm.conf:${lineOf(DROPIN, 'ExecStart=/usr')}`,
        `cis-4.2.6 ${cfg('makeIPTablesUtilChains')}`,
        `cis-4.2.10 ${cfg('rotateCertificates')}`,
      ].sort(),
    );
    const msg = (id: string) => r.findings.find((f) => f.ruleId === id)?.message;
    expect(msg('cis-4.2.1')).toBe('kubelet: --anonymous-auth=true');
    expect(msg('cis-4.2.2')).toBe('kubelet: --authorization-mode=AlwaysAllow');
  });

  it('kubelet without a configuration file: the legacy defaults allow anonymous requests and AlwaysAllow', () => {
    const e = baseNode(false);
    e['etc/systemd/system/kubelet.service.d/10-kubeadm.conf'] = {
      text: DROPIN.replace('Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"', ''),
    };
    e['var/lib/kubelet/config.yaml'] = { text: 'not read' };
    const r = audit(build(e));
    expect(r.errors).toEqual([]);
    const exec = `/etc/systemd/system/kubelet.service.d/10-kubeadm.conf:${lineOf(DROPIN, 'ExecStart=/usr')}`;
    expect(r.got).toEqual([`cis-4.2.1 ${exec}`, `cis-4.2.2 ${exec}`, `cis-4.2.3 ${exec}`]);
  });

  describe('hostile and broken node roots fail closed', () => {
    it('a manifest that is a link out of the root is refused and its component is not checked', () => {
      const e = baseNode(true);
      delete e['etc/kubernetes/manifests/kube-apiserver.yaml'];
      const node = build(e);
      symlinkSync('../../../../../../../etc/hostname', join(node.root, M, 'kube-apiserver.yaml'));
      const r = audit(node);
      expect(r.errors).toEqual([
        {
          file: `${node.shown}${M}/kube-apiserver.yaml`,
          line: 1,
          column: 1,
          message: expect.stringMatching(/leaves the node root \(refused\)$/),
        },
      ]);
      expect(r.got.filter((g) => g.startsWith('cis-1.2'))).toEqual([]);
    });

    it('malformed YAML in a manifest is an error with its line, not a pass', () => {
      const e = baseNode(true);
      e['etc/kubernetes/manifests/kube-scheduler.yaml'] = { text: 'apiVersion: v1\nkind: Pod\nspec: [unclosed\n' };
      const node = build(e);
      const r = audit(node);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]?.file).toBe(`${node.shown}${M}/kube-scheduler.yaml`);
      expect(r.got).toEqual([]);
    });

    it('a huge kubelet configuration is refused unread', () => {
      const e = baseNode(false);
      e['var/lib/kubelet/config.yaml'] = { text: `# ${'x'.repeat(5 * 1024 * 1024)}\n` };
      const r = audit(build(e));
      expect(r.errors.map((x) => x.message)).toEqual(['larger than 4 MiB (refused unread)']);
    });

    it('an --authorization-config that is not there is an error, and 1.2.6-1.2.8 are not decided', () => {
      const e = baseNode(true);
      e['etc/kubernetes/manifests/kube-apiserver.yaml'] = {
        text: APISERVER.replace('--authorization-mode=Node,RBAC', '--authorization-config=/etc/kubernetes/authz.yaml'),
      };
      const node = build(e);
      const r = audit(node);
      expect(r.errors.map((x) => [x.file, x.message])).toEqual([
        [`${node.shown}/etc/kubernetes/authz.yaml`, 'the API server --authorization-config file is not on the node'],
      ]);
      expect(r.got).toEqual([]);
    });

    it('too many kubelet drop-ins are refused unread', () => {
      const e = baseNode(false);
      for (let i = 0; i < 65; i++)
        e[`etc/systemd/system/kubelet.service.d/${String(i).padStart(2, '0')}-x.conf`] = { text: '' };
      const r = audit(build(e));
      expect(r.errors.map((x) => x.message)).toEqual(['more than 64 kubelet drop-ins: not read']);
    });

    it('a static pod whose command does not run the component is an error', () => {
      const e = baseNode(true);
      e['etc/kubernetes/manifests/kube-apiserver.yaml'] = {
        text: APISERVER.replace('    - kube-apiserver\n', '    - /bin/wrapper\n'),
      };
      const r = audit(build(e));
      expect(r.errors.map((x) => x.message)).toEqual([
        "the kube-apiserver container's command does not run kube-apiserver: its flags cannot be read",
      ]);
    });

    it('a directory with no node files, or none at all, is an error', () => {
      const empty = mkdtempSync(join(tmpdir(), 'pc-cis-empty-'));
      expect(audit({ root: empty, shown: 'empty' }).errors.map((x) => x.message)).toEqual([
        expect.stringMatching(/^no Kubernetes node files found/),
      ]);
      expect(audit({ root: join(empty, 'nope'), shown: 'nope' }).errors.map((x) => x.message)).toEqual([
        'node root: not a directory',
      ]);
    });
  });

  describe('portcullis k8s audit --node-root', () => {
    it('reports the findings of each node given, with their files and lines', async () => {
      const cp = build(baseNode(true));
      const e = baseNode(false);
      e['etc/default/kubelet'] = { text: 'KUBELET_EXTRA_ARGS=--anonymous-auth=true\n' };
      const worker = build(e);
      const r = await runCli(['k8s', 'audit', '--format', 'json', '--node-root', cp.root, '--node-root', worker.root]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(1);
      const out = JSON.parse(r.stdout) as { findings: { ruleId: string; location: { path: string; line: number } }[] };
      expect(out.findings.map((f) => [f.ruleId, f.location.path, f.location.line])).toEqual([
        ['cis-4.2.1', `${worker.root}/etc/default/kubelet`, 1],
      ]);
    });

    it('exits 2 with a one-line error when a node file cannot be read safely', async () => {
      const e = baseNode(false);
      delete e['var/lib/kubelet/config.yaml'];
      const node = build(e);
      symlinkSync('../../../../../etc/hostname', join(node.root, 'var/lib/kubelet/config.yaml'));
      const r = await runCli(['k8s', 'audit', '--format', 'json', '--node-root', node.root]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(
            `^portcullis: K8S_INVALID: ${node.root}/var/lib/kubelet/config\\.yaml.*leaves the node root \\(refused\\)$`,
          ),
        ),
      ]);
    });
  });
});
