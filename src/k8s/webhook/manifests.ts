/**
 * `k8s webhook manifests`: what runs the webhook in a cluster, as YAML (pure). The Deployment runs restricted (non-root,
 * read-only root file system, no capabilities, RuntimeDefault seccomp, no service-account token); the
 * ValidatingWebhookConfiguration fails closed (failurePolicy Fail) and leaves out its own namespace and kube-system so
 * that the webhook can always be repaired. Certificates: a Secret the Deployment mounts, made with the openssl commands
 * in the header, or by cert-manager (`--cert-manager`).
 */
import { lazyRequire } from '../../util/lazy.js';
import type { WebhookMode } from './server.js';

const yaml = lazyRequire<typeof import('yaml')>('yaml');

export interface ManifestOptions {
  readonly namespace: string;
  /** The Service's name; also the Deployment's, and the prefix of the Secret and ConfigMap. */
  readonly service: string;
  /** The image that runs `portcullis` (its entrypoint). */
  readonly image: string;
  /** PEM of the CA that signed the serving certificate; without it (and without cert-manager) caBundle is left out. */
  readonly caBundle?: string;
  readonly certManager: boolean;
  readonly mutating: boolean;
  readonly mode: WebhookMode;
  readonly replicas: number;
  readonly timeoutSeconds: number;
}

const PORT = 8443;

/** The kinds that hold pods, as the webhook configuration matches them (API group, resources). */
const POD_RESOURCES: readonly { apiGroups: string[]; resources: string[] }[] = [
  { apiGroups: [''], resources: ['pods', 'pods/ephemeralcontainers', 'podtemplates', 'replicationcontrollers'] },
  { apiGroups: ['apps'], resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'] },
  { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'] },
];

function labels(o: ManifestOptions): Record<string, string> {
  return { 'app.kubernetes.io/name': 'portcullis-webhook', 'app.kubernetes.io/instance': o.service };
}

function webhookEntry(o: ManifestOptions, kind: 'validate' | 'mutate'): Record<string, unknown> {
  return {
    name: `${kind}.${o.service}.${o.namespace}.portcullis.dev`,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    timeoutSeconds: o.timeoutSeconds,
    ...(kind === 'mutate' ? { reinvocationPolicy: 'IfNeeded' } : {}),
    clientConfig: {
      service: { namespace: o.namespace, name: o.service, path: `/${kind}`, port: 443 },
      ...(o.caBundle ? { caBundle: Buffer.from(o.caBundle).toString('base64') } : {}),
    },
    rules: POD_RESOURCES.map((r) => ({
      apiGroups: r.apiGroups,
      apiVersions: ['*'],
      operations: ['CREATE', 'UPDATE'],
      resources: r.resources,
      scope: 'Namespaced',
    })),
    // Its own namespace and kube-system stay out, so a broken webhook can be repaired.
    namespaceSelector: {
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [o.namespace, 'kube-system'] },
      ],
    },
  };
}

function configurationMeta(o: ManifestOptions, name: string): Record<string, unknown> {
  return {
    name,
    labels: labels(o),
    ...(o.certManager && !o.caBundle
      ? { annotations: { 'cert-manager.io/inject-ca-from': `${o.namespace}/${o.service}-tls` } }
      : {}),
  };
}

