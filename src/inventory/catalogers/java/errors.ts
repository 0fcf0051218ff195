/** Why an archive could not be read (fully); these never escape the Java cataloger, they become unknowns. */
export type ArchiveErrorCode = 'NOT_ZIP' | 'INVALID' | 'TRUNCATED' | 'UNSUPPORTED' | 'LIMIT';

/** A zip archive that is malformed, truncated, uses an unsupported feature, or hit a resource limit. */
export class ArchiveError extends Error {
  override readonly name: string = 'ArchiveError';
  constructor(
    readonly code: ArchiveErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Bytes inflated for one outermost archive, nested archives included; passing a limit stops that archive. Bytes
 * handed to readers and bytes decoded only to find where an entry ends (then thrown away) have separate limits.
 */
export class InflateBudget {
  private used = 0;
  private dropped = 0;
  constructor(
    readonly limit: number,
    readonly discardLimit: number = Number.POSITIVE_INFINITY,
  ) {}

  /** Count `n` more inflated bytes; throws ArchiveError LIMIT once the total passes the limit. */
  take(n: number): void {
    this.used += n;
    if (this.used > this.limit) {
      throw new ArchiveError('LIMIT', `stopped after inflating more than ${this.limit} bytes (zip bomb?)`);
    }
  }

  /** Count `n` more bytes inflated and thrown away; throws ArchiveError LIMIT once they pass discardLimit. */
  discard(n: number): void {
    this.dropped += n;
    if (this.dropped > this.discardLimit) {
      throw new ArchiveError(
        'LIMIT',
        `stopped after inflating more than ${this.discardLimit} bytes of entries that are not read (zip bomb?)`,
      );
    }
  }

  /** Bytes counted by take() so far. */
  get spent(): number {
    return this.used;
  }

  /** Bytes counted by discard() so far. */
  get discarded(): number {
    return this.dropped;
  }
}
