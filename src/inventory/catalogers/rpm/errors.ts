/**
 * Why an rpm database or header could not be read. These never leave the rpm cataloger: it turns
 * them into unknowns (fatal for a whole database, non-fatal for one header).
 */
export class RpmdbError extends Error {
  readonly code: 'RPM_HEADER_INVALID' | 'RPMDB_INVALID';
  constructor(code: RpmdbError['code'], message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RpmdbError';
    this.code = code;
  }
}

/** Throw an RPM_HEADER_INVALID error: one header blob is malformed. */
export function badHeader(message: string): never {
  throw new RpmdbError('RPM_HEADER_INVALID', message);
}

/** Throw an RPMDB_INVALID error: the database as a whole cannot be read. */
export function badDb(message: string, cause?: unknown): never {
  throw new RpmdbError('RPMDB_INVALID', message, cause === undefined ? {} : { cause });
}
