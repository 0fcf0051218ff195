import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { advisoryData, bookwormRootfs } from '../helpers/paths.js';

describe('dpkg source packages against Debian archive metadata', () => {
  it('maps every binary package of a real bookworm rootfs to the source package the archive names', async () => {
    const index = JSON.parse(readFileSync(join(advisoryData(), 'debian-12', 'source-binaries.json'), 'utf8')) as Record<
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
