/**
 * The CI rule unit: metadata for reports, SARIF and docs/rules.md, and a pure check of one workflow (or action)
 * with the repository around it. audit.ts turns hits into Findings.
 */
import type { Severity } from '../findings/finding.js';
import type { CiAuditConfig } from './config.js';
import type { RepoIndex } from './github/reach.js';
import type { Located, Platform, Pos, Workflow } from './model.js';

export type Confidence = 'high' | 'medium' | 'low';

export interface CiRule {
  /** The id the field knows (zizmor's audit names where they exist). */
  readonly id: string;
  readonly title: string;
  /** The severity of the worst case; hits say when theirs is lower. */
  readonly severity: Severity;
  readonly confidence: Confidence;
  /** Why it matters, one or two sentences. */
  readonly rationale: string;
  /** What to do about it, one or two sentences. */
  readonly remediation: string;
  check(w: Workflow, ctx: RuleContext): CiHit[];
  /** The platforms the rule applies to; undefined: every platform the model holds. */
  readonly platforms?: readonly Platform[];
  /** Why the rule cannot run with this configuration (it is then listed as not checked), or undefined. */
  notChecked?(config: CiAuditConfig): string | undefined;
}

export interface RuleContext {
  readonly repo: RepoIndex;
  readonly config: CiAuditConfig;
  /** Record something the rule could not decide and did not report (listed in the report's notes). */
  note(pos: Pos, message: string): void;
}

export interface CiHit {
  readonly message: string;
  readonly pos: Pos;
  /** The job it is about, for the configuration's `ignore` entries. */
  readonly job?: string;
  readonly severity?: Severity;
  readonly confidence?: Confidence;
}

/** Where, in the file, the text at `offset` of a string value is (exact for `run: |` literal blocks). */
export function posIn(l: Located, offset: number): Pos {
  if (l.bodyLine === undefined) return l.pos;
  // The newlines before `offset`: a binary search in the value's newline offsets (found once per value).
  const nl = newlines(l.value);
  let lo = 0;
  let hi = nl.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((nl[mid] as number) < offset) lo = mid + 1;
    else hi = mid;
  }
  const line = l.bodyLine + lo;
  const last = lo > 0 ? (nl[lo - 1] as number) : -1;
  return line === l.pos.line ? l.pos : { line, column: offset - last, ...(l.pos.file ? { file: l.pos.file } : {}) };
}

let newlinesOf = { text: '', at: [] as number[] };

/** Offsets of the newlines in `text` (the last text asked for is kept: callers ask about one script at a time). */
function newlines(text: string): readonly number[] {
  if (newlinesOf.text !== text) {
    const at: number[] = [];
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) at.push(i);
    newlinesOf = { text, at };
  }
  return newlinesOf.at;
}

/** The owner/repo of a remote `uses:` (lower-cased), or undefined for local and docker uses. */
export function usesRepo(uses: string): string | undefined {
  if (uses.startsWith('./') || uses.startsWith('docker://')) return undefined;
  const m = /^([^/@\s]+)\/([^/@\s]+)/.exec(uses);
  return m ? `${m[1]}/${m[2]}`.toLowerCase() : undefined;
}

/** Actions maintained by GitHub itself. */
export function firstParty(uses: string): boolean {
  return /^(actions|github)\//i.test(uses);
}

/** A write to the files GitHub reads between steps: `>> $GITHUB_ENV`, `| tee -a "$GITHUB_PATH"`. */
export const ENV_WRITE = /(?:>>?|\btee\b(?:\s+-a|\s+--append)?)\s*"?\$\{?(GITHUB_ENV|GITHUB_PATH)\b/;

/** A script with line continuations joined, with a map back to offsets in the original. */
export function scriptLines(script: string): { text: string; offset: number }[] {
  const out: { text: string; offset: number }[] = [];
  let start = 0;
  let buf = '';
  let bufStart = 0;
  const lines = script.split('\n');
  for (const raw of lines) {
    if (buf === '') bufStart = start;
    if (/\\\s*$/.test(raw)) buf += `${raw.replace(/\\\s*$/, '')} `;
    else {
      out.push({ text: buf + raw, offset: bufStart });
      buf = '';
    }
    start += raw.length + 1;
  }
  if (buf) out.push({ text: buf, offset: bufStart });
  return out;
}
