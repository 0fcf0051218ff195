/**
 * The webhook's image verification, the I/O edge: a tag resolved to its digest, then the digest's cosign signature and
 * assessment attestation fetched and verified with the existing verifier (sign/verify.ts) and judged as the registry
 * watcher judges a tag (watch/classify.ts). Results are kept per repository and digest (a signature names both) in a
 * bounded LRU: approvals for cacheTtl (never past the assessment's age limit), definite refusals briefly, and registry
 * errors never, so an outage can only deny.
 */
import { PortcullisError, printable } from '../../errors.js';
import { RegistryClient, type RegistryOptions } from '../../oci/registry/client.js';
import { RegistryRepository } from '../../oci/registry/push.js';
import { fetchSignatureImage } from '../../sign/actions.js';
import { PREDICATE_TYPES } from '../../sign/attestation.js';
import { cosignRepositoryName } from '../../sign/payload.js';
import { RegistrySignatureStore } from '../../sign/registrystore.js';
import { type Trusted, trustedKeysFor, underPolicies } from '../../sign/trustcheck.js';
import type { TrustPolicy } from '../../sign/trustpolicy.js';
import { describeFailures, type TrustedKey, verifyAttestations, verifySignatures } from '../../sign/verify.js';
import { type Classification, classify, type DigestFacts } from '../../watch/classify.js';
import { TtlLru } from './cache.js';

/** Which keys (and attestation types beyond the assessment) a repository's images must carry. */
export interface TrustSource {
  keysFor(repository: string): Promise<Trusted | { reason: string }>;
}

/** `--key PUB...`: these keys for every repository. */
export function fixedKeys(keys: readonly TrustedKey[]): TrustSource {
  return { keysFor: async () => ({ keys: [...keys], attestations: [] }) };
}

/** `--trust-policy FILE`: the entry matching the repository; its keys are read once per repository. */
export function policyKeys(policy: TrustPolicy): TrustSource {
  const memo = new Map<string, ReturnType<typeof trustedKeysFor>>();
  return {
    async keysFor(repository) {
      let p = memo.get(repository);
      if (!p) {
        p = trustedKeysFor(policy, repository);
        if (memo.size >= 1000) memo.delete(memo.keys().next().value as string);
        memo.set(repository, p);
        p.catch(() => memo.delete(repository));
      }
      const t = await p;
      return t ?? { reason: `no entry of ${policy.file} matches ${repository}, so no key is trusted for it` };
    },
  };
}

export interface VerifierOptions {
  readonly registry: RegistryOptions;
  readonly trust: TrustSource;
  readonly now?: () => number;
  /** How long an approval is kept (default 5 minutes). */
  readonly cacheTtlMs?: number;
  /** How long a definite refusal is kept (default 10 s; 0 keeps none). */
  readonly denyCacheTtlMs?: number;
  readonly cacheSize?: number;
  /** Assessments older than this do not count (default: no limit). */
  readonly maxAssessmentAgeMs?: number;
}

/** The outcome for one image digest. */
export interface ImageVerdict {
  readonly approved: boolean;
  /** One line: why. */
  readonly detail: string;
  /** Served from the cache. */
  readonly cached: boolean;
}

const MAX_CLIENTS = 32;

export class ImageVerifier {
  private readonly cache: TtlLru<Classification>;
  private readonly inflight = new Map<string, Promise<Classification>>();
  private readonly clients = new Map<string, RegistryClient>();
  private readonly now: () => number;
  private readonly ttl: number;
  private readonly denyTtl: number;
  private readonly maxAge: number;
  /** Verifications actually run (cache misses), for metrics and tests. */
  fetched = 0;

  constructor(private readonly opts: VerifierOptions) {
    this.now = opts.now ?? Date.now;
    this.ttl = opts.cacheTtlMs ?? 5 * 60_000;
    this.denyTtl = opts.denyCacheTtlMs ?? 10_000;
    this.maxAge = opts.maxAssessmentAgeMs ?? Number.POSITIVE_INFINITY;
    this.cache = new TtlLru(opts.cacheSize ?? 10_000, this.now);
  }

