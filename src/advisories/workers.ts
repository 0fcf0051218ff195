import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { fail } from '../errors.js';
import { type FileOutcome, type FileText, parseAdvisoryText } from './readfile.js';

/** The worker script sits beside the bundled CLI; run from sources (tests), there is none and reading stays here. */
const WORKER_SCRIPT = fileURLToPath(new URL('./import-worker.mjs', import.meta.url));
/** Files per message: large enough that posting costs little, small enough that workers share the tail. */
const BATCH = 128;
/** Batches per worker sent ahead: enough that one slow batch (a 30k-record tracker file) does not idle the rest. */
const IN_FLIGHT = 8;

/**
 * How many reader threads an import of `files` files gets: none for a few files, else one fewer than the cores
 * (this thread inserts), at most 3. PORTCULLIS_IMPORT_WORKERS overrides (0: read on this thread).
 */
export function importWorkerCount(files: number, env: NodeJS.ProcessEnv = process.env): number {
  if (!existsSync(WORKER_SCRIPT)) return 0;
  const forced = env.PORTCULLIS_IMPORT_WORKERS;
  if (forced !== undefined && forced !== '') {
    const n = Number(forced);
    if (!Number.isInteger(n) || n < 0 || n > 64)
      fail('USAGE', `PORTCULLIS_IMPORT_WORKERS must be 0-64, not '${forced}'`);
    return n;
  }
  if (files < 2 * BATCH) return 0;
  return Math.max(1, Math.min(3, availableParallelism() - 1));
}

/**
 * Read and parse `files` in worker threads and hand each outcome to `apply` in file order. At most IN_FLIGHT batches per
 * worker are in flight, so memory stays bounded however fast the workers are. Any worker error rejects, and every
 * worker is stopped.
 */
export function readInWorkers(files: readonly string[], count: number, apply: (o: FileOutcome) => void): Promise<void> {
  const batches: string[][] = [];
  for (let i = 0; i < files.length; i += BATCH) batches.push(files.slice(i, i + BATCH));
  const workers = Array.from({ length: count }, () => new Worker(WORKER_SCRIPT));
  const ready = new Map<number, FileOutcome[]>();
  let sent = 0;
  let applied = 0;
  const finished = new Promise<void>((resolve, reject) => {
    const send = (w: Worker): void => {
      if (sent < batches.length) w.postMessage({ seq: sent, files: batches[sent++] });
    };
    if (batches.length === 0) resolve();
    for (const w of workers) {
      w.on('message', (m: { seq: number; texts: FileText[] }) => {
        try {
          const batch = batches[m.seq] as string[];
          ready.set(
            m.seq,
            m.texts.map((t, i) => parseAdvisoryText(batch[i] as string, t)),
          );
          for (let next = ready.get(applied); next; next = ready.get(applied)) {
            ready.delete(applied++);
            for (const o of next) apply(o);
          }
        } catch (err) {
          reject(err);
          return;
        }
        if (applied === batches.length) resolve();
        else send(w);
      });
      w.on('error', reject);
      w.on('exit', (code) => {
        if (applied < batches.length) reject(new Error(`an import worker stopped early (exit code ${code})`));
      });
      for (let i = 0; i < IN_FLIGHT; i++) send(w);
    }
  });
  return finished.finally(() => Promise.all(workers.map((w) => w.terminate())));
}
