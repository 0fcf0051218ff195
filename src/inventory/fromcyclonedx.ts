/**
 * CycloneDX 1.4-1.6 JSON back into what advisory matching reads: per platform, the packages (type, name and version
 * from the purl; the dpkg/apk source package from Portcullis's `portcullis:source:*` properties or the purl's
 * `upstream` qualifier), the OS release, and the subject (digest, layers) the findings name. It reads what
 * report/sbom/cyclonedx.ts and report/vuln-cyclonedx.ts write (one image, or an index whose platforms are container
 * components nesting their packages), and any other CycloneDX document with purls. Input is untrusted: every
 * structure is bounded, and a refusal is one SBOM_INVALID line naming the document and the JSON path.
 */
import { fail, printable } from '../errors.js';
import type { Platform } from '../oci/manifest.js';
import { parsePurl } from '../vex/identity.js';
import { at, isObject, type Json, JsonReader } from '../vex/json.js';
import type { Inventory, LayerSummary, Subject } from './image.js';
import type { OsRelease, Package, PackageType, Unknown } from './model.js';

export const SBOM_SPEC_VERSIONS = ['1.4', '1.5', '1.6'] as const;
/** SBOM text over this size is refused before it is parsed (a 10,000-package image writes about 10 MB). */
export const MAX_SBOM_BYTES = 64 * 1024 * 1024;
const MAX_COMPONENTS = 200_000;
/** Component nesting: an index, its platforms, their packages, jars inside jars. */
const MAX_DEPTH = 16;
const MAX_PROPERTIES = 4_096;
const MAX_LAYERS = 4_096;
const MAX_VULNERABILITIES = 100_000;
const MAX_AFFECTS = 100_000;

const PACKAGE_TYPES: ReadonlySet<string> = new Set<PackageType>([
  'deb',
  'apk',
  'rpm',
  'npm',
  'pypi',
  'golang',
  'maven',
  'gem',
]);

/** One advisory the document already reports for a package (the gate's findings at assessment time). */
export interface SbomVulnerability {
  /** The id and its aliases. */
  readonly ids: readonly string[];
  readonly purl: string;
  /** Suppressed (VEX, exception) when the document gives an analysis state. */
  readonly suppressed: boolean;
}

/** One platform of the document as an inventory, and what it already reports. */
export interface SbomPlatform {
  readonly inv: Inventory;
  readonly vulnerabilities: readonly SbomVulnerability[];
}

/** What a CycloneDX document gives the matcher. */
export interface SbomInventory {
  readonly platforms: readonly SbomPlatform[];
  /** What could not be used (components without a purl, purl types no advisory source covers), one line each. */
  readonly notes: readonly string[];
}

/** Parse SBOM text (a Buffer or string) and read it. Throws SBOM_INVALID naming `where`. */
export function parseCycloneDxText(text: string | Uint8Array, where: string): SbomInventory {
  const size = typeof text === 'string' ? Buffer.byteLength(text) : text.byteLength;
  if (size > MAX_SBOM_BYTES) fail('SBOM_INVALID', `${where}: larger than ${MAX_SBOM_BYTES / 1024 / 1024} MiB`);
  const s = typeof text === 'string' ? text : Buffer.from(text).toString('utf8');
  let doc: unknown;
  try {
    // V8's JSON.parse is iterative: deep nesting costs memory bounded by the size, never the stack.
    doc = JSON.parse(s.charCodeAt(0) === 0xfeff ? s.slice(1) : s);
  } catch (err) {
    fail('SBOM_INVALID', `${where}: $: not valid JSON (${printable((err as Error).message, 120)})`);
  }
  return readCycloneDx(doc, where);
}

interface Entry {
  readonly v: unknown;
  readonly path: string;
  readonly depth: number;
}

/** A platform being read: its subject component and the components under it. */
interface Scope {
  readonly subject: Json | undefined;
  readonly subjectPath: string;
  /** The bom-ref prefix its package refs carry (`<platform ref>/` in a multi-platform BOM). */
  readonly refs: Map<string, Package>;
  readonly packages: Package[];
  os: OsRelease | undefined;
  osPath: string | undefined;
  distroQualifier: string | undefined;
}

