/**
 * Pods and every controller's pod template, as one shape: the checks that apply to pods (Pod Security Standards,
 * images, placement) run on each workload whatever its kind.
 */
import { isBuiltin } from './kinds.js';
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

/** A kind name that is a built-in workload's (from the right group or not: see isWorkload). */
export function isWorkloadKind(kind: string): boolean {
  return Object.hasOwn(TEMPLATE_PATH, kind);
}

/** The object is a built-in workload: its kind and its API group (a `Deployment` of `example.com` is not one). */
export function isWorkload(o: { readonly apiVersion: string; readonly kind: string }): boolean {
  return isWorkloadKind(o.kind) && isBuiltin(o);
}

/** The object's pod spec, or undefined for kinds that hold none (or a spec missing entirely). */
export function workloadOf(o: K8sObject): Workload | undefined {
  const base = isWorkload(o) ? TEMPLATE_PATH[o.kind] : undefined;
  return base ? at(o, base) : undefined;
}

/**
 * A custom resource's pod template where most controllers keep it, `spec.template` (Argo Rollouts, OpenKruise
 * CloneSets, Knative Services): the audit checks it as it checks a Deployment's. undefined for the built-in kinds.
 */
export function customTemplateOf(o: K8sObject): Workload | undefined {
  if (isWorkload(o)) return undefined;
  return Array.isArray(getIn(o.raw, ['spec', 'template', 'spec', 'containers']))
    ? at(o, ['spec', 'template'])
    : undefined;
}

/** Bounds of the search for pod specs (the webhook's and the audit's): values visited, nesting, pod specs found. */
export const POD_SPEC_SEARCH: PodSpecLimits = { nodes: 200_000, depth: 64, specs: 256 };

export interface PodSpecLimits {
  readonly nodes: number;
  readonly depth: number;
  readonly specs: number;
}

export interface PodSpecSearch {
  /** Where each pod spec is (a mapping with a `containers` list holding a mapping with an image), in document order. */
  readonly specs: readonly Path[];
  /** Why the search stopped before the end (too large, too deep, too many pod specs), and where; else undefined. */
  readonly incomplete?: { readonly path: Path; readonly reason: string };
}

/** A mapping with a `containers` list of which at least one item is a mapping with an `image` key. */
function isPodSpecLike(r: Readonly<Record<string, unknown>>): boolean {
  const cs = r.containers;
  return Array.isArray(cs) && cs.some((c) => asRecord(c) !== undefined && Object.hasOwn(c as object, 'image'));
}

/**
 * Every pod spec in a value, wherever it is (the one finder for the webhook, which refuses unknown kinds that hold
 * one, and the audit, which checks those it can place). Not searched inside a pod spec found. Bounded: the caller
 * treats an incomplete search as one that may have missed a pod spec.
 */
export function findPodSpecs(raw: unknown, limits: Partial<PodSpecLimits> = {}, firstOnly = false): PodSpecSearch {
  const max = { ...POD_SPEC_SEARCH, ...limits };
  const specs: Path[] = [];
  const stack: { v: unknown; path: Path }[] = [{ v: raw, path: [] }];
  let seen = 0;
  while (stack.length > 0) {
    const { v, path } = stack.pop() as { v: unknown; path: Path };
    if (++seen > max.nodes)
      return { specs, incomplete: { path, reason: 'the object is too large to search for pod specs' } };
    if (v === null || typeof v !== 'object') continue;
    if (path.length > max.depth)
      return { specs, incomplete: { path, reason: 'nested too deep to search for pod specs' } };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: [...path, i] });
      continue;
    }
    const r = v as Record<string, unknown>;
    if (isPodSpecLike(r)) {
      if (specs.length >= max.specs)
        return { specs, incomplete: { path, reason: 'it holds too many pod specs to check' } };
      specs.push(path);
      if (firstOnly) return { specs };
      continue;
    }
    const entries = Object.entries(r);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, x] = entries[i] as [string, unknown];
      stack.push({ v: x, path: [...path, k] });
    }
  }
  return { specs };
}

