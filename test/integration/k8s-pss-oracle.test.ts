import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PssLevel } from '../../src/k8s/config.js';
import { parseManifests } from '../../src/k8s/load.js';
import type { K8sObject } from '../../src/k8s/model.js';
import { evaluatePss, PSS_CHECK_IDS } from '../../src/k8s/pss/evaluate.js';
import { workloadOf } from '../../src/k8s/workload.js';
import { CACHE } from '../helpers/paths.js';

/**
 * Differential test: Portcullis's Pod Security Standards against k8s.io/pod-security-admission's own policy package
 * at version "latest" (test/fixtures/pss-oracle, v0.37.2, built by scripts/setup-test-env.sh). Generated pods mix
 * every field the checks read, at pod and container level, in regular, init and ephemeral containers; the failing
 * check ids must be the same at baseline and at restricted.
 */
const ORACLE = join(CACHE, 'go', 'bin', 'pssoracle');
const RUNS = Number(process.env.PSS_ORACLE_RUNS ?? 400);
// Seeded so that the coverage assertions below (every check reached, pods passing each level) hold on every run;
// PSS_ORACLE_SEED explores other samples.
const SEED = Number(process.env.PSS_ORACLE_SEED ?? 20261129);
const BATCH = 25;

type Obj = Record<string, unknown>;
interface Answer {
  baseline: string[];
  restricted: string[];
}

function oracle(pods: readonly Obj[]): Answer[] {
  const r = spawnSync(ORACLE, [], {
    input: `${pods.map((p) => JSON.stringify(p)).join('\n')}\n`,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`pssoracle failed: ${r.stderr}`);
  return r.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Answer);
}

function ours(pod: Obj, level: PssLevel): string[] {
  const { objects, errors } = parseManifests(JSON.stringify(pod), 'pod.json');
  expect(errors).toEqual([]);
  const w = workloadOf(objects[0] as K8sObject);
  if (!w) throw new Error('no workload');
  return [...new Set(evaluatePss(w, level).map((v) => v.check))].sort();
}

/** Optional fields: absent, null (a nil pointer to Go), or a value. */
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null | undefined> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 3, arbitrary: a },
  );
const bool = opt(fc.boolean());
const some = <T>(xs: readonly T[], max = 3) => fc.subarray([...xs], { maxLength: max });

const CAPS = ['NET_BIND_SERVICE', 'CHOWN', 'SYS_ADMIN', 'NET_RAW', 'net_bind_service', 'chown', 'KILL', 'ALL'];
const profile = (types: readonly string[]) =>
  opt(fc.record({ type: opt(fc.constantFrom(...types)) }, { requiredKeys: [] }));
const seLinux = opt(
  fc.record(
    {
      type: opt(fc.constantFrom('', 'container_t', 'container_engine_t', 'spc_t', 'container_kvm_t')),
      user: opt(fc.constantFrom('', 'system_u')),
      role: opt(fc.constantFrom('', 'system_r')),
      level: opt(fc.constantFrom('s0:c1,c2')),
    },
    { requiredKeys: [] },
  ),
);
const runAsUser = opt(fc.constantFrom(0, 1000, 65534));
const windowsOptions = opt(fc.record({ hostProcess: bool }, { requiredKeys: [] }));

const containerSc = opt(
  fc.record(
    {
      privileged: bool,
      allowPrivilegeEscalation: bool,
      capabilities: opt(
        fc.record({ add: opt(some(CAPS)), drop: opt(some(['ALL', 'all', 'NET_RAW'])) }, { requiredKeys: [] }),
      ),
      procMount: opt(fc.constantFrom('Default', 'Unmasked', '')),
      seccompProfile: profile(['RuntimeDefault', 'Localhost', 'Unconfined', '']),
      appArmorProfile: profile(['RuntimeDefault', 'Localhost', 'Unconfined', '']),
      seLinuxOptions: seLinux,
      runAsNonRoot: bool,
      runAsUser,
      windowsOptions,
    },
    { requiredKeys: [] },
  ),
);

const host = opt(fc.constantFrom('', '10.0.0.1', 'example.com'));
const handler = opt(
  fc.oneof(
    fc.record({ httpGet: fc.record({ port: fc.constant(80), host }, { requiredKeys: ['port'] }) }),
    fc.record({ tcpSocket: fc.record({ port: fc.constant(80), host }, { requiredKeys: ['port'] }) }),
    fc.record({ exec: fc.constant({ command: ['true'] }) }),
  ),
);

const containerBody = fc.record(
  {
    image: fc.constant('registry.example.com/app@sha256:00'),
    securityContext: containerSc,
    ports: opt(
      fc.array(
        fc.record(
          { containerPort: fc.constant(8080), hostPort: opt(fc.constantFrom(0, 8080, 80)) },
          { requiredKeys: ['containerPort'] },
        ),
        { maxLength: 2 },
      ),
    ),
    livenessProbe: handler,
    readinessProbe: handler,
    startupProbe: handler,
    lifecycle: opt(fc.record({ postStart: handler, preStop: handler }, { requiredKeys: [] })),
  },
  { requiredKeys: ['image'] },
);
const containers = (prefix: string, min: number) =>
  fc
    .array(containerBody, { minLength: min, maxLength: 3 })
    .map((cs) => cs.map((c, i) => ({ name: `${prefix}${i}`, ...c })));

