import { readBdbHash } from './bdb.js';
import { readNdb } from './ndb.js';
import type { RpmdbRead } from './records.js';
import { readSqliteRpmdb } from './sqlite.js';

/** The three on-disk formats of the rpm database. */
export type RpmdbFormat = 'sqlite' | 'bdb' | 'ndb';

/** Directories rpm keeps its database in: the classic one, and the one of Fedora 36+ and SUSE. */
export const RPMDB_DIRS = ['var/lib/rpm', 'usr/lib/sysimage/rpm'] as const;

const FILES: Readonly<Record<string, RpmdbFormat>> = {
  'rpmdb.sqlite': 'sqlite',
  'Packages.db': 'ndb',
  Packages: 'bdb',
};

/** The database format stored at `path`, if it is one of the rpm database files. */
export function rpmdbFormatOf(path: string): RpmdbFormat | undefined {
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash);
  if (!(RPMDB_DIRS as readonly string[]).includes(dir)) return undefined;
  return FILES[path.slice(slash + 1)];
}

/** Every database path the cataloger looks at, sqlite first. */
export const RPMDB_PATHS: readonly string[] = RPMDB_DIRS.flatMap((d) => Object.keys(FILES).map((f) => `${d}/${f}`));

/** Read the header blobs of a database in the given format; throws RPMDB_INVALID when it cannot be read at all. */
export function readRpmdb(format: RpmdbFormat, buf: Uint8Array): RpmdbRead {
  switch (format) {
    case 'sqlite':
      return readSqliteRpmdb(buf);
    case 'bdb':
      return readBdbHash(buf);
    case 'ndb':
      return readNdb(buf);
    default: {
      const never: never = format;
      throw new Error(`unknown rpm database format ${String(never)}`);
    }
  }
}