/** Read a parsed CycloneDX document. Throws SBOM_INVALID naming `where` and the JSON path. */
export function readCycloneDx(doc: unknown, where: string): SbomInventory {
  const r = new JsonReader(where, 'SBOM_INVALID');
  const root = r.object(doc, '$');
  if (root.bomFormat !== 'CycloneDX') r.fail('$.bomFormat', "expected 'CycloneDX'");
  r.oneOf(root.specVersion, '$.specVersion', SBOM_SPEC_VERSIONS);
  const metadata = root.metadata === undefined ? undefined : r.object(root.metadata, '$.metadata');
  const meta = metadata?.component === undefined ? undefined : r.object(metadata.component, '$.metadata.component');
  const top = r.optArray(root.components, '$.components', MAX_COMPONENTS);
  const counter = { components: 0, noPurl: 0, otherTypes: new Map<string, number>() };

  // A container component nesting components is one platform of an index; everything else belongs to the subject.
  const platformAt = top
    .map((v, i) => ({ v, i }))
    .filter(({ v }) => isObject(v) && v.type === 'container' && Array.isArray(v.components));
  const scopes: Scope[] = [];
  const newScope = (subject: Json | undefined, subjectPath: string): Scope => {
    const s: Scope = {
      subject,
      subjectPath,
      refs: new Map(),
      packages: [],
      os: undefined,
      osPath: undefined,
      distroQualifier: undefined,
    };
    scopes.push(s);
    return s;
  };
  const platformIndexes = new Set(platformAt.map((p) => p.i));
  const loose = top.map((v, i) => ({ v, i })).filter(({ i }) => !platformIndexes.has(i));
  if (platformAt.length === 0 || loose.length > 0) {
    const scope = newScope(meta, '$.metadata.component');
    walk(
      r,
      scope,
      loose.map(({ v, i }) => ({ v, path: at('$.components', i), depth: 0 })),
      counter,
    );
  }
  for (const { v, i } of platformAt) {
    const path = at('$.components', i);
    const c = v as Json;
    const scope = newScope(c, path);
    const nested = r.array(c.components, at(path, 'components'), MAX_COMPONENTS);
    counter.components++;
    walk(
      r,
      scope,
      nested.map((n, j) => ({ v: n, path: at(at(path, 'components'), j), depth: 1 })),
      counter,
    );
  }

  const vulns = readVulnerabilities(r, root, scopes);
  const platforms = scopes.map((scope, k): SbomPlatform => {
    const subject = subjectOf(r, scope, meta);
    const os = scope.os ?? osFromQualifier(scope.distroQualifier);
    const unknowns = unknownsOf(scope.subject ?? meta);
    return {
      inv: {
        subject,
        os,
        packages: scope.packages,
        unknowns,
        stats: { files: 0, layers: [] },
      },
      vulnerabilities: vulns[k] ?? [],
    };
  });
  const notes: string[] = [];
  if (counter.noPurl > 0) notes.push(`${counter.noPurl} component(s) without a purl are not matched`);
  for (const [type, n] of [...counter.otherTypes].sort())
    notes.push(`${n} component(s) of purl type '${printable(type, 40)}' are not matched (no advisory source for it)`);
  const compositions = Array.isArray(root.compositions) ? root.compositions : [];
  if (compositions.some((c) => isObject(c) && c.aggregate === 'incomplete'))
    notes.push('the SBOM says its inventory is incomplete');
  return { platforms, notes };
}

/** Walk components depth-first without recursion, adding packages and the OS release to the scope. */
function walk(
  r: JsonReader,
  scope: Scope,
  start: readonly Entry[],
  counter: { components: number; noPurl: number; otherTypes: Map<string, number> },
): void {
  const stack = [...start].reverse();
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop() as Entry;
    if (++counter.components > MAX_COMPONENTS) r.fail(path, `more than ${MAX_COMPONENTS} components`);
    if (depth > MAX_DEPTH) r.fail(path, `components nested deeper than ${MAX_DEPTH}`);
    const c = r.object(v, path);
    const type = c.type;
    if (type === 'operating-system') {
      const id = r.string(c.name, at(path, 'name')).toLowerCase();
      const version = r.optString(c.version, at(path, 'version'));
      const os: OsRelease = { id, ...(version ? { versionId: version } : {}), source: 'sbom' };
      if (!scope.os) {
        scope.os = os;
        scope.osPath = path;
      } else if (scope.os.id !== os.id || scope.os.versionId !== os.versionId) {
        r.fail(path, `a second operating system (${scope.os.id} is at ${scope.osPath})`);
      }
    } else if (c.purl !== undefined) {
      const p = packageOf(r, c, path, scope);
      if (typeof p === 'string') counter.otherTypes.set(p, (counter.otherTypes.get(p) ?? 0) + 1);
      else scope.packages.push(p);
    } else if (type !== 'container') {
      counter.noPurl++;
    }
    const nested = r.optArray(c.components, at(path, 'components'), MAX_COMPONENTS);
    for (let j = nested.length - 1; j >= 0; j--) {
      stack.push({ v: nested[j], path: at(at(path, 'components'), j), depth: depth + 1 });
    }
  }
}

