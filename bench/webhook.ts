import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, makePki, startRegistry, type TestPki, type TestRegistry } from '../test/helpers/registry.js';
import { CLI, nodeProfileArgs, ROOT } from './env.js';
import type { FigureResult } from './figure.js';
import { assertOk, median, runChild } from './measure.js';

/*
 * Figure 11: `portcullis k8s webhook serve` (a child process, as it runs in a cluster) under a fixed load of 1,000
 * AdmissionReview requests a second on loopback, with verification cached (the image's signature and assessment were
 * fetched once, in the warm-up), against a bare node:https server answering a fixed response of the same size
 * (bench/webhook-echo.ts, also a child), runs interleaved. The load is open-loop (requests leave on a fixed schedule
 * whatever the answers do, keep-alive sockets as the API server keeps them), and each latency runs from handing the
 * request to the agent to the last byte of the answer.
 */

const TARGET = 3;
const RATE = 1000;
const SECONDS = 5;
const WARMUP_SECONDS = 1;
const CREDS = { user: 'bench', password: 'bench webhook password' };
const KEY_ENV = { COSIGN_PASSWORD: 'bench key password' };
const LAYOUT = join(ROOT, 'examples', 'debian-app', 'layout');
const ECHO = join(import.meta.dirname, 'webhook-echo.js');
const DIGEST = 'sha256:8cdbc04d4c8e3cde883c82e1344cf49c17da3af3701d3c03a5bd01ef75a8fcf0';

interface Load {
  readonly latencies: number[];
  readonly errors: number;
  readonly denied: number;
  readonly seconds: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Keep-alive sockets per server: opened in the warm-up, so TLS handshakes stay out of the timed rounds. */
const SOCKETS = 64;

/** `RATE` requests a second for `seconds`, open-loop, on the agent's sockets; every answer must say allowed. */
function fixedRate(port: number, agent: https.Agent, body: Buffer, seconds: number): Promise<Load> {
  const total = RATE * seconds;
  const interval = 1000 / RATE;
  const latencies: number[] = [];
  let errors = 0;
  let denied = 0;
  let done = 0;
  let sent = 0;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const finish = () => {
      if (++done < total) return;
      resolve({ latencies, errors, denied, seconds: (performance.now() - t0) / 1000 });
    };
    const fire = () => {
      const start = performance.now();
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: '/validate?timeout=10s',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            latencies.push(performance.now() - start);
            try {
              const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { response?: { allowed?: boolean } };
              if (res.statusCode !== 200 || doc.response?.allowed !== true) denied++;
            } catch {
              denied++;
            }
            finish();
          });
        },
      );
      req.on('error', () => {
        errors++;
        finish();
      });
      req.end(body);
    };
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - t0) / interval) + 1);
      while (sent < due) {
        sent++;
        fire();
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}

/** A pod as the API server sends it for a Deployment's ReplicaSet: metadata, owner, restricted security context. */
function review(image: string): Buffer {
  const labels = { app: 'api', 'pod-template-hash': '7d9f8c6b5d', 'app.kubernetes.io/part-of': 'shop' };
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'api-7d9f8c6b5d-',
      namespace: 'shop',
      labels,
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'api-7d9f8c6b5d',
          uid: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
      serviceAccountName: 'api',
      containers: [
        {
          name: 'api',
          image,
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 5 },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
          volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
        },
      ],
      volumes: [{ name: 'tmp', emptyDir: {} }],
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
  };
  return Buffer.from(
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        requestKind: { group: '', version: 'v1', kind: 'Pod' },
        requestResource: { group: '', version: 'v1', resource: 'pods' },
        namespace: 'shop',
        operation: 'CREATE',
        userInfo: {
          username: 'system:serviceaccount:kube-system:replicaset-controller',
          groups: ['system:serviceaccounts'],
        },
        object: pod,
        oldObject: null,
        dryRun: false,
        options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      },
    }),
  );
}

