/**
 * The Pod Security Standards checks, one per upstream check id, with the semantics of the policy version "latest"
 * as of Kubernetes v1.37 (k8s.io/pod-security-admission v0.37.2): the sysctls allowed since v1.37, container_engine_t
 * since v1.31, the probe and lifecycle `host` check since v1.34, and since v1.35 the user-namespace relaxations
 * (`hostUsers: false` exempts runAsNonRoot, runAsUser and baseline procMount) with `procMount_restricted`.
 *
 * Each check reads the written pod spec (what the API server stores), fields in their exact case, and reports one
 * hit per offending field so that a finding points at the line to change. A value of the wrong type (the API server
 * would refuse the object) never passes a check that forbids something.
 */
import type { Severity } from '../../findings/finding.js';
import type { PssLevel } from '../config.js';
import { asArray, asRecord, type Path } from '../model.js';
import { type ContainerRef, containersOf, type Workload } from '../workload.js';

export interface PssHit {
  readonly path: Path;
  readonly message: string;
  /** Set when the hit is worse than the check's usual severity. */
  readonly severity?: Severity;
}

export interface PssCheck {
  readonly id: string;
  readonly level: PssLevel;
  /** The baseline check this restricted check replaces at the restricted level (as upstream's overrides do). */
  readonly replaces?: string;
  run(pod: PodView): PssHit[];
}

/** What every check reads of a workload's pod. */
export interface PodView {
  readonly specPath: Path;
  readonly spec: Readonly<Record<string, unknown>>;
  readonly metaPath: Path;
  readonly annotations: Readonly<Record<string, string>>;
  /** spec.securityContext, when an object. */
  readonly sc?: Readonly<Record<string, unknown>>;
  readonly containers: readonly ContainerRef[];
  /** spec.os.name is `windows`: some restricted checks do not apply. */
  readonly windows: boolean;
  /** spec.hostUsers is false: the pod runs in its own user namespace. */
  readonly userNamespace: boolean;
}

export function podView(w: Workload): PodView {
  const sc = asRecord(w.spec.securityContext);
  return {
    specPath: w.specPath,
    spec: w.spec,
    metaPath: w.metaPath,
    annotations: w.annotations,
    ...(sc ? { sc } : {}),
    containers: containersOf(w),
    windows: asRecord(w.spec.os)?.name === 'windows',
    userNamespace: w.spec.hostUsers === false,
  };
}

const present = (v: unknown): boolean => v !== undefined && v !== null;
/** true, or a value of the wrong type where a boolean belongs. */
const setTrue = (v: unknown): boolean => v === true || (present(v) && typeof v !== 'boolean');
const str = (v: unknown): string => (typeof v === 'string' ? v : present(v) ? String(JSON.stringify(v)) : '');
const quote = (vs: readonly string[]): string => vs.map((v) => JSON.stringify(v)).join(', ');

function who(c: ContainerRef): string {
  const kind =
    c.field === 'initContainers'
      ? 'init container'
      : c.field === 'ephemeralContainers'
        ? 'ephemeral container'
        : 'container';
  return `${kind} ${JSON.stringify(c.name)}`;
}

function containerSc(c: ContainerRef): Readonly<Record<string, unknown>> | undefined {
  return asRecord(c.container.securityContext);
}

/** Pod-level and container-level security contexts, each with its path and how messages name it. */
function setters(p: PodView): { sc: Readonly<Record<string, unknown>> | undefined; path: Path; who: string }[] {
  return [
    { sc: p.sc, path: [...p.specPath, 'securityContext'], who: 'pod' },
    ...p.containers.map((c) => ({ sc: containerSc(c), path: [...c.path, 'securityContext'], who: who(c) })),
  ];
}

const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);

/** Safe sysctls as of v1.37 (upstream added ip_local_reserved_ports in 1.27, tcp_keepalive_* and
 * tcp_fin_timeout in 1.29, tcp_rmem/tcp_wmem in 1.32, tcp_slow_start_after_idle and tcp_notsent_lowat in 1.37). */
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
  'net.ipv4.tcp_slow_start_after_idle',
  'net.ipv4.tcp_notsent_lowat',
]);

