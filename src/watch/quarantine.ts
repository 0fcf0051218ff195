import { oneLine, printable } from '../errors.js';
import type { Descriptor } from '../oci/manifest.js';
import { INDEX_TYPES } from '../oci/mediatypes.js';
import { RegistryClient } from '../oci/registry/client.js';
import type { RegistryRepository } from '../oci/registry/push.js';
import { loadTrustPolicyFile } from '../sign/trustcheck.js';
import { type Classification, isCosignAttachment, type Status, type TagVerdict } from './classify.js';
import type { QuarantineMode, WatchedRegistry } from './config.js';
import { isContentError, mapLimit, type ReconcileOptions, RepositoryChecker } from './reconcile.js';

/**
 * Optional quarantine of images that did not come through the gate. distribution 2.8 cannot untag, so the action is
 * DELETE of the manifest by digest, which takes every tag naming it in that repository. Only unsigned, unassessed,
 * failed, tampered and unverifiable images qualify (a malformed `.sig` pushed beside a rogue image must not shield it);
 * approved and stale ones (the gate approved them once) never do, nor a digest the state ever saw approved, and right
 * before the delete (after the slower look-up of what refers to it) the digest is verified again and looked up in the
 * state's approvals: any doubt, no delete.
 */

export const QUARANTINABLE: ReadonlySet<Status> = new Set([
  'unsigned',
  'unassessed',
  'failed',
  'tampered',
  'unverifiable',
]);

export type QuarantineOutcome = 'would-delete' | 'deleted' | 'refused' | 'failed';

export interface QuarantineResult {
  readonly outcome: QuarantineOutcome;
  readonly reason: string;
}

/** The I/O quarantine needs, for one repository. */
export interface QuarantineTarget {
  /** Was the digest ever seen approved here (WatchState.wasApproved)? */
  readonly wasApproved: (digest: string) => boolean;
  /** The digest's classification now, fetched and verified afresh. */
  readonly recheck: (digest: string) => Promise<Classification>;
  /**
   * Why deleting the digest would break something the gate approved (it is a cosign signature/attestation manifest,
   * or a platform manifest of an approved index); undefined when nothing approved refers to it. Throws on doubt.
   */
  readonly approvedReference: (digest: string) => Promise<string | undefined>;
  /** DELETE /v2/<repo>/manifests/<digest>; false when it was already gone. */
  readonly deleteManifest: (digest: string) => Promise<boolean>;
}

/** Whether a verdict qualifies at all (pure): the mode is not off and the status is one quarantine may act on. */
export function qualifies(verdict: TagVerdict, mode: QuarantineMode): boolean {
  return mode !== 'off' && QUARANTINABLE.has(verdict.classification.status);
}

/**
 * Quarantine the digest of one qualifying verdict. dry-run only says what delete would do (after the same checks, so
 * the log is what delete would really do). Never throws: a failed check or delete is the `failed` outcome.
 */
export async function quarantineDigest(
  verdict: TagVerdict,
  mode: Exclude<QuarantineMode, 'off'>,
  target: QuarantineTarget,
): Promise<QuarantineResult> {
  const { digest } = verdict;
  if (!QUARANTINABLE.has(verdict.classification.status)) {
    return { outcome: 'refused', reason: `${verdict.classification.status} images are never quarantined` };
  }
  try {
    if (target.wasApproved(digest)) {
      return { outcome: 'refused', reason: 'the gate approved this digest here before (it is stale, not rogue)' };
    }
    // The gate signs an index's digest only, and a signature is a manifest of its own: neither has a signature of its
    // own, so either would read as unsigned when someone tags it.
    const reference = await target.approvedReference(digest);
    if (reference !== undefined) return { outcome: 'refused', reason: reference };
    // Last, right before the delete (the look-up above may be slow, and the gate may sign meanwhile): the registry's
    // signatures and assessment verified afresh, then the state's approvals.
    const now = await target.recheck(digest);
    if (!QUARANTINABLE.has(now.status)) {
      return { outcome: 'refused', reason: `checked again, the digest is ${now.status} now: ${now.detail}` };
    }
    if (target.wasApproved(digest)) {
      return { outcome: 'refused', reason: 'the gate approved this digest here while it was being checked' };
    }
    if (mode === 'dry-run') return { outcome: 'would-delete', reason: `dry-run: would delete (${now.status})` };
    const deleted = await target.deleteManifest(digest);
    return { outcome: 'deleted', reason: deleted ? `deleted (${now.status})` : 'already gone' };
  } catch (err) {
    return { outcome: 'failed', reason: oneLine(err) };
  }
}

/** What the state remembers of approvals (WatchState). */
export interface Approvals {
  wasApproved(host: string, repository: string, digest: string): boolean;
  /** Every digest ever seen approved in the repository. */
  approvedDigests(host: string, repository: string): readonly string[];
}

/**
 * A QuarantineTarget on a live registry: a fresh checker per recheck (no cached verification), the state's approvals.
 * What refers to a digest is read once per target (one quarantine step of one repository), not once per digest.
 */
