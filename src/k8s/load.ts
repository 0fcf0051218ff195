/**
 * Read Kubernetes objects from manifests (multi-document YAML, Helm and kustomize output) and cluster dumps
 * (`kubectl get ... -o json|yaml`, whose `kind: List` items are expanded), bounded in size, aliases and nesting.
 * YAML 1.1 booleans as the API server's decoder reads them (`privileged: yes` is privileged); merge keys (`<<`) only
 * where kubectl's decoder reads them the same way (checkMergeKeys).
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Document, Node as YamlNode } from 'yaml';
import { printable } from '../errors.js';
import { lazyRequire } from '../util/lazy.js';
import { rel, walkTree } from '../util/treewalk.js';
import { checkMergeKeys, checkUniqueKeys, MERGE_COLLISION } from '../util/yamlkeys.js';
import { asArray, asRecord, type K8sLoadError, type K8sObject, objectProblem, type Path, toObject } from './model.js';

const yaml = lazyRequire<typeof import('yaml')>('yaml');

/** A cluster dump of tens of thousands of objects is tens of MiB; a larger file is refused unread. */
export const MAX_MANIFEST_BYTES = 128 * 1024 * 1024;
/** Aliases resolved per document (manifests rarely use any; the guard against billion-laughs expansion). */
export const MAX_ALIAS_COUNT = 1000;
/** Objects read in one run, over every file. */
export const MAX_OBJECTS = 1_000_000;

export interface Loaded {
  readonly objects: K8sObject[];
  readonly errors: K8sLoadError[];
  /**
   * Files found in a directory walk that hold no Kubernetes object at all (package.json, a compose file): left out,
   * and listed. A file named on the command line is never skipped.
   */
  readonly skipped: string[];
  /** Files read (relative to the root they were found under, or as given). */
  readonly files: string[];
}