/** The `portcullis:*` properties of a component (the first of each name). */
function properties(r: JsonReader, c: Json, path: string): Map<string, string> {
  const out = new Map<string, string>();
  const list = r.optArray(c.properties, at(path, 'properties'), MAX_PROPERTIES);
  for (let i = 0; i < list.length; i++) {
    const p = list[i];
    if (!isObject(p) || typeof p.name !== 'string' || !p.name.startsWith('portcullis:')) continue;
    const value = r.string(p.value, at(at(at(path, 'properties'), i), 'value'));
    if (!out.has(p.name)) out.set(p.name, value);
  }
  return out;
}

/** Lower case, and runs of `-_.` as one `-`: how names compare across writers (PEP 503 for PyPI, harmless elsewhere). */
const loose = (s: string): string => s.toLowerCase().replace(/[-_.]+/g, '-');

/** A package from a component with a purl; the purl's type when no advisory source covers it. */
function packageOf(r: JsonReader, c: Json, path: string, scope: Scope): Package | string {
  const raw = r.string(c.purl, at(path, 'purl'));
  const purl = parsePurl(raw);
  if (!purl) r.fail(at(path, 'purl'), `'${printable(raw, 120)}' is not a valid package URL`);
  if (!PACKAGE_TYPES.has(purl.type)) return purl.type;
  const type = purl.type as PackageType;
  // npm scopes and Go module paths are part of the name the advisories use; a Maven group stays in the purl.
  const fromPurl =
    (type === 'npm' || type === 'golang') && purl.namespace ? `${purl.namespace}/${purl.name}` : purl.name;
  const stated = r.optString(c.name, at(path, 'name'));
  const group = r.optString(c.group, at(path, 'group'));
  const statedFull = stated && group && (type === 'npm' || type === 'golang') ? `${group}/${stated}` : stated;
  // The component's own spelling when it names the same package (PyPI's "PyYAML" is purl "pyyaml").
  const name = statedFull && loose(statedFull) === loose(fromPurl) ? statedFull : fromPurl;
  const componentVersion = r.optString(c.version, at(path, 'version'));
  const version = purl.version ?? componentVersion;
  if (version === undefined) r.fail(at(path, 'purl'), `'${printable(raw, 120)}' has no version`);
  const props = properties(r, c, path);
  const q = purl.qualifiers ?? {};
  if ((type === 'deb' || type === 'apk') && q.distro && !scope.distroQualifier) scope.distroQualifier = q.distro;
  const source = sourceOf(props, q.upstream, version);
  const layer = intProp(r, props, 'portcullis:layer:index', path, MAX_LAYERS) ?? 0;
  const locations: { path: string; layer: number }[] = [];
  for (let i = 0; props.has(`portcullis:location:${i}:path`); i++) {
    locations.push({ path: (props.get(`portcullis:location:${i}:path`) as string).replace(/^\/+/, ''), layer });
  }
  const p: Package = {
    name,
    version,
    type,
    purl: raw,
    ...(source ? { source } : {}),
    ...(q.arch ? { arch: q.arch } : {}),
    licenses: [],
    locations,
    layer,
    foundBy: props.get('portcullis:foundBy') ?? 'cyclonedx',
  };
  const ref = typeof c['bom-ref'] === 'string' ? c['bom-ref'] : undefined;
  if (ref !== undefined && !scope.refs.has(ref)) scope.refs.set(ref, p);
  return p;
}

/** The source package: Portcullis's properties, else the purl's `upstream` qualifier (`name` or `name@version`). */
function sourceOf(
  props: Map<string, string>,
  upstream: string | undefined,
  version: string,
): Package['source'] | undefined {
  const name = props.get('portcullis:source:name');
  const sourceVersion = props.get('portcullis:source:version');
  if (name) return { name, version: sourceVersion ?? version };
  if (!upstream) return undefined;
  const at = upstream.indexOf('@');
  return at > 0 ? { name: upstream.slice(0, at), version: upstream.slice(at + 1) } : { name: upstream, version };
}

function intProp(
  r: JsonReader,
  props: Map<string, string>,
  name: string,
  path: string,
  max: number,
): number | undefined {
  const v = props.get(name);
  if (v === undefined) return undefined;
  if (!/^\d{1,6}$/.test(v) || Number(v) >= max)
    r.fail(at(path, 'properties'), `${name} '${printable(v, 40)}' is not an index below ${max}`);
  return Number(v);
}

/** `debian-12`, `alpine-3.19.1` (syft's and Portcullis's `distro` qualifier) as an OS release. */
function osFromQualifier(q: string | undefined): OsRelease | undefined {
  const m = q ? /^([a-z][a-z0-9_.]*)-(\d[\w.]*)$/.exec(q) : null;
  return m?.[1] && m[2] ? { id: m[1], versionId: m[2], source: 'sbom' } : undefined;
}

