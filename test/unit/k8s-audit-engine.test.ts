import { describe, expect, it } from 'vitest';
import { runK8sRules } from '../../src/k8s/audit.js';
import { DEFAULT_K8S_CONFIG, parseK8sConfig } from '../../src/k8s/config.js';
import { parseManifests } from '../../src/k8s/load.js';
import type { K8sRule } from '../../src/k8s/rule.js';
import { K8S_RULES } from '../../src/k8s/rules/index.js';

const INPUT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      hostNetwork: true
      containers: [{name: app, image: nginx}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d4
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, controller: true, uid: u1}]
spec:
  template:
    spec:
      hostNetwork: true
      containers: [{name: app, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d4-x
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d4, controller: true, uid: u2}]
spec:
  hostNetwork: true
  containers: [{name: app, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata:
  name: orphan
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: gone, controller: true, uid: u3}]
spec:
  hostNetwork: true
  containers: [{name: app, image: nginx}]
`;

/** A check used only here: pods and templates on the host network. */
const hostNet: K8sRule = {
  id: 'test-host-network',
  group: 'pss',
  title: 'host network',
  severity: 'high',
  confidence: 'high',
  rationale: 'r',
  remediation: 'fix it',
  check: (ctx) =>
    ctx.workloads
      .filter((w) => w.spec.hostNetwork === true)
      .map((w) => ({
        object: w.object,
        path: [...w.specPath, 'hostNetwork'],
        message: `${w.object.name} uses the host network`,
      })),
};

const needsConfig: K8sRule = {
  ...hostNet,
  id: 'test-needs-config',
  check: () => [],
  notChecked: (ctx) => (ctx.config.production ? undefined : 'no productionRegistries in the configuration'),
};

describe('runK8sRules', () => {
  const { objects, errors } = parseManifests(INPUT, 'in.yaml');

  it('checks a controller template once: objects whose controller is in the input are not checked again', () => {
    expect(errors).toEqual([]);
    const r = runK8sRules(objects, { rules: [hostNet] });
    expect(r.findings.map((f) => `${f.location.kind === 'file' ? f.location.line : 0} ${f.message}`)).toEqual([
      '7 web uses the host network',
      '39 orphan uses the host network',
    ]);
    expect(r.findings[0]).toMatchObject({
      ruleId: 'test-host-network',
      kind: 'kubernetes',
      severity: 'high',
      fix: { text: 'fix it' },
      resource: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' },
    });
  });

  it('checks a controlled pod on its own when it holds more than its template (a mutating webhook, a forged owner)', () => {
    const mutated = `${INPUT}---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d4-injected
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d4, controller: true, uid: u2}]
spec:
  hostNetwork: true
  initContainers: [{name: mesh-init, image: nginx, securityContext: {privileged: true}}]
  containers: [{name: app, image: nginx}]
`;
    const r = runK8sRules(parseManifests(mutated, 'in.yaml').objects, { rules: K8S_RULES });
    const on = (rule: string) => r.findings.filter((f) => f.ruleId === rule).map((f) => f.resource?.name);
    expect(on('privileged')).toEqual(['web-5d4-injected']);
    // The pod's other findings are its own too (it is judged as a whole); the faithful copy web-5d4-x is not.
    expect(on('hostNamespaces')).toEqual(['web', 'orphan', 'web-5d4-injected']);
  });

  it('checks a controlled pod on its own when its placement or volumes are not its template’s', () => {
    const owned = (name: string, extra: string) => `---
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d4, controller: true, uid: u2}]
spec:
  hostNetwork: true
${extra}  containers: [{name: app, image: nginx}]
`;
    const input = [
      INPUT,
      owned('tolerant', '  tolerations: [{operator: Exists}]\n'),
      owned('selected', '  nodeSelector: {zone: a}\n'),
      owned('mounted', '  volumes: [{name: s, secret: {secretName: other}}]\n'),
      owned('live', '  nodeName: n1\n  volumes: [{name: kube-api-access-x1, projected: {sources: []}}]\n'),
    ].join('');
    const r = runK8sRules(parseManifests(input, 'in.yaml').objects, { rules: [hostNet] });
    expect(r.findings.map((f) => f.message)).toEqual([
      'web uses the host network',
      'orphan uses the host network',
      'tolerant uses the host network',
      'selected uses the host network',
      'mounted uses the host network',
    ]);
  });

  it("a DaemonSet's or StatefulSet's live pods are their template: the node field and claim volumes the controllers add do not count", () => {
    const controller = (kind: string, extra = '') => `---
apiVersion: apps/v1
kind: ${kind}
metadata: {name: agent, namespace: mon, uid: u-${kind}}
spec:
  selector: {matchLabels: {app: agent}}
${extra}  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers: [{name: agent, image: agent}]
`;
    const pod = (kind: string, n: number, extra: string) => `---
