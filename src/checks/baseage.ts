import type { Finding } from '../findings/finding.js';
import type { Subject } from '../inventory/image.js';
import { type DockerReference, parseDockerReference } from '../oci/reference.js';
import type { RegistryOptions } from '../oci/registry/client.js';
import { openRegistryImage } from '../oci/registry/source.js';
import { formatPlatform, resolveImages } from '../oci/source.js';
import { BASE_DIGEST_KEY, BASE_NAME_KEY } from '../policy/baseimage.js';
import { imageRuleFinding } from './engine.js';
import { ageHits, imageTooOld } from './rules/image-too-old.js';
import type { CheckSettings } from './settings.js';

/**
 * CIS 4.4 for the base image: when `maxImageAge` is set and the image names its base by registry name and digest
 * (`org.opencontainers.image.base.name` / `.digest`, as BuildKit writes them), read the base's config by that digest
 * (manifest and config only, no layers) and apply the same age limit. Registry errors propagate: an unreachable
 * registry is not a verdict. A base not named by digest cannot be read reliably and is reported as a note.
 */
export async function baseAgeFindings(
  subject: Subject,
  settings: CheckSettings,
  now: Date,
  registry: RegistryOptions,
): Promise<{ findings: Finding[]; notes: string[] }> {
  const maxDays = settings.maxImageAgeDays;
  if (maxDays === undefined || subject.kind !== 'image') return { findings: [], notes: [] };
  const claim = (key: string) => subject.annotations?.[key] ?? subject.labels?.[key];
  const name = claim(BASE_NAME_KEY);
  const digest = claim(BASE_DIGEST_KEY);
  if (!name || !digest)
    return {
      findings: [],
      notes: [
        "image-too-old: the image does not name its base by registry name and digest (org.opencontainers.image.base.name and .digest), so the base image's age was not checked",
      ],
    };
  let ref: DockerReference;
  try {
    // The name may carry a tag; the digest is what is read.
    const named = parseDockerReference(name);
    ref = parseDockerReference(`${named.registry}/${named.repository}@${digest}`);
  } catch {
    return { findings: [], notes: [`image-too-old: the base image '${name}@${digest}' is not a registry reference`] };
  }
  const source = openRegistryImage(ref, registry);
  try {
    const images = await resolveImages(source, subject.platform ? { platform: formatPlatform(subject.platform) } : {});
    const base = images[0];
    if (!base) return { findings: [], notes: [`image-too-old: the base image ${name}@${digest} lists no image`] };
    const targets = { image: subject.digest ? `${subject.source}@${subject.digest}` : subject.source };
    const hits = ageHits(base.config.created, maxDays, now, `the base image ${name}@${digest}`);
    return { findings: hits.map((h) => imageRuleFinding(imageTooOld, h, targets)), notes: [] };
  } finally {
    await source.close();
  }
}
