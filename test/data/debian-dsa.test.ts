import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { matchInventory } from '../../src/advisories/match.js';
import { severityOf } from '../../src/advisories/severity.js';
import { SCHEME_CHOOSER } from '../../src/advisories/versions/index.js';
import type { Inventory } from '../../src/inventory/image.js';
import type { Package } from '../../src/inventory/model.js';
import { AdvisoryDb } from '../../src/store/advisorydb.js';
import { runCli } from '../helpers/cli.js';
import { advisoryData } from '../helpers/paths.js';

interface Dsa {
  id: string;
  related?: string[];
  affected: { package: { ecosystem: string; name: string }; ranges?: { events: Record<string, string>[] }[] }[];
}

/** The aliases osv.dev's Debian record of a CVE gives it (none when there is no such record). */
function ownAliases(data: string, cve: string): Set<string> {
  const file = join(data, 'osv', `${cve}.json`);
  if (!existsSync(file)) return new Set();
  return new Set((JSON.parse(readFileSync(file, 'utf8')) as { aliases?: string[] }).aliases ?? []);
}

/**
 * Every Debian Security Advisory of the data set (osv.dev's copy: each lists the CVEs it fixes as `related`), matched
 * with the tracker's and osv.dev's records of those CVEs for a package just older than the DSA's fix (its fixed
 * version with `~` appended, which dpkg orders just before it). A DSA is the fix of its CVEs, not a vulnerability of
 * its own: it must join each CVE's finding as an alias, and never be reported beside them.
 */
describe('Debian Security Advisories against the tracker and the CVE records', () => {
  it('reports the CVEs a DSA fixes, each once, the DSA an alias of each, never as a finding of its own', async () => {
    const data = join(advisoryData(), 'debian-12');
    const dir = mkdtempSync(join(tmpdir(), 'debian-dsa-'));
    try {
      const dbPath = join(dir, 'debian.db');
      expect((await runCli(['db', 'import', data, '--db', dbPath, '-q'])).code).toBe(0);
      const dsas = readdirSync(join(data, 'dsa'))
        .filter((f) => f.endsWith('.json'))
        .map((f) => JSON.parse(readFileSync(join(data, 'dsa', f), 'utf8')) as Dsa)
        .filter((d) => (d.related ?? []).some((r) => r.startsWith('CVE-')));
      expect(dsas.length).toBeGreaterThan(300);
      const db = AdvisoryDb.open(dbPath);
      let joined = 0;
      let alone = 0;
      const problems: string[] = [];
      try {
        for (const dsa of dsas) {
          for (const a of dsa.affected) {
            const fixed = a.ranges?.flatMap((r) => r.events).find((e) => e.fixed)?.fixed;
            if (a.package.ecosystem !== 'Debian:12' || !fixed) continue;
            const version = `${fixed}~`;
            const pkg: Package = {
              name: a.package.name,
              version,
              type: 'deb',
              purl: `pkg:deb/debian/${a.package.name}@${encodeURIComponent(version)}?distro=debian-12`,
              licenses: [],
              locations: [{ path: 'var/lib/dpkg/status', layer: 0 }],
              layer: 0,
              foundBy: 'test',
            };
            const inv: Inventory = {
              subject: { kind: 'rootfs', source: 'dir:test', layers: [] },
              stats: { files: 0, layers: [] },
              os: { id: 'debian', versionId: '12', source: 'etc/os-release' },
              packages: [pkg],
              unknowns: [],
            };
            const { findings } = matchInventory(inv, db, SCHEME_CHOOSER, severityOf);
            const ids = findings.map((f) => f.ruleId);
            const where = `${dsa.id} ${a.package.name} ${version}`;
            if (new Set(ids).size !== ids.length) problems.push(`${where}: a finding twice`);
            const naming = findings.filter((f) => f.vulnerability?.aliases.includes(dsa.id));
            const own = findings.some((f) => f.ruleId === dsa.id);
            // Under its own id only when none of its CVEs is a finding (each cleared by its own records).
            if (own && naming.length > 0) problems.push(`${where}: reported beside the CVEs it fixes`);
            for (const f of findings) {
              if (!dsa.related?.includes(f.ruleId)) continue;
              const aliases = f.vulnerability?.aliases ?? [];
              if (!aliases.includes(dsa.id)) problems.push(`${where}: ${f.ruleId} does not name the DSA`);
              // The DSA's other CVEs are other vulnerabilities: a statement on one of them must not reach this one,
              // unless the CVE's own record calls them the same (CVE-2023-4863 aliases CVE-2023-5129).
              const same = ownAliases(data, f.ruleId);
              for (const x of aliases)
                if (x !== f.ruleId && dsa.related.includes(x) && !same.has(x))
                  problems.push(`${where}: ${f.ruleId} has the DSA's other CVE ${x} as alias`);
            }
            if (naming.length > 0) joined++;
            if (own) alone++;
          }
        }
      } finally {
        db.close();
      }
      expect(problems).toEqual([]);
      // Most DSAs fix CVEs the tracker has records of for the same package; the rest stand alone.
      expect(joined).toBeGreaterThan(300);
      expect(alone).toBeLessThan(joined / 10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
