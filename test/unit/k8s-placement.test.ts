import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runK8sRules } from '../../src/k8s/audit.js';
import { DEFAULT_K8S_CONFIG, type K8sConfig, loadK8sConfig, parseK8sConfig } from '../../src/k8s/config.js';
import { loadPaths, parseManifests } from '../../src/k8s/load.js';
import { planFixes } from '../../src/k8s/placement/fix.js';
import { isProtectedKey } from '../../src/k8s/placement/nodes.js';
import { parseNodeSelectorAnnotation } from '../../src/k8s/placement/nsdefault.js';
import { pinning } from '../../src/k8s/placement/pinning.js';
import { PLACEMENT_RULES } from '../../src/k8s/placement/rules.js';
import { checkTolerations, tolerates } from '../../src/k8s/placement/tolerations.js';
import { K8S_RULES } from '../../src/k8s/rules/index.js';
import { ROOT } from '../helpers/paths.js';

// The sensitivity placement checks: a corpus of manifests and a cluster dump whose every finding was checked by hand
// (each object's comment says what it shows), the scheduler's node selection semantics held against brute force over
// every node of a small label universe, toleration matching, and the checks' behaviour without levels.

const DIR = join(ROOT, 'test', 'fixtures', 'k8s', 'placement');
const CONFIG = loadK8sConfig(join(DIR, 'config.yaml'));
const S = CONFIG.sensitivity as NonNullable<K8sConfig['sensitivity']>;
const KEY = 'node-restriction.kubernetes.io/sensitivity';

type Row = [rule: string, severity: string, confidence: string, name: string, line: number];

async function audit(file: string, config: K8sConfig = CONFIG) {
  const loaded = await loadPaths([join(DIR, file)]);
  expect(loaded.errors).toEqual([]);
  return runK8sRules(loaded.objects, { config, rules: PLACEMENT_RULES });
}

function rows(r: Awaited<ReturnType<typeof audit>>): Row[] {
  return r.findings.map((f) => [
    f.ruleId,
    f.severity,
    f.confidence,
    f.resource?.name ?? '',
    f.location.kind === 'file' ? (f.location.line ?? 0) : 0,
  ]);
}

