import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseK8sConfig } from '../../src/k8s/config.js';
import { type AdmitContext, decide, podSpecPathIn, pssLevelFor } from '../../src/k8s/webhook/admit.js';
import { TtlLru } from '../../src/k8s/webhook/cache.js';
import { jsonPointer, parseAdmissionReview, reviewResponse } from '../../src/k8s/webhook/review.js';
import { answerFor, handleReview, type WebhookOptions } from '../../src/k8s/webhook/server.js';
import { fixedKeys, ImageVerifier, registryFailure } from '../../src/k8s/webhook/verify.js';

/**
 * The webhook's pure parts: AdmissionReview parsing and answers, the LRU, and decisions that never need an image
 * verified. Where a request does reach image verification, the verifier is real and points at a port on 127.0.0.1
 * where nothing listens, so every verification fails as an unreachable registry does: the fuzz properties then say
 * that no hostile request is admitted in enforce mode.
 */

const DIGEST = `sha256:${'a'.repeat(64)}`;
const CONFIG = parseK8sConfig(
  [
    'apiVersion: portcullis.dev/v1alpha1',
    'kind: K8sConfig',
    'pssLevel: baseline',
    'productionRegistries: [127.0.0.1:1/prod/**]',
    'pssLevels: { strict: restricted }',
    '',
  ].join('\n'),
  'k8s.yaml',
);

const unreachable = new ImageVerifier({ registry: { retries: 1 }, trust: fixedKeys([]) });
afterAll(() => unreachable.close());

const ctx: AdmitContext = { config: CONFIG, images: unreachable, describeError: registryFailure };
const enforce: WebhookOptions = { ctx, mode: 'enforce', mutate: true };

function review(request: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request };
}

function podRequest(spec: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    uid: 'u-1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    namespace: 'team',
    name: 'web',
    operation: 'CREATE',
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec },
    ...extra,
  };
}

function parsed(doc: unknown) {
  const r = parseAdmissionReview(Buffer.from(JSON.stringify(doc)));
  if (!r.ok) throw new Error(r.message);
  return r.request;
}

describe('parseAdmissionReview', () => {
  it('reads a v1 review', () => {
    const r = parsed(review(podRequest({ containers: [] }, { dryRun: true, subResource: 'ephemeralcontainers' })));
    expect(r).toMatchObject({
      uid: 'u-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'team',
      name: 'web',
      operation: 'CREATE',
      dryRun: true,
      subResource: 'ephemeralcontainers',
    });
  });

  it.each([
    ['not JSON', Buffer.from('{"apiVersion":'), 'the body is not JSON'],
    ['a list', Buffer.from('[]'), 'the body is not a JSON object'],
    [
      'v1beta1',
      Buffer.from(JSON.stringify({ ...review(podRequest({})), apiVersion: 'admission.k8s.io/v1beta1' })),
      'is not admission.k8s.io/v1',
    ],
    [
      'another kind',
      Buffer.from(JSON.stringify({ ...review(podRequest({})), kind: 'Pod' })),
      "kind 'Pod' is not AdmissionReview",
    ],
    [
      'no request',
      Buffer.from(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' })),
      'no request object',
    ],
    ['no uid', Buffer.from(JSON.stringify(review({ ...podRequest({}), uid: undefined }))), 'request.uid is missing'],
    [
      'a uid with a newline',
      Buffer.from(JSON.stringify(review({ ...podRequest({}), uid: 'a\nb' }))),
      'request.uid is missing',
    ],
    ['no kind', Buffer.from(JSON.stringify(review({ ...podRequest({}), kind: 'Pod' }))), 'request.kind must have'],
    [
      'an operation',
      Buffer.from(JSON.stringify(review({ ...podRequest({}), operation: 'PATCH' }))),
      "request.operation 'PATCH'",
    ],
    [
      'a namespace that is no string',
      Buffer.from(JSON.stringify(review({ ...podRequest({}), namespace: 3 }))),
      'request.namespace is not a string',
    ],
  ])('refuses %s', (_what, body, message) => {
    const r = parseAdmissionReview(body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain(message);
  });
});

describe('reviewResponse', () => {
  it('a denial carries 403, the reason and the uid; an allow carries a base64 JSON Patch', () => {
    expect(reviewResponse('u-9', { allowed: false, message: 'no' })).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u-9', allowed: false, status: { code: 403, reason: 'Forbidden', message: 'no' } },
    });
    const patch = [{ op: 'replace' as const, path: '/spec/containers/0/image', value: `r/x@${DIGEST}` }];
    const r = reviewResponse('u-9', { allowed: true, patch }).response as Record<string, string>;
    expect(r.patchType).toBe('JSONPatch');
    expect(JSON.parse(Buffer.from(r.patch as string, 'base64').toString())).toEqual(patch);
    // A patch never rides on a denial.
    expect(reviewResponse('u-9', { allowed: false, patch }).response).not.toHaveProperty('patch');
  });

  it('bounds warnings in number and length', () => {
    const r = reviewResponse('u', { allowed: true, warnings: Array.from({ length: 50 }, () => 'w'.repeat(1000)) })
      .response as { warnings: string[] };
    expect(r.warnings).toHaveLength(15);
    expect(r.warnings[14]).toBe('... and 36 more');
    expect(r.warnings[0]?.length).toBeLessThanOrEqual(256);
  });

  it('escapes JSON Pointer segments', () => {
    expect(jsonPointer(['spec', 'a/b', 'c~d', 0])).toBe('/spec/a~1b/c~0d/0');
  });
});

