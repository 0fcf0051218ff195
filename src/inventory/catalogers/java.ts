import type { FsNode } from '../../image/filetree.js';
import { introducedLayer } from '../../image/filetree.js';
import type { CatalogContext, Cataloger, Package } from '../model.js';
import { purl } from '../purl.js';
import { ARCHIVE_NAME, type ArchiveScan, type ArchiveScanOptions, createArchiveScanner } from './java/archive.js';
import { identify, type MavenCoordinates } from './java/identify.js';

/**
 * Java archives (`.jar`, `.war`, `.ear`, `.jpi`, `.hpi`), nested ones included: Maven packages from
 * pom.properties (or a pom.xml without one), else from MANIFEST.MF and the file name. Archives are read as they
 * stream through the layer walk and never buffered; see java/archive.ts for the limits that keep hostile
 * archives bounded.
 */
const NAME = 'java';

function isScan(v: unknown): v is ArchiveScan {
  return typeof v === 'object' && v !== null && Array.isArray((v as ArchiveScan).archives);
}

/**
 * The Package for Maven coordinates found in an archive file written by `layer`. A maven purl needs a
 * namespace: without a known group the artifactId stands in, as syft does (many old artifacts are
 * `x:x`), and metadata says the group was not known.
 */
export function mavenPackage(c: MavenCoordinates, layer: number): Package {
  return {
    name: c.artifactId,
    version: c.version,
    type: 'maven',
    purl: purl('maven', c.groupId ?? c.artifactId, c.artifactId, c.version),
    licenses: c.licenses,
    locations: [{ path: c.path, layer }],
    layer,
    foundBy: NAME,
    metadata: {
      ...(c.groupId ? { groupId: c.groupId } : { groupIdUnknown: true }),
      artifactId: c.artifactId,
      source: c.source,
      ...(c.pomEntry ? { [c.source === 'pom.xml' ? 'pomXml' : 'pomProperties']: c.pomEntry } : {}),
      ...(c.vendor ? { vendor: c.vendor } : {}),
    },
  };
}

function packagesOf(node: FsNode, scan: ArchiveScan, ctx: CatalogContext): Package[] {
  const layer = introducedLayer(node);
  // The scan named the file as the layer did; the tree may know it by another path (a hardlink, a parent
  // directory that is a symlink), and the package is reported where it is now.
  const root = scan.archives[0]?.path;
  const here = (path: string): string =>
    root !== undefined && path.startsWith(root) ? node.info.path + path.slice(root.length) : path;
  const out: Package[] = [];
  const seen = new Set<string>();
  for (const facts of scan.archives) {
    for (const found of identify(facts)) {
      const c = { ...found, path: here(found.path) };
      let p: Package;
      try {
        p = mavenPackage(c, layer);
      } catch (err) {
        const message = `cannot make a package URL for ${c.groupId}:${c.artifactId}:${c.version}: ${String(err)}`;
        ctx.unknown({ path: c.path, layer, message, fatal: false });
        continue;
      }
      const key = `${p.purl}\0${c.path}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(p);
    }
  }
  for (const problem of scan.problems) {
    ctx.unknown({ path: here(problem.path), layer, message: problem.message, fatal: false });
  }
  return out;
}

/** Build the Java cataloger with other limits (tests use small ones). */
export function createJavaCataloger(options: ArchiveScanOptions = {}): Cataloger {
  return {
    name: NAME,
    version: 1,
    tags: ['language'],
    wants(info) {
      if (!ARCHIVE_NAME.test(info.path)) return undefined;
      return { kind: 'stream', create: (i) => createArchiveScanner(i.path, i.size, options) };
    },
    catalog(ctx) {
      const out: Package[] = [];
      for (const node of ctx.tree.wanted(NAME)) {
        if (node.info.type !== 'file' && node.info.type !== 'hardlink') continue;
        if (!ARCHIVE_NAME.test(node.info.path)) continue;
        const scan = node.analyses?.get(NAME);
        if (isScan(scan)) out.push(...packagesOf(node, scan, ctx));
        else if (node.missing) {
          ctx.unknown({ path: node.info.path, layer: node.info.layer, message: node.missing, fatal: false });
        }
      }
      return out;
    },
  };
}

/** The Java archive cataloger with its default limits. */
export const javaCataloger: Cataloger = createJavaCataloger();
