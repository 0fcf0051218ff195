/**
 * The policy model: a loaded policy (schemas/policy.schema.json, normalised by load.ts), what evaluation reads
 * (findings, image facts, a clock, signature checks) and the decision it returns. Plain data throughout, so a
 * decision can be stored, compared and attested as it is.
 */
import type { Finding, FindingKind, Severity } from '../findings/finding.js';

/** A severity a policy can name (`unknown` is what advisories without a rating have; a policy maps it). */
export type PolicySeverity = Exclude<Severity, 'unknown'>;

/** A duration as written (`90d`) and in milliseconds. */
export interface Duration {
  readonly text: string;
  readonly ms: number;
}

/** Where something is in the policy file (1-based), for messages that send the reader to the line. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/** A per-package vulnerability rule; the first that matches a finding's package applies. */
export interface PackageRule {
  readonly index: number;
  readonly package: string;
  readonly failOn?: PolicySeverity;
  readonly onlyFixable?: boolean;
  readonly fixAvailableFor?: Duration;
  readonly ignore?: boolean;
  readonly reason?: string;
}

export interface VulnerabilityRules {
  readonly failOn: PolicySeverity;
  readonly onlyFixable: boolean;
  readonly fixAvailableFor?: Duration;
  readonly unknownSeverity: PolicySeverity;
  readonly includeUnimportant: boolean;
  readonly limits?: Readonly<Partial<Record<PolicySeverity | 'total', number>>>;
  readonly packages: readonly PackageRule[];
}

/** Misconfiguration or secret findings that fail the image: by severity, or by rule id pattern. */
export interface RuleIdRules {
  readonly failOn?: PolicySeverity;
  readonly fail: readonly string[];
}

export interface ApprovedBaseImage {
  readonly name: string;
  readonly digest?: string;
  readonly layers?: readonly string[];
}

/** A public key the policy trusts, by the SHA-256 of its DER SubjectPublicKeyInfo (`sha256:<hex>`). */
export interface TrustedKey {
  readonly fingerprint: string;
  /** The file it was read from, or the fingerprint as written. */
  readonly source: string;
}

export interface BaseImageRules {
  readonly approved: readonly ApprovedBaseImage[];
  readonly trustAnnotations: boolean;
  readonly signature?: { readonly keys: readonly TrustedKey[] };
}

export interface LabelRule {
  readonly key: string;
  /** A regular expression the whole value must match. */
  readonly value?: string;
}

export interface PolicyRules {
  readonly vulnerabilities?: VulnerabilityRules;
  readonly misconfigurations?: RuleIdRules;
  readonly secrets?: RuleIdRules;
  readonly baseImage?: BaseImageRules;
  readonly registries?: readonly string[];
  readonly labels?: readonly LabelRule[];
  readonly maxAge?: Duration;
  /** Every package record found must have been read (no unknowns in the inventory). */
  readonly completeInventory?: boolean;
  /** The check settings a decision may be made with: `defaults`, or `sha256:<hex>` of a --checks-config file. */
  readonly checkSettings?: { readonly allow: readonly string[] };
}

/** The settings the misconfiguration and secret checks ran with: a --checks-config file (and its sha256), or none. */
export type SettingsUsed = { readonly file: string; readonly digest: string } | 'defaults';

/** A finding-level exception: every given criterion must match; it applies until `expires`. */
export interface PolicyException {
  /** 1-based position in the policy's `exceptions` list. */
  readonly index: number;
  readonly at: SourcePosition;
  readonly id?: string;
  readonly package?: string;
  readonly image?: string;
  readonly reason: string;
  /** As written (`2025-06-30`). */
  readonly expires: string;
  /** The instant it stops applying, in ms since the epoch (a bare date means 00:00 UTC of that day). */
  readonly expiresAt: number;
}

export interface Policy {
  readonly name: string;
  readonly description?: string;
  /** The file as given on the command line. */
  readonly file: string;
  /** sha256 of the file's bytes: which policy a decision was made under. */
  readonly digest: string;
  readonly rules: PolicyRules;
  readonly exceptions: readonly PolicyException[];
}

/** What a policy needs to know about the image, taken from the inventory's subject (facts.ts). */
export interface ImageFacts {
  readonly kind: 'image' | 'rootfs';
  /** The reference as the user gave it (credential-free). */
  readonly reference: string;
  /** `registry/repository` for registry images; the reference as given for local ones. */
  readonly name: string;
  readonly registry?: { readonly host: string; readonly repository: string };
  readonly digest?: string;
  /** The index the manifest was chosen from, when there was one (the digest a multi-platform tag names). */
  readonly indexDigest?: string;
  /** Bottom first. */
  readonly layers: readonly { readonly diffId?: string; readonly digest?: string }[];
  readonly labels: Readonly<Record<string, string>>;
  /** Manifest annotations. */
  readonly annotations: Readonly<Record<string, string>>;
  readonly created?: string;
}

