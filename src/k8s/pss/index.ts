/**
 * The Pod Security Standards as K8sRules: one per upstream check id, each applied to every workload (pods and every
 * controller's pod template) whose level (pssLevelFor) runs it. Semantics: policy version "latest" as of v1.37.
 */
import type { Severity } from '../../findings/finding.js';
import type { K8sHit, K8sRule } from '../rule.js';
import { PSS_CHECKS } from './checks.js';
import { evaluatePssCheck, pssLevelFor } from './evaluate.js';

interface Meta {
  readonly title: string;
  readonly severity: Severity;
  readonly rationale: string;
  readonly remediation: string;
}

const META: Readonly<Record<string, Meta>> = {
  hostNamespaces: {
    title: 'Pod shares the host network, PID or IPC namespace',
    severity: 'high',
    rationale:
      "Host namespaces let the pod see and reach the node's processes, shared memory and network interfaces (including services bound to localhost), which undoes container isolation.",
    remediation: 'Remove hostNetwork, hostPID and hostIPC (or set them to false).',
  },
  privileged: {
    title: 'Privileged container',
    severity: 'critical',
    rationale:
      'A privileged container has every capability and every host device, with no seccomp or AppArmor confinement: it is root on the node.',
    remediation: 'Remove securityContext.privileged (or set it to false); grant the one capability needed instead.',
  },
  capabilities_baseline: {
    title: 'Container adds capabilities beyond the default set',
    severity: 'high',
    rationale:
      'Capabilities beyond the runtime defaults (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, NET_RAW and others) are known paths to the node or to other pods.',
    remediation:
      'Remove the capability from securityContext.capabilities.add; only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID and SYS_CHROOT are allowed (upper case).',
  },
  hostPathVolumes: {
    title: 'hostPath volume',
    severity: 'high',
    rationale:
      "A hostPath volume mounts the node's file system into the pod: a runtime socket, the kubelet's directory or / itself give the node away.",
    remediation:
      'Use a persistentVolumeClaim, emptyDir, configMap or secret; node agents that need the host go in a namespace with a privileged level.',
  },
  hostPorts: {
    title: 'Container binds a host port',
    severity: 'high',
    rationale:
      "A hostPort binds the node's own address, bypassing Services and NetworkPolicy paths, and exposes the pod on every network the node is on.",
    remediation: 'Remove ports[].hostPort (or set it to 0) and expose the pod through a Service.',
  },
  appArmorProfile: {
    title: 'AppArmor profile disabled or overridden',
    severity: 'high',
    rationale: "Unconfined AppArmor removes the runtime's default mandatory access control from the container.",
    remediation:
      'Set appArmorProfile.type to RuntimeDefault or Localhost (or leave it unset); remove container.apparmor.security.beta.kubernetes.io annotations other than runtime/default or localhost/*.',
  },
  seLinuxOptions: {
    title: 'Custom SELinux type, user or role',
    severity: 'high',
    rationale:
      'An SELinux type such as spc_t runs the container unconfined; setting a user or role can escape the container policy.',
    remediation:
      'Leave seLinuxOptions.user and role unset, and use only container_t, container_init_t, container_kvm_t or container_engine_t as the type.',
  },
  procMount: {
    title: 'Container unmasks /proc',
    severity: 'high',
    rationale:
      "procMount Unmasked removes the runtime's masks on /proc and /sys paths that expose or change the node's kernel.",
    remediation: 'Remove securityContext.procMount (or set it to Default), or run the pod with hostUsers: false.',
  },
  seccompProfile_baseline: {
    title: 'Seccomp disabled',
    severity: 'high',
    rationale: 'seccompProfile Unconfined lets the container make every system call, the kernel attack surface whole.',
    remediation: 'Set securityContext.seccompProfile.type to RuntimeDefault or Localhost (or leave it unset).',
  },
  sysctls: {
    title: 'Unsafe sysctl',
    severity: 'high',
    rationale:
      'Sysctls outside the namespaced safe set change the kernel for every pod on the node or switch off protections.',
    remediation:
      'Remove the sysctl from spec.securityContext.sysctls, or use only the Pod Security Standards safe set.',
  },
  windowsHostProcess: {
    title: 'Windows HostProcess container',
    severity: 'critical',
    rationale:
      'A HostProcess container runs directly on the Windows node with host access: the privileged container of Windows.',
    remediation: 'Remove securityContext.windowsOptions.hostProcess (or set it to false).',
  },
  hostProbesAndHostLifecycle: {
    title: 'Probe or lifecycle hook sends to another host',
    severity: 'high',
    rationale:
      'A probe or lifecycle handler with a host makes the kubelet send requests, from the node, to any address: a server-side request forgery the pod author controls.',
    remediation:
      'Remove httpGet.host and tcpSocket.host from probes and lifecycle handlers; the pod IP is the default.',
  },
  allowPrivilegeEscalation: {
    title: 'Privilege escalation not disabled',
    severity: 'medium',
    rationale:
      'Without allowPrivilegeEscalation: false (no_new_privs), set-user-ID programs in the image can gain root.',
    remediation: 'Set securityContext.allowPrivilegeEscalation: false on every container.',
  },
  capabilities_restricted: {
    title: 'Container does not drop ALL capabilities',
    severity: 'medium',
    rationale: 'The restricted level runs containers with no capabilities but NET_BIND_SERVICE.',
    remediation: 'Set securityContext.capabilities.drop: ["ALL"] and add at most NET_BIND_SERVICE.',
  },
  runAsNonRoot: {
    title: 'Container may run as root',
    severity: 'medium',
    rationale:
      'Without runAsNonRoot: true the image decides the user, and root in the container is root on the node after any escape.',
    remediation:
      'Set securityContext.runAsNonRoot: true on the pod (or every container), or run the pod with hostUsers: false.',
  },
  runAsUser: {
    title: 'Container runs as UID 0',
    severity: 'medium',
    rationale: 'runAsUser: 0 runs the container as root.',
    remediation: 'Set runAsUser to a non-zero UID (or leave it unset with runAsNonRoot: true).',
  },
  seccompProfile_restricted: {
    title: 'Seccomp profile not set',
    severity: 'medium',
    rationale: 'The restricted level requires a seccomp profile on every container, so system calls are filtered.',
    remediation:
      'Set spec.securityContext.seccompProfile.type: RuntimeDefault (or Localhost) on the pod or every container.',
  },
  restrictedVolumes: {
    title: 'Volume type not allowed at restricted',
    severity: 'medium',
    rationale:
      'The restricted level allows only volumes that do not reach the node or network storage directly: configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret.',
    remediation: 'Use one of the allowed volume types; network storage goes through a persistentVolumeClaim.',
  },
  procMount_restricted: {
    title: 'Container unmasks /proc',
    severity: 'medium',
    rationale:
      "The restricted level keeps the runtime's /proc masks even for pods in their own user namespace (hostUsers: false).",
    remediation: 'Remove securityContext.procMount (or set it to Default).',
  },
};

export const PSS_RULES: readonly K8sRule[] = PSS_CHECKS.map((c): K8sRule => {
  const m = META[c.id] as Meta;
  return {
    id: c.id,
    group: 'pss',
    title: m.title,
    severity: m.severity,
    confidence: 'high',
    rationale: m.rationale,
    remediation: m.remediation,
    mapping: `Pod Security Standards (${c.level})`,
    check(ctx) {
      const hits: K8sHit[] = [];
      for (const w of ctx.workloads) {
        const level = pssLevelFor(w, ctx);
        if (level === 'privileged') continue;
        for (const v of evaluatePssCheck(w, level, c.id))
          hits.push({
            object: w.object,
            path: v.path,
            message: `${v.message} (Pod Security Standards ${level})`,
            ...(v.severity ? { severity: v.severity } : {}),
          });
      }
      return hits;
    },
  };
});
