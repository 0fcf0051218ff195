import { fail, printable } from '../errors.js';

/**
 * Image references: the docker reference grammar (distribution/reference) and the skopeo-style
 * transports (containers/image). Parsing is pure; nothing here touches the network or disk.
 */

export const DOCKER_HUB = 'docker.io';
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_RE =
  /^(?:localhost|(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.)*[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/;

/** A parsed registry reference: `registry/repository` plus a tag and/or a digest. */
export interface DockerReference {
  /** Registry host as written (with port), `docker.io` for Docker Hub. */
  readonly registry: string;
  /** Repository path, e.g. `library/debian`. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

/**
 * `text` (a reference, with or without a `transport://` prefix) with any `user:password@` typed before the host
 * replaced by `***@`. The host is what follows the last `@` that a `/` comes after (a digest's `@` has none), so a
 * password holding `/` or `@` is covered too.
 */
export function redactReferenceCredentials(text: string): string {
  const prefix = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? '';
  const body = text.slice(prefix.length);
  for (let at = body.lastIndexOf('@'); at > 0; at = body.lastIndexOf('@', at - 1)) {
    if (body.indexOf('/', at) > at) return `${prefix}***${body.slice(at)}`;
  }
  return text;
}

/** Parse `[registry/]repo[:tag][@digest]`; defaults as Docker does (docker.io, library/, :latest). */
export function parseDockerReference(input: string): DockerReference {
  // Never echo credentials someone typed into a reference (user:pass@host/repo) back into logs.
  // Control characters become '?' (refused by the grammar below); nothing is cut: a long valid reference parses whole.
  const raw = printable(redactReferenceCredentials(input.trim()), Number.POSITIVE_INFINITY);
  if (raw !== printable(input.trim(), Number.POSITIVE_INFINITY))
    fail('BAD_REFERENCE', `image reference '${printable(raw)}' holds credentials; use --creds or an auth file`);
  if (raw.length === 0 || raw.length > 4096)
    fail('BAD_REFERENCE', `image reference '${printable(raw, 80)}' is empty or too long`);
  let rest = raw;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest))
      fail('BAD_REFERENCE', `image reference '${printable(raw)}': '${printable(digest, 80)}' is not a valid digest`);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_RE.test(tag))
      fail('BAD_REFERENCE', `image reference '${printable(raw)}': '${printable(tag, 80)}' is not a valid tag`);
  }
  const slash = rest.indexOf('/');
  let registry = DOCKER_HUB;
  let repository = rest;
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')) {
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (!DOMAIN_RE.test(registry))
    fail(
      'BAD_REFERENCE',
      `image reference '${printable(raw)}': '${printable(registry, 80)}' is not a valid registry host`,
    );
  // Host names are case-insensitive: one spelling, so trust patterns and signature identities see what is pulled.
  registry = registry.toLowerCase();
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (repository.length === 0 || repository.length > 255 || !repository.split('/').every((c) => COMPONENT_RE.test(c))) {
    fail(
      'BAD_REFERENCE',
      `image reference '${printable(raw)}': repository '${printable(repository, 80)}' must be lowercase path components`,
    );
  }
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** `host/repo:tag@digest` as a user would write it. */
export function formatDockerReference(ref: DockerReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The host that serves the registry API (Docker Hub's API lives elsewhere than its name). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/** Where an image comes from, skopeo-style. */
export type ImageLocation =
  | { readonly transport: 'docker'; readonly ref: DockerReference }
  | { readonly transport: 'oci'; readonly path: string; readonly ref?: string }
  | { readonly transport: 'oci-archive'; readonly path: string; readonly ref?: string }
  | { readonly transport: 'docker-archive'; readonly path: string; readonly ref?: string }
  | { readonly transport: 'dir'; readonly path: string };

const TRANSPORTS = ['docker', 'oci', 'oci-archive', 'docker-archive', 'dir'] as const;

/** Parse a transport reference such as `docker://host/repo:tag`, `oci:DIR:ref`, or plain `host/repo:tag`. */
export function parseImageLocation(input: string): ImageLocation {
  const m = /^([a-z-]+):(.*)$/s.exec(input);
  const transport = m?.[1];
  if (m && transport && (TRANSPORTS as readonly string[]).includes(transport)) {
    const body = m[2] ?? '';
    switch (transport) {
      case 'docker': {
        if (!body.startsWith('//'))
          fail('BAD_REFERENCE', `'${input}': the docker transport is written docker://host/repo:tag`);
        return { transport: 'docker', ref: parseDockerReference(body.slice(2)) };
      }
      case 'dir':
        if (body === '') fail('BAD_REFERENCE', `'${input}': dir: needs a root file-system directory`);
        return { transport: 'dir', path: body };
      default: {
        // containers/image splits path and image at the first colon on non-Windows systems.
        const colon = body.indexOf(':');
        const path = colon >= 0 ? body.slice(0, colon) : body;
        const ref = colon >= 0 ? body.slice(colon + 1) : '';
        if (path === '') fail('BAD_REFERENCE', `'${input}': ${transport}: needs a path`);
        const t = transport as 'oci' | 'oci-archive' | 'docker-archive';
        return ref === '' ? { transport: t, path } : { transport: t, path, ref };
      }
    }
  }
  if (/^[a-z-]+:\/\//.test(input)) fail('BAD_REFERENCE', `'${input}': unknown transport '${transport ?? ''}'`);
  return { transport: 'docker', ref: parseDockerReference(input) };
}

/** A short, credential-free description of a location for messages and SBOM metadata. */
export function describeLocation(loc: ImageLocation): string {
  switch (loc.transport) {
    case 'docker':
      return `docker://${formatDockerReference(loc.ref)}`;
    case 'dir':
      return `dir:${loc.path}`;
    default:
      return `${loc.transport}:${loc.path}${loc.ref ? `:${loc.ref}` : ''}`;
  }
}
