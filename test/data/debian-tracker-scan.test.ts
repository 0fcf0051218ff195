import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { advisoryData, bookwormRootfs } from '../helpers/paths.js';

/**
 * A real debootstrap'ed bookworm rootfs scanned against the real Debian tracker data. The expected set is computed
 * here from tracker.json with dpkg itself as the version oracle: for every installed source package, a CVE applies
 * when its bookworm entry is open/undetermined, or resolved with a fixed version dpkg says is newer than installed.
 */
describe('bookworm rootfs against the Debian security tracker', () => {
  it('reports exactly the (source package, CVE) pairs the tracker data implies for the installed versions', async () => {
    const data = advisoryData();
    const dir = mkdtempSync(join(tmpdir(), 'tracker-scan-'));
    const db = join(dir, 'advisories.db');
    const imp = await runCli(['db', 'import', join(data, 'debian-12', 'tracker.json'), '--db', db, '-q']);
    expect(imp.code).toBe(0);
    const rootfs = bookwormRootfs();

    // Installed source packages and versions, from dpkg-query.
    const installed = new Map<string, string>();
    const q = execFileSync(
      'dpkg-query',
      [
        '--admindir',
        join(rootfs, 'var/lib/dpkg'),
        '-W',
        '-f',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format syntax
        '${db:Status-Status}\t${source:Package}\t${source:Version}\n',
      ],
      { encoding: 'utf8' },
    );
    for (const line of q.trim().split('\n')) {
      const [status, src, ver] = line.split('\t');
      if (status === 'installed' && src && ver) installed.set(src, ver);
    }
    const tracker = JSON.parse(readFileSync(join(data, 'debian-12', 'tracker.json'), 'utf8')) as Record<
      string,
      Record<string, { releases: Record<string, { status: string; fixed_version?: string }> }>
    >;
    const expected = new Set<string>();
    const toCompare: [string, string, string][] = [];
    for (const src of installed.keys()) {
      for (const [cve, info] of Object.entries(tracker[src] ?? {})) {
        const b = info.releases.bookworm;
        if (!b) continue;
        if (b.status === 'open' || b.status === 'undetermined') expected.add(`${src} ${cve}`);
        else if (b.status === 'resolved' && b.fixed_version && b.fixed_version !== '0')
          toCompare.push([src, cve, b.fixed_version]);
      }
    }
    // One shell loop asks dpkg about every resolved pair: "installed lt fixed" means still affected.
    const pairs = join(dir, 'pairs.tsv');
    writeFileSync(
      pairs,
      toCompare.map(([src, cve, fixed]) => `${src}\t${cve}\t${installed.get(src)}\t${fixed}`).join('\n'),
    );
    const oracle = spawnSync(
      'sh',
      [
        '-c',
        `while IFS="$(printf '\\t')" read -r s c i f; do if dpkg --compare-versions "$i" lt "$f"; then echo "$s $c"; fi; done < ${pairs}`,
      ],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    expect(oracle.status).toBe(0);
    for (const line of oracle.stdout.trim().split('\n').filter(Boolean)) expected.add(line);
    expect(expected.size).toBeGreaterThan(20); // open issues, mostly: the rootfs is newer than the data

    const r = await runCli([
      'scan',
      `dir:${rootfs}`,
      '--db',
      db,
      '-f',
      'json',
      '--include-unimportant',
      '-q',
      '--scanners',
      'vuln',
    ]);
    expect(r.code).toBe(0);
    const findings = JSON.parse(r.stdout).findings as {
      ruleId: string;
      vulnerability: { matched: { name: string } };
    }[];
    const got = new Set(findings.map((f) => `${f.vulnerability.matched.name} ${f.ruleId}`));
    expect([...got].filter((x) => !expected.has(x)).sort()).toEqual([]);
    expect([...expected].filter((x) => !got.has(x)).sort()).toEqual([]);

    // With every source imported (osv.dev's copy of the tracker and the DSAs too), the same pairs, each once.
    const all = join(dir, 'all.db');
    expect((await runCli(['db', 'import', data, '--db', all, '-q'])).code).toBe(0);
    const r2 = await runCli([
      'scan',
      `dir:${rootfs}`,
      '--db',
      all,
      '-f',
      'json',
      '--include-unimportant',
      '-q',
      '--scanners',
      'vuln',
    ]);
    const debs = (
      JSON.parse(r2.stdout).findings as {
        ruleId: string;
        vulnerability: { matched: { ecosystem: string; name: string }; package: { name: string } };
      }[]
    ).filter((f) => f.vulnerability.matched.ecosystem === 'Debian:12');
    const pairs2 = debs.map((f) => `${f.vulnerability.matched.name} ${f.ruleId}`);
    expect(new Set(pairs2)).toEqual(got);
    const perBinary = debs.map((f) => `${f.vulnerability.package.name} ${f.ruleId}`);
    expect(new Set(perBinary).size).toBe(perBinary.length);
  });
});
