import { describe, expect, it } from 'vitest';
import { runK8sRules } from '../../src/k8s/audit.js';
import { DEFAULT_K8S_CONFIG, type PssLevel } from '../../src/k8s/config.js';
import { parseManifests } from '../../src/k8s/load.js';
import type { K8sObject } from '../../src/k8s/model.js';
import { evaluatePss, PSS_CHECK_IDS, pssLevelFor } from '../../src/k8s/pss/evaluate.js';
import { PSS_RULES } from '../../src/k8s/pss/index.js';
import { type K8sContext, ObjectIndex } from '../../src/k8s/rule.js';
import { type Workload, workloadOf } from '../../src/k8s/workload.js';

/**
 * Pod Security Standards per check, positive and negative, from the published policy (kubernetes.io "Pod Security
 * Standards" and pod-security-admission's check documentation at policy version "latest", v1.37).
 */

type Obj = Record<string, unknown>;

function objects(docs: readonly Obj[]): K8sObject[] {
  const r = parseManifests(docs.map((d) => JSON.stringify(d)).join('\n---\n'), 'm.yaml');
  expect(r.errors).toEqual([]);
  return r.objects;
}

function workload(o: Obj): Workload {
  const w = workloadOf(objects([o])[0] as K8sObject);
  if (!w) throw new Error('no workload');
  return w;
}

const podOf = (spec: Obj, metadata: Obj = {}): Obj => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'ns', ...metadata },
  spec,
});

/** A pod that meets restricted: the negative every positive below differs from by one field. */
const RESTRICTED_SC = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};
const restrictedSpec = (over: Obj = {}, container: Obj = {}): Obj => ({
  securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
  containers: [{ name: 'app', image: 'x', securityContext: { ...RESTRICTED_SC }, ...container }],
  ...over,
});

function ids(spec: Obj, level: PssLevel, metadata: Obj = {}): string[] {
  return [...new Set(evaluatePss(workload(podOf(spec, metadata)), level).map((v) => v.check))].sort();
}

const app = (sc: Obj, extra: Obj = {}): Obj => ({ name: 'app', image: 'x', securityContext: sc, ...extra });

describe('the restricted negative', () => {
  it('passes both levels, and a minimal pod passes baseline', () => {
    expect(ids(restrictedSpec(), 'restricted')).toEqual([]);
    expect(ids(restrictedSpec(), 'baseline')).toEqual([]);
    expect(ids({ containers: [{ name: 'c', image: 'x' }] }, 'baseline')).toEqual([]);
  });
  it('fails restricted on a minimal pod with the four checks upstream names', () => {
    expect(ids({ containers: [{ name: 'c', image: 'x' }] }, 'restricted')).toEqual([
      'allowPrivilegeEscalation',
      'capabilities_restricted',
      'runAsNonRoot',
      'seccompProfile_restricted',
    ]);
  });
});

