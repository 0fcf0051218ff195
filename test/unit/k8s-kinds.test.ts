import { describe, expect, it } from 'vitest';
import { runK8sRules } from '../../src/k8s/audit.js';
import { groupOf, isBuiltin } from '../../src/k8s/kinds.js';
import { parseManifests } from '../../src/k8s/load.js';
import type { K8sObject } from '../../src/k8s/model.js';
import { ObjectIndex } from '../../src/k8s/rule.js';
import { customTemplateOf, workloadOf } from '../../src/k8s/workload.js';

/** Kinds are read by API group: a custom resource named like a built-in kind gets no built-in semantics. */

function objects(yaml: string): K8sObject[] {
  const r = parseManifests(yaml, 'in.yaml');
  expect(r.errors).toEqual([]);
  return r.objects;
}

function one(yaml: string): K8sObject {
  const [o] = objects(yaml);
  return o as K8sObject;
}

const TEMPLATE = `spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      hostNetwork: true
      containers: [{name: app, image: nginx}]`;

describe('groupOf and isBuiltin', () => {
  it('reads the group of an apiVersion, the core group as v1 only', () => {
    expect(groupOf('v1')).toBe('');
    expect(groupOf('apps/v1')).toBe('apps');
    expect(groupOf('rbac.authorization.k8s.io/v1beta1')).toBe('rbac.authorization.k8s.io');
    for (const bad of ['', 'v2', 'apps/', '/v1', 'a/b/c']) expect(groupOf(bad)).toBeUndefined();
  });

  it('takes a kind as built-in only from a group that serves it, legacy workload groups included', () => {
    const is = (apiVersion: string, kind: string) => isBuiltin({ apiVersion, kind });
    expect(is('apps/v1', 'Deployment')).toBe(true);
    expect(is('extensions/v1beta1', 'Deployment')).toBe(true);
    expect(is('apps/v1beta2', 'DaemonSet')).toBe(true);
    expect(is('apps/v1beta1', 'StatefulSet')).toBe(true);
    expect(is('batch/v1beta1', 'CronJob')).toBe(true);
    expect(is('v1', 'ReplicationController')).toBe(true);
    expect(is('example.com/v1', 'Deployment')).toBe(false);
    expect(is('v1', 'Deployment')).toBe(false);
    expect(is('apps/v1', 'Pod')).toBe(false);
    expect(is('v2', 'Pod')).toBe(false);
    // NetworkPolicy: only the group current API servers serve.
    expect(is('networking.k8s.io/v1', 'NetworkPolicy')).toBe(true);
    expect(is('extensions/v1beta1', 'NetworkPolicy')).toBe(false);
    expect(is('example.com/v1', 'Role')).toBe(false);
    expect(isBuiltin({ apiVersion: 'v1', kind: 'Pod' }, 'Namespace')).toBe(false);
    expect(is('example.com/v1', 'Widget')).toBe(false);
  });
});

describe('workloadOf by group', () => {
  it('reads built-in workloads of every group that serves them', () => {
    for (const [apiVersion, kind] of [
      ['apps/v1', 'Deployment'],
      ['extensions/v1beta1', 'Deployment'],
      ['apps/v1beta2', 'ReplicaSet'],
      ['extensions/v1beta1', 'DaemonSet'],
      ['apps/v1beta1', 'StatefulSet'],
      ['batch/v1', 'Job'],
      ['v1', 'ReplicationController'],
    ]) {
      const w = workloadOf(one(`apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: web}\n${TEMPLATE}\n`));
      expect(w?.specPath, `${apiVersion} ${kind}`).toEqual(['spec', 'template', 'spec']);
    }
    const cron = one(
      'apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec: {containers: [{name: a, image: x}]}\n',
    );
    expect(workloadOf(cron)?.specPath).toEqual(['spec', 'jobTemplate', 'spec', 'template', 'spec']);
  });

  it('reads a same-named kind of another group as a custom resource: spec.template, not core semantics', () => {
    const crd = one(`apiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: web}\n${TEMPLATE}\n`);
    expect(workloadOf(crd)).toBeUndefined();
    expect(customTemplateOf(crd)?.specPath).toEqual(['spec', 'template', 'spec']);
    // A custom `Pod` is not read at its top-level spec.
    const pod = one(
      'apiVersion: example.com/v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: true, containers: [{name: a, image: x}]}\n',
    );
    expect(workloadOf(pod)).toBeUndefined();
    expect(customTemplateOf(pod)).toBeUndefined();
    // A built-in one is never a custom template.
    expect(customTemplateOf(one(`apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n${TEMPLATE}\n`))).toBe(
      undefined,
    );
  });
});