const ALLOWED_VOLUMES = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'image',
  'persistentVolumeClaim',
  'projected',
  'secret',
];
const RESTRICTED_VOLUMES = [
  'hostPath',
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'gitRepo',
  'nfs',
  'iscsi',
  'glusterfs',
  'rbd',
  'flexVolume',
  'cinder',
  'cephfs',
  'flocker',
  'fc',
  'azureFile',
  'vsphereVolume',
  'quobyte',
  'azureDisk',
  'photonPersistentDisk',
  'portworxVolume',
  'scaleIO',
  'storageos',
];

const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';
const validSeccomp = (t: unknown): boolean => t === 'RuntimeDefault' || t === 'Localhost';
const validAppArmor = (t: unknown): boolean => t === 'RuntimeDefault' || t === 'Localhost';

/** Host paths that hand over the node outright (its root, configuration, kubelet state, a runtime socket). */
function nodeTakeover(path: unknown): boolean {
  if (typeof path !== 'string') return false;
  const p = path.replace(/\/+$/, '') || '/';
  return (
    ['/', '/etc', '/proc', '/root', '/var/lib/kubelet', '/var/run', '/run', '/var/lib/docker', '/dev'].includes(p) ||
    p.endsWith('.sock')
  );
}

function hostPathSeverity(v: unknown): Severity | undefined {
  return nodeTakeover(asRecord(v)?.path) ? 'critical' : undefined;
}

const hostNamespaces: PssCheck = {
  id: 'hostNamespaces',
  level: 'baseline',
  run(p) {
    return (['hostNetwork', 'hostPID', 'hostIPC'] as const)
      .filter((k) => setTrue(p.spec[k]))
      .map((k) => ({ path: [...p.specPath, k], message: `pod must not set ${k}=true` }));
  },
};

const privileged: PssCheck = {
  id: 'privileged',
  level: 'baseline',
  run(p) {
    return p.containers
      .filter((c) => setTrue(containerSc(c)?.privileged))
      .map((c) => ({
        path: [...c.path, 'securityContext', 'privileged'],
        message: `${who(c)} must not set securityContext.privileged=true`,
      }));
  },
};

const capabilitiesBaseline: PssCheck = {
  id: 'capabilities_baseline',
  level: 'baseline',
  run(p) {
    const hits: PssHit[] = [];
    for (const c of p.containers) {
      const add = asArray(asRecord(containerSc(c)?.capabilities)?.add);
      const bad = add.flatMap((x, i) => (typeof x === 'string' && BASELINE_CAPABILITIES.has(x) ? [] : [i]));
      if (bad.length)
        hits.push({
          path: [...c.path, 'securityContext', 'capabilities', 'add', bad[0] as number],
          message: `${who(c)} must not include ${quote(bad.map((i) => str(add[i])))} in securityContext.capabilities.add`,
        });
    }
    return hits;
  },
};

const hostPathVolumes: PssCheck = {
  id: 'hostPathVolumes',
  level: 'baseline',
  run(p) {
    const hits: PssHit[] = [];
    asArray(p.spec.volumes).forEach((v, i) => {
      const vol = asRecord(v);
      if (!vol || !present(vol.hostPath)) return;
      const sev = hostPathSeverity(vol.hostPath);
      hits.push({
        path: [...p.specPath, 'volumes', i, 'hostPath'],
        message: `volume ${JSON.stringify(str(vol.name))} must not be a hostPath volume (${str(asRecord(vol.hostPath)?.path) || 'no path'})`,
        ...(sev ? { severity: sev } : {}),
      });
    });
    return hits;
  },
};

const hostPorts: PssCheck = {
  id: 'hostPorts',
  level: 'baseline',
  run(p) {
    const hits: PssHit[] = [];
    for (const c of p.containers)
      asArray(c.container.ports).forEach((port, j) => {
        const hp = asRecord(port)?.hostPort;
        if (present(hp) && hp !== 0)
          hits.push({
            path: [...c.path, 'ports', j, 'hostPort'],
            message: `${who(c)} must not use hostPort ${str(hp)}`,
          });
      });
    return hits;
  },
};