  private client(registry: string): RegistryClient {
    let c = this.clients.get(registry);
    if (!c) {
      c = new RegistryClient(registry, this.opts.registry);
      if (this.clients.size >= MAX_CLIENTS) {
        const [oldest, old] = this.clients.entries().next().value as [string, RegistryClient];
        this.clients.delete(oldest);
        old.close();
      }
      this.clients.set(registry, c);
    }
    return c;
  }

  /** The digest a tag names now (HEAD, else the manifest read whole); undefined when there is no such tag. */
  async resolveTag(registry: string, repository: string, tag: string): Promise<string | undefined> {
    const repo = new RegistryRepository(this.client(registry), repository);
    const head = await repo.headManifest(tag);
    if (!head) return undefined;
    if (head.digest && /^sha(?:256|512):[0-9a-f]{64,128}$/.test(head.digest)) return head.digest;
    return (await repo.findManifest(tag))?.digest;
  }

  /**
   * Judge one digest of a repository. Registry errors propagate (the caller denies, and nothing is kept); a verdict
   * is kept as the cache rules say.
   */
  async verify(registry: string, repository: string, digest: string): Promise<ImageVerdict> {
    const name = cosignRepositoryName(registry, repository);
    const key = `${name}@${digest}`;
    const hit = this.cache.get(key);
    if (hit) return { approved: hit.status === 'approved', detail: hit.detail, cached: true };
    let p = this.inflight.get(key);
    if (!p) {
      p = this.classifyDigest(registry, repository, name, digest).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const c = await p;
    this.remember(key, c);
    return { approved: c.status === 'approved', detail: c.detail, cached: false };
  }

  private remember(key: string, c: Classification): void {
    if (c.status !== 'approved') {
      this.cache.set(key, c, this.denyTtl);
      return;
    }
    // An approval never outlives the assessment's age limit.
    const at = c.assessedAt ? Date.parse(c.assessedAt) : Number.NaN;
    const left = Number.isFinite(this.maxAge) && Number.isFinite(at) ? at + this.maxAge - this.now() : this.ttl;
    this.cache.set(key, c, Math.min(this.ttl, left));
  }

  private async classifyDigest(
    registry: string,
    repository: string,
    name: string,
    digest: string,
  ): Promise<Classification> {
    this.fetched++;
    const trusted = await this.opts.trust.keysFor(name);
    if ('reason' in trusted) return classify({ trusted: false, reason: trusted.reason }, this.judging());
    const store = new RegistrySignatureStore(new RegistryRepository(this.client(registry), repository));
    const signatures = verifySignatures(
      await fetchSignatureImage(store, digest, 'sig'),
      { digest, repository: name },
      trusted.keys,
    );
    if (signatures.verified.length === 0) return classify({ trusted: true, signatures }, this.judging());
    const att = await fetchSignatureImage(store, digest, 'att');
    const assessments = underPolicies(
      verifyAttestations(att, { digest }, trusted.keys, PREDICATE_TYPES.assessment),
      trusted.policies,
    );
    const facts: DigestFacts = { trusted: true, signatures, assessments };
    const c = classify(facts, this.judging());
    if (c.status !== 'approved') return c;
    // What the trust policy requires beside the assessment (an SBOM, a provenance) must verify too.
    for (const type of new Set(trusted.attestations.map((t) => PREDICATE_TYPES[t] ?? t))) {
      if (type === PREDICATE_TYPES.assessment) continue;
      const v = verifyAttestations(att, { digest }, trusted.keys, type);
      if (v.verified.length === 0) {
        return {
          status: 'unassessed',
          detail: `the trust policy requires an attestation of type ${type}: ${printable(describeFailures(v.failures), 300)}`,
        };
      }
    }
    return c;
  }

  private judging(): { now: number; maxAgeMs: number } {
    return { now: this.now(), maxAgeMs: this.maxAge };
  }

  /** Entries kept now. */
  get cacheSize(): number {
    return this.cache.size;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** A registry error as one line for a deny reason. */
export function registryFailure(err: unknown): string {
  if (err instanceof PortcullisError) return `${err.code}: ${printable(err.message, 300)}`;
  throw err;
}