/** A path as messages show it: `spec.tasks[0].template.spec`. */
export function showPath(path: Path): string {
  return path
    .map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`))
    .join('')
    .replace(/^\./, '');
}

export interface CustomWorkloads {
  readonly workloads: readonly Workload[];
  /** Pod specs found where no pod template is expected (not under a `template` key): not checked as workloads. */
  readonly unplaced: readonly Path[];
  readonly incomplete?: PodSpecSearch['incomplete'];
}

/**
 * The pod templates of a custom resource (not a built-in kind of any sort): `spec.template` as customTemplateOf
 * reads it, and every other pod spec the finder sees under a `template` or `...Template` key, as PodTemplateSpecs
 * are kept (Kubeflow `spec.tfReplicaSpecs.Worker.template`, Volcano `spec.tasks[0].template`, Ray
 * `spec.workerGroupSpecs[0].template`, Flink `spec.podTemplate`). The others are unplaced: the shape holds a pod
 * spec, but not one whose labels and metadata can be told apart.
 */
export function customWorkloadsOf(o: K8sObject): CustomWorkloads {
  if (isBuiltin(o)) return { workloads: [], unplaced: [] };
  const first = customTemplateOf(o);
  const workloads: Workload[] = first ? [first] : [];
  const unplaced: Path[] = [];
  const found = findPodSpecs(o.raw);
  for (const p of found.specs) {
    if (first && samePath(p, first.specPath)) continue;
    const parent = p[p.length - 2];
    const w =
      p[p.length - 1] === 'spec' && typeof parent === 'string' && /template$/i.test(parent)
        ? at(o, p.slice(0, -1))
        : undefined;
    if (w) workloads.push(w);
    else unplaced.push(p);
  }
  return { workloads, unplaced, ...(found.incomplete ? { incomplete: found.incomplete } : {}) };
}

function samePath(a: Path, b: Path): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
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

/** Where a workload runs an image: a container's `image`, or an image volume's `image.reference` (Kubernetes 1.31+). */
export interface ImageUse {
  readonly image: unknown;
  /** The path of the image string in the object (a JSON patch replaces it there). */
  readonly path: Path;
  /** How messages name it: `container web`, `initContainer setup`, `image volume payload`. */
  readonly label: string;
  /** A volume's name, for an image volume; undefined for a container. */
  readonly volume?: string;
  /** The container, for a container's image. */
  readonly container?: ContainerRef;
}

/** Every image a workload runs: its containers' (containersOf order), then its image volumes', in spec order. */
export function imagesOf(w: Workload): ImageUse[] {
  const out: ImageUse[] = containersOf(w).map((c) => ({
    image: c.container.image,
    path: [...c.path, 'image'],
    label: `${c.field === 'containers' ? 'container' : c.field.replace(/s$/, '')} ${c.name}`,
    container: c,
  }));
  asArray(w.spec.volumes).forEach((v, index) => {
    const volume = asRecord(v);
    // Any `image` key makes it an image volume: a malformed source must not pass unjudged (fail closed).
    if (!volume || volume.image === undefined || volume.image === null) return;
    const name = typeof volume.name === 'string' ? volume.name : `#${index}`;
    out.push({
      image: asRecord(volume.image)?.reference,
      path: [...w.specPath, 'volumes', index, 'image', 'reference'],
      label: `image volume ${name}`,
      volume: name,
    });
  });
  return out;
}

/**
 * Taints the control plane tolerates for pods on its own (DefaultTolerationSeconds admission, the DaemonSet
 * controller): a live pod carries these where its template does not, so they do not make its placement its own.
 */
const SYSTEM_TOLERATION_KEYS: ReadonlySet<string> = new Set(
  [
    'not-ready',
    'unreachable',
    'disk-pressure',
    'memory-pressure',
    'pid-pressure',
    'unschedulable',
    'network-unavailable',
  ].map((k) => `node.kubernetes.io/${k}`),
);

function isSystemToleration(t: unknown): boolean {
  const r = asRecord(t);
  return r !== undefined && r.operator === 'Exists' && typeof r.key === 'string' && SYSTEM_TOLERATION_KEYS.has(r.key);
}

/** JSON with every mapping's keys sorted: equal values, equal text, whatever order their keys were written in. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : x,
  );
}

/**
 * Where the scheduler may put a workload's pods, as one comparable text: nodeSelector, affinity and tolerations (less
 * those the control plane adds). nodeName is left out: the scheduler sets it on every pod it places, and so is the
 * `metadata.name` node field the DaemonSet controller adds to each pod's node affinity.
 */
export function placementOf(w: Workload): string {
  const s = w.spec;
  const orNull = (v: unknown) =>
    asRecord(v) !== undefined && Object.keys(v as object).length === 0 ? null : (v ?? null);
  return canonicalJson({
    nodeSelector: orNull(s.nodeSelector),
    affinity: orNull(withoutNodeNameTerms(s.affinity)),
    tolerations: asArray(s.tolerations).filter((t) => !isSystemToleration(t)),
  });
}

/** `affinity` less the `matchFields` on `metadata.name` that pin a DaemonSet's pod to its node (and what that empties). */
function withoutNodeNameTerms(affinity: unknown): unknown {
  const a = asRecord(affinity);
  const required = asRecord(asRecord(a?.nodeAffinity)?.requiredDuringSchedulingIgnoredDuringExecution);
  if (!a || !required || !Array.isArray(required.nodeSelectorTerms)) return affinity;
  const terms = required.nodeSelectorTerms.flatMap((t: unknown) => {
    const term = asRecord(t);
    if (!term) return [t];
    const fields = asArray(term.matchFields).filter((f) => asRecord(f)?.key !== 'metadata.name');
    const rest: Record<string, unknown> = { ...term, matchFields: fields };
    if (fields.length === 0) delete rest.matchFields;
    return Object.keys(rest).length === 0 || (asArray(rest.matchExpressions).length === 0 && !rest.matchFields)
      ? []
      : [rest];
  });
  const nodeAffinity: Record<string, unknown> = { ...asRecord(a.nodeAffinity) };
  if (terms.length > 0)
    nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = { ...required, nodeSelectorTerms: terms };
  else delete nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
  const out: Record<string, unknown> = { ...a, nodeAffinity };
  if (Object.keys(nodeAffinity).length === 0) delete out.nodeAffinity;
  return out;
}

/**
 * A workload's volumes as comparable texts, less those the control plane adds to a controller's pods: the service
 * account token volume (`kube-api-access-*`, projected) and the claims a StatefulSet makes from its
 * volumeClaimTemplates (`persistentVolumeClaim`, a volume type every Pod Security level allows).
 */
export function volumesOf(w: Workload): string[] {
  return asArray(w.spec.volumes)
    .filter((v) => {
      const r = asRecord(v);
      if (r && asRecord(r.persistentVolumeClaim)) return false;
      return !(r && typeof r.name === 'string' && r.name.startsWith('kube-api-access-') && asRecord(r.projected));
    })
    .map(canonicalJson);
}
