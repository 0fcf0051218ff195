import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { claimBatch, sharedFileName, shareFileList } from '../../src/advisories/workers.js';

/** A fresh claim cell over `files` files, as `ImportWorkers.run` sets it up. */
function cellFor(files: number): BigInt64Array {
  const cell = new BigInt64Array(new SharedArrayBuffer(8));
  Atomics.store(cell, 0, BigInt(files) << 32n);
  return cell;
}

describe('import batch claims', () => {
  it('hand out every file once, the front ascending and wholly before the back, whatever the interleaving', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 64 }),
        (files, workers, pattern) => {
          const cell = cellFor(files);
          const front: [number, number][] = [];
          const back: [number, number][] = [];
          // The importing thread and the workers take turns in the order the pattern says, until both run dry.
          for (let turn = 0, dry = 0; dry < 2; turn++) {
            const end = pattern[turn % pattern.length] ? 'front' : 'back';
            const range = claimBatch(cell, end, workers + 1);
            if (range === undefined) dry++;
            else (end === 'front' ? front : back).push(range);
          }
          const all = [...front, ...[...back].reverse()];
          let next = 0;
          for (const [from, to] of all) {
            expect(from).toBe(next);
            expect(to - from).toBeGreaterThan(0);
            expect(to - from).toBeLessThanOrEqual(128);
            next = to;
          }
          expect(next).toBe(files);
        },
      ),
    );
  });

  it('shrinks the batches as the ends meet, so the last large files are shared out', () => {
    const cell = cellFor(1000);
    const sizes: number[] = [];
    for (let r = claimBatch(cell, 'front', 2); r; r = claimBatch(cell, 'front', 2)) sizes.push(r[1] - r[0]);
    expect(sizes[0]).toBe(125); // 1000 files over 4 x 2 threads
    expect(sizes.at(-1)).toBe(1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(1000);
  });

  it('share the file list byte for byte, whatever the names hold', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }), { maxLength: 50 }), (files) => {
        const list = shareFileList(files);
        expect(files.map((_, i) => sharedFileName(list, i))).toEqual(files);
      }),
    );
  });
});
