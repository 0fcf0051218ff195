import type { Readable } from 'node:stream';
import { PortcullisError } from '../errors.js';
import { type CollectOptions, type Collector, ContentBudget, LayerCollector, TreeBudget } from './collect.js';
import type { Compression } from './decompress.js';
import { FileTree, type LayerChanges } from './filetree.js';
import { type LayerLimits, streamLayer } from './layerstream.js';
import { TarReader } from './tar.js';

/** One layer to walk: where its blob comes from and what it must hash to. */
export interface LayerInput {
  readonly index: number;
  /** Names the layer in messages, e.g. `layer 2 (sha256:ab12..)`. */
  readonly where: string;
  readonly digest?: string;
  readonly size?: number;
  readonly diffId?: string;
  readonly compression: Compression | 'sniff';
  open(): Promise<Readable>;
}

/** Progress of a walk: bytes of stored blob read so far, per layer. */
export interface WalkProgress {
  readonly layer: number;
  readonly bytes: number;
  readonly total: number | undefined;
  readonly done: boolean;
}

export interface WalkOptions extends CollectOptions, LayerLimits {
  /** Layers read at the same time (default 3); they are still applied in order. */
  readonly concurrency?: number;
  readonly onProgress?: (p: WalkProgress) => void;
  /** Tries per layer when the read fails for a retryable reason (default 3). */
  readonly layerAttempts?: number;
}

/** Per-layer statistics of a finished walk. */
export interface LayerStats {
  readonly index: number;
  readonly compressedBytes: number;
  readonly uncompressedBytes: number;
  readonly entries: number;
}

/**
 * Walk the layers of an image in one pass each: every blob is read once, decompressed once and
 * verified against its digest and diff_id while it streams; the changes are applied bottom-up.
 */
export async function walkLayers(
  layers: readonly LayerInput[],
  collectors: readonly Collector[],
  opts: WalkOptions = {},
): Promise<{ tree: FileTree; stats: LayerStats[] }> {
  const stats: LayerStats[] = [];
  const concurrency = Math.max(1, opts.concurrency ?? 3);
  const pending: Promise<{ changes: LayerChanges; stats: LayerStats }>[] = [];
  let next = 0;
  const abort = new AbortController();
  // Both budgets count over the whole walk: layers are read concurrently, and all of them are kept until it ends.
  const budgets: Budgets = {
    content: new ContentBudget(opts.maxBufferedBytes),
    tree: new TreeBudget(opts.maxTreeEntries, opts.maxTreeNameBytes),
  };
  const tree = new FileTree(budgets.tree);
  const startNext = (): void => {
    const layer = layers[next++];
    if (!layer) return;
    const p = readLayerWithRetry(layer, collectors, opts, abort.signal, budgets);
    // A failed layer stops the others mid-stream: nothing is gained by reading the rest.
    p.catch((err: unknown) => abort.abort(err));
    pending.push(p);
  };
  for (let i = 0; i < Math.min(concurrency, layers.length); i++) startNext();
  for (let i = 0; i < layers.length; i++) {
    const result = await (pending[i] as Promise<{ changes: LayerChanges; stats: LayerStats }>);
    try {
      tree.apply(result.changes, (layers[i] as LayerInput).where);
    } catch (err) {
      abort.abort(err); // the tree budget ran out on parents the layer did not list: stop the layers still reading
      throw err;
    }
    stats.push(result.stats);
    startNext();
  }
  return { tree, stats };
}

interface Budgets {
  readonly content: ContentBudget;
  readonly tree: TreeBudget;
}

/** Layer reads that fail mid-stream for a retryable reason (reset, timeout) start over, from a fresh collector. */
async function readLayerWithRetry(
  layer: LayerInput,
  collectors: readonly Collector[],
  opts: WalkOptions,
  signal: AbortSignal,
  budgets: Budgets,
): Promise<{ changes: LayerChanges; stats: LayerStats }> {
  const attempts = Math.max(1, opts.layerAttempts ?? 3);
  for (let attempt = 1; ; attempt++) {
    try {
      return await readLayer(layer, collectors, opts, signal, budgets);
    } catch (err) {
      if (!(err instanceof PortcullisError) || !err.retryable || attempt >= attempts || signal.aborted) throw err;
    }
  }
}

async function readLayer(
  layer: LayerInput,
  collectors: readonly Collector[],
  opts: WalkOptions,
  signal: AbortSignal,
  budgets: Budgets,
): Promise<{ changes: LayerChanges; stats: LayerStats }> {
  const collector = new LayerCollector(layer.index, collectors, opts, { ...budgets, where: layer.where });
  try {
    return await readLayerInto(collector, layer, opts, signal);
  } catch (err) {
    collector.releaseTree(); // a retry reads the layer again from the start: its entries must not count twice
    throw err;
  }
}

async function readLayerInto(
  collector: LayerCollector,
  layer: LayerInput,
  opts: WalkOptions,
  signal: AbortSignal,
): Promise<{ changes: LayerChanges; stats: LayerStats }> {
  const tar = new TarReader({ where: layer.where, layer: layer.index, onEntry: (e) => collector.onEntry(e) });
  if (signal.aborted) throw signal.reason;
  const input = await layer.open();
  if (signal.aborted) {
    // Another layer failed while this one was still opening: stop before reading anything.
    input.destroy();
    throw signal.reason;
  }
  const onAbort = (): void => {
    input.destroy(signal.reason as Error);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  const report = opts.onProgress;
  const counts = await streamLayer(input, {
    ...(layer.digest ? { digest: layer.digest } : {}),
    ...(layer.size !== undefined ? { size: layer.size } : {}),
    ...(layer.diffId ? { diffId: layer.diffId } : {}),
    ...(opts.maxLayerBytes !== undefined ? { maxLayerBytes: opts.maxLayerBytes } : {}),
    ...(opts.maxRatio !== undefined ? { maxRatio: opts.maxRatio } : {}),
    compression: layer.compression,
    where: layer.where,
    onData: (chunk) => tar.push(chunk),
    ...(report
      ? { onRead: (bytes: number) => report({ layer: layer.index, bytes, total: layer.size, done: false }) }
      : {}),
  }).finally(() => signal.removeEventListener('abort', onAbort));
  tar.finish();
  opts.onProgress?.({ layer: layer.index, bytes: counts.compressed, total: layer.size, done: true });
  return {
    changes: collector.changes,
    stats: {
      index: layer.index,
      compressedBytes: counts.compressed,
      uncompressedBytes: counts.uncompressed,
      entries: tar.count,
    },
  };
}
