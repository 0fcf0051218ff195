import type { Finding } from '../findings/finding.js';
import { globMatch } from '../policy/match.js';
import type { IgnoreEntry } from './config.js';

/** Findings with the ignored ones marked, and what the user should hear about the entries. */
export interface IgnoreOutcome {
  readonly findings: Finding[];
  /** Expired entries (which no longer apply) and entries that matched nothing. */
  readonly notes: string[];
}

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function applies(e: IgnoreEntry, f: Finding): boolean {
  const ids = [f.ruleId, ...(f.vulnerability?.aliases ?? [])];
  if (!ids.some((id) => globMatch(e.id, id))) return false;
  const loc = f.location;
  if (e.lines) {
    return (
      loc.kind === 'file' &&
      loc.path === e.lines.path &&
      loc.line !== undefined &&
      loc.line >= e.lines.line &&
      loc.line <= e.lines.endLine
    );
  }
  if (e.paths) {
    const path = loc.kind === 'file' ? loc.path : loc.path;
    return path !== undefined && e.paths.some((p) => p.test(path));
  }
  return true;
}

/**
 * Mark the findings an ignore entry covers as suppressed, citing the entry and its reason. An expired entry does not
 * apply: its findings stay active and the entry is reported, so silencing cannot outlive its reason unnoticed.
 * Findings already suppressed (VEX) keep their suppression. Pure: `now` is passed in.
 */
export function applyIgnores(findings: readonly Finding[], entries: readonly IgnoreEntry[], now: Date): IgnoreOutcome {
  const live = entries.filter((e) => e.expiresAt === undefined || now.getTime() < e.expiresAt);
  const used = new Set<IgnoreEntry>();
  const out = findings.map((f) => {
    if (f.suppression) return f;
    const e = live.find((entry) => applies(entry, f));
    if (!e) return f;
    used.add(e);
    return {
      ...f,
      suppression: { kind: 'ignore' as const, status: 'ignored', justification: e.reason, source: e.source },
    };
  });
  const notes: string[] = [];
  for (const e of entries) {
    if (e.expiresAt !== undefined && now.getTime() >= e.expiresAt) {
      const would = findings.filter((f) => applies(e, f)).length;
      notes.push(
        `${e.source}: the ignore entry for ${e.id} expired on ${dayOf(e.expiresAt)} and no longer applies${would ? ` (${would} finding${would === 1 ? '' : 's'} reported again)` : ''}`,
      );
    } else if (!used.has(e)) {
      notes.push(`${e.source}: the ignore entry for ${e.id} matched no finding`);
    }
  }
  return { findings: out, notes };
}
