import type { Collector } from '../image/collect.js';
import { walkDirectory } from '../image/dirwalk.js';
import type { FileTree } from '../image/filetree.js';
import { type LayerStats, type WalkOptions, walkLayers } from '../image/walk.js';
import type { ImageConfig, Platform } from '../oci/manifest.js';
import type { ResolvedImage } from '../oci/source.js';
import { type Contents, catalogTree, collectorsFor } from './build.js';
import { CATALOGERS } from './catalogers/index.js';
import type { Cataloger } from './model.js';

/** One layer of the subject, as the SBOM describes it. */
export interface LayerSummary {
  readonly index: number;
  readonly digest?: string;
  readonly diffId?: string;
  readonly mediaType?: string;
  readonly size?: number;
  /** The history entry (Dockerfile step) that made the layer, when the config records it. */
  readonly createdBy?: string;
}

/** What was inventoried: an image (by digest) or a root file system. */
export interface Subject {
  readonly kind: 'image' | 'rootfs';
  /** The reference as the user gave it, without credentials. */
  readonly source: string;
  readonly digest?: string;
  readonly indexDigest?: string;
  readonly configDigest?: string;
  readonly platform?: Platform;
  readonly created?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** The manifest's annotations (org.opencontainers.image.base.digest and the like). */
  readonly annotations?: Readonly<Record<string, string>>;
  readonly layers: readonly LayerSummary[];
}

/** The full inventory of one image or root file system. */
export interface Inventory extends Contents {
  readonly subject: Subject;
  readonly stats: { readonly files: number; readonly layers: readonly LayerStats[] };
}

/** Map layers to the history entries that produced them (empty_layer entries make no layer). */
export function layerHistory(config: ImageConfig): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  for (const h of config.history ?? []) if (!h.empty_layer) out.push(h.created_by);
  return out;
}

/** What an inventory walk may carry besides the catalogers: other collectors (secret scanning) in the same pass. */
export interface InventoryOptions extends WalkOptions {
  readonly catalogers?: readonly Cataloger[];
  /** More collectors fed in the same single pass over the layers. */
  readonly collectors?: readonly Collector[];
  /** Called with the merged tree once catalogued, for checks that read file metadata (setuid, modes). */
  readonly inspect?: (tree: FileTree, contents: Contents) => void;
}

/** Walk and catalogue one resolved image. */
export async function inventoryImage(image: ResolvedImage, opts: InventoryOptions = {}): Promise<Inventory> {
  const catalogers = opts.catalogers ?? CATALOGERS;
  const collectors = [...collectorsFor(catalogers), ...(opts.collectors ?? [])];
  const { tree, stats } = await walkLayers(image.layers, collectors, opts);
  const history = layerHistory(image.config);
  const labels = image.config.config?.Labels;
  const subject: Subject = {
    kind: 'image',
    source: image.source,
    digest: image.digest,
    ...(image.indexDigest ? { indexDigest: image.indexDigest } : {}),
    configDigest: image.configDigest,
    platform: image.platform,
    ...(image.config.created ? { created: image.config.created } : {}),
    ...(labels ? { labels } : {}),
    ...(image.manifest.annotations ? { annotations: image.manifest.annotations } : {}),
    layers: image.manifest.layers.map((d, i) => {
      const createdBy = history.length === image.manifest.layers.length ? history[i] : undefined;
      const diffId = image.config.rootfs.diff_ids[i];
      return {
        index: i,
        digest: d.digest,
        ...(diffId ? { diffId } : {}),
        mediaType: d.mediaType,
        size: d.size,
        ...(createdBy ? { createdBy } : {}),
      };
    }),
  };
  const contents = catalogTree(tree, catalogers);
  opts.inspect?.(tree, contents);
  return { subject, ...contents, stats: { files: tree.size, layers: stats } };
}

/** Walk and catalogue a root file system on disk (`dir:ROOTFS`). */
export async function inventoryRootfs(path: string, source: string, opts: InventoryOptions = {}): Promise<Inventory> {
  const catalogers = opts.catalogers ?? CATALOGERS;
  const collectors = [...collectorsFor(catalogers), ...(opts.collectors ?? [])];
  const { tree, entries, bytes } = await walkDirectory(path, collectors, opts);
  const contents = catalogTree(tree, catalogers);
  opts.inspect?.(tree, contents);
  return {
    subject: { kind: 'rootfs', source, layers: [{ index: 0 }] },
    ...contents,
    stats: { files: tree.size, layers: [{ index: 0, compressedBytes: bytes, uncompressedBytes: bytes, entries }] },
  };
}