describe('placement checks on the corpus', () => {
  it('finds nothing in a well-placed set of namespaces, workloads, nodes and policies', async () => {
    const r = await audit('manifests/good.yaml');
    expect(rows(r)).toEqual([]);
    expect(r.notes).toEqual([]);
  });

  it('workloads: missing and unknown levels, every way of not being pinned, every toleration mistake', async () => {
    const r = await audit('manifests/workloads.yaml');
    expect(rows(r)).toEqual([
      ['sensitivity-level-missing', 'medium', 'high', 'no-level', 26],
      ['sensitivity-level-missing', 'medium', 'medium', 'no-ns-object', 45],
      ['sensitivity-level-unknown', 'medium', 'high', 'typo', 64],
      ['sensitivity-not-pinned', 'high', 'high', 'unpinned', 85],
      ['sensitivity-not-pinned', 'high', 'high', 'two-levels', 107],
      ['sensitivity-not-pinned', 'high', 'high', 'notin', 131],
      ['sensitivity-not-pinned', 'high', 'high', 'exists', 155],
      ['sensitivity-not-pinned', 'high', 'high', 'preferred-only', 175],
      ['sensitivity-not-pinned', 'high', 'high', 'or-terms', 206],
      ['sensitivity-not-pinned', 'high', 'high', 'wrong-level', 226],
      ['sensitivity-not-pinned', 'low', 'high', 'contradiction', 250],
      ['sensitivity-toleration-mismatch', 'high', 'high', 'tolerate-all', 272],
      ['sensitivity-toleration-mismatch', 'high', 'high', 'tolerate-key', 291],
      ['sensitivity-toleration-mismatch', 'medium', 'high', 'no-toleration', 308],
      ['sensitivity-toleration-mismatch', 'medium', 'high', 'wrong-effect', 327],
      ['sensitivity-toleration-mismatch', 'high', 'high', 'wrong-effect', 328],
      ['sensitivity-level-mismatch', 'high', 'high', 'lonely', 338],
      ['sensitivity-not-pinned', 'high', 'high', 'lonely', 340],
      ['sensitivity-toleration-mismatch', 'medium', 'high', 'lonely', 340],
    ]);
    const msg = (name: string) =>
      r.findings
        .filter((f) => f.resource?.name === name)
        .map((f) => f.message)
        .join(' | ');
    expect(msg('no-level')).toContain("the Deployment's own portcullis.dev/sensitivity label does not reach its pods");
    expect(msg('two-levels')).toContain(`${KEY} is internal, confidential`);
    expect(msg('notin')).toContain('any value but restricted or no label');
    expect(msg('preferred-only')).toContain('a preferred node affinity does not pin');
    expect(msg('or-terms')).toContain('(node selector term 2 of 2)');
    expect(msg('wrong-level')).toContain(`pinned to ${KEY}=confidential, not internal`);
    expect(msg('tolerate-all')).toContain('tolerates the taints of public, confidential, restricted');
    // The ReplicaSet owned by Deployment unpinned (both in the input) is judged through its owner only.
    expect(r.findings.some((f) => f.resource?.name === 'unpinned-5d4f')).toBe(false);
    for (const f of r.findings) expect(f.message).not.toMatch(/\n/);
  });

  it('namespaces: default node-selectors against the level, and a level that is not one', async () => {
    const r = await audit('manifests/namespaces.yaml');
    expect(rows(r)).toEqual([
      ['sensitivity-namespace-default-mismatch', 'medium', 'high', 'ns-mismatch', 18],
      ['sensitivity-namespace-default-mismatch', 'low', 'high', 'ns-nolevel', 26],
      ['sensitivity-namespace-default-mismatch', 'medium', 'high', 'ns-notalevel', 35],
      ['sensitivity-namespace-default-mismatch', 'medium', 'high', 'ns-wrongkey', 44],
      ['sensitivity-namespace-default-mismatch', 'low', 'high', 'ns-malformed', 53],
      ['sensitivity-level-unknown', 'medium', 'high', 'ns-typo', 69],
    ]);
  });

  it('network policies: lower levels admitted into higher ones; undecidable peers are notes', async () => {
    const r = await audit('manifests/netpol.yaml');
    expect(rows(r)).toEqual([
      ['networkpolicy-lower-to-higher', 'high', 'high', 'np-open', 60],
      ['networkpolicy-lower-to-higher', 'high', 'high', 'np-all-ns', 73],
      ['networkpolicy-lower-to-higher', 'high', 'high', 'np-lower-label', 85],
      ['networkpolicy-lower-to-higher', 'high', 'medium', 'np-by-name', 97],
      ['networkpolicy-lower-to-higher', 'high', 'high', 'np-pod-lower', 136],
      ['networkpolicy-lower-to-higher', 'high', 'medium', 'np-target-label', 194],
    ]);
    expect(r.findings[0]?.message).toContain('ingress rule 1 has no from');
    expect(r.findings[3]?.message).toContain('(level internal)');
    expect(r.notes.map((n) => [n.ruleId, n.where?.replace(/^.*: /, ''), n.message.slice(0, 40)])).toEqual([
      ['networkpolicy-lower-to-higher', 'NetworkPolicy conf/np-ipblock', 'ingress rule 1, from 1 is an ipBlock (ad'],
      [
        'networkpolicy-lower-to-higher',
        'NetworkPolicy nolevel/np-unknown-target',
        'the level of the pods it selects cannot ',
      ],
    ]);
  });

  it('a cluster dump: a node running pods of two levels, node labels and taints, the pods that caused it', async () => {
    const r = await audit('dump/cluster.json');
    expect(rows(r)).toEqual([
      ['node-mixed-sensitivity', 'high', 'high', 'node-a', 61],
      ['node-mixed-sensitivity', 'medium', 'high', 'node-c', 115],
      ['node-sensitivity-label', 'high', 'high', 'node-c', 123],
      ['node-sensitivity-label', 'high', 'high', 'node-d', 143],
      ['node-sensitivity-label', 'medium', 'high', 'node-e', 163],
      ['node-sensitivity-label', 'medium', 'high', 'node-f', 201],
      ['node-sensitivity-label', 'medium', 'high', 'node-g', 227],
      ['sensitivity-not-pinned', 'high', 'high', 'ledger-5b6d9c7f4-r8n2w', 386],
      ['sensitivity-toleration-mismatch', 'high', 'high', 'ledger-5b6d9c7f4-r8n2w', 395],
      ['sensitivity-level-missing', 'medium', 'high', 'kube-proxy-x7k2d', 496],
      ['sensitivity-not-pinned', 'high', 'high', 'blog-6d8f7b9c5-h3j5k', 584],
    ]);
    // Per node, naming the levels and the pods; node-b's unlabelled kube-proxy and finished pod make no second level.
    expect(r.findings[0]?.message).toBe(
      'node node-a runs pods of 2 levels: public (web/web-7c9f8d6b5-k2x9p, web/web-7c9f8d6b5-m4t7q); restricted (payments/ledger-5b6d9c7f4-r8n2w)',
    );
    expect(r.findings.some((f) => f.message.includes('node-b') || f.message.includes('node-h'))).toBe(false);
  });

  it('names at most five pods per level, and counts the rest', () => {
    const pods = Array.from({ length: 8 }, (_, i) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `p${i}`,
          namespace: 'x',
          labels: { 'portcullis.dev/sensitivity': i < 7 ? 'public' : 'restricted' },
        },
        spec: { nodeName: 'n1', containers: [] },
      }),
    );
    const { objects } = parseManifests(pods.join('\n---\n'), 'pods.yaml');
    const r = runK8sRules(objects, {
      config: CONFIG,
      rules: PLACEMENT_RULES.filter((x) => x.id === 'node-mixed-sensitivity'),
    });
    expect(r.findings.map((f) => f.message)).toEqual([
      'node n1 runs pods of 2 levels: public (x/p0, x/p1, x/p2, x/p3, x/p4 and 2 more); restricted (x/p7)',
    ]);
  });

  it('without sensitivity levels every placement check is listed as not checked, and none runs', async () => {
    const loaded = await loadPaths([join(DIR, 'dump', 'cluster.json')]);
    const r = runK8sRules(loaded.objects, { config: DEFAULT_K8S_CONFIG, rules: PLACEMENT_RULES });
    expect(r.findings).toEqual([]);
    expect(r.notes.map((n) => n.ruleId)).toEqual(PLACEMENT_RULES.map((x) => x.id));
    for (const n of r.notes) expect(n.message).toMatch(/^not checked: no sensitivity levels configured/);
  });

  it('every placement rule is registered, in group placement, with the fields reports need', () => {
    for (const rule of PLACEMENT_RULES) {
      expect(K8S_RULES).toContain(rule);
      expect(rule.group).toBe('placement');
      expect(rule.id).toMatch(/^[a-z]+(-[a-z0-9]+)+$/);
      expect(rule.rationale.length).toBeGreaterThan(40);
      expect(rule.remediation.length).toBeGreaterThan(40);
      expect(rule.mapping).toMatch(/NIST SP 800-190/);
    }
  });

  it('custom keys: a node level label outside node-restriction.kubernetes.io/ is reported on every node carrying it', () => {
    const config = parseK8sConfig(
      'apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\nsensitivity: { levels: [low, high], labelKey: example.com/level, nodeLabelKey: example.com/node-level, taintKey: example.com/taint, namespaces: { x: high } }\n',
      'c.yaml',
    );
    const { objects } = parseManifests(
      `apiVersion: v1
kind: Node
metadata: { name: n1, labels: { example.com/node-level: high } }
spec: { taints: [{ key: example.com/taint, value: high, effect: NoSchedule }] }
---
apiVersion: v1
kind: Pod
metadata: { name: p, namespace: x, labels: { example.com/level: high } }
spec:
  nodeSelector: { example.com/node-level: high }
  tolerations: [{ key: example.com/taint, value: high, effect: NoSchedule }]
  containers: []
`,
      'n.yaml',
    );
    const r = runK8sRules(objects, { config, rules: PLACEMENT_RULES });
    expect(r.findings.map((f) => [f.ruleId, f.resource?.name, f.message])).toEqual([
      [
        'node-sensitivity-label',
        'n1',
        'node n1: its level label example.com/node-level is not under the node-restriction.kubernetes.io/ prefix, so its own kubelet can set it (and claim any level)',
      ],
    ]);
  });
});

