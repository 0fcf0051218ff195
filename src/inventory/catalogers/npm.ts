import type { FsNode } from '../../image/filetree.js';
import { introducedLayer } from '../../image/filetree.js';
import type { CatalogContext, Cataloger, Package } from '../model.js';
import { purl } from '../purl.js';
import {
  isPackageRootManifest,
  npmPurlParts,
  type Parsed,
  parsePackageManifest,
  productionDependencies,
  underNodeModules,
} from './npm/manifest.js';
import { type LockPackage, parsePackageLock } from './npm/packagelock.js';
import { parsePnpmLock } from './npm/pnpm.js';
import { yarnProductionPackages } from './npm/yarn.js';

/**
 * npm: installed packages (the package.json at the root of each package under node_modules) and,
 * for bundled apps that ship a lockfile without node_modules, the lockfile's production packages.
 * Where node_modules exists beside a lockfile, the installed files are the truth and the lockfile
 * is not read, so nothing is counted twice.
 */
const NAME = 'npm';
/** Lockfiles in the order one is preferred when a folder has several (npm uses shrinkwrap over package-lock). */
const LOCKFILES = ['npm-shrinkwrap.json', 'package-lock.json', 'pnpm-lock.yaml', 'yarn.lock'] as const;
type LockName = (typeof LOCKFILES)[number];
/** A project's own package.json is only needed for its dependency names; a bigger one is not a project file. */
const MAX_PROJECT_MANIFEST = 1024 * 1024;

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function dirName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash >= 0 ? path.slice(0, slash) : '';
}

function join(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name;
}

function isLockfile(path: string): boolean {
  return (LOCKFILES as readonly string[]).includes(baseName(path)) && !underNodeModules(path);
}

function npmPurl(name: string, version: string): string {
  const p = npmPurlParts(name);
  return purl('npm', p.namespace, p.name, version);
}

/** The npm cataloger: installed node_modules packages, and lockfile packages of bundled apps. */
export const npmCataloger: Cataloger = {
  name: NAME,
  version: 1,
  tags: ['language'],
  wants(info) {
    // package.json files are a few KiB; a huge one is hostile, not a package.
    if (isPackageRootManifest(info.path)) return { kind: 'buffer', maxBytes: 4 * 1024 * 1024 };
    if (isLockfile(info.path)) return { kind: 'buffer' };
    if (baseName(info.path) === 'package.json' && !underNodeModules(info.path) && info.size <= MAX_PROJECT_MANIFEST) {
      return { kind: 'buffer' };
    }
    return undefined;
  },
  catalog(ctx: CatalogContext): Package[] {
    const out: Package[] = [];
    const lockDirs = new Map<string, Map<LockName, FsNode>>();
    for (const node of ctx.tree.wanted(NAME)) {
      const path = node.info.path;
      if (node.info.type !== 'file' && node.info.type !== 'hardlink') continue;
      if (isPackageRootManifest(path)) {
        const p = installed(ctx, node);
        if (p) out.push(p);
      } else if (isLockfile(path)) {
        const dir = dirName(path);
        const byName = lockDirs.get(dir) ?? new Map<LockName, FsNode>();
        byName.set(baseName(path) as LockName, node);
        lockDirs.set(dir, byName);
      }
    }
    for (const [dir, byName] of lockDirs) {
      if (hasNodeModules(ctx, dir)) continue;
      const lockName = LOCKFILES.find((n) => byName.has(n)) as LockName;
      out.push(...fromLockfile(ctx, dir, lockName, byName.get(lockName) as FsNode));
    }
    return out;
  },
};

function installed(ctx: CatalogContext, node: FsNode): Package | undefined {
  const { path } = node.info;
  const layer = introducedLayer(node);
  if (!node.content) {
    const message = node.missing ?? 'package.json content was not collected';
    ctx.unknown({ path, layer, message, fatal: false });
    return undefined;
  }
  const parsed = parsePackageManifest(node.content.toString('utf8'));
  if (!parsed.ok) {
    ctx.unknown({ path, layer, message: parsed.reason, fatal: false });
    return undefined;
  }
  const m = parsed.value;
  let id: string;
  try {
    id = npmPurl(m.name, m.version);
  } catch (err) {
    ctx.unknown({ path, layer, message: `package name ${JSON.stringify(m.name)}: ${String(err)}`, fatal: false });
    return undefined;
  }
  return {
    name: m.name,
    version: m.version,
    type: 'npm',
    purl: id,
    licenses: m.licenses,
    locations: [{ path, layer }],
    layer,
    foundBy: NAME,
    metadata: {
      evidence: 'installed',
      ...(m.description ? { description: m.description } : {}),
      ...(m.homepage ? { homepage: m.homepage } : {}),
      ...(m.private ? { private: true } : {}),
    },
  };
}

function hasNodeModules(ctx: CatalogContext, dir: string): boolean {
  try {
    return ctx.tree.resolve(join(dir, 'node_modules'))?.node.info.type === 'dir';
  } catch {
    return false; // a symlink loop is no node_modules directory
  }
}

function fromLockfile(ctx: CatalogContext, dir: string, lockName: LockName, node: FsNode): Package[] {
  const { path } = node.info;
  const layer = introducedLayer(node);
  if (!node.content) {
    ctx.unknown({ path, layer, message: node.missing ?? 'lockfile content was not collected', fatal: false });
    return [];
  }
  const text = node.content.toString('utf8');
  let parsed: Parsed<LockPackage[]>;
  try {
    parsed =
      lockName === 'pnpm-lock.yaml'
        ? parsePnpmLock(text)
        : lockName === 'yarn.lock'
          ? yarnProductionPackages(text, projectDependencies(ctx, dir))
          : parsePackageLock(text);
  } catch (err) {
    // The YAML parser can exhaust the stack on hostile nesting; that is this file's problem only.
    parsed = { ok: false, reason: `${lockName} could not be parsed: ${String(err).slice(0, 200)}` };
  }
  if (!parsed.ok) {
    ctx.unknown({ path, layer, message: parsed.reason, fatal: false });
    return [];
  }
  const seen = new Set<string>();
  const out: Package[] = [];
  for (const p of parsed.value) {
    const key = `${p.name}@${p.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    let id: string;
    try {
      id = npmPurl(p.name, p.version);
    } catch {
      ctx.unknown({
        path,
        layer,
        message: `${lockName} names an invalid package ${JSON.stringify(key)}`,
        fatal: false,
      });
      continue;
    }
    out.push({
      name: p.name,
      version: p.version,
      type: 'npm',
      purl: id,
      licenses: [],
      locations: [{ path, layer }],
      layer,
      foundBy: NAME,
      metadata: {
        evidence: 'lockfile',
        ...(p.resolved ? { resolved: p.resolved } : {}),
        ...(p.integrity ? { integrity: p.integrity } : {}),
      },
    });
  }
  return out;
}

function projectDependencies(ctx: CatalogContext, dir: string): Map<string, string> | undefined {
  const node = ctx.tree.lookup(join(dir, 'package.json'));
  return node?.content ? productionDependencies(node.content.toString('utf8')) : undefined;
}
