/**
 * Namespace defaults: the `scheduler.alpha.kubernetes.io/node-selector` annotation, which the PodNodeSelector admission
 * plugin merges into the nodeSelector of every pod created in the namespace.
 */
import type { SensitivityConfig } from '../config.js';
import { describeObject, type K8sObject } from '../model.js';
import type { K8sHit, K8sRule } from '../rule.js';
import { NIST_PLACEMENT, needsLevels, sensitivityOf } from './common.js';

export const NODE_SELECTOR_ANNOTATION = 'scheduler.alpha.kubernetes.io/node-selector';

/** `k1=v1,k2=v2` as the plugin reads it (labels.ConvertSelectorToLabelsMap); undefined when malformed. */
export function parseNodeSelectorAnnotation(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  if (text.trim() === '') return out;
  for (const part of text.split(',')) {
    const kv = part.split('=');
    if (kv.length !== 2) return undefined;
    const k = (kv[0] as string).trim();
    const v = (kv[1] as string).trim();
    if (k === '') return undefined;
    out[k] = v;
  }
  return out;
}

export interface NamespaceDefault {
  readonly selector?: Record<string, string>;
  /** The value under the node label key, when the default selector has one. */
  readonly level?: string;
}

/** The namespace's default node selector, when it has the annotation. */
export function namespaceDefault(s: SensitivityConfig, ns: K8sObject | undefined): NamespaceDefault | undefined {
  const text = ns?.annotations[NODE_SELECTOR_ANNOTATION];
  if (text === undefined) return undefined;
  const selector = parseNodeSelectorAnnotation(text);
  if (!selector) return {};
  const level = selector[s.nodeLabelKey];
  return { selector, ...(level !== undefined ? { level } : {}) };
}

export const namespaceDefaultMismatch: K8sRule = {
  id: 'sensitivity-namespace-default-mismatch',
  group: 'placement',
  title: "Namespace's default node selector is inconsistent with its sensitivity level",
  severity: 'medium',
  confidence: 'high',
  rationale:
    "With the PodNodeSelector admission plugin, the namespace's scheduler.alpha.kubernetes.io/node-selector annotation is merged into every pod's nodeSelector: a default naming another level sends the namespace's pods to that level's nodes (or makes them unschedulable).",
  remediation:
    "Make the annotation select <node label key>=<the namespace's level>, or remove it and pin each workload ('portcullis k8s placement fix').",
  mapping: NIST_PLACEMENT,
  notChecked: needsLevels,
  check(ctx) {
    const s = sensitivityOf(ctx);
    const hits: K8sHit[] = [];
    for (const n of ctx.index.ofKind('Namespace')) {
      const d = namespaceDefault(s, n);
      if (!d) continue;
      const path = ['metadata', 'annotations', NODE_SELECTOR_ANNOTATION];
      const at = (message: string, severity?: 'low') =>
        hits.push({ object: n, path, message: `${describeObject(n)}: ${message}`, ...(severity ? { severity } : {}) });
      if (!d.selector) {
        at(`${NODE_SELECTOR_ANNOTATION} is not a list of key=value pairs (pods cannot be admitted into it)`, 'low');
        continue;
      }
      const nsLevel = n.labels[s.labelKey];
      if (s.labelKey !== s.nodeLabelKey && d.selector[s.labelKey] !== undefined && d.level === undefined)
        at(
          `the default node-selector selects nodes by ${s.labelKey}, not by the protected node label ${s.nodeLabelKey}`,
        );
      if (d.level === undefined) continue;
      if (!s.levels.includes(d.level))
        at(`the default node-selector pins pods to ${s.nodeLabelKey}=${d.level}, which is not one of the levels`);
      else if (nsLevel === undefined)
        at(
          `the default node-selector pins pods to level ${d.level}, but the namespace carries no ${s.labelKey} label`,
          'low',
        );
      else if (nsLevel !== d.level)
        at(`the default node-selector pins pods to level ${d.level}, but the namespace is level ${nsLevel}`);
    }
    return hits;
  },
};