export async function registryTarget(
  entry: WatchedRegistry,
  repository: string,
  client: RegistryClient,
  approvals: Approvals,
  opts: Pick<ReconcileOptions, 'now'>,
): Promise<QuarantineTarget> {
  const policy = await loadTrustPolicyFile(entry.trustPolicy);
  const wasApproved = (d: string) => approvals.wasApproved(entry.host, repository, d);
  const fresh = () => new RepositoryChecker(client, entry, policy, repository, opts.now);
  const checker = fresh();
  let refs: Promise<References> | undefined;
  const cache = processListings(entry.host, repository);
  const indexApproved = async (d: string) =>
    wasApproved(d) || GATE_SIGNED.has((await checker.classifyDigest(d)).status);
  return {
    wasApproved,
    recheck: (digest) => fresh().classifyDigest(digest),
    approvedReference: async (digest) => {
      refs ??= readReferences(checker.registryRepository, approvals.approvedDigests(entry.host, repository), cache);
      return referenceTo(await refs, digest, indexApproved);
    },
    deleteManifest: (digest) => fresh().registryRepository.deleteManifest(digest),
  };
}

/** Statuses that mean the gate approved a digest (now, or once: stale). */
const GATE_SIGNED: ReadonlySet<Status> = new Set(['approved', 'stale']);

/** What in one repository refers to other digests: read once, then looked up per digest. */
export interface References {
  /** Digest of a real cosign attachment (`isCosignAttachment`) → the tag naming it. */
  readonly attachments: ReadonlyMap<string, string>;
  /** Child digest → the indexes listing it, with the tag naming each (undefined: an index the state saw approved). */
  readonly parents: ReadonlyMap<string, readonly { readonly index: string; readonly tag: string | undefined }[]>;
  /**
   * Tags whose manifest cannot be read (malformed): what they list is unknown, so they protect a digest only when the
   * digest they name is approved (then any doubt, no delete); a rogue's malformed `.sig` must not block quarantine.
   */
  readonly unreadable: readonly { readonly tag: string; readonly digest: string }[];
}

/** What a manifest read by digest lists: an index's entries; nothing for an image or a manifest gone. */
type Listing =
  | { readonly kind: 'index'; readonly children: readonly Descriptor[] }
  | { readonly kind: 'image' }
  | { readonly kind: 'gone'; readonly at: number };

/** How long a digest found gone is believed gone (it may be pushed again): then it is read again. */
export const GONE_RECHECK_MS = 60 * 60 * 1000;
/** Indexes the gate accepts nested (assess.ts refuses deeper trees): the root and three levels under it. */
export const MAX_INDEX_DEPTH = 4;
const READ_CONCURRENCY = 4;

/**
 * What manifests of one repository list, by digest: a manifest is immutable by digest, so an index's entries or that
 * it is an image are kept for the process; one found gone is read again after GONE_RECHECK_MS. Errors are not kept.
 */
export class DigestListings {
  private readonly known = new Map<string, Listing>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The listings of `digests`, reading only those not known (at most READ_CONCURRENCY at once). */
  async list(repo: RegistryRepository, digests: readonly string[]): Promise<Listing[]> {
    const now = this.now();
    const fresh = (l: Listing | undefined) => l !== undefined && (l.kind !== 'gone' || now - l.at < GONE_RECHECK_MS);
    const todo = [...new Set(digests.filter((d) => !fresh(this.known.get(d))))];
    await mapLimit(todo, READ_CONCURRENCY, async (d) => {
      const m = await repo.findManifest(d);
      this.known.set(
        d,
        !m
          ? { kind: 'gone', at: now }
          : m.manifest.kind === 'index'
            ? { kind: 'index', children: m.manifest.manifests }
            : { kind: 'image' },
      );
    });
    return digests.map((d) => this.known.get(d) as Listing);
  }

  /** How many digests are known (tests, metrics). */
  get size(): number {
    return this.known.size;
  }
}

const listingsByRepository = new Map<string, DigestListings>();

/** The process's DigestListings of one repository of one registry. */
export function processListings(host: string, repository: string): DigestListings {
  const key = `${host}/${repository}`;
  let l = listingsByRepository.get(key);
  if (!l) {
    l = new DigestListings();
    listingsByRepository.set(key, l);
  }
  return l;
}

/**
 * Read what refers to digests in the repository: every tag's manifest (the tag list read once), and every index the
 * state ever saw approved here, read by digest through `listings` (no tag may name it any more, yet deployments pinned
 * to its digest still pull its children; one gone lists nothing). An index's nested indexes are followed, MAX_INDEX_DEPTH
 * deep as the gate allows: every manifest under it is recorded as under that index. Registry errors propagate (no
 * delete).
 */
