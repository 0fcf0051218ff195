import type { StreamAnalyzer } from '../../image/collect.js';
import type { FileInfo, FsNode } from '../../image/filetree.js';
import { introducedLayer } from '../../image/filetree.js';
import type { CatalogContext, Cataloger, Package } from '../model.js';
import { purl } from '../purl.js';

/**
 * Python: installed distributions wherever their metadata is (site-packages, dist-packages, a `pip install --target`
 * directory such as a Lambda's /var/task, PDM's __pypackages__, a vendored copy), from their core
 * metadata (ref: packaging.python.org, core-metadata): `*.dist-info/METADATA` (wheels),
 * `*.egg-info/PKG-INFO` and single-file `*.egg-info` (setuptools and distutils installs), and
 * `*.egg/EGG-INFO/PKG-INFO` (eggs). Only the header block is read, as a stream: the long
 * description after it can be large and is never needed.
 */
const NAME = 'python';
/** Header blocks longer than this are cut; real ones are a few kilobytes. */
export const MAX_HEADER_BYTES = 1024 * 1024;
const MAX_LICENSE = 200;

/** How a distribution's metadata is stored; earlier kinds win when one directory has several for a name. */
export type PythonMetadataKind = 'dist-info' | 'egg-info' | 'egg-info-file' | 'egg';
const PREFERENCE: readonly PythonMetadataKind[] = ['dist-info', 'egg-info', 'egg-info-file', 'egg'];

/** A metadata file found in a directory of installed distributions. */
export interface PythonMetadataPath {
  readonly kind: PythonMetadataKind;
  /** The directory the distribution is installed in (a site-packages or dist-packages directory, as a rule). */
  readonly site: string;
}

/** A directory name `<stem><suffix>` with a non-empty stem. */
const named = (seg: string | undefined, suffix: string): boolean =>
  seg !== undefined && seg.length > suffix.length && seg.endsWith(suffix);

/**
 * Classify a path as a distribution's metadata file, or undefined. Any directory counts, as in syft and trivy: pip
 * installs with --target, and tools vendor whole distributions, outside any site-packages.
 */
export function pythonMetadataPath(path: string): PythonMetadataPath | undefined {
  const p = path.split('/');
  const n = p.length;
  const last = p[n - 1] ?? '';
  const site = (depth: number): string => p.slice(0, n - depth).join('/');
  if (last === 'METADATA' && named(p[n - 2], '.dist-info')) return { kind: 'dist-info', site: site(2) };
  if (last === 'PKG-INFO' && named(p[n - 2], '.egg-info')) return { kind: 'egg-info', site: site(2) };
  if (last === 'PKG-INFO' && p[n - 2] === 'EGG-INFO' && named(p[n - 3], '.egg')) return { kind: 'egg', site: site(3) };
  if (named(last, '.egg-info')) return { kind: 'egg-info-file', site: site(1) };
  return undefined;
}

/** What the header analyzer keeps: the header block's text, and whether it ended within the limit. */
export interface HeaderBlock {
  readonly text: string;
  readonly complete: boolean;
}

/**
 * A stream analyzer that keeps a file's RFC 822 header block (up to the first empty line) and
 * ignores the rest, bounded by `limit` bytes.
 */
export function headerAnalyzer(limit = MAX_HEADER_BYTES): StreamAnalyzer {
  const parts: Buffer[] = [];
  let kept = 0;
  let newlines = 0;
  let done = false;
  let cut = false;
  return {
    write(chunk) {
      if (done) return;
      let end = chunk.length;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i];
        if (b === 10) {
          if (++newlines === 2) {
            end = i + 1;
            done = true;
            break;
          }
        } else if (b !== 13) {
          newlines = 0;
        }
      }
      const take = Math.min(end, limit - kept);
      parts.push(Buffer.from(chunk.subarray(0, take))); // copy: chunks are views into a reused buffer
      kept += take;
      if (take < end) {
        cut = true;
        done = true;
      }
    },
    end() {},
    result(): HeaderBlock {
      return { text: Buffer.concat(parts, kept).toString('utf8'), complete: !cut };
    },
  };
}

