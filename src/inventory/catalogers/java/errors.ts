/** Why an archive could not be read (fully); these never escape the Java cataloger, they become unknowns. */
export type ArchiveErrorCode = 'NOT_ZIP' | 'INVALID' | 'TRUNCATED' | 'UNSUPPORTED' | 'LIMIT';

/** A zip archive that is malformed, truncated, uses an unsupported feature, or hit a resource limit. */
export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
  constructor(
    readonly code: ArchiveErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Bytes inflated for one outermost archive, nested archives included; passing the limit stops that archive. */
export class InflateBudget {
  private used = 0;
  constructor(readonly limit: number) {}

  /** Count `n` more inflated bytes; throws ArchiveError LIMIT once the total passes the limit. */
  take(n: number): void {
    this.used += n;
    if (this.used > this.limit) {
      throw new ArchiveError('LIMIT', `stopped after inflating more than ${this.limit} bytes (zip bomb?)`);
    }
  }

  /** Bytes counted so far. */
  get spent(): number {
    return this.used;
  }
}
