/** The placement checks on workloads: each has a level, is pinned to nodes of exactly that level, tolerates only its own. */

import type { SensitivityConfig } from '../config.js';
import { describeObject, getIn } from '../model.js';
import type { K8sContext, K8sHit, K8sRule } from '../rule.js';
import type { Workload } from '../workload.js';
import { NIST_PLACEMENT, needsLevels, sensitivityOf } from './common.js';
import { levelOf, namespaceObject, ownWorkloads } from './levels.js';
import { namespaceDefault } from './nsdefault.js';
import { pinning } from './pinning.js';
import { checkTolerations, describeToleration } from './tolerations.js';

/** The workloads judged on their own whose level is known, with it: what pinning and tolerations are held to. */
function* leveledWorkloads(ctx: K8sContext, s: SensitivityConfig): Generator<{ w: Workload; level: string }> {
  for (const w of ownWorkloads(ctx.workloads, ctx.index)) {
    const lv = levelOf(s, ctx.index, w);
    if (lv.known && lv.value !== undefined) yield { w, level: lv.value };
  }
}

export const levelMissing: K8sRule = {
  id: 'sensitivity-level-missing',
  group: 'placement',
  title: 'Workload has no sensitivity level',
  severity: 'medium',
  confidence: 'high',
  rationale:
    'A workload without a level cannot be kept on the nodes of its level: nothing says which nodes it may share a kernel with.',
  remediation:
    "Label the pod template (or the namespace) with the sensitivity label key and one of the configured levels; then run 'portcullis k8s placement fix'.",
  mapping: NIST_PLACEMENT,
  notChecked: needsLevels,
  check(ctx) {
    const s = sensitivityOf(ctx);
    const hits: K8sHit[] = [];
    for (const w of ownWorkloads(ctx.workloads, ctx.index)) {
      if (levelOf(s, ctx.index, w).value !== undefined) continue;
      const o = w.object;
      const ns = o.namespace;
      const nsObj = namespaceObject(ctx.index, ns);
      const nsPart =
        ns === undefined
          ? ' (no namespace is written, so no namespace label can be read)'
          : nsObj
            ? ` nor on namespace ${ns}`
            : ` (namespace ${ns} is not in the input: its label could not be read)`;
      const controllerOnly =
        w.metaPath.length > 1 && o.labels[s.labelKey] !== undefined
          ? `; the ${o.kind}'s own ${s.labelKey} label does not reach its pods`
          : '';
      hits.push({
        object: o,
        path: getIn(o.raw, [...w.metaPath, 'labels']) !== undefined ? [...w.metaPath, 'labels'] : w.metaPath,
        message: `${describeObject(o)} has no sensitivity level: no ${s.labelKey} label on its pods${nsPart}${controllerOnly}`,
        ...(ns !== undefined && !nsObj ? { confidence: 'medium' as const } : {}),
      });
    }
    return hits;
  },
};

export const levelUnknown: K8sRule = {
  id: 'sensitivity-level-unknown',
  group: 'placement',
  title: 'Sensitivity label value is not a configured level',
  severity: 'medium',
  confidence: 'high',
  rationale:
    'A value outside the configured levels (a typo, an old level) matches no node of any level and cannot be ordered against the others, so its placement and network separation cannot be judged.',
  remediation:
    'Set the label to one of the configured levels, or add the level to sensitivity.levels in the configuration.',
  mapping: NIST_PLACEMENT,
  notChecked: needsLevels,
  check(ctx) {
    const s = sensitivityOf(ctx);
    const hits: K8sHit[] = [];
    const known = s.levels.join(', ');
    for (const n of ctx.index.ofKind('Namespace')) {
      const v = n.labels[s.labelKey];
      if (v !== undefined && !s.levels.includes(v))
        hits.push({
          object: n,
          path: ['metadata', 'labels', s.labelKey],
          message: `${describeObject(n)} has ${s.labelKey}=${JSON.stringify(v)}, not one of the levels (${known})`,
        });
    }
    for (const w of ownWorkloads(ctx.workloads, ctx.index)) {
      const lv = levelOf(s, ctx.index, w);
      if (lv.from !== 'pod' || lv.known) continue;
      hits.push({
        object: w.object,
        path: [...w.metaPath, 'labels', s.labelKey],
        message: `${describeObject(w.object)} has pods labelled ${s.labelKey}=${JSON.stringify(lv.value)}, not one of the levels (${known})`,
      });
    }
    return hits;
  },
};

export const levelMismatch: K8sRule = {
  id: 'sensitivity-level-mismatch',
  group: 'placement',
  title: "Workload claims another sensitivity level than its namespace's",
  severity: 'high',
  confidence: 'high',
  rationale:
    "A pod's own level label is written by whoever creates the pod: one in a namespace of a lower level (or of no level) that claims a higher one is pinned to, and shares a kernel with, the higher level's workloads. The namespace's level is the one its owners set, so a claim only stands where the namespace has that level.",
  remediation:
    "Remove the pod template's level label, or set it to its namespace's level (sensitivity.namespaces in the configuration, else the Namespace's label); move the workload to a namespace of the level it needs.",
  mapping: NIST_PLACEMENT,
  notChecked: needsLevels,
  check(ctx) {
    const s = sensitivityOf(ctx);
    const hits: K8sHit[] = [];
    for (const w of ownWorkloads(ctx.workloads, ctx.index)) {
      const lv = levelOf(s, ctx.index, w);
      // An unknown value is sensitivity-level-unknown's to report.
      if (lv.from !== 'pod' || !lv.known || lv.value === lv.namespaceLevel) continue;
      const claim = `${describeObject(w.object)} has pods labelled ${s.labelKey}=${JSON.stringify(lv.value)}`;
      const why =
        lv.namespaceLevel !== undefined
          ? { message: `in namespace ${w.object.namespace}, whose level is ${lv.namespaceLevel}` }
          : unvouched(ctx, w.object.namespace);
      hits.push({
        object: w.object,
        path: [...w.metaPath, 'labels', s.labelKey],
        ...why,
        message: `${claim} ${why.message}`,
      });
    }
    return hits;
  },
};

