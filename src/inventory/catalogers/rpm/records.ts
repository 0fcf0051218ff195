/** One header blob of an rpm database, with the database's own number for it. */
export interface RpmdbRecord {
  /** Header instance number (sqlite `hnum`, Berkeley DB key, NDB `pkgidx`). */
  readonly id: number;
  readonly blob: Uint8Array;
}

/**
 * What a database reader found: the header blobs it could read, and one line for each part it had
 * to skip (a broken overflow chain, a bad blob), which the cataloger reports as a non-fatal unknown.
 */
export interface RpmdbRead {
  readonly records: RpmdbRecord[];
  readonly problems: string[];
}

/** The most records read from one database; real ones hold a few thousand. */
export const MAX_RECORDS = 1_000_000;
