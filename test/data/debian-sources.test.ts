import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { bookwormRootfs, ROOT } from '../helpers/paths.js';

/** PORTCULLIS_ADVISORY_DATA points at the shared advisory data (default ../shared/advisories). */
const DATA = resolve(process.env.PORTCULLIS_ADVISORY_DATA ?? join(ROOT, '..', 'shared', 'advisories'));

describe('dpkg source packages against Debian archive metadata', () => {
  it('maps every binary package of a real bookworm rootfs to the source package the archive names', async () => {
    const index = JSON.parse(readFileSync(join(DATA, 'debian-12', 'source-binaries.json'), 'utf8')) as Record<
      string,
      { binaries: string[] }
    >;
    const sourceOf = new Map<string, Set<string>>();
    for (const [src, { binaries }] of Object.entries(index)) {
      for (const b of binaries) sourceOf.set(b, (sourceOf.get(b) ?? new Set()).add(src));
    }
    const r = await runCli(['sbom', `dir:${bookwormRootfs()}`, '--format', 'json', '-q']);
    expect(r.code).toBe(0);
    const debs = JSON.parse(r.stdout).packages.filter((p: { type: string }) => p.type === 'deb');
    const mismatches = debs.filter(
      (p: { name: string; source: { name: string } }) => !sourceOf.get(p.name)?.has(p.source.name),
    );
    expect(debs.length).toBeGreaterThan(80);
    expect(mismatches.map((p: { name: string; source: { name: string } }) => `${p.name} -> ${p.source.name}`)).toEqual(
      [],
    );
  });
});