/** The result of checking a signature on one digest with one key, as the caller's verifier found it. */
export interface SignatureCheck {
  readonly digest: string;
  readonly verified: boolean;
  /** `sha256:<hex>` of the DER SubjectPublicKeyInfo of the key used. */
  readonly keyFingerprint?: string;
  /** What was checked, or why it failed: shown in the decision. */
  readonly detail: string;
}

/** A file a cataloger found but could not read (the inventory's non-fatal unknowns). */
export interface InventoryGap {
  readonly path: string;
  readonly cataloger: string;
  readonly message: string;
}

/** Everything evaluation reads. Nothing else: no clock, no files, no network. */
export interface EvaluationInput {
  readonly findings: readonly Finding[];
  /** The kinds of checks that ran on the image: a rule about a kind that did not run fails, never passes. */
  readonly checks: readonly FindingKind[];
  readonly image: ImageFacts;
  readonly now: Date;
  /** Signature checks the caller made; undefined when no verifier was available (signature rules then fail). */
  readonly signatures?: readonly SignatureCheck[];
  /** Check rules that could not run on this image, and why: a policy naming one cannot say the image is clean. */
  readonly skipped?: readonly SkippedRule[];
  /** What the inventory could not read; undefined when the caller has no inventory to say (the rule then fails). */
  readonly gaps?: readonly InventoryGap[];
  /** The settings the image checks ran with; undefined when the caller cannot say (the rule then errs). */
  readonly settings?: SettingsUsed;
}

/** A check rule that did not run (its settings are missing, it needs a trust policy, it is disabled). */
export interface SkippedRule {
  readonly id: string;
  readonly reason: string;
}

export type RuleOutcomeKind = 'pass' | 'fail' | 'error';

/** One rule's outcome with the reasons and the findings behind it. */
export interface RuleOutcome {
  readonly id: string;
  readonly title: string;
  readonly outcome: RuleOutcomeKind;
  readonly reasons: readonly string[];
  /** Ids (findingId) of the findings that made the rule fail. */
  readonly findings: readonly string[];
}

/** An exception as the decision reports it: which findings it covered (or would have, had it not expired). */
export interface ExceptionReport {
  readonly index: number;
  readonly line: number;
  readonly id?: string;
  readonly package?: string;
  readonly image?: string;
  readonly reason: string;
  readonly expires: string;
  readonly findings: readonly string[];
  /** For an expired exception: those of its findings another exception (by number) still covers. */
  readonly stillExcepted?: { readonly findings: readonly string[]; readonly by: readonly number[] };
}

export interface Decision {
  readonly pass: boolean;
  readonly policy: { readonly name: string; readonly file: string; readonly digest: string };
  readonly image: { readonly reference: string; readonly digest?: string };
  readonly evaluatedAt: string;
  /** Sorted by rule id. */
  readonly rules: readonly RuleOutcome[];
  readonly exceptionsUsed: readonly ExceptionReport[];
  readonly exceptionsExpired: readonly ExceptionReport[];
  readonly warnings: readonly string[];
}

/** What one rule sees: the findings that still count after exceptions and VEX, sorted by id. */
export interface RuleContext {
  readonly policy: Policy;
  readonly findings: readonly Finding[];
  readonly checks: readonly FindingKind[];
  readonly image: ImageFacts;
  readonly now: Date;
  readonly signatures: readonly SignatureCheck[] | undefined;
  readonly skipped: readonly SkippedRule[];
  readonly gaps: readonly InventoryGap[] | undefined;
  readonly settings: SettingsUsed | undefined;
}

/** A rule's verdict before evaluate() adds its id and title. */
export interface RuleVerdict {
  readonly outcome: RuleOutcomeKind;
  readonly reasons: readonly string[];
  readonly findings?: readonly string[];
}

/** A registered policy rule: one module under rules/, listed in rules/index.ts. */
export interface PolicyRule {
  /** Stable id, the module's file name, used in decisions and docs (docs/policy.md#<id>). */
  readonly id: string;
  readonly title: string;
  /** Whether the policy configures this rule; only configured rules are evaluated and reported. */
  readonly configured: (policy: Policy) => boolean;
  readonly evaluate: (ctx: RuleContext) => RuleVerdict;
}
