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
  const byCve = new Map<string, { advisory: Advisory; affected: Affected[] }>();
  for (const [source, cves] of Object.entries(doc)) {
    if (!isObject(cves)) continue;
    for (const [cve, data] of Object.entries(cves)) {
      if (!isObject(data) || !isObject(data.releases)) continue;
      let entry = byCve.get(cve);
      if (!entry) {
        const description = typeof data.description === 'string' ? data.description.slice(0, 500) : undefined;
        entry = {
          advisory: {
            id: cve,
            source: 'debian-tracker',
            modified,
            aliases: [],
            severity: [],
            ...(description ? { summary: description } : {}),
          },
          affected: [],
        };
        byCve.set(cve, entry);
      }
      for (const [release, facts] of Object.entries(data.releases)) {
        const number = DEBIAN_RELEASES[release];
        if (!number || !isObject(facts)) continue;
        const rec = trackerRecord(`Debian:${number}`, source, cve, facts);
        if (rec) entry.affected.push(rec);
      }
    }
  }
  yield* byCve.values();
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
