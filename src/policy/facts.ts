import type { Subject } from '../inventory/image.js';
import { parseImageLocation } from '../oci/reference.js';
import type { ImageFacts } from './model.js';

/** What a policy reads about an image, from the inventory's subject. Pure. */
export function imageFactsOf(subject: Subject): ImageFacts {
  let registry: ImageFacts['registry'];
  try {
    const loc = parseImageLocation(subject.source);
    if (loc.transport === 'docker') registry = { host: loc.ref.registry, repository: loc.ref.repository };
  } catch {
    // A source that does not parse as a reference is not a registry image; rules that need one fail on that.
  }
  return {
    kind: subject.kind,
    reference: subject.source,
    name: registry ? `${registry.host}/${registry.repository}` : subject.source,
    ...(registry ? { registry } : {}),
    ...(subject.digest ? { digest: subject.digest } : {}),
    ...(subject.indexDigest ? { indexDigest: subject.indexDigest } : {}),
    layers:
      subject.kind === 'image'
        ? subject.layers.map((l) => ({
            ...(l.diffId ? { diffId: l.diffId } : {}),
            ...(l.digest ? { digest: l.digest } : {}),
          }))
        : [],
    labels: subject.labels ?? {},
    annotations: subject.annotations ?? {},
    ...(subject.created ? { created: subject.created } : {}),
  };
}
