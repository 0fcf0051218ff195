import { aliasTarget, isRecord, type Parsed } from './manifest.js';

/** A package a lockfile says is installed in production. */
export interface LockPackage {
  readonly name: string;
  readonly version: string;
  readonly resolved?: string;
  readonly integrity?: string;
}

/** The most lockfile entries read from one file; a larger file is refused as hostile. */
export const MAX_LOCK_ENTRIES = 200_000;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function lockPackage(name: string, version: string, entry: Record<string, unknown>): LockPackage {
  const alias = aliasTarget(version);
  const resolved = str(entry['resolved']);
  const integrity = str(entry['integrity']);
  return {
    name: alias?.name ?? name,
    version: alias?.version ?? version,
    ...(resolved ? { resolved } : {}),
    ...(integrity ? { integrity } : {}),
  };
}

/** The package name a `packages` key installs: the path after its last `node_modules/`. */
function nameOfKey(key: string): string | undefined {
  const at = key.lastIndexOf('node_modules/');
  if (at < 0) return undefined;
  return key.slice(at + 'node_modules/'.length) || undefined;
}

/**
 * Production packages of an npm package-lock.json / npm-shrinkwrap.json (ref: npm docs,
 * package-lock-json): the v2/v3 `packages` map when present, else the v1 `dependencies` tree.
 * Entries flagged `dev` are left out; links and workspace folders are not packages of their own.
 */
export function parsePackageLock(json: string): Parsed<LockPackage[]> {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    return { ok: false, reason: `lockfile is not valid JSON: ${(err as Error).message.slice(0, 200)}` };
  }
  if (!isRecord(doc)) return { ok: false, reason: 'lockfile is not a JSON object' };
  const out: LockPackage[] = [];
  const packages = doc['packages'];
  if (isRecord(packages)) {
    const keys = Object.keys(packages);
    if (keys.length > MAX_LOCK_ENTRIES) return { ok: false, reason: `lockfile has over ${MAX_LOCK_ENTRIES} entries` };
    for (const key of keys) {
      const entry = packages[key];
      const name = nameOfKey(key);
      if (!isRecord(entry) || !name || entry['link'] === true || entry['dev'] === true) continue;
      const version = str(entry['version']);
      if (!version) continue;
      out.push(lockPackage(str(entry['name']) ?? name, version, entry));
    }
    return { ok: true, value: out };
  }
  const deps = doc['dependencies'];
  if (!isRecord(deps)) return { ok: false, reason: 'lockfile has neither a packages map nor a dependencies tree' };
  // v1 nests dependencies; walk with an explicit stack so a hostile nesting depth cannot overflow it.
  const stack: Record<string, unknown>[] = [deps];
  let seen = 0;
  while (stack.length > 0) {
    const level = stack.pop() as Record<string, unknown>;
    for (const [name, entry] of Object.entries(level)) {
      if (++seen > MAX_LOCK_ENTRIES) return { ok: false, reason: `lockfile has over ${MAX_LOCK_ENTRIES} entries` };
      if (!isRecord(entry) || entry['dev'] === true) continue;
      const version = str(entry['version']);
      // `file:` versions are links to folders of the project itself, not installed packages.
      if (version && !version.startsWith('file:')) out.push(lockPackage(name, version, entry));
      const nested = entry['dependencies'];
      if (isRecord(nested)) stack.push(nested);
    }
  }
  return { ok: true, value: out };
}
