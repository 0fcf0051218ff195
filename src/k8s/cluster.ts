/**
 * Read the live cluster through the user's kubeconfig (`@kubernetes/client-node` resolves contexts, certificates,
 * tokens and exec credential plugins), listing every kind the checks read as raw JSON: the typed client models drop
 * fields they do not know, and a security field newer than the client (a new securityContext member) must not
 * vanish. Lists are paged; a kind that cannot be listed (forbidden, not served) makes the audit incomplete, never clean.
 */
import type { IncomingMessage } from 'node:http';
import { type RequestOptions, request } from 'node:https';
import { PortcullisError, printable } from '../errors.js';
import { MAX_OBJECTS } from './load.js';
import { asArray, asRecord, type K8sLoadError, type K8sObject, objectProblem, toObject } from './model.js';

/** What is listed: group/version, the resource's plural, and whether it lives in namespaces. */
export const CLUSTER_KINDS: readonly { readonly gv: string; readonly plural: string; readonly kind: string }[] = [
  { gv: 'v1', plural: 'namespaces', kind: 'Namespace' },
  { gv: 'v1', plural: 'nodes', kind: 'Node' },
  { gv: 'v1', plural: 'pods', kind: 'Pod' },
  { gv: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount' },
  { gv: 'v1', plural: 'resourcequotas', kind: 'ResourceQuota' },
  { gv: 'v1', plural: 'limitranges', kind: 'LimitRange' },
  { gv: 'v1', plural: 'replicationcontrollers', kind: 'ReplicationController' },
  { gv: 'apps/v1', plural: 'deployments', kind: 'Deployment' },
  { gv: 'apps/v1', plural: 'replicasets', kind: 'ReplicaSet' },
  { gv: 'apps/v1', plural: 'statefulsets', kind: 'StatefulSet' },
  { gv: 'apps/v1', plural: 'daemonsets', kind: 'DaemonSet' },
  { gv: 'batch/v1', plural: 'jobs', kind: 'Job' },
  { gv: 'batch/v1', plural: 'cronjobs', kind: 'CronJob' },
  { gv: 'networking.k8s.io/v1', plural: 'networkpolicies', kind: 'NetworkPolicy' },
  { gv: 'rbac.authorization.k8s.io/v1', plural: 'roles', kind: 'Role' },
  { gv: 'rbac.authorization.k8s.io/v1', plural: 'rolebindings', kind: 'RoleBinding' },
  { gv: 'rbac.authorization.k8s.io/v1', plural: 'clusterroles', kind: 'ClusterRole' },
  { gv: 'rbac.authorization.k8s.io/v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding' },
];

/** Objects per page, as kubectl pages. */
const PAGE = 500;
/** One page's body; a page of 500 objects is a few MiB at most. */
const MAX_PAGE_BYTES = 64 * 1024 * 1024;
/** Per request: an API server that stops answering must not hang the audit. */
const TIMEOUT_MS = 60_000;

export interface ClusterOptions {
  /** A kubeconfig file; default KUBECONFIG, else ~/.kube/config. */
  readonly kubeconfig?: string;
  /** A context in it; default its current-context. */
  readonly context?: string;
}

export interface ClusterLoaded {
  readonly objects: K8sObject[];
  readonly errors: K8sLoadError[];
  /** How the source is named in reports: `cluster:CONTEXT`. */
  readonly files: string[];
}

type Client = { readonly server: URL; readonly options: RequestOptions; readonly shown: string };

async function client(opts: ClusterOptions): Promise<Client> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    if (opts.kubeconfig !== undefined) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
    if (opts.context !== undefined) kc.setCurrentContext(opts.context);
  } catch (err) {
    throw new PortcullisError(
      'CONFIG_INVALID',
      `kubeconfig: ${printable(String((err as Error)?.message ?? err), 200)}`,
    );
  }
  const context = kc.getCurrentContext();
  const cluster = kc.getCurrentCluster();
  if (!cluster || !context)
    throw new PortcullisError(
      'CONFIG_INVALID',
      `kubeconfig: ${opts.context !== undefined ? `no context '${printable(opts.context, 100)}'` : 'no current context'} with a cluster`,
    );
  let server: URL;
  try {
    server = new URL(cluster.server);
  } catch {
    throw new PortcullisError(
      'CONFIG_INVALID',
      `kubeconfig: cluster ${printable(cluster.name, 100)}: server is not a URL`,
    );
  }
  if (server.protocol !== 'https:')
    throw new PortcullisError(
      'CONFIG_INVALID',
      `kubeconfig: cluster ${printable(cluster.name, 100)}: the API server is reached over HTTPS only, not ${server.protocol}`,
    );
  if (cluster.skipTLSVerify)
    throw new PortcullisError(
      'CONFIG_INVALID',
      `kubeconfig: cluster ${printable(cluster.name, 100)} sets insecure-skip-tls-verify: give its CA (certificate-authority) instead`,
    );
  const options: RequestOptions = { headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(options);
  return { server, options, shown: `cluster:${context}` };
}

