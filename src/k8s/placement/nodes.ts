/**
 * The placement checks on nodes: in live state (cluster dumps), a node runs pods of one level only; every node's level
 * is under the node-restriction prefix (which a kubelet cannot set on itself), is a configured level, and is backed by
 * the level's NoSchedule taint.
 */
import { isBuiltin } from '../kinds.js';
import { asArray, asRecord, getIn, type K8sObject, type Path } from '../model.js';
import type { K8sHit, K8sRule } from '../rule.js';
import { NIST_PLACEMENT, needsLevels, sensitivityOf } from './common.js';
import { levelOfLabels } from './levels.js';

/** How many pods of each level a message names before `and N more`. */
const NAMED = 5;

/** Pods bound to a node that still hold it (Succeeded and Failed pods have stopped). */
function runningOn(o: K8sObject): string | undefined {
  if (!isBuiltin(o, 'Pod')) return undefined;
  const node = getIn(o.raw, ['spec', 'nodeName']);
  const phase = getIn(o.raw, ['status', 'phase']);
  if (typeof node !== 'string' || node === '' || phase === 'Succeeded' || phase === 'Failed') return undefined;
  return node;
}

const podName = (o: K8sObject) => `${o.namespace !== undefined ? `${o.namespace}/` : ''}${o.name}`;

function names(pods: readonly K8sObject[]): string {
  const shown = pods.slice(0, NAMED).map(podName).join(', ');
  return pods.length > NAMED ? `${shown} and ${pods.length - NAMED} more` : shown;
}

export const nodeMixedSensitivity: K8sRule = {
  id: 'node-mixed-sensitivity',
  group: 'placement',
  title: 'Node runs pods of more than one sensitivity level',
  severity: 'high',
  confidence: 'high',
  rationale:
    'Containers on one node share its kernel: a container escape from the lower-level pod reaches the higher-level one. NIST SP 800-190 asks that a host run containers of a single sensitivity level.',
  remediation:
    "Pin every workload to nodes of its level and taint the nodes ('portcullis k8s placement fix'), then drain the node so its pods are rescheduled.",
  mapping: NIST_PLACEMENT,
  notChecked: needsLevels,
  check(ctx) {
    const s = sensitivityOf(ctx);
    const byNode = new Map<string, K8sObject[]>();
    for (const o of ctx.objects) {
      const node = runningOn(o);
      if (node === undefined) continue;
      const list = byNode.get(node);
      if (list) list.push(o);
      else byNode.set(node, [o]);
    }
    const nodes = new Map<string, K8sObject>();
    for (const n of ctx.index.ofKind('Node')) if (!nodes.has(n.name)) nodes.set(n.name, n);
    const hits: K8sHit[] = [];
    for (const [node, pods] of [...byNode].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const byLevel = new Map<string, K8sObject[]>();
      const unlabelled: K8sObject[] = [];
      for (const p of pods) {
        const lv = levelOfLabels(s, ctx.index, p.labels, p.namespace);
        if (lv.value === undefined || !lv.known) {
          unlabelled.push(p);
          continue;
        }
        byLevel.set(lv.value, [...(byLevel.get(lv.value) ?? []), p]);
      }
      const nodeObj = nodes.get(node);
      const nodeLevel = nodeObj?.labels[s.nodeLabelKey];
      const levels = s.levels.filter((l) => byLevel.has(l));
      const listed = levels.map((l) => `${l} (${names(byLevel.get(l) ?? [])})`).join('; ');
      const others = unlabelled.length ? `; without a known level: ${names(unlabelled)}` : '';
      const object = nodeObj ?? (byLevel.get(levels[0] ?? '')?.[0] as K8sObject);
      const path: Path = nodeObj ? [] : ['spec', 'nodeName'];
      if (levels.length > 1)
        hits.push({
          object,
          path,
          message: `node ${node} runs pods of ${levels.length} levels: ${listed}${others}`,
        });
      else if (levels.length === 1 && nodeLevel !== undefined && nodeLevel !== levels[0])
        hits.push({
          object,
          path,
          severity: 'medium',
          message: `node ${node} is labelled ${s.nodeLabelKey}=${nodeLevel} but runs pods of level ${listed}${others}`,
        });
    }
    return hits;
  },
};