export async function readReferences(
  repo: RegistryRepository,
  everApproved: readonly string[],
  listings: DigestListings = new DigestListings(),
): Promise<References> {
  const tags = await repo.listTags({ strictUnknown: true });
  const unreadable: { tag: string; digest: string }[] = [];
  const manifests = await mapLimit(tags, READ_CONCURRENCY, async (t) => {
    try {
      return await repo.findManifest(t);
    } catch (err) {
      if (!isContentError(err)) throw err;
      const head = await repo.headManifest(t);
      if (!head) return undefined;
      // Its digest unknown, nothing can be said of it: doubt (no delete).
      if (!head.digest || !/^sha(?:256|512):[0-9a-f]+$/.test(head.digest)) throw err;
      unreadable.push({ tag: t, digest: head.digest });
      return undefined;
    }
  });
  const attachments = new Map<string, string>();
  const parents = new Map<string, { index: string; tag: string | undefined }[]>();
  const roots: { index: string; tag: string | undefined; children: readonly Descriptor[] }[] = [];
  const tagged = new Set<string>(unreadable.map((u) => u.digest));
  tags.forEach((tag, i) => {
    const m = manifests[i];
    if (!m) return;
    tagged.add(m.digest);
    // Only a real attachment (its layers) is a signature: an image pushed under a cosign-like name is not protected.
    if (isCosignAttachment(tag, m.manifest)) attachments.set(m.digest, tag);
    else if (m.manifest.kind === 'index') roots.push({ index: m.digest, tag, children: m.manifest.manifests });
  });
  const untagged = [...new Set(everApproved.filter((d) => !tagged.has(d)))];
  (await listings.list(repo, untagged)).forEach((l, i) => {
    if (l.kind === 'index') roots.push({ index: untagged[i] as string, tag: undefined, children: l.children });
  });
  for (const root of roots) {
    const seen = new Set<string>([root.index]);
    let level = root.children;
    for (let depth = 1; level.length > 0; depth++) {
      for (const c of level) {
        const list = parents.get(c.digest) ?? [];
        if (!list.some((p) => p.index === root.index)) list.push({ index: root.index, tag: root.tag });
        parents.set(c.digest, list);
      }
      if (depth >= MAX_INDEX_DEPTH) break;
      const nested = [
        ...new Set(level.filter((c) => INDEX_TYPES.has(c.mediaType) && !seen.has(c.digest)).map((c) => c.digest)),
      ];
      for (const d of nested) seen.add(d);
      level = (await listings.list(repo, nested)).flatMap((l) => (l.kind === 'index' ? l.children : []));
    }
  }
  return { attachments, parents, unreadable };
}

/**
 * Why deleting `digest` would break something the gate approved: it is a real cosign attachment, or a manifest of an
 * index the state saw approved, or of a tagged index `approved` holds; undefined when nothing is.
 */
export async function referenceTo(
  refs: References,
  digest: string,
  approved: (index: string) => Promise<boolean>,
): Promise<string | undefined> {
  const tag = refs.attachments.get(digest);
  if (tag !== undefined) {
    return `the digest is the cosign manifest tagged ${tag}: deleting it would remove that signature or attestation`;
  }
  for (const p of refs.parents.get(digest) ?? []) {
    if (p.tag === undefined) {
      return `the digest is a manifest of index ${p.index}, which the gate approved here (deployments may pin it by digest)`;
    }
    if (await approved(p.index)) {
      return `the digest is a manifest of index ${p.index} (tag ${printable(p.tag, 140)}), which the gate approved`;
    }
  }
  for (const u of refs.unreadable) {
    if (u.digest !== digest && (await approved(u.digest))) {
      return `tag ${printable(u.tag, 140)} names ${u.digest}, which the gate approved, and its manifest cannot be read: it may refer to the digest`;
    }
  }
  return undefined;
}

/** `readReferences` and `referenceTo` for one digest. */
export async function approvedReference(
  repo: RegistryRepository,
  digest: string,
  approved: (digest: string) => Promise<boolean>,
  everApproved: readonly string[] = [],
): Promise<string | undefined> {
  return referenceTo(await readReferences(repo, everApproved), digest, approved);
}

/** Quarantine every qualifying digest among `verdicts` of one registry, once per repository and digest. */
export async function quarantineVerdicts(
  entry: WatchedRegistry,
  verdicts: readonly TagVerdict[],
  approvals: Approvals,
  opts: Pick<ReconcileOptions, 'now' | 'registry'>,
  report: (verdict: TagVerdict, result: QuarantineResult) => void,
): Promise<void> {
  const mode = entry.quarantine;
  if (mode === 'off') return;
  const todo = new Map<string, TagVerdict>();
  for (const v of verdicts) if (qualifies(v, mode)) todo.set(`${v.repository}@${v.digest}`, v);
  if (todo.size === 0) return;
  const client = new RegistryClient(entry.host, opts.registry);
  try {
    const targets = new Map<string, Promise<QuarantineTarget>>();
    for (const v of todo.values()) {
      let t = targets.get(v.repository);
      if (!t) {
        t = registryTarget(entry, v.repository, client, approvals, opts);
        targets.set(v.repository, t);
      }
      const result = await t.then(
        (target) => quarantineDigest(v, mode, target),
        (err): QuarantineResult => ({ outcome: 'failed', reason: oneLine(err) }),
      );
      report(v, result);
    }
  } finally {
    client.close();
  }
}
