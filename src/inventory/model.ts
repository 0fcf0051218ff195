import { type ErrorCode, printable } from '../errors.js';
import type { Collector } from '../image/collect.js';
import type { FileTree } from '../image/filetree.js';

/** The operating system of an image, from /etc/os-release and friends. */
export interface OsRelease {
  /** `ID` from os-release (debian, ubuntu, alpine, rhel, amzn, ...). */
  readonly id: string;
  readonly versionId?: string;
  readonly versionCodename?: string;
  readonly prettyName?: string;
  readonly idLike?: readonly string[];
  /** Distroless images carry Debian's os-release; noted when the image has no package manager. */
  readonly distroless?: boolean;
  /** The file the facts came from, e.g. `etc/os-release`. */
  readonly source: string;
}

/** Package types, named as their purl types. */
export type PackageType = 'deb' | 'apk' | 'rpm' | 'npm' | 'pypi' | 'golang' | 'maven' | 'gem';

/** Where a package was found: a path in the image and the layer that wrote it. */
export interface PackageLocation {
  readonly path: string;
  readonly layer: number;
}

/** One package found in the image. */
export interface Package {
  readonly name: string;
  readonly version: string;
  readonly type: PackageType;
  /** Package URL (purl spec), built with packageurl-js. */
  readonly purl: string;
  /** The source package (dpkg `Source:`, apk origin, rpm source RPM), when it differs or is known. */
  readonly source?: { readonly name: string; readonly version: string };
  readonly arch?: string;
  /** Licence expressions or names as the package declares them. */
  readonly licenses: readonly string[];
  readonly locations: readonly PackageLocation[];
  /** Index of the layer that introduced the package (the bottom-most layer of its current presence). */
  readonly layer: number;
  /** Name of the cataloger that found it. */
  readonly foundBy: string;
  /** Ecosystem-specific extras (Go version of a binary, Maven group, dpkg status, ...). */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** Something that could not be catalogued, with where it is. `fatal` means the inventory is materially incomplete. */
export interface Unknown {
  readonly path: string;
  readonly layer?: number;
  readonly cataloger: string;
  readonly message: string;
  readonly fatal: boolean;
  /** The error code behind a fatal unknown, so the CLI exits with the right class. */
  readonly code?: ErrorCode;
}

/** An unknown as one line, the same in warnings, reports and policy reasons: `npm: /app/x/package.json: why`. */
export function describeUnknown(u: Pick<Unknown, 'cataloger' | 'path' | 'message'>): string {
  return `${u.cataloger}: /${printable(u.path, 200)}: ${u.message}`;
}

/** What a cataloger is handed after the walk. */
export interface CatalogContext {
  readonly tree: FileTree;
  readonly os: OsRelease | undefined;
  /** Record a file that could not be parsed; the cataloger carries on with the rest. */
  unknown(u: Omit<Unknown, 'cataloger'>): void;
}

/**
 * A cataloger: the walk-time half (`wants`, from Collector) picks the paths it needs, the
 * after-walk half builds packages from the merged tree. `version` changes when its output would.
 */
export interface Cataloger extends Collector {
  readonly version: number;
  /** Grouping for selection: OS package databases or language ecosystems. */
  readonly tags: readonly ('os' | 'language' | 'binary')[];
  catalog(ctx: CatalogContext): Package[];
}
