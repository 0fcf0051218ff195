import { type FileVersion, type FsNode, missingCode } from '../../image/filetree.js';
import { lookup } from '../../util/record.js';
import type { CatalogContext, Cataloger, OsRelease, Package, PackageLocation } from '../model.js';
import { distroQualifier, purl } from '../purl.js';
import { introducedIn, versionsOf } from './history.js';
import { RPMDB_DIRS, RPMDB_PATHS, type RpmdbFormat, readRpmdb, rpmdbFormatOf } from './rpm/db.js';
import { parseRpmHeader, parseSourceRpm, type RpmHeader } from './rpm/header.js';

/**
 * rpm: the package database in any of its three formats (sqlite `rpmdb.sqlite`, Berkeley DB hash
 * `Packages`, NDB `Packages.db`) under /var/lib/rpm or /usr/lib/sysimage/rpm. Every header blob is
 * decoded; gpg-pubkey entries (imported signing keys) are not packages. When an image holds more
 * than one database, their packages are merged, so a stale or decoy database cannot hide any.
 */

/** Name of the pseudo-packages rpm stores imported GPG keys under. */
const GPG_PUBKEY = 'gpg-pubkey';
/** Problems reported one by one per database; a hostile file could otherwise flood the unknowns. */
const MAX_PROBLEMS = 50;

const NAMESPACES: Readonly<Record<string, string>> = {
  rhel: 'redhat',
  'opensuse-leap': 'opensuse',
  'opensuse-tumbleweed': 'opensuse',
  'opensuse-microos': 'opensuse',
  'sle-micro': 'sles',
};

/** The purl namespace for rpm packages of an OS: its os-release ID, with `redhat` for rhel and `opensuse` for its flavours. */
export function rpmNamespace(os: Pick<OsRelease, 'id'> | undefined): string | undefined {
  if (!os) return undefined;
  return lookup(NAMESPACES, os.id) ?? (os.id.startsWith('opensuse') ? 'opensuse' : os.id);
}

/** A package's version as rpm's %{EVR} prints it: `[epoch:]version-release`. */
export function rpmEvr(h: Pick<RpmHeader, 'epoch' | 'version' | 'release'>): string {
  return `${h.epoch !== undefined ? `${h.epoch}:` : ''}${h.version}-${h.release}`;
}

/** The packages of one database image: headers decoded, gpg-pubkey left out. */
export function rpmHeaders(format: RpmdbFormat, content: Uint8Array): { headers: RpmHeader[]; problems: string[] } {
  const read = readRpmdb(format, content);
  const problems = [...read.problems];
  const headers: RpmHeader[] = [];
  for (const r of read.records) {
    try {
      const h = parseRpmHeader(r.blob);
      if (h.name !== GPG_PUBKEY) headers.push(h);
    } catch (err) {
      problems.push(`header #${r.id}: ${(err as Error).message}`);
    }
  }
  return { headers, problems };
}

const key = (h: RpmHeader): string => `${h.name}\0${h.arch ?? ''}\0${rpmEvr(h)}`;

/** Keys of the packages in an older version of a database; an unreadable version lists none. */
function keysOf(format: RpmdbFormat, v: FileVersion): Set<string> {
  try {
    return new Set(rpmHeaders(format, v.content).headers.map(key));
  } catch {
    return new Set();
  }
}

interface Found {
  readonly header: RpmHeader;
  readonly locations: PackageLocation[];
  layer: number;
}

export const rpmCataloger: Cataloger = {
  name: 'rpm',
  version: 1,
  tags: ['os'],
  wants(info) {
    return rpmdbFormatOf(info.path) ? { kind: 'buffer', history: true } : undefined;
  },
  catalog(ctx: CatalogContext): Package[] {
    const found = new Map<string, Found>();
    for (const path of RPMDB_PATHS) {
      const node = ctx.tree.lookup(path); // no symlinks followed: a linked directory is read at its real path
      if (!node || (node.info.type !== 'file' && node.info.type !== 'hardlink')) continue;
      catalogDatabase(ctx, path, node, found);
    }
    noteWal(ctx);
    const distro = distroQualifier(ctx.os);
    const namespace = rpmNamespace(ctx.os);
    return [...found.values()].map(({ header: h, locations, layer }) =>
      toPackage(h, locations, layer, namespace, distro),
    );
  },
};