/** The objects, in apply order. */
export function webhookObjects(o: ManifestOptions): Record<string, unknown>[] {
  const meta = (name: string) => ({ name, namespace: o.namespace, labels: labels(o) });
  const args = [
    'k8s',
    'webhook',
    'serve',
    '--config',
    '/etc/portcullis/config/k8s.yaml',
    '--key',
    '/etc/portcullis/config/cosign.pub',
    '--tls-cert',
    '/etc/portcullis/tls/tls.crt',
    '--tls-key',
    '/etc/portcullis/tls/tls.key',
    '--listen',
    `0.0.0.0:${PORT}`,
    '--mode',
    o.mode,
    ...(o.mutating ? ['--mutate'] : []),
  ];
  const probe = { httpGet: { path: '/healthz', port: PORT, scheme: 'HTTPS' }, periodSeconds: 10 };
  const objects: Record<string, unknown>[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: o.namespace,
        labels: {
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      },
    },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(o.service), automountServiceAccountToken: false },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(o.service),
      spec: {
        replicas: o.replicas,
        selector: { matchLabels: labels(o) },
        template: {
          metadata: { labels: labels(o) },
          spec: {
            serviceAccountName: o.service,
            automountServiceAccountToken: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              runAsGroup: 65532,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  {
                    weight: 100,
                    podAffinityTerm: {
                      labelSelector: { matchLabels: labels(o) },
                      topologyKey: 'kubernetes.io/hostname',
                    },
                  },
                ],
              },
            },
            containers: [
              {
                name: 'webhook',
                image: o.image,
                args,
                ports: [{ name: 'https', containerPort: PORT, protocol: 'TCP' }],
                readinessProbe: probe,
                livenessProbe: { ...probe, failureThreshold: 3 },
                resources: {
                  requests: { cpu: '100m', memory: '128Mi' },
                  limits: { memory: '512Mi' },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/portcullis/config', readOnly: true },
                  { name: 'tls', mountPath: '/etc/portcullis/tls', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: `${o.service}-config` } },
              { name: 'tls', secret: { secretName: `${o.service}-tls` } },
              { name: 'tmp', emptyDir: { sizeLimit: '16Mi' } },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta(o.service),
      spec: { minAvailable: 1, selector: { matchLabels: labels(o) } },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(o.service),
      spec: {
        selector: labels(o),
        ports: [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }],
      },
    },
  ];
  if (o.certManager) {
    objects.push(
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Issuer',
        metadata: meta(`${o.service}-selfsigned`),
        spec: { selfSigned: {} },
      },
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: meta(`${o.service}-tls`),
        spec: {
          secretName: `${o.service}-tls`,
          dnsNames: [`${o.service}.${o.namespace}.svc`, `${o.service}.${o.namespace}.svc.cluster.local`],
          duration: '2160h',
          renewBefore: '360h',
          privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
          issuerRef: { name: `${o.service}-selfsigned`, kind: 'Issuer' },
        },
      },
    );
  }
  if (o.mutating) {
    objects.push({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: configurationMeta(o, `${o.service}.${o.namespace}.portcullis.dev`),
      webhooks: [webhookEntry(o, 'mutate')],
    });
  }
  objects.push({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: configurationMeta(o, `${o.service}.${o.namespace}.portcullis.dev`),
    webhooks: [webhookEntry(o, 'validate')],
  });
  return objects;
}

/** The openssl and kubectl steps that make the serving certificate and the Secret and ConfigMap the Deployment mounts. */
export function setupCommands(o: ManifestOptions): string[] {
  const dns = `${o.service}.${o.namespace}.svc`;
  const steps = o.certManager
    ? ['# The serving certificate: cert-manager issues it into the Secret (Issuer and Certificate below).']
    : [
        '# The serving certificate (a CA of your own, kept out of the cluster):',
        `openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=${o.service} webhook CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout ca.key -out ca.crt`,
        `openssl req -newkey rsa:2048 -nodes -subj "/CN=${dns}" -keyout tls.key -out tls.csr`,
        `printf 'subjectAltName=DNS:${dns},DNS:${dns}.cluster.local\\nextendedKeyUsage=serverAuth\\n' > tls.ext`,
        'openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -extfile tls.ext -out tls.crt',
        `kubectl create namespace ${o.namespace} --dry-run=client -o yaml | kubectl apply -f -`,
        `kubectl -n ${o.namespace} create secret tls ${o.service}-tls --cert=tls.crt --key=tls.key`,
        ...(o.caBundle ? [] : ['# then write these manifests again with --ca-bundle ca.crt']),
      ];
  return [
    ...steps,
    '# The configuration (productionRegistries, pssLevels) and the public key that signs approved images:',
    `kubectl -n ${o.namespace} create configmap ${o.service}-config --from-file=k8s.yaml --from-file=cosign.pub`,
  ];
}

/** The whole file: a commented header with the set-up steps, then one YAML document per object. */
export function webhookManifests(o: ManifestOptions): string {
  const header = [
    `Portcullis admission webhook: namespace ${o.namespace}, service ${o.service}, mode ${o.mode}.`,
    'failurePolicy is Fail: while no replica answers, pods outside this namespace and kube-system are refused.',
    '',
    ...setupCommands(o).map((l) => (l.startsWith('# ') ? l.slice(2) : `  ${l}`)),
  ];
  const docs = webhookObjects(o).map((x) => yaml().stringify(x, { lineWidth: 0 }).trimEnd());
  return `${header.map((l) => `# ${l}`.trimEnd()).join('\n')}\n---\n${docs.join('\n---\n')}\n`;
}
