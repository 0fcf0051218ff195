import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { runK8sRules } from '../../src/k8s/audit.js';
import { type K8sConfig, parseK8sConfig } from '../../src/k8s/config.js';
import { toObject } from '../../src/k8s/model.js';
import { type AdmitContext, resolvePatch, webhookRules } from '../../src/k8s/webhook/admit.js';
import type { JsonPatchOp } from '../../src/k8s/webhook/review.js';
import { fixedKeys, ImageVerifier, registryFailure } from '../../src/k8s/webhook/verify.js';
import { admissionRequest } from '../helpers/admission.js';

/**
 * Sensitivity pinning on /mutate (webhook.pinSensitivity): the patch is placement/fix.ts's plan, and the object it
 * yields passes every placement check the validating webhook runs. Images here are pinned by digest or outside
 * production, so the (real, unreachable) verifier is never asked to resolve a tag.
 */

const DIGEST = `sha256:${'b'.repeat(64)}`;
const IMAGE = `127.0.0.1:1/prod/app@${DIGEST}`;
const BASE = [
  'apiVersion: portcullis.dev/v1alpha1',
  'kind: K8sConfig',
  'productionRegistries: [127.0.0.1:1/prod/**]',
  'sensitivity: {levels: [public, internal, confidential]}',
];
const config = (extra: string[]) => parseK8sConfig([...BASE, ...extra, ''].join('\n'), 'k8s.yaml');
const PIN = config(['webhook: {pinSensitivity: true}']);
const NO_PIN = config([]);

const unreachable = new ImageVerifier({ registry: { retries: 1 }, trust: fixedKeys([]) });
afterAll(() => unreachable.close());
const ctxOf = (c: K8sConfig): AdmitContext => ({ config: c, images: unreachable, describeError: registryFailure });

const NODE_KEY = 'node-restriction.kubernetes.io/sensitivity';

const request = admissionRequest;

/** RFC 6902 add, replace and remove, as the API server applies them (every step's parent must exist). */
function applyPatch(doc: unknown, ops: readonly JsonPatchOp[]): unknown {
  const out = structuredClone(doc);
  for (const op of ops) {
    const tokens = op.path
      .split('/')
      .slice(1)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop() as string;
    let parent = out as Record<string, unknown>;
    for (const t of tokens) {
      const next = parent[t];
      if (next === null || typeof next !== 'object') throw new Error(`${op.path}: no parent at ${t}`);
      parent = next as Record<string, unknown>;
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(i, 0, op.value);
      else if (op.op === 'replace') parent[i] = op.value;
      else parent.splice(i, 1);
    } else if (op.op === 'remove' || op.op === 'replace') {
      if (!Object.hasOwn(parent, last)) throw new Error(`${op.path}: nothing to ${op.op}`);
      if (op.op === 'remove') delete parent[last];
      else parent[last] = op.value;
    } else parent[last] = op.value;
  }
  return out;
}

/**
 * The placement findings the validating webhook would give the object, but for whether its namespace vouches for its
 * level label (sensitivity-level-mismatch): pinning follows the label, and the claim is /validate's to judge.
 */
function placement(object: unknown, c: K8sConfig = PIN): string[] {
  const o = toObject(object, { file: 'admission request', doc: 0 }, () => ({ line: 1, column: 1 }));
  if (!o) throw new Error('not an object');
  const rules = webhookRules().filter((r) => r.group === 'placement' && r.id !== 'sensitivity-level-mismatch');
  return runK8sRules([o], { config: c, rules }).findings.map((f) => `${f.ruleId}: ${f.message}`);
}

function pod(
  spec: Record<string, unknown>,
  labels: Record<string, string> = { 'portcullis.dev/sensitivity': 'confidential' },
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', labels },
    spec: { containers: [{ name: 'app', image: IMAGE }], ...spec },
  };
}

