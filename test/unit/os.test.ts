import { describe, expect, it } from 'vitest';
import { catalogTree, collectorsFor } from '../../src/inventory/build.js';
import { dpkgCataloger } from '../../src/inventory/catalogers/dpkg.js';
import { detectOs } from '../../src/inventory/os.js';
import { type LayerEntry, walkTestLayers } from '../helpers/layers.js';

async function treeOf(entries: LayerEntry[]) {
  return (await walkTestLayers([entries], collectorsFor([dpkgCataloger]))).tree;
}

// os-release files as the distributions ship them (abridged to the fields Portcullis reads).
const RELEASES: [string, LayerEntry[], object][] = [
  [
    'Ubuntu 22.04',
    [
      {
        path: 'etc/os-release',
        content:
          'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n',
      },
    ],
    { id: 'ubuntu', versionId: '22.04', versionCodename: 'jammy', idLike: ['debian'] },
  ],
  [
    'Alpine 3.19 (alpine-release has the patch level)',
    [
      {
        path: 'etc/os-release',
        content: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n',
      },
      { path: 'etc/alpine-release', content: '3.19.1\n' },
    ],
    { id: 'alpine', versionId: '3.19.1' },
  ],
  [
    'RHEL 9 (usr/lib/os-release via the etc symlink)',
    [
      {
        path: 'usr/lib/os-release',
        content:
          'NAME="Red Hat Enterprise Linux"\nVERSION="9.3 (Plow)"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.3"\n',
      },
      { path: 'etc/os-release', symlink: '../usr/lib/os-release' },
    ],
    { id: 'rhel', versionId: '9.3', idLike: ['fedora'], source: 'etc/os-release' },
  ],
  [
    'Amazon Linux 2023',
    [
      {
        path: 'etc/os-release',
        content: 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n',
      },
    ],
    { id: 'amzn', versionId: '2023' },
  ],
  [
    'CentOS 6 (only redhat-release)',
    [{ path: 'etc/redhat-release', content: 'CentOS release 6.10 (Final)\n' }],
    { id: 'centos', versionId: '6.10', source: 'etc/redhat-release' },
  ],
  [
    'distroless (Debian os-release, PRETTY_NAME Distroless)',
    [
      {
        path: 'etc/os-release',
        content:
          'PRETTY_NAME="Distroless"\nNAME="Debian GNU/Linux"\nID="debian"\nVERSION_ID="12"\nVERSION="Debian GNU/Linux 12 (bookworm)"\n',
      },
    ],
    { id: 'debian', versionId: '12', distroless: true },
  ],
  [
    'Debian sid (no VERSION_ID)',
    [
      { path: 'etc/os-release', content: 'PRETTY_NAME="Debian GNU/Linux trixie/sid"\nID=debian\n' },
      { path: 'etc/debian_version', content: 'trixie/sid\n' },
    ],
    { id: 'debian' },
  ],
];

describe('detectOs', () => {
  it.each(RELEASES)('%s', async (_name, entries, expected) => {
    expect(detectOs(await treeOf(entries))).toMatchObject(expected);
  });

  it('finds no OS in a scratch image', async () => {
    expect(detectOs(await treeOf([{ path: 'app', content: 'binary' }]))).toBeUndefined();
  });
});

describe('dpkg on distroless status.d', () => {
  it('reads one stanza per file, without Status fields, and skips md5sums', async () => {
    const tree = await treeOf([
      { path: 'etc/os-release', content: 'PRETTY_NAME="Distroless"\nID="debian"\nVERSION_ID="12"\n' },
      {
        path: 'var/lib/dpkg/status.d/libc6',
        content: 'Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nSource: glibc\n',
      },
      { path: 'var/lib/dpkg/status.d/libc6.md5sums', content: '0123456789abcdef  lib/x86_64-linux-gnu/libc.so.6\n' },
      {
        path: 'var/lib/dpkg/status.d/tzdata',
        content: 'Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n',
      },
    ]);
    const { packages, unknowns } = catalogTree(tree, [dpkgCataloger]);
    expect(unknowns).toEqual([]);
    expect(packages.map((p) => [p.name, p.version, p.source?.name, p.locations[0]?.path])).toEqual([
      ['libc6', '2.36-9+deb12u4', 'glibc', 'var/lib/dpkg/status.d/libc6'],
      ['tzdata', '2024a-0+deb12u1', 'tzdata', 'var/lib/dpkg/status.d/tzdata'],
    ]);
  });
});
