/**
 * The gate's data: what one assessment found (per platform), the assessment predicate it attests, and the decision
 * record it writes. Plain data, so the record and the predicate are the same facts seen twice.
 */
import type { Finding } from '../findings/finding.js';
import type { Inventory } from '../inventory/image.js';
import type { Decision, SettingsUsed } from '../policy/model.js';
import type { decisionJson } from '../report/policy-decision.js';

/** The steps of a gate run, in order; a test pause or a progress line names one of them. */
export const GATE_STEPS = ['resolve', 'assess', 'copy', 'sign', 'attest', 'tag', 'record'] as const;
export type GateStep = (typeof GATE_STEPS)[number];

/** One platform's assessment: its inventory, every finding after VEX (suppressed ones marked) and its decision. */
export interface PlatformAssessment {
  readonly inv: Inventory;
  readonly findings: readonly Finding[];
  readonly decision: Decision;
}

/** The assessment of one digest: PASS only when every platform's decision passes. */
export interface Assessment {
  readonly pass: boolean;
  readonly platforms: readonly PlatformAssessment[];
  readonly database: { readonly path: string; readonly updated: string | null };
}

/** Findings counted by severity (active ones), and how many VEX suppressed. */
export interface FindingCounts {
  readonly total: number;
  readonly critical: number;
  readonly high: number;
  readonly medium: number;
  readonly low: number;
  readonly info: number;
  readonly unknown: number;
  readonly suppressed: number;
}

/** One vulnerability as the predicate lists it. */
export interface VulnerabilitySummary {
  readonly id: string;
  readonly severity: string;
  readonly package: string;
  readonly version: string;
  readonly purl: string;
  readonly fixedVersions: readonly string[];
  /** The VEX statement that suppresses it, when one does. */
  readonly suppressedBy?: string;
}

/** The predicate of the assessment attestation (`https://portcullis.dev/attestation/assessment/v1`). */
export interface AssessmentPredicate {
  readonly decision: 'PASS' | 'FAIL';
  readonly subject: { readonly source: string; readonly digest: string; readonly mediaType: string };
  readonly policy: { readonly name: string; readonly file: string; readonly digest: string };
  /** The misconfiguration and secret check settings the decision was made with (`--checks-config`), or the defaults. */
  readonly checkSettings: SettingsUsed;
  readonly assessedAt: string;
  readonly tool: { readonly name: string; readonly version: string };
  readonly database: { readonly updated: string | null };
  readonly findings: FindingCounts;
  readonly platforms: readonly {
    readonly platform: string;
    readonly digest: string;
    readonly decision: ReturnType<typeof decisionJson>;
    readonly findings: FindingCounts;
    readonly vulnerabilities: readonly VulnerabilitySummary[];
  }[];
}

/** What the promotion wrote, for the record and the summary. */
export interface Promotion {
  readonly copied: {
    readonly blobs: number;
    readonly mounted: number;
    readonly present: number;
    readonly bytes: number;
  };
  readonly manifestsPushed: number;
  /** The `.sig` tag, and whether this run added the signature (false: it was there). */
  readonly signature: { readonly tag: string; readonly added: boolean };
  readonly attestations: { readonly tag: string; readonly types: readonly string[] };
}

/** How a gate run ended. */
export type GateOutcome = 'promoted' | 'already-promoted' | 'failed';

/** Everything a run knows at its end: the record and the summary are built from this. */
export interface GateResult {
  readonly outcome: GateOutcome;
  /** The source as given (credential-free). */
  readonly source: string;
  readonly digest: string;
  readonly mediaType: string;
  /** `host/repository` of production. */
  readonly destination: string;
  readonly tag: string;
  readonly predicate: AssessmentPredicate;
  readonly assessment?: Assessment;
  /** Already promoted: when the assessment attested in production was made (this run's is `predicate`). */
  readonly attestedAt?: string;
  /** FAIL: production's tag named this digest when the run began (promoted earlier; the gate removes nothing). */
  readonly inProduction?: boolean;
  readonly promotion?: Promotion;
  readonly time: string;
}
