/**
 * A small reader for the Groovy that Jenkinsfiles are written in: tokens (identifiers, numbers, the four string forms,
 * punctuation, newlines), comments dropped, then statements grouped with their closures (`name args { ... }`). No
 * Groovy is evaluated; GString interpolation (`"${x}"`, `"$x"`) is kept as written and flagged. Bounded in size, tokens
 * and nesting; every problem is a JenkinsError with the line and column where it starts.
 * ref: https://groovy-lang.org/syntax.html#all-strings
 */
import type { Pos } from '../model.js';

/** Jenkinsfiles are small; larger input is refused unread. */
export const MAX_JENKINS_BYTES = 1024 * 1024;
/** Tokens per file: far beyond a real pipeline, a bound on work and memory for hostile input. */
export const MAX_TOKENS = 200_000;
/** Nesting of braces, brackets, parentheses and interpolations; the statement reader recurses on it. */
export const MAX_NESTING = 64;

export class JenkinsError extends Error {
  constructor(
    readonly pos: Pos,
    message: string,
  ) {
    super(message);
  }
}

export type Token =
  | { readonly kind: 'ident' | 'number' | 'punct'; readonly text: string; readonly pos: Pos }
  | { readonly kind: 'newline'; readonly text: '\n'; readonly pos: Pos }
  | {
      readonly kind: 'string';
      /** The text with Groovy escapes resolved; interpolations kept as written (`${x}`). */
      readonly text: string;
      readonly pos: Pos;
      /** The quote: `'`, `"`, `'''` or `"""`. */
      readonly quote: string;
      /** A double-quoted string with `${...}` or `$name`: Groovy fills it in before any shell sees it. */
      readonly interpolated: boolean;
      /** For triple-quoted strings: the line the text starts on (the opening quotes' line). */
      readonly bodyLine: number;
    };

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '\\': '\\', "'": "'", '"': '"' };
const PUNCT3 = new Set(['...', '?.@', '<=>', '===', '!==', '**=']);
const PUNCT2 = new Set([
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '++',
  '--',
  '+=',
  '-=',
  '*=',
  '/=',
  '->',
  '?.',
  '?:',
  '.&',
  '.@',
  '..',
  '<<',
  '>>',
  '=~',
  '**',
  '*.',
]);

/** The tokens of a Jenkinsfile (comments dropped, newlines kept: they end statements). */
export function tokenize(text: string): Token[] {
  if (text.length > MAX_JENKINS_BYTES)
    throw new JenkinsError({ line: 1, column: 1 }, `larger than ${MAX_JENKINS_BYTES / 1024 / 1024} MiB`);
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const pos = (at: number): Pos => ({ line, column: at - lineStart + 1 });
  const push = (t: Token): void => {
    if (out.length >= MAX_TOKENS) throw new JenkinsError(t.pos, `more than ${MAX_TOKENS} tokens`);
    out.push(t);
  };
  const newline = (at: number): void => {
    line++;
    lineStart = at + 1;
  };
  // Shebang line (`#!groovy`), as Groovy allows on the first line.
  if (text.startsWith('#!')) while (i < text.length && text[i] !== '\n') i++;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '\n') {
      push({ kind: 'newline', text: '\n', pos: pos(i) });
      newline(i);
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\uFEFF') {
      i++;
    } else if (c === '\\' && (text[i + 1] === '\n' || (text[i + 1] === '\r' && text[i + 2] === '\n'))) {
      // A line continuation.
      i += text[i + 1] === '\n' ? 1 : 2;
      newline(i);
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const start = pos(i);
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new JenkinsError(start, 'unterminated comment (/* without */)');
      for (let k = i; k < end; k++) if (text.charCodeAt(k) === 10) newline(k);
      i = end + 2;
    } else if (c === "'" || c === '"') {
      const start = pos(i);
      const triple = text.startsWith(c.repeat(3), i);
      const quote = triple ? c.repeat(3) : c;
      const s = readString(text, i + quote.length, quote, start, newline, 0);
      push({
        kind: 'string',
        text: s.value,
        pos: start,
        quote,
        interpolated: s.interpolated,
        bodyLine: start.line,
      });
      i = s.end;
    } else if (/[A-Za-z_$]/.test(c)) {
      const start = i;
      while (i < text.length && /[\w$]/.test(text[i] as string)) i++;
      push({ kind: 'ident', text: text.slice(start, i), pos: pos(start) });
    } else if (/\d/.test(c)) {
      const start = i;
      while (i < text.length && /[\w.]/.test(text[i] as string)) {
        if (text[i] === '.' && !/\d/.test(text[i + 1] ?? '')) break;
        i++;
      }
      push({ kind: 'number', text: text.slice(start, i), pos: pos(start) });
    } else {
      const three = text.slice(i, i + 3);
      const two = text.slice(i, i + 2);
      const p = PUNCT3.has(three) ? three : PUNCT2.has(two) ? two : c;
      push({ kind: 'punct', text: p, pos: pos(i) });
      i += p.length;
    }
  }
  return out;
}

/**
 * A string body from `from` to its closing quote: escapes resolved, `${...}` interpolations (double quotes only) kept
 * verbatim, their braces and inner strings skipped as Groovy would.
 */