describe('ObjectIndex.ofKind by group', () => {
  const input = objects(
    [
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}',
      'apiVersion: example.com/v1\nkind: Namespace\nmetadata: {name: fake}',
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: shop}\nspec: {podSelector: {}}',
      'apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: b, namespace: shop}\nspec: {}',
      'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}',
    ].join('\n---\n'),
  );
  const index = new ObjectIndex(input);
  const names = (l: readonly K8sObject[]) => l.map((o) => o.name);

  it('gives built-in kinds from their group only, unless a group (or * for every one) is asked for', () => {
    expect(names(index.ofKind('Namespace'))).toEqual(['shop']);
    expect(names(index.ofKind('Namespace', 'example.com'))).toEqual(['fake']);
    expect(names(index.ofKind('Namespace', ''))).toEqual(['shop']);
    expect(names(index.ofKind('NetworkPolicy'))).toEqual(['a']);
    expect(names(index.ofKind('NetworkPolicy', '*'))).toEqual(['a', 'b']);
    expect(names(index.ofKind('Widget'))).toEqual(['w']);
    expect(index.namespaceNames(input)).toEqual(['shop']);
  });
});

describe('the audit reads kinds by group', () => {
  const ids = (yaml: string) =>
    runK8sRules(objects(yaml))
      .findings.map((f) => `${f.ruleId} ${f.resource?.kind} ${f.resource?.apiVersion}`)
      .sort();

  it('judges an RBAC Role, and leaves a custom Role with the same rules alone', () => {
    const role = (apiVersion: string) =>
      `apiVersion: ${apiVersion}\nkind: Role\nmetadata: {name: all, namespace: shop}\nrules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]\n`;
    const real = ids(role('rbac.authorization.k8s.io/v1'));
    expect(real.length).toBeGreaterThan(0);
    expect(real.every((f) => f.endsWith('Role rbac.authorization.k8s.io/v1'))).toBe(true);
    expect(ids(role('example.com/v1'))).toEqual([]);
  });

  it('checks a custom Deployment through its spec.template, as other custom resources', () => {
    const found = ids(
      `apiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n${TEMPLATE}\n`,
    );
    expect(found).toContain('hostNamespaces Deployment example.com/v1');
  });

  it('does not take a custom resource for a Namespace: its PSA label does not lower the level', () => {
    const pod =
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec: {hostNetwork: true, containers: [{name: a, image: x}]}\n';
    const ns = (apiVersion: string) =>
      `apiVersion: ${apiVersion}\nkind: Namespace\nmetadata: {name: shop, labels: {pod-security.kubernetes.io/enforce: privileged}}\n`;
    const hostNs = (yaml: string) => ids(yaml).filter((f) => f.startsWith('hostNamespaces'));
    expect(hostNs(`${ns('v1')}---\n${pod}`)).toEqual([]);
    expect(hostNs(`${ns('example.com/v1')}---\n${pod}`)).toEqual(['hostNamespaces Pod v1']);
  });

  it('does not take a pod for one controlled through a same-named custom owner', () => {
    const owner = (apiVersion: string) =>
      `apiVersion: ${apiVersion}\nkind: ReplicaSet\nmetadata: {name: rs, namespace: shop}\n${TEMPLATE}\n`;
    const pod = `apiVersion: v1
kind: Pod
metadata:
  name: rs-x
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, controller: true, uid: u}]
spec: {hostNetwork: true, containers: [{name: app, image: nginx}]}
`;
    const onPod = (yaml: string) => ids(yaml).filter((f) => f === 'hostNamespaces Pod v1');
    expect(onPod(`${owner('apps/v1')}---\n${pod}`)).toEqual([]);
    expect(onPod(`${owner('example.com/v1')}---\n${pod}`)).toEqual(['hostNamespaces Pod v1']);
  });
});
