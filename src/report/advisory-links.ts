/**
 * Where people read about an advisory id, for reporters. The store keeps no references of its own, so links are
 * derived from the id: every id OSV carries has a page at osv.dev (ref: osv.dev/docs, "vulnerability/{id}").
 */

/** A publisher of advisory ids and the page for one id. */
export interface AdvisorySource {
  readonly name: string;
  readonly url: string;
}

const enc = encodeURIComponent;

/** The page osv.dev keeps for an id (CVE, GHSA, PYSEC, GO, DEBIAN, ... all resolve). */
export function osvUrl(id: string): string {
  return `https://osv.dev/vulnerability/${enc(id)}`;
}

/** The publisher of an id and its page there: NVD for CVE, GitHub for GHSA, otherwise OSV. */
export function idSource(id: string): AdvisorySource {
  if (/^CVE-\d{4}-\d+$/.test(id)) return { name: 'NVD', url: `https://nvd.nist.gov/vuln/detail/${enc(id)}` };
  if (/^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$/.test(id))
    return { name: 'GitHub', url: `https://github.com/advisories/${enc(id)}` };
  return { name: 'OSV', url: osvUrl(id) };
}

/**
 * Pages for a vulnerability: each id's publisher, osv.dev, and the Debian tracker for CVEs matched in a Debian
 * ecosystem. Deduplicated, in a stable order.
 */
export function advisoryUrls(ids: readonly string[], ecosystem?: string): string[] {
  const out = new Set<string>();
  for (const id of ids) out.add(idSource(id).url);
  for (const id of ids) out.add(osvUrl(id));
  if (ecosystem?.startsWith('Debian'))
    for (const id of ids) if (id.startsWith('CVE-')) out.add(`https://security-tracker.debian.org/tracker/${enc(id)}`);
  return [...out];
}
