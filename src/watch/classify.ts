import { printable } from '../errors.js';
import type { Finding, Severity } from '../findings/finding.js';
import type { AnyManifest } from '../oci/manifest.js';
import type { RuleDescription } from '../report/sarif.js';
import { DSSE_MEDIA_TYPE } from '../sign/dsse.js';
import { SIMPLE_SIGNING_MEDIA_TYPE } from '../sign/payload.js';
import { describeFailures, type Verdict, type VerifiedAttestation, type VerifiedSignature } from '../sign/verify.js';

/**
 * The verdict on one tagged digest, pure over facts already gathered (no I/O, the clock given). `tampered` (a tag
 * moved to a digest the gate never approved) needs remembered state: `WatchState` (state.ts) decides it, never
 * `classify`.
 */

export type Status =
  | 'approved'
  | 'unsigned'
  | 'unassessed'
  | 'failed'
  | 'stale'
  | 'tampered'
  | 'unverifiable'
  | 'unknown-repository';

/** What was learnt about one digest of one repository. */
export type DigestFacts =
  /** No trust policy entry matches the repository: nothing was fetched. */
  | { readonly trusted: false; readonly reason: string }
  /** Its signatures or attestations could not be read (a malformed manifest, say): nothing can be verified. */
  | { readonly trusted: true; readonly unreadable: string }
  | {
      readonly trusted: true;
      readonly signatures: Verdict<VerifiedSignature>;
      /** Assessment attestations verified with the same keys; left out when no signature verified. */
      readonly assessments?: Verdict<VerifiedAttestation>;
    };

export interface Classification {
  readonly status: Status;
  /** One line: why. */
  readonly detail: string;
  /** The assessedAt of the assessment the verdict rests on, when there is one. */
  readonly assessedAt?: string;
}

const INSTANT_RE =
  /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

/** An RFC 3339 timestamp in ms; undefined for anything else, a 30 February included (Date.parse rolls it over). */
function parseTimestamp(text: string): number | undefined {
  const m = INSTANT_RE.exec(text);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return undefined;
  const t = Date.parse(text);
  return Number.isFinite(t) ? t : undefined;
}

interface Assessment {
  readonly decision: 'PASS' | 'FAIL';
  readonly assessedAt: string;
  readonly at: number;
  readonly key: string;
}

/** The decision and time of a verified assessment predicate; undefined when it carries no readable pair. */
function readAssessment(a: VerifiedAttestation): Assessment | undefined {
  const p = a.statement.predicate as { decision?: unknown; assessedAt?: unknown } | null;
  if (typeof p !== 'object' || p === null) return undefined;
  if (p.decision !== 'PASS' && p.decision !== 'FAIL') return undefined;
  const at = typeof p.assessedAt === 'string' ? parseTimestamp(p.assessedAt) : undefined;
  if (at === undefined) return undefined;
  return { decision: p.decision, assessedAt: p.assessedAt as string, at, key: a.key };
}

/** The latest readable (PASS/FAIL, dated) of verified assessment attestations, or undefined when none is. */
export function latestAssessment(verified: readonly VerifiedAttestation[]): Assessment | undefined {
  const readable = verified.map(readAssessment).filter((a): a is Assessment => a !== undefined);
  return readable.length > 0 ? readable.reduce((a, b) => (b.at > a.at ? b : a)) : undefined;
}

/** How far ahead of this clock an assessment may be dated (the gate's and this machine's clocks differ a little). */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

function duration(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  return h >= 48 ? `${Math.floor(h / 24)}d` : h >= 1 ? `${h}h` : `${Math.max(0, Math.floor(ms / 60_000))}m`;
}

/**
 * Classify one digest. Approved needs a signature by a key the trust policy names for the repository and, by the same
 * keys, an assessment that says PASS and is at most `maxAgeMs` old at `now`. The latest readable assessment decides.
 */
export function classify(
  facts: DigestFacts,
  opts: { readonly now: number; readonly maxAgeMs: number },
): Classification {
  if (!facts.trusted) return { status: 'unknown-repository', detail: facts.reason };
  if ('unreadable' in facts) {
    return { status: 'unverifiable', detail: `its signatures cannot be read: ${printable(facts.unreadable, 400)}` };
  }
  if (facts.signatures.verified.length === 0) {
    const why = describeFailures(facts.signatures.failures);
    return { status: 'unsigned', detail: `no signature by a trusted key${why ? `: ${printable(why, 400)}` : ''}` };
  }
  const verified = facts.assessments?.verified ?? [];
  const latest = latestAssessment(verified);
  if (latest === undefined) {
    const failures = facts.assessments ? describeFailures(facts.assessments.failures) : '';
    const unreadable =
      verified.length > 0 ? `${verified.length} verified but without a PASS/FAIL decision and assessedAt` : '';
    const why = [unreadable, failures].filter(Boolean).join('; ');
    return {
      status: 'unassessed',
      detail: `signed, but no verified assessment attestation${why ? `: ${printable(why, 400)}` : ''}`,
    };
  }
  if (latest.decision === 'FAIL') {
    return {
      status: 'failed',
      detail: `the assessment of ${latest.assessedAt} (key ${latest.key}) says FAIL`,
      assessedAt: latest.assessedAt,
    };
  }
  const age = opts.now - latest.at;
  if (-age > CLOCK_SKEW_MS) {
    // Its age cannot be known: a gate with a wrong clock, or a key used to sign a date to come. Never approved.
    return {
      status: 'stale',
      detail: `the latest assessment is dated ${latest.assessedAt}, ${duration(-age)} ahead of this clock: its age cannot be known`,
      assessedAt: latest.assessedAt,
    };
  }
  if (age > opts.maxAgeMs) {
    return {
      status: 'stale',
      detail: `the latest assessment (PASS, ${latest.assessedAt}) is ${duration(age)} old, more than the ${duration(opts.maxAgeMs)} allowed`,
      assessedAt: latest.assessedAt,
    };
  }
  return {
    status: 'approved',
    detail: `signed and assessed PASS at ${latest.assessedAt} (key ${latest.key})`,
    assessedAt: latest.assessedAt,
  };
}

