import { stringify } from 'yaml';
import { Rng } from './rng.js';

/** Objects in figure 12's input. */
export const K8S_OBJECTS = 10_000;

const LEVELS = ['public', 'internal', 'confidential', 'restricted'];
const IMAGES = [
  'registry.example.com/prod/web@sha256:' + 'a'.repeat(64),
  'registry.example.com/prod/api:1.4.2',
  'nginx:1.27',
  'docker.io/library/redis:latest',
  'ghcr.io/example/worker:v2',
  'registry.example.com/prod/batch@sha256:' + 'b'.repeat(64),
];

/** The configuration figure 12 audits with: every group of checks runs. */
export const K8S_BENCH_CONFIG = `apiVersion: portcullis.dev/v1alpha1
kind: K8sConfig
pssLevel: baseline
productionRegistries: [registry.example.com/prod/**]
sensitivity:
  levels: [${LEVELS.join(', ')}]
`;

type Obj = Record<string, unknown>;

function container(rng: Rng, name: string): Obj {
  const c: Obj = { name, image: IMAGES[rng.below(IMAGES.length)], ports: [{ containerPort: 8080 }] };
  const sc: Obj = {};
  switch (rng.below(6)) {
    case 0:
      break; // nothing set
    case 1:
      Object.assign(sc, { privileged: true });
      break;
    case 2:
      Object.assign(sc, { capabilities: { add: ['NET_ADMIN', 'SYS_TIME'] } });
      break;
    default:
      Object.assign(sc, {
        allowPrivilegeEscalation: false,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
        readOnlyRootFilesystem: true,
      });
  }
  if (Object.keys(sc).length) c.securityContext = sc;
  if (rng.below(4) === 0) c.env = [{ name: 'MODE', value: 'prod' }];
  c.resources = { limits: { cpu: '500m', memory: '256Mi' } };
  return c;
}

function podSpec(rng: Rng, level: string, pinned: boolean): Obj {
  const spec: Obj = { containers: [container(rng, 'app')] };
  if (rng.below(3) === 0) (spec.containers as Obj[]).push(container(rng, 'sidecar'));
  if (rng.below(5) === 0) spec.initContainers = [container(rng, 'init')];
  if (rng.below(10) === 0) spec.hostNetwork = true;
  if (rng.below(12) === 0) spec.volumes = [{ name: 'host', hostPath: { path: '/var/log' } }];
  else spec.volumes = [{ name: 'data', emptyDir: {} }];
  if (pinned) {
    spec.nodeSelector = { 'node-restriction.kubernetes.io/sensitivity': level };
    spec.tolerations = [
      { key: 'node-restriction.kubernetes.io/sensitivity', operator: 'Equal', value: level, effect: 'NoSchedule' },
    ];
  }
  if (rng.below(3) === 0) spec.serviceAccountName = 'app';
  return spec;
}

function workload(rng: Rng, ns: string, i: number, level: string): Obj {
  const name = `w${i}`;
  const labels = { app: name, 'portcullis.dev/sensitivity': level };
  const template = {
    metadata: { labels },
    spec: podSpec(rng, level, rng.below(3) !== 0),
  };
  const meta = { name, namespace: ns, labels };
  switch (rng.below(6)) {
    case 0:
      return {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: meta,
        spec: { serviceName: name, selector: { matchLabels: { app: name } }, template },
      };
    case 1:
      return {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: meta,
        spec: { selector: { matchLabels: { app: name } }, template },
      };
    case 2:
      return {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: meta,
        spec: {
          schedule: '0 3 * * *',
          jobTemplate: { spec: { template: { ...template, spec: { ...template.spec, restartPolicy: 'OnFailure' } } } },
        },
      };
    default:
      return {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: meta,
        spec: { replicas: 2, selector: { matchLabels: { app: name } }, template },
      };
  }
}

/**
 * Figure 12's input, seeded (the same bytes everywhere): namespaces of workloads (every controller kind, secure and
 * insecure security contexts, pinned and unpinned placement), Services, ConfigMaps, NetworkPolicies, quotas, RBAC,
 * one YAML file per namespace, plus a `kubectl get -o json` style dump of pods and nodes. Exactly K8S_OBJECTS objects.
 */
