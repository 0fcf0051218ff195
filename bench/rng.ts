/** A small seeded PRNG (mulberry32): the synthetic image must be the same bytes on every machine. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** A uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** A log-uniform integer in [min, max]: many small values, a few large, like file sizes in an image. */
  logUniform(min: number, max: number): number {
    return Math.floor(min * (max / min) ** this.float());
  }
}

/**
 * A pool of "incompressible-ish" bytes to cut file contents from: 4 KiB blocks that are either random
 * bytes or text of pseudo-words, so gzip shrinks it about 1.7x (real layers shrink 2-3x). It is far
 * larger than deflate's 32 KiB window, so slices taken at random offsets do not compress against each other.
 */
export function contentPool(bytes: number, seed: number): Buffer {
  const rng = new Rng(seed);
  const pool = Buffer.allocUnsafe(bytes);
  const words: Buffer[] = [];
  for (let i = 0; i < 1024; i++) {
    const len = 2 + rng.below(9);
    let w = '';
    for (let j = 0; j < len; j++) w += String.fromCharCode(97 + rng.below(26));
    words.push(Buffer.from(`${w}${rng.below(8) === 0 ? '\n' : ' '}`));
  }
  const block = 4096;
  for (let off = 0; off < bytes; off += block) {
    const end = Math.min(off + block, bytes);
    if (rng.below(100) < 38) {
      for (let i = off; i < end; i += 4) pool.writeUInt32LE(rng.u32(), i);
    } else {
      let i = off;
      while (i < end) {
        const w = words[rng.below(words.length)] as Buffer;
        i += w.copy(pool, i, 0, Math.min(w.length, end - i));
      }
    }
  }
  return pool;
}