const COSIGN_TAG_RE = /^(sha256|sha512)-([0-9a-f]{64}|[0-9a-f]{128})\.(sig|att|sbom)$/;

/**
 * Whether a tag is NAMED like one of cosign's attachments (`sha256-<hex>.sig`, `.att`, `.sbom`). Anyone can push an
 * image under such a name: only `isCosignAttachment` (its layers) says whether it really is one.
 */
export function isCosignTag(tag: string): boolean {
  return COSIGN_TAG_RE.test(tag);
}

/** The digest a cosign-named tag signs (`sha256-<hex>.sig` names `sha256:<hex>`); undefined for any other tag. */
export function cosignSubject(tag: string): string | undefined {
  const m = COSIGN_TAG_RE.exec(tag);
  return m ? `${m[1]}:${m[2]}` : undefined;
}

/** Layer media types cosign writes per attachment kind (`cosign sign`, `attest`, `attach sbom`). */
const COSIGN_LAYER_TYPES: Readonly<Record<string, ReadonlySet<string>>> = {
  sig: new Set([SIMPLE_SIGNING_MEDIA_TYPE]),
  att: new Set([DSSE_MEDIA_TYPE]),
  sbom: new Set([
    'text/spdx',
    'text/spdx+json',
    'application/spdx+json',
    'spdx+json',
    'application/vnd.cyclonedx',
    'application/vnd.cyclonedx+xml',
    'application/vnd.cyclonedx+json',
    'application/vnd.syft+json',
  ]),
};

/**
 * Whether a manifest under a cosign-named tag really is a cosign attachment: an image manifest whose layers (one at
 * least) all have the media type cosign writes for that kind. None of them is a filesystem layer, so nothing in it
 * can run; anything else under such a name is an image like any other (pure).
 */
export function isCosignAttachment(tag: string, manifest: AnyManifest): boolean {
  const kind = COSIGN_TAG_RE.exec(tag)?.[3];
  const allowed = kind ? COSIGN_LAYER_TYPES[kind] : undefined;
  if (!allowed || manifest.kind !== 'image' || manifest.layers.length === 0) return false;
  return manifest.layers.every((l) => allowed.has(l.mediaType));
}

interface WatchRule extends RuleDescription {
  readonly id: string;
  readonly severity: Severity;
  readonly title: string;
  readonly fix: string;
}

/** One rule per non-approved status, for findings and SARIF. */
export const WATCH_RULES: Readonly<Record<Exclude<Status, 'approved'>, WatchRule>> = {
  unsigned: {
    id: 'watch-unsigned',
    severity: 'high',
    title: 'Image not signed by a trusted key',
    fix: 'Promote the image through `portcullis gate`, or remove the tag: nothing unsigned belongs in this registry.',
  },
  unassessed: {
    id: 'watch-unassessed',
    severity: 'high',
    title: 'Signed image without an assessment',
    fix: 'Promote the image through `portcullis gate`, which assesses before it signs; a bare signature proves no assessment.',
  },
  failed: {
    id: 'watch-failed',
    severity: 'high',
    title: 'Image whose assessment failed',
    fix: 'Remove the tag, or fix the image and promote it again through `portcullis gate`.',
  },
  tampered: {
    id: 'watch-tampered',
    severity: 'critical',
    title: 'Tag moved to a digest the gate never approved',
    fix: 'Point the tag back at the approved digest (or remove it) and find out who pushed: only `portcullis gate` may move a watched tag.',
  },
  stale: {
    id: 'watch-stale',
    severity: 'medium',
    title: 'Assessment older than allowed',
    fix: 'Run `portcullis gate` on the image again for a fresh assessment, or raise maxAssessmentAge.',
  },
  unverifiable: {
    id: 'watch-unverifiable',
    severity: 'high',
    title: 'Image whose signatures cannot be read',
    fix: 'Find out who pushed the malformed signature or attestation manifest named in the detail, remove it, and promote the image again through `portcullis gate`.',
  },
  'unknown-repository': {
    id: 'watch-unknown-repository',
    severity: 'medium',
    title: 'Repository without a trust policy entry',
    fix: 'Add an entry for the repository to the trust policy, or stop watching it.',
  },
};

export function describeWatchRule(id: string): RuleDescription | undefined {
  const r = Object.values(WATCH_RULES).find((x) => x.id === id);
  return r ? { name: r.id, shortDescription: r.title, help: { text: r.fix } } : undefined;
}

/** A tag as classified, located on its registry. */
export interface TagVerdict {
  readonly host: string;
  readonly repository: string;
  readonly tag: string;
  readonly digest: string;
  readonly classification: Classification;
}

/** The finding for a non-approved tag; undefined for an approved one. */
export function toFinding(v: TagVerdict): Finding | undefined {
  const { status, detail } = v.classification;
  if (status === 'approved') return undefined;
  const rule = WATCH_RULES[status];
  return {
    ruleId: rule.id,
    kind: 'posture',
    severity: rule.severity,
    confidence: 'high',
    title: rule.title,
    message: `${v.host}/${v.repository}:${v.tag} (${v.digest}) is ${status}: ${detail}`,
    location: { kind: 'registry', host: v.host, path: `${v.repository}:${v.tag}` },
    fix: { text: rule.fix },
  };
}
