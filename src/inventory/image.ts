import { walkDirectory } from '../image/dirwalk.js';
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

/** Walk and catalogue one resolved image. */
export async function inventoryImage(
  image: ResolvedImage,
  opts: WalkOptions & { catalogers?: readonly Cataloger[] } = {},
): Promise<Inventory> {
  const catalogers = opts.catalogers ?? CATALOGERS;
  const { tree, stats } = await walkLayers(image.layers, collectorsFor(catalogers), opts);
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
  return { subject, ...catalogTree(tree, catalogers), stats: { files: tree.size, layers: stats } };
}

/** Walk and catalogue a root file system on disk (`dir:ROOTFS`). */
export async function inventoryRootfs(
  path: string,
  source: string,
  opts: WalkOptions & { catalogers?: readonly Cataloger[] } = {},
): Promise<Inventory> {
  const catalogers = opts.catalogers ?? CATALOGERS;
  const { tree, entries, bytes } = await walkDirectory(path, collectorsFor(catalogers), opts);
  return {
    subject: { kind: 'rootfs', source, layers: [{ index: 0 }] },
    ...catalogTree(tree, catalogers),
    stats: { files: tree.size, layers: [{ index: 0, compressedBytes: bytes, uncompressedBytes: bytes, entries }] },
  };
}