describe('TtlLru', () => {
  it('drops the least recently used past its size, and entries past their time', () => {
    let now = 1000;
    const c = new TtlLru<number>(2, () => now);
    c.set('a', 1, 100);
    c.set('b', 2, 100);
    expect(c.get('a')).toBe(1); // a is now the most recent
    c.set('c', 3, 100);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    now += 100;
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(1);
    c.set('d', 4, 0);
    expect(c.get('d')).toBeUndefined();
    c.set('c', 5, -1);
    expect(c.get('c')).toBeUndefined();
  });
});

describe('decide: requests that never reach an image check', () => {
  it('admits kinds that hold no pods, and says so', async () => {
    const d = await decide(
      parsed(
        review({
          uid: 'u',
          kind: { group: '', version: 'v1', kind: 'ConfigMap' },
          operation: 'CREATE',
          namespace: 'team',
          object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } },
        }),
      ),
      ctx,
    );
    expect(d).toEqual({
      pass: true,
      subject: 'ConfigMap team/c',
      reasons: [],
      notes: ['kind ConfigMap holds no pods: nothing to check'],
    });
    expect(answerFor(d, 'enforce')).toEqual({
      allowed: true,
      message: 'portcullis: ConfigMap team/c: kind ConfigMap holds no pods: nothing to check',
    });
  });

  it('denies ephemeral containers sent as kind EphemeralContainers (clusters before 1.22): no pod spec to check them in', async () => {
    const d = await decide(
      parsed(
        review({
          uid: 'u',
          kind: { group: '', version: 'v1', kind: 'EphemeralContainers' },
          operation: 'UPDATE',
          namespace: 'team',
          name: 'p',
          subResource: 'ephemeralcontainers',
          object: {
            apiVersion: 'v1',
            kind: 'EphemeralContainers',
            metadata: { name: 'p', namespace: 'team' },
            ephemeralContainers: [{ name: 'debug', image: 'evil.example/x', securityContext: { privileged: true } }],
          },
        }),
      ),
      ctx,
    );
    expect(d.pass).toBe(false);
    expect(d.reasons).toEqual([
      'EphemeralContainers team/p: ephemeral containers outside a pod spec (kind EphemeralContainers) cannot be checked; refused',
    ]);
  });

  it('admits DELETE without looking at anything', async () => {
    const d = await decide(parsed(review({ ...podRequest({}), operation: 'DELETE', object: null })), ctx);
    expect(d.pass).toBe(true);
    expect(d.notes).toEqual(['DELETE: nothing to check']);
  });

  it('denies a kind it does not know that holds a pod template', async () => {
    const d = await decide(
      parsed(
        review({
          uid: 'u',
          kind: { group: 'argoproj.io', version: 'v1alpha1', kind: 'Rollout' },
          operation: 'CREATE',
          namespace: 'team',
          object: {
            apiVersion: 'argoproj.io/v1alpha1',
            kind: 'Rollout',
            metadata: { name: 'r' },
            spec: { template: { spec: { containers: [{ name: 'c', image: 'evil.example/x' }] } } },
          },
        }),
      ),
      ctx,
    );
    expect(d.pass).toBe(false);
    expect(d.reasons).toEqual([
      'Rollout team/r: kind Rollout is not one Portcullis knows, and it holds a pod spec at spec.template.spec.containers; refused because it cannot be checked',
    ]);
  });

  it('denies a workload kind without a pod spec, and an object that is not the kind the request names', async () => {
    const noSpec = await decide(
      parsed(
        review({
          uid: 'u',
          kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
          operation: 'CREATE',
          object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'x' }, spec: {} },
        }),
      ),
      ctx,
    );
    expect(noSpec.reasons).toEqual(['Deployment x/d has no pod spec to check']);
    const mismatch = await decide(
      parsed(review({ ...podRequest({}), kind: { group: '', version: 'v1', kind: 'ConfigMap' } })),
      ctx,
    );
    expect(mismatch.reasons).toEqual(['request.kind says ConfigMap but the object is a Pod']);
    const none = await decide(parsed(review({ ...podRequest({}), object: undefined })), ctx);
    expect(none.reasons[0]).toContain('request.object is missing');
  });

  it('denies images from elsewhere, images by tag, bad references, and says which', async () => {
    const d = await decide(
      parsed(
        review(
          podRequest({
            containers: [
              { name: 'a', image: `docker.io/library/nginx@${DIGEST}` },
              { name: 'b', image: '127.0.0.1:1/prod/app:1.0' },
              { name: 'c', image: 'UPPER/case' },
              { name: 'd' },
            ],
          }),
        ),
      ),
      ctx,
    );
    expect(d.pass).toBe(false);
    expect(d.reasons).toEqual([
      `image docker.io/library/nginx@${DIGEST} is not from a production registry (docker.io/library/nginx)`,
      'image 127.0.0.1:1/prod/app:1.0 is not pinned by digest (give @sha256:..., or let the mutating webhook resolve the tag)',
      "image reference 'UPPER/case': repository 'UPPER/case' must be lowercase path components",
      'no image',
    ]);
  });

  it('runs the Pod Security checks at the namespace level of the config: privileged is refused at baseline', async () => {
    const d = await decide(
      parsed(
        review(
          podRequest({
            containers: [
              { name: 'a', image: `docker.io/library/nginx@${DIGEST}`, securityContext: { privileged: true } },
            ],
          }),
        ),
      ),
      ctx,
    );
    expect(d.reasons[0]).toContain('is not from a production registry');
    expect(d.reasons.filter((r) => /^privileged: /.test(r))).toHaveLength(1);
    expect(pssLevelFor(CONFIG, 'strict')).toBe('restricted');
    expect(pssLevelFor(CONFIG, 'team')).toBe('baseline');
    expect(pssLevelFor(CONFIG, 'constructor')).toBe('baseline');
    expect(pssLevelFor(CONFIG, undefined)).toBe('baseline');
  });

  it('a registry that cannot be reached denies, with the reason', async () => {
    const d = await decide(
      parsed(review(podRequest({ containers: [{ name: 'a', image: `127.0.0.1:1/prod/app@${DIGEST}` }] }))),
      ctx,
    );
    expect(d.pass).toBe(false);
    expect(d.reasons[0]).toMatch(new RegExp(`^image 127\\.0\\.0\\.1:1/prod/app@${DIGEST}: cannot verify: NETWORK: `));
  });

  it('finds pod specs in unknown kinds, and treats what is too deep to search as holding one', () => {
    expect(podSpecPathIn({ spec: { a: [{ b: { containers: [{ image: 'x' }] } }] } })).toBe('spec.a[0].b.containers');
    expect(podSpecPathIn({ spec: { containers: 'x', data: [1, 2, { c: null }] } })).toBeUndefined();
    let deep: unknown = {};
    for (let i = 0; i < 100; i++) deep = { n: deep };
    expect(podSpecPathIn(deep)).toContain('nested too deep');
  });
});

