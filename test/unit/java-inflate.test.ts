import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArchiveError } from '../../src/inventory/catalogers/java/errors.js';
import { InflateError, RawInflater } from '../../src/inventory/catalogers/java/rawinflate.js';

/**
 * Run the pako-backed inflater over `input` split at `splits`; the result says where the stream ended, or why
 * not. A given inflater is reset first, as the zip reader reuses one for every entry of an archive.
 */
function ours(
  input: Uint8Array,
  splits: readonly number[] = [],
  reused?: RawInflater,
): { out: Buffer; ended: boolean; used: number; error?: string } {
  const parts: Buffer[] = [];
  const onData = (c: Uint8Array): void => {
    parts.push(Buffer.from(c));
  };
  const inf = reused ?? new RawInflater(onData);
  if (reused) reused.reset(onData);
  let used = 0;
  let pos = 0;
  const cuts = [...new Set(splits)].filter((s) => s > 0 && s < input.length).sort((a, b) => a - b);
  try {
    for (const end of [...cuts, input.length]) {
      const n = inf.push(input.subarray(pos, end));
      used += n;
      pos = end;
      if (inf.ended) break;
    }
  } catch (err) {
    // Anything but the typed error (code INVALID) fails the test.
    if (!(err instanceof InflateError) || !(err instanceof ArchiveError) || err.code !== 'INVALID') throw err;
    return { out: Buffer.concat(parts), ended: false, used, error: err.message };
  }
  expect(inf.inputBytes).toBe(used);
  expect(inf.outputBytes).toBe(parts.reduce((n, p) => n + p.length, 0));
  return { out: Buffer.concat(parts), ended: inf.ended, used };
}

