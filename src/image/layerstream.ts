import type { Readable, Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import { fail, PortcullisError, printable } from '../errors.js';
import { DigestVerifier } from '../oci/digest.js';
import { type Compression, createDecompressor, sniffCompression } from './decompress.js';

/** Limits that keep a hostile layer from costing unbounded time. */
export interface LayerLimits {
  /** Largest uncompressed layer accepted, in bytes (default 64 GiB). */
  readonly maxLayerBytes?: number;
  /** Largest uncompressed/compressed ratio once past 256 MiB (default 200; real layers are 2-10). */
  readonly maxRatio?: number;
}

export interface LayerStreamOptions extends LayerLimits {
  /** Digest and size of the stored (compressed) blob; checked while streaming. */
  readonly digest?: string;
  readonly size?: number;
  /** The config's diff_id for this layer: digest of the uncompressed tar; checked while streaming. */
  readonly diffId?: string;
  /** Compression declared by the media type; 'sniff' looks at the bytes. */
  readonly compression: Compression | 'sniff';
  readonly where: string;
  /** Receives each uncompressed chunk, synchronously; throwing aborts the read. */
  readonly onData: (chunk: Uint8Array) => void;
  /** Told the running count of stored bytes read, for progress displays. */
  readonly onRead?: (bytes: number) => void;
}

const RATIO_FLOOR = 256 * 1024 * 1024;
/**
 * Stored bytes handed to the decompressor at a time. zlib inflates each write in the thread pool, one job per write:
 * fed the 16 KiB records a TLS socket delivers, the round trips, not the inflating, set the pace (a 51 MB layer from a
 * registry read at a third of the speed of the same file on disk).
 */
const FEED_BYTES = 512 * 1024;

/**
 * Read one layer blob in a single pass: hash the stored bytes, decompress once, hash the output
 * against the diff_id, and hand every uncompressed chunk to `onData`. Resolves with the byte counts
 * only when both digests matched; rejects (and destroys the input) on the first problem.
 */
export async function streamLayer(
  input: Readable,
  opts: LayerStreamOptions,
): Promise<{ compressed: number; uncompressed: number }> {
  const stored = opts.digest ? new DigestVerifier(opts.digest, opts.size, `${opts.where} blob`) : undefined;
  // Without a stored digest (an uncompressed layer whose digest is its diff_id) the size is still enforced.
  const sizeOnly = !stored && opts.size !== undefined ? opts.size : undefined;
  const diff = opts.diffId ? new DigestVerifier(opts.diffId, undefined, `${opts.where} diff_id`) : undefined;
  const maxBytes = opts.maxLayerBytes ?? 64 * 1024 ** 3;
  const maxRatio = opts.maxRatio ?? 200;
  let compressedBytes = 0;
  let uncompressedBytes = 0;
  let failure: unknown;
  let decomp: Transform | undefined;
  let declared: Compression | undefined = opts.compression === 'sniff' ? undefined : opts.compression;

  const deliver = (chunk: Uint8Array): void => {
    uncompressedBytes += chunk.length;
    if (uncompressedBytes > maxBytes) {
      fail('DECOMPRESSION_BOMB', `${opts.where}: uncompressed size passes the ${maxBytes}-byte limit`);
    }
    // Only bytes actually read count: the descriptor's size is the image author's claim.
    const base = compressedBytes;
    if (uncompressedBytes > RATIO_FLOOR && uncompressedBytes > base * maxRatio) {
      fail(
        'DECOMPRESSION_BOMB',
        `${opts.where}: expands more than ${maxRatio}x (${uncompressedBytes} bytes from ${base})`,
      );
    }
    diff?.update(chunk);
    opts.onData(chunk);
  };

  const abort = (err: unknown): void => {
    if (failure === undefined) failure = err;
    // Destroy with the error, so the decompressor's completion rejects instead of waiting for an 'end' that never comes.
    decomp?.destroy(err instanceof Error ? err : new Error(String(err)));
    input.destroy();
  };

  let decompDone: Promise<unknown> | undefined;
  const start = (kind: Compression): void => {
    const d = createDecompressor(kind);
    if (!d) return;
    decomp = d;
    d.on('data', (out: Buffer) => {
      if (failure !== undefined) return;
      try {
        deliver(out);
      } catch (err) {
        abort(err);
      }
    });
    // Whatever the decompressor itself fails with is damaged data (zstd-napi's messages name no code to tell by).
    decompDone = finished(d).catch((err: unknown) => {
      if (failure === undefined) failure = corrupt(err, opts.where);
    });
  };
  const forward = async (chunk: Buffer): Promise<void> => {
    if (!decomp) return deliver(chunk);
    if (!decomp.write(chunk)) await drained(decomp);
  };
  let feed: Buffer[] = [];
  let feedBytes = 0;
  const flushFeed = async (): Promise<void> => {
    if (feedBytes === 0) return;
    const chunk = feed.length === 1 ? (feed[0] as Buffer) : Buffer.concat(feed, feedBytes);
    feed = [];
    feedBytes = 0;
    await forward(chunk);
  };
  let head: Buffer | undefined; // first bytes, held until there are enough to sniff the compression
  try {
    for await (const raw of input) {
      if (failure !== undefined) break;
      let chunk = raw as Buffer;
      compressedBytes += chunk.length;
      stored?.update(chunk);
      if (sizeOnly !== undefined && compressedBytes > sizeOnly) {
        fail('SIZE_MISMATCH', `${opts.where} blob: more than the ${sizeOnly} bytes its descriptor declares`);
      }
      opts.onRead?.(compressedBytes);
      if (declared === undefined) {
        head = head ? Buffer.concat([head, chunk]) : chunk;
        if (head.length < 4) continue;
        declared = sniffCompression(head);
        chunk = head;
        head = undefined;
        start(declared);
      } else if (decomp === undefined && declared !== 'none' && compressedBytes === chunk.length) {
        start(declared);
      }
      feed.push(chunk);
      feedBytes += chunk.length;
      if (feedBytes >= FEED_BYTES) await flushFeed();
    }
    if (failure === undefined) await flushFeed();
    if (failure === undefined && head) {
      start(sniffCompression(head));
      await forward(head);
    }
    if (failure === undefined && decomp) {
      (decomp as Transform).end();
      await decompDone;
    }
  } catch (err) {
    if (failure === undefined) failure = err;
  }
  if (failure !== undefined) {
    input.destroy();
    decomp?.destroy();
    throw asLayerError(failure, opts.where);
  }
  stored?.finish();
  if (sizeOnly !== undefined && compressedBytes !== sizeOnly) {
    fail('SIZE_MISMATCH', `${opts.where} blob: ${compressedBytes} bytes, its descriptor declares ${sizeOnly}`);
  }
  diff?.finish();
  return { compressed: compressedBytes, uncompressed: uncompressedBytes };
}

/** Wait for a writable to drain, or to fail or close, without leaving listeners behind. */
function drained(stream: Transform): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

/** Errors of the connection or stream itself: worth reading the layer again. */
const TRANSIENT = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

function corrupt(err: unknown, where: string): PortcullisError {
  if (err instanceof PortcullisError) return err;
  const message = printable((err as Error)?.message ?? String(err));
  return new PortcullisError('LAYER_INVALID', `${where}: corrupt or truncated compressed data (${message})`, {
    cause: err,
  });
}

function asLayerError(err: unknown, where: string): PortcullisError {
  if (err instanceof PortcullisError) return err;
  const e = err as NodeJS.ErrnoException;
  const message = printable(e?.message ?? String(err));
  if (
    e?.code === 'Z_BUF_ERROR' ||
    e?.code === 'Z_DATA_ERROR' ||
    /zstd|unexpected end|incorrect header/i.test(message)
  ) {
    return corrupt(err, where);
  }
  if (e?.code && TRANSIENT.has(e.code)) {
    return new PortcullisError('NETWORK', `${where}: reading the blob failed (${e.code})`, {
      cause: err,
      retryable: true,
    });
  }
  if (e?.code && /^E[A-Z]+$/.test(e.code)) {
    return new PortcullisError('NOT_FOUND', `${where}: cannot read the blob (${e.code})`, { cause: err });
  }
  return new PortcullisError('INTERNAL', `${where}: ${message}`, { cause: err });
}