describe('audit mode', () => {
  it('admits what enforce denies, with warnings and audit annotations', () => {
    const d = { pass: false, subject: 'Pod team/web', reasons: ['a', 'b'], notes: [] };
    expect(answerFor(d, 'audit')).toEqual({
      allowed: true,
      message: 'portcullis (audit mode): Pod team/web would be denied: 2 reasons: (1) a; (2) b',
      warnings: ['portcullis audit: would deny: a', 'portcullis audit: would deny: b'],
      auditAnnotations: { decision: 'would-deny', reasons: '(1) a; (2) b' },
    });
    expect(answerFor(d, 'enforce')).toEqual({
      allowed: false,
      message: 'portcullis denied Pod team/web: 2 reasons: (1) a; (2) b',
      auditAnnotations: { decision: 'deny', reasons: '(1) a; (2) b' },
    });
  });
});

/** Is this HTTP answer an admission? */
function admitted(a: { status: number; body: Record<string, unknown> }): boolean {
  return a.status === 200 && (a.body.response as { allowed?: unknown } | undefined)?.allowed === true;
}

const WORKLOAD_KINDS = [
  'Pod',
  'Deployment',
  'ReplicaSet',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'ReplicationController',
  'PodTemplate',
];
const TEMPLATE: Record<string, (string | number)[]> = {
  Pod: [],
  PodTemplate: ['template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

function setIn(obj: Record<string, unknown>, path: readonly (string | number)[], value: unknown): void {
  let at = obj;
  path.forEach((k, i) => {
    if (i === path.length - 1) at[k] = value;
    else {
      at[k] = typeof at[k] === 'object' && at[k] !== null ? at[k] : {};
      at = at[k] as Record<string, unknown>;
    }
  });
}

describe('hostile bodies (fast-check): nothing is admitted in enforce mode', () => {
  it('random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (bytes) => {
        expect(admitted(await handleReview(Buffer.from(bytes), '/validate', enforce))).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('random JSON, bare or in a review envelope', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), async (v, wrap) => {
        const body = wrap
          ? review({ uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object: v })
          : v;
        expect(admitted(await handleReview(Buffer.from(JSON.stringify(body)), '/validate', enforce))).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('workloads of every kind with random containers, images and junk: denied (the registry cannot vouch for any)', async () => {
    const container = fc.record(
      {
        name: fc.string(),
        image: fc.oneof(
          fc.string(),
          fc.constantFrom(`127.0.0.1:1/prod/app@${DIGEST}`, '127.0.0.1:1/prod/app:1', `127.0.0.1:1/prod/a/b@${DIGEST}`),
          fc.jsonValue(),
        ),
        securityContext: fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
      },
      { requiredKeys: ['image'] },
    );
    const arb = fc.record({
      kind: fc.oneof(fc.constantFrom(...WORKLOAD_KINDS), fc.string({ minLength: 1, maxLength: 12 })),
      containers: fc.array(container, { minLength: 1, maxLength: 4 }),
      init: fc.array(container, { maxLength: 2 }),
      junk: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
      operation: fc.constantFrom('CREATE', 'UPDATE'),
      path: fc.constantFrom(...Object.values(TEMPLATE), ['spec', 'template'], ['spec', 'x', 0, 'template']),
    });
    await fc.assert(
      fc.asyncProperty(arb, async (a) => {
        const object: Record<string, unknown> = { ...a.junk, apiVersion: 'v1', kind: a.kind, metadata: { name: 'w' } };
        const base = Object.hasOwn(TEMPLATE, a.kind)
          ? (TEMPLATE[a.kind] as (string | number)[])
          : WORKLOAD_KINDS.includes(a.kind)
            ? ['spec', 'template']
            : a.path;
        setIn(object, [...base, 'spec'], { containers: a.containers, initContainers: a.init });
        const body = review({
          uid: 'u',
          kind: { group: 'g', version: 'v1', kind: a.kind },
          operation: a.operation,
          namespace: 'team',
          object,
        });
        const answer = await handleReview(Buffer.from(JSON.stringify(body)), '/validate', enforce);
        expect(answer.status).toBe(200);
        expect(admitted(answer)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('deep and wide objects are answered, not crashed on', async () => {
    // 50,000 levels of nesting, written as text (JSON.stringify itself would recurse).
    const deep = `${'['.repeat(50_000)}{"containers":[{"image":"x"}]}${']'.repeat(50_000)}`;
    const wide = JSON.stringify(Object.fromEntries(Array.from({ length: 300_000 }, (_, i) => [`k${i}`, i])));
    const envelope = (kind: string, object: string) =>
      `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"${kind}"},"operation":"CREATE","object":${object}}}`;
    for (const body of [
      envelope(
        'Pod',
        `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x"}],"deep":${deep}}}`,
      ),
      envelope('Thing', `{"apiVersion":"x/v1","kind":"Thing","metadata":{"name":"p"},"spec":${deep}}`),
      envelope('Thing', `{"apiVersion":"x/v1","kind":"Thing","metadata":{"name":"p"},"spec":${wide}}`),
    ]) {
      const answer = await handleReview(Buffer.from(body), '/validate', enforce);
      expect(answer.status).toBe(200);
      expect(admitted(answer)).toBe(false);
    }
  });
});

describe('decide: an object naming itself as its controller is judged like any other', () => {
  // Every image approved, so only the Pod Security and placement rules decide.
  const approving: AdmitContext = {
    config: parseK8sConfig(
      [
        'apiVersion: portcullis.dev/v1alpha1',
        'kind: K8sConfig',
        'pssLevel: restricted',
        'productionRegistries: [registry.example.com/prod/**]',
        'sensitivity: { levels: [public, confidential] }',
        '',
      ].join('\n'),
      'k8s.yaml',
    ),
    images: {
      resolveTag: async () => DIGEST,
      verify: async () => ({ approved: true, detail: 'signed', cached: false }),
    },
    describeError: registryFailure,
  };
  const image = `registry.example.com/prod/api@${DIGEST}`;
  const self = {
    apiVersion: 'v1',
    kind: 'Pod',
    name: 'web',
    uid: '0b6c3c1e-0000-4000-8000-000000000001',
    controller: true,
  };
  const privileged = {
    containers: [{ name: 'c', image, securityContext: { privileged: true } }],
    hostPID: true,
    volumes: [{ name: 'root', hostPath: { path: '/' } }],
  };
  const pod = (metadata: Record<string, unknown>, spec: Record<string, unknown>) =>
    parsed(review({ ...podRequest(spec), object: { apiVersion: 'v1', kind: 'Pod', metadata, spec } }));

  it('denies a privileged, unpinned pod with the same reasons whether or not it names itself as owner', async () => {
    const labels = { 'portcullis.dev/sensitivity': 'confidential' };
    const plain = await decide(pod({ name: 'web', labels }, privileged), approving);
    const selfOwned = await decide(pod({ name: 'web', labels, ownerReferences: [self] }, privileged), approving);
    expect(plain.pass).toBe(false);
    expect(plain.reasons.length).toBeGreaterThan(3);
    expect(selfOwned).toEqual(plain);
  });

  it('denies a self-owned pod without a sensitivity level', async () => {
    const d = await decide(
      pod({ name: 'web', ownerReferences: [self] }, { containers: [{ name: 'c', image }] }),
      approving,
    );
    expect(d.pass).toBe(false);
    expect(d.reasons.join('\n')).toMatch(/sensitivity/);
  });

  it('denies a privileged ephemeral container added to a self-owned pod', async () => {
    const spec = {
      nodeSelector: { 'node-restriction.kubernetes.io/sensitivity': 'public' },
      tolerations: [
        { key: 'node-restriction.kubernetes.io/sensitivity', operator: 'Equal', value: 'public', effect: 'NoSchedule' },
      ],
      containers: [{ name: 'c', image }],
      ephemeralContainers: [{ name: 'dbg', image, securityContext: { privileged: true } }],
    };
    const metadata = { name: 'web', uid: self.uid, labels: { 'portcullis.dev/sensitivity': 'public' } };
    const update = (m: Record<string, unknown>) =>
      parsed(
        review({
          ...podRequest(spec, { operation: 'UPDATE', subResource: 'ephemeralcontainers' }),
          object: { apiVersion: 'v1', kind: 'Pod', metadata: m, spec },
        }),
      );
    const plain = await decide(update(metadata), approving);
    const selfOwned = await decide(update({ ...metadata, ownerReferences: [self] }), approving);
    expect(plain.pass).toBe(false);
    expect(selfOwned).toEqual(plain);
  });
});

describe('decide: the namespace sets the sensitivity level, not the pod', () => {
  const config = parseK8sConfig(
    [
      'apiVersion: portcullis.dev/v1alpha1',
      'kind: K8sConfig',
      'pssLevel: baseline',
      'productionRegistries: [registry.example.com/prod/**]',
      'sensitivity: { levels: [public, confidential], namespaces: { public-tenant: public, payments: confidential } }',
      '',
    ].join('\n'),
    'k8s.yaml',
  );
  const approving: AdmitContext = {
    config,
    images: {
      resolveTag: async () => DIGEST,
      verify: async () => ({ approved: true, detail: 'signed', cached: false }),
    },
    describeError: registryFailure,
  };
  const KEY = 'node-restriction.kubernetes.io/sensitivity';
  const pinned = (level: string) => ({
    nodeSelector: { [KEY]: level },
    tolerations: [{ key: KEY, operator: 'Equal', value: level, effect: 'NoSchedule' }],
    containers: [{ name: 'c', image: `registry.example.com/prod/api@${DIGEST}` }],
  });
  const request = (namespace: string, labels: Record<string, string>, level: string) =>
    parsed(
      review({
        ...podRequest(pinned(level), { namespace }),
        object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace, labels }, spec: pinned(level) },
      }),
    );

  it('denies a pod in a public namespace that claims the confidential level', async () => {
    const d = await decide(
      request('public-tenant', { 'portcullis.dev/sensitivity': 'confidential' }, 'confidential'),
      approving,
    );
    expect(d.pass).toBe(false);
    expect(d.reasons).toEqual([
      expect.stringMatching(
        /sensitivity-level-mismatch: .*confidential.* in namespace public-tenant, whose level is public/,
      ),
    ]);
  });

  it('denies a pod claiming a level in a namespace the configuration gives no level: nothing vouches for it', async () => {
    const d = await decide(
      request('sandbox', { 'portcullis.dev/sensitivity': 'confidential' }, 'confidential'),
      approving,
    );
    expect(d.pass).toBe(false);
    expect(d.reasons).toEqual([
      `sensitivity-level-mismatch: Pod sandbox/web has pods labelled portcullis.dev/sensitivity="confidential" in namespace sandbox, which has no level in the configuration (sensitivity.namespaces): a pod's level must be its namespace's`,
    ]);
  });

  it("admits a pod of its namespace's level, labelled or not, and refuses a bad level in the configuration", async () => {
    expect(
      (await decide(request('payments', { 'portcullis.dev/sensitivity': 'confidential' }, 'confidential'), approving))
        .pass,
    ).toBe(true);
    expect((await decide(request('payments', {}, 'confidential'), approving)).pass).toBe(true);
    expect(() =>
      parseK8sConfig(
        'apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\nsensitivity: { levels: [public], namespaces: { a: secret } }\n',
        'k8s.yaml',
      ),
    ).toThrow(/sensitivity\.namespaces\.a: 'secret' is not one of the levels \(public\)/);
  });
});

describe('decide: an UPDATE is held to the images it adds', () => {
  const image = `127.0.0.1:1/prod/app@${DIGEST}`;
  const added = `127.0.0.1:1/prod/tool@${DIGEST}`;
  const spec = (images: string[]) => ({ containers: images.map((i, n) => ({ name: `c${n}`, image: i })) });
  const update = (before: string[], after: string[]) =>
    parsed(
      review({
        ...podRequest(spec(after), { operation: 'UPDATE' }),
        oldObject: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: spec(before) },
      }),
    );

  it('does not verify again an image the stored object already ran (a relabel, a finalizer removed)', async () => {
    const d = await decide(update([image], [image]), ctx);
    expect(d).toMatchObject({
      pass: true,
      reasons: [],
      notes: ['1 image(s) unchanged by this UPDATE: not verified again'],
    });
  });

  it('verifies an image the UPDATE adds, and every image of a CREATE', async () => {
    const d = await decide(update([image], [image, added]), ctx);
    expect(d.pass).toBe(false);
    expect(d.reasons).toEqual([expect.stringMatching(/^image 127\.0\.0\.1:1\/prod\/tool@sha256:a+: cannot verify/)]);
    const created = await decide(parsed(review(podRequest(spec([image])))), ctx);
    expect(created.pass).toBe(false);
  });
});