export function benchManifests(): Map<string, string> {
  const rng = new Rng(0x8a5);
  const files = new Map<string, string>();
  let count = 0;
  const namespaces = 40;
  const perNamespace = Math.floor((K8S_OBJECTS - 2_000 - 60) / namespaces);
  for (let n = 0; n < namespaces; n++) {
    const ns = `team-${n}`;
    const level = LEVELS[n % LEVELS.length] as string;
    const docs: Obj[] = [];
    const nsLabels: Record<string, string> = { 'portcullis.dev/sensitivity': level };
    if (n % 3 !== 0) nsLabels['pod-security.kubernetes.io/enforce'] = n % 2 ? 'restricted' : 'baseline';
    docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: nsLabels } });
    if (n % 2 === 0)
      docs.push({
        apiVersion: 'v1',
        kind: 'ResourceQuota',
        metadata: { name: 'quota', namespace: ns },
        spec: { hard: { pods: '50' } },
      });
    if (n % 4 !== 1)
      docs.push({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'default-deny', namespace: ns },
        spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
      });
    docs.push({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'app', namespace: ns },
      automountServiceAccountToken: false,
    });
    docs.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'reader', namespace: ns },
      rules: [
        {
          apiGroups: [''],
          resources: n % 5 === 0 ? ['secrets', 'configmaps'] : ['configmaps'],
          verbs: ['get', 'list'],
        },
      ],
    });
    docs.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'reader', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'app', namespace: ns }],
    });
    let i = 0;
    while (docs.length < perNamespace) {
      const w = workload(rng, ns, i++, level);
      docs.push(w);
      if (docs.length < perNamespace)
        docs.push({
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: (w.metadata as Obj).name, namespace: ns },
          spec: { selector: { app: (w.metadata as Obj).name }, ports: [{ port: 80, targetPort: 8080 }] },
        });
      if (docs.length < perNamespace && rng.below(2) === 0)
        docs.push({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: `cfg${i}`, namespace: ns },
          data: { 'app.properties': 'mode=prod\nthreads=8\n' },
        });
    }
    count += docs.length;
    files.set(`namespaces/${ns}.yaml`, docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n'));
  }
  const cluster: Obj[] = [];
  for (let i = 0; i < 20; i++)
    cluster.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `cr${i}` },
      rules: [
        {
          apiGroups: i % 4 === 0 ? ['*'] : ['apps'],
          resources: ['deployments'],
          verbs: i % 7 === 0 ? ['*'] : ['get', 'list', 'watch'],
        },
      ],
    });
  for (let i = 0; i < 20; i++)
    cluster.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `crb${i}` },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: i === 3 ? 'cluster-admin' : `cr${i}`,
      },
      subjects: [{ kind: 'Group', name: `group-${i}`, apiGroup: 'rbac.authorization.k8s.io' }],
    });
  count += cluster.length;
  files.set('cluster/rbac.yaml', cluster.map((d) => stringify(d, { lineWidth: 0 })).join('---\n'));
  // The live-state dump: nodes of each level and pods placed on them (a few on a node of another level).
  const items: Obj[] = [];
  const nodes = 20;
  for (let i = 0; i < nodes; i++) {
    const level = LEVELS[i % LEVELS.length] as string;
    items.push({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: `node-${i}`,
        labels: { 'node-restriction.kubernetes.io/sensitivity': level, 'kubernetes.io/hostname': `node-${i}` },
      },
      spec: { taints: [{ key: 'node-restriction.kubernetes.io/sensitivity', value: level, effect: 'NoSchedule' }] },
    });
  }
  const remaining = K8S_OBJECTS - count - nodes;
  for (let i = 0; i < remaining; i++) {
    const node = rng.below(nodes);
    const level =
      rng.below(50) === 0 ? (LEVELS[rng.below(LEVELS.length)] as string) : (LEVELS[node % LEVELS.length] as string);
    const ns = `team-${rng.below(namespaces)}`;
    items.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `pod-${i}`, namespace: ns, labels: { app: `w${i % 50}`, 'portcullis.dev/sensitivity': level } },
      spec: { ...podSpec(rng, level, true), nodeName: `node-${node}` },
      status: { phase: 'Running' },
    });
  }
  count += items.length;
  files.set('dump/pods-and-nodes.json', JSON.stringify({ apiVersion: 'v1', kind: 'List', items }, null, 4));
  if (count !== K8S_OBJECTS) throw new Error(`figure 12: generated ${count} objects, expected ${K8S_OBJECTS}`);
  return files;
}
