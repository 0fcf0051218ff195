import { parentPort, workerData } from 'node:worker_threads';
import { ShardWriter } from '../store/shard.js';
import { countOutcome, newImportStats } from './import.js';
import { readAdvisoryFile } from './readfile.js';
import { claimBatch, type FromWorker, sharedFileName, type ToWorker, type WorkerSetup } from './workers.js';

/**
 * Worker-thread entry (bundled as dist/import-worker.mjs): once it has the file list, claims batches from the back
 * of it until none is left, reads, parses and inserts each into its own shard file, and answers each with where its
 * rows are and what it counted. Only that small summary crosses threads; the rows stay in SQLite.
 */
const setup = workerData as WorkerSetup;
const shard = new ShardWriter(setup.shardPath, setup.shard, setup.gen);
const cell = new BigInt64Array(setup.claims);
const port = parentPort;

// `on`, not `once`: the listener keeps the worker alive until it is stopped, so it never exits while others work.
port?.on('message', (msg: ToWorker) => {
  let nameOf: (i: number) => string;
  if ('shared' in msg) {
    const { shared } = msg;
    const offsets = new Float64Array(shared.offsets);
    nameOf = (i) => sharedFileName(shared, i, offsets);
  } else {
    const { files } = msg;
    nameOf = (i) => files[i] as string;
  }
  for (let range = claimBatch(cell, 'back', setup.threads); range; range = claimBatch(cell, 'back', setup.threads)) {
    const stats = newImportStats();
    shard.startBatch();
    stats.files = range[1] - range[0];
    for (let i = range[0]; i < range[1]; i++) {
      countOutcome(readAdvisoryFile(nameOf(i)), stats, (rows) => shard.putRows(rows));
    }
    port.postMessage({ start: range[0], batch: shard.endBatch(), stats } satisfies FromWorker);
  }
  shard.close();
  port.postMessage({ closed: true } satisfies FromWorker);
});
