import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CACHE } from './paths.js';
import { freePort, makePki } from './registry.js';

/** The kube-apiserver the test setup builds from its Go module (scripts/setup-test-env.sh). */
export function kubeApiserverBinary(): string {
  const bin = join(CACHE, 'go', 'bin', 'kube-apiserver');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run 'npm run setup' first (it builds kube-apiserver once)`);
  return bin;
}

/**
 * A real Kubernetes control plane's API on 127.0.0.1: Debian's etcd and kube-apiserver (built from k8s.io/kubernetes),
 * TLS from a test CA, static-token authentication, RBAC authorisation. No controllers and no scheduler run: the API
 * holds exactly the objects a test creates (a Deployment makes no ReplicaSet, a Pod is never scheduled unless it names
 * its node). Tokens: `admin` (system:masters), `reader` (nothing granted: a test binds what it needs).
 */
export interface TestCluster {
  readonly url: string;
  readonly caCert: string;
  /** Write a kubeconfig for one of the tokens (and optional extra cluster settings) and return its path. */
  kubeconfig(user: 'admin' | 'reader', extra?: { readonly insecure?: boolean; readonly server?: string }): string;
  /** POST an object (as admin) to its collection; resolves with the created object. */
  create(obj: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** One request (as admin) to an API path: status, body and the response headers, for tests that read refusals. */
  request(method: string, path: string, body?: unknown): Promise<ApiReply>;
  stop(): Promise<void>;
}

export interface ApiReply {
  readonly status: number;
  readonly body: string;
  /** Header name (lowercase) to every value sent under it, in order (Warning comes once per warning). */
  readonly headers: Readonly<Record<string, readonly string[]>>;
}

export interface ClusterOptions {
  /** More kube-apiserver flags (`--name=value`), after the defaults. */
  readonly apiserverArgs?: readonly string[];
}

const TOKENS = { admin: 'admin-token-for-tests', reader: 'reader-token-for-tests' };

/** Where objects of a kind are created: core kinds under /api/v1, the others under /apis/GROUP/VERSION. */
const PLURAL: Record<string, string> = {
  Namespace: 'namespaces',
  Node: 'nodes',
  Pod: 'pods',
  ServiceAccount: 'serviceaccounts',
  ResourceQuota: 'resourcequotas',
  LimitRange: 'limitranges',
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
  ReplicaSet: 'replicasets',
  Job: 'jobs',
  CronJob: 'cronjobs',
  NetworkPolicy: 'networkpolicies',
  Role: 'roles',
  RoleBinding: 'rolebindings',
  ClusterRole: 'clusterroles',
  ClusterRoleBinding: 'clusterrolebindings',
  ConfigMap: 'configmaps',
};
const CLUSTER_SCOPED = new Set(['Namespace', 'Node', 'ClusterRole', 'ClusterRoleBinding']);

export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-kube-'));
  const pki = makePki(join(dir, 'pki'));
  const f = (n: string) => join(dir, n);
  execFileSync('openssl', ['genrsa', '-out', f('sa.key'), '2048'], { stdio: 'pipe' });
  execFileSync('openssl', ['rsa', '-in', f('sa.key'), '-pubout', '-out', f('sa.pub')], { stdio: 'pipe' });
  writeFileSync(f('tokens.csv'), `${TOKENS.admin},admin,1,"system:masters"\n${TOKENS.reader},reader,2,"readers"\n`);
  const [etcdClient, etcdPeer, port] = [await freePort(), await freePort(), await freePort()];
  const procs: ChildProcess[] = [];
  const logs: string[] = [];
  const start = (cmd: string, args: string[]) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => {
      logs.push(b.toString('utf8'));
      if (logs.length > 200) logs.shift();
    };
    p.stdout?.on('data', keep);
    p.stderr?.on('data', keep);
    procs.push(p);
    return p;
  };
  const stop = async () => {
    for (const p of procs.reverse()) {
      if (p.exitCode === null && p.signalCode === null) {
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    start('etcd', [
      `--data-dir=${f('etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--log-level=error',
    ]);
    start(kubeApiserverBinary(), [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${port}`,
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--token-auth-file=${f('tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${f('sa.pub')}`,
      `--service-account-signing-key-file=${f('sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/24',
      // No controller manager creates the default service accounts the admission plugin would wait for; and the
      // tests store insecure objects on purpose (what an audit must find), which Pod Security admission would refuse.
      '--disable-admission-plugins=ServiceAccount,PodSecurity',
      '--allow-privileged=true',
      '--enable-priority-and-fairness=false',
      '--v=0',
      ...(opts.apiserverArgs ?? []),
    ]);
    const url = `https://127.0.0.1:${port}`;
    const ca = readFileSync(pki.caCert);
    const call = (method: string, path: string, body?: unknown) =>
      new Promise<ApiReply>((resolve, reject) => {
        const req = request(
          `${url}${path}`,
          {
            method,
            ca,
            headers: { Authorization: `Bearer ${TOKENS.admin}`, 'Content-Type': 'application/json' },
            timeout: 30_000,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const headers: Record<string, string[]> = {};
              for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
                const name = (res.rawHeaders[i] as string).toLowerCase();
                headers[name] = [...(headers[name] ?? []), res.rawHeaders[i + 1] as string];
              }
              resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers });
            });
          },
        );
        req.on('error', reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    // Ready when /readyz answers 200 (RBAC bootstrap roles and the default namespace are in place by then).
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (procs.some((p) => p.exitCode !== null))
        throw new Error(`a control-plane process exited:\n${logs.join('').slice(-3000)}`);
      const ok = await call('GET', '/readyz').then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`kube-apiserver not ready in 120 s:\n${logs.join('').slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    // `default` is made by the API server's own bootstrap, shortly after readiness.
    for (;;) {
      if ((await call('GET', '/api/v1/namespaces/default')).status === 200) break;
      if (Date.now() > deadline) throw new Error('the default namespace did not appear');
      await new Promise((r) => setTimeout(r, 250));
    }
    return {
      url,
      caCert: pki.caCert,
      kubeconfig(user, extra = {}) {
        const file = f(`kubeconfig-${user}${extra.insecure ? '-insecure' : ''}${extra.server ? '-server' : ''}.yaml`);
        const cluster = extra.insecure
          ? { server: extra.server ?? url, 'insecure-skip-tls-verify': true }
          : { server: extra.server ?? url, 'certificate-authority-data': ca.toString('base64') };
        writeFileSync(
          file,
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'Config',
            clusters: [{ name: 'test', cluster }],
            users: [{ name: user, user: { token: TOKENS[user] } }],
            contexts: [{ name: `test-${user}`, context: { cluster: 'test', user } }],
            'current-context': `test-${user}`,
          }),
        );
        return file;
      },
      async create(obj) {
        const kind = String(obj.kind);
        const [group, version] = String(obj.apiVersion).includes('/')
          ? String(obj.apiVersion).split('/')
          : ['', String(obj.apiVersion)];
        const ns = (obj.metadata as { namespace?: string } | undefined)?.namespace ?? 'default';
        const plural = PLURAL[kind];
        if (!plural) throw new Error(`test cluster: no plural known for ${kind}`);
        const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
        const path = CLUSTER_SCOPED.has(kind) ? `${base}/${plural}` : `${base}/namespaces/${ns}/${plural}`;
        const r = await call('POST', path, obj);
        if (r.status !== 201) throw new Error(`create ${kind}: HTTP ${r.status}: ${r.body.slice(0, 500)}`);
        return JSON.parse(r.body) as Record<string, unknown>;
      },
      request: call,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
