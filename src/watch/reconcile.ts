import { setTimeout as sleep } from 'node:timers/promises';
import { ExitCode, fail, oneLine, PortcullisError, printable } from '../errors.js';
import type { AssessmentPredicate } from '../gate/model.js';
import { RegistryClient, type RegistryOptions } from '../oci/registry/client.js';
import { parseLinkNext } from '../oci/registry/headers.js';
import { RegistryRepository } from '../oci/registry/push.js';
import { fetchSignatureImage } from '../sign/actions.js';
import { PREDICATE_TYPES } from '../sign/attestation.js';
import { cosignRepositoryName } from '../sign/payload.js';
import { RegistrySignatureStore } from '../sign/registrystore.js';
import { loadTrustPolicyFile, trustedKeysFor, underPolicies } from '../sign/trustcheck.js';
import type { TrustPolicy } from '../sign/trustpolicy.js';
import { type TrustedKey, verifyAttestations, verifySignatures } from '../sign/verify.js';
import {
  type Classification,
  classify,
  type DigestFacts,
  isCosignAttachment,
  isCosignTag,
  type TagVerdict,
} from './classify.js';
import type { WatchConfig, WatchedRegistry } from './config.js';
import { readVerifiedSbom } from './sbomstore.js';

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
  /** Abandons a full reconcile between requests (the daemon's shutdown). */
  readonly signal?: AbortSignal;
  /** Told once per approved digest, with what the gate attested beside it (for the SBOM re-match). */
  readonly onApproved?: (approved: ApprovedDigest) => void;
  /**
   * A targeted reconcile: the time (Date.now) after which a pushed tag is no longer waited for (one deadline for all
   * the groups of an event batch, see EVENT_SETTLE_BUDGET_MS); none when left out.
   */
  readonly settleDeadline?: number;
}

/** An approved digest with the gate's attestations the re-match needs. */
export interface ApprovedDigest {
  readonly host: string;
  readonly repository: string;
  readonly digest: string;
  /** The verified CycloneDX SBOM predicate; undefined when no SBOM attestation verifies. */
  readonly sbom: unknown;
  /** The verified assessment predicate the approval rests on. */
  readonly assessment: AssessmentPredicate | undefined;
}