describe('/mutate pins a pod with a known level label', () => {
  it('adds the nodeSelector and the toleration, drops another level’s: no placement finding left', async () => {
    const object = pod({
      tolerations: [
        { key: NODE_KEY, operator: 'Equal', value: 'public', effect: 'NoSchedule' },
        { key: 'gpu', operator: 'Exists' },
      ],
    });
    expect(placement(object).map((f) => f.split(':')[0])).toEqual([
      'sensitivity-not-pinned',
      'sensitivity-toleration-mismatch',
      'sensitivity-toleration-mismatch',
    ]);
    const { decision, patch } = await resolvePatch(request(object), ctxOf(PIN));
    expect(decision.pass).toBe(true);
    expect(patch).toEqual([
      { op: 'add', path: '/spec/nodeSelector', value: { [NODE_KEY]: 'confidential' } },
      {
        op: 'replace',
        path: '/spec/tolerations',
        value: [
          { key: 'gpu', operator: 'Exists' },
          { key: NODE_KEY, operator: 'Equal', value: 'confidential', effect: 'NoSchedule' },
        ],
      },
    ]);
    expect(decision.notes).toEqual([
      `pinned to confidential: nodeSelector ${NODE_KEY}: confidential; remove toleration 1, ${NODE_KEY}=public (NoSchedule): it tolerates the taints of public; tolerate ${NODE_KEY}=confidential:NoSchedule`,
    ]);
    expect(placement(applyPatch(object, patch))).toEqual([]);
  });

  it('pins a Deployment’s template, rewriting a required affinity on the level key', async () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api' },
      spec: {
        template: {
          metadata: { labels: { 'portcullis.dev/sensitivity': 'internal' } },
          spec: {
            nodeSelector: { zone: 'a' },
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    { matchExpressions: [{ key: NODE_KEY, operator: 'In', values: ['public', 'internal'] }] },
                  ],
                },
              },
            },
            containers: [{ name: 'app', image: IMAGE }],
          },
        },
      },
    };
    expect(placement(deployment)).not.toEqual([]);
    const { patch } = await resolvePatch(request(deployment), ctxOf(PIN));
    expect(patch.map((p) => `${p.op} ${p.path}`)).toEqual([
      `add /spec/template/spec/nodeSelector/${NODE_KEY.replace('/', '~1')}`,
      'replace /spec/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchExpressions/0',
      'add /spec/template/spec/tolerations',
    ]);
    const patched = applyPatch(deployment, patch) as typeof deployment;
    expect(patched.spec.template.spec.nodeSelector).toEqual({ zone: 'a', [NODE_KEY]: 'internal' });
    expect(placement(patched)).toEqual([]);
  });

  it('patches tags and placement together, and a second pass (reinvocation) changes nothing', async () => {
    const object = pod({});
    const first = await resolvePatch(request(object), ctxOf(PIN));
    const patched = applyPatch(object, first.patch) as Record<string, unknown>;
    const again = await resolvePatch(request(patched), ctxOf(PIN));
    expect(again.patch).toEqual([]);
    expect(again.decision.notes).toEqual([]);
  });

  it('any tolerations, selector and affinity: the patched pod has no placement finding (fast-check)', async () => {
    const levels = ['public', 'internal', 'confidential', 'secret'];
    const toleration = fc.record(
      {
        key: fc.constantFrom(NODE_KEY, 'gpu', ''),
        operator: fc.constantFrom('Equal', 'Exists'),
        value: fc.constantFrom(...levels),
        effect: fc.constantFrom('NoSchedule', 'NoExecute', ''),
      },
      { requiredKeys: ['key'] },
    );
    const expr = fc.record({
      key: fc.constantFrom(NODE_KEY, 'zone'),
      operator: fc.constantFrom('In', 'NotIn', 'Exists', 'DoesNotExist'),
      values: fc.array(fc.constantFrom(...levels), { maxLength: 3 }),
    });
    const spec = fc.record(
      {
        tolerations: fc.array(toleration, { maxLength: 4 }),
        nodeSelector: fc.dictionary(fc.constantFrom(NODE_KEY, 'zone'), fc.constantFrom(...levels), { maxKeys: 2 }),
        affinity: fc
          .array(fc.array(expr, { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 2 })
          .map((terms) => ({
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: terms.map((matchExpressions) => ({ matchExpressions })),
              },
            },
          })),
      },
      { requiredKeys: [] },
    );
    let wrong = 0;
    await fc.assert(
      fc.asyncProperty(spec, fc.constantFrom('public', 'internal', 'confidential'), async (s, level) => {
        const object = pod(s, { 'portcullis.dev/sensitivity': level });
        if (placement(object).length > 0) wrong++;
        const { patch } = await resolvePatch(request(object), ctxOf(PIN));
        expect(placement(applyPatch(object, patch))).toEqual([]);
      }),
      { numRuns: 300 },
    );
    // Most generated pods were misplaced to begin with (the property is not vacuous).
    expect(wrong).toBeGreaterThan(150);
  });
});

describe('/mutate leaves placement alone', () => {
  it('when pinSensitivity is off (the default): tags only, as before', async () => {
    const { decision, patch } = await resolvePatch(request(pod({})), ctxOf(NO_PIN));
    expect(patch).toEqual([]);
    expect(decision.notes).toEqual([]);
  });

  it('when the pod has no level label, or one that is not a level: said, not guessed', async () => {
    const none = await resolvePatch(request(pod({}, {})), ctxOf(PIN));
    expect(none.patch).toEqual([]);
    expect(none.decision.notes).toEqual(['no portcullis.dev/sensitivity label on the pod: not pinned to a level']);
    const odd = await resolvePatch(request(pod({}, { 'portcullis.dev/sensitivity': 'top' })), ctxOf(PIN));
    expect(odd.patch).toEqual([]);
    expect(odd.decision.notes).toEqual(['portcullis.dev/sensitivity=top is not one of the levels: not pinned']);
  });

  it('on a Pod UPDATE: its placement is set when it is created', async () => {
    const r = await resolvePatch(request(pod({}), 'UPDATE'), ctxOf(PIN));
    expect(r.patch).toEqual([]);
    expect(r.decision.notes).toEqual(["not pinned to confidential: a Pod's placement is set when it is created"]);
  });
});

describe('webhook.pinSensitivity in the configuration', () => {
  it('needs sensitivity levels', () => {
    expect(() =>
      parseK8sConfig(
        ['apiVersion: portcullis.dev/v1alpha1', 'kind: K8sConfig', 'webhook: {pinSensitivity: true}', ''].join('\n'),
        'k8s.yaml',
      ),
    ).toThrow(/k8s\.yaml:3:\d+: webhook\.pinSensitivity: needs sensitivity\.levels/);
    expect(PIN.webhook?.pinSensitivity).toBe(true);
    expect(config(['webhook: {pinSensitivity: false}']).webhook?.pinSensitivity).toBeUndefined();
    expect(() => config(['webhook: {pinSensitivity: yes please}'])).toThrow(/pinSensitivity/);
  });
});