describe('a pod level claim needs its namespace to vouch for it (sensitivity-level-mismatch)', () => {
  const config = parseK8sConfig(
    'apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\nsensitivity: { levels: [public, confidential], namespaces: { payments: confidential } }\n',
    'c.yaml',
  );
  const pod = (ns: string | undefined) =>
    `apiVersion: v1\nkind: Pod\nmetadata: { name: p, ${ns ? `namespace: ${ns}, ` : ''}labels: { portcullis.dev/sensitivity: confidential } }\nspec:\n  nodeSelector: { ${KEY}: confidential }\n  tolerations: [{ key: ${KEY}, operator: Equal, value: confidential, effect: NoSchedule }]\n  containers: []\n`;
  const ns = (name: string, label = '') =>
    `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${name}${label ? `, labels: { portcullis.dev/sensitivity: ${label} }` : ''} }\n---\n`;
  const run = (yaml: string) =>
    runK8sRules(parseManifests(yaml, 'p.yaml').objects, { config, rules: PLACEMENT_RULES }).findings.map((f) => [
      f.ruleId,
      f.confidence,
      f.message,
    ]);
  const claim =
    'Pod sandbox/p has pods labelled portcullis.dev/sensitivity="confidential" in namespace sandbox, which has';

  it('reports a claim in a namespace of no level: high with its Namespace object, medium without', () => {
    expect(run(`${ns('sandbox')}${pod('sandbox')}`)).toEqual([
      [
        'sensitivity-level-mismatch',
        'high',
        `${claim} no level (neither sensitivity.namespaces nor a label on the Namespace): a pod's level must be its namespace's`,
      ],
    ]);
    expect(run(pod('sandbox'))).toEqual([
      [
        'sensitivity-level-mismatch',
        'medium',
        `${claim} no level in the configuration and is not in the input (its label could not be read): a pod's level must be its namespace's`,
      ],
    ]);
    expect(run(pod(undefined))).toEqual([
      [
        'sensitivity-level-mismatch',
        'medium',
        `Pod p has pods labelled portcullis.dev/sensitivity="confidential" but no namespace is written, so none vouches for it (a pod's level must be its namespace's)`,
      ],
    ]);
  });

  it("accepts a claim its namespace's configured level or Namespace label vouches for", () => {
    expect(run(pod('payments'))).toEqual([]);
    expect(run(`${ns('sandbox', 'confidential')}${pod('sandbox')}`)).toEqual([]);
  });
});

