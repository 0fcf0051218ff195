import { fail } from '../errors.js';
import type { FileInfo, FsNode, LayerChanges } from './filetree.js';
import { whiteoutTarget } from './filetree.js';
import type { EntrySink, TarEntry } from './tar.js';

/** A streaming analysis of one file: fed the file's bytes in order, then asked for its result. */
export interface StreamAnalyzer extends EntrySink {
  result(): unknown;
  /** True when the analyzer needs no more bytes; a reader that can seek may then stop reading the file. */
  readonly done?: boolean;
  /** The next file offset it needs: a reader that can seek may jump there, then calls `skip`. */
  readonly nextOffset?: number | undefined;
  skip?(to: number): void;
}

/** What a collector asks for a path it was shown: the whole content, or a streaming analysis. */
export type ContentRequest =
  | { readonly kind: 'buffer'; readonly history?: boolean; readonly maxBytes?: number }
  | { readonly kind: 'stream'; readonly create: (info: FileInfo) => StreamAnalyzer };

/** The walk-time half of a cataloger: decides from metadata alone which contents it needs. */
export interface Collector {
  readonly name: string;
  wants(info: FileInfo): ContentRequest | undefined;
  /**
   * True for a collector that keeps its own results (the secret scanner, which reads every file of every layer):
   * the tree then records neither that it wanted a path nor its analyses, which for a million files is most of the
   * walk's memory.
   */
  readonly keepsOwnResults?: boolean;
}

export interface CollectOptions {
  /** Largest file whose content is buffered for a cataloger (default 64 MiB); larger ones are noted as missing. */
  readonly maxFileBytes?: number;
  /** Most bytes buffered in all for one walk (default 256 MiB); past it contents are noted as missing. */
  readonly maxBufferedBytes?: number;
  /**
   * Most entries (files, directories, links, whiteouts) one walk records, counted over all its layers as they are
   * read (default 2,000,000); past it the walk fails as hostile (LAYER_INVALID).
   */
  readonly maxTreeEntries?: number;
  /**
   * Most bytes of names (paths and link targets, UTF-8) one walk records over all its layers (default 512 MiB);
   * past it the walk fails as hostile (LAYER_INVALID).
   */
  readonly maxTreeNameBytes?: number;
}

export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024 * 1024;
/** The largest real images have a few hundred thousand paths: ten times that is still far from a hostile tree. */
export const DEFAULT_MAX_TREE_ENTRIES = 2_000_000;
/**
 * Real paths average well under 100 bytes: 512 MiB holds millions of them. A walk at both limits (2M entries of
 * ~260-byte names) peaks near 1.3 GB RSS, far below the heap limit; a million 4 KiB names now stop at ~130k entries.
 */
export const DEFAULT_MAX_TREE_NAME_BYTES = 512 * 1024 * 1024;

/** The bytes one walk may keep in memory, shared by the collectors of all its layers. */
export class ContentBudget {
  private used = 0;
  constructor(readonly max: number = DEFAULT_MAX_BUFFERED_BYTES) {}
  /** Reserve `n` bytes; false when that would pass the budget. */
  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }
}

/**
 * The entries and name bytes one walk may record, shared by the collectors of all its layers (read concurrently):
 * every entry a layer shows is kept (in its changes, then the tree) until the walk ends, so without a bound a layer
 * of a million 4 KiB names exhausts the heap. Counted as entries are read; replaced entries still count.
 */
export class TreeBudget {
  private entries = 0;
  private nameBytes = 0;
  constructor(
    readonly maxEntries: number = DEFAULT_MAX_TREE_ENTRIES,
    readonly maxNameBytes: number = DEFAULT_MAX_TREE_NAME_BYTES,
  ) {}
  /** Record one entry of `bytes` name bytes; fails the walk (LAYER_INVALID, naming `where`) past either limit. */
  take(bytes: number, where: string): void {
    if (this.entries + 1 > this.maxEntries) {
      fail(
        'LAYER_INVALID',
        `${where}: the image has more than ${this.maxEntries} entries over its layers, the limit for one image walk`,
      );
    }
    if (this.nameBytes + bytes > this.maxNameBytes) {
      fail(
        'LAYER_INVALID',
        `${where}: the names of the image's entries exceed ${this.maxNameBytes} bytes over its layers, the limit for one image walk`,
      );
    }
    this.entries++;
    this.nameBytes += bytes;
  }
  /** Give back what a discarded reading of a layer (one that is read again) recorded. */
  release(entries: number, bytes: number): void {
    this.entries -= entries;
    this.nameBytes -= bytes;
  }
}

/** What the collectors of one walk's layers share: the content and tree budgets, and how a layer is named. */
export interface SharedBudgets {
  readonly content?: ContentBudget;
  readonly tree?: TreeBudget;
  /** Names the layer in messages (default `layer INDEX`). */
  readonly where?: string;
}

/**
 * Turns the entries of one layer into LayerChanges: records whiteouts, keeps metadata for every
 * path, and buffers or stream-analyses only what some collector asked for.
 */
export class LayerCollector {
  readonly changes: LayerChanges;
  private readonly maxFileBytes: number;

  private readonly budget: ContentBudget;
  private readonly treeBudget: TreeBudget;
  private readonly where: string;
  /** What this collector recorded in the tree budget, to give back if its reading is discarded. */
  private takenEntries = 0;
  private takenBytes = 0;

