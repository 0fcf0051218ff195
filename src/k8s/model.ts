/**
 * The Kubernetes object model the k8s checks read: every object from manifests, cluster dumps (`kubectl get -o
 * json` lists) or the live cluster, with its identity and a way back to the line that holds any field, so a
 * finding points at what to fix.
 */

/** A path into an object: map keys and list indexes, as in `['spec', 'template', 'spec', 'containers', 0]`. */
export type Path = readonly (string | number)[];

/** Where an object came from: a file (and the document and list item in it) or the live cluster. */
export interface Source {
  /** The file, relative to what was given on the command line; `cluster` for live objects. */
  readonly file: string;
  /** 0-based index of the YAML document in the file. */
  readonly doc: number;
  /** 0-based index in a `kind: List` (or `*List`) document's `items`, when the object came from one. */
  readonly item?: number;
}

export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  /** metadata.name, or metadata.generateName, or '' (reported, never assumed). */
  readonly name: string;
  /** metadata.namespace as written; undefined when absent (manifests often leave it to `kubectl -n`). */
  readonly namespace?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** The object as parsed (plain JSON values). */
  readonly raw: Readonly<Record<string, unknown>>;
  readonly source: Source;
  /** 1-based line and column of the value at `path` (or of the nearest parent that exists). */
  locate(path: Path): { readonly line: number; readonly column: number };
}

/** A file or document that could not be read; the audit then fails closed (incomplete is never clean). */
export interface K8sLoadError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** `Kind namespace/name` (or `Kind name` for cluster-scoped and unnamespaced objects): how messages name objects. */
export function describeObject(o: K8sObject): string {
  return `${o.kind} ${o.namespace !== undefined ? `${o.namespace}/` : ''}${o.name || '(unnamed)'}`;
}

/** The value at `path` in a plain JSON value, or undefined. */
export function getIn(value: unknown, path: Path): unknown {
  let v = value;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/** A plain (non-array) object, or undefined. */
export function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** An array, or an empty one. */
export function asArray(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The string-valued entries of a map (labels, annotations, nodeSelector); others are dropped. */
export function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const r = asRecord(v);
  if (r) for (const [k, x] of Object.entries(r)) if (typeof x === 'string') out[k] = x;
  return out;
}

/**
 * Why a parsed value is not an object the API server would accept as one, or undefined. Besides kind and apiVersion,
 * the identity and labels must be strings: YAML 1.1 reads `namespace: n` or a label `on` as booleans, which the API
 * server refuses, and an object quietly read as unnamespaced or unlabelled would be judged wrongly.
 */
export function objectProblem(raw: unknown): string | undefined {
  const r = asRecord(raw);
  if (!r || typeof r.kind !== 'string' || typeof r.apiVersion !== 'string')
    return 'not a Kubernetes object (no apiVersion and kind)';
  if (r.metadata === undefined || r.metadata === null) return undefined;
  const meta = asRecord(r.metadata);
  if (!meta) return 'metadata is not a mapping';
  for (const k of ['name', 'generateName', 'namespace'])
    if (meta[k] !== undefined && meta[k] !== null && typeof meta[k] !== 'string')
      return `metadata.${k} is not a string (YAML 1.1 reads y, n, yes, no, on and off as booleans: quote it)`;
  for (const k of ['labels', 'annotations']) {
    if (meta[k] === undefined || meta[k] === null) continue;
    const m = asRecord(meta[k]);
    if (!m) return `metadata.${k} is not a mapping`;
    for (const [key, v] of Object.entries(m))
      if (typeof v !== 'string')
        return `metadata.${k}.${key.slice(0, 100)} is not a string (quote numbers and y, n, yes, no, on, off)`;
  }
  return undefined;
}

/** Build an object from a parsed value; undefined when objectProblem says it is not one. */
export function toObject(
  raw: unknown,
  source: Source,
  locate: (path: Path) => { line: number; column: number },
): K8sObject | undefined {
  const r = asRecord(raw);
  if (!r || objectProblem(r) !== undefined) return undefined;
  const meta = asRecord(r.metadata) ?? {};
  const name =
    typeof meta.name === 'string' ? meta.name : typeof meta.generateName === 'string' ? meta.generateName : '';
  return {
    apiVersion: String(r.apiVersion),
    kind: String(r.kind),
    name,
    ...(typeof meta.namespace === 'string' ? { namespace: meta.namespace } : {}),
    labels: stringMap(meta.labels),
    annotations: stringMap(meta.annotations),
    raw: r,
    source,
    locate,
  };
}

/** Whether following `next` (an object's owner) from `o` comes back to an object already seen (itself included). */
export function ownerChainCycles<T>(o: T, next: (x: T) => T | undefined): boolean {
  const seen = new Set<T>([o]);
  for (let x = next(o); x !== undefined; x = next(x)) {
    if (seen.has(x)) return true;
    seen.add(x);
  }
  return false;
}
