import type { Advisory, Affected, AffectedRange, AffectedStatus, RangeEvent, Severity } from './model.js';
import { normalizePackageName } from './names.js';

/** A parse result: the records of one OSV document, or why it was refused. */
export type OsvParse =
  | { readonly ok: true; readonly advisory: Advisory; readonly affected: readonly Affected[] }
  | { readonly ok: false; readonly reason: string };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

const MAX_AFFECTED = 10_000;
/** Most aliases and upstream ids one record may name (the largest Debian notices fix a few hundred CVEs). */
const MAX_IDS = 5_000;
const MAX_EVENTS = 10_000;
const MAX_VERSIONS = 100_000;

function parseEvents(v: unknown): RangeEvent[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_EVENTS) return undefined;
  const out: RangeEvent[] = [];
  for (const e of v) {
    if (!isObject(e)) return undefined;
    const intro = str(e.introduced);
    const fixed = str(e.fixed);
    const last = str(e.last_affected);
    const limit = str(e.limit);
    if (intro !== undefined) out.push({ introduced: intro });
    else if (fixed !== undefined) out.push({ fixed });
    else if (last !== undefined) out.push({ last_affected: last });
    else if (limit !== undefined) out.push({ limit });
    else return undefined;
  }
  return out;
}

/** Debian's tracker statuses as the shared OSV export carries them in database_specific. */
function debianStatus(db: Json | undefined, ranges: readonly AffectedRange[]): AffectedStatus | undefined {
  const s = str(db?.status);
  const urgency = str(db?.urgency);
  if (urgency === 'end-of-life') return 'end-of-life';
  if (s === 'resolved') return db?.fixed_version === '0' ? 'not-affected' : 'fixed';
  if (s === 'open') return 'open';
  if (s === 'undetermined') return 'undetermined';
  return ranges.some((r) => r.events.some((e) => 'fixed' in e)) ? 'fixed' : undefined;
}

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string' && a.length > 0) : [];

/**
 * A value that is no range type, for the message: a string or other scalar as it is, an array or object by its kind
 * (String() of a hostile array nested 100k deep recurses until the stack overflows).
 */
function typeName(v: unknown): string {
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? '(an array)' : '(an object)';
  return String(v).slice(0, 20);
}

/** Debian's fix advisories: security (DSA), long-term support (DLA), testing (DTSA). */
const DEBIAN_FIX_ADVISORY = /^(?:DSA|DLA|DTSA)-/;
const CVE_ID = /^CVE-\d{4}-\d+$/;

/**
 * The ids of the records this one addresses (OSV 1.7 `upstream`): CVE-X is upstream of DEBIAN-CVE-X, of UBUNTU-CVE-X,
 * and of the DSA or USN that fixes it. The matcher makes a distribution's record of a CVE part of the CVE's finding,
 * and a notice fixing several CVEs part of each one's finding (never one more finding beside them). Debian's DSA, DLA
 * and DTSA records written before the field existed list the CVEs they fix under `related`; for those (and only
 * those) the CVEs there are read the same.
 */
function upstreamOf(id: string, doc: Json): string[] {
  // Each once: a notice listing a CVE twice fixes it once.
  const ids = Array.isArray(doc.upstream)
    ? strings(doc.upstream)
    : DEBIAN_FIX_ADVISORY.test(id)
      ? strings(doc.related).filter((r) => CVE_ID.test(r))
      : [];
  return [...new Set(ids)];
}

/**
 * Parse one OSV JSON document (ref: OSV schema 1.6). Pure: returns the advisory and its affected packages, or a
 * one-line reason it was refused (malformed records are reported by the importer, never crash it).
 */
export function parseOsv(doc: unknown): OsvParse {
  if (!isObject(doc)) return { ok: false, reason: 'not a JSON object' };
  const id = str(doc.id);
  if (!id || id.length > 200) return { ok: false, reason: 'no valid id' };
  const modified = str(doc.modified);
  if (!modified) return { ok: false, reason: `${id}: no modified time` };
  const aliases = strings(doc.aliases);
  const upstream = upstreamOf(id, doc);
  if (aliases.length + upstream.length > MAX_IDS)
    return { ok: false, reason: `${id}: more than ${MAX_IDS} aliases and upstream ids` };
  const severity: Severity[] = [];
  if (Array.isArray(doc.severity)) {
    for (const s of doc.severity) {
      if (isObject(s) && str(s.type) && str(s.score))
        severity.push({ type: s.type as string, score: s.score as string });
    }
  }
  const dbs = isObject(doc.database_specific) ? doc.database_specific : undefined;
  const label = str(dbs?.severity);
  const advisory: Advisory = {
    id,
    // osv/GHSA, osv/PYSEC, osv/GO, osv/CVE (osv.dev's Debian records), ...: one source per database.
    source: `osv/${id.split('-')[0]}`,
    modified,
    ...(str(doc.published) ? { published: doc.published as string } : {}),
    ...(str(doc.withdrawn) ? { withdrawn: doc.withdrawn as string } : {}),
    aliases,
    ...(upstream.length ? { upstream } : {}),
    ...(str(doc.summary) ? { summary: (doc.summary as string).slice(0, 500) } : {}),
    severity,
    ...(label ? { severityLabel: label } : {}),
  };
  const affected: Affected[] = [];
  const list = doc.affected ?? [];
  if (!Array.isArray(list) || list.length > MAX_AFFECTED)
    return { ok: false, reason: `${id}: 'affected' is not a list` };
  for (const [i, a] of list.entries()) {
    if (!isObject(a) || !isObject(a.package)) return { ok: false, reason: `${id}: affected[${i}] has no package` };
    const ecosystem = str(a.package.ecosystem);
    const name = str(a.package.name);
    if (!ecosystem || !name) return { ok: false, reason: `${id}: affected[${i}] lacks ecosystem or name` };
    const ranges: AffectedRange[] = [];
    for (const [j, r] of (Array.isArray(a.ranges) ? a.ranges : []).entries()) {
      if (!isObject(r)) return { ok: false, reason: `${id}: affected[${i}].ranges[${j}] is not an object` };
      const type = r.type;
      if (type !== 'ECOSYSTEM' && type !== 'SEMVER' && type !== 'GIT') {
        return {
          ok: false,
          reason: `${id}: affected[${i}].ranges[${j}] has unknown type ${typeName(type)}`,
        };
      }
      const events = parseEvents(r.events);
      if (!events) return { ok: false, reason: `${id}: affected[${i}].ranges[${j}] has malformed events` };
      ranges.push({ type, events });
    }
    const versions = Array.isArray(a.versions) ? a.versions.filter((v): v is string => typeof v === 'string') : [];
    if (versions.length > MAX_VERSIONS) return { ok: false, reason: `${id}: affected[${i}] lists too many versions` };
    const db = isObject(a.database_specific) ? a.database_specific : undefined;
    const eco = isObject(a.ecosystem_specific) ? a.ecosystem_specific : undefined;
    const urgency = str(db?.urgency) ?? str(eco?.urgency);
    const status = ecosystem.startsWith('Debian') ? debianStatus(db, ranges) : undefined;
    affected.push({
      ecosystem,
      package: normalizePackageName(ecosystem, name),
      advisoryId: id,
      ranges,
      versions,
      ...(status ? { status } : {}),
      ...(urgency ? { urgency } : {}),
    });
  }
  return { ok: true, advisory, affected };
}