describe('an owned pod placed otherwise than its controller template is judged on its own', () => {
  const config = parseK8sConfig(
    'apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\nsensitivity: { levels: [public, confidential], namespaces: { team: confidential } }\n',
    'c.yaml',
  );
  const TOL = `{ key: ${KEY}, operator: Equal, value: confidential, effect: NoSchedule }`;
  const rs = `apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: { name: web-1, namespace: team }\nspec:\n  template:\n    metadata: { labels: { app: web } }\n    spec:\n      nodeSelector: { ${KEY}: confidential }\n      tolerations: [${TOL}]\n      containers: [{ name: c, image: x }]\n`;
  const pod = (name: string, spec: string) =>
    `---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: team\n  labels: { app: web }\n  ownerReferences: [{ apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: u, controller: true }]\nspec:\n${spec}  containers: [{ name: c, image: x }]\n`;
  const run = (yaml: string) => {
    const { objects, errors } = parseManifests(yaml, 'o.yaml');
    expect(errors).toEqual([]);
    return runK8sRules(objects, { config, rules: PLACEMENT_RULES }).findings.map(
      (f) => `${f.ruleId} ${f.resource?.name}`,
    );
  };

  it('a pod that dropped the nodeSelector and tolerates every taint', () => {
    expect(run(rs + pod('web-1-x', '  tolerations: [{ operator: Exists }]\n'))).toEqual([
      'sensitivity-not-pinned web-1-x',
      'sensitivity-toleration-mismatch web-1-x',
    ]);
  });

  it('not a live copy of the template: nodeName, the tolerations and token volume the control plane adds', () => {
    const live = `  nodeName: n1\n  nodeSelector: { ${KEY}: confidential }\n  tolerations:\n  - ${TOL}\n  - { key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 300 }\n  - { key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 300 }\n  volumes: [{ name: kube-api-access-abcde, projected: { sources: [{ serviceAccountToken: { path: token } }] } }]\n`;
    expect(run(rs + pod('web-1-y', live))).toEqual([]);
    const objects = parseManifests(rs + pod('web-1-y', live), 'o.yaml').objects;
    // Nor by the other checks: the pod is left to its template.
    expect(runK8sRules(objects, { rules: K8S_RULES }).findings.filter((f) => f.resource?.name === 'web-1-y')).toEqual(
      [],
    );
  });
});

