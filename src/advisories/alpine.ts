import type { Advisory, Affected } from './model.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a JSON document is an Alpine secdb file (ref: secdb.alpinelinux.org): {distroversion, packages}. */
export function isAlpineSecdb(doc: unknown): doc is Json {
  return isObject(doc) && typeof doc.distroversion === 'string' && Array.isArray(doc.packages);
}

/**
 * Alpine's secfixes say "version V of origin package P fixes these CVEs". Each CVE becomes an advisory of source
 * alpine-secdb with one fixed range per (release, origin). A fix version of "0" means never affected.
 */
export function* parseAlpineSecdb(
  doc: Json,
  modified: string,
): Generator<{ advisory: Advisory; affected: Affected[] }> {
  const release = /^v?(\d+\.\d+)/.exec(String(doc.distroversion))?.[1];
  if (!release) return;
  const ecosystem = `Alpine:v${release}`;
  const byCve = new Map<string, Affected[]>();
  for (const p of doc.packages as unknown[]) {
    if (!isObject(p) || !isObject(p.pkg)) continue;
    const name = p.pkg.name;
    const fixes = p.pkg.secfixes;
    if (typeof name !== 'string' || !isObject(fixes)) continue;
    for (const [version, ids] of Object.entries(fixes)) {
      if (!Array.isArray(ids)) continue;
      for (const raw of ids) {
        // Entries look like "CVE-2021-1234" or "CVE-2021-1234 GHSA-xxxx" (aliases on one line). Anything else is
        // skipped unread: String() of an array nested 100k deep overflows the stack.
        if (typeof raw !== 'string') continue;
        const [id] = raw.trim().split(/\s+/);
        if (!id || !/^[A-Z]+-[\w-]+$/.test(id)) continue;
        const list = byCve.get(id) ?? [];
        list.push({
          ecosystem,
          package: name,
          advisoryId: id,
          ranges: version === '0' ? [] : [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: version }] }],
          versions: [],
          status: version === '0' ? 'not-affected' : 'fixed',
        });
        byCve.set(id, list);
      }
    }
  }
  // main and community are separate files holding the same CVE ids: one source each, so neither replaces the other.
  const source = `alpine-secdb/v${release}/${typeof doc.reponame === 'string' ? doc.reponame : 'main'}`;
  for (const [id, affected] of byCve) yield { advisory: { id, source, modified, aliases: [], severity: [] }, affected };
}
