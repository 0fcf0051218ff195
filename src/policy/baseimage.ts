import { printable } from '../errors.js';
import type { ApprovedBaseImage, BaseImageRules, ImageFacts } from './model.js';

export const BASE_DIGEST_KEY = 'org.opencontainers.image.base.digest';
export const BASE_NAME_KEY = 'org.opencontainers.image.base.name';

/** How the image was tied to an approved base image, or why it was not. */
export type BaseImageMatch =
  | { readonly kind: 'layers'; readonly base: ApprovedBaseImage; readonly layers: number }
  | {
      readonly kind: 'annotation';
      readonly base: ApprovedBaseImage;
      readonly via: 'digest' | 'name';
      readonly from: string;
    }
  | { readonly kind: 'none'; readonly reason: string };

function short(d: string): string {
  return d.length > 19 ? `${d.slice(0, 19)}…` : d;
}

function layersMatch(base: readonly string[], image: ImageFacts): boolean {
  if (image.layers.length < base.length) return false;
  return base.every((d, i) => {
    const l = image.layers[i];
    return l !== undefined && (l.diffId === d || l.digest === d);
  });
}

/** The org.opencontainers.image.base.* value: the manifest annotation, else the config label of that name. */
function baseClaim(image: ImageFacts, key: string): { value: string; from: string } | undefined {
  const a = image.annotations[key];
  if (a) return { value: a, from: `annotation ${key}` };
  const l = image.labels[key];
  if (l) return { value: l, from: `label ${key}` };
  return undefined;
}

/**
 * Tie the image to an approved base image. Layers are the evidence: the image's bottom layers must equal an approved
 * base's, by diff_id or digest (the longest match wins). The base.* annotations are the builder's claim: they count
 * only with trustAnnotations and only for an approved base that lists no layers; a claim that names a base whose
 * layers do not match is refused. Pure; shared by the base-image and base-image-signature rules and the gate.
 */
export function matchBaseImage(rules: BaseImageRules, image: ImageFacts): BaseImageMatch {
  if (image.kind !== 'image' || image.layers.length === 0)
    return { kind: 'none', reason: `${printable(image.reference)} is not an image with layers` };
  let best: ApprovedBaseImage | undefined;
  for (const a of rules.approved) {
    if (a.layers && layersMatch(a.layers, image) && a.layers.length > (best?.layers?.length ?? 0)) best = a;
  }
  if (best?.layers) return { kind: 'layers', base: best, layers: best.layers.length };
  const digest = baseClaim(image, BASE_DIGEST_KEY);
  const name = digest ? undefined : baseClaim(image, BASE_NAME_KEY);
  const claim = digest ?? name;
  const bottom = image.layers[0]?.diffId ?? image.layers[0]?.digest ?? 'unknown';
  const approvedNames = rules.approved.map((a) => a.name).join(', ');
  if (!claim)
    return {
      kind: 'none',
      reason: `the bottom layer ${short(bottom)} matches no approved base image (${approvedNames}), and the image names no base in ${BASE_DIGEST_KEY}`,
    };
  const named = rules.approved.find((a) => (digest ? a.digest === claim.value : a.name === claim.value));
  const what = `the ${claim.from} names '${printable(claim.value, 120)}'`;
  if (!named) return { kind: 'none', reason: `${what}, which is not an approved base image (${approvedNames})` };
  if (named.layers)
    return {
      kind: 'none',
      reason: `${what} (approved base ${named.name}), but the image's bottom layers differ from that base's layers`,
    };
  if (!rules.trustAnnotations)
    return {
      kind: 'none',
      reason: `${what} (approved base ${named.name}), but that base lists no layers to check and trustAnnotations is false`,
    };
  return { kind: 'annotation', base: named, via: digest ? 'digest' : 'name', from: claim.from };
}

/** One line about a match, for reasons. */
export function describeMatch(m: Exclude<BaseImageMatch, { kind: 'none' }>): string {
  if (m.kind === 'layers')
    return `the bottom ${m.layers === 1 ? 'layer matches' : `${m.layers} layers match`} approved base image ${m.base.name}`;
  return `the ${m.from} names approved base image ${m.base.name} (the builder's claim: trustAnnotations is on and the base lists no layers)`;
}