describe('baseline checks', () => {
  it('hostNamespaces: each of hostNetwork, hostPID, hostIPC; false is allowed', () => {
    for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) {
      expect(ids(restrictedSpec({ [k]: true }), 'baseline')).toEqual(['hostNamespaces']);
      expect(ids(restrictedSpec({ [k]: true }), 'restricted')).toEqual(['hostNamespaces']);
      expect(ids(restrictedSpec({ [k]: false }), 'baseline')).toEqual([]);
    }
    // At restricted a baseline check keeps its own level.
    const [atRestricted] = evaluatePss(workload(podOf(restrictedSpec({ hostNetwork: true }))), 'restricted');
    expect([atRestricted?.check, atRestricted?.level]).toEqual(['hostNamespaces', 'baseline']);
    const v = evaluatePss(workload(podOf(restrictedSpec({ hostPID: true, hostIPC: true }))), 'baseline');
    expect(v.map((x) => x.path)).toEqual([
      ['spec', 'hostPID'],
      ['spec', 'hostIPC'],
    ]);
  });

  it('privileged: in regular, init and ephemeral containers; false is allowed', () => {
    for (const field of ['containers', 'initContainers', 'ephemeralContainers']) {
      const spec = restrictedSpec({ [field]: [app({ ...RESTRICTED_SC, privileged: true })] });
      expect(ids(spec, 'baseline')).toEqual(['privileged']);
    }
    expect(ids(restrictedSpec({}, { securityContext: { ...RESTRICTED_SC, privileged: false } }), 'baseline')).toEqual(
      [],
    );
    const [v] = evaluatePss(
      workload(podOf({ initContainers: [{ name: 'setup', image: 'x', securityContext: { privileged: true } }] })),
      'baseline',
    );
    expect(v?.message).toBe('init container "setup" must not set securityContext.privileged=true');
    expect(v?.path).toEqual(['spec', 'initContainers', 0, 'securityContext', 'privileged']);
  });

  it('capabilities_baseline: the default set only, in upper case', () => {
    const withAdd = (add: unknown[]) => ({ containers: [app({ capabilities: { add } })] });
    expect(ids(withAdd(['NET_BIND_SERVICE', 'CHOWN', 'SETUID', 'SYS_CHROOT', 'AUDIT_WRITE']), 'baseline')).toEqual([]);
    expect(ids(withAdd(['SYS_ADMIN']), 'baseline')).toEqual(['capabilities_baseline']);
    expect(ids(withAdd(['NET_RAW']), 'baseline')).toEqual(['capabilities_baseline']);
    // Upstream compares exactly: a lower-case name is not in the default set.
    expect(ids(withAdd(['chown']), 'baseline')).toEqual(['capabilities_baseline']);
    const [v] = evaluatePss(workload(podOf(withAdd(['CHOWN', 'SYS_ADMIN', 'NET_ADMIN']))), 'baseline');
    expect(v?.message).toBe(
      'container "app" must not include "SYS_ADMIN", "NET_ADMIN" in securityContext.capabilities.add',
    );
    expect(v?.path).toEqual(['spec', 'containers', 0, 'securityContext', 'capabilities', 'add', 1]);
    // Dropping is always allowed at baseline.
    expect(ids({ containers: [app({ capabilities: { drop: ['ALL'] } })] }, 'baseline')).toEqual([]);
  });

  it('hostPathVolumes: any hostPath; other volumes are not baseline findings', () => {
    const spec = (vol: Obj) => restrictedSpec({ volumes: [{ name: 'v', ...vol }] });
    expect(ids(spec({ hostPath: { path: '/var/log' } }), 'baseline')).toEqual(['hostPathVolumes']);
    expect(ids(spec({ emptyDir: {} }), 'baseline')).toEqual([]);
    expect(ids(spec({ nfs: { server: 's', path: '/' } }), 'baseline')).toEqual([]);
    const [log] = evaluatePss(workload(podOf(spec({ hostPath: { path: '/var/log' } }))), 'baseline');
    expect(log?.severity).toBeUndefined();
    const [sock] = evaluatePss(workload(podOf(spec({ hostPath: { path: '/var/run/docker.sock' } }))), 'baseline');
    expect(sock?.severity).toBe('critical');
    expect(sock?.path).toEqual(['spec', 'volumes', 0, 'hostPath']);
  });

  it('hostPorts: non-zero only; 0 and unset are allowed; init containers too', () => {
    const spec = (ports: Obj[], field = 'containers') =>
      restrictedSpec({ [field]: [{ ...app(RESTRICTED_SC), ports }] });
    expect(ids(spec([{ containerPort: 80, hostPort: 8080 }]), 'baseline')).toEqual(['hostPorts']);
    expect(ids(spec([{ containerPort: 80, hostPort: 8080 }], 'initContainers'), 'baseline')).toEqual(['hostPorts']);
    expect(ids(spec([{ containerPort: 80, hostPort: 0 }]), 'baseline')).toEqual([]);
    expect(ids(spec([{ containerPort: 80 }]), 'baseline')).toEqual([]);
    const v = evaluatePss(
      workload(podOf(spec([{ containerPort: 80 }, { containerPort: 81, hostPort: 81 }]))),
      'baseline',
    );
    expect(v.map((x) => x.path)).toEqual([['spec', 'containers', 0, 'ports', 1, 'hostPort']]);
    expect(v[0]?.message).toBe('container "app" must not use hostPort 81');
  });

  it('appArmorProfile: fields at pod and container level, and the beta annotations', () => {
    const podLevel = (type: unknown) => ({
      securityContext: { appArmorProfile: { type } },
      containers: [{ name: 'c', image: 'x' }],
    });
    expect(ids(podLevel('Unconfined'), 'baseline')).toEqual(['appArmorProfile']);
    expect(ids(podLevel('RuntimeDefault'), 'baseline')).toEqual([]);
    expect(ids(podLevel('Localhost'), 'baseline')).toEqual([]);
    expect(ids({ containers: [app({ appArmorProfile: { type: 'Unconfined' } })] }, 'baseline')).toEqual([
      'appArmorProfile',
    ]);
    // A profile object without a type is not an allowed type.
    expect(ids({ containers: [app({ appArmorProfile: {} })] }, 'baseline')).toEqual(['appArmorProfile']);
    const annotated = (v: string) =>
      ids({ containers: [{ name: 'c', image: 'x' }] }, 'baseline', {
        annotations: { 'container.apparmor.security.beta.kubernetes.io/c': v },
      });
    expect(annotated('unconfined')).toEqual(['appArmorProfile']);
    expect(annotated('runtime/default')).toEqual([]);
    expect(annotated('localhost/my-profile')).toEqual([]);
    expect(annotated('')).toEqual([]);
  });

  it('seLinuxOptions: allowed types, no user or role, at pod and container level', () => {
    const pod = (o: Obj) => ({ securityContext: { seLinuxOptions: o }, containers: [{ name: 'c', image: 'x' }] });
    const ctr = (o: Obj) => ({ containers: [app({ seLinuxOptions: o })] });
    for (const t of ['container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t', '']) {
      expect(ids(pod({ type: t }), 'baseline')).toEqual([]);
      expect(ids(ctr({ type: t }), 'baseline')).toEqual([]);
    }
    expect(ids(pod({ level: 's0:c123,c456' }), 'baseline')).toEqual([]);
    expect(ids(pod({ type: 'spc_t' }), 'baseline')).toEqual(['seLinuxOptions']);
    expect(ids(ctr({ type: 'unconfined_t' }), 'baseline')).toEqual(['seLinuxOptions']);
    expect(ids(ctr({ user: 'system_u' }), 'baseline')).toEqual(['seLinuxOptions']);
    expect(ids(pod({ role: 'system_r' }), 'baseline')).toEqual(['seLinuxOptions']);
  });

  it('procMount: Unmasked fails unless the pod has its own user namespace; restricted keeps it', () => {
    const spec = (pm: string, over: Obj = {}) =>
      restrictedSpec(over, { securityContext: { ...RESTRICTED_SC, procMount: pm } });
    expect(ids(spec('Default'), 'baseline')).toEqual([]);
    expect(ids(spec('Unmasked'), 'baseline')).toEqual(['procMount']);
    expect(ids(spec('Unmasked'), 'restricted')).toEqual(['procMount_restricted']);
    expect(ids(spec('Unmasked', { hostUsers: false }), 'baseline')).toEqual([]);
    expect(ids(spec('Unmasked', { hostUsers: false }), 'restricted')).toEqual(['procMount_restricted']);
    expect(ids(spec('Unmasked', { hostUsers: true }), 'baseline')).toEqual(['procMount']);
  });

  it('seccompProfile_baseline: Unconfined at pod or container level; unset is allowed', () => {
    expect(
      ids({ securityContext: { seccompProfile: { type: 'Unconfined' } }, containers: [{ name: 'c' }] }, 'baseline'),
    ).toEqual(['seccompProfile_baseline']);
    expect(ids({ containers: [app({ seccompProfile: { type: 'Unconfined' } })] }, 'baseline')).toEqual([
      'seccompProfile_baseline',
    ]);
    expect(
      ids({ containers: [app({ seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } })] }, 'baseline'),
    ).toEqual([]);
    // At restricted the restricted check replaces it, as upstream's override does.
    expect(
      ids(
        restrictedSpec({}, { securityContext: { ...RESTRICTED_SC, seccompProfile: { type: 'Unconfined' } } }),
        'restricted',
      ),
    ).toEqual(['seccompProfile_restricted']);
  });

  it('sysctls: the v1.37 safe set only', () => {
    const spec = (...names: string[]) =>
      restrictedSpec({
        securityContext: {
          runAsNonRoot: true,
          seccompProfile: { type: 'RuntimeDefault' },
          sysctls: names.map((name) => ({ name, value: '1' })),
        },
      });
    expect(
      ids(
        spec(
          'kernel.shm_rmid_forced',
          'net.ipv4.tcp_rmem',
          'net.ipv4.tcp_notsent_lowat',
          'net.ipv4.tcp_slow_start_after_idle',
        ),
        'restricted',
      ),
    ).toEqual([]);
    expect(ids(spec('kernel.msgmax'), 'baseline')).toEqual(['sysctls']);
    expect(ids(spec('net.core.somaxconn'), 'baseline')).toEqual(['sysctls']);
    const v = evaluatePss(workload(podOf(spec('net.ipv4.tcp_syncookies', 'kernel.sem'))), 'baseline');
    expect(v.map((x) => x.path)).toEqual([['spec', 'securityContext', 'sysctls', 1, 'name']]);
  });

  it('windowsHostProcess: pod or container', () => {
    expect(
      ids({ securityContext: { windowsOptions: { hostProcess: true } }, containers: [{ name: 'c' }] }, 'baseline'),
    ).toEqual(['windowsHostProcess']);
    expect(ids({ containers: [app({ windowsOptions: { hostProcess: true } })] }, 'baseline')).toEqual([
      'windowsHostProcess',
    ]);
    expect(
      ids({ containers: [app({ windowsOptions: { hostProcess: false, runAsUserName: 'x' } })] }, 'baseline'),
    ).toEqual([]);
  });

  it('hostProbesAndHostLifecycle: probes and lifecycle handlers with a host; an empty host is allowed', () => {
    const spec = (extra: Obj) => restrictedSpec({}, extra);
    expect(ids(spec({ livenessProbe: { httpGet: { host: '10.0.0.1', port: 80 } } }), 'baseline')).toEqual([
      'hostProbesAndHostLifecycle',
    ]);
    expect(ids(spec({ startupProbe: { tcpSocket: { host: 'metadata', port: 80 } } }), 'baseline')).toEqual([
      'hostProbesAndHostLifecycle',
    ]);
    expect(ids(spec({ lifecycle: { preStop: { tcpSocket: { host: 'x', port: 1 } } } }), 'baseline')).toEqual([
      'hostProbesAndHostLifecycle',
    ]);
    expect(ids(spec({ readinessProbe: { httpGet: { host: '', port: 80, path: '/' } } }), 'baseline')).toEqual([]);
    const [v] = evaluatePss(
      workload(podOf(spec({ lifecycle: { postStart: { httpGet: { host: '169.254.169.254', port: 80 } } } }))),
      'baseline',
    );
    expect(v?.path).toEqual(['spec', 'containers', 0, 'lifecycle', 'postStart', 'httpGet', 'host']);
  });
});

