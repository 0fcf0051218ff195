import { readLockYaml } from './lockyaml.js';
import { isRecord, type Parsed, splitSpecifier } from './manifest.js';
import { type LockPackage, MAX_LOCK_ENTRIES } from './packagelock.js';

/** Strip pnpm's peer-dependency suffix: `(peer@1.0.0)` (v6+) or `_peer@1.0.0` (v5). */
function stripPeers(version: string): string {
  const paren = version.indexOf('(');
  return paren >= 0 ? version.slice(0, paren) : version;
}

/** Name and version from a `packages` key: `/name/1.2.3_peer` (v5), `/name@1.2.3(peer)` (v6), `name@1.2.3` (v9). */
export function parsePnpmKey(key: string, v5: boolean): { name: string; version: string } | undefined {
  const k = key.startsWith('/') ? key.slice(1) : key;
  if (v5) {
    const parts = k.split('/');
    const scoped = parts[0]?.startsWith('@');
    const name = scoped ? `${parts[0]}/${parts[1]}` : parts[0];
    const raw = parts[scoped ? 2 : 1];
    if (!name || !raw) return undefined;
    const underscore = raw.indexOf('_');
    return { name, version: underscore > 0 ? raw.slice(0, underscore) : raw };
  }
  const s = splitSpecifier(stripPeers(k));
  return s?.range ? { name: s.name, version: s.range } : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function toPackage(key: string, entry: unknown, v5: boolean): LockPackage | undefined {
  const fromKey = parsePnpmKey(key, v5);
  const meta = isRecord(entry) ? entry : {};
  const name = str(meta['name']) ?? fromKey?.name;
  const version = str(meta['version']) ?? fromKey?.version;
  if (!name || !version) return undefined;
  const resolution = isRecord(meta['resolution']) ? meta['resolution'] : {};
  const integrity = str(resolution['integrity']);
  const tarball = str(resolution['tarball']);
  return { name, version, ...(tarball ? { resolved: tarball } : {}), ...(integrity ? { integrity } : {}) };
}

/**
 * Production packages of a pnpm-lock.yaml. Lockfile v5 and v6 flag each package `dev: true|false`;
 * v9 has no flags, so the importers' `dependencies` and `optionalDependencies` are followed through
 * `snapshots` (ref: pnpm's lockfile-types and lockfile-file).
 */
export function parsePnpmLock(text: string): Parsed<LockPackage[]> {
  const read = readLockYaml(text, 'pnpm-lock.yaml');
  if (!read.ok) return read;
  const doc = read.value;
  if (!isRecord(doc)) return { ok: false, reason: 'pnpm-lock.yaml is not a YAML mapping' };
  const lockVersion = Number.parseFloat(String(doc['lockfileVersion'] ?? ''));
  if (!Number.isFinite(lockVersion)) return { ok: false, reason: 'pnpm-lock.yaml has no lockfileVersion' };
  const packages = isRecord(doc['packages']) ? doc['packages'] : {};
  const keys = Object.keys(packages);
  if (keys.length > MAX_LOCK_ENTRIES)
    return { ok: false, reason: `pnpm-lock.yaml has over ${MAX_LOCK_ENTRIES} entries` };
  const out: LockPackage[] = [];
  const snapshots = doc['snapshots'];
  if (lockVersion < 9 || !isRecord(snapshots)) {
    const v5 = lockVersion < 6;
    for (const key of keys) {
      const entry = packages[key];
      if (isRecord(entry) && entry['dev'] === true) continue;
      const p = toPackage(key, entry, v5);
      if (p) out.push(p);
    }
    return { ok: true, value: out };
  }
  const importers = isRecord(doc['importers']) ? doc['importers'] : {};
  const stack: string[] = [];
  const edges = (deps: unknown): void => {
    if (!isRecord(deps)) return;
    for (const [name, ref] of Object.entries(deps)) {
      // importers write `{specifier, version}`, snapshots the bare version string.
      const version = isRecord(ref) ? str(ref['version']) : str(ref);
      if (!version || version.startsWith('link:')) continue;
      stack.push(`${name}@${version}`, version);
    }
  };
  for (const importer of Object.values(importers)) {
    if (!isRecord(importer)) continue;
    edges(importer['dependencies']);
    edges(importer['optionalDependencies']);
  }
  const seen = new Set<string>();
  while (stack.length > 0) {
    const key = stack.pop() as string;
    if (seen.has(key) || !Object.hasOwn(snapshots, key)) continue;
    seen.add(key);
    const snap = snapshots[key];
    if (isRecord(snap)) {
      edges(snap['dependencies']);
      edges(snap['optionalDependencies']);
    }
  }
  const reported = new Set<string>();
  for (const key of seen) {
    const base = stripPeers(key);
    if (reported.has(base)) continue;
    reported.add(base);
    const p = toPackage(base, packages[base], false);
    if (p) out.push(p);
  }
  return { ok: true, value: out };
}