const VOLUMES: Obj[] = [
  { emptyDir: {} },
  { configMap: { name: 'c' } },
  { secret: { secretName: 's' } },
  { persistentVolumeClaim: { claimName: 'p' } },
  { projected: { sources: [] } },
  { csi: { driver: 'd' } },
  { ephemeral: {} },
  { image: { reference: 'x' } },
  { downwardAPI: {} },
  { hostPath: { path: '/var/run/docker.sock' } },
  { nfs: { server: 's', path: '/' } },
  { gitRepo: { repository: 'r' } },
  { iscsi: { targetPortal: 't', iqn: 'i', lun: 0 } },
  { cephfs: { monitors: ['m'] } },
  { azureFile: { secretName: 's', shareName: 'x' } },
  { hostPath: { path: '/data' }, emptyDir: {} },
  { emptyDir: null, nfs: { server: 's', path: '/' } },
  {},
];

const SYSCTLS = [
  'kernel.shm_rmid_forced',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_notsent_lowat',
  'net.ipv4.tcp_slow_start_after_idle',
  'net.ipv4.ip_local_reserved_ports',
  'kernel.msgmax',
  'net.core.somaxconn',
];

const APPARMOR = 'container.apparmor.security.beta.kubernetes.io/';

const pods: fc.Arbitrary<Obj> = fc
  .record({
    spec: fc.record(
      {
        hostNetwork: bool,
        hostPID: bool,
        hostIPC: bool,
        hostUsers: bool,
        os: opt(fc.record({ name: fc.constantFrom('linux', 'windows') })),
        securityContext: opt(
          fc.record(
            {
              runAsNonRoot: bool,
              runAsUser,
              seccompProfile: profile(['RuntimeDefault', 'Localhost', 'Unconfined', '']),
              appArmorProfile: profile(['RuntimeDefault', 'Localhost', 'Unconfined']),
              seLinuxOptions: seLinux,
              sysctls: opt(some(SYSCTLS, 2).map((ns) => ns.map((name) => ({ name, value: '1' })))),
              windowsOptions,
            },
            { requiredKeys: [] },
          ),
        ),
        volumes: opt(some(VOLUMES, 2).map((vs) => vs.map((v, i) => ({ name: `v${i}`, ...v })))),
        initContainers: opt(containers('init', 0)),
        containers: containers('c', 1),
        ephemeralContainers: opt(containers('debug', 0)),
      },
      { requiredKeys: ['containers'] },
    ),
    annotations: opt(
      fc.dictionary(
        fc.constantFrom(`${APPARMOR}c0`, `${APPARMOR}other`, 'seccomp.security.alpha.kubernetes.io/pod', 'team'),
        fc.constantFrom('', 'runtime/default', 'localhost/p', 'unconfined', 'x'),
        { maxKeys: 2 },
      ),
    ),
  })
  .map(({ spec, annotations }) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns', ...(annotations ? { annotations } : {}) },
    spec,
  }));

describe('Pod Security Standards against k8s.io/pod-security-admission', () => {
  it('the oracle is built', () => {
    expect(existsSync(ORACLE), `${ORACLE} is missing: run 'npm run setup'`).toBe(true);
  });

  it(`gives the same failing checks at baseline and restricted on ${RUNS} generated pods`, () => {
    const seen = new Map<string, number>();
    let passedBaseline = 0;
    let passedRestricted = 0;
    let compared = 0;
    // Pods go to the oracle in batches (one process each); a mismatch names the one pod that differs.
    fc.assert(
      fc.property(fc.array(pods, { minLength: BATCH, maxLength: BATCH }), (batch) => {
        const answers = oracle(batch);
        batch.forEach((pod, i) => {
          const want = answers[i] as Answer;
          expect({ baseline: ours(pod, 'baseline'), restricted: ours(pod, 'restricted') }, JSON.stringify(pod)).toEqual(
            want,
          );
          compared++;
          for (const id of new Set([...want.baseline, ...want.restricted])) seen.set(id, (seen.get(id) ?? 0) + 1);
          if (want.baseline.length === 0) passedBaseline++;
          if (want.restricted.length === 0) passedRestricted++;
        });
      }),
      { numRuns: Math.ceil(RUNS / BATCH), seed: SEED },
    );
    expect(compared).toBe(Math.ceil(RUNS / BATCH) * BATCH);
    // The generator reaches every check, failing and passing.
    expect([...seen.keys()].sort()).toEqual([...PSS_CHECK_IDS].sort());
    expect(passedBaseline).toBeGreaterThan(0);
    expect(passedRestricted).toBeGreaterThan(0);
  });

  it('agrees on hand-picked edge cases', () => {
    const edge: Obj[] = [
      {
        spec: {
          os: { name: 'windows' },
          containers: [
            {
              name: 'c',
              securityContext: { capabilities: { add: ['SYS_ADMIN'] }, seccompProfile: { type: 'Unconfined' } },
            },
          ],
        },
      },
      {
        spec: {
          hostUsers: false,
          containers: [{ name: 'c', securityContext: { procMount: 'Unmasked', runAsUser: 0, runAsNonRoot: false } }],
        },
      },
      {
        spec: {
          containers: [
            {
              name: 'c',
              ports: [{ containerPort: 1, hostPort: 0 }],
              securityContext: { capabilities: { drop: ['all'] } },
            },
          ],
        },
      },
      {
        spec: {
          securityContext: { seccompProfile: {} },
          containers: [{ name: 'c', securityContext: { appArmorProfile: {} } }],
        },
      },
      {
        spec: {
          volumes: [{ name: 'x' }],
          containers: [{ name: 'c', lifecycle: { preStop: { tcpSocket: { port: 1, host: 'h' } } } }],
        },
      },
      {
        spec: {
          securityContext: { sysctls: [{ name: 'net.ipv4.tcp_wmem', value: '1' }] },
          containers: [{ name: 'c' }],
        },
      },
    ].map((p) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'e' }, ...p }));
    const want = oracle(edge);
    expect(edge.map((p) => ({ baseline: ours(p, 'baseline'), restricted: ours(p, 'restricted') }))).toEqual(want);
  });
});