describe('restricted checks', () => {
  it('are not run at baseline', () => {
    expect(ids({ containers: [{ name: 'c', image: 'x' }], volumes: [{ name: 'n', nfs: {} }] }, 'baseline')).toEqual([]);
  });

  it('allowPrivilegeEscalation: must be false; windows pods are exempt', () => {
    expect(ids(restrictedSpec({}, { securityContext: { capabilities: { drop: ['ALL'] } } }), 'restricted')).toEqual([
      'allowPrivilegeEscalation',
    ]);
    expect(
      ids(restrictedSpec({}, { securityContext: { ...RESTRICTED_SC, allowPrivilegeEscalation: true } }), 'restricted'),
    ).toEqual(['allowPrivilegeEscalation']);
    expect(
      ids(
        { os: { name: 'windows' }, securityContext: { runAsNonRoot: true }, containers: [{ name: 'c' }] },
        'restricted',
      ),
    ).toEqual([]);
    const [v] = evaluatePss(
      workload(podOf(restrictedSpec({}, { securityContext: { capabilities: { drop: ['ALL'] } } }))),
      'restricted',
    );
    expect(v?.message).toBe('container "app" must set securityContext.allowPrivilegeEscalation=false');
  });

  it('capabilities_restricted: drop ALL, add at most NET_BIND_SERVICE, exact case; windows exempt', () => {
    const caps = (c: Obj) =>
      restrictedSpec({}, { securityContext: { allowPrivilegeEscalation: false, capabilities: c } });
    expect(ids(caps({ drop: ['ALL'], add: ['NET_BIND_SERVICE'] }), 'restricted')).toEqual([]);
    expect(ids(caps({ drop: ['all'] }), 'restricted')).toEqual(['capabilities_restricted']);
    expect(ids(caps({ drop: ['NET_RAW'] }), 'restricted')).toEqual(['capabilities_restricted']);
    const chown = evaluatePss(workload(podOf(caps({ drop: ['ALL'], add: ['CHOWN'] }))), 'restricted');
    expect(chown.map((v) => [v.check, v.severity])).toEqual([['capabilities_restricted', undefined]]);
    const admin = evaluatePss(workload(podOf(caps({ drop: ['ALL'], add: ['SYS_ADMIN'] }))), 'restricted');
    // SYS_ADMIN fails baseline too, which this check replaces at restricted: reported at the baseline's severity.
    expect(admin.map((v) => [v.check, v.severity])).toEqual([['capabilities_restricted', 'high']]);
    expect(ids({ ...caps({ add: ['SYS_ADMIN'] }), os: { name: 'windows' } }, 'restricted')).toEqual([]);
    // ... though baseline still holds a windows pod to the default set (upstream's override has this effect).
    expect(ids({ ...caps({ add: ['SYS_ADMIN'] }), os: { name: 'windows' } }, 'baseline')).toEqual([
      'capabilities_baseline',
    ]);
  });

  it('runAsNonRoot: pod-level true covers containers; container false overrides; user namespaces exempt', () => {
    const base = restrictedSpec();
    expect(ids({ ...base, securityContext: { seccompProfile: { type: 'RuntimeDefault' } } }, 'restricted')).toEqual([
      'runAsNonRoot',
    ]);
    expect(
      ids(restrictedSpec({}, { securityContext: { ...RESTRICTED_SC, runAsNonRoot: false } }), 'restricted'),
    ).toEqual(['runAsNonRoot']);
    expect(
      ids(
        {
          ...base,
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          containers: [app({ ...RESTRICTED_SC, runAsNonRoot: true })],
        },
        'restricted',
      ),
    ).toEqual([]);
    expect(
      ids(
        {
          ...base,
          hostUsers: false,
          securityContext: { runAsNonRoot: false, seccompProfile: { type: 'RuntimeDefault' } },
        },
        'restricted',
      ),
    ).toEqual([]);
    const v = evaluatePss(
      workload(
        podOf({
          securityContext: { runAsNonRoot: false, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [app(RESTRICTED_SC), { name: 'b', securityContext: { ...RESTRICTED_SC, runAsNonRoot: false } }],
        }),
      ),
      'restricted',
    );
    expect(v.map((x) => x.message)).toEqual([
      'pod must not set securityContext.runAsNonRoot=false',
      'container "b" must not set securityContext.runAsNonRoot=false',
    ]);
  });

  it('runAsUser: 0 at pod or container; non-zero allowed; user namespaces exempt', () => {
    const pod = (u: number, over: Obj = {}) =>
      restrictedSpec({
        securityContext: { runAsNonRoot: true, runAsUser: u, seccompProfile: { type: 'RuntimeDefault' } },
        ...over,
      });
    expect(ids(pod(0), 'restricted')).toEqual(['runAsUser']);
    expect(ids(pod(1000), 'restricted')).toEqual([]);
    expect(ids(pod(0), 'baseline')).toEqual([]);
    expect(ids(pod(0, { hostUsers: false }), 'restricted')).toEqual([]);
    expect(ids(restrictedSpec({}, { securityContext: { ...RESTRICTED_SC, runAsUser: 0 } }), 'restricted')).toEqual([
      'runAsUser',
    ]);
  });

  it('seccompProfile_restricted: pod-level covers containers; each container otherwise; windows exempt', () => {
    const noPod = { securityContext: { runAsNonRoot: true } };
    const ok = { ...RESTRICTED_SC, seccompProfile: { type: 'RuntimeDefault' } };
    expect(ids(restrictedSpec(noPod), 'restricted')).toEqual(['seccompProfile_restricted']);
    expect(ids(restrictedSpec(noPod, { securityContext: ok }), 'restricted')).toEqual([]);
    const v = evaluatePss(
      workload(podOf({ ...noPod, containers: [app(ok), { name: 'side', securityContext: RESTRICTED_SC }] })),
      'restricted',
    );
    expect(v.map((x) => [x.check, x.path])).toEqual([
      ['seccompProfile_restricted', ['spec', 'containers', 1, 'securityContext', 'seccompProfile']],
    ]);
    expect(ids({ ...restrictedSpec(noPod), os: { name: 'windows' } }, 'restricted')).toEqual([]);
    expect(ids({ ...restrictedSpec(noPod), os: { name: 'linux' } }, 'restricted')).toEqual([
      'seccompProfile_restricted',
    ]);
    const [unconfined] = evaluatePss(
      workload(
        podOf(restrictedSpec({ securityContext: { runAsNonRoot: true, seccompProfile: { type: 'Unconfined' } } })),
      ),
      'restricted',
    );
    expect(unconfined?.severity).toBe('high');
  });

  it('restrictedVolumes: the allowed types pass; others, hostPath and unknown fail', () => {
    const spec = (vol: Obj) => restrictedSpec({ volumes: [{ name: 'v', ...vol }] });
    for (const t of [
      'configMap',
      'csi',
      'downwardAPI',
      'emptyDir',
      'ephemeral',
      'image',
      'persistentVolumeClaim',
      'projected',
      'secret',
    ])
      expect(ids(spec({ [t]: {} }), 'restricted')).toEqual([]);
    for (const t of ['nfs', 'gitRepo', 'iscsi', 'cephfs', 'azureFile', 'awsElasticBlockStore'])
      expect(ids(spec({ [t]: {} }), 'restricted')).toEqual(['restrictedVolumes']);
    // hostPath at restricted is restrictedVolumes' (which replaces hostPathVolumes), at the baseline's severity.
    const [hp] = evaluatePss(workload(podOf(spec({ hostPath: { path: '/data' } }))), 'restricted');
    expect([hp?.check, hp?.severity, hp?.path]).toEqual([
      'restrictedVolumes',
      'high',
      ['spec', 'volumes', 0, 'hostPath'],
    ]);
    expect(ids(spec({ somethingNew: {} }), 'restricted')).toEqual(['restrictedVolumes']);
  });
});

describe('workloads', () => {
  it('checks a CronJob pod template, pointing into jobTemplate', () => {
    const cj = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'nightly', namespace: 'ns' },
      spec: {
        schedule: '@daily',
        jobTemplate: { spec: { template: { spec: { hostPID: true, containers: [{ name: 'c', image: 'x' }] } } } },
      },
    };
    const v = evaluatePss(workload(cj), 'baseline');
    expect(v.map((x) => [x.check, x.path])).toEqual([
      ['hostNamespaces', ['spec', 'jobTemplate', 'spec', 'template', 'spec', 'hostPID']],
    ]);
  });

  it('reads the template annotations of a Deployment for AppArmor', () => {
    const d = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', annotations: { 'container.apparmor.security.beta.kubernetes.io/c': 'unconfined' } },
      spec: {
        template: {
          metadata: { annotations: { 'container.apparmor.security.beta.kubernetes.io/c': 'unconfined' } },
          spec: { containers: [{ name: 'c', image: 'x' }] },
        },
      },
    };
    const v = evaluatePss(workload(d), 'baseline');
    expect(v.map((x) => x.path)).toEqual([
      ['spec', 'template', 'metadata', 'annotations', 'container.apparmor.security.beta.kubernetes.io/c'],
    ]);
  });
});

