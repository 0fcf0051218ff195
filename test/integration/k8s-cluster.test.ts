import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CLUSTER_KINDS } from '../../src/k8s/cluster.js';
import { runCli } from '../helpers/cli.js';
import { startCluster, type TestCluster } from '../helpers/kube.js';

/*
 * `k8s audit --cluster` against a real kube-apiserver (with etcd) on 127.0.0.1: what it reads from the live API must
 * give the same findings as the same objects read from a file; what it cannot read makes the audit incomplete.
 */

const OBJECTS = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {portcullis.dev/sensitivity: internal}
---
apiVersion: v1
kind: Namespace
metadata:
  name: vault
  labels: {portcullis.dev/sensitivity: restricted, pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {node-restriction.kubernetes.io/sensitivity: internal}
spec:
  taints: [{key: node-restriction.kubernetes.io/sensitivity, value: internal, effect: NoSchedule}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web, portcullis.dev/sensitivity: internal}
    spec:
      hostNetwork: true
      containers:
        - name: app
          image: nginx:1.27
          securityContext: {privileged: true}
---
apiVersion: v1
kind: Pod
metadata:
  name: vault-0
  namespace: vault
  labels: {portcullis.dev/sensitivity: restricted}
spec:
  nodeName: node-a
  containers:
    - name: vault
      image: registry.example.com/prod/vault@sha256:${'a'.repeat(64)}
      securityContext: {allowPrivilegeEscalation: true}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-debug
  namespace: shop
  labels: {portcullis.dev/sensitivity: internal}
spec:
  nodeName: node-a
  volumes: [{name: root, hostPath: {path: /}}]
  containers: [{name: sh, image: busybox, volumeMounts: [{name: root, mountPath: /host}]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: everything}
rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: everything-for-ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: everything}
subjects: [{kind: ServiceAccount, name: ci, namespace: shop}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: vault}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`;

const CONFIG = `apiVersion: portcullis.dev/v1alpha1
kind: K8sConfig
productionRegistries: [registry.example.com/prod/**]
sensitivity:
  levels: [public, internal, confidential, restricted]
`;

interface Report {
  objects: number;
  findings: { ruleId: string; message: string; resource?: { kind: string; namespace?: string; name: string } }[];
  errors: { message: string }[];
}

let cluster: TestCluster;
let dir: string;

beforeAll(async () => {
  cluster = await startCluster();
  dir = mkdtempSync(join(tmpdir(), 'k8s-cluster-'));
  writeFileSync(join(dir, 'objects.yaml'), OBJECTS);
  writeFileSync(join(dir, 'k8s.yaml'), CONFIG);
  for (const doc of parseAllDocuments(OBJECTS)) await cluster.create(doc.toJS() as Record<string, unknown>);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

const key = (f: Report['findings'][number]) =>
  `${f.ruleId} | ${f.resource?.kind} ${f.resource?.namespace ?? ''}/${f.resource?.name} | ${f.message}`;

describe('k8s audit --cluster', () => {
  it('finds in the live API what it finds in the same objects read from a file', async () => {
    const live = await runCli([
      'k8s',
      'audit',
      '--cluster',
      '--kubeconfig',
      cluster.kubeconfig('admin'),
      '--config',
      join(dir, 'k8s.yaml'),
      '-f',
      'json',
    ]);
    expect(live.stderr).toBe('');
    expect(live.code).toBe(1);
    const fromFile = await runCli([
      'k8s',
      'audit',
      join(dir, 'objects.yaml'),
      '--config',
      join(dir, 'k8s.yaml'),
      '-f',
      'json',
    ]);
    expect(fromFile.code).toBe(1);
    const l = JSON.parse(live.stdout) as Report;
    const f = JSON.parse(fromFile.stdout) as Report;
    expect(l.errors).toEqual([]);
    // The live cluster also holds what the API server makes itself (system namespaces, bootstrap roles): compare the
    // findings about the objects the test created.
    const created = new Set(
      parseAllDocuments(OBJECTS).map((d) => {
        const o = d.toJS() as { kind: string; metadata: { name: string; namespace?: string } };
        return `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
      }),
    );
    const ours = l.findings.filter(
      (x) => x.resource && created.has(`${x.resource.kind} ${x.resource.namespace ?? ''}/${x.resource.name}`),
    );
    expect(ours.map(key).sort()).toEqual(f.findings.map(key).sort());
    // And the file's findings are not empty: the comparison is about something.
    expect(f.findings.length).toBeGreaterThan(5);
    expect(new Set(f.findings.map((x) => x.ruleId))).toContain('privileged');
  }, 120_000);

  it('reads every object the API lists, across pages', async () => {
    for (let i = 0; i < 520; i++)
      await cluster.create({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: `sa-${i}`, namespace: 'shop' },
      });
    const r = await runCli([
      'k8s',
      'audit',
      '--cluster',
      '--kubeconfig',
      cluster.kubeconfig('admin'),
      '-f',
      'json',
      '--exit-code',
      '0',
    ]);
    expect(r.code).toBe(0);
    // The oracle: each list fetched whole (no limit) straight from the API server.
    let expected = 0;
    for (const k of CLUSTER_KINDS) {
      const path = `${k.gv === 'v1' ? '/api/v1' : `/apis/${k.gv}`}/${k.plural}`;
      expected += ((await adminGet(path)) as { items: unknown[] }).items.length;
    }
    expect(expected).toBeGreaterThan(520);
    expect((JSON.parse(r.stdout) as Report).objects).toBe(expected);
  }, 180_000);

  it('fails closed when it may not list what it needs: incomplete, exit 2, never a pass', async () => {
    const r = await runCli(['k8s', 'audit', '--cluster', '--kubeconfig', cluster.kubeconfig('reader'), '-f', 'json']);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines.length).toBe(CLUSTER_KINDS.length);
    for (const line of lines)
      expect(line).toMatch(/^portcullis: K8S_INVALID: cluster:test-reader:1:1: \S+: HTTP 403: .*forbidden/);
  }, 60_000);

  it('refuses a kubeconfig that turns TLS verification off, or a plain-HTTP server', async () => {
    const insecure = await runCli([
      'k8s',
      'audit',
      '--cluster',
      '--kubeconfig',
      cluster.kubeconfig('admin', { insecure: true }),
    ]);
    expect(insecure.code).toBe(2);
    expect(insecure.stderr).toMatch(/CONFIG_INVALID: kubeconfig: cluster test sets insecure-skip-tls-verify/);
    const http = await runCli([
      'k8s',
      'audit',
      '--cluster',
      '--kubeconfig',
      cluster.kubeconfig('admin', { server: cluster.url.replace('https:', 'http:') }),
    ]);
    expect(http.code).toBe(2);
    expect(http.stderr).toMatch(/CONFIG_INVALID: kubeconfig: cluster test: the API server is reached over HTTPS only/);
  }, 60_000);

  it('names a missing context', async () => {
    const r = await runCli([
      'k8s',
      'audit',
      '--cluster',
      '--kubeconfig',
      cluster.kubeconfig('admin'),
      '--context',
      'nope',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^portcullis: CONFIG_INVALID: kubeconfig: no context 'nope' with a cluster\n {2}hint: /);
  });
});

function adminGet(path: string): Promise<unknown> {
  const kc = parse(readFileSync(cluster.kubeconfig('admin'), 'utf8')) as { users: { user: { token: string } }[] };
  return new Promise((resolve, reject) => {
    request(
      `${cluster.url}${path}`,
      { ca: readFileSync(cluster.caCert), headers: { Authorization: `Bearer ${kc.users[0]?.user.token}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      },
    )
      .on('error', reject)
      .end();
  });
}