apiVersion: v1
kind: Pod
metadata:
  name: ${kind.toLowerCase()}-${n}
  namespace: mon
  ownerReferences: [{apiVersion: apps/v1, kind: ${kind}, name: agent, uid: u-${kind}, controller: true}]
spec:
  hostNetwork: true
  nodeName: node-${n}
${extra}  containers: [{name: agent, image: agent}]
`;
    const pinned = (n: number) =>
      `  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchFields: [{key: metadata.name, operator: In, values: [node-${n}]}]\n`;
    const claimed = (n: number) => `  volumes: [{name: data, persistentVolumeClaim: {claimName: data-agent-${n}}}]\n`;
    const input = [
      controller('DaemonSet'),
      pod('DaemonSet', 1, pinned(1)),
      pod('DaemonSet', 2, pinned(2)),
      controller(
        'StatefulSet',
        '  volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce]}}]\n',
      ),
      pod('StatefulSet', 0, claimed(0)),
      // A node affinity term beside the node field is the pod's own placement: judged on its own.
      pod('DaemonSet', 3, `${pinned(3)}          matchExpressions: [{key: zone, operator: In, values: [a]}]\n`),
    ].join('');
    const r = runK8sRules(parseManifests(input, 'in.yaml').objects, { rules: [hostNet] });
    expect(r.findings.map((f) => f.message)).toEqual([
      'agent uses the host network',
      'agent uses the host network',
      'daemonset-3 uses the host network',
    ]);
  });

  it("checks a custom resource's pod template at spec.template (an Argo Rollout) like a Deployment's", () => {
    const rollout = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary, namespace: shop}
spec:
  template:
    spec:
      containers: [{name: app, image: nginx, securityContext: {privileged: true}}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: canary-7f9
  namespace: shop
  ownerReferences: [{apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: canary, controller: true, uid: u9}]
spec:
  template:
    spec:
      containers: [{name: app, image: nginx, securityContext: {privileged: true}}]
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: shop}
spec: {template: {size: 3}}
`;
    const r = runK8sRules(parseManifests(rollout, 'in.yaml').objects, { rules: K8S_RULES });
    const on = (rule: string) => r.findings.filter((f) => f.ruleId === rule).map((f) => [f.resource?.name, f.location]);
    // Once, on the Rollout (its ReplicaSet is a faithful copy); the Widget holds no pod.
    expect(on('privileged')).toEqual([['canary', { kind: 'file', path: 'in.yaml', line: 7, column: 76 }]]);
    expect(r.findings.some((f) => f.resource?.name === 'w')).toBe(false);
  });

  it('lists a check without its configuration as not checked', () => {
    const r = runK8sRules(objects, { rules: [needsConfig] });
    expect(r.notes).toEqual([
      { ruleId: 'test-needs-config', message: 'not checked: no productionRegistries in the configuration' },
    ]);
  });

  it('applies ignore entries by rule, namespace and name glob, and counts what they accept', () => {
    const config = parseK8sConfig(
      'apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\nignore:\n  - {rule: test-host-network, namespaces: [shop], names: ["orph*"], reason: debugging pod}\n',
      'k8s.yaml',
      { knownRules: ['test-host-network'] },
    );
    const r = runK8sRules(objects, { rules: [hostNet], config });
    expect(r.findings.map((f) => f.resource?.name)).toEqual(['web']);
    expect(r.ignored).toEqual([{ ruleId: 'test-host-network', where: 'in.yaml:39', reason: 'debugging pod' }]);
    expect(DEFAULT_K8S_CONFIG.ignore).toEqual([]);
  });

  it('refuses an ignore entry for a check that does not exist, naming the line', () => {
    expect(() =>
      parseK8sConfig(
        'apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\nignore:\n  - {rule: nope, reason: x}\n',
        'k8s.yaml',
        { knownRules: ['test-host-network'] },
      ),
    ).toThrow(/k8s\.yaml:4:\d+: ignore\[0\]\.rule: no Kubernetes check 'nope'/);
  });

  it('refuses, for admission only, an ignore entry that matches names in any namespace', () => {
    const text = (where: string) =>
      `apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\nignore:\n  - rule: test-host-network\n${where}    names: ["node-exporter*"]\n    reason: reads /proc\n`;
    const use = { knownRules: ['test-host-network'], admission: true };
    expect(() => parseK8sConfig(text(''), 'k8s.yaml', use)).toThrow(
      /k8s\.yaml:5:\d+: ignore\[0\]\.names: without namespaces, anyone who may create a pod anywhere could pick a matching name/,
    );
    // The same entry is fine for an audit (the objects are what was deployed), and with namespaces for admission.
    expect(parseK8sConfig(text(''), 'k8s.yaml', { knownRules: use.knownRules }).ignore).toHaveLength(1);
    expect(parseK8sConfig(text('    namespaces: [monitoring]\n'), 'k8s.yaml', use).ignore).toHaveLength(1);
  });
});
