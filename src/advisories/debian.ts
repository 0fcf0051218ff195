import { lookup } from '../util/record.js';
import type { Advisory, Affected, AffectedStatus } from './model.js';

/** Debian release code names and their numbers, as the tracker names them. */
export const DEBIAN_RELEASES: Readonly<Record<string, string>> = {
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
};

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a JSON document has the shape of the tracker's /tracker/data/json: {source: {CVE: {releases}}}. */
export function isDebianTracker(doc: unknown): doc is Json {
  if (!isObject(doc)) return false;
  // The first few sources decide; for-in stops there, where Object.entries would list a 100k-key document whole.
  let seen = 0;
  for (const source in doc) {
    if (++seen > 5) break;
    const cves = doc[source];
    if (!isObject(cves)) return false;
    for (const cve in cves) {
      const first = cves[cve];
      if (!/^(CVE|TEMP)-/.test(cve) || !isObject(first) || !isObject(first.releases)) return false;
      break;
    }
  }
  return seen > 0;
}

/**
 * Turn the tracker's per-release facts into records (ref: security-tracker bin/tracker_service.py): `resolved`
 * with fixed_version "0" is not-affected; `resolved` with a version is fixed there; `open` affects every version;
 * urgency `end-of-life` means no support; a no-DSA reason of `<ignored>` means the team will not fix it.
 */
export function* parseDebianTracker(
  doc: Json,
  modified: string,
): Generator<{ advisory: Advisory; affected: Affected[] }> {
  // Where each CVE is mentioned, in document order; its record is made only when it is yielded, so the records of
  // 30k CVEs are never all alive at once.
  const byCve = new Map<string, [source: string, data: Json][]>();
  for (const [source, cves] of Object.entries(doc)) {
    if (!isObject(cves)) continue;
    for (const [cve, data] of Object.entries(cves)) {
      if (!isObject(data) || !isObject(data.releases)) continue;
      const seen = byCve.get(cve);
      if (seen) seen.push([source, data]);
      else byCve.set(cve, [[source, data]]);
    }
  }
  for (const [cve, mentions] of byCve) {
    const first = mentions[0]?.[1];
    const description = typeof first?.description === 'string' ? first.description.slice(0, 500) : undefined;
    const advisory: Advisory = {
      id: cve,
      source: 'debian-tracker',
      modified,
      aliases: [],
      severity: [],
      ...(description ? { summary: description } : {}),
    };
    const affected: Affected[] = [];
    for (const [source, data] of mentions) {
      for (const [release, facts] of Object.entries(data.releases as Json)) {
        const number = lookup(DEBIAN_RELEASES, release);
        if (!number || !isObject(facts)) continue;
        const rec = trackerRecord(`Debian:${number}`, source, cve, facts);
        if (rec) affected.push(rec);
      }
    }
    yield { advisory, affected };
  }
}

function trackerRecord(ecosystem: string, pkg: string, cve: string, f: Json): Affected | undefined {
  const status = typeof f.status === 'string' ? f.status : undefined;
  const fixed = typeof f.fixed_version === 'string' ? f.fixed_version : undefined;
  const urgency = typeof f.urgency === 'string' ? f.urgency : undefined;
  const noDsaReason = typeof f.nodsa_reason === 'string' ? f.nodsa_reason : undefined;
  const noDsa = typeof f.nodsa === 'string' ? (noDsaReason ?? '<no-dsa>') : noDsaReason;
  let s: AffectedStatus;
  let ranges: Affected['ranges'] = [];
  if (status === 'resolved' && fixed === '0') s = 'not-affected';
  else if (status === 'resolved' && fixed) {
    s = 'fixed';
    ranges = [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }];
  } else if (status === 'open' || status === 'undetermined') {
    s = status === 'open' ? 'open' : 'undetermined';
    ranges = [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }];
  } else return undefined;
  if (urgency === 'end-of-life') s = 'end-of-life';
  else if (s === 'open' && noDsa === '<ignored>') s = 'will-not-fix';
  return {
    ecosystem,
    package: pkg,
    advisoryId: cve,
    ranges,
    versions: [],
    status: s,
    ...(urgency ? { urgency } : {}),
    ...(noDsa ? { noDsa } : {}),
  };
}
