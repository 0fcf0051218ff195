import { describe, expect, it } from 'vitest';
import { runK8sRules } from '../../src/k8s/audit.js';
import { DEFAULT_K8S_CONFIG, parseK8sConfig } from '../../src/k8s/config.js';
import { parseImage } from '../../src/k8s/images.js';
import { parseManifests } from '../../src/k8s/load.js';
import { admitsAnyPeer, defaultDeny, netPolOf } from '../../src/k8s/netpol.js';
import {
  bindingsIn,
  bindingsOf,
  coversResource,
  policyRules,
  subjectCoversServiceAccount,
} from '../../src/k8s/rbac.js';
import { IMAGE_RULES } from '../../src/k8s/rules/images.js';
import { NETWORK_RULES } from '../../src/k8s/rules/network.js';
import { RBAC_RULES } from '../../src/k8s/rules/rbac.js';

function objects(yaml: string) {
  const r = parseManifests(yaml, 'test.yaml');
  expect(r.errors).toEqual([]);
  return r.objects;
}

function policy(spec: string) {
  const [o] = objects(
    `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: { name: p, namespace: ns1 }\nspec: ${spec}\n`,
  );
  return netPolOf(o as NonNullable<typeof o>);
}

describe('NetworkPolicy semantics', () => {
  it('policyTypes default: Ingress always, Egress only when egress rules are present', () => {
    expect([...policy('{ podSelector: {} }').types]).toEqual(['Ingress']);
    expect([...policy('{ podSelector: {}, egress: [] }').types]).toEqual(['Ingress']);
    expect([...policy('{ podSelector: {}, egress: [{ to: [{ podSelector: {} }] }] }').types]).toEqual([
      'Ingress',
      'Egress',
    ]);
    expect([...policy('{ podSelector: {}, policyTypes: [Egress] }').types]).toEqual(['Egress']);
    // Declared types win over the rules present.
    expect([...policy('{ podSelector: {}, policyTypes: [Egress], ingress: [{}] }').types]).toEqual(['Egress']);
  });

  it('an omitted podSelector selects every pod; an invalid one selects none', () => {
    expect(policy('{ policyTypes: [Ingress] }').podSelector?.requirements).toEqual([]);
    const bad = policy('{ podSelector: { matchExpressions: [{ key: a, operator: Exists, values: [x] }] } }');
    expect(bad.podSelector).toBeUndefined();
    expect(bad.selectorError).toMatch(/Exists takes no values/);
    expect(defaultDeny([bad], 'Ingress').state).toBe('none');
  });

  it('a rule admits any peer without from/to, or from the whole address space without exceptions', () => {
    expect(admitsAnyPeer({}, 'Ingress')).toBe(true);
    expect(admitsAnyPeer({ from: [], ports: [{ port: 80 }] }, 'Ingress')).toBe(true);
    expect(admitsAnyPeer({ to: [{ ipBlock: { cidr: '::/0' } }] }, 'Egress')).toBe(true);
    expect(admitsAnyPeer({ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }] }, 'Egress')).toBe(
      false,
    );
    expect(admitsAnyPeer({ from: [{ podSelector: {} }] }, 'Ingress')).toBe(false);
    expect(admitsAnyPeer({ from: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }, 'Ingress')).toBe(false);
    // `from` is read for ingress, `to` for egress: an egress rule's `from` is no peer list.
    expect(admitsAnyPeer({ from: [{ podSelector: {} }] }, 'Egress')).toBe(true);
  });

  it('every pod of every namespace, or ipBlocks that together cover an address family, admit any peer', () => {
    const any = (peers: unknown[]) => admitsAnyPeer({ from: peers }, 'Ingress');
    expect(any([{ namespaceSelector: {} }])).toBe(true);
    expect(any([{ namespaceSelector: { matchLabels: {} }, podSelector: {} }])).toBe(true);
    expect(any([{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'a' } } }])).toBe(false);
    expect(any([{ namespaceSelector: { matchLabels: { team: 'a' } } }])).toBe(false);
    // null is an omitted field: the policy's own namespace only.
    expect(any([{ namespaceSelector: null, podSelector: {} }])).toBe(false);
    const v4 = (...cidrs: (string | [string, string[]])[]) =>
      any(cidrs.map((c) => ({ ipBlock: typeof c === 'string' ? { cidr: c } : { cidr: c[0], except: c[1] } })));
    expect(v4('0.0.0.0/1', '128.0.0.0/1')).toBe(true);
    expect(v4('128.0.0.0/1', '0.0.0.0/2', '64.0.0.0/2')).toBe(true);
    expect(v4('0.0.0.0/1', '128.0.0.0/2')).toBe(false);
    // Host bits are ignored, as the API server's parser does.
    expect(v4('1.2.3.4/1', '200.0.0.0/1')).toBe(true);
    // An except makes a hole, unless another block fills it.
    expect(v4(['0.0.0.0/1', ['10.0.0.0/8']], '128.0.0.0/1')).toBe(false);
    expect(v4(['0.0.0.0/0', ['10.0.0.0/8']], '10.0.0.0/8')).toBe(true);
    expect(v4('::/1', '8000::/1')).toBe(true);
    expect(v4('::/1', '8000::/2')).toBe(false);
    // A trailing dotted quad is read; only the prefix's bits count.
    expect(v4('::ffff:10.0.0.0/1', '8000::/1')).toBe(true);
    // Unreadable CIDRs admit nothing (the API server refuses them).
    expect(v4('0.0.0.0/33', 'x/0')).toBe(false);
  });

  it('default deny: an empty-selector policy for the direction, undone by one that admits any peer', () => {
    const deny = policy('{ podSelector: {}, policyTypes: [Ingress, Egress] }');
    const dns = policy(
      '{ podSelector: {}, policyTypes: [Egress], egress: [{ to: [{ namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: kube-system } }, podSelector: { matchLabels: { k8s-app: kube-dns } } }], ports: [{ port: 53, protocol: UDP }] }] }',
    );
    const dnsAnywhere = policy(
      '{ podSelector: {}, policyTypes: [Egress], egress: [{ to: [{ namespaceSelector: {} }], ports: [{ port: 53, protocol: UDP }] }] }',
    );
    const narrow = policy('{ podSelector: { matchLabels: { app: a } }, ingress: [{}] }');
    const open = policy('{ podSelector: {}, ingress: [{ ports: [{ port: 443 }] }] }');
    expect(defaultDeny([deny], 'Ingress').state).toBe('deny');
    expect(defaultDeny([deny], 'Egress').state).toBe('deny');
    expect(defaultDeny([dns], 'Egress').state).toBe('deny');
    expect(defaultDeny([dns], 'Ingress').state).toBe('none');
    // DNS to every pod of the cluster reaches every pod on port 53: not a deny (as a rule with no `to` would not be).
    expect(defaultDeny([dnsAnywhere], 'Egress')).toMatchObject({ state: 'open', rule: 0 });
    // An allow-all for some pods does not undo the namespace's default deny.
    expect(defaultDeny([deny, narrow], 'Ingress').state).toBe('deny');
    expect(defaultDeny([narrow], 'Ingress').state).toBe('none');
    expect(defaultDeny([deny, open], 'Ingress')).toMatchObject({ state: 'open', rule: 0 });
  });
});

