import type { Severity } from '../findings/finding.js';
import type { AuditFacts } from './facts.js';

/** How one rule judged the facts: passed, failed (with what and where), or could not be judged (and why). */
export type Verdict =
  | { readonly result: 'pass' }
  | { readonly result: 'fail'; readonly message: string; readonly path?: string; readonly severity?: Severity }
  | { readonly result: 'not-checked'; readonly reason: string };

/** What verdicts read besides the facts: the clock and the expiry horizon. */
export interface AuditContext {
  readonly now: Date;
  /** A certificate expiring within this many milliseconds is reported (`--expiry-warning`, 30 days). */
  readonly expiryWarningMs: number;
}

/** A registry posture rule: its metadata for reports, SARIF and the docs, and a pure verdict. */
export interface PostureRule {
  readonly id: string;
  readonly kind: 'posture';
  readonly title: string;
  readonly severity: Severity;
  readonly rationale: string;
  readonly remediation: string;
  readonly evaluate: (facts: AuditFacts, ctx: AuditContext) => Verdict;
}

export const PASS: Verdict = { result: 'pass' };

export function notChecked(reason: string): Verdict {
  return { result: 'not-checked', reason };
}