/** Parse one file's text into objects; problems (bad YAML, a document that is not an object) as errors. */
export function parseManifests(
  text: string,
  file: string,
  opts: { readonly maxBytes?: number } = {},
): { objects: K8sObject[]; errors: K8sLoadError[] } {
  const maxBytes = opts.maxBytes ?? MAX_MANIFEST_BYTES;
  const objects: K8sObject[] = [];
  const errors: K8sLoadError[] = [];
  const err = (line: number, column: number, message: string) => errors.push({ file, line, column, message });
  const clean = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (clean.length > maxBytes) {
    err(1, 1, `larger than ${maxBytes} bytes (refused unread)`);
    return { objects, errors };
  }
  const Y = yaml();
  const lines = new Y.LineCounter();
  let docs: Document.Parsed[];
  try {
    const parsed = Y.parseAllDocuments(clean, {
      lineCounter: lines,
      prettyErrors: false,
      version: '1.1',
      uniqueKeys: false, // checked below, in linear time
      strict: true,
    });
    docs = Array.isArray(parsed) ? parsed : [];
    for (const d of docs) {
      checkUniqueKeys(d);
      checkMergeKeys(d);
    }
  } catch (e) {
    const deep = e instanceof RangeError;
    err(
      1,
      1,
      deep
        ? 'nested too deeply to parse'
        : `cannot be parsed as YAML (${printable(String((e as Error)?.message ?? e), 160)})`,
    );
    return { objects, errors };
  }
  const pos = (offset: number) => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  // Helm's actions: a chart's templates are not manifests until rendered. Other `{{ }}` text is data: Argo's
  // parameters, Alertmanager's `{{ template "slack.title" . }}` and `{{ range .Alerts }}` in rendered charts.
  if (/\{\{-?[^}\n]*?(?:\.Values\b|\.Release\b|\.Chart\b|\.Capabilities\b|\.Files\b|\binclude\s|\btpl\s)/.test(clean)) {
    err(
      1,
      1,
      'looks like a template (`{{ ... }}`): render it first (helm template, kustomize build) and audit the output',
    );
    return { objects, errors };
  }
  docs.forEach((doc, d) => {
    const first = doc.errors[0];
    if (first) {
      const p = pos(first.pos[0]);
      const msg =
        first.code === 'DUPLICATE_KEY'
          ? first.message.startsWith(MERGE_COLLISION)
            ? printable(first.message, 300)
            : 'duplicate key (each key may appear once in a mapping)'
          : /call stack/i.test(first.message)
            ? 'nested too deeply to parse'
            : printable(first.message.split('\n')[0] ?? '', 160);
      err(p.line, p.column, `document ${d + 1}: ${msg}`);
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      const msg = String((e as Error)?.message ?? e);
      const p = pos(doc.contents?.range?.[0] ?? 0);
      err(
        p.line,
        p.column,
        `document ${d + 1}: ${e instanceof RangeError ? 'nested too deeply' : /Excessive alias count/.test(msg) ? `aliases expand to more than ${MAX_ALIAS_COUNT} nodes (an alias bomb?)` : printable(msg.split('\n')[0] ?? '', 160)}`,
      );
      return;
    }
    if (value === null || value === undefined) return; // an empty document (`---` at the end)
    const root = doc.contents as YamlNode | null;
    const r = asRecord(value);
    const at = pos(root?.range?.[0] ?? 0);
    if (!r) {
      err(
        at.line,
        at.column,
        `document ${d + 1}: not a Kubernetes object (a ${Array.isArray(value) ? 'list' : typeof value})`,
      );
      return;
    }
    // `kind: List` and the typed lists `kubectl get -o json` writes (PodList, ...): each item is an object. kubectl
    // flattens Lists nested in Lists too, so their items are expanded (not kept as an inert List object).
    const expand = (list: Record<string, unknown>, listNode: YamlNode | null | undefined, top?: number): void => {
      const itemsNode = childNode(listNode, 'items');
      asArray(list.items).forEach((item, i) => {
        const node = childNode(itemsNode, i);
        const at = top ?? i;
        const nested = asRecord(item);
        if (nested && isList(nested)) {
          expand(nested, node, at);
          return;
        }
        const o = toObject(item, { file, doc: d, item: at }, locator(node, pos));
        if (o) objects.push(o);
        else {
          const p = pos(node?.range?.[0] ?? 0);
          err(p.line, p.column, `document ${d + 1}, item ${at}: ${objectProblem(item)}`);
        }
      });
    };
    if (isList(r)) {
      expand(r, root);
      return;
    }
    const o = toObject(r, { file, doc: d }, locator(root, pos));
    if (o) objects.push(o);
    else err(at.line, at.column, `document ${d + 1}: ${objectProblem(r)}`);
  });
  return { objects, errors };
}

function isList(r: Record<string, unknown>): boolean {
  return typeof r.kind === 'string' && r.kind.endsWith('List') && Array.isArray(r.items);
}

function childNode(node: YamlNode | null | undefined, seg: string | number): YamlNode | undefined {
  const { isMap, isScalar, isSeq } = yaml();
  if (isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
    return (pair?.value as YamlNode | undefined) ?? undefined;
  }
  if (isSeq(node) && typeof seg === 'number') return node.items[seg] as YamlNode | undefined;
  return undefined;
}

function locator(
  base: YamlNode | null | undefined,
  pos: (offset: number) => { line: number; column: number },
): (path: Path) => { line: number; column: number } {
  return (path) => {
    let best = base;
    let node = base;
    for (const seg of path) {
      node = childNode(node, seg);
      if (!node?.range) break;
      best = node;
    }
    return pos(best?.range?.[0] ?? 0);
  };
}

const MANIFEST = /\.(ya?ml|json)$/i;
const SKIP_DIR = new Set(['.git', 'node_modules', '.terraform', 'vendor']);

/**
 * Read every manifest under the given paths: a file is read whatever its name; a directory is walked for
 * `.yaml`, `.yml` and `.json` files (`.git`, `node_modules` and hidden directories left out), in name order.
 */
export async function loadPaths(paths: readonly string[], opts: { readonly cwd?: string } = {}): Promise<Loaded> {
  const cwd = opts.cwd ?? process.cwd();
  const out: Loaded = { objects: [], errors: [], files: [], skipped: [] };
  for (const p of paths) {
    const abs = resolve(cwd, p);
    const st = await stat(abs).catch(() => undefined);
    if (!st) {
      out.errors.push({ file: p, line: 1, column: 1, message: 'no such file or directory' });
      continue;
    }
    if (st.isFile()) {
      await readOne(abs, p, out, false);
      continue;
    }
    const found: { abs: string; name: string }[] = [];
    const walkErrors: { file: string; line: number; column: number; message: string }[] = [];
    await walkTree(
      abs,
      { skipDir: (n) => SKIP_DIR.has(n) || n.startsWith('.'), report: true },
      (_dir, path, e) => {
        if ((e.isFile() || e.isSymbolicLink()) && MANIFEST.test(e.name))
          found.push({ abs: path, name: joinShown(p, rel(abs, path)) });
        return false;
      },
      walkErrors,
    );
    for (const e of walkErrors) out.errors.push({ ...e, file: joinShown(p, e.file) });
    for (const f of found) await readOne(f.abs, f.name, out, true);
  }
  return out;
}

function joinShown(root: string, relPath: string): string {
  if (relPath === '.') return root;
  return root === '.' ? relPath : `${root.replace(/\/+$/, '')}/${relPath}`;
}

async function readOne(abs: string, shown: string, out: Loaded, walked: boolean): Promise<void> {
  const st = await stat(abs).catch(() => undefined);
  if (!st?.isFile()) {
    out.errors.push({
      file: shown,
      line: 1,
      column: 1,
      message: 'not a regular file',
    });
    return;
  }
  if (st.size > MAX_MANIFEST_BYTES) {
    out.errors.push({
      file: shown,
      line: 1,
      column: 1,
      message: `larger than ${MAX_MANIFEST_BYTES / 1024 / 1024} MiB (refused unread)`,
    });
    return;
  }
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    out.errors.push({
      file: shown,
      line: 1,
      column: 1,
      message: `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    });
    return;
  }
  const r = parseManifests(text, shown);
  if (walked && r.objects.length === 0 && !looksLikeManifest(text, r.errors)) {
    out.skipped.push(shown);
    return;
  }
  out.files.push(shown);
  if (out.objects.length + r.objects.length > MAX_OBJECTS) {
    out.errors.push({
      file: shown,
      line: 1,
      column: 1,
      message: `more than ${MAX_OBJECTS} objects in all: not all were read`,
    });
    return;
  }
  for (const o of r.objects) out.objects.push(o);
  for (const e of r.errors) out.errors.push(e);
}

/**
 * Whether a walked file that gave no object is still a manifest that failed (an error, the audit incomplete) rather
 * than some other YAML or JSON in the tree: any document with a top-level kind and apiVersion, or a problem other
 * than "not a Kubernetes object" in a file whose text has both keys at the start of a line (or as JSON keys).
 */
function looksLikeManifest(text: string, errors: readonly K8sLoadError[]): boolean {
  if (errors.length === 0) return false; // empty, or only empty documents
  const onlyNotObjects = errors.every((e) => /: not a Kubernetes object \(/.test(e.message));
  if (onlyNotObjects) return false;
  return /^\s*"?kind"?\s*:/m.test(text) && /^\s*"?apiVersion"?\s*:/m.test(text);
}
