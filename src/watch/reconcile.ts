import { fail, PortcullisError, printable } from '../errors.js';
import { RegistryClient, type RegistryOptions } from '../oci/registry/client.js';
import { parseLinkNext } from '../oci/registry/headers.js';
import { readBody } from '../oci/registry/http.js';
import { RegistryRepository } from '../oci/registry/push.js';
import { fetchSignatureImage } from '../sign/actions.js';
import { PREDICATE_TYPES } from '../sign/attestation.js';
import { cosignRepositoryName } from '../sign/payload.js';
import { RegistrySignatureStore } from '../sign/registrystore.js';
import { loadTrustPolicyFile, trustedKeysFor } from '../sign/trustcheck.js';
import { verifyAttestations, verifySignatures } from '../sign/verify.js';
import { classify, type DigestFacts, isCosignTag, type TagVerdict } from './classify.js';
import type { WatchConfig, WatchedRegistry } from './config.js';

/**
 * One full reconcile, the I/O edge of `registry watch`: list the catalog and each matching repository's tags (both
 * paginated), resolve each tag's digest, fetch and verify its signatures and assessment attestations, then hand the
 * facts to `classify`. Registry errors propagate: nothing is classified on a failed fetch.
 */

export interface ReconcileOptions {
  readonly registry: RegistryOptions;
  /** The clock, read when each digest is classified. */
  readonly now: () => number;
  /** Page size asked of the catalog and tag lists (`?n=`); the registry's default when left out. */
  readonly pageSize?: number;
  /** Tags resolved and verified at once per repository (default 4). */
  readonly concurrency?: number;
}

/** What one registry held. */
export interface RegistryInventory {
  readonly host: string;
  /** Repositories the catalog listed, and those the patterns kept. */
  readonly catalog: number;
  readonly repositories: readonly string[];
  /** cosign signature/attestation tags left out. */
  readonly signatureTags: number;
  /** Tags listed but gone by the time their digest was asked for. */
  readonly vanished: readonly string[];
  readonly verdicts: readonly TagVerdict[];
}

const MAX_CATALOG_PAGES = 10_000;
const MAX_REPOSITORIES = 1_000_000;
const MAX_CATALOG_PAGE_BYTES = 4 * 1024 * 1024;

/** Every repository in the catalog, following `Link: <…>; rel="next"` pages. */
export async function listCatalog(client: RegistryClient, pageSize?: number): Promise<string[]> {
  const names: string[] = [];
  const seen = new Set<string>();
  const what = `catalog of ${client.registry}`;
  let next: URL | undefined = new URL(`${client.origin}/v2/_catalog${pageSize ? `?n=${pageSize}` : ''}`);
  for (let page = 0; next; page++) {
    if (page >= MAX_CATALOG_PAGES || seen.has(next.href)) {
      fail('REGISTRY_ERROR', `${what}: the catalog does not end (page ${page + 1})`);
    }
    seen.add(next.href);
    const res = await client.fetch(next.href, '', { what, scope: 'registry:catalog:*' });
    let doc: { repositories?: unknown };
    try {
      doc = JSON.parse((await readBody(res, MAX_CATALOG_PAGE_BYTES, what)).toString('utf8'));
    } catch (err) {
      if (err instanceof PortcullisError) throw err;
      return fail('REGISTRY_ERROR', `${what}: page ${page + 1} is not JSON`);
    }
    const repos = doc?.repositories ?? [];
    if (!Array.isArray(repos) || !repos.every((r) => typeof r === 'string')) {
      fail('REGISTRY_ERROR', `${what}: 'repositories' is not a list of strings (page ${page + 1})`);
    }
    names.push(...repos);
    if (names.length > MAX_REPOSITORIES) fail('REGISTRY_ERROR', `${what}: more than ${MAX_REPOSITORIES} repositories`);
    next = parseLinkNext(res.headers.link, res.url);
  }
  return names;
}

/** Run `fn` over `items`, at most `limit` at once, results in input order; the first error rejects. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < items.length) {
      const k = i++;
      out[k] = await fn(items[k] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The digest a tag names now: the registry's Docker-Content-Digest, else the hash of the manifest read whole. */
async function resolveTag(repo: RegistryRepository, tag: string): Promise<string | undefined> {
  const head = await repo.headManifest(tag);
  if (!head) return undefined;
  if (head.digest && /^sha(?:256|512):[0-9a-f]+$/.test(head.digest)) return head.digest;
  return (await repo.findManifest(tag))?.digest;
}

async function reconcileRegistry(entry: WatchedRegistry, opts: ReconcileOptions): Promise<RegistryInventory> {
  const policy = await loadTrustPolicyFile(entry.trustPolicy);
  const client = new RegistryClient(entry.host, opts.registry);
  try {
    const catalog = await listCatalog(client, opts.pageSize);
    const repositories = catalog.filter((r) => entry.patterns.some((p) => p.test(r))).sort();
    const verdicts: TagVerdict[] = [];
    const vanished: string[] = [];
    let signatureTags = 0;
    for (const name of repositories) {
      const repo = new RegistryRepository(client, name);
      const fullName = cosignRepositoryName(entry.host, name);
      const trusted = await trustedKeysFor(policy, fullName);
      const store = new RegistrySignatureStore(repo);
      const tags = await repo.listTags(opts.pageSize ? { pageSize: opts.pageSize } : {});
      const images = tags.filter((t) => !isCosignTag(t)).sort();
      signatureTags += tags.length - images.length;
      // Several tags often name one digest: its signatures are fetched and verified once.
      const facts = new Map<string, Promise<DigestFacts>>();
      const factsOf = (digest: string): Promise<DigestFacts> => {
        let f = facts.get(digest);
        if (!f) {
          f = (async (): Promise<DigestFacts> => {
            if (!trusted) {
              return {
                trusted: false,
                reason: `no entry of ${policy.file} matches ${fullName}, so no key is trusted for it`,
              };
            }
            const sigImage = await fetchSignatureImage(store, digest, 'sig');
            const signatures = verifySignatures(sigImage, { digest, repository: fullName }, trusted.keys);
            if (signatures.verified.length === 0) return { trusted: true, signatures };
            const attImage = await fetchSignatureImage(store, digest, 'att');
            const assessments = verifyAttestations(attImage, { digest }, trusted.keys, PREDICATE_TYPES.assessment);
            return { trusted: true, signatures, assessments };
          })();
          facts.set(digest, f);
        }
        return f;
      };
      const results = await mapLimit(images, opts.concurrency ?? 4, async (tag) => {
        const digest = await resolveTag(repo, tag);
        if (!digest) return { tag };
        const classification = classify(await factsOf(digest), {
          now: opts.now(),
          maxAgeMs: entry.maxAssessmentAgeMs,
        });
        return { tag, verdict: { host: entry.host, repository: name, tag, digest, classification } };
      });
      for (const r of results) {
        if (r.verdict) verdicts.push(r.verdict);
        else vanished.push(`${name}:${printable(r.tag, 140)}`);
      }
    }
    return { host: entry.host, catalog: catalog.length, repositories, signatureTags, vanished, verdicts };
  } finally {
    client.close();
  }
}

/** Reconcile every configured registry in turn. */
export async function reconcile(config: WatchConfig, opts: ReconcileOptions): Promise<RegistryInventory[]> {
  const out: RegistryInventory[] = [];
  for (const entry of config.registries) out.push(await reconcileRegistry(entry, opts));
  return out;
}