const appArmorProfile: PssCheck = {
  id: 'appArmorProfile',
  level: 'baseline',
  run(p) {
    const hits: PssHit[] = [];
    for (const s of setters(p)) {
      const prof = s.sc?.appArmorProfile;
      if (!present(prof)) continue;
      const type = asRecord(prof)?.type;
      if (!validAppArmor(type))
        hits.push({
          path: [...s.path, 'appArmorProfile', 'type'],
          message: `${s.who} must not set AppArmor profile type to ${JSON.stringify(str(type))}`,
        });
    }
    for (const [k, v] of Object.entries(p.annotations))
      if (k.startsWith(APPARMOR_ANNOTATION) && !(v === '' || v === 'runtime/default' || v.startsWith('localhost/')))
        hits.push({
          path: [...p.metaPath, 'annotations', k],
          message: `annotation ${k} must not set AppArmor profile ${JSON.stringify(v)}`,
        });
    return hits;
  },
};

const seLinuxOptions: PssCheck = {
  id: 'seLinuxOptions',
  level: 'baseline',
  run(p) {
    const hits: PssHit[] = [];
    for (const s of setters(p)) {
      const raw = s.sc?.seLinuxOptions;
      if (!present(raw)) continue;
      const o = asRecord(raw) ?? {};
      const why: string[] = [];
      if (!(o.type === undefined || o.type === null || (typeof o.type === 'string' && SELINUX_TYPES.has(o.type))))
        why.push(`type ${JSON.stringify(str(o.type))}`);
      if (str(o.user) !== '') why.push('user may not be set');
      if (str(o.role) !== '') why.push('role may not be set');
      if (!asRecord(raw)) why.push('not an object');
      if (why.length)
        hits.push({
          path: [...s.path, 'seLinuxOptions'],
          message: `${s.who} sets forbidden securityContext.seLinuxOptions: ${why.join('; ')}`,
        });
    }
    return hits;
  },
};

function procMountHits(p: PodView): PssHit[] {
  return p.containers.flatMap((c) => {
    const pm = containerSc(c)?.procMount;
    return present(pm) && pm !== 'Default'
      ? [
          {
            path: [...c.path, 'securityContext', 'procMount'],
            message: `${who(c)} must not set securityContext.procMount to ${JSON.stringify(str(pm))}`,
          },
        ]
      : [];
  });
}

const procMount: PssCheck = {
  id: 'procMount',
  level: 'baseline',
  run: (p) => (p.userNamespace ? [] : procMountHits(p)),
};

const procMountRestricted: PssCheck = {
  id: 'procMount_restricted',
  level: 'restricted',
  replaces: 'procMount',
  run: procMountHits,
};

const seccompProfileBaseline: PssCheck = {
  id: 'seccompProfile_baseline',
  level: 'baseline',
  run(p) {
    const hits: PssHit[] = [];
    for (const s of setters(p)) {
      const prof = s.sc?.seccompProfile;
      if (!present(prof)) continue;
      const type = asRecord(prof)?.type;
      if (!validSeccomp(type))
        hits.push({
          path: [...s.path, 'seccompProfile', 'type'],
          message: `${s.who} must not set securityContext.seccompProfile.type to ${JSON.stringify(str(type))}`,
        });
    }
    return hits;
  },
};

const sysctls: PssCheck = {
  id: 'sysctls',
  level: 'baseline',
  run(p) {
    const hits: PssHit[] = [];
    asArray(p.sc?.sysctls).forEach((s, i) => {
      const name = asRecord(s)?.name;
      if (!(typeof name === 'string' && SAFE_SYSCTLS.has(name)))
        hits.push({
          path: [...p.specPath, 'securityContext', 'sysctls', i, 'name'],
          message: `pod must not set the unsafe sysctl ${JSON.stringify(str(name))}`,
        });
    });
    return hits;
  },
};

