import type { Document, LineCounter as LineCounterType, Node as YamlNode } from 'yaml';
import { printable } from '../errors.js';
import { lazyRequire } from '../util/lazy.js';
import { checkUniqueKeys } from '../util/yamlkeys.js';

const yaml = lazyRequire<typeof import('yaml')>('yaml');

/** Policies are small; anything larger is refused before it is parsed (the YAML parser is not linear in practice). */
export const MAX_POLICY_BYTES = 1024 * 1024;
/** Deeper nesting than any policy needs; the YAML composer recurses, so deep input must be refused first. */
export const MAX_DEPTH = 64;
/** Aliases resolved per document; a policy needs a few at most (yaml's guard against billion-laughs expansion). */
export const MAX_ALIAS_COUNT = 100;

/** The tags of the YAML 1.2 core schema, the only ones a policy may spell out. */
const CORE_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

/** One thing wrong, at a place in the file. */
export interface Problem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** A parsed YAML document with what is needed to point back into the text. */
export interface YamlSource {
  readonly doc: Document.Parsed;
  readonly lines: LineCounterType;
  readonly value: unknown;
}

/**
 * Estimate the nesting depth from the lexer's tokens, stopping as soon as it passes MAX_DEPTH. Block nesting is
 * the stack of indentation levels plus the indicators (`-`, `?`, `:`) on the line; flow nesting counts brackets.
 * It over-estimates at worst, which only matters for documents no policy resembles.
 */
export function tooDeep(text: string): { line: number; column: number } | undefined {
  const { Lexer } = yaml();
  const meter = new DepthMeter();
  for (const tok of new Lexer().lex(text)) if (meter.push(tok)) return positionOf(text, meter.offset);
  return undefined;
}

/** tooDeep's count, one lexer token at a time (so the parse can share the one lex of the text). */
class DepthMeter {
  private readonly indents: number[] = [];
  private flow = 0;
  private onLine = 0;
  private lineStart = true;
  /** The offset in the text of the token being pushed. */
  offset = 0;
  /** Whether a tag (`!x`, `!!x`) was seen. */
  tagged = false;
  private readonly tokenType = yaml().CST.tokenType;

  /** Count one token; true when the nesting passes MAX_DEPTH at it (offset then says where). */
  push(tok: string): boolean {
    const type = this.tokenType(tok);
    const indents = this.indents;
    if (type === 'newline') {
      this.lineStart = true;
      this.onLine = 0;
    } else if (this.lineStart && type !== 'doc-mode' && type !== 'byte-order-mark') {
      this.lineStart = false;
      if (this.flow === 0) {
        const indent = type === 'space' ? tok.length : 0;
        while (indents.length > 0 && (indents.at(-1) as number) > indent) indents.pop();
        if (indents.length === 0 || (indents.at(-1) as number) < indent) indents.push(indent);
      }
    }
    if (type === 'flow-seq-start' || type === 'flow-map-start') this.flow++;
    else if ((type === 'flow-seq-end' || type === 'flow-map-end') && this.flow > 0) this.flow--;
    else if (type === 'seq-item-ind' || type === 'explicit-key-ind' || type === 'map-value-ind') this.onLine++;
    else if (type === 'tag') this.tagged = true;
    if (indents.length + this.onLine + this.flow > MAX_DEPTH) return true;
    // Control tokens (document start, scalar marker, flow error end) are not source text.
    if (type !== 'doc-mode' && type !== 'scalar' && type !== 'flow-error-end') this.offset += tok.length;
    return false;
  }
}

/**
 * parseDocument with the depth check on the same lex: tokens go to the parser only while the nesting is within
 * MAX_DEPTH, so a too-deep document never reaches the (recursive) composer.
 */
function parseBounded(
  text: string,
  lines: LineCounterType,
): { doc: Document.Parsed; tagged: boolean } | { deep: { line: number; column: number } } {
  const { Composer, Lexer, Parser, YAMLParseError } = yaml();
  const meter = new DepthMeter();
  const parser = new Parser(lines.addNewLine);
  // Duplicate keys are found after composing, in linear time (the composer's own check is quadratic).
  const composer = new Composer({ prettyErrors: false, schema: 'core', strict: true, uniqueKeys: false });
  let doc: Document.Parsed | undefined;
  let second = false;
  // As parseDocument does: the first document, an error on the start of a second (which ends the composing).
  const take = (docs: Iterable<Document.Parsed>): void => {
    for (const d of docs) {
      if (!doc) doc = d;
      else {
        doc.errors.push(
          new YAMLParseError(
            d.range.slice(0, 2) as [number, number],
            'MULTIPLE_DOCS',
            'Source contains multiple documents; please use YAML.parseAllDocuments()',
          ),
        );
        second = true;
        return;
      }
    }
  };
  // Lexer to parser to composer by hand (what parseDocument's generators do, with one layer less per token).
  const lex = new Lexer().lex(text);
  let deep = false;
  lines.addNewLine(0);
  for (let t = lex.next(); !second && !t.done; t = lex.next()) {
    if (meter.push(t.value)) {
      deep = true;
      break;
    }
    for (const token of parser.next(t.value)) {
      take(composer.next(token) as Iterable<Document.Parsed>);
      if (second) break;
    }
  }
  if (!deep && !second) {
    for (const token of parser.end()) {
      take(composer.next(token) as Iterable<Document.Parsed>);
      if (second) break;
    }
    if (!second) take(composer.end(true, text.length) as Iterable<Document.Parsed>);
  }
  // The composer stops at a second document; the depth check still reads to the end, as it did before the parse.
  for (let t = lex.next(); !deep && !t.done; t = lex.next()) deep = meter.push(t.value);
  if (deep) return { deep: positionOf(text, meter.offset) };
  checkUniqueKeys(doc as Document.Parsed);
  return { doc: doc as Document.Parsed, tagged: meter.tagged };
}

