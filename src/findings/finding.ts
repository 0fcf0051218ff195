/**
 * One Finding shape for every area (vulnerabilities now; misconfigurations, secrets, posture, CI and Kubernetes
 * checks later), so one set of reporters serves all. ref: ../shared/DESIGN.md "One Finding shape".
 */
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info' | 'unknown';
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info', 'unknown'];

/** Rank for sorting and thresholds: critical highest; unknown sorts below info but is never dropped silently. */
export function severityRank(s: Severity): number {
  return { critical: 5, high: 4, medium: 3, low: 2, info: 1, unknown: 0 }[s];
}

export type FindingKind = 'vulnerability' | 'misconfiguration' | 'secret' | 'posture' | 'ci' | 'kubernetes';

/** Where a finding is: in an image (digest, layer, path), a file (line, column), or a registry (host, API path). */
export type FindingLocation =
  | {
      readonly kind: 'image';
      readonly image: string;
      readonly layer?: number;
      readonly layerDiffId?: string;
      readonly path?: string;
    }
  | { readonly kind: 'file'; readonly path: string; readonly line?: number; readonly column?: number }
  | { readonly kind: 'registry'; readonly host: string; readonly path?: string };

/** What a vulnerability finding adds: the package, versions, status and the sources that say so. */
export interface VulnerabilityEvidence {
  readonly package: { readonly name: string; readonly version: string; readonly purl: string; readonly type: string };
  /** The name and version the advisory speaks of (the source package for distributions). */
  readonly matched: { readonly ecosystem: string; readonly name: string; readonly version: string };
  readonly aliases: readonly string[];
  readonly fixedVersions: readonly string[];
  /** fixed: a fix exists; not-fixed: none yet; will-not-fix; end-of-life; undetermined. */
  readonly status: 'fixed' | 'not-fixed' | 'will-not-fix' | 'end-of-life' | 'undetermined';
  readonly urgency?: string;
  readonly noDsa?: string;
  readonly cvss?: readonly { readonly version: string; readonly vector: string; readonly score: number }[];
  readonly sources: readonly string[];
  readonly published?: string;
}

export interface Finding {
  /** The rule's id; for advisories, the advisory id (CVE when there is one). */
  readonly ruleId: string;
  readonly kind: FindingKind;
  readonly severity: Severity;
  readonly confidence: 'high' | 'medium' | 'low';
  readonly title: string;
  /** One line that says what and where. */
  readonly message: string;
  readonly location: FindingLocation;
  readonly fix?: { readonly text: string };
  readonly vulnerability?: VulnerabilityEvidence;
  /** For Kubernetes findings: the object it is about. */
  readonly resource?: ResourceRef;
  /** Set when a statement (VEX, an exception) says the finding does not apply; reporters show it as suppressed. */
  readonly suppression?: Suppression;
}

/** A Kubernetes object, as `kubectl get KIND NAME -n NAMESPACE` names it. */
export interface ResourceRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

/** Why a finding is suppressed, citing the statement that says so. */
export interface Suppression {
  /** vex: an OpenVEX or CycloneDX VEX statement; exception: a policy exception; ignore: an ignore-file entry or an
   * inline Dockerfile comment. */
  readonly kind: 'vex' | 'exception' | 'ignore';
  /** not_affected, fixed, ... as the statement says it. */
  readonly status: string;
  /** The statement's justification or reason, verbatim. */
  readonly justification?: string;
  /** Where the statement is: file path, and the document's @id / serialNumber and statement index. */
  readonly source: string;
}

/**
 * Sort file findings for reports: by path, line and column, then by the rule's place in its registry (`order`), then
 * by message. Findings without a file location sort first. Sorts in place and returns the array.
 */
export function sortByFile(findings: Finding[], order: ReadonlyMap<string, number>): Finding[] {
  const key = (f: Finding) =>
    f.location.kind === 'file'
      ? ([f.location.path, f.location.line ?? 0, f.location.column ?? 0] as const)
      : (['', 0, 0] as const);
  return findings.sort((a, b) => {
    const [pa, la, ca] = key(a);
    const [pb, lb, cb] = key(b);
    return (
      (pa < pb ? -1 : pa > pb ? 1 : 0) ||
      la - lb ||
      ca - cb ||
      (order.get(a.ruleId) ?? 0) - (order.get(b.ruleId) ?? 0) ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0)
    );
  });
}
