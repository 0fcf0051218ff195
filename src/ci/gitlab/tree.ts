/**
 * GitLab CI YAML into a tree of nodes that keep their file and position through everything GitLab does to them:
 * anchors and aliases, YAML 1.1 merge keys (`<<: *x`, `<<: [*a, *b]`), and `!reference [...]` tags (kept as tagged
 * lists, resolved later against the merged configuration). Pure. Bounded: size, nesting depth, and the size the
 * document would have with every alias expanded (an alias bomb is refused before anything walks it).
 * ref: https://docs.gitlab.com/ci/yaml/yaml_optimization/
 */
import type { Document, Node as YamlNode } from 'yaml';
import { printable } from '../../errors.js';
import { MAX_DEPTH, tooDeep } from '../../policy/yaml.js';
import { lazyRequire } from '../../util/lazy.js';
import { checkUniqueKeys } from '../../util/yamlkeys.js';
import type { Pos } from '../model.js';

const yaml = lazyRequire<typeof import('yaml')>('yaml');

/** Pipeline files are small; anything larger is refused unparsed. */
export const MAX_GITLAB_BYTES = 1024 * 1024;
/**
 * Nodes the document holds once every alias is expanded. Real pipelines use anchors a lot (hundreds of aliases), so
 * the bound is on the expanded size, not the alias count: a 1 MiB file has far fewer nodes than this.
 */
export const MAX_EXPANDED_NODES = 200_000;

export interface PScalar {
  readonly kind: 'scalar';
  readonly value: string | number | boolean | null;
  readonly pos: Pos;
  /** For literal block scalars (`- |`): the line the text starts on. */
  readonly bodyLine?: number;
}
export interface PSeq {
  readonly kind: 'seq';
  readonly items: readonly PNode[];
  readonly pos: Pos;
  /** `!reference [job, key, ...]`. */
  readonly reference?: boolean;
}
export interface PEntry {
  readonly key: Pos;
  readonly value: PNode;
}
export interface PMap {
  readonly kind: 'map';
  readonly entries: ReadonlyMap<string, PEntry>;
  readonly pos: Pos;
}
export type PNode = PScalar | PSeq | PMap;

/** A problem with a place: thrown inside the readers, turned into a LoadError at the edge. */
export class GitLabError extends Error {
  constructor(
    readonly pos: Pos,
    message: string,
  ) {
    super(message);
  }
}

const ALLOWED_TAGS = new Set([
  ...['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`),
  '!reference',
]);

/** Parse one file's text into a tree; a GitLabError (with the file in its position) for anything wrong. */
export function parseTree(file: string, text: string): PNode {
  const { LineCounter, parseDocument } = yaml();
  const at1 = { line: 1, column: 1, file };
  const clean = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (clean.length > MAX_GITLAB_BYTES)
    throw new GitLabError(at1, `larger than ${MAX_GITLAB_BYTES / 1024 / 1024} MiB (refused unread)`);
  const deep = tooDeep(clean);
  if (deep) throw new GitLabError({ ...deep, file }, `nested more than ${MAX_DEPTH} levels deep`);
  const lines = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(clean, {
      lineCounter: lines,
      prettyErrors: false,
      schema: 'core',
      strict: true,
      uniqueKeys: false, // checked below, in linear time
    });
    checkUniqueKeys(doc);
  } catch (err) {
    throw new GitLabError(at1, `cannot be parsed as YAML (${printable(String((err as Error)?.message ?? err), 160)})`);
  }
  const pos = (offset: number): Pos => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col, file };
  };
  const first = doc.errors[0] ?? doc.warnings.find((w) => !/!reference\b/.test(w.message));
  if (first) {
    const msg = printable(first.message.split('\n')[0] ?? '', 160);
    throw new GitLabError(
      pos(first.pos[0]),
      first.code === 'DUPLICATE_KEY'
        ? 'duplicate key (each key may appear once in a mapping)'
        : first.code === 'MULTIPLE_DOCS'
          ? 'more than one YAML document (a pipeline file is one document)'
          : first.code === 'TAG_RESOLVE_FAILED'
            ? `${msg.replace(/^Unresolved tag:?/, 'unsupported tag')} (only !reference is allowed)`
            : msg,
    );
  }
  return new Converter(doc, pos).root();
}

class Converter {
  private readonly done = new Map<YamlNode, { node: PNode; size: number }>();
  private readonly busy = new Set<YamlNode>();

  constructor(
    private readonly doc: Document.Parsed,
    private readonly pos: (offset: number) => Pos,
  ) {}

  root(): PNode {
    const c = this.doc.contents as YamlNode | null;
    if (!c) return { kind: 'scalar', value: null, pos: this.pos(0) };
    return this.convert(c).node;
  }

  private start(n: YamlNode): Pos {
    return this.pos(n.range?.[0] ?? 0);
  }