const windowsHostProcess: PssCheck = {
  id: 'windowsHostProcess',
  level: 'baseline',
  run(p) {
    return setters(p)
      .filter((s) => setTrue(asRecord(s.sc?.windowsOptions)?.hostProcess))
      .map((s) => ({
        path: [...s.path, 'windowsOptions', 'hostProcess'],
        message: `${s.who} must not set securityContext.windowsOptions.hostProcess=true`,
      }));
  },
};

const hostProbesAndHostLifecycle: PssCheck = {
  id: 'hostProbesAndHostLifecycle',
  level: 'baseline',
  run(p) {
    const hits: PssHit[] = [];
    for (const c of p.containers) {
      const handlers: [Path, unknown][] = [
        ...(['livenessProbe', 'readinessProbe', 'startupProbe'] as const).map((k): [Path, unknown] => [
          [k],
          c.container[k],
        ]),
        ...(['postStart', 'preStop'] as const).map((k): [Path, unknown] => [
          ['lifecycle', k],
          asRecord(c.container.lifecycle)?.[k],
        ]),
      ];
      for (const [at, h] of handlers)
        for (const kind of ['httpGet', 'tcpSocket'] as const) {
          const host = asRecord(asRecord(h)?.[kind])?.host;
          if (present(host) && host !== '')
            hits.push({
              path: [...c.path, ...at, kind, 'host'],
              message: `${who(c)} must not set ${[...at, kind].join('.')}.host (${str(host)})`,
            });
        }
    }
    return hits;
  },
};

const allowPrivilegeEscalation: PssCheck = {
  id: 'allowPrivilegeEscalation',
  level: 'restricted',
  run(p) {
    if (p.windows) return [];
    return p.containers
      .filter((c) => containerSc(c)?.allowPrivilegeEscalation !== false)
      .map((c) => ({
        path: [...c.path, 'securityContext', 'allowPrivilegeEscalation'],
        message: `${who(c)} must set securityContext.allowPrivilegeEscalation=false`,
      }));
  },
};

const capabilitiesRestricted: PssCheck = {
  id: 'capabilities_restricted',
  level: 'restricted',
  replaces: 'capabilities_baseline',
  run(p) {
    if (p.windows) return [];
    const hits: PssHit[] = [];
    for (const c of p.containers) {
      const caps = asRecord(containerSc(c)?.capabilities);
      const capsPath = [...c.path, 'securityContext', 'capabilities'];
      if (!asArray(caps?.drop).includes('ALL'))
        hits.push({
          path: [...capsPath, 'drop'],
          message: `${who(c)} must set securityContext.capabilities.drop=["ALL"]`,
        });
      const add = asArray(caps?.add);
      const bad = add.flatMap((x, i) => (x === 'NET_BIND_SERVICE' ? [] : [i]));
      if (bad.length) {
        // Beyond the baseline's defaults is what the baseline check (which this one replaces) would call high.
        const beyondBaseline = bad.some((i) => !(typeof add[i] === 'string' && BASELINE_CAPABILITIES.has(add[i])));
        hits.push({
          path: [...capsPath, 'add', bad[0] as number],
          message: `${who(c)} must not include ${quote(bad.map((i) => str(add[i])))} in securityContext.capabilities.add`,
          ...(beyondBaseline ? { severity: 'high' as const } : {}),
        });
      }
    }
    return hits;
  },
};

/** runAsNonRoot and seccompProfile_restricted: a pod-level value covers containers that leave the field unset. */
function podOrContainers(
  p: PodView,
  get: (sc: Readonly<Record<string, unknown>> | undefined) => unknown,
  ok: (v: unknown) => boolean,
  field: string,
  explicitMessage: (who: string, v: unknown) => string,
  implicitMessage: (who: string) => string,
  explicitSeverity?: Severity,
): PssHit[] {
  const explicit: PssHit[] = [];
  const implicit: PssHit[] = [];
  const sev = explicitSeverity ? { severity: explicitSeverity } : {};
  const podValue = get(p.sc);
  const podOk = present(podValue) && ok(podValue);
  if (present(podValue) && !podOk)
    explicit.push({
      path: [...p.specPath, 'securityContext', field],
      message: explicitMessage('pod', podValue),
      ...sev,
    });
  for (const c of p.containers) {
    const v = get(containerSc(c));
    const path = [...c.path, 'securityContext', field];
    if (present(v)) {
      if (!ok(v)) explicit.push({ path, message: explicitMessage(who(c), v), ...sev });
    } else if (!podOk) implicit.push({ path, message: implicitMessage(who(c)) });
  }
  // As upstream: a value set wrongly is the finding; containers that merely inherit it are not repeated.
  return explicit.length ? explicit : implicit;
}

