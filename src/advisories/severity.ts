import type { Severity } from '../findings/finding.js';
import { lookup } from '../util/record.js';
import { scoreCvss } from './cvss.js';
import type { SeverityOf } from './match.js';
import type { Advisory, Affected } from './model.js';

const LABELS: Readonly<Record<string, Severity>> = {
  CRITICAL: 'critical',
  HIGH: 'high',
  MODERATE: 'medium',
  MEDIUM: 'medium',
  LOW: 'low',
};

/** Debian urgencies as severities when no CVSS vector is known ("not yet assigned" stays unknown). */
const URGENCY: Readonly<Record<string, Severity>> = { high: 'high', medium: 'medium', low: 'low', unimportant: 'low' };

/**
 * The severity of an advisory: the highest CVSS score among its vectors (3.x preferred over 4.0 when both exist,
 * as most policies are written against 3.x), else the source's label, else the distribution's urgency.
 */
export const severityOf: SeverityOf = (advisory: Advisory, entry: Affected) => {
  const cvss: { version: string; vector: string; score: number; severity: Severity }[] = [];
  for (const s of advisory.severity) {
    if (!s.type.startsWith('CVSS')) continue;
    const r = scoreCvss(s.score);
    if ('error' in r) continue;
    cvss.push({
      version: r.version,
      vector: s.score,
      score: r.score,
      severity: r.severity === 'none' ? 'info' : r.severity,
    });
  }
  const v3 = cvss.filter((c) => c.version.startsWith('3'));
  const pick = (v3.length ? v3 : cvss).sort((a, b) => b.score - a.score)[0];
  const evidence = cvss.map(({ version, vector, score }) => ({ version, vector, score }));
  if (pick) return { severity: pick.severity, cvss: evidence };
  const label = advisory.severityLabel ? LABELS[advisory.severityLabel.toUpperCase()] : undefined;
  if (label) return { severity: label };
  const urgency = entry.urgency ? lookup(URGENCY, entry.urgency.replace(/\*+$/, '')) : undefined;
  return { severity: urgency ?? 'unknown' };
};
