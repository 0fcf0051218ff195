import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { runK8sRules } from '../../src/k8s/audit.js';
import { parseK8sConfig } from '../../src/k8s/config.js';
import { toObject } from '../../src/k8s/model.js';
import { K8S_RULES } from '../../src/k8s/rules/index.js';
import { type ManifestOptions, setupCommands, webhookObjects } from '../../src/k8s/webhook/manifests.js';
import { createWebhookServer, listen } from '../../src/k8s/webhook/server.js';
import { fixedKeys, ImageVerifier, registryFailure } from '../../src/k8s/webhook/verify.js';
import { runCli } from '../helpers/cli.js';

/**
 * `k8s webhook manifests`: every object checked field by field against the Kubernetes API models that
 * @kubernetes/client-node generates from the upstream OpenAPI (unknown fields and wrong types are errors), the
 * Deployment held to Pod Security restricted by Portcullis's own checks, and the openssl steps of the header run as
 * written: the certificate they make serves the webhook under its in-cluster name.
 */

type Model = { attributeTypeMap: { baseName: string; type: string }[] };
const MODELS: Record<string, string> = {
  'v1/Namespace': 'V1Namespace',
  'v1/ServiceAccount': 'V1ServiceAccount',
  'apps/v1/Deployment': 'V1Deployment',
  'policy/v1/PodDisruptionBudget': 'V1PodDisruptionBudget',
  'v1/Service': 'V1Service',
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': 'V1ValidatingWebhookConfiguration',
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': 'V1MutatingWebhookConfiguration',
};

/** Problems of `v` as an instance of the client-node type `type` (a model name, Array<T>, a map, a primitive). */
function check(v: unknown, type: string, path: string, out: string[]): void {
  const models = k8s as unknown as Record<string, Model | undefined>;
  const arr = /^Array<(.+)>$/.exec(type);
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (arr) {
    if (!Array.isArray(v)) out.push(`${path}: not a list`);
    else
      v.forEach((x, i) => {
        check(x, arr[1] as string, `${path}[${i}]`, out);
      });
  } else if (map) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) out.push(`${path}: not a map`);
    else for (const [k, x] of Object.entries(v)) check(x, map[1] as string, `${path}.${k}`, out);
  } else if (type === 'string' || type === 'Date') {
    if (typeof v !== 'string') out.push(`${path}: not a string`);
  } else if (type === 'number') {
    if (typeof v !== 'number') out.push(`${path}: not a number`);
  } else if (type === 'boolean') {
    if (typeof v !== 'boolean') out.push(`${path}: not a boolean`);
  } else if (type === 'IntOrString') {
    if (typeof v !== 'string' && !Number.isInteger(v)) out.push(`${path}: neither an integer nor a string`);
  } else if (type !== 'any' && type !== 'object') {
    const model = models[type];
    if (!model?.attributeTypeMap) throw new Error(`no model ${type}`);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      out.push(`${path}: not an object (${type})`);
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      const a = model.attributeTypeMap.find((m) => m.baseName === k);
      if (!a) out.push(`${path}.${k}: no such field in ${type}`);
      else check(x, a.type, `${path}.${k}`, out);
    }
  }
}