/**
 * Why a pod's own level claim is not vouched for by a namespace that has no level. The webhook sees only the
 * configuration; the audit also reads the Namespace object, and is less sure when that is not in the input.
 */
function unvouched(ctx: K8sContext, ns: string | undefined): { message: string; confidence?: 'medium' } {
  const must = "a pod's level must be its namespace's";
  if (ns === undefined)
    return { message: `but no namespace is written, so none vouches for it (${must})`, confidence: 'medium' };
  if (ctx.admission)
    return { message: `in namespace ${ns}, which has no level in the configuration (sensitivity.namespaces): ${must}` };
  if (namespaceObject(ctx.index, ns))
    return {
      message: `in namespace ${ns}, which has no level (neither sensitivity.namespaces nor a label on the Namespace): ${must}`,
    };
  return {
    message: `in namespace ${ns}, which has no level in the configuration and is not in the input (its label could not be read): ${must}`,
    confidence: 'medium',
  };
}

export const notPinned: K8sRule = {
  id: 'sensitivity-not-pinned',
  group: 'placement',
  title: 'Workload is not pinned to nodes of its sensitivity level',
  severity: 'high',
  confidence: 'high',
  rationale:
    'Unless its nodeSelector or required node affinity admits only nodes labelled with exactly its level, the scheduler may put the workload on a node it shares with workloads of another level (one kernel between them).',
  remediation:
    "Set nodeSelector {<node label key>: <level>} on the pod template (or a required node affinity with `In [<level>]` in every term); 'portcullis k8s placement fix' writes the patch.",
  mapping: NIST_PLACEMENT,
  notChecked: needsLevels,
  check(ctx) {
    const s = sensitivityOf(ctx);
    const hits: K8sHit[] = [];
    for (const { w, level } of leveledWorkloads(ctx, s)) {
      const o = w.object;
      const p = pinning(w.spec, s.nodeLabelKey, level);
      if (p.verdict === 'pinned') continue;
      if (p.verdict === 'unschedulable') {
        ctx.note(o, 'its node selector terms can match no node (empty or contradictory terms): placement not judged');
        continue;
      }
      if (p.verdict === 'contradiction') {
        hits.push({
          object: o,
          path: [...w.specPath, ...p.path],
          severity: 'low',
          message: `${describeObject(o)} (level ${level}) cannot be scheduled: its constraints on ${s.nodeLabelKey} exclude every node`,
        });
        continue;
      }
      const def = namespaceDefault(s, namespaceObject(ctx.index, o.namespace));
      const viaDefault = def?.level === level;
      hits.push({
        object: o,
        path: [...w.specPath, ...p.path],
        message: `${describeObject(o)} (level ${level}) is not pinned to nodes of its level: ${p.why}${p.preferredOnly ? '; a preferred node affinity does not pin' : ''}${viaDefault ? `; the namespace's default node-selector pins it only if the PodNodeSelector admission plugin is enabled` : ''}`,
        ...(viaDefault ? { confidence: 'medium' as const } : {}),
      });
    }
    return hits;
  },
};

export const tolerationMismatch: K8sRule = {
  id: 'sensitivity-toleration-mismatch',
  group: 'placement',
  title: "Workload's tolerations do not match its sensitivity level",
  severity: 'high',
  confidence: 'high',
  rationale:
    "Nodes of a level carry a NoSchedule taint for it: a workload must tolerate its own level's taint to run there, and tolerating another level's taint (or every taint, `operator: Exists` with no key) lets it onto that level's nodes.",
  remediation:
    "Tolerate exactly {key: <taint key>, operator: Equal, value: <level>, effect: NoSchedule} and drop tolerations that match other levels' taints; 'portcullis k8s placement fix' writes the patch.",
  mapping: NIST_PLACEMENT,
  notChecked: needsLevels,
  check(ctx) {
    const s = sensitivityOf(ctx);
    const hits: K8sHit[] = [];
    for (const { w, level } of leveledWorkloads(ctx, s)) {
      const o = w.object;
      const tolerations = w.spec.tolerations;
      const c = checkTolerations(s, tolerations, level);
      for (const f of c.foreign) {
        const t = (tolerations as unknown[])[f.index];
        hits.push({
          object: o,
          path: [...w.specPath, 'tolerations', f.index],
          message: `${describeObject(o)} (level ${level}) tolerates the taints of ${f.levels.join(', ')}: toleration ${f.index + 1} is ${describeToleration(t)}${c.unknown.includes(f.index) ? ' (an operator the scheduler does not know: assumed to tolerate)' : ''}`,
        });
      }
      if (!c.ownTolerated)
        hits.push({
          object: o,
          path: tolerations === undefined ? w.specPath : [...w.specPath, 'tolerations'],
          severity: 'medium',
          message: `${describeObject(o)} (level ${level}) does not tolerate its level's taint ${s.taintKey}=${level}:NoSchedule, so it cannot run on the nodes of its level`,
        });
    }
    return hits;
  },
};

export const WORKLOAD_RULES: readonly K8sRule[] = [
  levelMissing,
  levelUnknown,
  levelMismatch,
  notPinned,
  tolerationMismatch,
];
