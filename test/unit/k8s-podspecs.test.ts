import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { runK8sRules } from '../../src/k8s/audit.js';
import { parseK8sConfig } from '../../src/k8s/config.js';
import { parseManifests } from '../../src/k8s/load.js';
import { type K8sObject, toObject } from '../../src/k8s/model.js';
import { type AdmitContext, decide, podSpecPathIn } from '../../src/k8s/webhook/admit.js';
import { fixedKeys, ImageVerifier, registryFailure } from '../../src/k8s/webhook/verify.js';
import { customWorkloadsOf, findPodSpecs, showPath } from '../../src/k8s/workload.js';
import { admissionRequest } from '../helpers/admission.js';

/**
 * One pod-spec finder for the webhook and the audit: what the webhook refuses as an unknown kind holding a pod spec,
 * the audit checks (a pod template it can place) or notes (one it cannot).
 */

function objects(yaml: string): K8sObject[] {
  const r = parseManifests(yaml, 'in.yaml');
  expect(r.errors).toEqual([]);
  return r.objects;
}

const PRIV = '{containers: [{name: app, image: nginx, securityContext: {privileged: true}}]}';

const TFJOB = `apiVersion: kubeflow.org/v1
kind: TFJob
metadata: {name: train, namespace: ml}
spec:
  tfReplicaSpecs:
    PS:
      replicas: 1
      template:
        spec: {containers: [{name: tf, image: tf}]}
    Worker:
      replicas: 2
      template:
        metadata: {labels: {role: worker}}
        spec: ${PRIV}
`;

const VOLCANO = `apiVersion: batch.volcano.sh/v1alpha1
kind: Job
metadata: {name: vj, namespace: ml}
spec:
  tasks:
    - name: a
      template:
        spec: {containers: [{name: a, image: a}]}
    - name: b
      template:
        spec: ${PRIV}
`;

const ARGO = `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf, namespace: ci}
spec:
  templates:
    - name: main
      containerSet:
        containers: [{name: a, image: alpine, securityContext: {privileged: true}}]
    - name: step
      container: {image: alpine}
`;

describe('findPodSpecs', () => {
  it('finds every pod spec, in document order, without searching inside one', () => {
    const [tf] = objects(TFJOB);
    expect(findPodSpecs(tf?.raw).specs.map(showPath)).toEqual([
      'spec.tfReplicaSpecs.PS.template.spec',
      'spec.tfReplicaSpecs.Worker.template.spec',
    ]);
    const [v] = objects(VOLCANO);
    expect(findPodSpecs(v?.raw).specs.map(showPath)).toEqual([
      'spec.tasks[0].template.spec',
      'spec.tasks[1].template.spec',
    ]);
    // A root pod spec, and one whose containers hold another `containers` (not searched).
    expect(findPodSpecs({ containers: [{ image: 'x', containers: [{ image: 'y' }] }] }).specs).toEqual([[]]);
  });

  it('needs a containers list holding a mapping with an image', () => {
    for (const v of [
      { spec: { containers: [] } },
      { spec: { containers: [{ name: 'a' }] } },
      { spec: { containers: { image: 'x' } } },
      { spec: { containers: ['image'] } },
      { data: { 'config.yaml': 'containers: [{image: x}]' } },
    ])
      expect(findPodSpecs(v)).toEqual({ specs: [] });
  });

  it('stops at its bounds and says where: values visited, nesting, pod specs found', () => {
    const wide = { items: Array.from({ length: 50 }, (_, i) => ({ n: i })) };
    expect(findPodSpecs(wide, { nodes: 20 }).incomplete?.reason).toBe(
      'the object is too large to search for pod specs',
    );
    let deep: unknown = { containers: [{ image: 'x' }] };
    for (let i = 0; i < 10; i++) deep = { n: deep };
    expect(findPodSpecs(deep, { depth: 5 }).incomplete).toEqual({
      path: ['n', 'n', 'n', 'n', 'n', 'n'],
      reason: 'nested too deep to search for pod specs',
    });
    expect(findPodSpecs(deep).specs).toHaveLength(1);
    const many = { list: Array.from({ length: 5 }, () => ({ containers: [{ image: 'x' }] })) };
    const r = findPodSpecs(many, { specs: 3 });
    expect(r.specs).toHaveLength(3);
    expect(r.incomplete).toEqual({ path: ['list', 3], reason: 'it holds too many pod specs to check' });
  });
});

/** Any JSON value, with pod specs dropped in at random places. */
const podSpec = fc.record({ containers: fc.array(fc.record({ image: fc.string() }), { minLength: 1, maxLength: 2 }) });
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 1 }),
    podSpec,
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('spec', 'template', 'podTemplate', 'tasks', 'x', 'containers'), tie('v'), {
      maxKeys: 3,
    }),
  ),
})).v;

