import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { bookwormRootfs } from '../helpers/paths.js';

/** Packages whose files are on disk, as dpkg-query itself reports them for the same rootfs. */
function dpkgQuery(rootfs: string): string[] {
  const out = execFileSync(
    'dpkg-query',
    [
      '--admindir',
      join(rootfs, 'var/lib/dpkg'),
      '-W',
      '-f',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format syntax
      '${db:Status-Status}\t${Package}\t${Architecture}\t${Version}\t${source:Package}\t${source:Version}\n',
    ],
    { encoding: 'utf8' },
  );
  return out
    .trim()
    .split('\n')
    .map((l) => l.split('\t'))
    .filter(([status]) => status !== 'config-files' && status !== 'not-installed')
    .map(([, name, arch, version, srcName, srcVersion]) => `${name}:${arch}=${version} src=${srcName}=${srcVersion}`)
    .sort();
}

describe('dpkg cataloger against dpkg-query (real debootstrap bookworm rootfs)', () => {
  it('finds exactly the packages dpkg-query reports, with the same source packages', async () => {
    const rootfs = bookwormRootfs();
    const r = await runCli(['sbom', `dir:${rootfs}`, '--format', 'json', '-q']);
    expect(r.code).toBe(0);
    const inv = JSON.parse(r.stdout);
    const ours = inv.packages
      .filter((p: { type: string }) => p.type === 'deb')
      .map(
        (p: { name: string; arch: string; version: string; source: { name: string; version: string } }) =>
          `${p.name}:${p.arch}=${p.version} src=${p.source.name}=${p.source.version}`,
      )
      .sort();
    const oracle = dpkgQuery(rootfs);
    expect(oracle.length).toBeGreaterThan(80);
    expect(ours).toEqual(oracle);
  });
});
