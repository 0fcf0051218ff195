import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import type { Collector } from '../../src/image/collect.js';
import type { FileTree } from '../../src/image/filetree.js';
import { type WalkOptions, walkLayers } from '../../src/image/walk.js';
import { type Contents, catalogTree, collectorsFor } from '../../src/inventory/build.js';
import type { Cataloger } from '../../src/inventory/model.js';
import { digestOf } from '../../src/oci/digest.js';

/** An entry of a hand-made layer: a file with content, a directory, a link, or a whiteout marker. */
export type LayerEntry =
  | {
      readonly path: string;
      readonly content: string | Buffer;
      readonly mode?: number;
      readonly uid?: number;
      readonly gid?: number;
    }
  | { readonly path: string; readonly dir: true; readonly mode?: number; readonly uid?: number; readonly gid?: number }
  | { readonly path: string; readonly symlink: string }
  | { readonly path: string; readonly hardlink: string };

/** Pack entries into a tar with tar-stream (an independent writer), for hostile and edge-case layers. */
export async function makeTar(entries: readonly LayerEntry[]): Promise<Buffer> {
  const p = tarStream.pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    if ('content' in e) {
      const data = typeof e.content === 'string' ? Buffer.from(e.content) : e.content;
      p.entry({ name: e.path, size: data.length, mode: e.mode ?? 0o644, uid: e.uid ?? 0, gid: e.gid ?? 0 }, data);
    } else if ('dir' in e)
      p.entry({ name: e.path, type: 'directory', mode: e.mode ?? 0o755, uid: e.uid ?? 0, gid: e.gid ?? 0 });
    else if ('symlink' in e) p.entry({ name: e.path, type: 'symlink', linkname: e.symlink });
    else p.entry({ name: e.path, type: 'link', linkname: e.hardlink });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Walk hand-made layers exactly as an image's layers are walked (digests and diff_ids checked). */
export async function walkTestLayers(
  layers: readonly (readonly LayerEntry[])[],
  collectors: readonly Collector[],
  opts: WalkOptions = {},
): Promise<{ tree: FileTree }> {
  const tars = await Promise.all(layers.map(makeTar));
  return walkLayers(
    tars.map((t, index) => ({
      index,
      where: `layer ${index}`,
      digest: digestOf(t),
      size: t.length,
      diffId: digestOf(t),
      compression: 'none' as const,
      open: async () => Readable.from([t]),
    })),
    collectors,
    opts,
  );
}

/** Walk hand-made layers and run the given catalogers over the merged tree. */
export async function catalogTestLayers(
  layers: readonly (readonly LayerEntry[])[],
  catalogers: readonly Cataloger[],
  opts: WalkOptions = {},
): Promise<Contents> {
  const { tree } = await walkTestLayers(layers, collectorsFor(catalogers), opts);
  return catalogTree(tree, catalogers);
}