describe('the webhook and the audit agree', () => {
  it('what the webhook refuses as holding a pod spec, the audit checks or notes (fast-check)', () => {
    let holding = 0;
    fc.assert(
      fc.property(value, (spec) => {
        const raw = { apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 't' }, spec };
        const o = toObject(raw, { file: 'f', doc: 0 }, () => ({ line: 1, column: 1 })) as K8sObject;
        const found = customWorkloadsOf(o);
        const seen = found.workloads.length + found.unplaced.length + (found.incomplete ? 1 : 0);
        if (seen > 0) holding++;
        expect(podSpecPathIn(raw) !== undefined).toBe(seen > 0);
        // Every pod spec is either checked or noted, never both.
        const all = findPodSpecs(raw).specs.map(showPath).sort();
        const placed = [...found.workloads.map((w) => w.specPath), ...found.unplaced].map(showPath).sort();
        expect(placed).toEqual(all);
      }),
      { numRuns: 400 },
    );
    // The generator does drop pod specs in (the property is not vacuous).
    expect(holding).toBeGreaterThan(40);
  });
});

describe('the audit checks pod templates in custom resources', () => {
  const run = (yaml: string) => runK8sRules(objects(yaml));

  it('Kubeflow replica templates and Volcano task templates: each one, at its own path', () => {
    for (const [yaml, at] of [
      [TFJOB, 'spec.tfReplicaSpecs.Worker.template.spec.containers[0].securityContext.privileged'],
      [VOLCANO, 'spec.tasks[1].template.spec.containers[0].securityContext.privileged'],
    ] as const) {
      const r = run(yaml);
      const priv = r.findings.filter((f) => f.ruleId === 'privileged');
      expect(priv).toHaveLength(1);
      const [o] = objects(yaml);
      const line = o?.locate(at.split(/[.[\]]+/).map((s) => (/^\d+$/.test(s) ? Number(s) : s))).line;
      expect(priv[0]?.location).toMatchObject({ line });
      expect(r.notes.filter((n) => n.ruleId === 'pod-spec-search')).toEqual([]);
    }
  });

  it('a pod of a custom owner in the input is judged through the owner template it comes from', () => {
    const podOf = (owner: string) => `apiVersion: v1
kind: Pod
metadata:
  name: train-worker-0
  namespace: ml
  ownerReferences: [{apiVersion: kubeflow.org/v1, kind: TFJob, name: ${owner}, controller: true, uid: u}]
spec: ${PRIV}
`;
    const on = (yaml: string) =>
      run(yaml)
        .findings.filter((f) => f.ruleId === 'privileged')
        .map((f) => f.resource?.kind);
    expect(on(`${TFJOB}---\n${podOf('train')}`)).toEqual(['TFJob']);
    expect(on(`${TFJOB}---\n${podOf('other')}`)).toEqual(['TFJob', 'Pod']);
  });

  it('a pod template under podTemplate (Flink) carries its own labels', () => {
    const [o] = objects(`apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata: {name: f}
spec:
  podTemplate:
    metadata: {labels: {tier: stream}}
    spec: {containers: [{name: flink-main-container, image: flink}]}
`);
    const ws = customWorkloadsOf(o as K8sObject).workloads;
    expect(ws.map((w) => [showPath(w.specPath), w.labels])).toEqual([['spec.podTemplate.spec', { tier: 'stream' }]]);
  });

  it('notes a pod spec it cannot place (Argo containerSet) and reports nothing on it', () => {
    const r = run(ARGO);
    expect(r.findings.filter((f) => f.ruleId === 'privileged')).toEqual([]);
    expect(r.notes.filter((n) => n.ruleId === 'pod-spec-search')).toEqual([
      {
        ruleId: 'pod-spec-search',
        where: 'in.yaml: Workflow ci/wf',
        message:
          'holds a pod spec at spec.templates[0].containerSet that is not a pod template (not under a template key): its containers are not checked',
      },
    ]);
  });

  it('leaves clean and pod-less objects alone: no workload, no note', () => {
    const yaml = `apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: ml}
data: {pod.yaml: "containers: [{image: x}]"}
---
apiVersion: apps/v1
kind: ControllerRevision
metadata: {name: ds-1, namespace: ml}
data: {spec: {template: {spec: ${PRIV}}}}
revision: 1
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: ml}
spec: {replicas: 3, containers: []}
`;
    const r = run(yaml);
    expect(r.findings.filter((f) => f.ruleId === 'privileged')).toEqual([]);
    expect(r.notes.filter((n) => n.ruleId === 'pod-spec-search')).toEqual([]);
  });
});

describe('the webhook refuses a same-named kind of another group that holds a pod spec', () => {
  const unreachable = new ImageVerifier({ registry: { retries: 1 }, trust: fixedKeys([]) });
  afterAll(() => unreachable.close());
  const ctx: AdmitContext = {
    config: parseK8sConfig('apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\n', 'k8s.yaml'),
    images: unreachable,
    describeError: registryFailure,
  };

  it('is refused as a kind Portcullis does not know, not read as a Deployment', async () => {
    const object = {
      apiVersion: 'example.com/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { template: { spec: { containers: [{ name: 'a', image: 'nginx' }] } } },
    };
    const d = await decide(admissionRequest(object), ctx);
    expect(d.pass).toBe(false);
    expect(d.reasons).toEqual([
      'Deployment team/web: kind Deployment is not one Portcullis knows, and it holds a pod spec at spec.template.spec.containers; refused because it cannot be checked',
    ]);
  });
});