const runAsNonRoot: PssCheck = {
  id: 'runAsNonRoot',
  level: 'restricted',
  run(p) {
    if (p.userNamespace) return [];
    return podOrContainers(
      p,
      (sc) => sc?.runAsNonRoot,
      (v) => v === true,
      'runAsNonRoot',
      (w) => `${w} must not set securityContext.runAsNonRoot=false`,
      (w) => `${w} must set securityContext.runAsNonRoot=true (or the pod must)`,
    );
  },
};

const runAsUser: PssCheck = {
  id: 'runAsUser',
  level: 'restricted',
  run(p) {
    if (p.userNamespace) return [];
    return setters(p)
      .filter((s) => {
        const u = s.sc?.runAsUser;
        return u === 0 || (present(u) && typeof u !== 'number');
      })
      .map((s) => ({ path: [...s.path, 'runAsUser'], message: `${s.who} must not set runAsUser=0` }));
  },
};

const seccompProfileRestricted: PssCheck = {
  id: 'seccompProfile_restricted',
  level: 'restricted',
  replaces: 'seccompProfile_baseline',
  run(p) {
    if (p.windows) return [];
    return podOrContainers(
      p,
      (sc) => sc?.seccompProfile,
      (v) => validSeccomp(asRecord(v)?.type),
      'seccompProfile',
      (w, v) => `${w} must not set securityContext.seccompProfile.type to ${JSON.stringify(str(asRecord(v)?.type))}`,
      (w) => `${w} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost" (or the pod must)`,
      // A profile set to something else (Unconfined) fails the baseline check this one replaces.
      'high',
    );
  },
};

const restrictedVolumes: PssCheck = {
  id: 'restrictedVolumes',
  level: 'restricted',
  replaces: 'hostPathVolumes',
  run(p) {
    const hits: PssHit[] = [];
    asArray(p.spec.volumes).forEach((v, i) => {
      const vol = asRecord(v) ?? {};
      if (ALLOWED_VOLUMES.some((k) => present(vol[k]))) return;
      const type = RESTRICTED_VOLUMES.find((k) => present(vol[k]));
      const sev = type === 'hostPath' ? (hostPathSeverity(vol.hostPath) ?? 'high') : undefined;
      hits.push({
        path: [...p.specPath, 'volumes', i, ...(type ? [type] : [])],
        message: `volume ${JSON.stringify(str(vol.name))} must not use the ${type ?? 'unknown'} volume type`,
        ...(sev ? { severity: sev } : {}),
      });
    });
    return hits;
  },
};

/** Every check, baseline first, in the order the docs list them. */
export const PSS_CHECKS: readonly PssCheck[] = [
  hostNamespaces,
  privileged,
  capabilitiesBaseline,
  hostPathVolumes,
  hostPorts,
  appArmorProfile,
  seLinuxOptions,
  procMount,
  seccompProfileBaseline,
  sysctls,
  windowsHostProcess,
  hostProbesAndHostLifecycle,
  allowPrivilegeEscalation,
  capabilitiesRestricted,
  runAsNonRoot,
  runAsUser,
  seccompProfileRestricted,
  restrictedVolumes,
  procMountRestricted,
];

const REPLACED = new Set(PSS_CHECKS.flatMap((c) => (c.replaces ? [c.replaces] : [])));

/** The checks a level runs: baseline's own; at restricted, all but the baseline checks a restricted one replaces. */
export function checksAt(level: PssLevel): readonly PssCheck[] {
  return level === 'baseline'
    ? PSS_CHECKS.filter((c) => c.level === 'baseline')
    : PSS_CHECKS.filter((c) => !REPLACED.has(c.id));
}