/** zlib as the oracle: the output and the number of input bytes its raw inflate used, or its error. */
function zlib(input: Uint8Array): { out: Buffer; used: number } | { error: string } {
  try {
    const r = inflateRawSync(input, { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    return { out: r.buffer, used: r.engine.bytesWritten };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

const dataArb = fc.oneof(
  fc.uint8Array({ maxLength: 70_000 }),
  // Compressible data: repeated words make back-references, long runs make long matches.
  fc
    .array(fc.constantFrom('abc', 'hello ', 'class ', '\n', 'java/lang/Object', 'x'.repeat(300)), { maxLength: 3000 })
    .map((ws) => new TextEncoder().encode(ws.join(''))),
);
const optsArb = fc.record({
  level: fc.integer({ min: 0, max: 9 }),
  strategy: fc.constantFrom(
    constants.Z_DEFAULT_STRATEGY,
    constants.Z_FILTERED,
    constants.Z_HUFFMAN_ONLY,
    constants.Z_RLE,
    constants.Z_FIXED,
  ),
  memLevel: fc.integer({ min: 1, max: 9 }),
});

describe('RawInflater (pako) against node:zlib', () => {
  /** Reused across runs, whatever the previous stream did (ended, failed, or stopped midway). */
  const shared = new RawInflater();

  it('decodes what zlib deflates, at any chunking, and finds the exact end of the stream', () => {
    fc.assert(
      fc.property(
        dataArb,
        optsArb,
        fc.array(fc.nat(80_000), { maxLength: 12 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.boolean(),
        (data, opts, splits, trailer, reuse) => {
          const packed = deflateRawSync(data, opts);
          const input = Buffer.concat([packed, trailer]);
          const r = ours(input, splits, reuse ? shared : undefined);
          expect(r.error).toBeUndefined();
          expect(r.ended).toBe(true);
          expect(r.used).toBe(packed.length);
          expect(Buffer.compare(r.out, Buffer.from(data))).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('agrees with zlib on random and mutated input: same output and end when zlib succeeds, failure when it fails', () => {
    const mutated = fc
      .tuple(
        dataArb,
        optsArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      )
      .map(([data, opts, flips]) => {
        const packed = Buffer.from(deflateRawSync(data, opts));
        for (const [at, v] of flips) if (packed.length > 0) packed[at % packed.length] = v;
        return packed;
      });
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 4000 }), mutated),
        fc.array(fc.nat(5000)),
        fc.boolean(),
        (input, splits, reuse) => {
          const theirs = zlib(input);
          const r = ours(input, splits, reuse ? shared : undefined);
          if ('error' in theirs) {
            expect(r.ended).toBe(false);
            // pako is a port of zlib: it reports the same fault in the same words, or, for input that stops
            // early, waits for more as zlib's streaming inflate would.
            if (theirs.error === 'unexpected end of file') expect(r.error).toBeUndefined();
            else expect(r.error).toBe(theirs.error);
          } else {
            expect(r.error).toBeUndefined();
            expect(r.ended).toBe(true);
            expect(r.used).toBe(theirs.used);
            expect(Buffer.compare(r.out, theirs.out)).toBe(0);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('decodes multi-megabyte output, sliding its window, with matches reaching back across the slide', () => {
    const parts: Buffer[] = [];
    let seed = 1;
    for (let i = 0; i < 600; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      parts.push(Buffer.from(`line ${i % 37} value=${seed % 1000}\n`.repeat(1 + (seed % 90))));
      parts.push(Buffer.from(Array.from({ length: seed % 3000 }, (_, k) => (k * seed) & 0xff)));
    }
    const data = Buffer.concat(parts);
    expect(data.length).toBeGreaterThan(1_000_000);
    const packed = deflateRawSync(data, { level: 9 });
    for (const step of [7, 1000, 65_536, packed.length]) {
      const splits = Array.from({ length: Math.ceil(packed.length / step) }, (_, k) => k * step);
      const r = ours(packed, splits);
      expect(r.ended).toBe(true);
      expect(r.used).toBe(packed.length);
      expect(Buffer.compare(r.out, data), `chunks of ${step}`).toBe(0);
    }
  });

  it('decodes a 64 MiB bomb in views of one reused buffer: nothing accumulates, and the end is exact', () => {
    const size = 64 * 1024 * 1024;
    const bomb = deflateRawSync(Buffer.alloc(size), { level: 9 });
    const zeros = Buffer.alloc(64 * 1024);
    const buffers = new Set<ArrayBufferLike>();
    let total = 0;
    let largest = 0;
    let allZero = true;
    const inf = new RawInflater((c) => {
      buffers.add(c.buffer);
      total += c.length;
      largest = Math.max(largest, c.length);
      if (
        c.length > zeros.length ||
        !Buffer.from(c.buffer, c.byteOffset, c.length).equals(zeros.subarray(0, c.length))
      ) {
        allZero = false;
      }
    });
    const t0 = performance.now();
    const used = inf.push(Buffer.concat([bomb, Buffer.from('PK\x03\x04')]));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(inf.ended).toBe(true);
    expect(used).toBe(bomb.length);
    expect(inf.inputBytes).toBe(bomb.length);
    expect(inf.outputBytes).toBe(size);
    expect(total).toBe(size);
    expect(allZero).toBe(true);
    expect(buffers.size).toBe(1);
    expect(largest).toBeLessThanOrEqual(64 * 1024);
    expect(inf.push(Buffer.from('more'))).toBe(0);
  });

  it('lets an error thrown by the receiver (the inflation budget) through as it is, and stops there', () => {
    const packed = deflateRawSync(Buffer.alloc(1024 * 1024, 'a'));
    const limit = new ArchiveError('LIMIT', 'stopped');
    let calls = 0;
    const inf = new RawInflater(() => {
      calls++;
      throw limit;
    });
    expect(() => inf.push(packed)).toThrow(limit);
    expect(calls).toBe(1);
    expect(inf.ended).toBe(false);
  });

  it('rejects the invalid constructs zlib rejects, in the words zlib uses, as typed ArchiveErrors', () => {
    // Hand-assembled streams (bits LSB first); zlib's message for each is the expected one.
    const rows: [string, number[]][] = [
      ['block type 3', [0x07]],
      ['stored LEN that is not the complement of NLEN', [0x01, 0x05, 0x00, 0x00, 0x00]],
      ['fixed block whose first symbol is a match (distance 1 before any output)', [0x03, 0x02, 0x00]],
      ['dynamic block declaring 287 literal/length codes', [0xf5, 0x00, 0x00]],
    ];
    for (const [what, bytes] of rows) {
      const theirs = zlib(Uint8Array.from(bytes));
      expect('error' in theirs, what).toBe(true);
      if ('error' in theirs) expect(ours(Uint8Array.from(bytes)).error, what).toBe(theirs.error);
      const inf = new RawInflater();
      let caught: unknown;
      try {
        inf.push(Uint8Array.from(bytes));
      } catch (err) {
        caught = err;
      }
      expect(caught, what).toBeInstanceOf(ArchiveError);
      expect((caught as ArchiveError).code, what).toBe('INVALID');
      // A failed stream stays failed until reset.
      expect(() => inf.push(Uint8Array.from([0x03, 0x00])), what).toThrow(InflateError);
      inf.reset();
      expect(inf.push(Uint8Array.from([0x03, 0x00, 0xff])), what).toBe(2);
      expect(inf.ended, what).toBe(true);
    }
  });
});
