import type { FileInfo, FsNode } from '../../image/filetree.js';
import { introducedLayer } from '../../image/filetree.js';
import type { CatalogContext, Cataloger, Package, PackageLocation } from '../model.js';
import { purl } from '../purl.js';
import { type BuildInfoResult, BuildInfoScanner } from './go/buildinfo.js';
import { type GoBuildSetting, type GoModInfo, type GoModule, parseModInfo } from './go/modinfo.js';

/**
 * Go executables: the build info the Go linker embeds (main module, dependency modules with
 * `replace` applied, toolchain version, build settings), read by a streaming analyzer so a large
 * binary is never buffered. The toolchain is reported as the `stdlib` module, as syft and trivy do.
 */
const NAME = 'go-binary';
const MIN_SIZE = 1024;
/** Dependencies reported per binary; more is hostile (real programs have a few hundred). */
export const MAX_DEPS = 20_000;

/**
 * The `stdlib` version for a toolchain version, as semver the way Go's vulnerability database
 * writes it: `go1.22.5 X:boringcrypto` → `v1.22.5`, `go1.20` → `v1.20.0`, `go1.21rc2` →
 * `v1.21.0-rc.2`. Undefined for development toolchains (`devel go1.23-abcdef ...`).
 */
export function stdlibVersion(goVersion: string): string | undefined {
  const m = /^go(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?(?:\s|$)/.exec(goVersion);
  if (!m) return undefined;
  const [, major, minor, patch, pre, n] = m;
  return `v${major}.${minor}.${patch ?? '0'}${pre ? `-${pre}.${n}` : ''}`;
}

/**
 * pkg:golang/<module path>@<version>: the path's last element is the purl name, the rest its
 * namespace. Undefined for a path no purl can hold (hostile build info: empty elements, spaces).
 */
export function goPurl(modulePath: string, version: string): string | undefined {
  const slash = modulePath.lastIndexOf('/');
  const namespace = slash > 0 ? modulePath.slice(0, slash) : undefined;
  try {
    return purl('golang', namespace, modulePath.slice(slash + 1), version || undefined);
  } catch {
    return undefined;
  }
}

/** Local-directory replacements (`=> ./greet`) name a path on the build machine, not a module. */
const isLocalPath = (p: string): boolean => /^(?:\.{1,2}[\\/]|\/|[A-Za-z]:[\\/])/.test(p);

/** Packages of one binary's parsed build info, all found at the same locations, and modules that have no purl. */
export function packagesOf(
  goVersion: string,
  info: GoModInfo,
  locations: readonly PackageLocation[],
  foundBy = NAME,
): { packages: Package[]; rejected: string[] } {
  const rejected: string[] = [];
  const layer = locations.reduce((min, l) => Math.min(min, l.layer), Number.POSITIVE_INFINITY);
  const settings = settingsRecord(info.settings);
  const arch = settings['GOARCH'];
  const common = {
    goVersion,
    ...(info.path ? { mainPath: info.path } : {}),
    ...(info.main?.path ? { mainModule: info.main.path } : {}),
  };
  const out: Package[] = [];
  const make = (name: string, version: string, metadata: Record<string, unknown>): void => {
    const p = goPurl(name, version);
    if (!p) {
      rejected.push(name);
      return;
    }
    out.push({
      name,
      version,
      type: 'golang',
      purl: p,
      ...(arch ? { arch } : {}),
      licenses: [],
      locations,
      layer,
      foundBy,
      metadata: { ...common, ...metadata },
    });
  };
  if (info.main?.path) {
    const main = info.main;
    make(main.path, main.version, {
      main: true,
      ...(main.version === '(devel)' ? { devel: true } : {}),
      ...(main.sum ? { h1Digest: main.sum } : {}),
      buildSettings: settings,
    });
  }
  for (const dep of info.deps.slice(0, MAX_DEPS)) make(...depEntry(dep));
  const std = stdlibVersion(goVersion);
  if (std) make('stdlib', std, { buildSettings: settings });
  return { packages: out, rejected };
}

/** Name, version and extra metadata of a dependency, with its `replace` applied. */
function depEntry(dep: GoModule): [string, string, Record<string, unknown>] {
  const r = dep.replace;
  if (!r) return [dep.path, dep.version, dep.sum ? { h1Digest: dep.sum } : {}];
  const replaces = { path: dep.path, version: dep.version };
  if (isLocalPath(r.path)) {
    // The code came from a directory: keep the module path the program imports, with the directory's version.
    return [dep.path, r.version, { replaces, replacedBy: { path: r.path, version: r.version } }];
  }
  return [r.path, r.version, { replaces, ...(r.sum ? { h1Digest: r.sum } : {}) }];
}

function settingsRecord(settings: readonly GoBuildSetting[]): Record<string, string> {
  // fromEntries defines own properties, so a hostile `__proto__` key stays a plain key.
  return Object.fromEntries(settings.map((s) => [s.key, s.value]));
}

function wants(info: FileInfo): boolean {
  if ((info.mode & 0o111) === 0) return false;
  // A hardlink entry carries no size; its content (and analysis) comes from its target.
  return info.type === 'hardlink' || (info.type === 'file' && info.size > MIN_SIZE);
}

/** The Go binary cataloger. */
export const goBinaryCataloger: Cataloger = {
  name: NAME,
  version: 1,
  tags: ['binary', 'language'],
  wants(info) {
    return wants(info) ? { kind: 'stream', create: () => new BuildInfoScanner() } : undefined;
  },
  catalog(ctx: CatalogContext): Package[] {
    // Hardlinks share one analysis object: report such a binary once, at all its paths.
    const found = new Map<BuildInfoResult, FsNode[]>();
    for (const node of ctx.tree.wanted(NAME)) {
      const r = node.analyses?.get(NAME) as BuildInfoResult | undefined;
      if (!r) continue;
      const nodes = found.get(r);
      if (nodes) nodes.push(node);
      else found.set(r, [node]);
    }
    const out: Package[] = [];
    for (const [r, nodes] of found) {
      const locations = nodes
        .map((n) => ({ path: n.info.path, layer: introducedLayer(n) }))
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      const first = locations[0] as PackageLocation;
      const unknown = (message: string): void => {
        ctx.unknown({ path: first.path, layer: first.layer, message, fatal: false });
      };
      if (r.kind === 'pointer') {
        unknown('Go build info in the pre-Go 1.18 pointer format is not supported');
        continue;
      }
      if (r.kind === 'malformed') {
        unknown(`malformed Go build info: ${r.reason}`);
        continue;
      }
      const parsed = parseModInfo(r.modinfo);
      if (!parsed.ok) {
        unknown(`could not parse Go build info: line ${parsed.line}: ${parsed.message}`);
        out.push(...packagesOf(r.goVersion, { path: '', deps: [], settings: [] }, locations).packages);
        continue;
      }
      if (parsed.info.deps.length > MAX_DEPS) {
        unknown(`Go build info lists ${parsed.info.deps.length} modules; only the first ${MAX_DEPS} are reported`);
      }
      const { packages, rejected } = packagesOf(r.goVersion, parsed.info, locations);
      if (rejected.length > 0)
        unknown(`Go build info names modules no purl can hold: ${rejected.slice(0, 5).join(', ')}`);
      out.push(...packages);
    }
    return out;
  },
};
