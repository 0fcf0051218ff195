import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { DEFAULT_MAX_TREE_ENTRIES, DEFAULT_MAX_TREE_NAME_BYTES } from '../../src/image/collect.js';
import { type LayerInput, type WalkOptions, walkLayers } from '../../src/image/walk.js';
import { inventoryImage } from '../../src/inventory/image.js';
import { digestOf } from '../../src/oci/digest.js';
import { openOciLayout } from '../../src/oci/layout.js';
import { resolveImages } from '../../src/oci/source.js';
import { type LayerEntry, makeTar, walkTestLayers } from '../helpers/layers.js';
import { LayoutWriter } from '../helpers/oci.js';

/** `n` empty files at the top of the layer, named `prefix00000`, `prefix00001`, ... */
function files(n: number, prefix = 'f'): LayerEntry[] {
  return Array.from({ length: n }, (_, i) => ({ path: `${prefix}${String(i).padStart(5, '0')}`, content: '' }));
}

/** The walk's rejection, which must be the project's typed error. */
async function walkError(layers: readonly (readonly LayerEntry[])[], opts: WalkOptions): Promise<PortcullisError> {
  const err = await walkTestLayers(layers, [], opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PortcullisError);
  const typed = err as PortcullisError;
  expect(typed.code).toBe('LAYER_INVALID');
  expect(typed.exitCode).toBe(2);
  expect(typed.message).not.toContain('\n');
  return typed;
}

