/** Outcome of parsing one file: a value, or why it could not be read. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** What an installed package.json says about its package. */
export interface NpmManifest {
  readonly name: string;
  readonly version: string;
  readonly licenses: string[];
  readonly description?: string;
  readonly homepage?: string;
  readonly private?: boolean;
}

const MAX_LICENSES = 16;
const MAX_TEXT = 256;

/** Whether a parsed JSON or YAML value is a plain mapping. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A segment that can name a package directory: not hidden, not empty, not node_modules itself. */
function packageSegment(seg: string | undefined): boolean {
  return seg !== undefined && seg !== '' && seg[0] !== '.' && seg !== 'node_modules';
}

/**
 * Whether `path` is the package.json at the root of an installed package: after the first
 * `node_modules`, the path must alternate package directories (`name` or `@scope/name`) and
 * `node_modules` down to the file, so a package.json nested inside a package's own folders never
 * counts. pnpm's virtual store (`node_modules/.pnpm/<id>/node_modules/<name>`) is followed.
 */
export function isPackageRootManifest(path: string): boolean {
  const parts = path.split('/');
  if (parts.pop() !== 'package.json') return false;
  let i = parts.indexOf('node_modules');
  if (i < 0) return false;
  i++;
  for (;;) {
    const seg = parts[i];
    if (seg === '.pnpm') {
      if (!packageSegment(parts[i + 1]) || parts[i + 2] !== 'node_modules') return false;
      i += 3;
      continue;
    }
    if (!packageSegment(seg)) return false;
    if (seg?.startsWith('@')) {
      i++;
      if (!packageSegment(parts[i]) || parts[i]?.startsWith('@')) return false;
    }
    i++;
    if (i === parts.length) return true;
    if (parts[i] !== 'node_modules') return false;
    i++;
  }
}

/** Whether `path` lies inside some node_modules directory. */
export function underNodeModules(path: string): boolean {
  return path.split('/').slice(0, -1).includes('node_modules');
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, MAX_TEXT) : undefined;
}

/**
 * Licences as package.json declares them: `license` as a string or a legacy `{type}` object, or the
 * legacy `licenses` array of `{type}` objects or strings (ref: npm docs, package.json#license).
 */
export function manifestLicenses(doc: Record<string, unknown>): string[] {
  const out: string[] = [];
  const add = (v: unknown): void => {
    const t = text(v) ?? (isRecord(v) ? text(v['type']) : undefined);
    if (t && !out.includes(t) && out.length < MAX_LICENSES) out.push(t);
  };
  add(doc['license']);
  const legacy = doc['licenses'];
  if (Array.isArray(legacy)) for (const l of legacy.slice(0, MAX_LICENSES)) add(l);
  else add(legacy);
  return out;
}

/** Parse the JSON of an installed package.json; the package needs a string name and version. */
export function parsePackageManifest(json: string): Parsed<NpmManifest> {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    return { ok: false, reason: `package.json is not valid JSON: ${(err as Error).message.slice(0, 200)}` };
  }
  if (!isRecord(doc)) return { ok: false, reason: 'package.json is not a JSON object' };
  const name = text(doc['name']);
  const version = text(doc['version']);
  if (!name) return { ok: false, reason: 'package.json has no name' };
  if (!version) return { ok: false, reason: `package.json of ${name} has no version` };
  const description = text(doc['description']);
  const homepage = text(doc['homepage']);
  return {
    ok: true,
    value: {
      name,
      version,
      licenses: manifestLicenses(doc),
      ...(description ? { description } : {}),
      ...(homepage ? { homepage } : {}),
      ...(doc['private'] === true ? { private: true } : {}),
    },
  };
}

/** The direct production dependencies a project's own package.json declares (dependencies, optionalDependencies). */
export function productionDependencies(json: string): Map<string, string> | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isRecord(doc)) return undefined;
  const out = new Map<string, string>();
  for (const field of ['dependencies', 'optionalDependencies']) {
    const deps = doc[field];
    if (!isRecord(deps)) continue;
    for (const [name, range] of Object.entries(deps)) if (typeof range === 'string') out.set(name, range);
  }
  return out;
}

/** Split `name@range` (the name may be scoped: `@scope/name@range`). */
export function splitSpecifier(spec: string): { name: string; range: string } | undefined {
  const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
  if (at <= 0) return undefined;
  return { name: spec.slice(0, at), range: spec.slice(at + 1) };
}

/** An `npm:real-name@version` alias target, as lockfiles write aliased installs. */
export function aliasTarget(version: string): { name: string; version: string } | undefined {
  if (!version.startsWith('npm:')) return undefined;
  const s = splitSpecifier(version.slice(4));
  return s?.range ? { name: s.name, version: s.range } : undefined;
}

/** Split an npm package name into purl namespace (the `@scope`) and name. */
export function npmPurlParts(name: string): { namespace: string | undefined; name: string } {
  const slash = name.indexOf('/');
  if (name.startsWith('@') && slash > 0) return { namespace: name.slice(0, slash), name: name.slice(slash + 1) };
  return { namespace: undefined, name };
}
