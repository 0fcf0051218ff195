import { printable } from '../../errors.js';
import { parseDockerReference } from '../../oci/reference.js';
import { BASE_NAME_KEY } from '../../policy/baseimage.js';
import type { ImageInput, MisconfigRule, RuleHit } from '../model.js';

/** An approved registry as written in the settings: a host, optionally with a repository prefix. */
function normalizeEntry(entry: string): string {
  const e = entry
    .trim()
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, '')
    .replace(/\/+$/, '');
  return e.replace(/^(?:index|registry-1)\.docker\.io(?=\/|$)/, 'docker.io');
}

function checkImage(input: ImageInput): RuleHit[] {
  const approved = input.settings.approvedRegistries.map(normalizeEntry).filter((e) => e !== '');
  if (approved.length === 0) return [];
  const annotation = input.subject.annotations?.[BASE_NAME_KEY];
  const label = input.config.config?.Labels?.[BASE_NAME_KEY];
  const name = annotation || label;
  const from = annotation ? `annotation ${BASE_NAME_KEY}` : `label ${BASE_NAME_KEY}`;
  const list = approved.join(', ');
  if (!name)
    return [
      {
        message: `The image names no base image (no ${BASE_NAME_KEY} annotation or label): approved registries are ${list}`,
      },
    ];
  let full: string;
  try {
    const ref = parseDockerReference(name);
    full = `${ref.registry}/${ref.repository}`.toLowerCase();
  } catch {
    return [
      { message: `The ${from} '${printable(name, 120)}' is not an image reference: approved registries are ${list}` },
    ];
  }
  if (approved.some((a) => full === a || full.startsWith(`${a}/`))) return [];
  return [{ message: `The base image ${printable(full, 120)} (${from}) is not from an approved registry (${list})` }];
}

export const baseImageNotApproved: MisconfigRule = {
  id: 'base-image-not-approved',
  kind: 'misconfiguration',
  title: 'Base image not from an approved registry',
  severity: 'medium',
  cis: '4.2',
  rationale:
    "Images built on bases from anywhere inherit whatever those bases carry. This rule reads the builder's own claim (`org.opencontainers.image.base.name`); the policy's base-image rule checks the layers themselves. Runs only when `approvedRegistries` is set.",
  remediation:
    'Build FROM an image of an approved registry, and record it: buildah writes the base.name annotation; otherwise set it yourself (`LABEL org.opencontainers.image.base.name=...`).',
  checkImage,
};
