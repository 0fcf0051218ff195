import { parentPort } from 'node:worker_threads';
import { readAdvisoryText } from './readfile.js';

/**
 * Worker-thread entry (bundled as dist/import-worker.mjs): reads the batches of files it is sent. Only the reading:
 * strings cross threads as cheap copies, while parsed records would cost a serialisation on each side.
 */
parentPort?.on('message', (msg: { seq: number; files: string[] }) => {
  parentPort?.postMessage({ seq: msg.seq, texts: msg.files.map(readAdvisoryText) });
});
