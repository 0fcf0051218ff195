import { existsSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { fail } from '../errors.js';
import type { AdvisoryDbWriter, ShardBatch } from '../store/advisorydb.js';
import type { ImportStats } from './import.js';

/** The worker script sits beside the bundled CLI; run from sources (tests), there is none and all work stays here. */
const WORKER_SCRIPT = fileURLToPath(new URL('./import-worker.mjs', import.meta.url));
/** Most files per message: posting costs little beside reading 128 files. */
const BATCH = 128;
/** Most workers: each shard is a database the store attaches, and SQLite attaches at most 10. */
const MAX_WORKERS = 8;
/** Batches per worker sent ahead, so a worker never waits for its next one. */
const IN_FLIGHT = 2;

/** What a worker is told at start: its shard file and the generation its rows carry. */
export interface WorkerSetup {
  readonly shardPath: string;
  readonly shard: number;
  readonly gen: number;
}

/** Messages between this thread and a worker. */
export type ToWorker = { readonly seq: number; readonly files: readonly string[] } | { readonly close: true };
export type FromWorker =
  | { readonly seq: number; readonly batch: ShardBatch; readonly stats: ImportStats }
  | { readonly closed: true };

/**
 * How many worker threads an import of `files` files gets: none for a few files, else one per core, at most 4
 * (this thread only hands out batches and copies the shards in). PORTCULLIS_IMPORT_WORKERS overrides (0: all work
 * on this thread).
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
  return Math.max(1, Math.min(4, availableParallelism()));
}

/**
 * `count` import worker threads, started before the files are listed so that their start-up overlaps the walk. Each
 * reads, parses and inserts into a shard file of its own; `run` copies the shards into the writer in file order.
 */
export class ImportWorkers {
  private readonly shardPaths: string[];
  private readonly workers: Worker[];
  /** A worker's error before `run` listens (a shard it could not create), or the rejection of the running `run`. */
  private failure: Error | undefined;
  private rejectRun: ((err: Error) => void) | undefined;

  constructor(
    private readonly writer: AdvisoryDbWriter,
    count: number,
  ) {
    this.shardPaths = Array.from({ length: count }, (_, i) => writer.shardPath(i));
    this.workers = [];
    try {
      for (const [shard, shardPath] of this.shardPaths.entries()) {
        const workerData: WorkerSetup = { shardPath, shard, gen: writer.gen };
        this.workers.push(new Worker(WORKER_SCRIPT, { workerData }));
      }
    } catch (err) {
      for (const w of this.workers) void w.terminate();
      for (const p of this.shardPaths) rmSync(p, { force: true });
      throw err;
    }
    for (const w of this.workers) {
      w.on('error', (err) => this.fail(err));
      w.on('exit', (code) => this.fail(new Error(`an import worker stopped early (exit code ${code})`)));
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.rejectRun?.(this.failure);
  }

  /**
   * Import `files`, so the store is the same as a sequential import's; each batch's statistics go to `onBatch` in
   * file order. At most IN_FLIGHT batches per worker are in flight. Any worker error rejects. Call once.
   */
  async run(files: readonly string[], onBatch: (stats: ImportStats) => void): Promise<void> {
    const workers = this.workers;
    const done = new Map<number, { batch: ShardBatch; stats: ImportStats }>();
    const ordered: ShardBatch[] = [];
    await new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.rejectRun = reject;
      let next = 0; // the first file not sent yet
      let sent = 0; // batches sent
      let closed = 0;
      const closing = new Set<Worker>();
      // The next batch, or once there are none left the close (after the batches the worker still has queued).
      // Batches shrink towards the end (guided scheduling): a few large files there, such as Alpine's secdb with
      // thousands of records each, are shared out instead of all landing on one worker.
      const send = (w: Worker): void => {
        if (next < files.length) {
          const size = Math.min(BATCH, Math.ceil((files.length - next) / (4 * workers.length)));
          w.postMessage({ seq: sent++, files: files.slice(next, next + size) } satisfies ToWorker);
          next += size;
        } else if (!closing.has(w)) {
          closing.add(w);
          w.postMessage({ close: true } satisfies ToWorker);
        }
      };
      for (const w of workers) {
        w.on('message', (m: FromWorker) => {
          if ('closed' in m) {
            if (++closed === workers.length) {
              this.rejectRun = undefined; // the workers exit from here on
              resolve();
            }
            return;
          }
          done.set(m.seq, m);
          try {
            for (let b = done.get(ordered.length); b; b = done.get(ordered.length)) {
              done.delete(ordered.length);
              ordered.push(b.batch);
              onBatch(b.stats);
            }
          } catch (err) {
            reject(err);
            return;
          }
          send(w);
        });
        for (let i = 0; i < IN_FLIGHT && !closing.has(w); i++) send(w);
      }
    });
    this.writer.merge(this.shardPaths, ordered);
  }

  /** Stop the workers (whether or not `run` was called or finished) and remove their shard files. */
  async stop(): Promise<void> {
    this.rejectRun = undefined;
    await Promise.all(this.workers.map((w) => w.terminate()));
    for (const p of this.shardPaths) rmSync(p, { force: true });
  }
}
