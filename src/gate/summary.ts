import { decisionTable } from '../report/policy-decision.js';
import { PREDICATE_TYPES } from '../sign/attestation.js';
import type { GateResult } from './model.js';

function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** `assessment` for the assessment predicate type, and so on; other types as they are. */
function shortType(uri: string): string {
  return Object.entries(PREDICATE_TYPES).find(([, u]) => u === uri)?.[0] ?? uri;
}

/** The readable summary of a gate run, for stdout. Pure. */
export function gateSummary(r: GateResult): string {
  const lines = [`Source:      ${r.source} (${r.digest})`, `Production:  ${r.destination}:${r.tag}`, ''];
  if (r.assessment) {
    const several = r.assessment.platforms.length > 1;
    for (const p of r.assessment.platforms) {
      if (several) {
        const pl = r.predicate.platforms.find((x) => x.digest === p.inv.subject.digest);
        lines.push(`Platform ${pl?.platform ?? 'unknown'} (${p.inv.subject.digest ?? 'unknown digest'})`);
      }
      lines.push(decisionTable(p.decision).trimEnd(), '');
    }
  }
  const f = r.predicate.findings;
  lines.push(
    `Findings:    ${f.total} (critical ${f.critical}, high ${f.high}, medium ${f.medium}, low ${f.low}, info ${f.info}, unknown ${f.unknown}); suppressed by VEX ${f.suppressed}`,
  );
  switch (r.outcome) {
    case 'failed':
      lines.push(
        r.inProduction
          ? `Gate: FAIL: nothing was written to production, but ${r.destination}:${r.tag} still names ${r.digest} from an earlier promotion: quarantine it or move the tag`
          : 'Gate: FAIL: nothing was written to production',
      );
      break;
    case 'already-promoted':
      lines.push(
        `Gate: PASS, already promoted: ${r.destination}:${r.tag} names ${r.digest}, signed and attested under policy ${r.predicate.policy.name} (attested assessment of ${r.attestedAt ?? 'unknown time'}; assessed again now); nothing written`,
      );
      break;
    case 'promoted': {
      const p = r.promotion;
      if (p) {
        const c = p.copied;
        lines.push(
          `Copied:      ${c.blobs} blob${c.blobs === 1 ? '' : 's'} (${bytes(c.bytes)}), ${c.mounted} mounted, ${c.present} already there; ${p.manifestsPushed} manifest${p.manifestsPushed === 1 ? '' : 's'} pushed`,
          `Signed:      ${r.destination}:${p.signature.tag}${p.signature.added ? '' : ' (the signature was already there)'}`,
          `Attested:    ${p.attestations.types.map(shortType).join(', ')} in ${r.destination}:${p.attestations.tag}`,
          `Tagged:      ${r.destination}:${r.tag} -> ${r.digest}`,
        );
      }
      lines.push('Gate: PASS, promoted');
      break;
    }
  }
  return `${lines.join('\n')}\n`;
}