/** Parse RFC 822 style headers (keys lower-cased, repeated keys kept in order, folded lines joined with "\n"). */
export function parseHeaders(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let last: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') {
      if (line === '') break; // the header block ends at the first empty line
      continue;
    }
    if ((line[0] === ' ' || line[0] === '\t') && last) {
      last[last.length - 1] = `${last[last.length - 1]}\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const values = out.get(key) ?? [];
    values.push(line.slice(colon + 1).trim());
    out.set(key, values);
    last = values;
  }
  return out;
}

/**
 * Licences of a distribution, in the order the packaging specs give them weight: the PEP 639
 * `License-Expression`, else a short one-line `License` field, else the `License ::` classifiers.
 */
export function pythonLicenses(headers: ReadonlyMap<string, readonly string[]>): string[] {
  const expr = headers.get('license-expression')?.[0]?.trim();
  if (expr) return [expr.slice(0, MAX_LICENSE)];
  const field = headers.get('license')?.[0]?.trim();
  // The field often holds a whole licence text; only a short name on one line is a licence name.
  if (field && !field.includes('\n') && field.length <= MAX_LICENSE && field.toUpperCase() !== 'UNKNOWN') {
    return [field];
  }
  const out: string[] = [];
  for (const c of headers.get('classifier') ?? []) {
    const parts = c.split('::').map((s) => s.trim());
    if (parts[0] !== 'License' || parts.length < 2) continue;
    const name = parts[parts.length - 1] as string;
    if (name && name !== 'OSI Approved' && !out.includes(name)) out.push(name.slice(0, MAX_LICENSE));
  }
  return out;
}

/** PEP 503 name normalisation: lower case, runs of `-`, `_` and `.` become one `-`. */
export function normalizePypiName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** A distribution as its metadata describes it. */
export interface PythonDist {
  readonly name: string;
  readonly version: string;
  readonly licenses: string[];
  readonly summary?: string;
  readonly homePage?: string;
}

/** Read a distribution from its metadata header block; undefined without a Name and Version. */
export function parsePythonMetadata(text: string): PythonDist | undefined {
  const h = parseHeaders(text);
  const name = h.get('name')?.[0]?.trim();
  const version = h.get('version')?.[0]?.trim();
  if (!name || !version || name.length > 256 || version.length > 256) return undefined;
  const summary = h.get('summary')?.[0]?.slice(0, 512);
  const homePage = h.get('home-page')?.[0]?.slice(0, 512);
  return {
    name,
    version,
    licenses: pythonLicenses(h),
    ...(summary ? { summary } : {}),
    ...(homePage ? { homePage } : {}),
  };
}

/**
 * The Python cataloger: one package per distribution name and version in each directory. Two metadata forms of one
 * version (Debian ships dist-info beside egg-info) are one package; two versions of a name in one directory (stale
 * metadata left by a copy over an older site-packages) are both reported, with a note: which one Python imports
 * cannot be told from the metadata, and dropping one could hide the vulnerable one.
 */
export const pythonCataloger: Cataloger = {
  name: NAME,
  version: 1,
  tags: ['language'],
  wants(info: FileInfo) {
    return pythonMetadataPath(info.path) ? { kind: 'stream', create: () => headerAnalyzer() } : undefined;
  },
  catalog(ctx: CatalogContext): Package[] {
    // One package per directory, normalised name and version; of several metadata forms, the preferred kind.
    const chosen = new Map<string, { pkg: Package; rank: number }>();
    for (const node of ctx.tree.wanted(NAME)) {
      if (node.info.type !== 'file' && node.info.type !== 'hardlink') continue;
      const where = pythonMetadataPath(node.info.path);
      if (!where) continue;
      const pkg = fromNode(ctx, node, where);
      if (!pkg) continue;
      const key = `${where.site}\0${normalizePypiName(pkg.name)}\0${pkg.version}`;
      const rank = PREFERENCE.indexOf(where.kind);
      const held = chosen.get(key);
      if (!held || rank < held.rank || (rank === held.rank && pkg.locations[0]!.path < held.pkg.locations[0]!.path)) {
        chosen.set(key, { pkg, rank });
      }
    }
    const packages = [...chosen.values()].map((c) => c.pkg);
    noteVersionClashes(ctx, packages);
    return packages;
  },
};

/** A note for each name installed at two versions in one directory. */
function noteVersionClashes(ctx: CatalogContext, packages: readonly Package[]): void {
  const byName = new Map<string, Package[]>();
  for (const p of packages) {
    const key = `${p.metadata?.['sitePackages']}\0${normalizePypiName(p.name)}`;
    const same = byName.get(key);
    if (same) same.push(p);
    else byName.set(key, [p]);
  }
  for (const same of byName.values()) {
    if (same.length < 2) continue;
    const first = same[0] as Package;
    const versions = same.map((p) => p.version).join(', ');
    ctx.unknown({
      path: String(first.metadata?.['sitePackages'] || '.'),
      layer: Math.max(...same.map((p) => p.layer)),
      message: `Python distribution ${first.name} has metadata for versions ${versions} in one directory (stale metadata?); all are reported`,
      fatal: false,
    });
  }
}

function fromNode(ctx: CatalogContext, node: FsNode, where: PythonMetadataPath): Package | undefined {
  const { path } = node.info;
  const layer = introducedLayer(node);
  const block = node.analyses?.get(NAME) as HeaderBlock | undefined;
  if (!block) {
    ctx.unknown({ path, layer, message: node.missing ?? 'metadata content was not collected', fatal: false });
    return undefined;
  }
  const dist = parsePythonMetadata(block.text);
  if (!dist) {
    const why = block.complete
      ? 'has no Name and Version headers'
      : `has a header block over ${MAX_HEADER_BYTES} bytes`;
    ctx.unknown({ path, layer, message: `Python metadata ${why}`, fatal: false });
    return undefined;
  }
  let id: string;
  try {
    // The purl spec's pypi name (lower case, `_` as `-`, dots kept) as packageurl-js writes it; matching and VEX
    // compare names by PEP 503 on their own.
    id = purl('pypi', undefined, dist.name, dist.version);
  } catch (err) {
    ctx.unknown({
      path,
      layer,
      message: `Python distribution name ${JSON.stringify(dist.name)}: ${String(err)}`,
      fatal: false,
    });
    return undefined;
  }
  return {
    name: dist.name,
    version: dist.version,
    type: 'pypi',
    purl: id,
    licenses: dist.licenses,
    locations: [{ path, layer }],
    layer,
    foundBy: NAME,
    metadata: {
      format: where.kind,
      sitePackages: where.site,
      ...(dist.summary ? { summary: dist.summary } : {}),
      ...(dist.homePage ? { homePage: dist.homePage } : {}),
    },
  };
}
