/**
 * `k8s audit`: run every check on the objects read (and the node files given), and return the findings sorted by
 * file and line, with what could not be read (which makes the run fail closed) and what could not be checked.
 */
import { printable } from '../errors.js';
import { type Finding, sortByFile } from '../findings/finding.js';
import { type NodeFiles, nodeErrors } from './cis/node.js';
import { DEFAULT_K8S_CONFIG, type K8sConfig, type PssLevel } from './config.js';
import { groupOf } from './kinds.js';
import { describeObject, type K8sLoadError, type K8sObject, ownerChainCycles } from './model.js';
import { evaluatePss } from './pss/evaluate.js';
import { type K8sRule, ObjectIndex } from './rule.js';
import { K8S_RULES } from './rules/index.js';
import {
  customWorkloadsOf,
  imagesOf,
  isWorkload,
  placementOf,
  showPath,
  volumesOf,
  type Workload,
  workloadOf,
} from './workload.js';

export interface K8sNote {
  readonly ruleId: string;
  /** Absent for a rule that did not run at all. */
  readonly where?: string;
  readonly message: string;
}

export interface K8sIgnored {
  readonly ruleId: string;
  readonly where: string;
  readonly reason: string;
}

export interface K8sAuditResult {
  readonly files: readonly string[];
  /** Files in the directories walked that hold no Kubernetes object (left out). */
  readonly skipped?: readonly string[];
  readonly objects: number;
  readonly findings: readonly Finding[];
  readonly errors: readonly K8sLoadError[];
  readonly notes: readonly K8sNote[];
  readonly ignored: readonly K8sIgnored[];
  readonly config?: string;
}

export interface RunOptions {
  readonly config?: K8sConfig;
  readonly pssLevel?: PssLevel;
  readonly nodes?: readonly NodeFiles[];
  readonly rules?: readonly K8sRule[];
  /** Judging one admission request (K8sContext.admission). */
  readonly admission?: boolean;
}

/** Run the checks on loaded objects (pure). A check that throws is a bug: it is not swallowed. */
export function runK8sRules(
  objects: readonly K8sObject[],
  opts: RunOptions = {},
): { findings: Finding[]; notes: K8sNote[]; ignored: K8sIgnored[] } {
  const config = opts.config ?? DEFAULT_K8S_CONFIG;
  const rules = opts.rules ?? K8S_RULES;
  const workloads: Workload[] = [];
  const notes: K8sNote[] = [];
  const controlled = controlledByInput(objects);
  for (const o of objects) {
    if (controlled.has(o)) continue;
    const w = workloadOf(o);
    if (w) workloads.push(w);
    else if (!isWorkload(o)) workloads.push(...customWorkloads(o, notes));
  }
  const ignored: K8sIgnored[] = [];
  const out: Finding[] = [];
  let current = '';
  const ctx = {
    objects,
    workloads,
    index: new ObjectIndex(objects),
    config,
    ...(opts.pssLevel ? { pssLevel: opts.pssLevel } : {}),
    nodes: opts.nodes ?? [],
    ...(opts.admission ? { admission: true } : {}),
    note: (o: K8sObject | undefined, message: string) =>
      notes.push({ ruleId: current, ...(o ? { where: `${o.source.file}: ${describeObject(o)}` } : {}), message }),
  };
  for (const rule of rules) {
    current = rule.id;
    const why = rule.notChecked?.(ctx);
    if (why) {
      notes.push({ ruleId: rule.id, message: `not checked: ${why}` });
      continue;
    }
    for (const hit of rule.check(ctx)) {
      const o = hit.object;
      const at = o ? o.locate(hit.path ?? []) : { line: hit.file?.line ?? 1, column: 1 };
      const file = o ? o.source.file : (hit.file?.path ?? '');
      const accepted = o
        ? config.ignore.find(
            (e) =>
              e.rule === rule.id &&
              (!e.namespaces || (o.namespace !== undefined && e.namespaces.includes(o.namespace))) &&
              (!e.names || e.names.some((g) => g.test(o.name))),
          )
        : config.ignore.find((e) => e.rule === rule.id && !e.namespaces && !e.names);
      if (accepted) {
        ignored.push({ ruleId: rule.id, where: `${file}:${at.line}`, reason: accepted.reason });
        continue;
      }
      out.push({
        ruleId: rule.id,
        kind: 'kubernetes',
        severity: hit.severity ?? rule.severity,
        confidence: hit.confidence ?? rule.confidence,
        title: rule.title,
        // Object names and values reach messages: one line each, whatever the input held.
        message: printable(hit.message, 2000),
        location: { kind: 'file', path: file, line: at.line, column: at.column },
        fix: { text: rule.remediation },
        ...(o
          ? {
              resource: {
                apiVersion: o.apiVersion,
                kind: o.kind,
                ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
                name: o.name,
              },
            }
          : {}),
      });
    }
  }
  return { findings: sortByFile(out, new Map(rules.map((r, i) => [r.id, i]))), notes, ignored };
}

