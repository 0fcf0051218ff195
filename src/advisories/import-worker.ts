import { parentPort, workerData } from 'node:worker_threads';
import { ShardWriter } from '../store/shard.js';
import { countOutcome, newImportStats } from './import.js';
import { readAdvisoryFile } from './readfile.js';
import type { FromWorker, ToWorker, WorkerSetup } from './workers.js';

/**
 * Worker-thread entry (bundled as dist/import-worker.mjs): reads, parses and inserts the batches of files it is sent
 * into its own shard file, and answers each with where its rows are and what it counted. Only that small summary
 * crosses threads; the rows stay in SQLite.
 */
const setup = workerData as WorkerSetup;
const shard = new ShardWriter(setup.shardPath, setup.shard, setup.gen);
const port = parentPort;

port?.on('message', (msg: ToWorker) => {
  if ('close' in msg) {
    shard.close();
    port.postMessage({ closed: true } satisfies FromWorker);
    return;
  }
  const stats = newImportStats();
  shard.startBatch();
  stats.files = msg.files.length;
  for (const file of msg.files) countOutcome(readAdvisoryFile(file), stats, (rows) => shard.putRows(rows));
  port.postMessage({ seq: msg.seq, batch: shard.endBatch(), stats } satisfies FromWorker);
});
