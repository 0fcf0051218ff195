import { describe, expect, it } from 'vitest';
import { runK8sRules } from '../../src/k8s/audit.js';
import { parseK8sConfig } from '../../src/k8s/config.js';
import { parseManifests } from '../../src/k8s/load.js';
import { IMAGE_RULES } from '../../src/k8s/rules/images.js';
import { type AdmitContext, decide, resolvePatch } from '../../src/k8s/webhook/admit.js';
import { registryFailure } from '../../src/k8s/webhook/verify.js';
import { admissionRequest } from '../helpers/admission.js';

/**
 * Image volumes (`spec.volumes[].image.reference`, on by default from Kubernetes 1.35) run an image as containers do:
 * the webhook verifies, denies and resolves them, and the audit's image rules judge them.
 */

const DIGEST = `sha256:${'c'.repeat(64)}`;
const RESOLVED = `sha256:${'d'.repeat(64)}`;
const APP = `registry.example.com/prod/app@${DIGEST}`;
const ATTACKER = 'docker.io/attacker/tools:latest';

const config = parseK8sConfig(
  [
    'apiVersion: portcullis.dev/v1alpha1',
    'kind: K8sConfig',
    'pssLevel: restricted',
    'requireDigest: false',
    'productionRegistries: [registry.example.com/prod/**]',
    '',
  ].join('\n'),
  'k8s.yaml',
);

/** Approves only registry.example.com/prod/app; logs every call. */
function checker(calls: string[]): AdmitContext {
  return {
    config,
    images: {
      resolveTag: async (r, repo, tag) => {
        calls.push(`resolve ${r}/${repo}:${tag}`);
        return RESOLVED;
      },
      verify: async (r, repo, d) => {
        calls.push(`verify ${r}/${repo}@${d}`);
        const ok = `${r}/${repo}` === 'registry.example.com/prod/app';
        return { approved: ok, detail: ok ? 'signed' : 'no signature by a trusted key', cached: false };
      },
    },
    describeError: registryFailure,
  };
}

const RESTRICTED_CONTAINER = {
  name: 'c',
  image: APP,
  securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  volumeMounts: [{ name: 'payload', mountPath: '/opt/payload' }],
};

function podSpec(reference: unknown) {
  return {
    automountServiceAccountToken: false,
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [RESTRICTED_CONTAINER],
    volumes: [{ name: 'payload', image: { reference, pullPolicy: 'Always' } }],
  };
}

const podRequest = (reference: unknown) =>
  admissionRequest({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'iv' }, spec: podSpec(reference) });

const deploymentRequest = (reference: unknown) =>
  admissionRequest({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'iv' },
    spec: { template: { metadata: {}, spec: podSpec(reference) } },
  });

describe('webhook: image volumes are images', () => {
  it('denies an unapproved image volume beside an approved container, naming the volume', async () => {
    const calls: string[] = [];
    const d = await decide(podRequest(ATTACKER), checker(calls));
    expect(d.pass).toBe(false);
    expect(d.reasons).toEqual([
      `image volume payload: image ${ATTACKER} is not from a production registry (docker.io/attacker/tools)`,
    ]);
    expect(calls).toEqual([`verify registry.example.com/prod/app@${DIGEST}`]);
  });

  it('verifies a production image volume, and denies one that is unsigned or has no reference', async () => {
    const calls: string[] = [];
    const signed = await decide(podRequest(`registry.example.com/prod/app:1.0`), checker(calls));
    expect(signed).toMatchObject({ pass: true, reasons: [] });
    expect(calls).toContain('resolve registry.example.com/prod/app:1.0');
    const unsigned = await decide(podRequest(`registry.example.com/prod/tools@${DIGEST}`), checker([]));
    expect(unsigned.reasons).toEqual([
      `image volume payload: image registry.example.com/prod/tools@${DIGEST}: no signature by a trusted key`,
    ]);
    expect((await decide(podRequest(undefined), checker([]))).reasons).toEqual(['image volume payload: no image']);
  });

  it('with requireDigest, denies an image volume by tag', async () => {
    const strict = { ...checker([]), config: { ...config, requireDigest: true } };
    const d = await decide(podRequest('registry.example.com/prod/app:1.0'), strict);
    expect(d.reasons).toEqual([
      'image volume payload: image registry.example.com/prod/app:1.0 is not pinned by digest (give @sha256:..., or let the mutating webhook resolve the tag)',
    ]);
  });

  it('/mutate resolves an image volume tag at the volume’s reference, in a Pod and in a template', async () => {
    const pod = await resolvePatch(podRequest('registry.example.com/prod/app:1.0'), checker([]));
    expect(pod.patch).toEqual([
      {
        op: 'replace',
        path: '/spec/volumes/0/image/reference',
        value: `registry.example.com/prod/app:1.0@${RESOLVED}`,
      },
    ]);
    expect(pod.decision.notes).toEqual([
      `image volume payload: image registry.example.com/prod/app:1.0 resolved to ${RESOLVED}`,
    ]);
    const dep = await resolvePatch(deploymentRequest('registry.example.com/prod/app:1.0'), checker([]));
    expect(dep.patch.map((p) => p.path)).toEqual(['/spec/template/spec/volumes/0/image/reference']);
  });
});

describe('audit: image volumes are judged by both image rules', () => {
  const yaml = `apiVersion: v1
kind: Pod
metadata: {name: iv, namespace: team}
spec:
  containers:
  - {name: c, image: "${APP}"}
  volumes:
  - name: data
    emptyDir: {}
  - name: payload
    image: {reference: "${ATTACKER}", pullPolicy: Always}
`;

  it('reports the volume at its reference line', () => {
    const { objects, errors } = parseManifests(yaml, 'iv.yaml');
    expect(errors).toEqual([]);
    const r = runK8sRules(objects, { rules: IMAGE_RULES, config: { ...config, requireDigest: true } });
    expect(
      r.findings.map((f) => `${f.ruleId} ${f.location.kind === 'file' ? f.location.line : 0} ${f.message}`),
    ).toEqual([
      `image-not-from-production-registry 11 Pod iv image volume payload runs ${ATTACKER} (docker.io/attacker/tools), which matches none of productionRegistries`,
      `image-not-pinned-by-digest 11 Pod iv image volume payload runs ${ATTACKER} by tag latest, not by digest`,
    ]);
  });

  it('judges a controlled pod on its own when it adds an image volume its template lacks', () => {
    const owned = `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs, namespace: team}
spec:
  template:
    spec:
      containers: [{name: c, image: "${APP}"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: rs-x
  namespace: team
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, controller: true, uid: u1}]
spec:
  containers: [{name: c, image: "${APP}"}]
  volumes: [{name: payload, image: {reference: "${ATTACKER}"}}]
`;
    const r = runK8sRules(parseManifests(owned, 'o.yaml').objects, { rules: IMAGE_RULES, config });
    expect(r.findings.map((f) => `${f.ruleId} ${f.resource?.name}`)).toEqual([
      'image-not-from-production-registry rs-x',
    ]);
  });
});