describe('pssLevelFor', () => {
  const ns = (name: string, enforce?: string): Obj => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, ...(enforce ? { labels: { 'pod-security.kubernetes.io/enforce': enforce } } : {}) },
  });
  function ctx(objs: K8sObject[], over: Partial<K8sContext> = {}): K8sContext {
    return {
      objects: objs,
      workloads: [],
      index: new ObjectIndex(objs),
      config: DEFAULT_K8S_CONFIG,
      nodes: [],
      note: () => {},
      ...over,
    };
  }
  const levelOf = (docs: Obj[], podNs: string | undefined, over: Partial<K8sContext> = {}) => {
    const pod = podOf(
      { containers: [{ name: 'c' }] },
      podNs === undefined ? { namespace: undefined } : { namespace: podNs },
    );
    const objs = objects([...docs, pod]);
    const w = workloadOf(objs[objs.length - 1] as K8sObject) as Workload;
    return pssLevelFor(w, ctx(objs, over));
  };

  it('the flag wins over everything', () => {
    expect(levelOf([ns('ns', 'privileged')], 'ns', { pssLevel: 'restricted' })).toBe('restricted');
  });
  it("the namespace's enforce label, else the configured level", () => {
    expect(levelOf([ns('ns', 'restricted')], 'ns')).toBe('restricted');
    expect(levelOf([ns('ns', 'privileged')], 'ns')).toBe('privileged');
    expect(levelOf([ns('ns', 'baseline'), ns('other', 'restricted')], 'ns')).toBe('baseline');
    expect(levelOf([ns('ns')], 'ns')).toBe('baseline');
    expect(levelOf([ns('other', 'restricted')], 'ns')).toBe('baseline');
    expect(levelOf([ns('ns', 'restricted')], undefined)).toBe('baseline');
    expect(levelOf([ns('ns')], 'ns', { config: { ...DEFAULT_K8S_CONFIG, pssLevel: 'restricted' } })).toBe('restricted');
  });
  it('a label value that is not a level fails closed to restricted, as the admission controller does', () => {
    expect(levelOf([ns('ns', 'Baseline')], 'ns')).toBe('restricted');
  });
});

