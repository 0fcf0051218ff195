import { existsSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { fail } from '../errors.js';
import type { AdvisoryDbWriter, ShardBatch } from '../store/advisorydb.js';
import type { ImportStats } from './import.js';

/** The worker script sits beside the bundled CLI; run from sources (tests), there is none and all work stays here. */
const WORKER_SCRIPT = fileURLToPath(new URL('./import-worker.mjs', import.meta.url));
/** Most files per batch: claiming and posting cost little beside reading 128 files. */
const BATCH = 128;
/** Most workers: each shard is a database the store attaches, and SQLite attaches at most 10. */
const MAX_WORKERS = 8;

/** What a worker is told at start: its shard file, the generation its rows carry, and the shared claim cell. */
export interface WorkerSetup {
  readonly shardPath: string;
  readonly shard: number;
  readonly gen: number;
  readonly claims: SharedArrayBuffer;
  readonly threads: number;
}

/**
 * Messages between this thread and a worker: the file list once (as an array, cloned into the worker, up to
 * SHARE_ABOVE names; shared beyond); back, each batch done, then closed.
 */
export type ToWorker = { readonly files: readonly string[] } | { readonly shared: SharedFileList };

/**
 * Lists longer than this are shared, not cloned: at the 2M-file limit a clone per worker took seconds and hundreds of
 * MiB. Below it the clone is the faster (reading names out of shared memory cost the 45k-file import ~70 ms).
 */
const SHARE_ABOVE = 100_000;
export type FromWorker =
  | { readonly start: number; readonly batch: ShardBatch; readonly stats: ImportStats }
  | { readonly closed: true };

/**
 * The file list in shared memory, UTF-8 names end to end with their offsets: every worker reads the one copy
 * (posting a 2M-name array would clone it into each worker, seconds and hundreds of MiB).
 */
export interface SharedFileList {
  readonly names: SharedArrayBuffer;
  /** Float64: byte offsets can pass 2^32 in a list of 2M long names. */
  readonly offsets: SharedArrayBuffer;
}

export function shareFileList(files: readonly string[]): SharedFileList {
  const offsets = new Float64Array(new SharedArrayBuffer(8 * (files.length + 1)));
  let total = 0;
  for (const [i, f] of files.entries()) {
    offsets[i] = total;
    total += Buffer.byteLength(f);
  }
  offsets[files.length] = total;
  const names = new SharedArrayBuffer(Math.max(total, 1));
  const bytes = Buffer.from(names);
  for (const [i, f] of files.entries()) bytes.write(f, offsets[i] as number, 'utf8');
  return { names, offsets: offsets.buffer as SharedArrayBuffer };
}

/** The `i`-th name of a shared file list. */
export function sharedFileName(list: SharedFileList, i: number, offsets = new Float64Array(list.offsets)): string {
  const from = offsets[i] as number;
  return Buffer.from(list.names, from, (offsets[i + 1] as number) - from).toString('utf8');
}

/**
 * The next batch of files `[from, to)` to import, or undefined when none is left. The importing thread takes
 * batches from the front of the list, the workers from the back, so the importing thread's rows (written straight
 * into the store) come before every worker's in file order. Both ends live in one 64-bit cell (front in the low
 * half), changed by compare-and-swap: no lock, so a descheduled thread never holds up the others. Batches shrink as
 * the ends meet (guided scheduling): a few large files there are shared out instead of all landing on one thread.
 */
export function claimBatch(cell: BigInt64Array, end: 'front' | 'back', threads: number): [number, number] | undefined {
  for (;;) {
    const seen = Atomics.load(cell, 0);
    const front = Number(seen & 0xffffffffn);
    const back = Number(seen >> 32n);
    if (front >= back) return undefined;
    const size = Math.min(BATCH, Math.ceil((back - front) / (4 * threads)));
    const range: [number, number] = end === 'front' ? [front, front + size] : [back - size, back];
    const next = (BigInt(end === 'front' ? back : back - size) << 32n) | BigInt(end === 'front' ? front + size : front);
    if (Atomics.compareExchange(cell, 0, seen, next) === seen) return range;
  }
}

/**
 * How many worker threads an import of `files` files gets besides the importing thread: none for a few files, else
 * one per further core, at most 3. PORTCULLIS_IMPORT_WORKERS overrides (0: all work on the importing thread).
 */
export function importWorkerCount(files: number, env: NodeJS.ProcessEnv = process.env): number {
  if (!existsSync(WORKER_SCRIPT)) return 0;
  const forced = env.PORTCULLIS_IMPORT_WORKERS;
  if (forced !== undefined && forced !== '') {
    const n = Number(forced);
    if (!Number.isInteger(n) || n < 0 || n > MAX_WORKERS)
      fail('USAGE', `PORTCULLIS_IMPORT_WORKERS must be 0-${MAX_WORKERS}, not '${forced}'`);
    return n;
  }
  if (files < 2 * BATCH) return 0;
  return Math.max(1, Math.min(3, availableParallelism() - 1));
}

let flagsSet = false;

/**
 * V8's helper threads (concurrent optimising compiles, parallel scavenges) run beside every isolate; with a worker
 * per core they compete with the threads doing the import for the same cores. On a 2-core machine turning both off
 * made the whole import 6-7% faster. The first is read when an isolate starts (so it reaches the workers only), the
 * second at each scavenge; setting them at run time was checked on Node 20, 22 and 24 (flags read once at heap
 * set-up, such as --single-threaded-gc, are not safe: V8 aborts). They stay set for the rest of the process, which
 * is the rest of the import.
 */
function quietHelperThreads(): void {
  if (flagsSet) return;
  flagsSet = true;
  setFlagsFromString('--no-concurrent-recompilation');
  setFlagsFromString('--no-parallel-scavenge');
}

/**
 * `count` import worker threads, started before the files are listed so that their start-up overlaps the walk. The
 * importing thread imports batches from the front of the list straight into the store; each worker imports batches
 * from the back into a shard file of its own, and the shards are copied in after the importing thread's rows, in
 * file order, so the store is the same as a one-thread import's.
 */
export class ImportWorkers {
  private readonly shardPaths: string[];
  private readonly workers: Worker[];
  private readonly claims = new SharedArrayBuffer(8);
  /** A worker's error before `run` listens (a shard it could not create), or the rejection of the running `run`. */
  private failure: Error | undefined;
  private rejectRun: ((err: Error) => void) | undefined;
  /** Workers that finished their share and closed their shard: their exit is no failure. */
  private readonly closed = new Set<Worker>();

  constructor(
    private readonly writer: AdvisoryDbWriter,
    count: number,
  ) {
    quietHelperThreads();
    this.shardPaths = Array.from({ length: count }, (_, i) => writer.shardPath(i));
    this.workers = [];
    try {
      for (const [shard, shardPath] of this.shardPaths.entries()) {
        const workerData: WorkerSetup = { shardPath, shard, gen: writer.gen, claims: this.claims, threads: count + 1 };
        this.workers.push(new Worker(WORKER_SCRIPT, { workerData }));
      }
    } catch (err) {
      for (const w of this.workers) void w.terminate();
      for (const p of this.shardPaths) rmSync(p, { force: true });
      throw err;
    }
    for (const w of this.workers) {
      w.on('error', (err) => this.fail(err));
      w.on('exit', (code) => {
        if (!this.closed.has(w)) this.fail(new Error(`an import worker stopped early (exit code ${code})`));
      });
    }
  }

  private fail(err: unknown): void {
    // An SQLite error thrown in a worker arrives as a plain object: keep its code and message, not "[object Object]".
    const e = err as { code?: unknown; message?: unknown } | undefined;
    this.failure ??=
      err instanceof Error
        ? err
        : new Error(
            `an import worker failed: ${typeof e?.code === 'string' ? `${e.code}: ` : ''}${typeof e?.message === 'string' ? e.message : String(err)}`,
          );
    this.rejectRun?.(this.failure);
  }

  /**
   * Import `files`, so the store is the same as a sequential import's. `importOwn` imports the files of one batch on
   * this thread, straight into the store, and returns their statistics; every batch's statistics go to `onBatch` in
   * file order (the workers' after this thread's last). `onFiles` hears of each batch done, in any order, for
   * progress. Any worker error rejects. Call once.
   */
  async run(
    files: readonly string[],
    importOwn: (files: readonly string[]) => ImportStats,
    onBatch: (stats: ImportStats) => void,
    onFiles: (count: number) => void,
  ): Promise<void> {
    const cell = new BigInt64Array(this.claims);
    Atomics.store(cell, 0, BigInt(files.length) << 32n);
    const threads = this.workers.length + 1;
    const theirs: { start: number; batch: ShardBatch; stats: ImportStats }[] = [];
    const list: ToWorker = files.length > SHARE_ABOVE ? { shared: shareFileList(files) } : { files };
    const closed = new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.rejectRun = reject;
      let open = this.workers.length;
      for (const w of this.workers) {
        w.on('message', (m: FromWorker) => {
          if ('closed' in m) {
            this.closed.add(w);
            if (--open === 0) {
              this.rejectRun = undefined; // the workers exit from here on
              resolve();
            }
            return;
          }
          theirs.push(m);
          onFiles(m.stats.files);
        });
        w.postMessage(list satisfies ToWorker);
      }
    });
    closed.catch(() => {}); // awaited below; a worker failing while this thread imports must not go unhandled
    for (let range = claimBatch(cell, 'front', threads); range; range = claimBatch(cell, 'front', threads)) {
      const stats = importOwn(files.slice(range[0], range[1]));
      onBatch(stats);
      onFiles(stats.files);
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => setImmediate(resolve)); // lets the workers' results in
    }
    await closed;
    theirs.sort((a, b) => a.start - b.start);
    for (const t of theirs) onBatch(t.stats);
    this.writer.merge(
      this.shardPaths,
      theirs.map((t) => t.batch),
    );
  }

  /** Stop the workers (whether or not `run` was called or finished) and remove their shard files. */
  async stop(): Promise<void> {
    this.rejectRun = undefined;
    await Promise.all(this.workers.map((w) => w.terminate()));
    for (const p of this.shardPaths) rmSync(p, { force: true });
  }
}
