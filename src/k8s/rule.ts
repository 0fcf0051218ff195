/**
 * The Kubernetes check unit: metadata for reports, SARIF and docs/rules.md, and a pure check over the whole set of
 * objects (segmentation and placement need more than one object at a time). audit.ts turns hits into Findings.
 */
import type { Severity } from '../findings/finding.js';
import type { NodeFiles } from './cis/node.js';
import type { K8sConfig, PssLevel } from './config.js';
import { groupOf, isBuiltin, isBuiltinKind } from './kinds.js';
import type { K8sObject, Path } from './model.js';
import type { Workload } from './workload.js';

export type Confidence = 'high' | 'medium' | 'low';

/** The areas of the audit, in report order. */
export type K8sGroup = 'pss' | 'namespaces' | 'network' | 'rbac' | 'images' | 'placement' | 'cis';

export interface K8sRule {
  /** The id the field knows: the Pod Security check id (`hostPathVolumes`), the CIS id (`1.2.1`) or a kebab-case name. */
  readonly id: string;
  readonly group: K8sGroup;
  readonly title: string;
  /** The severity of the worst case; hits say when theirs is lower. */
  readonly severity: Severity;
  readonly confidence: Confidence;
  /** Why it matters, one or two sentences. */
  readonly rationale: string;
  /** What to do about it, one or two sentences. */
  readonly remediation: string;
  /** What it maps to outside Portcullis: `Pod Security Standards (baseline)`, `CIS Kubernetes Benchmark 1.2.1`. */
  readonly mapping?: string;
  check(ctx: K8sContext): K8sHit[];
  /** Why the rule cannot run with this configuration and input (it is then listed as not checked), or undefined. */
  notChecked?(ctx: K8sContext): string | undefined;
}

export interface K8sContext {
  readonly objects: readonly K8sObject[];
  /** Pods and every controller's pod template. */
  readonly workloads: readonly Workload[];
  readonly index: ObjectIndex;
  readonly config: K8sConfig;
  /** --pss-level when given: every pod is held to it, whatever its namespace says. */
  readonly pssLevel?: PssLevel;
  /** Node file systems given for the CIS control-plane and worker checks (`--node-root`). */
  readonly nodes: readonly NodeFiles[];
  /** The run judges one admission request (the webhook): no Namespace object is seen, only the configuration. */
  readonly admission?: boolean;
  /** Record something a rule could not decide and did not report (listed in the report's notes). */
  note(object: K8sObject | undefined, message: string): void;
}

export interface K8sHit {
  /** The object it is about (absent for node-file checks). */
  readonly object?: K8sObject;
  /** The field in the object the finding points at (default: the object itself). */
  readonly path?: Path;
  /** For node-file checks: the file, as shown, and the line when known. */
  readonly file?: { readonly path: string; readonly line?: number };
  readonly message: string;
  readonly severity?: Severity;
  readonly confidence?: Confidence;
}

/** Objects by kind and namespace, built once per run. */
export class ObjectIndex {
  private readonly kinds = new Map<string, K8sObject[]>();

  constructor(objects: readonly K8sObject[]) {
    for (const o of objects) {
      const list = this.kinds.get(o.kind);
      if (list) list.push(o);
      else this.kinds.set(o.kind, [o]);
    }
  }

  private readonly builtin = new Map<string, readonly K8sObject[]>();

  /**
   * Every object of a kind (`Namespace`, `NetworkPolicy`, ...), in input order. For a built-in kind only the objects
   * from its API group (kinds.ts): a custom resource named `Namespace` is not one. `group` asks for exactly that group
   * instead ('' for the core group), as an ownerReference's apiVersion names it; `*` every group.
   */
  ofKind(kind: string, group?: string): readonly K8sObject[] {
    const all = this.kinds.get(kind) ?? [];
    if (group === '*') return all;
    if (group !== undefined) return all.filter((o) => groupOf(o.apiVersion) === group);
    if (!isBuiltinKind(kind)) return all;
    let list = this.builtin.get(kind);
    if (!list) {
      list = all.filter((o) => isBuiltin(o));
      this.builtin.set(kind, list);
    }
    return list;
  }

  /** Namespaces named anywhere: Namespace objects and every object's metadata.namespace. */
  namespaceNames(objects: readonly K8sObject[]): string[] {
    const names = new Set<string>();
    for (const n of this.ofKind('Namespace')) if (n.name) names.add(n.name);
    for (const o of objects) if (o.namespace !== undefined) names.add(o.namespace);
    return [...names].sort();
  }
}