function readString(
  text: string,
  from: number,
  quote: string,
  start: Pos,
  newline: (at: number) => void,
  depth: number,
): { value: string; end: number; interpolated: boolean } {
  if (depth > MAX_NESTING) throw new JenkinsError(start, `interpolations nested more than ${MAX_NESTING} deep`);
  const dq = quote[0] === '"';
  const triple = quote.length === 3;
  let value = '';
  let interpolated = false;
  let i = from;
  while (i < text.length) {
    if (text.startsWith(quote, i)) return { value, end: i + quote.length, interpolated };
    const c = text[i] as string;
    if (c === '\n') {
      if (!triple) break;
      newline(i);
      value += c;
      i++;
    } else if (c === '\\') {
      const n = text[i + 1];
      if (n === undefined) break;
      if (n === '\n') {
        // A backslash at the end of a line joins the lines.
        newline(i + 1);
        i += 2;
      } else if (n === '$') {
        value += '$';
        i += 2;
      } else if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
        value += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else {
        value += ESCAPES[n] ?? n;
        i += 2;
      }
    } else if (dq && c === '$' && text[i + 1] === '{') {
      interpolated = true;
      const end = skipInterpolation(text, i + 2, start, newline, depth + 1);
      value += text.slice(i, end);
      i = end;
    } else {
      if (dq && c === '$' && /[A-Za-z_]/.test(text[i + 1] ?? '')) interpolated = true;
      value += c;
      i++;
    }
  }
  throw new JenkinsError(start, `unterminated string (${quote} not closed)`);
}

/** The offset just past the `}` closing an interpolation whose body starts at `from`. */
function skipInterpolation(
  text: string,
  from: number,
  start: Pos,
  newline: (at: number) => void,
  depth: number,
): number {
  let braces = 1;
  let i = from;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '}' && --braces === 0) return i + 1;
    if (c === '{') {
      if (++braces > MAX_NESTING) throw new JenkinsError(start, `braces nested more than ${MAX_NESTING} deep`);
      i++;
    } else if (c === "'" || c === '"') {
      const q = text.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
      i = readString(text, i + q.length, q, start, newline, depth).end;
    } else {
      if (c === '\n') newline(i);
      i++;
    }
  }
  throw new JenkinsError(start, 'unterminated string (an interpolation ${ is not closed)');
}

/** A statement: its parts in order, closures (`{ ... }`) as nested statement lists. */
export interface Stmt {
  readonly pos: Pos;
  readonly parts: readonly Part[];
}
export type Part = Token | Block;
export interface Block {
  readonly kind: 'block';
  readonly pos: Pos;
  readonly body: readonly Stmt[];
  /** Where the closing brace is. */
  readonly end: Pos;
}

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** Group tokens into statements (ended by a newline or `;` outside brackets, or by a closure ending the line). */
export function statements(tokens: readonly Token[]): Stmt[] {
  let i = 0;
  const block = (closer: string | undefined, depth: number, open: Pos | undefined): { body: Stmt[]; end: Pos } => {
    if (depth > MAX_NESTING)
      throw new JenkinsError(open ?? { line: 1, column: 1 }, `nested more than ${MAX_NESTING} levels deep`);
    const body: Stmt[] = [];
    let parts: Part[] = [];
    const brackets: { text: string; pos: Pos }[] = [];
    const flush = (): void => {
      if (parts.length > 0) body.push({ pos: (parts[0] as Part).pos, parts });
      parts = [];
    };
    while (i < tokens.length) {
      const t = tokens[i] as Token;
      if (t.kind === 'punct' && t.text === '{') {
        i++;
        const inner = block('}', depth + 1 + brackets.length, t.pos);
        parts.push({ kind: 'block', pos: t.pos, body: inner.body, end: inner.end });
        continue;
      }
      i++;
      if (t.kind === 'newline' || (t.kind === 'punct' && t.text === ';')) {
        // Inside ( or [ a newline does not end the statement; nor does one after a binary operator or a comma.
        const last = parts.at(-1);
        const continues = last?.kind === 'punct' && /^(,|=|\+|-|\*|&&|\|\||\?|:|\.|\?\.|->|==|!=)$/.test(last.text);
        if (brackets.length === 0 && !(t.kind === 'newline' && continues)) flush();
        continue;
      }
      if (t.kind === 'punct' && (t.text === '(' || t.text === '[')) {
        if (depth + brackets.length >= MAX_NESTING)
          throw new JenkinsError(t.pos, `nested more than ${MAX_NESTING} levels deep`);
        brackets.push({ text: t.text, pos: t.pos });
      } else if (t.kind === 'punct' && (t.text === ')' || t.text === ']')) {
        const top = brackets.pop();
        if (!top || OPEN[top.text] !== t.text)
          throw new JenkinsError(
            t.pos,
            `unbalanced '${t.text}'${top ? ` (the '${top.text}' at ${top.pos.line}:${top.pos.column} is not closed)` : ''}`,
          );
      } else if (t.kind === 'punct' && t.text === '}') {
        if (closer !== '}') throw new JenkinsError(t.pos, "unbalanced '}' (no '{' to close)");
        const top = brackets.at(-1);
        if (top)
          throw new JenkinsError(top.pos, `'${top.text}' not closed before '}' at ${t.pos.line}:${t.pos.column}`);
        flush();
        return { body, end: t.pos };
      }
      parts.push(t);
    }
    const top = brackets.at(-1);
    if (top) throw new JenkinsError(top.pos, `'${top.text}' is not closed`);
    if (closer) throw new JenkinsError(open as Pos, "'{' is not closed");
    flush();
    return { body, end: tokens.at(-1)?.pos ?? { line: 1, column: 1 } };
  };
  return block(undefined, 0, undefined).body;
}