/** Read every listed kind of the current (or given) context, as objects in the same shape files give. */
export async function loadCluster(opts: ClusterOptions = {}): Promise<ClusterLoaded> {
  const c = await client(opts);
  const out: ClusterLoaded = { objects: [], errors: [], files: [c.shown] };
  let n = 0;
  for (const k of CLUSTER_KINDS) {
    const base = `${k.gv === 'v1' ? '/api/v1' : `/apis/${k.gv}`}/${k.plural}`;
    let cont: string | undefined;
    let page = 0;
    do {
      const path = `${base}?limit=${PAGE}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`;
      const r = await getJson(c, path);
      if ('error' in r) {
        out.errors.push({ file: c.shown, line: 1, column: 1, message: `${k.plural}.${k.gv}: ${r.error}` });
        break;
      }
      const list = asRecord(r.value);
      const items = asArray(list?.items);
      for (const item of items) {
        // List items carry no kind or apiVersion: the list says them.
        const raw = { apiVersion: k.gv, kind: k.kind, ...asRecord(item) };
        const o = toObject(raw, { file: c.shown, doc: page, item: n }, () => ({ line: 1, column: 1 }));
        if (!o) {
          // Never dropped silently: an object not read is an incomplete audit.
          out.errors.push({ file: c.shown, line: 1, column: 1, message: `${k.plural}.${k.gv}: ${objectProblem(raw)}` });
          continue;
        }
        if (++n > MAX_OBJECTS) {
          out.errors.push({
            file: c.shown,
            line: 1,
            column: 1,
            message: `more than ${MAX_OBJECTS} objects: not all were read`,
          });
          return out;
        }
        out.objects.push(o);
      }
      const meta = asRecord(list?.metadata);
      cont = typeof meta?.continue === 'string' && meta.continue !== '' ? meta.continue : undefined;
      page++;
    } while (cont);
  }
  return out;
}

function getJson(c: Client, path: string): Promise<{ value: unknown } | { error: string }> {
  const url = new URL(path, c.server);
  return new Promise((resolve) => {
    const req = request(url, { ...c.options, method: 'GET', timeout: TIMEOUT_MS }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (b: Buffer) => {
        size += b.length;
        if (size > MAX_PAGE_BYTES) {
          res.destroy();
          resolve({ error: `a page larger than ${MAX_PAGE_BYTES / 1024 / 1024} MiB` });
          return;
        }
        chunks.push(b);
      });
      res.on('error', (e: Error) => resolve({ error: printable(e.message, 160) }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          let why = '';
          try {
            const s = asRecord(JSON.parse(text));
            if (typeof s?.message === 'string') why = `: ${printable(s.message, 200)}`;
          } catch {
            // not a Status object
          }
          resolve({ error: `HTTP ${res.statusCode}${why}` });
          return;
        }
        try {
          resolve({ value: JSON.parse(text) });
        } catch {
          resolve({ error: 'the answer is not JSON' });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (e) => resolve({ error: printable(e.message, 160) }));
    req.end();
  });
}
