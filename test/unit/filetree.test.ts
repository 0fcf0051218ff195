import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Collector } from '../../src/image/collect.js';
import { walkLayers } from '../../src/image/walk.js';
import { digestOf } from '../../src/oci/digest.js';
import { type LayerEntry, makeTar, walkTestLayers } from '../helpers/layers.js';

const wantAll: Collector = {
  name: 'all',
  wants: (i) => (i.type === 'file' || i.type === 'hardlink' ? { kind: 'buffer' } : undefined),
};

const walk = (layers: LayerEntry[][]) => walkTestLayers(layers, [wantAll]);

describe('layer merge', () => {
  it('applies whiteouts to lower layers only, and keeps same-layer entries', async () => {
    const { tree } = await walk([
      [
        { path: 'a/keep', content: '1' },
        { path: 'a/gone', content: '2' },
        { path: 'b/x', content: '3' },
      ],
      [
        { path: 'a/.wh.gone', content: '' },
        { path: '.wh.b', content: '' },
        { path: 'c', content: 'new' },
      ],
    ]);
    expect(tree.lookup('a/keep')?.content?.toString()).toBe('1');
    expect(tree.lookup('a/gone')).toBeUndefined();
    expect(tree.lookup('b')).toBeUndefined();
    expect(tree.lookup('c')?.info.layer).toBe(1);
    expect(tree.lookup('a/.wh.gone')).toBeUndefined();
  });

  it('opaque directories hide lower children but not their own layer', async () => {
    const { tree } = await walk([
      [
        { path: 'd/old1', content: 'x' },
        { path: 'd/old2', content: 'y' },
      ],
      [
        { path: 'd/new', content: 'z' },
        { path: 'd/.wh..wh..opq', content: '' },
      ],
    ]);
    expect([...(tree.lookup('d')?.children?.keys() ?? [])]).toEqual(['new']);
  });

  it('resolves symlinks inside the image only, and detects loops', async () => {
    const { tree } = await walk([
      [
        { path: 'usr/lib/os-release', content: 'ID=debian\n' },
        { path: 'etc/os-release', symlink: '../usr/lib/os-release' },
        { path: 'escape', symlink: '../../../../../usr/lib/os-release' },
        { path: 'abs', symlink: '/usr/lib/os-release' },
        { path: 'loop1', symlink: 'loop2' },
        { path: 'loop2', symlink: 'loop1' },
      ],
    ]);
    expect(tree.resolve('etc/os-release')?.node.content?.toString()).toBe('ID=debian\n');
    // `..` stops at the image root, as in a chroot: the escape lands back inside the image.
    expect(tree.resolve('escape')?.path).toBe('usr/lib/os-release');
    expect(tree.resolve('abs')?.path).toBe('usr/lib/os-release');
    expect(() => tree.resolve('loop1')).toThrow(/symbolic-link loop while resolving \/loop1/);
  });

  it('gives hardlinks their target content, also across layers', async () => {
    const { tree } = await walk([[{ path: 'bin/a', content: 'ELF' }], [{ path: 'bin/b', hardlink: 'bin/a' }]]);
    expect(tree.lookup('bin/b')?.content?.toString()).toBe('ELF');
    expect(tree.lookup('bin/b')?.missing).toBeUndefined();
  });

  it('a hardlink to a symlink is that symlink, resolved from where the link is', async () => {
    const { tree } = await walk([
      [
        { path: 'usr/lib/os-release', content: 'ID=alpine\n' },
        { path: 'etc/os-link', symlink: '../usr/lib/os-release' },
        { path: 'etc/os-release', hardlink: 'etc/os-link' },
      ],
    ]);
    expect(tree.lookup('etc/os-release')?.info.type).toBe('symlink');
    expect(tree.resolve('etc/os-release')?.node.content?.toString()).toBe('ID=alpine\n');
  });

  it('a hardlink names the file it was made to, not a later same-layer replacement of that path (as umoci unpacks)', async () => {
    const { tree } = await walk([
      [
        { path: 'usr/lib/db', content: 'lower' },
        { path: 'usr/lib/other', content: 'lower other' },
      ],
      [
        { path: 'usr/lib/db', content: 'vulnerable' },
        { path: 'lib/db', hardlink: 'usr/lib/db' },
        { path: 'usr/lib/db', content: 'benign' },
        // Listed before the same-layer entry of its target: the lower layer's file, as containerd links it.
        { path: 'lib/early', hardlink: 'usr/lib/other' },
        { path: 'usr/lib/other', content: 'upper' },
      ],
    ]);
    expect(tree.lookup('lib/db')?.content?.toString()).toBe('vulnerable');
    expect(tree.lookup('usr/lib/db')?.content?.toString()).toBe('benign');
    expect(tree.lookup('lib/early')?.content?.toString()).toBe('lower other');
    expect(tree.lookup('usr/lib/other')?.content?.toString()).toBe('upper');
    expect(tree.lookup('lib/db')?.linkTarget).toBeUndefined(); // not kept once the layer is applied
  });

  it('a hardlink to a same-layer hardlink that a later entry replaced still reaches the file', async () => {
    const { tree } = await walk([
      [
        { path: 'a', content: 'AAA' },
        { path: 'b', hardlink: 'a' },
        { path: 'lib/db', hardlink: 'b' },
        { path: 'b', content: 'BBB' },
      ],
    ]);
    expect(tree.lookup('lib/db')?.content?.toString()).toBe('AAA');
    expect(tree.lookup('lib/db')?.missing).toBeUndefined();
  });

  it('a file replacing a directory drops the subtree, and counts stay right', async () => {
    const { tree } = await walk([
      [
        { path: 'x/y/z', content: '1' },
        { path: 'x/w', content: '2' },
      ],
      [{ path: 'x', content: 'file now' }],
    ]);
    expect(tree.lookup('x')?.info.type).toBe('file');
    expect(tree.lookup('x/y/z')).toBeUndefined();
    expect(tree.size).toBe(1);
  });

  it('rejects a layer whose diff_id does not match', async () => {
    const t = await makeTar([{ path: 'a', content: 'x' }]);
    await expect(
      walkLayers(
        [
          {
            index: 0,
            where: 'layer 0',
            diffId: digestOf(Buffer.from('other')),
            compression: 'none',
            open: async () => Readable.from([t]),
          },
        ],
        [wantAll],
      ),
    ).rejects.toThrow(/layer 0 diff_id: content hashes to sha256:[0-9a-f]{64}, expected sha256:/);
  });
});

describe('content budget', () => {
  it('stops keeping contents once the walk-wide budget is used, and says so on the node', async () => {
    const { tree } = await walkTestLayers(
      [[{ path: 'a', content: Buffer.alloc(600) }], [{ path: 'b', content: Buffer.alloc(600) }]],
      [wantAll],
      { maxBufferedBytes: 1000 },
    );
    const kept = [tree.lookup('a'), tree.lookup('b')].filter((n) => n?.content);
    const missing = [tree.lookup('a'), tree.lookup('b')].filter((n) => n?.missing);
    expect(kept).toHaveLength(1);
    expect(missing).toHaveLength(1);
    expect(missing[0]?.missing).toMatch(/1000-byte budget for file contents kept in memory is used up/);
  });
});
