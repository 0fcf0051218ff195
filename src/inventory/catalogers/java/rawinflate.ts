import {
  Z_BUF_ERROR,
  Z_NO_FLUSH,
  Z_OK,
  Z_STREAM_END,
  ZStream,
  zlibInflate,
  zlibInflateInit2,
  zlibInflateReset,
} from 'pako';
import { ArchiveError } from './errors.js';

/**
 * Synchronous, resumable raw-DEFLATE decoding (ref: RFC 1951) with pako, the JavaScript port of zlib.
 * node:zlib has no synchronous streaming API (its sync calls are one-shot, its streams deliver later), while a
 * StreamAnalyzer must decode chunk by chunk as the layer streams. pako's low-level zlib interface is driven
 * directly: zlib's `avail_in` says exactly where a deflate stream ends (zip data descriptors need that), and
 * one output buffer is reused, so decoded bytes are never accumulated.
 */

/** Invalid deflate data; the message is zlib's. */
export class InflateError extends ArchiveError {
  override readonly name = 'InflateError';
  constructor(message: string) {
    super('INVALID', message);
  }
}

/** Output buffer of one inflater: decoded bytes are handed out in views of at most this size. */
const OUT_SIZE = 64 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * Decodes raw deflate streams pushed in chunks, one after another (see `reset`). Decoded bytes go to the
 * current `onData` as views into a reused buffer (copy what you keep); every decoded byte goes there, so the
 * caller counts or discards them.
 */
export class RawInflater {
  private readonly strm = new ZStream();
  private out: Uint8Array<ArrayBuffer> = EMPTY;
  private onData: ((chunk: Uint8Array) => void) | undefined;
  private state: 'running' | 'ended' | 'failed' = 'running';
  private consumed = 0;
  private produced = 0;

  constructor(onData?: (chunk: Uint8Array) => void) {
    // -15: a raw stream (no zlib header or checksum) with the 32 KiB window deflate allows.
    const status = zlibInflateInit2(this.strm, -15);
    if (status !== Z_OK) throw new Error(`internal: pako inflateInit2 returned ${status}`);
    this.onData = onData;
  }

  /** Start a new stream, keeping the window and output buffers; `onData` receives its bytes. */
  reset(onData?: (chunk: Uint8Array) => void): void {
    zlibInflateReset(this.strm);
    this.onData = onData;
    this.state = 'running';
    this.consumed = 0;
    this.produced = 0;
  }

  /** True once the final block has been decoded. */
  get ended(): boolean {
    return this.state === 'ended';
  }

  /** Bytes decoded so far in this stream. */
  get outputBytes(): number {
    return this.produced;
  }

  /** Input bytes taken so far; once the stream has ended, exactly the bytes that belong to it. */
  get inputBytes(): number {
    return this.consumed;
  }

  /**
   * Feed compressed bytes. Returns how many bytes of `input` belong to the stream: all of them, unless the
   * stream ended inside this chunk. Throws InflateError on invalid data; errors thrown by `onData` pass through.
   */
  push(input: Uint8Array): number {
    if (this.state === 'ended' || input.length === 0) return 0;
    if (this.state === 'failed') throw new InflateError('inflater used after invalid data');
    if (this.out.length === 0) this.out = new Uint8Array(OUT_SIZE);
    const s = this.strm;
    s.input = input;
    s.next_in = 0;
    s.avail_in = input.length;
    let used = 0;
    try {
      for (;;) {
        s.output = this.out;
        s.next_out = 0;
        s.avail_out = this.out.length;
        const status = zlibInflate(s, Z_NO_FLUSH);
        if (status !== Z_OK && status !== Z_STREAM_END && status !== Z_BUF_ERROR) {
          this.state = 'failed';
          throw new InflateError(s.msg || `zlib status ${status}`);
        }
        const n = s.next_out;
        if (n > 0) {
          this.produced += n;
          this.onData?.(this.out.subarray(0, n));
        }
        if (status === Z_STREAM_END) {
          this.state = 'ended';
          break;
        }
        // Z_BUF_ERROR means no progress was possible; a full output buffer may hold back more output.
        if (status === Z_BUF_ERROR || (s.avail_in === 0 && s.avail_out > 0)) break;
      }
    } finally {
      used = input.length - s.avail_in;
      this.consumed += used;
      // The chunk is the caller's: keep no reference to it.
      s.input = EMPTY;
      s.avail_in = 0;
    }
    return used;
  }
}
