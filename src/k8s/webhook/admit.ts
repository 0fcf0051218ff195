/**
 * The admission decision for one request: the object's pod spec (any controller's template), each image (containers'
 * and image volumes') checked (production registry, digest, signature, assessment), and the Pod Security, placement
 * and image rules run through the same registry `k8s audit` uses. The checks are pure; image verification is given (verify.ts is the I/O).
 */
import { PortcullisError, printable } from '../../errors.js';
import type { Finding } from '../../findings/finding.js';
import { type DockerReference, formatDockerReference, parseDockerReference } from '../../oci/reference.js';
import { runK8sRules } from '../audit.js';
import type { K8sConfig, PssLevel } from '../config.js';
import { fromProduction } from '../images.js';
import { isBuiltin } from '../kinds.js';
import { asRecord, describeObject, type K8sObject, toObject } from '../model.js';
import { planFix } from '../placement/fix.js';
import type { K8sRule } from '../rule.js';
import { K8S_RULES } from '../rules/index.js';
import {
  containersOf,
  findPodSpecs,
  type ImageUse,
  imagesOf,
  isWorkload,
  showPath,
  type Workload,
  workloadOf,
} from '../workload.js';
import { type AdmissionRequest, type JsonPatchOp, jsonPointer } from './review.js';
import type { ImageVerdict } from './verify.js';

/** What the decision needs to know about images: resolution and verification (ImageVerifier). */
export interface ImageChecker {
  resolveTag(registry: string, repository: string, tag: string): Promise<string | undefined>;
  verify(registry: string, repository: string, digest: string): Promise<ImageVerdict>;
}

export interface AdmitContext {
  readonly config: K8sConfig;
  readonly images: ImageChecker;
  /** Registry errors as one line (anything else is a bug and propagates). */
  readonly describeError: (err: unknown) => string;
}

/** The outcome before the mode (enforce, audit) turns it into an answer. */
export interface Decision {
  /** False when anything failed; in audit mode the request is admitted all the same. */
  readonly pass: boolean;
  /** What was admitted or refused, for messages: `Pod team-a/web`. */
  readonly subject: string;
  /** Why it does not pass, one line each. */
  readonly reasons: readonly string[];
  /** Said even when it passes (a kind that holds no pods, what was resolved). */
  readonly notes: readonly string[];
}

/** The checks the webhook runs on each workload: Pod Security, placement and images. */
export function webhookRules(): K8sRule[] {
  return K8S_RULES.filter((r) => r.group === 'pss' || r.group === 'placement' || r.group === 'images');
}

/** The level the namespace's pods are held to: the config's per-namespace map, else its pssLevel. */
export function pssLevelFor(config: K8sConfig, namespace: string | undefined): PssLevel {
  const map = config.pssLevels;
  return namespace !== undefined && map && Object.hasOwn(map, namespace)
    ? (map[namespace] as PssLevel)
    : config.pssLevel;
}

/**
 * Where an object of an unknown kind holds a pod spec (a `containers` list of objects with an image), or undefined.
 * Bounded (workload.ts findPodSpecs, the audit's finder too): an object too large or too deep to search is treated as
 * holding one, so it is refused.
 */
export function podSpecPathIn(raw: unknown): string | undefined {
  const found = findPodSpecs(raw, {}, true);
  const [first] = found.specs;
  if (first) return showPath([...first, 'containers']);
  if (found.incomplete) return `${showPath(found.incomplete.path) || '.'} (${found.incomplete.reason})`;
  return undefined;
}

/** The request's object as the checks read it, with the request's namespace when the object leaves it out. */
function objectOf(req: AdmissionRequest): K8sObject | undefined {
  const raw = asRecord(req.object);
  if (!raw) return undefined;
  const meta = asRecord(raw.metadata) ?? {};
  const withNs =
    req.namespace !== undefined && typeof meta.namespace !== 'string'
      ? { ...raw, metadata: { ...meta, namespace: req.namespace } }
      : raw;
  return toObject(withNs, { file: 'admission request', doc: 0 }, () => ({ line: 1, column: 1 }));
}

function subjectOf(req: AdmissionRequest): string {
  const ns = req.namespace ? `${req.namespace}/` : '';
  return printable(`${req.kind.kind} ${ns}${req.name ?? '(unnamed)'}`, 300);
}

type Unpacked =
  | { readonly done: Decision }
  | { readonly object: K8sObject; readonly workload: Workload; readonly subject: string };