describe('RBAC semantics', () => {
  const objs = objects(`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: r, namespace: a }
rules: [{ apiGroups: [""], resources: ["pods/*"], verbs: [get] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: same-ns, namespace: a }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: r }
subjects: [{ kind: ServiceAccount, name: default }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: other-ns, namespace: b }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: r }
subjects: [{ kind: Group, name: "system:serviceaccounts:b" }]
`);
  const bindings = bindingsIn(objs);

  it('a Role is granted only by RoleBindings in its own namespace; SA subjects default to the binding namespace', () => {
    const role = objs[0] as NonNullable<(typeof objs)[0]>;
    expect(bindingsOf(role, bindings).map((b) => b.object.name)).toEqual(['same-ns']);
    expect(bindings[0]?.subjects).toEqual([{ kind: 'ServiceAccount', name: 'default', namespace: 'a' }]);
  });

  it('subjects that take in a service account: itself, its namespace group, every account, its user name', () => {
    expect(
      subjectCoversServiceAccount({ kind: 'ServiceAccount', name: 'default', namespace: 'a' }, 'a', 'default'),
    ).toBe(true);
    expect(
      subjectCoversServiceAccount({ kind: 'ServiceAccount', name: 'default', namespace: 'b' }, 'a', 'default'),
    ).toBe(false);
    expect(subjectCoversServiceAccount({ kind: 'Group', name: 'system:serviceaccounts:a' }, 'a', 'default')).toBe(true);
    expect(subjectCoversServiceAccount({ kind: 'Group', name: 'system:serviceaccounts:b' }, 'a', 'default')).toBe(
      false,
    );
    expect(subjectCoversServiceAccount({ kind: 'Group', name: 'system:serviceaccounts' }, 'a', 'default')).toBe(true);
    expect(subjectCoversServiceAccount({ kind: 'User', name: 'system:serviceaccount:a:default' }, 'a', 'default')).toBe(
      true,
    );
    expect(subjectCoversServiceAccount({ kind: 'User', name: 'alice' }, 'a', 'default')).toBe(false);
  });

  it('resource coverage: *, exact names and subresource wildcards as the authorizer reads them', () => {
    const rule = (apiGroups: string[], resources: string[]) =>
      policyRules(
        objects(
          `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: { name: x }\nrules: [${JSON.stringify({ apiGroups, resources, verbs: ['get'] })}]\n`,
        )[0] as never,
      )[0] as never;
    expect(coversResource(rule([''], ['*']), '', 'secrets')).toBe(true);
    expect(coversResource(rule(['*'], ['secrets']), '', 'secrets')).toBe(true);
    expect(coversResource(rule(['apps'], ['secrets']), '', 'secrets')).toBe(false);
    expect(coversResource(rule([''], ['pods/*']), '', 'pods/exec')).toBe(true);
    expect(coversResource(rule([''], ['*/scale']), '', 'deployments/scale')).toBe(true);
    expect(coversResource(rule([''], ['pods/*']), '', 'pods')).toBe(false);
    expect(coversResource(rule([''], ['secret']), '', 'secrets')).toBe(false);
  });

  it('escalate/bind/impersonate granted in one namespace counts only namespaced targets', () => {
    const objs2 = objects(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: imp }
rules: [{ apiGroups: [""], resources: [users, groups], verbs: [impersonate] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: imp, namespace: a }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: imp }
subjects: [{ kind: User, name: alice }]
`);
    const rule = RBAC_RULES.find((r) => r.id === 'rbac-escalate-bind-impersonate');
    // Users and groups are cluster-scoped: a RoleBinding cannot grant impersonating them.
    expect(runK8sRules(objs2, { rules: [rule as never] }).findings).toEqual([]);
  });
});

describe('upstream bootstrap roles', () => {
  const role = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:aggregate-helper
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]
`;
  const binding = (subject: string) => `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:aggregate-helper
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:aggregate-helper}
subjects: [${subject}]
`;
  const wildcards = (yaml: string) =>
    runK8sRules(objects(yaml), { rules: RBAC_RULES }).findings.filter((f) => f.ruleId === 'rbac-wildcard');

  it('are left alone when a labelled binding grants them to the control plane only', () => {
    expect(wildcards(role + binding('{kind: ServiceAccount, name: helper, namespace: kube-system}'))).toEqual([]);
    expect(wildcards(role + binding('{kind: User, name: system:kube-controller-manager}'))).toEqual([]);
  });

  it('are judged when the label is borrowed to grant them to anyone else, everyone-groups included', () => {
    for (const subject of [
      '{kind: User, name: mallory}',
      '{kind: ServiceAccount, name: ci, namespace: build}',
      '{kind: Group, name: system:authenticated}',
    ])
      expect(wildcards(role + binding(subject)).map((f) => f.resource?.name)).toEqual(['system:aggregate-helper']);
  });
});

describe('images', () => {
  it('normalises short names to Docker Hub and tells an implicit :latest from a written one', () => {
    expect(parseImage('nginx')).toMatchObject({ ok: true, repo: 'docker.io/library/nginx', implicitLatest: true });
    expect(parseImage('nginx:latest')).toMatchObject({ ok: true, implicitLatest: false });
    expect(parseImage('library/nginx@sha256:' + 'a'.repeat(64))).toMatchObject({ ok: true, implicitLatest: false });
    expect(parseImage('localhost:5000/app')).toMatchObject({
      ok: true,
      repo: 'localhost:5000/app',
      implicitLatest: true,
    });
    expect(parseImage('Quay.IO/org/app:1')).toMatchObject({ ok: true, repo: 'quay.io/org/app' });
    expect(parseImage('index.docker.io/library/alpine:3')).toMatchObject({
      ok: true,
      repo: 'docker.io/library/alpine',
    });
    const bad = parseImage('UPPER/case');
    expect(bad.ok).toBe(false);
  });

  const pod = objects(`
apiVersion: v1
kind: Pod
metadata: { name: p, namespace: ns1 }
spec:
  containers: [{ name: c, image: "nginx:1.25" }]
`);

  it('not checked (and said so) without productionRegistries, or with requireDigest: false', () => {
    const r = runK8sRules(pod, { rules: IMAGE_RULES, config: { ...DEFAULT_K8S_CONFIG, requireDigest: false } });
    expect(r.findings).toEqual([]);
    expect(r.notes.map((n) => n.message)).toEqual([
      'not checked: productionRegistries is not set in the configuration (--config)',
      'not checked: requireDigest is false in the configuration',
    ]);
  });

  it("a configuration's ignore entry accepts a finding by rule, namespace and name, and counts it", () => {
    const config = parseK8sConfig(
      'apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\nproductionRegistries: [docker.io/library/**]\nignore:\n  - { rule: image-not-pinned-by-digest, namespaces: [ns1], names: ["p*"], reason: pinned by the admission webhook }\n',
      'k8s.yaml',
    );
    const r = runK8sRules(pod, { rules: IMAGE_RULES, config });
    expect(r.findings).toEqual([]);
    expect(r.ignored).toEqual([
      { ruleId: 'image-not-pinned-by-digest', where: 'test.yaml:6', reason: 'pinned by the admission webhook' },
    ]);
  });
});

describe('default deny in namespaces only workloads name', () => {
  const deployment =
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web, namespace: payments }\nspec:\n  template:\n    metadata: { labels: { app: web } }\n    spec: { containers: [{ name: c, image: x }] }\n';
  const rows = (yaml: string) =>
    runK8sRules(objects(yaml), {
      rules: NETWORK_RULES.filter((r) => r.id.startsWith('namespace-without')),
    }).findings.map((f) => `${f.ruleId} ${f.confidence} ${f.resource?.kind}: ${f.message}`);

  it('judges a namespace a workload names without its Namespace object (medium), and with it (high)', () => {
    expect(rows(deployment)).toEqual([
      'namespace-without-default-deny-ingress medium Deployment: namespace payments (no Namespace object in the input; named by Deployment web) has no NetworkPolicy that selects every pod for Ingress (0 policies there): pods no policy selects are open to all ingress',
      'namespace-without-default-deny-egress medium Deployment: namespace payments (no Namespace object in the input; named by Deployment web) has no NetworkPolicy that selects every pod for Egress (0 policies there): pods no policy selects are open to all egress',
    ]);
    expect(rows(`apiVersion: v1\nkind: Namespace\nmetadata: { name: payments }\n---\n${deployment}`)).toEqual([
      'namespace-without-default-deny-ingress high Namespace: namespace payments has no NetworkPolicy that selects every pod for Ingress (0 policies there): pods no policy selects are open to all ingress',
      'namespace-without-default-deny-egress high Namespace: namespace payments has no NetworkPolicy that selects every pod for Egress (0 policies there): pods no policy selects are open to all egress',
    ]);
  });

  it("a 'default deny' that admits every namespace's pods or every address by halves is reported on its rules", () => {
    const open = `${deployment}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: { name: allow-all-from-cluster, namespace: payments }\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n  ingress: [{ from: [{ namespaceSelector: {} }] }]\n  egress: [{ to: [{ ipBlock: { cidr: 0.0.0.0/1 } }, { ipBlock: { cidr: 128.0.0.0/1 } }] }]\n`;
    expect(rows(open)).toEqual([
      'namespace-without-default-deny-ingress high NetworkPolicy: NetworkPolicy allow-all-from-cluster selects every pod in namespace payments and its ingress[0] admits any peer, which undoes the default deny',
      'namespace-without-default-deny-egress high NetworkPolicy: NetworkPolicy allow-all-from-cluster selects every pod in namespace payments and its egress[0] admits any peer, which undoes the default deny',
    ]);
  });
});

describe('network rules on workloads without a namespace', () => {
  it('policies and workloads that name no namespace are taken to share one (medium confidence)', () => {
    const objs = objects(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: only-api }
spec: { podSelector: { matchLabels: { app: api } } }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: c, image: x }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: api }
spec:
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec: { containers: [{ name: c, image: x }] }
`);
    const r = runK8sRules(objs, { rules: NETWORK_RULES });
    expect(
      r.findings.map((f) => [f.ruleId, f.resource?.name, f.confidence, f.location.kind === 'file' && f.location.line]),
    ).toEqual([['pod-not-selected-by-networkpolicy', 'web', 'medium', 13]]);
  });
});

describe('NetworkPolicies of other API groups', () => {
  it('a Calico NetworkPolicy (projectcalico.org/v3) is not read as one that selects every pod, and is noted', () => {
    const objs = objects(`
apiVersion: v1
kind: Namespace
metadata: { name: shop }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop }
spec:
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: c, image: x }] }
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: { name: db-egress, namespace: shop }
spec:
  selector: role == 'database'
  types: [Egress]
  egress: [{ action: Allow, destination: { selector: role == 'cache' } }]
`);
    const r = runK8sRules(objs, { rules: NETWORK_RULES });
    expect(r.findings.map((f) => [f.ruleId, f.resource?.name])).toEqual([
      ['namespace-without-default-deny-ingress', 'shop'],
      ['namespace-without-default-deny-egress', 'shop'],
      ['pod-not-selected-by-networkpolicy', 'web'],
    ]);
    expect(r.notes.map((n) => n.message)).toContain(
      'projectcalico.org/v3 is not networking.k8s.io: not read as a Kubernetes NetworkPolicy',
    );
  });
});