describe('PSS_RULES', () => {
  it('one rule per upstream check id, grouped and mapped', () => {
    expect(PSS_RULES.map((r) => r.id)).toEqual(PSS_CHECK_IDS);
    expect(new Set(PSS_CHECK_IDS).size).toBe(19);
    for (const r of PSS_RULES) {
      expect(r.group).toBe('pss');
      expect(r.confidence).toBe('high');
      expect(r.mapping).toMatch(/^Pod Security Standards \((baseline|restricted)\)$/);
      expect(r.title && r.rationale && r.remediation).toBeTruthy();
    }
    expect(PSS_RULES.find((r) => r.id === 'privileged')?.severity).toBe('critical');
    expect(PSS_RULES.find((r) => r.id === 'runAsUser')?.mapping).toBe('Pod Security Standards (restricted)');
  });

  it('report at the line of the offending field, per namespace level; privileged namespaces are skipped', () => {
    const text = `apiVersion: v1
kind: Namespace
metadata:
  name: strict
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: v1
kind: Namespace
metadata:
  name: system
  labels:
    pod-security.kubernetes.io/enforce: privileged
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: strict}
spec:
  template:
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: app
          image: x
          securityContext:
            capabilities: {drop: [ALL]}
            allowPrivilegeEscalation: true
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: system}
spec:
  template:
    spec:
      hostNetwork: true
      containers: [{name: a, image: x, securityContext: {privileged: true}}]
---
apiVersion: v1
kind: Pod
metadata: {name: loose, namespace: elsewhere}
spec:
  containers:
    - name: c
      image: x
      securityContext:
        privileged: yes
`;
    const { objects: objs, errors } = parseManifests(text, 'm.yaml');
    expect(errors).toEqual([]);
    const { findings } = runK8sRules(objs, { rules: PSS_RULES });
    expect(findings.map((f) => [f.ruleId, f.location.kind === 'file' ? f.location.line : 0, f.severity])).toEqual([
      ['allowPrivilegeEscalation', 29, 'medium'],
      ['privileged', 48, 'critical'],
    ]);
    expect(findings[0]?.message).toBe(
      'container "app" must set securityContext.allowPrivilegeEscalation=false (Pod Security Standards restricted)',
    );
    // --pss-level holds every pod to it, the privileged namespace's included.
    const flagged = runK8sRules(objs, { rules: PSS_RULES, pssLevel: 'baseline' }).findings.map((f) => f.ruleId);
    expect(flagged.sort()).toEqual(['hostNamespaces', 'privileged', 'privileged']);
  });
});