/** The request's workload, or the decision when there is none to check. */
function unpack(req: AdmissionRequest): Unpacked {
  const subject = subjectOf(req);
  const deny = (reason: string): Unpacked => ({ done: { pass: false, subject, reasons: [reason], notes: [] } });
  if (req.operation === 'DELETE' || req.operation === 'CONNECT') {
    return { done: { pass: true, subject, reasons: [], notes: [`${req.operation}: nothing to check`] } };
  }
  const object = objectOf(req);
  if (!object) return deny('request.object is missing or is not a Kubernetes object (no kind or apiVersion)');
  if (object.kind !== req.kind.kind) {
    return deny(`request.kind says ${printable(req.kind.kind, 60)} but the object is a ${printable(object.kind, 60)}`);
  }
  const shown = printable(describeObject(object), 300);
  const workload = workloadOf(object);
  if (workload) return { object, workload, subject: shown };
  if (isWorkload(object)) return deny(`${shown} has no pod spec to check`);
  // Clusters before 1.22 send pods/ephemeralcontainers as kind EphemeralContainers: containers outside any pod spec.
  if (req.subResource === 'ephemeralcontainers' || object.kind === 'EphemeralContainers') {
    return deny(
      `${shown}: ephemeral containers outside a pod spec (kind ${printable(object.kind, 60)}) cannot be checked; refused`,
    );
  }
  const at = podSpecPathIn(object.raw);
  if (at !== undefined) {
    return deny(
      `${shown}: kind ${printable(object.kind, 60)} is not one Portcullis knows, and it holds a pod spec at ${printable(at, 120)}; refused because it cannot be checked`,
    );
  }
  return {
    done: {
      pass: true,
      subject: shown,
      reasons: [],
      notes: [`kind ${printable(object.kind, 60)} holds no pods: nothing to check`],
    },
  };
}

/** A container's image, parsed, or why it cannot be used. */
function parseImage(image: unknown): { ref: DockerReference; shown: string } | { reason: string } {
  if (typeof image !== 'string' || image.trim() === '') return { reason: 'no image' };
  try {
    return { ref: parseDockerReference(image), shown: printable(image, 200) };
  } catch (err) {
    if (err instanceof PortcullisError) return { reason: err.message };
    throw err;
  }
}

function inProduction(config: K8sConfig, ref: DockerReference): boolean {
  return fromProduction(`${ref.registry.toLowerCase()}/${ref.repository}`, config.production ?? []);
}

/** Check one image; the reasons it fails (empty when it passes). */
async function checkImage(image: unknown, ctx: AdmitContext): Promise<string[]> {
  const parsed = parseImage(image);
  if ('reason' in parsed) return [parsed.reason];
  const { ref, shown } = parsed;
  if (!ctx.config.production) return [`image ${shown}: no productionRegistries configured, so no image is admitted`];
  if (!inProduction(ctx.config, ref)) {
    return [`image ${shown} is not from a production registry (${ref.registry}/${ref.repository})`];
  }
  let digest = ref.digest;
  if (!digest) {
    if (ctx.config.requireDigest) {
      return [`image ${shown} is not pinned by digest (give @sha256:..., or let the mutating webhook resolve the tag)`];
    }
    try {
      digest = await ctx.images.resolveTag(ref.registry, ref.repository, ref.tag as string);
    } catch (err) {
      return [`image ${shown}: cannot resolve the tag: ${ctx.describeError(err)}`];
    }
    if (!digest) return [`image ${shown}: the registry has no such tag`];
  }
  // The digest is named when the tag was resolved to it; a pinned image names its own.
  const named = ref.digest ? shown : `${shown} (${digest})`;
  try {
    const v = await ctx.images.verify(ref.registry, ref.repository, digest);
    return v.approved ? [] : [`image ${named}: ${v.detail}`];
  } catch (err) {
    return [`image ${named}: cannot verify: ${ctx.describeError(err)}`];
  }
}

/**
 * Image rules whose question the webhook's own image check answers (it must, to verify the signature of what it
 * admits): their findings would only repeat its reasons.
 */
const ANSWERED_BY_IMAGE_CHECK = new Set(['image-not-from-production-registry', 'image-not-pinned-by-digest']);

function ruleReason(f: Finding): string {
  return `${f.ruleId}: ${f.message}`;
}

/** The images of the object an UPDATE changes (none for a CREATE, or an old object that is no workload). */
function imagesBefore(req: AdmissionRequest): Set<unknown> {
  if (req.operation !== 'UPDATE' || req.oldObject === undefined) return new Set();
  const old = objectOf({ ...req, object: req.oldObject });
  const w = old ? workloadOf(old) : undefined;
  return new Set(w ? imagesOf(w).map((u) => u.image) : []);
}

/** A reason about an image volume names the volume; one about a container's image reads as it always has. */
function aboutUse(use: ImageUse, reasons: readonly string[]): string[] {
  return use.volume === undefined ? [...reasons] : reasons.map((r) => `${printable(use.label, 300)}: ${r}`);
}

/** Each distinct image checked once; its reasons given for every container or image volume that runs it. */
async function checkImages(uses: readonly ImageUse[], ctx: AdmitContext): Promise<string[]> {
  const distinct = [...new Set(uses.map((u) => u.image))];
  const checked = new Map(await Promise.all(distinct.map(async (i) => [i, await checkImage(i, ctx)] as const)));
  return uses.flatMap((u) => aboutUse(u, checked.get(u.image) ?? []));
}

