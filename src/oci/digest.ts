import { createHash, type Hash } from 'node:crypto';
import { fail, printable } from '../errors.js';

/** Digest algorithms the OCI image spec registers; ref: image-spec descriptor.md#registered-algorithms. */
const ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof ALGORITHMS;

/** Parse and validate `alg:hex`; `where` names the thing for the error message. */
export function parseDigest(digest: string, where: string): { algorithm: DigestAlgorithm; hex: string } {
  const m = /^(sha256|sha512):([a-f0-9]+)$/.exec(digest);
  const algorithm = m?.[1] as DigestAlgorithm | undefined;
  if (!m || !algorithm || m[2]?.length !== ALGORITHMS[algorithm]) {
    fail('MANIFEST_INVALID', `${where}: '${printable(String(digest), 100)}' is not a valid sha256 or sha512 digest`);
  }
  return { algorithm, hex: m[2] };
}

/** Digest of a byte string in the given algorithm. */
export function digestOf(data: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Throw DIGEST_MISMATCH unless `data` hashes to `expected`. */
export function verifyBytes(data: Uint8Array, expected: string, where: string): void {
  const { algorithm } = parseDigest(expected, where);
  const actual = digestOf(data, algorithm);
  if (actual !== expected) fail('DIGEST_MISMATCH', `${where}: content hashes to ${actual}, expected ${expected}`);
}

/** Incremental digest + size check for streamed content; call `update` per chunk and `finish` at the end. */
export class DigestVerifier {
  private readonly hash: Hash;
  private readonly algorithm: DigestAlgorithm;
  private bytes = 0;
  constructor(
    private readonly expected: string,
    private readonly expectedSize: number | undefined,
    private readonly where: string,
  ) {
    this.algorithm = parseDigest(expected, where).algorithm;
    this.hash = createHash(this.algorithm);
  }
  update(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    if (this.expectedSize !== undefined && this.bytes > this.expectedSize) {
      fail('SIZE_MISMATCH', `${this.where}: more than the ${this.expectedSize} bytes its descriptor declares`);
    }
    this.hash.update(chunk);
  }
  get size(): number {
    return this.bytes;
  }
  finish(): void {
    if (this.expectedSize !== undefined && this.bytes !== this.expectedSize) {
      fail('SIZE_MISMATCH', `${this.where}: ${this.bytes} bytes, its descriptor declares ${this.expectedSize}`);
    }
    const actual = `${this.algorithm}:${this.hash.digest('hex')}`;
    if (actual !== this.expected)
      fail('DIGEST_MISMATCH', `${this.where}: content hashes to ${actual}, expected ${this.expected}`);
  }
}