  private convert(n: YamlNode): { node: PNode; size: number } {
    const { isAlias, isMap, isSeq, isScalar } = yaml();
    const memo = this.done.get(n);
    if (memo) return memo;
    if (this.busy.has(n)) throw new GitLabError(this.start(n), 'an alias refers to the node that contains it');
    if (n.tag && !ALLOWED_TAGS.has(n.tag))
      throw new GitLabError(this.start(n), `unsupported tag ${printable(n.tag, 60)} (only !reference is allowed)`);
    this.busy.add(n);
    let out: { node: PNode; size: number };
    if (isAlias(n)) {
      const target = n.resolve(this.doc) as YamlNode | undefined;
      if (!target) throw new GitLabError(this.start(n), `alias *${printable(n.source, 60)} has no anchor before it`);
      out = this.convert(target);
    } else if (isScalar(n)) {
      const v = n.value;
      const value =
        typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null ? v : String(v);
      const p = this.start(n);
      out = {
        node: { kind: 'scalar', value, pos: p, ...(n.type === 'BLOCK_LITERAL' ? { bodyLine: p.line + 1 } : {}) },
        size: 1,
      };
    } else if (isSeq(n)) {
      let size = 1;
      const items = n.items.map((i) => {
        const c = this.convert(i as YamlNode);
        size = this.add(size, c.size, i as YamlNode);
        return c.node;
      });
      out = {
        node: { kind: 'seq', items, pos: this.start(n), ...(n.tag === '!reference' ? { reference: true } : {}) },
        size,
      };
    } else if (isMap(n)) {
      out = this.map(n);
    } else {
      throw new GitLabError(this.start(n), 'unsupported YAML node');
    }
    this.busy.delete(n);
    this.done.set(n, out);
    return out;
  }

  private add(a: number, b: number, n: YamlNode): number {
    const s = a + b;
    if (s > MAX_EXPANDED_NODES)
      throw new GitLabError(this.start(n), `aliases expand to more than ${MAX_EXPANDED_NODES} nodes (an alias bomb?)`);
    return s;
  }

  private map(n: import('yaml').YAMLMap): { node: PNode; size: number } {
    const { isScalar, isSeq, isAlias } = yaml();
    const own = new Map<string, PEntry>();
    const merged: PMap[] = [];
    let size = 1;
    for (const pair of n.items) {
      const k = pair.key as YamlNode | null;
      if (!k || !isScalar(k) || (typeof k.value === 'object' && k.value !== null))
        throw new GitLabError(k ? this.start(k) : this.start(n), 'a mapping key must be a plain value');
      const key = String(k.value);
      const v = pair.value as YamlNode | null;
      if (key === '<<' && k.type === 'PLAIN' && v) {
        // YAML 1.1 merge key: the mappings named (earlier ones win) under the mapping's own keys.
        const sources = isSeq(v) && !isAlias(v) ? (v.items as YamlNode[]) : [v];
        for (const s of sources) {
          const c = this.convert(s);
          if (c.node.kind !== 'map')
            throw new GitLabError(this.start(s), '<< (merge key): expected a mapping or a list of mappings');
          size = this.add(size, c.size, s);
          merged.push(c.node);
        }
        continue;
      }
      const c = v ? this.convert(v) : { node: { kind: 'scalar', value: null, pos: this.start(k) } as PNode, size: 1 };
      size = this.add(size, c.size, v ?? k);
      own.set(key, { key: this.start(k), value: c.node });
    }
    if (merged.length === 0) return { node: { kind: 'map', entries: own, pos: this.start(n) }, size };
    const entries = new Map<string, PEntry>();
    for (const m of [...merged].reverse()) for (const [k, e] of m.entries) entries.set(k, e);
    for (const [k, e] of own) entries.set(k, e);
    return { node: { kind: 'map', entries, pos: this.start(n) }, size };
  }
}

/** Hashes merged deeply, anything else replaced by the later value: how GitLab merges includes and `extends`. */
export function deepMerge(base: PNode | undefined, over: PNode): PNode {
  if (base?.kind !== 'map' || over.kind !== 'map') return over;
  const entries = new Map(base.entries);
  for (const [k, e] of over.entries) {
    const b = entries.get(k);
    entries.set(k, b ? { key: e.key, value: deepMerge(b.value, e.value) } : e);
  }
  return { kind: 'map', entries, pos: over.pos };
}

export function get(n: PNode | undefined, key: string): PNode | undefined {
  return n?.kind === 'map' ? n.entries.get(key)?.value : undefined;
}

export function keyPos(n: PNode | undefined, key: string): Pos | undefined {
  return n?.kind === 'map' ? n.entries.get(key)?.key : undefined;
}

/** A scalar as GitLab would print it; undefined for lists, mappings and null. */
export function text(n: PNode | undefined): string | undefined {
  if (n?.kind !== 'scalar' || n.value === null) return undefined;
  return String(n.value);
}

export function describe(n: PNode | undefined): string {
  if (!n || (n.kind === 'scalar' && n.value === null)) return 'nothing';
  if (n.kind === 'seq') return 'a list';
  if (n.kind === 'map') return 'a mapping';
  return `a ${typeof n.value}`;
}