/** Decide one request (validating). */
export async function decide(req: AdmissionRequest, ctx: AdmitContext): Promise<Decision> {
  const u = unpack(req);
  if ('done' in u) return u.done;
  const { object, workload, subject } = u;
  const containers = containersOf(workload);
  if (containers.length === 0) return { pass: false, subject, reasons: ['the pod has no containers'], notes: [] };
  // An UPDATE is held to the images it adds: one that only relabels, scales or finalises an object whose images were
  // admitted before is not refused because an approval has since gone stale (its new pods are checked as they come).
  const before = imagesBefore(req);
  const uses = imagesOf(workload);
  const all = new Set(uses.map((x) => x.image));
  const added = uses.filter((x) => !before.has(x.image));
  const unchanged = [...all].filter((i) => before.has(i)).length;
  const notes = unchanged > 0 ? [`${unchanged} image(s) unchanged by this UPDATE: not verified again`] : [];
  const imageReasons = await checkImages(added, ctx);
  const ruled = runK8sRules([object], {
    config: ctx.config,
    pssLevel: pssLevelFor(ctx.config, object.namespace),
    rules: webhookRules(),
    admission: true,
  });
  const findings = ruled.findings.filter((f) => !ANSWERED_BY_IMAGE_CHECK.has(f.ruleId));
  const reasons = [...new Set([...imageReasons, ...findings.map(ruleReason)])];
  return { pass: reasons.length === 0, subject, reasons, notes };
}

/**
 * The mutating side: tags of production images replaced by `repo:tag@digest` as the registry names them now, so the
 * node pulls exactly what was verified. It never refuses a well-formed request (the validating webhook does that);
 * what it cannot resolve it leaves as it is and says so.
 */
export async function resolvePatch(
  req: AdmissionRequest,
  ctx: AdmitContext,
): Promise<{ decision: Decision; patch: JsonPatchOp[] }> {
  const u = unpack(req);
  if ('done' in u) return { decision: u.done, patch: [] };
  const pinned = pinPatch(req, u.object, u.workload, ctx.config);
  const patch: JsonPatchOp[] = [...pinned.ops];
  const notes: string[] = [...pinned.notes];
  for (const use of imagesOf(u.workload)) {
    const parsed = parseImage(use.image);
    if ('reason' in parsed || parsed.ref.digest || !inProduction(ctx.config, parsed.ref)) continue;
    const { ref, shown } = parsed;
    const say = (note: string) => notes.push(...aboutUse(use, [note]));
    try {
      const digest = await ctx.images.resolveTag(ref.registry, ref.repository, ref.tag as string);
      if (!digest) {
        say(`image ${shown}: the registry has no such tag; left as it is`);
        continue;
      }
      patch.push({ op: 'replace', path: jsonPointer(use.path), value: formatDockerReference({ ...ref, digest }) });
      say(`image ${shown} resolved to ${digest}`);
    } catch (err) {
      say(`image ${shown}: cannot resolve the tag (${ctx.describeError(err)}); left as it is`);
    }
  }
  return { decision: { pass: true, subject: u.subject, reasons: [], notes }, patch };
}

/**
 * Sensitivity pinning on /mutate (`webhook.pinSensitivity`): a pod or template with a known level label gets the change
 * `k8s placement fix` plans (nodeSelector, its level's toleration, other levels' tolerations removed). The label is
 * the pod's own: the webhook does not see its namespace. A Pod's placement cannot change after creation, so a Pod is
 * pinned on CREATE only. The validating webhook still judges the placement it is given.
 */
function pinPatch(
  req: AdmissionRequest,
  object: K8sObject,
  workload: Workload,
  config: K8sConfig,
): { ops: readonly JsonPatchOp[]; notes: string[] } {
  const s = config.sensitivity;
  if (!s || config.webhook?.pinSensitivity !== true) return { ops: [], notes: [] };
  const level = workload.labels[s.labelKey];
  if (level === undefined) return { ops: [], notes: [`no ${s.labelKey} label on the pod: not pinned to a level`] };
  if (!s.levels.includes(level))
    return { ops: [], notes: [`${s.labelKey}=${printable(level, 63)} is not one of the levels: not pinned`] };
  const plan = planFix(s, workload, level);
  if (!plan) return { ops: [], notes: [] };
  if (isBuiltin(object, 'Pod') && req.operation !== 'CREATE')
    return { ops: [], notes: [`not pinned to ${level}: a Pod's placement is set when it is created`] };
  return { ops: plan.jsonPatch, notes: [printable(`pinned to ${level}: ${plan.changes.join('; ')}`, 600)] };
}

/** A list as `(1) a; (2) b`. */
export function numbered(items: readonly string[]): string {
  return items.map((r, i) => `(${i + 1}) ${r}`).join('; ');
}
