/**
 * Pod Security Standards evaluation of one workload at one level (pure), and the level a workload is held to.
 * Semantics: pod-security-admission's policy version "latest" as of Kubernetes v1.37 (see checks.ts).
 */
import type { Severity } from '../../findings/finding.js';
import type { PssLevel } from '../config.js';
import type { K8sObject, Path } from '../model.js';
import type { K8sContext, ObjectIndex } from '../rule.js';
import type { Workload } from '../workload.js';
import { checksAt, type PodView, PSS_CHECKS, podView } from './checks.js';

export interface PssViolation {
  /** The upstream check id (`hostPathVolumes`). */
  readonly check: string;
  /** The level the check belongs to. */
  readonly level: PssLevel;
  /** The offending field in the object (K8sObject.locate gives its line). */
  readonly path: Path;
  readonly message: string;
  /** Set when this violation is worse than its check's usual severity (a hostPath of `/`). */
  readonly severity?: Severity;
}

/** Each rule reads the same workloads: their views are built once. */
const views = new WeakMap<Workload, PodView>();
function viewOf(w: Workload): PodView {
  let v = views.get(w);
  if (!v) {
    v = podView(w);
    views.set(w, v);
  }
  return v;
}

/** Every violation of the level's checks (restricted runs the baseline checks too, as upstream combines them). */
export function evaluatePss(w: Workload, level: PssLevel): PssViolation[] {
  const pod = viewOf(w);
  return checksAt(level).flatMap((c) => c.run(pod).map((h) => ({ check: c.id, level: c.level, ...h })));
}

/** The violations of one check, when the level runs it (none when a restricted check replaces it). */
export function evaluatePssCheck(w: Workload, level: PssLevel, id: string): PssViolation[] {
  const c = checksAt(level).find((x) => x.id === id);
  if (!c) return [];
  return c.run(viewOf(w)).map((h) => ({ check: c.id, level: c.level, ...h }));
}

export const PSS_CHECK_IDS: readonly string[] = PSS_CHECKS.map((c) => c.id);

export const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

/** Namespace name to its enforce label value (undefined: no label), built once per index. */
const enforceLabels = new WeakMap<ObjectIndex, Map<string, string | undefined>>();

function enforceLabelOf(index: ObjectIndex, ns: string): { found: boolean; value?: string } {
  let m = enforceLabels.get(index);
  if (!m) {
    m = new Map();
    for (const n of index.ofKind('Namespace') as readonly K8sObject[])
      if (n.name && !m.has(n.name)) m.set(n.name, n.labels[ENFORCE_LABEL]);
    enforceLabels.set(index, m);
  }
  if (!m.has(ns)) return { found: false };
  const value = m.get(ns);
  return value === undefined ? { found: true } : { found: true, value };
}

/**
 * The level a workload is held to: --pss-level when given; else its Namespace object's enforce label (privileged:
 * not checked; a value that is not a level reads as restricted, as the admission controller fails closed); else the
 * configured level. The enforce-version label is not read: every workload is held to "latest".
 */
export function pssLevelFor(w: Workload, ctx: K8sContext): PssLevel | 'privileged' {
  if (ctx.pssLevel) return ctx.pssLevel;
  const ns = w.object.namespace;
  if (ns !== undefined) {
    const label = enforceLabelOf(ctx.index, ns);
    if (label.found && label.value !== undefined) {
      const v = label.value;
      return v === 'privileged' || v === 'baseline' || v === 'restricted' ? v : 'restricted';
    }
  }
  return ctx.config.pssLevel;
}
