import { fail, printable } from '../errors.js';
import { type DockerReference, formatDockerReference, parseImageLocation } from '../oci/reference.js';
import type { RegistryRepository } from '../oci/registry/push.js';

/** Where a gate reads from and writes to: the source reference, the production repository and the tag to set. */
export interface GateRefs {
  readonly source: DockerReference;
  readonly dest: { readonly registry: string; readonly repository: string };
  readonly tag: string;
}

function registryRef(input: string, what: string): { ref: DockerReference; explicitTag: boolean } {
  const loc = parseImageLocation(input);
  if (loc.transport !== 'docker') {
    fail(
      'USAGE',
      `${what} '${printable(input, 200)}': the gate reads from and writes to registries (docker://host/repo:tag)`,
    );
  }
  const body = input.replace(/^docker:\/\//, '').split('@')[0] as string;
  return { ref: loc.ref, explicitTag: body.slice(body.lastIndexOf('/') + 1).includes(':') };
}

/**
 * Parse SOURCE, `--to PROD_REPO[:TAG]` and `--tag`. The production tag is the one `--to` or `--tag` names (they must
 * agree when both do), else the source's tag; a source named only by digest needs one. Pure.
 */
export function parseGateRefs(source: string, to: string, tag: string | undefined): GateRefs {
  const src = registryRef(source, 'SOURCE');
  const dst = registryRef(to, '--to');
  if (dst.ref.digest) {
    fail('USAGE', `--to '${printable(to, 200)}': name the production repository and tag, not a digest`);
  }
  const toTag = dst.explicitTag ? dst.ref.tag : undefined;
  if (toTag !== undefined && tag !== undefined && toTag !== tag) {
    fail('USAGE', `--to names tag '${toTag}' and --tag '${printable(tag, 140)}'; give one`);
  }
  const chosen = toTag ?? tag ?? (src.ref.digest && !src.explicitTag ? undefined : src.ref.tag);
  if (chosen === undefined) {
    fail('USAGE', `SOURCE '${printable(source, 200)}' is named by digest only: give the production tag with --tag`);
  }
  if (!/^[\w][\w.-]{0,127}$/.test(chosen)) fail('USAGE', `--tag '${printable(chosen, 140)}' is not a valid tag`);
  if (/^sha(256|512)-/.test(chosen)) {
    fail('USAGE', `tag '${printable(chosen, 140)}' looks like a signature or referrers tag; choose another`);
  }
  if (src.ref.registry === dst.ref.registry && src.ref.repository === dst.ref.repository) {
    // The image is already there before any decision: production would hold what the gate has not passed.
    fail(
      'USAGE',
      `SOURCE and --to are the same repository (${dst.ref.registry}/${dst.ref.repository}): promote into another one`,
    );
  }
  return { source: src.ref, dest: { registry: dst.ref.registry, repository: dst.ref.repository }, tag: chosen };
}

/**
 * Resolve the source to a digest, once: a tag is read a single time and everything after reads by this digest, so a
 * tag that moves during the gate cannot change what is assessed or promoted.
 */
export async function resolveSource(
  repo: RegistryRepository,
  ref: DockerReference,
): Promise<{ readonly digest: string; readonly mediaType: string }> {
  const m = ref.digest
    ? await repo.getManifest(ref.digest, { expected: ref.digest })
    : await repo.getManifest(ref.tag as string);
  if (!m.digest.startsWith('sha256:')) {
    // A tag PUT names the manifest by its sha256 digest: production's tag could never name what was signed.
    fail(
      'USAGE',
      `${formatDockerReference(ref)}: the gate promotes sha256 digests only, not ${printable(m.digest, 100)}`,
    );
  }
  return { digest: m.digest, mediaType: m.mediaType };
}
