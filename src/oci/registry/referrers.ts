import { fail, PortcullisError, printable } from '../../errors.js';
import { parseDigest } from '../digest.js';
import { type Descriptor, MAX_MANIFEST_BYTES, parseDescriptor, parseManifest } from '../manifest.js';
import { MediaType } from '../mediatypes.js';
import { parseLinkNext, referrersTag } from './headers.js';
import type { PushedManifest, RegistryRepository } from './push.js';

/** The manifests that name a digest as their `subject`, and where the list came from. */
export interface Referrers {
  readonly manifests: readonly Descriptor[];
  /** `api`: the registry's referrers API; `tag`: the fallback index under the referrers tag `sha256-<hex>`. */
  readonly via: 'api' | 'tag';
}

const MAX_PAGES = 1000;

/**
 * List the referrers of `digest` (ref: distribution-spec, listing referrers): the referrers API with its
 * pages, or, where the registry answers 404, the index under the referrers tag. No index there: none.
 */
export async function listReferrers(
  repo: RegistryRepository,
  digest: string,
  opts: { readonly artifactType?: string } = {},
): Promise<Referrers> {
  parseDigest(digest, `referrers of ${repo}`);
  const what = `referrers of ${digest} in ${repo}`;
  const want = (d: Descriptor) => opts.artifactType === undefined || d.artifactType === opts.artifactType;
  const query = opts.artifactType ? `?${new URLSearchParams({ artifactType: opts.artifactType })}` : '';
  let next: URL | undefined = new URL(`${repo.client.origin}/v2/${repo.name}/referrers/${digest}${query}`);
  const seen = new Set<string>();
  const out: Descriptor[] = [];
  for (let page = 0; next; page++) {
    if (page >= MAX_PAGES || seen.has(next.href)) fail('REGISTRY_ERROR', `${what}: the referrers list does not end`);
    seen.add(next.href);
    const res = await repo.client.fetchBody(next.href, repo.name, {
      headers: { accept: MediaType.ociIndex },
      what,
      okStatus: [404],
      maxBytes: MAX_MANIFEST_BYTES,
    });
    if (res.status === 404) {
      if (page > 0) fail('REGISTRY_ERROR', `${what}: page ${page + 1} of the referrers list is gone (HTTP 404)`);
      return { manifests: (await fallbackIndex(repo, digest)).filter(want), via: 'tag' };
    }
    const index = parseManifest(res.bytes, what, MediaType.ociIndex);
    if (index.kind !== 'index') fail('REGISTRY_ERROR', `${what}: the registry answered something other than an index`);
    // A registry that ignored the filter says so by leaving out OCI-Filters-Applied; filter here then.
    out.push(...index.manifests.filter(want));
    next = parseLinkNext(res.headers.link, res.url);
  }
  return { manifests: out, via: 'api' };
}

/** The descriptors of the referrers tag's index; none when the tag is missing or names something else. */
async function fallbackIndex(repo: RegistryRepository, digest: string): Promise<readonly Descriptor[]> {
  const found = await repo.findManifest(referrersTag(digest));
  return found?.manifest.kind === 'index' ? found.manifest.manifests : [];
}

/** A referrer as the referrers list describes it (ref: distribution-spec, pushing manifests with subject). */
function referrerDescriptor(bytes: Uint8Array, pushed: PushedManifest, where: string): Record<string, unknown> {
  const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  const config = doc.config === undefined ? undefined : parseDescriptor(doc.config, `${where} config`);
  const artifactType =
    typeof doc.artifactType === 'string' && doc.artifactType ? doc.artifactType : (config?.mediaType ?? undefined);
  return {
    mediaType: pushed.mediaType,
    digest: pushed.digest,
    size: pushed.size,
    ...(artifactType ? { artifactType } : {}),
    ...(doc.annotations && typeof doc.annotations === 'object' ? { annotations: doc.annotations } : {}),
  };
}

/**
 * Push a manifest that has a `subject` (a signature, an attestation) by digest, and keep the referrers
 * list right: a registry that answers without `OCI-Subject` does not index it, so the descriptor is added
 * to the index under the referrers tag (created when missing, never duplicated). Concurrent writers of the
 * same tag can race (the spec leaves that to clients); the gate is the only writer of production.
 */
export async function pushReferrer(
  repo: RegistryRepository,
  bytes: Uint8Array,
  opts: { readonly mediaType?: string } = {},
): Promise<PushedManifest & { readonly via: 'api' | 'tag' }> {
  const where = `referrer for ${repo}`;
  const parsed = parseManifest(bytes, where, opts.mediaType);
  const subject = parsed.kind === 'image' ? parsed.subject : subjectOfIndex(bytes, where);
  if (!subject) fail('MANIFEST_INVALID', `${where}: the manifest has no subject`);
  const pushed = await repo.putManifest(bytes, { mediaType: opts.mediaType ?? parsed.mediaType });
  if (pushed.subjectProcessed) return { ...pushed, via: 'api' };
  const tag = referrersTag(subject.digest);
  const current = await repo.findManifest(tag);
  if (current && current.manifest.kind !== 'index') {
    fail(
      'PUSH_FAILED',
      `${where}: the referrers tag ${tag} names a ${current.mediaType}, not an index; not overwriting it`,
    );
  }
  const entries = current ? rawManifests(current.bytes) : [];
  if (!entries.some((e) => e.digest === pushed.digest)) {
    entries.push(referrerDescriptor(bytes, pushed, `manifest ${pushed.digest}`));
    const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: entries };
    await repo.putManifest(Buffer.from(JSON.stringify(index)), { reference: tag, mediaType: MediaType.ociIndex });
  }
  return { ...pushed, via: 'tag' };
}

/** The entries of an index as written, so fields this code does not model survive a rewrite. */
function rawManifests(bytes: Uint8Array): Record<string, unknown>[] {
  const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as { manifests?: unknown };
  return Array.isArray(doc.manifests) ? (doc.manifests as Record<string, unknown>[]) : [];
}

function subjectOfIndex(bytes: Uint8Array, where: string): Descriptor | undefined {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as { subject?: unknown };
    return doc.subject === undefined ? undefined : parseDescriptor(doc.subject, `${where} subject`);
  } catch (err) {
    if (err instanceof PortcullisError) throw err;
    fail('MANIFEST_INVALID', `${where}: ${printable(String(err), 100)}`);
  }
}