/** The subject of a platform: the reference, digest, platform and layers the writer recorded. */
function subjectOf(r: JsonReader, scope: Scope, meta: Json | undefined): Subject {
  const c = scope.subject;
  const path = scope.subjectPath;
  const props = c ? properties(r, c, path) : new Map<string, string>();
  const name = c ? r.optString(c.name, at(path, 'name')) : undefined;
  const version = c ? r.optString(c.version, at(path, 'version')) : undefined;
  const kind = c === undefined || c.type === 'container' ? 'image' : 'rootfs';
  const digest = version && /^sha(256:[0-9a-f]{64}|512:[0-9a-f]{128})$/.test(version) ? version : undefined;
  const layers: LayerSummary[] = [];
  for (const [k, v] of props) {
    const m = /^portcullis:image:layer:(\d{1,6}):diffID$/.exec(k);
    if (!m) continue;
    const index = Number(m[1]);
    if (index >= MAX_LAYERS) r.fail(at(path, 'properties'), `layer index ${index} is over ${MAX_LAYERS}`);
    layers[index] = { index, diffId: v };
  }
  for (let i = 0; i < layers.length; i++) layers[i] ??= { index: i };
  const platform = platformOf(props.get('portcullis:image:platform'));
  const indexDigest = props.get('portcullis:image:indexDigest') ?? metaVersionDigest(meta, c);
  const configDigest = props.get('portcullis:image:configDigest');
  return {
    kind,
    source: sourceOfName(name ?? 'sbom'),
    ...(digest ? { digest } : {}),
    ...(indexDigest ? { indexDigest } : {}),
    ...(configDigest ? { configDigest } : {}),
    ...(platform ? { platform } : {}),
    layers,
  };
}

/** In a multi-platform BOM the index digest is the metadata component's version. */
function metaVersionDigest(meta: Json | undefined, c: Json | undefined): string | undefined {
  if (!meta || meta === c || typeof meta.version !== 'string') return undefined;
  return /^sha256:[0-9a-f]{64}$/.test(meta.version) ? meta.version : undefined;
}

/** The writer drops `docker://` from registry references (subjectName); other transports keep their prefix. */
function sourceOfName(name: string): string {
  return /^(oci|oci-archive|docker-archive|dir|docker):/.test(name) || name.startsWith('/') ? name : `docker://${name}`;
}

function platformOf(v: string | undefined): Platform | undefined {
  const parts = v?.split('/');
  if (!parts || parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) return undefined;
  return { os: parts[0] as string, architecture: parts[1] as string, ...(parts[2] ? { variant: parts[2] } : {}) };
}

/** `portcullis:unknown` properties (`cataloger: /path: message`) as non-fatal unknowns. */
function unknownsOf(c: Json | undefined): Unknown[] {
  const list = c && Array.isArray(c.properties) ? c.properties.slice(0, MAX_PROPERTIES) : [];
  const out: Unknown[] = [];
  for (const p of list) {
    if (!isObject(p) || p.name !== 'portcullis:unknown' || typeof p.value !== 'string') continue;
    const m = /^([^:]+): \/([^:]*): (.*)$/s.exec(p.value);
    out.push({
      cataloger: m?.[1] ?? 'sbom',
      path: m?.[2] ?? '',
      message: printable(m?.[3] ?? p.value, 400),
      fatal: false,
    });
  }
  return out;
}

/**
 * The `vulnerabilities` the document reports, per platform: each id with its aliases, for every component its
 * `affects` names by bom-ref (refs that name no package are ignored: they cannot be compared with a new finding).
 */
function readVulnerabilities(r: JsonReader, root: Json, scopes: readonly Scope[]): SbomVulnerability[][] {
  const out = scopes.map((): SbomVulnerability[] => []);
  const list = r.optArray(root.vulnerabilities, '$.vulnerabilities', MAX_VULNERABILITIES);
  for (let i = 0; i < list.length; i++) {
    const path = at('$.vulnerabilities', i);
    const v = r.object(list[i], path);
    const id = r.string(v.id, at(path, 'id'));
    const refs = r.optArray(v.references, at(path, 'references'), MAX_AFFECTS);
    const ids = [id];
    for (let j = 0; j < refs.length; j++) {
      const ref = refs[j];
      if (isObject(ref) && typeof ref.id === 'string') ids.push(ref.id);
    }
    const suppressed = isObject(v.analysis) && typeof v.analysis.state === 'string';
    const affects = r.optArray(v.affects, at(path, 'affects'), MAX_AFFECTS);
    for (let j = 0; j < affects.length; j++) {
      const a = affects[j];
      if (!isObject(a) || typeof a.ref !== 'string') continue;
      scopes.forEach((scope, k) => {
        const p = scope.refs.get(a.ref as string);
        if (p) out[k]?.push({ ids, purl: p.purl, suppressed });
      });
    }
  }
  return out;
}
