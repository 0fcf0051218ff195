/**
 * Images: every container (init, regular, ephemeral) and every image volume of every workload runs an image from the
 * production registry, pinned by digest. Reported once per container or volume, at its image's line.
 */
import { fromProduction, parseImage } from '../images.js';
import type { K8sContext, K8sHit, K8sRule } from '../rule.js';
import { type ImageUse, imagesOf, type Workload } from '../workload.js';

interface Image {
  readonly w: Workload;
  readonly use: ImageUse;
  readonly image: string;
}

function images(ctx: K8sContext, ruleNotes: boolean): Image[] {
  const out: Image[] = [];
  for (const w of ctx.workloads)
    for (const use of imagesOf(w)) {
      const image = use.image;
      if (typeof image === 'string' && image.trim() !== '') out.push({ w, use, image });
      else if (ruleNotes) ctx.note(w.object, noImage(use));
    }
  return out;
}

function noImage(use: ImageUse): string {
  const c = use.container;
  return c
    ? `${c.field}[${c.index}] (${c.name}) has no image: not judged`
    : `${use.label} has no image.reference: not judged`;
}

function where(i: Image): string {
  return `${i.w.object.kind} ${i.w.object.name || '(unnamed)'} ${i.use.label}`;
}

/** ref: NIST SP 800-190 4.1.5 (use trusted images from a controlled registry); CIS Kubernetes Benchmark 5.5.1. */
const notFromProduction: K8sRule = {
  id: 'image-not-from-production-registry',
  group: 'images',
  title: 'Image not from the production registry',
  severity: 'high',
  confidence: 'high',
  rationale:
    'Only the production registry holds images that passed the pipeline (assessed, signed); an image from anywhere else ran no such gate and can change under its name. Short names are Docker Hub images (nginx is docker.io/library/nginx).',
  remediation:
    'Promote the image through the pipeline (`portcullis gate`) into the production registry and reference it there; enforce it at admission (`portcullis k8s webhook`).',
  mapping: 'NIST SP 800-190 4.1.5; CIS Kubernetes Benchmark 5.5.1',
  notChecked(ctx) {
    return ctx.config.production === undefined
      ? 'productionRegistries is not set in the configuration (--config)'
      : undefined;
  },
  check(ctx) {
    const globs = ctx.config.production ?? [];
    const hits: K8sHit[] = [];
    for (const i of images(ctx, true)) {
      const p = parseImage(i.image);
      if (p.ok && fromProduction(p.repo, globs)) continue;
      hits.push({
        object: i.w.object,
        path: i.use.path,
        message: p.ok
          ? `${where(i)} runs ${i.image} (${p.repo}), which matches none of productionRegistries`
          : `${where(i)} runs ${JSON.stringify(i.image)}, which cannot be read as an image reference (${p.error})`,
        // An unreadable reference cannot be shown to be from production (fail closed), but may be a typo the kubelet also refuses.
        ...(p.ok ? {} : { confidence: 'medium' as const }),
      });
    }
    return hits;
  },
};

/** ref: NIST SP 800-190 4.1.5; Kubernetes documentation, "Images" (image names, digests). */
const notPinned: K8sRule = {
  id: 'image-not-pinned-by-digest',
  group: 'images',
  title: 'Image not pinned by digest',
  severity: 'high',
  confidence: 'high',
  rationale:
    'A tag can be moved to other content by whoever can push to the repository, so what runs is decided at pull time on each node, not by what was reviewed and assessed; `latest` (written or implied) moves on every push.',
  remediation:
    'Reference the image by digest (`repo@sha256:…`, the tag may stay beside it for readers); let the admission webhook or CI resolve tags to digests.',
  mapping: 'NIST SP 800-190 4.1.5',
  notChecked(ctx) {
    return ctx.config.requireDigest ? undefined : 'requireDigest is false in the configuration';
  },
  check(ctx) {
    const hits: K8sHit[] = [];
    for (const i of images(ctx, false)) {
      const p = parseImage(i.image);
      if (!p.ok) {
        // Reported once: by image-not-from-production-registry when that runs, else here (fail closed).
        if (ctx.config.production === undefined)
          hits.push({
            object: i.w.object,
            path: i.use.path,
            message: `${where(i)} runs ${JSON.stringify(i.image)}, which cannot be read as an image reference (${p.error})`,
            confidence: 'medium',
          });
        continue;
      }
      if (p.ref.digest !== undefined) continue;
      const latest = p.ref.tag === 'latest';
      hits.push({
        object: i.w.object,
        path: i.use.path,
        message: `${where(i)} runs ${i.image} by ${p.implicitLatest ? 'no tag (the kubelet pulls :latest)' : `tag ${p.ref.tag}`}, not by digest`,
        severity: latest ? 'high' : 'medium',
      });
    }
    return hits;
  },
};

export const IMAGE_RULES: readonly K8sRule[] = [notFromProduction, notPinned];
