import { PortcullisError } from '../errors.js';
import type { Collector } from '../image/collect.js';
import type { FileTree } from '../image/filetree.js';
import { CATALOGERS } from './catalogers/index.js';
import type { Cataloger, OsRelease, Package, Unknown } from './model.js';
import { detectOs, osCollector } from './os.js';

/** What is inside a file tree: its OS, its packages, and what could not be read. */
export interface Contents {
  readonly os: OsRelease | undefined;
  readonly packages: readonly Package[];
  readonly unknowns: readonly Unknown[];
}

/** The walk-time collectors for a set of catalogers (OS detection always included). */
export function collectorsFor(catalogers: readonly Cataloger[] = CATALOGERS): Collector[] {
  return [osCollector, ...catalogers];
}

/**
 * Run the catalogers over a merged tree. A cataloger that throws is recorded as a fatal unknown
 * and the others carry on; partial results are never silently presented as complete.
 */
export function catalogTree(tree: FileTree, catalogers: readonly Cataloger[] = CATALOGERS): Contents {
  const unknowns: Unknown[] = [];
  let os: OsRelease | undefined;
  try {
    os = detectOs(tree);
  } catch (err) {
    unknowns.push({
      path: 'etc/os-release',
      cataloger: 'os-release',
      message: messageOf(err),
      fatal: true,
      ...codeOf(err),
    });
  }
  const packages: Package[] = [];
  for (const c of catalogers) {
    const ctx = {
      tree,
      os,
      unknown: (u: Omit<Unknown, 'cataloger'>) => {
        unknowns.push({ ...u, cataloger: c.name });
      },
    };
    try {
      packages.push(...c.catalog(ctx));
    } catch (err) {
      unknowns.push({ path: '', cataloger: c.name, message: messageOf(err), fatal: true, ...codeOf(err) });
    }
  }
  packages.sort(comparePackages);
  return { os, packages, unknowns };
}

function codeOf(err: unknown): { code?: PortcullisError['code'] } {
  return err instanceof PortcullisError ? { code: err.code } : {};
}

function messageOf(err: unknown): string {
  return err instanceof PortcullisError || err instanceof Error ? err.message : String(err);
}

/** Stable order for output: by type, name, version, then first location. */
export function comparePackages(a: Package, b: Package): number {
  return (
    cmp(a.type, b.type) ||
    cmp(a.name, b.name) ||
    cmp(a.version, b.version) ||
    cmp(a.locations[0]?.path ?? '', b.locations[0]?.path ?? '') ||
    cmp(a.arch ?? '', b.arch ?? '')
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