describe('node selection semantics', () => {
  const spec = (s: Record<string, unknown>) => s;
  const terms = (...t: unknown[][]) => ({
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: t.map((m) => ({ matchExpressions: m })) },
      },
    },
  });
  const req = (operator: string, ...values: string[]) => ({ key: KEY, operator, ...(values.length ? { values } : {}) });

  it.each([
    ['nodeSelector of exactly the level', spec({ nodeSelector: { [KEY]: 'internal' } }), 'pinned'],
    ['In [level]', terms([req('In', 'internal')]), 'pinned'],
    ['In [a, b] AND NotIn [b]', terms([req('In', 'internal', 'public'), req('NotIn', 'public')]), 'pinned'],
    [
      'every ORed term pins',
      terms([req('In', 'internal')], [req('In', 'internal'), { key: 'z', operator: 'Exists' }]),
      'pinned',
    ],
    [
      'a term that cannot match (other keys) does not widen',
      terms(
        [req('In', 'internal')],
        [req('Exists'), { key: 'z', operator: 'In', values: ['a'] }, { key: 'z', operator: 'NotIn', values: ['a'] }],
      ),
      'pinned',
    ],
    [
      'an empty term matches no node',
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [req('In', 'internal')] }, {}],
            },
          },
        },
      },
      'pinned',
    ],
    ['nothing', spec({}), 'unpinned'],
    ['In [a, b]', terms([req('In', 'internal', 'public')]), 'unpinned'],
    ['NotIn', terms([req('NotIn', 'public')]), 'unpinned'],
    ['Exists', terms([req('Exists')]), 'unpinned'],
    ['DoesNotExist', terms([req('DoesNotExist')]), 'unpinned'],
    ['Gt (integers are not levels, but match)', terms([req('Gt', '3')]), 'unpinned'],
    ['one of two ORed terms does not pin', terms([req('In', 'internal')], [req('In', 'public')]), 'unpinned'],
    ['nodeSelector of another level', spec({ nodeSelector: { [KEY]: 'public' } }), 'unpinned'],
    [
      'nodeSelector AND affinity of other levels',
      { nodeSelector: { [KEY]: 'internal' }, ...terms([req('In', 'public')]) },
      'contradiction',
    ],
    ['Gt 3 AND Lt 4: no integer between', terms([req('Gt', '3'), req('Lt', '4')]), 'contradiction'],
    // Found by the brute-force property below: a term that matches no node does not unpin the others.
    ['(Gt 3 AND Lt 2) OR In internal', terms([req('Gt', '3'), req('Lt', '2')], [req('In', 'internal')]), 'pinned'],
    [
      'only empty terms',
      { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{}] } } } },
      'unschedulable',
    ],
  ])('%s: %s', (_label, s, verdict) => {
    expect(pinning(s, KEY, 'internal').verdict).toBe(verdict);
  });

  // Brute force: every node of a small label universe, matched with the scheduler's rules written out directly.
  const LEVEL_VALUES = ['internal', 'public', '2', '02', 'other'];
  const OTHER_VALUES = ['a', 'b', '1'];
  const POOL_LEVEL = ['internal', 'public', '2', '1', '3'];
  // Witnesses for every non-empty set the generator can write: every value it uses, a fresh one, integers around every
  // bound, and no label at all.
  const UNIVERSE: (string | null)[] = [
    ...new Set([...LEVEL_VALUES, ...OTHER_VALUES, ...POOL_LEVEL, 'fresh', '0', '4']),
    null,
  ];
  const UNIVERSE_LEVEL = UNIVERSE;
  const UNIVERSE_OTHER = UNIVERSE;
  const OPS = ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'];

  function reqMatches(
    r: { key: string; operator: string; values?: readonly string[] },
    labels: Record<string, string>,
  ): boolean {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key] as string;
    const values = r.values ?? [];
    switch (r.operator) {
      case 'In':
        return has && values.includes(v);
      case 'NotIn':
        return !has || !values.includes(v);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      case 'Gt':
      case 'Lt': {
        if (!has || values.length !== 1 || !/^[+-]?\d+$/.test(v) || !/^[+-]?\d+$/.test(values[0] as string))
          return false;
        const a = BigInt(v);
        const b = BigInt(values[0] as string);
        return r.operator === 'Gt' ? a > b : a < b;
      }
      default:
        return false;
    }
  }

  const genericReq = fc
    .record({
      key: fc.constantFrom(KEY, KEY, 'zone', 'rack'),
      operator: fc.constantFrom(...OPS),
      values: fc.array(fc.constantFrom(...POOL_LEVEL, ...OTHER_VALUES), { minLength: 1, maxLength: 3 }),
    })
    .map((r) =>
      r.operator === 'Exists' || r.operator === 'DoesNotExist'
        ? { key: r.key, operator: r.operator }
        : r.operator === 'Gt' || r.operator === 'Lt'
          ? { ...r, values: r.values.slice(0, 1) }
          : r,
    );
  // Pinning requirements are rare at random: give them their own share so that every verdict is well exercised.
  const reqArb = fc.oneof(
    { weight: 4, arbitrary: genericReq },
    { weight: 1, arbitrary: fc.constant({ key: KEY, operator: 'In', values: ['internal'] }) },
  );
  const specArb = fc.record(
    {
      nodeSelector: fc.dictionary(fc.constantFrom(KEY, 'zone'), fc.constantFrom(...LEVEL_VALUES, ...OTHER_VALUES), {
        maxKeys: 2,
      }),
      terms: fc.array(fc.array(reqArb, { maxLength: 3 }), { minLength: 1, maxLength: 3 }),
    },
    { requiredKeys: [] },
  );

  it('pinned, unpinned, contradiction and unschedulable agree with brute force over every node', () => {
    fc.assert(
      fc.property(specArb, (g) => {
        const s: Record<string, unknown> = {};
        if (g.nodeSelector) s.nodeSelector = g.nodeSelector;
        if (g.terms)
          s.affinity = {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: g.terms.map((t) => (t.length ? { matchExpressions: t } : {})),
              },
            },
          };
        const matches = (labels: Record<string, string>) =>
          Object.entries(g.nodeSelector ?? {}).every(([k, v]) => labels[k] === v) &&
          (!g.terms || g.terms.some((t) => t.length > 0 && t.every((r) => reqMatches(r, labels))));
        const levelsOfMatching: (string | null)[] = [];
        let otherwiseMatching = false;
        for (const lv of UNIVERSE_LEVEL)
          for (const zone of UNIVERSE_OTHER)
            for (const rack of UNIVERSE_OTHER) {
              const labels: Record<string, string> = {};
              if (lv !== null) labels[KEY] = lv;
              if (zone !== null) labels.zone = zone;
              if (rack !== null) labels.rack = rack;
              if (matches(labels)) levelsOfMatching.push(lv);
            }
        // Whether some node matches once the level key is ignored (a term alive on the other keys).
        const noLevel = {
          ...g,
          nodeSelector: Object.fromEntries(Object.entries(g.nodeSelector ?? {}).filter(([k]) => k !== KEY)),
        };
        for (const zone of UNIVERSE_OTHER)
          for (const rack of UNIVERSE_OTHER) {
            const labels: Record<string, string> = {};
            if (zone !== null) labels.zone = zone;
            if (rack !== null) labels.rack = rack;
            if (
              Object.entries(noLevel.nodeSelector).every(([k, v]) => labels[k] === v) &&
              (!g.terms ||
                g.terms.some((t) => t.length > 0 && t.filter((r) => r.key !== KEY).every((r) => reqMatches(r, labels))))
            )
              otherwiseMatching = true;
          }
        const verdict = pinning(s, KEY, 'internal').verdict;
        if (!otherwiseMatching) expect(verdict).toBe('unschedulable');
        else if (levelsOfMatching.length === 0) expect(verdict).toBe('contradiction');
        else if (levelsOfMatching.every((l) => l === 'internal')) expect(verdict).toBe('pinned');
        else expect(verdict).toBe('unpinned');
      }),
      { numRuns: 1000 },
    );
  });
});