/** What one registry held. */
export interface RegistryInventory {
  readonly host: string;
  /** Repositories the catalog listed, and those the patterns kept. */
  readonly catalog: number;
  readonly repositories: readonly string[];
  /** Configured patterns that matched no repository of the catalog (a typo, or the credentials cannot see it). */
  readonly unmatchedPatterns: readonly string[];
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
    const res = await client.fetchBody(next.href, '', {
      what,
      scope: 'registry:catalog:*',
      maxBytes: MAX_CATALOG_PAGE_BYTES,
    });
    let doc: { repositories?: unknown };
    try {
      doc = JSON.parse(res.bytes.toString('utf8'));
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
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
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

/**
 * An error about one manifest's content (malformed, wrong digest or size, unsupported), as opposed to the registry
 * failing (network, auth, 5xx: exit code 3), which must fail the whole run.
 */
export function isContentError(err: unknown): boolean {
  return err instanceof PortcullisError && err.exitCode === ExitCode.input;
}

/** The digest a tag names now: the registry's Docker-Content-Digest, else the hash of the manifest read whole. */
async function resolveTag(repo: RegistryRepository, tag: string): Promise<string | undefined> {
  const head = await repo.headManifest(tag);
  if (!head) return undefined;
  if (head.digest && /^sha(?:256|512):[0-9a-f]+$/.test(head.digest)) return head.digest;
  return (await repo.findManifest(tag))?.digest;
}

/**
 * The checks of one repository: a tag's digest resolved by HEAD, each digest's signatures and assessment attestations
 * fetched and verified once however many tags name it, then classified. Shared by the full reconcile, the targeted one
 * of a notification and the re-check before a quarantine.
 */
export class RepositoryChecker {
  private readonly repo: RegistryRepository;
  private readonly store: RegistrySignatureStore;
  private readonly fullName: string;
  private readonly facts = new Map<string, Promise<DigestFacts>>();
  /** Per digest, the verified SBOM predicate (only when someone is told of approvals). */
  private readonly sboms = new Map<string, unknown>();
  private readonly told = new Set<string>();
  private trusted: ReturnType<typeof trustedKeysFor> | undefined;

  constructor(
    client: RegistryClient,
    private readonly entry: WatchedRegistry,
    private readonly policy: TrustPolicy,
    readonly repository: string,
    private readonly now: () => number,
    private readonly onApproved?: (approved: ApprovedDigest) => void,
  ) {
    this.repo = new RegistryRepository(client, repository);
    this.store = new RegistrySignatureStore(this.repo);
    this.fullName = cosignRepositoryName(entry.host, repository);
  }

  get registryRepository(): RegistryRepository {
    return this.repo;
  }

  private factsOf(digest: string): Promise<DigestFacts> {
    let f = this.facts.get(digest);
    if (!f) {
      f = (async (): Promise<DigestFacts> => {
        this.trusted ??= trustedKeysFor(this.policy, this.fullName);
        const trusted = await this.trusted;
        if (!trusted) {
          return {
            trusted: false,
            reason: `no entry of ${this.policy.file} matches ${this.fullName}, so no key is trusted for it`,
          };
        }
        try {
          return await this.verified(digest, trusted.keys, trusted.policies);
        } catch (err) {
          // One digest's malformed signature manifest must not stop the run: that digest is unverifiable (alerted).
          if (isContentError(err)) return { trusted: true, unreadable: oneLine(err) };
          throw err;
        }
      })();
      this.facts.set(digest, f);
    }
    return f;
  }

  /** The digest's signatures and, when one verifies, its assessment attestations, fetched and verified. */
  private async verified(
    digest: string,
    keys: readonly TrustedKey[],
    policies: ReadonlySet<string> | undefined,
  ): Promise<DigestFacts> {
    const sigImage = await fetchSignatureImage(this.store, digest, 'sig');
    const signatures = verifySignatures(sigImage, { digest, repository: this.fullName }, keys);
    if (signatures.verified.length === 0) return { trusted: true, signatures };
    const attImage = await fetchSignatureImage(this.store, digest, 'att');
    const assessments = underPolicies(
      verifyAttestations(attImage, { digest }, keys, PREDICATE_TYPES.assessment),
      policies,
    );
    if (this.onApproved) this.sboms.set(digest, readVerifiedSbom(attImage, digest, keys));
    return { trusted: true, signatures, assessments };
  }

  /** The classification of one digest of this repository, at the clock's time now. */
  async classifyDigest(digest: string): Promise<Classification> {
    const facts = await this.factsOf(digest);
    const c = classify(facts, { now: this.now(), maxAgeMs: this.entry.maxAssessmentAgeMs });
    if (c.status === 'approved' && this.onApproved && facts.trusted && !this.told.has(digest)) {
      this.told.add(digest);
      // The assessment the approval rests on: the verified one with the classification's assessedAt.
      const basis = ('assessments' in facts ? facts.assessments : undefined)?.verified.find(
        (a) => (a.statement.predicate as { assessedAt?: unknown } | null)?.assessedAt === c.assessedAt,
      );
      this.onApproved({
        host: this.entry.host,
        repository: this.repository,
        digest,
        sbom: this.sboms.get(digest),
        assessment: basis?.statement.predicate as AssessmentPredicate | undefined,
      });
    }
    return c;
  }

  /**
   * Whether a cosign-named tag really holds a cosign attachment (its layers say so, see `isCosignAttachment`): only
   * then is it left unclassified. A manifest that cannot be read or parsed is no attachment: it is classified.
   */
  async isAttachment(tag: string): Promise<boolean> {
    if (!isCosignTag(tag)) return false;
    try {
      const m = await this.repo.findManifest(tag);
      return m !== undefined && isCosignAttachment(tag, m.manifest);
    } catch (err) {
      if (isContentError(err)) return false;
      throw err;
    }
  }

  /**
   * Wait for the tag to name `digest`, asked again after each of TAG_SETTLE_DELAYS_MS until it does: `named`; after the
   * last, `gone` when it answers 404 and `other` when it names another digest; `unsettled` when a wait would pass
   * `deadline` (Date.now).
   */
  async settle(tag: string, digest: string, deadline = Number.POSITIVE_INFINITY): Promise<Settled> {
    let now: string | undefined;
    for (const wait of [0, ...TAG_SETTLE_DELAYS_MS]) {
      if (wait > 0) {
        if (Date.now() + wait > deadline) return 'unsettled';
        await sleep(wait);
      }
      now = await resolveTag(this.repo, tag);
      if (now === digest) return 'named';
    }
    return now === undefined ? 'gone' : 'other';
  }

  /** The verdict on one tag; undefined when the tag is gone. */
  async verdictOf(tag: string): Promise<TagVerdict | undefined> {
    const digest = await resolveTag(this.repo, tag);
    if (!digest) return undefined;
    const classification = await this.classifyDigest(digest);
    return { host: this.entry.host, repository: this.repository, tag, digest, classification };
  }
}

async function reconcileRegistry(entry: WatchedRegistry, opts: ReconcileOptions): Promise<RegistryInventory> {
  const policy = await loadTrustPolicyFile(entry.trustPolicy);
  const client = new RegistryClient(entry.host, opts.registry);
  try {
    const catalog = await listCatalog(client, opts.pageSize);
    const repositories = catalog.filter((r) => watches(entry, r)).sort();
    const verdicts: TagVerdict[] = [];
    const vanished: string[] = [];
    let signatureTags = 0;
    for (const name of repositories) {
      opts.signal?.throwIfAborted();
      const checker = new RepositoryChecker(client, entry, policy, name, opts.now, opts.onApproved);
      // Listed by the catalog: a 404 on its tags is "gone" only with distribution's NAME_UNKNOWN (else every tag of it
      // would resolve as removed on a proxy's or a misroute's 404).
      const tags = await checker.registryRepository.listTags({
        strictUnknown: true,
        ...(opts.pageSize ? { pageSize: opts.pageSize } : {}),
      });
      const attachments = await mapLimit(tags, opts.concurrency ?? 4, (t) => checker.isAttachment(t));
      const images = tags.filter((_, i) => !attachments[i]).sort();
      signatureTags += tags.length - images.length;
      const results = await mapLimit(images, opts.concurrency ?? 4, async (tag) => {
        opts.signal?.throwIfAborted();
        return { tag, verdict: await checker.verdictOf(tag) };
      });
      for (const r of results) {
        if (r.verdict) verdicts.push(r.verdict);
        else vanished.push(`${name}:${printable(r.tag, 140)}`);
      }
    }
    return {
      host: entry.host,
      catalog: catalog.length,
      repositories,
      unmatchedPatterns: unmatchedPatterns(entry, repositories),
      signatureTags,
      vanished,
      verdicts,
    };
  } finally {
    client.close();
  }
}

/** The entry's patterns (as written) that match none of `repositories`. */
export function unmatchedPatterns(entry: WatchedRegistry, repositories: readonly string[]): string[] {
  return entry.repositories.filter((_, i) => !repositories.some((r) => entry.patterns[i]?.test(r)));
}

/** Does the entry watch this repository (one of its patterns matches)? */
export function watches(entry: WatchedRegistry, repository: string): boolean {
  return entry.patterns.some((p) => p.test(repository));
}

/**
 * One tag of a targeted reconcile: its verdict; undefined when it is gone, is a real cosign attachment (`attachment`),
 * or did not name the digest its push named before the batch's settle deadline (`pending`: left to the next full
 * reconcile).
 */
export interface TagResult {
  readonly tag: string;
  readonly verdict: TagVerdict | undefined;
  readonly attachment?: true;
  readonly pending?: true;
}

/** Waits between HEADs of a pushed tag that does not name the pushed digest yet (distribution notifies first). */
export const TAG_SETTLE_DELAYS_MS: readonly number[] = [100, 200, 400, 800];
/** The most the settle waits of one event batch may take in all; what is left unsettled goes to the next reconcile. */
export const EVENT_SETTLE_BUDGET_MS = 3_000;

/** What a pushed tag named after the settle waits (see RepositoryChecker.settle). */
export type Settled = 'named' | 'gone' | 'other' | 'unsettled';

/**
 * A targeted reconcile (a registry notification): the verdict on each of `tags` of one repository, with the same
 * per-digest verification as the full reconcile; undefined for a tag that is gone or is a real cosign attachment. A
 * tag with an `expected` digest (its push named it) is checked once it names that digest, HEAD retried a few times;
 * after the last, one that answers 404 is gone and one naming another digest is classified by it (it moved again);
 * one whose waits would pass `opts.settleDeadline` is pending. Registry errors propagate.
 */
export async function reconcileTags(
  entry: WatchedRegistry,
  repository: string,
  tags: readonly string[],
  opts: ReconcileOptions,
  expected: ReadonlyMap<string, string> = new Map(),
): Promise<TagResult[]> {
  const policy = await loadTrustPolicyFile(entry.trustPolicy);
  const client = new RegistryClient(entry.host, opts.registry);
  try {
    const checker = new RepositoryChecker(client, entry, policy, repository, opts.now, opts.onApproved);
    return await mapLimit(tags, opts.concurrency ?? 4, async (tag): Promise<TagResult> => {
      const want = expected.get(tag);
      if (want !== undefined) {
        const settled = await checker.settle(tag, want, opts.settleDeadline);
        if (settled === 'unsettled') return { tag, verdict: undefined, pending: true };
        if (settled === 'gone') return { tag, verdict: undefined };
      }
      if (await checker.isAttachment(tag)) return { tag, verdict: undefined, attachment: true };
      return { tag, verdict: await checker.verdictOf(tag) };
    });
  } finally {
    client.close();
  }
}

/** One tag: `reconcileTags` for a single tag. */
export async function reconcileTag(
  entry: WatchedRegistry,
  repository: string,
  tag: string,
  opts: ReconcileOptions,
): Promise<TagVerdict | undefined> {
  const [r] = await reconcileTags(entry, repository, [tag], opts);
  return r?.verdict;
}

/** Reconcile every configured registry in turn. */
export async function reconcile(config: WatchConfig, opts: ReconcileOptions): Promise<RegistryInventory[]> {
  const out: RegistryInventory[] = [];
  for (const entry of config.registries) out.push(await reconcileRegistry(entry, opts));
  return out;
}
