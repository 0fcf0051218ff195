/**
 * `k8s placement fix` (pure): for every workload whose level is known but whose placement is wrong, the change that
 * pins it to the nodes of its level (nodeSelector, the required node affinity's expressions on the node label) and
 * makes it tolerate its own level's taint and no other level's. Each plan holds the change twice: as an RFC 6902 JSON
 * Patch and as a strategic-merge patch body (whose lists here are all atomic, so they are written whole).
 */
import type { SensitivityConfig } from '../config.js';
import { isBuiltin } from '../kinds.js';
import { asArray, asRecord, getIn, type K8sObject, type Path } from '../model.js';
import { ObjectIndex } from '../rule.js';
import { type Workload, workloadOf } from '../workload.js';
import { levelOf, ownerName, ownWorkloads } from './levels.js';
import { pinning, REQUIRED, TERMS } from './pinning.js';
import { checkTolerations, describeToleration, levelTaint, levelToleration, tolerates } from './tolerations.js';

export type JsonPatchOp =
  | { readonly op: 'add' | 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

export interface FixPlan {
  readonly object: K8sObject;
  readonly level: string;
  /** What the patch changes, one line each. */
  readonly changes: readonly string[];
  /** What the user must know to apply it. */
  readonly notes: readonly string[];
  readonly jsonPatch: readonly JsonPatchOp[];
  /** The strategic-merge patch body (apiVersion, kind, metadata and the changed part of the pod spec). */
  readonly mergePatch: Readonly<Record<string, unknown>>;
}

export interface Skipped {
  readonly object: K8sObject;
  readonly reason: string;
}

export interface FixResult {
  readonly plans: readonly FixPlan[];
  /** Workloads with a wrong or unknown placement that no patch can be written for. */
  readonly skipped: readonly Skipped[];
}

/** RFC 6901: `~` and `/` escaped in each reference token. */
export function pointer(path: Path): string {
  return path.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function nest(path: Path, value: Record<string, unknown>): Record<string, unknown> {
  let out = value;
  for (const seg of [...path].reverse()) out = { [String(seg)]: out };
  return out;
}

/** The plan for one workload, or undefined when its placement is right (or its level is not known). */
export function planFix(s: SensitivityConfig, w: Workload, level: string): FixPlan | undefined {
  const o = w.object;
  const spec = w.spec;
  const key = s.nodeLabelKey;
  const pin = pinning(spec, key, level);
  const tol = checkTolerations(s, spec.tolerations, level);
  const needPin = pin.verdict === 'unpinned' || pin.verdict === 'contradiction';
  const needTol = tol.foreign.length > 0 || !tol.ownTolerated;
  if (!needPin && !needTol) return undefined;
  const ops: JsonPatchOp[] = [];
  const body: Record<string, unknown> = {};
  const changes: string[] = [];
  const notes: string[] = [];
  const at = (...rest: Path) => pointer([...w.specPath, ...rest]);
  if (needPin) {
    const selector = asRecord(spec.nodeSelector);
    if (selector?.[key] !== level) {
      if (selector) ops.push({ op: 'add', path: at('nodeSelector', key), value: level });
      else ops.push({ op: 'add', path: at('nodeSelector'), value: { [key]: level } });
      body.nodeSelector = { [key]: level };
      changes.push(`nodeSelector ${key}: ${level}`);
    }
    // Expressions on the level key in the required affinity are rewritten, not removed: a term left empty would match
    // no node at all.
    const pinned = { key, operator: 'In', values: [level] };
    let rewritten = 0;
    const terms = asArray(getIn(spec, TERMS)).map((t, ti) => {
      const term = asRecord(t);
      if (!term || !Array.isArray(term.matchExpressions)) return t;
      const exprs = term.matchExpressions.map((e, ei) => {
        const r = asRecord(e);
        if (r?.key !== key) return e;
        if (r.operator === 'In' && Array.isArray(r.values) && r.values.length === 1 && r.values[0] === level) return e;
        ops.push({ op: 'replace', path: at(...TERMS, ti, 'matchExpressions', ei), value: pinned });
        rewritten++;
        return pinned;
      });
      return { ...term, matchExpressions: exprs };
    });
    if (rewritten > 0) {
      const required = asRecord(getIn(spec, REQUIRED)) ?? {};
      body.affinity = {
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { ...required, nodeSelectorTerms: terms } },
      };
      changes.push(`required node affinity: ${rewritten} expression(s) on ${key} set to In [${level}]`);
    }
  }
  let removed = 0;
  if (needTol) {
    const list = asArray(spec.tolerations);
    const foreign = new Set(tol.foreign.map((f) => f.index));
    const keep = list.filter((_, i) => !foreign.has(i));
    for (const f of tol.foreign) {
      removed++;
      changes.push(
        `remove toleration ${f.index + 1}, ${describeToleration(list[f.index])}: it tolerates the taints of ${f.levels.join(', ')}`,
      );
    }
    if (!keep.some((t) => tolerates(t, levelTaint(s, level)) === true)) {
      keep.push(levelToleration(s, level));
      changes.push(`tolerate ${s.taintKey}=${level}:NoSchedule`);
    }
    ops.push({ op: Object.hasOwn(spec, 'tolerations') ? 'replace' : 'add', path: at('tolerations'), value: keep });
    body.tolerations = keep;
    if (foreign.size && list.some((t, i) => foreign.has(i) && !asRecord(t)?.key))
      notes.push('a toleration of every taint is removed: add back tolerations of non-level taints the workload needs');
  }
  if (isBuiltin(o, 'Pod') && (needPin || removed > 0))
    notes.push(
      "a Pod's nodeSelector, affinity and existing tolerations cannot be changed in place (only tolerations can be added): apply this to its manifest and recreate the pod",
    );
  const owner = ownerName(o);
  if (owner) notes.push(`owned by ${owner}, which is not in the input: fix that controller, or the change is lost`);
  const meta = { name: o.name, ...(o.namespace !== undefined ? { namespace: o.namespace } : {}) };
  return {
    object: o,
    level,
    changes,
    notes,
    jsonPatch: ops,
    mergePatch: { apiVersion: o.apiVersion, kind: o.kind, metadata: meta, ...nest(w.specPath, body) },
  };
}

/** Plans for every workload judged on its own (controllers rather than the pods they own), in input order. */
export function planFixes(objects: readonly K8sObject[], s: SensitivityConfig): FixResult {
  const index = new ObjectIndex(objects);
  const workloads: Workload[] = [];
  for (const o of objects) {
    const w = workloadOf(o);
    if (w) workloads.push(w);
  }
  const plans: FixPlan[] = [];
  const skipped: Skipped[] = [];
  for (const w of ownWorkloads(workloads, index)) {
    const lv = levelOf(s, index, w);
    if (!lv.known || lv.value === undefined) {
      skipped.push({
        object: w.object,
        reason:
          lv.value === undefined
            ? `no ${s.labelKey} label on its pods or its namespace`
            : `${s.labelKey}=${lv.value} is not one of the levels`,
      });
      continue;
    }
    if (w.object.name === '') {
      skipped.push({ object: w.object, reason: 'it has no metadata.name to patch' });
      continue;
    }
    const plan = planFix(s, w, lv.value);
    if (plan) plans.push(plan);
  }
  return { plans, skipped };
}
