/**
 * Image checks (misconfigurations and secrets): the rule unit every check is, the inputs checks read, and the hits
 * they return. Checks are pure functions of their input; the engine (`engine.ts`) turns hits into Findings.
 */
import type { Finding, FindingKind, Severity } from '../findings/finding.js';
import type { FileTree } from '../image/filetree.js';
import type { Subject } from '../inventory/image.js';
import type { OsRelease, Package } from '../inventory/model.js';
import type { ImageConfig } from '../oci/manifest.js';
import type { SkippedRule } from '../policy/model.js';
import type { CheckSettings } from './settings.js';

/** What every rule declares, for reports, SARIF rule metadata, `portcullis rules` and the docs. */
export interface RuleMeta {
  /** Stable kebab-case id, used in policies, ignore files and inline comments. */
  readonly id: string;
  readonly kind: 'misconfiguration' | 'secret';
  readonly title: string;
  readonly severity: Severity;
  /** CIS Docker Benchmark recommendation (section 4), e.g. '4.1'. */
  readonly cis?: string;
  /** The Dockle check id users know, when there is one (CIS-DI-0001, DKL-DI-0005, ...). */
  readonly dockle?: string;
  /** Why it matters, one or two sentences. */
  readonly rationale: string;
  /** What to do about it, one or two sentences. */
  readonly remediation: string;
}

/** One build step: a Dockerfile instruction (with its lines) or an image history entry read as one. */
export interface Instruction {
  /** Upper-case keyword: FROM, RUN, ADD, COPY, USER, HEALTHCHECK, EXPOSE, ENV, LABEL, ... */
  readonly keyword: string;
  /** The arguments as written, line continuations joined, without the keyword. */
  readonly args: string;
  readonly source: 'dockerfile' | 'history';
  /** 1-based first and last line in the Dockerfile. */
  readonly line?: number;
  readonly endLine?: number;
  /** Build stage (0-based FROM index) in a Dockerfile; the last stage is the image. */
  readonly stage?: number;
  /** History entry index, and the layer it made when it made one. */
  readonly historyIndex?: number;
  readonly layer?: number;
  /** Flags of the instruction (`--chown=...`, `--from=...`), when the parser separates them. */
  readonly flags?: readonly string[];
}

/** The build steps a build rule reads, with what it needs to know about them. */
export interface BuildInput {
  readonly steps: readonly Instruction[];
  /** 'dockerfile' when a Dockerfile was given (all stages present), 'history' for an image's history. */
  readonly from: 'dockerfile' | 'history';
  /** The Dockerfile's path, for locations. */
  readonly path?: string;
  readonly settings: CheckSettings;
}

/** What an image rule reads: the config, the merged file tree (metadata of every path), the inventory. */
export interface ImageInput {
  readonly subject: Subject;
  readonly config: ImageConfig;
  readonly tree: FileTree;
  readonly os: OsRelease | undefined;
  readonly packages: readonly Package[];
  readonly settings: CheckSettings;
  readonly now: Date;
}

/** One problem a rule found. The engine adds the rule's metadata and the location's image or file. */
export interface RuleHit {
  readonly message: string;
  /** Path inside the image (no leading slash), when the hit is about a file. */
  readonly path?: string;
  readonly layer?: number;
  /** The build step the hit is about. */
  readonly step?: Instruction;
  /** Overrides the rule's severity for this hit (a weak password is worse than an unneeded tool). */
  readonly severity?: Severity;
}

/** A misconfiguration rule: a build-step check, an image check, or both. */
export interface MisconfigRule extends RuleMeta {
  readonly kind: 'misconfiguration';
  /** From the build steps (the Dockerfile when given, else the image history). */
  checkBuild?(input: BuildInput): RuleHit[];
  /** From the image itself: config, files, packages. */
  checkImage?(input: ImageInput): RuleHit[];
}

/** What the checks of one image return. */
export interface CheckResult {
  readonly findings: readonly Finding[];
  /** The kinds of checks that ran (misconfiguration, secret). */
  readonly checks: readonly FindingKind[];
  /** What they could not do (files not read, a base image not named, unreadable history). */
  readonly notes: readonly string[];
  /** Rules that had nothing to read on this image (build rules when its history holds no readable step). */
  readonly skipped?: readonly SkippedRule[];
}

/** A secret rule: literal keywords for the prefilter, and the pattern that confirms a match. */
export interface SecretRuleMeta extends RuleMeta {
  readonly kind: 'secret';
}

/** A secret found by the scanner (src/secrets), before it becomes a Finding. Never holds the secret in full. */
export interface SecretHit {
  readonly ruleId: string;
  /** Where it was: a file of some layer, the config's environment, labels or history, or a Dockerfile given. */
  readonly where: 'file' | 'env' | 'label' | 'history' | 'dockerfile';
  /** File path (no leading slash; a Dockerfile's as given), or the variable / label name, or the history index. */
  readonly path: string;
  readonly layer?: number;
  /** 1-based line in the file. */
  readonly line?: number;
  /** The match with most of the secret masked, e.g. `AKIA************MPLE`. */
  readonly redacted: string;
  /** True when a later layer deletes or replaces the file: still shipped in the image's layers. */
  readonly deleted?: boolean;
  /** 'medium' for a secret found by a variable's name or a generic shape rather than a format; default 'high'. */
  readonly confidence?: 'high' | 'medium' | 'low';
}