describe('tolerations', () => {
  const taint = { key: KEY, value: 'internal', effect: 'NoSchedule' };
  it.each([
    [{ operator: 'Exists' }, true],
    [{ operator: 'Exists', effect: 'NoExecute' }, false],
    [{ key: KEY, operator: 'Exists' }, true],
    [{ key: KEY, value: 'internal' }, true],
    [{ key: KEY, operator: 'Equal', value: 'internal', effect: 'NoSchedule' }, true],
    [{ key: KEY, operator: 'Equal', value: 'public' }, false],
    [{ key: 'other', operator: 'Exists' }, false],
    // An empty key matches every key in the scheduler (the API refuses it with Equal; judged as the scheduler would).
    [{ operator: 'Equal', value: 'internal' }, true],
    [{ key: KEY, operator: 'Lt', value: 'internal' }, undefined],
    ['not an object', false],
  ])('%j tolerates %s=internal:NoSchedule: %s', (t, want) => {
    expect(tolerates(t, taint)).toBe(want);
  });

  it('an operator the scheduler does not know is assumed to tolerate (fail closed) and said so', () => {
    const c = checkTolerations(S, [{ key: KEY, operator: 'Gt', value: '1' }], 'internal');
    expect(c.ownTolerated).toBe(false);
    expect(c.foreign).toEqual([{ index: 0, levels: ['public', 'confidential', 'restricted'] }]);
    expect(c.unknown).toEqual([0]);
  });
});