const BASE: ManifestOptions = {
  namespace: 'portcullis',
  service: 'admission',
  image: `registry.example.com/portcullis@sha256:${'1'.repeat(64)}`,
  certManager: false,
  mutating: true,
  mode: 'enforce',
  replicas: 2,
  timeoutSeconds: 10,
};

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-webhook-manifests-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('k8s webhook manifests', () => {
  it('every object matches the Kubernetes API models; cert-manager objects are the only ones left unchecked', () => {
    for (const opts of [BASE, { ...BASE, certManager: true, mutating: false }]) {
      const problems: string[] = [];
      const unchecked: string[] = [];
      for (const o of webhookObjects(opts)) {
        const key = `${o.apiVersion}/${o.kind}`;
        const model = MODELS[key];
        if (!model) unchecked.push(key);
        else check(o, model, key, problems);
      }
      expect(problems).toEqual([]);
      expect(unchecked).toEqual(
        opts.certManager ? ['cert-manager.io/v1/Issuer', 'cert-manager.io/v1/Certificate'] : [],
      );
    }
    // The checker does catch a wrong field and a wrong type.
    const bad: string[] = [];
    check(
      { spec: { replicas: '2', template: { spec: { containers: [{ name: 'x', imag: 'y' }] } } } },
      'V1Deployment',
      'd',
      bad,
    );
    expect(bad).toEqual([
      'd.spec.replicas: not a number',
      'd.spec.template.spec.containers[0].imag: no such field in V1Container',
    ]);
  });

  it('the CLI writes them as YAML, with the CA bundle and a configuration that fails closed', async () => {
    const ca = join(tmp, 'some-ca.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=t',
        '-keyout',
        join(tmp, 'some-ca.key'),
        '-out',
        ca,
      ],
      { stdio: 'pipe' },
    );
    const r = await runCli([
      'k8s',
      'webhook',
      'manifests',
      '--namespace',
      'portcullis',
      '--service',
      'admission',
      '--ca-bundle',
      ca,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const docs = parseAllDocuments(r.stdout);
    expect(docs.every((d) => d.errors.length === 0)).toBe(true);
    const objects = docs.map((d) => d.toJS() as Record<string, unknown>);
    expect(objects.map((o) => o.kind)).toEqual([
      'Namespace',
      'ServiceAccount',
      'Deployment',
      'PodDisruptionBudget',
      'Service',
      'ValidatingWebhookConfiguration',
    ]);
    const vwc = objects[5] as { webhooks: Record<string, unknown>[] };
    const hook = vwc.webhooks[0] as Record<string, unknown>;
    expect(hook).toMatchObject({
      name: 'validate.admission.portcullis.portcullis.dev',
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Fail',
      timeoutSeconds: 10,
      clientConfig: {
        service: { namespace: 'portcullis', name: 'admission', path: '/validate', port: 443 },
        caBundle: readFileSync(ca).toString('base64'),
      },
      namespaceSelector: {
        matchExpressions: [
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['portcullis', 'kube-system'] },
        ],
      },
    });
    expect(r.stdout).toContain('# The configuration (productionRegistries, pssLevels)');

    const cm = await runCli([
      'k8s',
      'webhook',
      'manifests',
      '--namespace',
      'portcullis',
      '--service',
      'admission',
      '--cert-manager',
    ]);
    const cmObjects = parseAllDocuments(cm.stdout).map(
      (d) => d.toJS() as { kind: string; metadata: { annotations?: object } },
    );
    expect(cmObjects.find((o) => o.kind === 'ValidatingWebhookConfiguration')?.metadata.annotations).toEqual({
      'cert-manager.io/inject-ca-from': 'portcullis/admission-tls',
    });
    const bad = await runCli(['k8s', 'webhook', 'manifests', '--namespace', 'Bad_NS', '--service', 'admission']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--namespace 'Bad_NS' is not a DNS label");
  });

  it('the Deployment meets Pod Security restricted, by the same checks the webhook runs', () => {
    const objects = webhookObjects(BASE).map((raw, i) =>
      toObject(raw, { file: 'manifests.yaml', doc: i }, () => ({ line: 1, column: 1 })),
    );
    const config = parseK8sConfig(
      'apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\npssLevel: restricted\n',
      'k8s.yaml',
    );
    const pss = K8S_RULES.filter((r) => r.group === 'pss');
    expect(pss.length).toBeGreaterThan(15);
    const r = runK8sRules(
      objects.filter((o) => o !== undefined),
      { config, pssLevel: 'restricted', rules: pss },
    );
    expect(r.findings).toEqual([]);
    const d = webhookObjects(BASE)[2] as {
      spec: { template: { spec: { containers: { securityContext: object }[] } } };
    };
    expect(d.spec.template.spec.containers[0]?.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
  });

  it("the header's openssl steps make a certificate that serves the webhook under its in-cluster name", async () => {
    const steps = setupCommands(BASE).filter((l) => /^(openssl|printf) /.test(l));
    expect(steps).toHaveLength(4);
    for (const s of steps) execFileSync('bash', ['-c', s], { cwd: tmp, stdio: 'pipe' });
    const config = parseK8sConfig(
      'apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\nproductionRegistries: [r.example/**]\n',
      'k8s.yaml',
    );
    const verifier = new ImageVerifier({ registry: {}, trust: fixedKeys([]) });
    const server = createWebhookServer(
      { cert: readFileSync(join(tmp, 'tls.crt')), key: readFileSync(join(tmp, 'tls.key')) },
      { ctx: { config, images: verifier, describeError: registryFailure }, mode: 'enforce', mutate: false },
    );
    const port = await listen(server, '127.0.0.1', 0);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        https
          .get(
            {
              host: '127.0.0.1',
              port,
              path: '/healthz',
              servername: 'admission.portcullis.svc',
              ca: readFileSync(join(tmp, 'ca.crt')),
              agent: false,
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          )
          .on('error', reject);
      });
      expect(status).toBe(200);
    } finally {
      verifier.close();
      server.close();
    }
  });
});