  constructor(
    index: number,
    private readonly collectors: readonly Collector[],
    opts: CollectOptions = {},
    shared: SharedBudgets = {},
  ) {
    this.budget = shared.content ?? new ContentBudget(opts.maxBufferedBytes);
    this.treeBudget = shared.tree ?? new TreeBudget(opts.maxTreeEntries, opts.maxTreeNameBytes);
    this.where = shared.where ?? `layer ${index}`;
    this.changes = {
      index,
      entries: new Map(),
      whiteouts: [],
      opaques: [],
      keepHistory: new Set(),
    };
    this.maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  }

  /** Give back to the shared tree budget what this collector recorded: its layer is read again from the start. */
  releaseTree(): void {
    this.treeBudget.release(this.takenEntries, this.takenBytes);
    this.takenEntries = 0;
    this.takenBytes = 0;
  }

  /** Handle one entry; returns a sink for its data when the content is wanted. */
  onEntry(entry: TarEntry): EntrySink | undefined {
    // Every entry is held until the walk ends (a node, a whiteout or opaque path): count it before keeping anything.
    const bytes = Buffer.byteLength(entry.path) + (entry.linkname ? Buffer.byteLength(entry.linkname) : 0);
    this.treeBudget.take(bytes, this.where);
    this.takenEntries++;
    this.takenBytes += bytes;
    const wo = whiteoutTarget(entry.path);
    if (wo) {
      if (wo.kind === 'opaque') this.changes.opaques.push(wo.target);
      else if (wo.target !== '') this.changes.whiteouts.push(wo.target);
      return undefined;
    }
    if (entry.path === '') return undefined; // the root directory entry ("./")
    const info: FileInfo = entry.layer === this.changes.index ? entry : { ...entry, layer: this.changes.index };
    const node: FsNode = { info };
    if (info.type === 'hardlink') {
      const target = this.changes.entries.get(info.linkname);
      if (target) node.linkTarget = target;
    }
    this.changes.entries.delete(info.path); // a later entry with the same name replaces the earlier one
    this.changes.entries.set(info.path, node);
    if (info.type !== 'file' && info.type !== 'hardlink') return undefined;
    let buffer = false;
    let maxBytes = this.maxFileBytes;
    let analyzers: [string, StreamAnalyzer][] | undefined;
    let wantedBy: string[] | undefined;
    let ownResults: StreamAnalyzer[] | undefined;
    for (const c of this.collectors) {
      const req = c.wants(info);
      if (!req) continue;
      if (c.keepsOwnResults) {
        if (req.kind === 'stream' && info.type === 'file') {
          ownResults ??= [];
          ownResults.push(req.create(info));
        }
        continue;
      }
      wantedBy ??= [];
      wantedBy.push(c.name);
      if (req.kind === 'buffer') {
        buffer = true;
        if (req.maxBytes !== undefined) maxBytes = Math.min(maxBytes, req.maxBytes);
        if (req.history) this.changes.keepHistory.add(info.path);
      } else if (info.type === 'file') {
        analyzers ??= [];
        analyzers.push([c.name, req.create(info)]);
      }
    }
    if (wantedBy) node.wantedBy = wantedBy;
    if (info.type === 'hardlink') {
      // Content comes from the link target when the tree is merged; note the need in case it was not kept.
      if (buffer || analyzers) node.missing = `hardlink to /${info.linkname} whose content was not kept`;
      return undefined;
    }
    if (buffer && info.size > maxBytes) {
      node.missing = `file of ${info.size} bytes is over the ${maxBytes}-byte content limit`;
      node.overLimit = true;
      buffer = false;
    } else if (buffer && !this.budget.take(info.size)) {
      node.missing = `the ${this.budget.max}-byte budget for file contents kept in memory is used up (raise --max-content-total)`;
      node.overLimit = true;
      buffer = false;
    }
    if (ownResults) {
      if (analyzers) for (const a of ownResults) analyzers.push(['', a]);
      else if (!buffer) return ownOnly(ownResults);
      else analyzers = ownResults.map((a) => ['', a]);
    }
    if (!buffer && !analyzers) return undefined;
    const parts: Buffer[] | undefined = buffer ? [] : undefined;
    let got = 0;
    return {
      get done() {
        return !parts && (analyzers ?? []).every(([, a]) => a.done === true);
      },
      get nextOffset() {
        if (parts || !analyzers) return undefined;
        let min: number | undefined;
        for (const [, a] of analyzers) {
          if (a.done) continue;
          const n = a.nextOffset;
          if (n === undefined || !a.skip) return undefined;
          min = min === undefined ? n : Math.min(min, n);
        }
        return min;
      },
      skip(to) {
        for (const [, a] of analyzers ?? []) if (!a.done) a.skip?.(to);
      },
      write(chunk) {
        if (parts) {
          parts.push(Buffer.from(chunk)); // copy: chunks are views into a reused decompression buffer
          got += chunk.length;
        }
        if (analyzers) for (const [, a] of analyzers) a.write(chunk);
      },
      end() {
        if (parts) node.content = Buffer.concat(parts, got);
        if (analyzers) {
          node.analyses = new Map();
          for (const [name, a] of analyzers) {
            a.end();
            if (name !== '') node.analyses.set(name, a.result());
          }
        }
      },
    };
  }
}

/** The sink for a file only self-keeping collectors read: the analyzers themselves, nothing kept on the node. */
function ownOnly(analyzers: readonly StreamAnalyzer[]): EntrySink {
  if (analyzers.length === 1) return analyzers[0] as StreamAnalyzer;
  return {
    get done() {
      return analyzers.every((a) => a.done === true);
    },
    write(chunk) {
      for (const a of analyzers) if (!a.done) a.write(chunk);
    },
    end() {
      for (const a of analyzers) a.end();
    },
  };
}
