/**
 * Pods and every controller's pod template, as one shape: the checks that apply to pods (Pod Security Standards,
 * images, placement) run on each workload whatever its kind.
 */
import { asArray, asRecord, getIn, type K8sObject, type Path, stringMap } from './model.js';

export interface Workload {
  readonly object: K8sObject;
  /** Where the pod spec is in the object: `['spec']` for a Pod, `['spec','template','spec']` for a Deployment. */
  readonly specPath: Path;
  readonly spec: Readonly<Record<string, unknown>>;
  /** The pod's metadata path (`['metadata']` for a Pod, the template's otherwise). */
  readonly metaPath: Path;
  /** The pod's labels and annotations (the template's for controllers). */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** Where the pod template sits, by kind. Kinds not listed hold no pods. */
const TEMPLATE_PATH: Readonly<Record<string, Path>> = {
  Pod: [],
  PodTemplate: ['template'],
  Deployment: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export function isWorkloadKind(kind: string): boolean {
  return Object.hasOwn(TEMPLATE_PATH, kind);
}

/** The object's pod spec, or undefined for kinds that hold none (or a spec missing entirely). */
export function workloadOf(o: K8sObject): Workload | undefined {
  const base = Object.hasOwn(TEMPLATE_PATH, o.kind) ? TEMPLATE_PATH[o.kind] : undefined;
  return base ? at(o, base) : undefined;
}

/**
 * A custom resource's pod template where most controllers keep it, `spec.template` (Argo Rollouts, OpenKruise
 * CloneSets, Knative Services): the audit checks it as it checks a Deployment's. undefined for the built-in kinds.
 */
export function customTemplateOf(o: K8sObject): Workload | undefined {
  if (isWorkloadKind(o.kind)) return undefined;
  return Array.isArray(getIn(o.raw, ['spec', 'template', 'spec', 'containers']))
    ? at(o, ['spec', 'template'])
    : undefined;
}

function at(o: K8sObject, base: Path): Workload | undefined {
  const specPath = [...base, 'spec'];
  const spec = asRecord(getIn(o.raw, specPath));
  if (!spec) return undefined;
  const metaPath = [...base, 'metadata'];
  const meta = asRecord(getIn(o.raw, metaPath)) ?? {};
  return {
    object: o,
    specPath,
    spec,
    metaPath,
    labels: stringMap(meta.labels),
    annotations: stringMap(meta.annotations),
  };
}

export type ContainerField = 'containers' | 'initContainers' | 'ephemeralContainers';

export interface ContainerRef {
  readonly field: ContainerField;
  readonly index: number;
  readonly name: string;
  readonly container: Readonly<Record<string, unknown>>;
  /** The container's path in the object. */
  readonly path: Path;
}

/** Every container of a workload: init, regular and ephemeral, in that order. */
export function containersOf(w: Workload): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const field of ['initContainers', 'containers', 'ephemeralContainers'] as const) {
    asArray(w.spec[field]).forEach((c, index) => {
      const container = asRecord(c);
      if (!container) return;
      const name = typeof container.name === 'string' ? container.name : `#${index}`;
      out.push({ field, index, name, container, path: [...w.specPath, field, index] });
    });
  }
  return out;
}