/**
 * Start a child server with its output in a file (as a container runtime keeps a pod's log: a pipe to this busy
 * process would block its writes) and wait for `ready` there.
 */
async function startChild(args: string[], ready: RegExp, logFile: string): Promise<ChildProcess> {
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  for (let i = 0; ; i++) {
    const out = readFileSync(logFile, 'utf8');
    if (ready.test(out)) return child;
    if (child.exitCode !== null || i > 600) {
      child.kill();
      throw new Error(`server did not start (exit ${child.exitCode}): ${out.slice(0, 2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });
}

async function prepare(tmp: string, reg: TestRegistry): Promise<{ image: string; pub: string }> {
  execFileSync(
    'skopeo',
    [
      'copy',
      '--quiet',
      '--preserve-digests',
      '--dest-cert-dir',
      reg.certDir as string,
      '--dest-creds',
      `${CREDS.user}:${CREDS.password}`,
      `oci:${LAYOUT}:latest`,
      `docker://${reg.host}/prod/api:1`,
    ],
    { stdio: 'pipe' },
  );
  const conn = ['--ca-cert', reg.pki?.caCert as string, '--creds', `${CREDS.user}:${CREDS.password}`];
  const cli = async (args: string[]) =>
    assertOk(await runChild(process.execPath, [CLI, ...args], { env: KEY_ENV }), args[0] as string);
  await cli(['keygen', '--output-key-prefix', join(tmp, 'gate')]);
  await cli(['sign', `docker://${reg.host}/prod/api:1`, '--key', join(tmp, 'gate.key'), ...conn]);
  const predicate = join(tmp, 'pass.json');
  writeFileSync(predicate, JSON.stringify({ decision: 'PASS', assessedAt: new Date().toISOString() }));
  await cli([
    'attest',
    `docker://${reg.host}/prod/api:1`,
    '--key',
    join(tmp, 'gate.key'),
    '--predicate',
    predicate,
    ...conn,
  ]);
  return { image: `${reg.host}/prod/api@${DIGEST}`, pub: join(tmp, 'gate.pub') };
}

export async function webhookFigure(runs: number, log: (m: string) => void): Promise<FigureResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'portcullis-bench-webhook-'));
  let reg: TestRegistry | undefined;
  let webhook: ChildProcess | undefined;
  let echo: ChildProcess | undefined;
  let agents: Record<'echo' | 'webhook', https.Agent> | undefined;
  try {
    reg = await startRegistry({ tls: true, auth: CREDS });
    const { image, pub } = await prepare(tmp, reg);
    const pki: TestPki = makePki(join(tmp, 'pki'));
    const config = join(tmp, 'k8s.yaml');
    writeFileSync(
      config,
      `apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\npssLevel: restricted\nproductionRegistries: [${reg.host}/prod/**]\n`,
    );
    const [webhookPort, echoPort] = [await freePort(), await freePort()];
    webhook = await startChild(
      [
        ...nodeProfileArgs(),
        CLI,
        'k8s',
        'webhook',
        'serve',
        '--config',
        config,
        '--tls-cert',
        pki.serverCert,
        '--tls-key',
        pki.serverKey,
        '--listen',
        `127.0.0.1:${webhookPort}`,
        '--key',
        pub,
        '--ca-cert',
        reg.pki?.caCert as string,
        '--creds',
        `${CREDS.user}:${CREDS.password}`,
      ],
      /"event":"listening"/,
      join(tmp, 'webhook.log'),
    );
    const body = review(image);
    // The echo answers what the webhook answers for this request (same uid, allowed), byte for byte in size.
    const response = join(tmp, 'response.json');
    writeFileSync(
      response,
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true },
      }),
    );
    echo = await startChild(
      [ECHO, pki.serverCert, pki.serverKey, String(echoPort), response],
      /listening/,
      join(tmp, 'echo.log'),
    );
    const ca = readFileSync(pki.caCert);
    const targets = { echo: echoPort, webhook: webhookPort } as const;
    agents = {
      echo: new https.Agent({ keepAlive: true, maxSockets: SOCKETS, ca }),
      webhook: new https.Agent({ keepAlive: true, maxSockets: SOCKETS, ca }),
    };
    log(`figure 11: warm-up (${WARMUP_SECONDS} s each; the webhook verifies the image once)`);
    for (const [name, port] of Object.entries(targets) as [keyof typeof targets, number][]) {
      const w = await fixedRate(port, agents[name], body, WARMUP_SECONDS);
      if (w.errors + w.denied > 0)
        throw new Error(`warm-up on port ${port}: ${w.errors} errors, ${w.denied} not allowed`);
    }
    const regFrom = reg.log().length;
    const p50: Record<keyof typeof targets, number[]> = { echo: [], webhook: [] };
    const p99: Record<keyof typeof targets, number[]> = { echo: [], webhook: [] };
    const achieved: number[] = [];
    for (let r = 0; r < runs; r++) {
      for (const [name, port] of Object.entries(targets) as [keyof typeof targets, number][]) {
        (globalThis as { gc?: () => void }).gc?.();
        const load = await fixedRate(port, agents[name], body, SECONDS);
        if (load.errors + load.denied > 0) {
          throw new Error(`${name}: ${load.errors} errors and ${load.denied} answers not allowed in round ${r + 1}`);
        }
        const sorted = [...load.latencies].sort((a, b) => a - b);
        p50[name].push(percentile(sorted, 50));
        p99[name].push(percentile(sorted, 99));
        achieved.push(load.latencies.length / load.seconds);
      }
      log(
        `figure 11: round ${r + 1}/${runs}: p99 echo ${p99.echo.at(-1)?.toFixed(2)} ms, webhook ${p99.webhook.at(-1)?.toFixed(2)} ms`,
      );
    }
    const registryRequests = [
      ...reg
        .log()
        .slice(regFrom)
        .matchAll(/"(GET|HEAD) (\S+) HTTP/g),
    ].length;
    const ours = median(p99.webhook);
    const floor = median(p99.echo);
    const ratio = ours / floor;
    const ms = (x: number) => `${x.toFixed(2)} ms`;
    return {
      id: 11,
      title: `k8s webhook under ${RATE.toLocaleString('en')} AdmissionReview requests/s on loopback (verification cached)`,
      rows: [
        {
          measure: "p99 latency, 'k8s webhook serve' vs a bare node:https echo (same TLS, same body, fixed answer)",
          ours: ms(ours),
          reference: ms(floor),
          ratio,
          target: `<= ${TARGET}x`,
          met: ratio <= TARGET,
        },
        {
          measure: 'p50 latency, same runs',
          ours: ms(median(p50.webhook)),
          reference: ms(median(p50.echo)),
          ratio: median(p50.webhook) / median(p50.echo),
          target: 'informative',
        },
      ],
      notes: [
        `medians of ${runs} interleaved rounds of ${SECONDS} s per server at ${RATE}/s (open loop, up to ${SOCKETS} keep-alive sockets opened in the warm-up); p99 webhook ${p99.webhook.map((x) => x.toFixed(2)).join(', ')} ms; echo ${p99.echo.map((x) => x.toFixed(2)).join(', ')} ms`,
        `request ${body.length} bytes (a ReplicaSet's pod); every answer checked allowed; rate achieved ${Math.min(...achieved).toFixed(0)}-${Math.max(...achieved).toFixed(0)}/s; registry requests during the timed rounds: ${registryRequests} (verification served from the cache)`,
        'the webhook parses the review, runs the Pod Security, placement and image checks at restricted, looks the image up in its cache and counts the admission (denials are logged one line each); the echo reads the body and answers fixed bytes',
      ],
      data: { rate: RATE, seconds: SECONDS, p50, p99, ratio, registryRequests, requestBytes: body.length },
    };
  } finally {
    agents?.echo.destroy();
    agents?.webhook.destroy();
    await stop(webhook);
    await stop(echo);
    await reg?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}