function catalogDatabase(ctx: CatalogContext, path: string, node: FsNode, found: Map<string, Found>): void {
  const format = rpmdbFormatOf(path) as RpmdbFormat;
  const layer = node.info.layer;
  if (!node.content) {
    const message = node.missing ?? 'content was not collected';
    ctx.unknown({ path, layer, message: `rpm database not read: ${message}`, fatal: true, ...missingCode(node) });
    return;
  }
  let current: ReturnType<typeof rpmHeaders>;
  try {
    current = rpmHeaders(format, node.content);
  } catch (err) {
    ctx.unknown({
      path,
      layer,
      message: `rpm ${format} database cannot be read: ${(err as Error).message}`,
      fatal: true,
    });
    return;
  }
  for (const message of current.problems.slice(0, MAX_PROBLEMS)) ctx.unknown({ path, layer, message, fatal: false });
  if (current.problems.length > MAX_PROBLEMS) {
    const message = `${current.problems.length - MAX_PROBLEMS} more unreadable parts of this rpm database`;
    ctx.unknown({ path, layer, message, fatal: false });
  }
  const versions = versionsOf(node);
  const currentKeys = new Set(current.headers.map(key));
  const present = versions.map((v, i) => (i === versions.length - 1 ? currentKeys : keysOf(format, v)));
  for (const h of current.headers) {
    const k = key(h);
    const introduced = introducedIn(versions, present, k);
    const prior = found.get(k);
    if (!prior) found.set(k, { header: h, locations: [{ path, layer: introduced }], layer: introduced });
    else if (!prior.locations.some((l) => l.path === path)) {
      prior.locations.push({ path, layer: introduced });
      prior.layer = Math.min(prior.layer, introduced);
    }
  }
}

/** A non-empty -wal file holds transactions SQLite has not merged into rpmdb.sqlite; they are not read. */
function noteWal(ctx: CatalogContext): void {
  for (const dir of RPMDB_DIRS) {
    const wal = ctx.tree.lookup(`${dir}/rpmdb.sqlite-wal`);
    if (wal && wal.info.type === 'file' && wal.info.size > 0 && ctx.tree.lookup(`${dir}/rpmdb.sqlite`)) {
      ctx.unknown({
        path: wal.info.path,
        layer: wal.info.layer,
        message: `rpmdb.sqlite-wal holds ${wal.info.size} bytes not merged into rpmdb.sqlite; packages in it are missing`,
        fatal: false,
      });
    }
  }
}

function toPackage(
  h: RpmHeader,
  locations: readonly PackageLocation[],
  layer: number,
  namespace: string | undefined,
  distro: string | undefined,
): Package {
  const src = h.sourceRpm ? parseSourceRpm(h.sourceRpm) : undefined;
  const epochPrefix = h.epoch !== undefined ? `${h.epoch}:` : '';
  return {
    name: h.name,
    version: rpmEvr(h),
    type: 'rpm',
    // Epoch 0 equals no epoch when versions compare, so the purl leaves it out.
    purl: purl('rpm', namespace, h.name, `${h.version}-${h.release}`, {
      arch: h.arch,
      epoch: h.epoch ? String(h.epoch) : undefined,
      distro,
    }),
    // A source RPM's file name has no epoch; its binaries share the spec's, so it is carried over.
    ...(src ? { source: { name: src.name, version: `${epochPrefix}${src.version}-${src.release}` } } : {}),
    ...(h.arch ? { arch: h.arch } : {}),
    licenses: h.license ? [h.license] : [],
    locations,
    layer,
    foundBy: 'rpm',
    metadata: {
      ...(h.sourceRpm ? { sourceRpm: h.sourceRpm } : {}),
      ...(h.vendor ? { vendor: h.vendor } : {}),
      ...(h.size !== undefined ? { installedSize: h.size } : {}),
      ...(h.modularityLabel ? { modularityLabel: h.modularityLabel } : {}),
    },
  };
}