function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}

/**
 * Parse policy YAML safely: one document, YAML 1.2 core schema (no timestamps, no `yes` booleans), unique keys,
 * no unknown tags, bounded aliases and depth. Returns the problems instead of throwing.
 */
export function parseYaml(
  text: string,
  opts: { readonly maxBytes?: number; readonly what?: string } = {},
): YamlSource | { problems: Problem[] } {
  const { LineCounter } = yaml();
  const maxBytes = opts.maxBytes ?? MAX_POLICY_BYTES;
  if (text.length > maxBytes)
    return { problems: [{ line: 1, column: 1, message: `larger than ${maxBytes / 1024 / 1024} MiB` }] };
  const lines = new LineCounter();
  let doc: Document.Parsed;
  let tagged: boolean;
  try {
    const parsed = parseBounded(text, lines);
    if ('deep' in parsed)
      return { problems: [{ ...parsed.deep, message: `nested more than ${MAX_DEPTH} levels deep` }] };
    ({ doc, tagged } = parsed);
  } catch (err) {
    // The parser reports problems as errors on the document; a throw is its bug, still bad input to us.
    const msg = printable(String((err as Error)?.message ?? err).split('\n')[0] ?? '', 160);
    return { problems: [{ line: 1, column: 1, message: `cannot be parsed as YAML (${msg})` }] };
  }
  const at = (offset: number): { line: number; column: number } => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const problems: Problem[] = [];
  const what = opts.what ?? 'a policy';
  for (const e of doc.errors) problems.push({ ...at(e.pos[0]), message: yamlMessage(e.code, e.message, what) });
  // Unknown tags (!!js/function, !custom) are only warnings to the yaml library; a policy has no use for them.
  for (const w of doc.warnings) problems.push({ ...at(w.pos[0]), message: yamlMessage(w.code, w.message, what) });
  // The yaml library resolves !!binary, !!set, !!omap and !!timestamp to objects a policy never holds.
  // Only a tag token in the text gives a node a tag: without one there is nothing to look for.
  if (problems.length === 0 && tagged)
    yaml().visit(doc, {
      Node(_key, node) {
        if (node.tag && !CORE_TAGS.has(node.tag))
          problems.push({
            ...at(node.range?.[0] ?? 0),
            message: `unsupported tag ${printable(node.tag, 60)} (custom tags are not allowed)`,
          });
      },
    });
  if (problems.length > 0) return { problems };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    const message = /alias/i.test(msg)
      ? `aliases expand to more than ${MAX_ALIAS_COUNT} nodes (an alias bomb?)`
      : printable(msg.split('\n')[0] ?? '', 160);
    return { problems: [{ line: 1, column: 1, message }] };
  }
  return { doc, lines, value };
}

function yamlMessage(code: string, message: string, what: string): string {
  const first = printable(message.split('\n')[0] ?? '', 160);
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'duplicate key (each key may appear once in a mapping)';
    case 'MULTIPLE_DOCS':
      return `more than one YAML document (${what} is one document)`;
    case 'TAG_RESOLVE_FAILED':
      return `${first.replace(/^Unresolved tag:?/, 'unsupported tag')} (custom tags are not allowed)`;
    case 'RESOURCE_EXHAUSTION':
      return `too complex to read (${first})`;
    default:
      return first;
  }
}

/** A JSON path (segments) as a reader would write it: `rules.vulnerabilities.packages[2].failOn`. */
export function dottedPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number' || /^\d+$/.test(s)) out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out || '(top level)';
}

/**
 * The position of the node at `path`, or of its nearest ancestor that exists. With `key`, the position of that key
 * in the mapping at `path` (to point at an unknown key rather than its parent).
 */
export function positionAt(src: YamlSource, path: readonly (string | number)[], key?: string): Problem {
  const { isMap, isScalar, isSeq } = yaml();
  let node: unknown = src.doc.contents;
  let best: YamlNode | null = (src.doc.contents as YamlNode | null) ?? null;
  for (const seg of path) {
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      next = pair?.value;
    } else if (isSeq(node) && /^\d+$/.test(String(seg))) {
      next = node.items[Number(seg)];
    }
    if (!next || typeof next !== 'object' || !('range' in next)) break;
    node = next;
    best = next as YamlNode;
  }
  let offset = best?.range?.[0] ?? 0;
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    const k = pair?.key as YamlNode | undefined;
    if (k?.range) offset = k.range[0];
  }
  const p = src.lines.linePos(offset);
  return { line: p.line, column: p.col, message: '' };
}