/**
 * A custom resource's pod templates (workload.ts customWorkloadsOf, the finder the webhook uses too), and a note for
 * each pod spec that cannot be checked: the webhook refuses such objects, the audit says it did not judge them.
 */
function customWorkloads(o: K8sObject, notes: K8sNote[]): readonly Workload[] {
  const found = customWorkloadsOf(o);
  const where = `${o.source.file}: ${describeObject(o)}`;
  const note = (message: string) => notes.push({ ruleId: 'pod-spec-search', where, message });
  for (const p of found.unplaced)
    note(
      `holds a pod spec at ${printable(showPath(p), 200)} that is not a pod template (not under a template key): its containers are not checked`,
    );
  if (found.incomplete)
    note(
      `${found.incomplete.reason} (at ${printable(showPath(found.incomplete.path), 200) || 'the top'}): pod specs past that point are not checked`,
    );
  return found.workloads;
}

/**
 * Objects whose controller (an ownerReference with `controller: true`) is in the input too: a live cluster's or a
 * dump's Pods of a ReplicaSet of a Deployment. Their pod spec is the controller's template, already checked there, so
 * they are not checked again as workloads (they stay objects: placement reads where pods run). Only when the pod holds
 * nothing the template does not and is placed as it is: a pod changed by a mutating webhook (an injected privileged
 * sidecar, a toleration) or one that names an owner it does not come from is checked on its own.
 */
function controlledByInput(objects: readonly K8sObject[]): Set<K8sObject> {
  const out = new Set<K8sObject>();
  // By group too: a custom resource named like a built-in kind is not the owner a reference to the built-in names.
  const key = (apiVersion: unknown, kind: string, ns: string | undefined, name: string) =>
    `${typeof apiVersion === 'string' ? groupOf(apiVersion) : undefined}\0${kind}\0${ns ?? ''}\0${name}`;
  let owners: Map<string, K8sObject> | undefined;
  const ownerOf = new Map<K8sObject, K8sObject>();
  for (const o of objects) {
    const refs = (o.raw.metadata as { ownerReferences?: unknown } | undefined)?.ownerReferences;
    if (!Array.isArray(refs)) continue;
    owners ??= new Map(objects.map((x) => [key(x.apiVersion, x.kind, x.namespace, x.name), x]));
    for (const r of refs) {
      if (!r || typeof r !== 'object' || r.controller !== true) continue;
      const owner = owners.get(key(r.apiVersion, String(r.kind), o.namespace, String(r.name)));
      if (owner && addsNothing(o, owner)) {
        out.add(o);
        ownerOf.set(o, owner);
      }
    }
  }
  // An object judged through its owner must reach one judged on its own: one naming itself (an admission request
  // holds just that object), or owners naming each other, would otherwise go unchecked.
  for (const o of [...out]) if (ownerChainCycles(o, (x) => ownerOf.get(x))) out.delete(o);
  return out;
}

/**
 * Whether an object's pod has no Pod Security violation, image or volume that its owner's pod template lacks, and the
 * template's placement (nodeSelector, affinity, tolerations).
 */
function addsNothing(o: K8sObject, owner: K8sObject): boolean {
  const w = workloadOf(o);
  if (!w) return true;
  const own = workloadOf(owner);
  // A custom owner may hold several templates (a Kubeflow job's replica types): the pod comes from one of them.
  const froms = own ? [own] : customWorkloadsOf(owner).workloads;
  const mine = podSignature(w);
  return froms.some((from) => {
    const theirs = podSignature(from);
    return [...mine].every((k) => theirs.has(k));
  });
}

function podSignature(w: Workload): Set<string> {
  const out = new Set<string>();
  for (const level of ['baseline', 'restricted'] as const)
    for (const v of evaluatePss(w, level)) out.add(`${v.check}\0${v.message}`);
  for (const i of imagesOf(w)) out.add(`image\0${i.label}\0${JSON.stringify(i.image)}`);
  // Placement as one element: a pod that drops its template's nodeSelector or adds a toleration differs.
  out.add(`placement\0${placementOf(w)}`);
  for (const v of volumesOf(w)) out.add(`volume\0${v}`);
  return out;
}

export function auditLoaded(
  loaded: {
    readonly objects: readonly K8sObject[];
    readonly errors: readonly K8sLoadError[];
    readonly files: readonly string[];
    readonly skipped?: readonly string[];
  },
  opts: RunOptions = {},
): K8sAuditResult {
  const r = runK8sRules(loaded.objects, opts);
  return {
    files: loaded.files,
    ...(loaded.skipped?.length ? { skipped: loaded.skipped } : {}),
    objects: loaded.objects.length,
    findings: r.findings,
    errors: [...loaded.errors, ...nodeErrors(opts.nodes ?? [])],
    notes: r.notes,
    ignored: r.ignored,
    ...(opts.config?.file ? { config: opts.config.file } : {}),
  };
}