describe('small parsers', () => {
  it.each([
    ['a=b, c = d', { a: 'b', c: 'd' }],
    ['', {}],
    ['a=b=c', undefined],
    ['a', undefined],
    ['=b', undefined],
  ])('node-selector annotation %j', (text, want) => {
    expect(parseNodeSelectorAnnotation(text)).toEqual(want);
  });

  it.each([
    ['node-restriction.kubernetes.io/sensitivity', true],
    ['example.node-restriction.kubernetes.io/level', true],
    ['node-restriction.kubernetes.io.evil.com/level', false],
    ['evilnode-restriction.kubernetes.io/level', false],
    ['sensitivity', false],
  ])('%s is protected by NodeRestriction: %s', (key, want) => {
    expect(isProtectedKey(key)).toBe(want);
  });
});

describe('hostile input', () => {
  // Any JSON where the checks and the fix read: placement fields, labels, owners, node names, policies. Nothing throws,
  // and every finding is one line.
  const json = fc.jsonValue({ maxDepth: 4 });
  const field = (values: fc.Arbitrary<unknown>) => fc.oneof(json, values);
  const obj = fc.record({
    kind: fc.constantFrom('Pod', 'Deployment', 'CronJob', 'Namespace', 'Node', 'NetworkPolicy', 'ReplicaSet'),
    name: fc.oneof(fc.constantFrom('a', 'b', 'n1', 'x\ny', 'x\u2028y'), fc.string()),
    namespace: fc.option(fc.constantFrom('x', 'y', 'z\r'), { nil: undefined }),
    labels: field(fc.constant({ [S.labelKey]: 'public', [KEY]: 'restricted' })),
    annotations: field(fc.constant({ 'scheduler.alpha.kubernetes.io/node-selector': `${KEY}=internal` })),
    owners: field(fc.constant([{ kind: 'Deployment', name: 'a', controller: true }])),
    spec: field(
      fc.record({
        nodeName: field(fc.constant('n1')),
        nodeSelector: json,
        affinity: json,
        tolerations: field(fc.array(json)),
        taints: json,
        podSelector: json,
        ingress: field(fc.array(fc.record({ from: field(fc.array(json)) }))),
        template: field(fc.record({ metadata: json, spec: json })),
      }),
    ),
  });
  it('never throws on any shape of the fields the checks and the fix read', () => {
    fc.assert(
      fc.property(fc.array(obj, { maxLength: 6 }), (objs) => {
        const docs = objs.map((o) => ({
          apiVersion: 'v1',
          kind: o.kind,
          metadata: {
            name: o.name,
            ...(o.namespace ? { namespace: o.namespace } : {}),
            labels: o.labels,
            annotations: o.annotations,
            ownerReferences: o.owners,
          },
          spec: o.spec,
        }));
        const { objects } = parseManifests(docs.map((d) => JSON.stringify(d)).join('\n---\n'), 'fuzz.yaml');
        const r = runK8sRules(objects, { config: CONFIG, rules: PLACEMENT_RULES });
        for (const f of r.findings) expect(f.message).not.toMatch(/[\n\r]/);
        planFixes(objects, S);
      }),
      { numRuns: 500 },
    );
  });
});
