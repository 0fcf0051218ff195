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
  for (const a of tree.ambiguities) {
    // Fatal when the other reading would touch a file an OS cataloger or OS detection reads.
    const alt = a.alternative === undefined ? undefined : { ...a.info, path: a.alternative };
    const critical = [osCollector, ...catalogers.filter((c) => c.tags.includes('os'))].some(
      (c) => c.wants(a.info) !== undefined || (alt !== undefined && c.wants(alt) !== undefined),
    );
    unknowns.push({
      path: a.path,
      layer: a.info.layer,
      cataloger: 'layers',
      message: `written below the symbolic link /${a.link}: Docker puts it at /${a.path}, containerd at /${a.alternative ?? '(unresolvable)'}`,
      fatal: critical,
      ...(critical ? { code: 'LAYER_INVALID' as const } : {}),
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

/** A typed error keeps its code; anything else thrown by a cataloger is a bug in Portcullis, not in the image. */
function codeOf(err: unknown): { code: PortcullisError['code'] } {
  return { code: err instanceof PortcullisError ? err.code : 'INTERNAL' };
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
