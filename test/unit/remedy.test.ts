import { describe, expect, it } from 'vitest';
import { type AdvisoryLookup, remedyOf } from '../../src/advisories/match.js';
import type { Advisory, Affected } from '../../src/advisories/model.js';
import { SCHEME_CHOOSER } from '../../src/advisories/versions/index.js';
import type { Finding } from '../../src/findings/finding.js';

/** One tracker-like record per CVE of a Debian source package, fixed in `fixed`. */
function row(cve: string, fixed: string, reads: { n: number }): Affected & { readonly advisory: Advisory } {
  const advisory: Advisory = {
    id: cve,
    source: 'debian-tracker',
    modified: '2024-01-01T00:00:00Z',
    aliases: [],
    severity: [],
  };
  return {
    ecosystem: 'Debian:12',
    package: 'linux',
    advisoryId: cve,
    ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }],
    versions: [],
    // Counted as the store's rows are read: each read of a stored row's advisory is a JSON.parse or a lookup.
    get advisory() {
      reads.n++;
      return advisory;
    },
  };
}

function finding(cve: string, fixed: string): Finding {
  return {
    ruleId: cve,
    kind: 'vulnerability',
    severity: 'medium',
    confidence: 'high',
    title: cve,
    message: cve,
    location: { kind: 'image', image: 'test', layer: 0 },
    vulnerability: {
      package: {
        name: 'linux-libc-dev',
        version: '6.1.27-1',
        purl: 'pkg:deb/debian/linux-libc-dev@6.1.27-1',
        type: 'deb',
      },
      matched: { ecosystem: 'Debian:12', name: 'linux', version: '6.1.27-1' },
      aliases: [],
      fixedVersions: [fixed],
      status: 'fixed',
      sources: ['debian-tracker'],
    },
  };
}

describe('remedyOf', () => {
  it("reads each of a package's advisories a bounded number of times, not once per finding (the kernel: thousands of each)", () => {
    const reads = { n: 0 };
    const n = 2000;
    const rows = Array.from({ length: n }, (_, i) => row(`CVE-2024-${10000 + i}`, `6.1.${100 + (i % 20)}-1`, reads));
    const lookup: AdvisoryLookup = { affected: (e, p) => (e === 'Debian:12' && p === 'linux' ? rows : []) };
    const remedy = remedyOf(lookup, SCHEME_CHOOSER);
    const findings = rows.map((r, i) => finding(r.advisoryId, `6.1.${100 + (i % 20)}-1`));
    for (const f of findings) {
      expect(remedy.clears(f, '6.1.119-1')).toBe(true);
      expect(remedy.clears(f, '6.1.99-1')).toBe(false);
      expect(remedy.fixesOf(f)).toHaveLength(1);
    }
    // Each finding stands for its own record alone.
    expect(remedy.clears(finding('CVE-2024-10019', '6.1.119-1'), '6.1.118-1')).toBe(false);
    expect(remedy.clears(finding('CVE-2024-10018', '6.1.118-1'), '6.1.118-1')).toBe(true);
    expect(reads.n).toBeLessThan(10 * n);
  });

  it("never offers a GIT range's fixed commit as a version to upgrade to", () => {
    const reads = { n: 0 };
    const base = row('CVE-2024-20000', '6.1.100-1', reads);
    // osv.dev's Debian records carry the upstream repository's range beside the package's; a hash that starts with a
    // digit reads as a Debian version above every 6.x.
    const withGit = {
      ...base,
      advisory: base.advisory,
      ranges: [
        ...base.ranges,
        { type: 'GIT' as const, events: [{ introduced: '0' }, { fixed: '9f8e7d6c5b4a39281706f5e4d3c2b1a098765432' }] },
      ],
    };
    const lookup: AdvisoryLookup = { affected: () => [withGit] };
    expect(remedyOf(lookup, SCHEME_CHOOSER).fixesOf(finding('CVE-2024-20000', '6.1.100-1'))).toEqual(['6.1.100-1']);
  });
});
