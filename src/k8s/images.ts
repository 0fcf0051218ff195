/**
 * Container image references as the kubelet pulls them, through the repository's own parser (src/oci/reference.ts):
 * short names are Docker Hub's (`nginx` is docker.io/library/nginx:latest), a digest wins over a tag.
 */
import { PortcullisError } from '../errors.js';
import { type DockerReference, parseDockerReference } from '../oci/reference.js';

export type ImageRef =
  | {
      readonly ok: true;
      readonly ref: DockerReference;
      /** `host/repository`, the host lower-cased, as registry globs are matched. */
      readonly repo: string;
      /** No tag and no digest written: the kubelet pulls :latest. */
      readonly implicitLatest: boolean;
    }
  | { readonly ok: false; readonly error: string };

export function parseImage(image: string): ImageRef {
  try {
    const ref = parseDockerReference(image);
    const beforeDigest = image.split('@', 1)[0] ?? '';
    const explicitTag = beforeDigest.lastIndexOf(':') > beforeDigest.lastIndexOf('/');
    return {
      ok: true,
      ref,
      repo: `${ref.registry.toLowerCase()}/${ref.repository}`,
      implicitLatest: ref.digest === undefined && !explicitTag,
    };
  } catch (e) {
    if (e instanceof PortcullisError) return { ok: false, error: e.message };
    throw e;
  }
}

/** Whether a repository (`host/path`) matches one of the compiled production globs. */
export function fromProduction(repo: string, globs: readonly RegExp[]): boolean {
  return globs.some((g) => g.test(repo));
}