describe('file-tree budget: entries', () => {
  it('keeps defaults far above real images (a few hundred thousand paths)', () => {
    expect(DEFAULT_MAX_TREE_ENTRIES).toBe(2_000_000);
    expect(DEFAULT_MAX_TREE_NAME_BYTES).toBe(512 * 1024 * 1024);
  });

  it('walks a layer of exactly the limit', async () => {
    const { tree } = await walkTestLayers([files(1000)], [], { maxTreeEntries: 1000 });
    expect(tree.size).toBe(1000);
    expect(tree.lookup('f00999')?.info.type).toBe('file');
  });

  it('fails a layer of one entry more, naming the layer and the limit', async () => {
    const err = await walkError([files(1001)], { maxTreeEntries: 1000 });
    expect(err.message).toBe(
      'layer 0: the image has more than 1000 entries over its layers, the limit for one image walk',
    );
  });

  it('counts over all the layers of the walk, which are read concurrently', async () => {
    // Each layer alone is under the limit; the two of them, read at the same time, are not.
    const ok = await walkTestLayers([files(500, 'a'), files(500, 'b')], [], { maxTreeEntries: 1000 });
    expect(ok.tree.size).toBe(1000);
    const err = await walkError([files(600, 'a'), files(600, 'b')], { maxTreeEntries: 1000, concurrency: 2 });
    expect(err.message).toMatch(
      /^layer [01]: the image has more than 1000 entries over its layers, the limit for one image walk$/,
    );
  });

  it('counts the same blob listed twice as two layers (the heap-exhaustion case)', async () => {
    const tar = await makeTar(files(600));
    const input = (index: number): LayerInput => ({
      index,
      where: `layer ${index} (${digestOf(tar).slice(0, 19)})`,
      digest: digestOf(tar),
      size: tar.length,
      diffId: digestOf(tar),
      compression: 'none',
      open: async () => Readable.from([tar]),
    });
    const err = await walkLayers([input(0), input(1)], [], { maxTreeEntries: 1000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('LAYER_INVALID');
    expect((err as PortcullisError).message).toMatch(
      /^layer [01] \(sha256:[0-9a-f]{12}\): the image has more than 1000 entries over its layers, the limit for one image walk$/,
    );
  });

  it('counts directories the tree makes for parents a layer does not list', async () => {
    // One entry, four implied parents: five nodes.
    const deep: LayerEntry[] = [{ path: 'a/b/c/d/file', content: 'x' }];
    const { tree } = await walkTestLayers([deep], [], { maxTreeEntries: 5 });
    expect(tree.lookup('a/b/c/d/file')?.info.type).toBe('file');
    expect(tree.lookup('a/b/c/d')?.info.type).toBe('dir');
    const err = await walkError([deep], { maxTreeEntries: 4 });
    expect(err.message).toBe(
      'layer 0: the image has more than 4 entries over its layers, the limit for one image walk',
    );
  });

  it('does not count a layer twice when its read is retried after a transient failure', async () => {
    const tar = await makeTar(files(1000));
    let opens = 0;
    const layer: LayerInput = {
      index: 0,
      where: 'layer 0',
      digest: digestOf(tar),
      size: tar.length,
      diffId: digestOf(tar),
      compression: 'none',
      open: async () => {
        opens++;
        if (opens > 1) return Readable.from([tar]);
        // The first read delivers 900 entries (a header block each, no data) then the connection resets.
        const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        return new Readable({
          read() {
            this.push(tar.subarray(0, 900 * 512));
            this.destroy(reset);
          },
        });
      },
    };
    const { tree } = await walkLayers([layer], [], { maxTreeEntries: 1000 });
    expect(opens).toBe(2);
    expect(tree.size).toBe(1000);
  });
});

describe('file-tree budget: name bytes', () => {
  // Ten names of 100 bytes each: 1000 bytes.
  const names = (n: number): LayerEntry[] =>
    Array.from({ length: n }, (_, i) => ({ path: `${String(i).padStart(3, '0')}${'n'.repeat(97)}`, content: '' }));

  it('walks names of exactly the limit', async () => {
    const { tree } = await walkTestLayers([names(10)], [], { maxTreeNameBytes: 1000 });
    expect(tree.size).toBe(10);
  });

  it('fails one byte over, naming the layer and the limit', async () => {
    const err = await walkError([[...names(9), { path: `009${'n'.repeat(98)}`, content: '' }]], {
      maxTreeNameBytes: 1000,
    });
    expect(err.message).toBe(
      "layer 0: the names of the image's entries exceed 1000 bytes over its layers, the limit for one image walk",
    );
  });

  it('counts link targets, which are held too', async () => {
    const links: LayerEntry[] = [{ path: 'l', symlink: 't'.repeat(999) }];
    const { tree } = await walkTestLayers([links], [], { maxTreeNameBytes: 1000 });
    expect(tree.lookup('l')?.info.linkname).toHaveLength(999);
    const err = await walkError([links], { maxTreeNameBytes: 999 });
    expect(err.message).toMatch(/^layer 0: the names of the image's entries exceed 999 bytes/);
  });

  it('counts names over all layers, in UTF-8 bytes', async () => {
    // 'é' is two bytes: 2 x 250 x 2 = 1000 bytes over two layers.
    const wide = (p: string): LayerEntry[] => [{ path: `${p}${'é'.repeat(249)}`, content: '' }];
    const ok = await walkTestLayers([wide('a'), wide('b')], [], { maxTreeNameBytes: 998 });
    expect(ok.tree.size).toBe(2);
    const err = await walkError([wide('a'), wide('b')], { maxTreeNameBytes: 997 });
    expect(err.message).toMatch(/^layer [01]: the names of the image's entries exceed 997 bytes/);
  });
});

describe('file-tree budget through an image inventory', () => {
  it('fails an OCI image whose one layer is listed twice, naming the layer by digest', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'portcullis-treelimits-')), 'layout');
    const w = new LayoutWriter(dir);
    const tar = await makeTar(files(600));
    const manifest = w.image([tar, tar]);
    w.index([{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }]);
    const source = openOciLayout(dir, 'latest');
    try {
      const [image] = await resolveImages(source);
      if (!image) throw new Error('the layout holds no image');
      const ok = await inventoryImage(image, { maxTreeEntries: 1200 });
      expect(ok.stats.files).toBe(600);
      const err = await inventoryImage(image, { maxTreeEntries: 1199 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PortcullisError);
      expect((err as PortcullisError).code).toBe('LAYER_INVALID');
      expect((err as PortcullisError).message).toMatch(
        /^layer [01] \(sha256:[0-9a-f]{12}\): the image has more than 1199 entries over its layers, the limit for one image walk$/,
      );
    } finally {
      await source.close();
    }
  });
});