const PROTECTED = 'node-restriction.kubernetes.io';

/** Whether the NodeRestriction admission plugin keeps kubelets from setting the label on their own Node. */
export function isProtectedKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return false;
  const domain = key.slice(0, slash);
  return domain === PROTECTED || domain.endsWith(`.${PROTECTED}`);
}

export const nodeSensitivityLabel: K8sRule = {
  id: 'node-sensitivity-label',
  group: 'placement',
  title: "Node's sensitivity label or taint is wrong",
  severity: 'high',
  confidence: 'high',
  rationale:
    "A node's level must be a label its own kubelet cannot set (the node-restriction.kubernetes.io/ prefix; otherwise a compromised node can claim a higher level and attract its workloads), must be one of the levels, and must come with the level's NoSchedule taint, or workloads of other levels land on it.",
  remediation:
    "Label the node with <node label key>=<level> under node-restriction.kubernetes.io/ and taint it: 'kubectl taint nodes NODE <taint key>=<level>:NoSchedule'.",
  mapping: 'NIST SP 800-190 4.3.4, 4.3.5 (orchestrator node trust)',
  notChecked: needsLevels,
  check(ctx) {
    const s = sensitivityOf(ctx);
    const hits: K8sHit[] = [];
    for (const n of ctx.index.ofKind('Node')) {
      const at = (path: Path, message: string, severity?: 'medium') =>
        hits.push({ object: n, path, message: `node ${n.name}: ${message}`, ...(severity ? { severity } : {}) });
      const label = n.labels[s.nodeLabelKey];
      const taints = asArray(getIn(n.raw, ['spec', 'taints']))
        .map((t, i) => ({ t: asRecord(t), i }))
        .filter((x) => x.t?.key === s.taintKey);
      if (label === undefined) {
        const other = s.labelKey !== s.nodeLabelKey ? n.labels[s.labelKey] : undefined;
        if (other !== undefined)
          at(
            ['metadata', 'labels', s.labelKey],
            `its level is under ${s.labelKey}, which its kubelet can set; workloads pin to ${s.nodeLabelKey}`,
          );
        for (const x of taints)
          at(
            ['spec', 'taints', x.i],
            `it carries the taint ${s.taintKey}=${String(x.t?.value ?? '')} but no ${s.nodeLabelKey} label`,
            'medium',
          );
        continue;
      }
      const labelPath = ['metadata', 'labels', s.nodeLabelKey];
      if (!isProtectedKey(s.nodeLabelKey))
        at(
          labelPath,
          `its level label ${s.nodeLabelKey} is not under the ${PROTECTED}/ prefix, so its own kubelet can set it (and claim any level)`,
        );
      if (!s.levels.includes(label)) {
        at(labelPath, `${s.nodeLabelKey}=${label} is not one of the levels (${s.levels.join(', ')})`, 'medium');
        continue;
      }
      const matching = taints.filter(
        (x) => x.t?.value === label && (x.t?.effect === 'NoSchedule' || x.t?.effect === 'NoExecute'),
      );
      if (matching.length === 0)
        at(
          getIn(n.raw, ['spec', 'taints']) === undefined ? labelPath : ['spec', 'taints'],
          `level ${label} without the taint ${s.taintKey}=${label}:NoSchedule, so pods of other levels that are not pinned can be scheduled on it`,
        );
      for (const x of taints)
        if (x.t?.value !== label)
          at(
            ['spec', 'taints', x.i],
            `it is labelled level ${label} but carries the taint ${s.taintKey}=${String(x.t?.value ?? '')}`,
            'medium',
          );
    }
    return hits;
  },
};

export const NODE_RULES: readonly K8sRule[] = [nodeMixedSensitivity, nodeSensitivityLabel];
