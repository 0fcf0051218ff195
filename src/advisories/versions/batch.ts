/**
 * `portcullis version compare --batch`: one JSON line in, one JSON line out. Pure: the CLI feeds stdin's chunks to a
 * `BatchAnswerer` and writes what it returns; nothing here throws for any input.
 */
import { isUtf8 } from 'node:buffer';
import { oneLine, printable } from '../../errors.js';
import { ECOSYSTEM_NAMES, findScheme, SCHEMES } from './index.js';
import { type Comparison, InvalidVersionError } from './scheme.js';

/** Lines longer than this (in bytes, without the newline) are answered with an error and not read. */
export const MAX_LINE_BYTES = 64 * 1024;

/** The answer to one input line. */
export type BatchAnswer = { readonly cmp: Comparison } | { readonly satisfies: boolean } | { readonly error: string };

const FIELDS = ['scheme', 'a', 'b', 'version', 'range'] as const;
type Field = (typeof FIELDS)[number];
const BLANK = /^[ \t\r]*$/;

/** The scheme names for error messages: every scheme, then the OSV ecosystem aliases. */
export function schemeList(): string {
  return `${[...SCHEMES.keys()].join(', ')}; or an OSV ecosystem: ${ECOSYSTEM_NAMES.join(', ')}`;
}

/** Schemes with a range syntax, for error messages. */
function rangeSchemes(): string {
  return [...SCHEMES.values()]
    .filter((s) => s.satisfies !== undefined)
    .map((s) => s.name)
    .join(', ');
}

/**
 * Answer one line (without its newline): `{"scheme","a","b"}` gives `cmp`, `{"scheme","version","range"}` gives
 * `satisfies`; anything else an `error`. `defaultScheme` serves lines that name none (`--batch --scheme S`).
 */
export function answerLine(line: string, defaultScheme?: string): BatchAnswer {
  try {
    return answer(line, defaultScheme);
  } catch (err) {
    // A scheme bug must still answer this line, as an error, and let the rest through.
    return { error: `internal error: ${printable(oneLine(err), 200)}` };
  }
}

function answer(line: string, defaultScheme: string | undefined): BatchAnswer {
  if (BLANK.test(line)) return { error: 'blank line (each line must be a JSON object)' };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { error: `not JSON: ${printable(oneLine(err), 160)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      error: `not a JSON object: ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
    };
  }
  const fields: Partial<Record<Field, string>> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      return { error: `unknown field '${printable(key, 40)}' (fields: ${FIELDS.join(', ')})` };
    }
    // Numbers are refused, not converted: JSON 1.10 would read as 1.1.
    if (typeof v !== 'string')
      return { error: `field '${key}' must be a string, not ${v === null ? 'null' : typeof v}` };
    fields[key as Field] = v;
  }
  const name = fields.scheme ?? defaultScheme;
  if (name === undefined) return { error: "missing field 'scheme'" };
  const scheme = findScheme(name);
  if (scheme === undefined) return { error: `unknown scheme '${printable(name, 40)}' (schemes: ${schemeList()})` };
  const pair = fields.a !== undefined || fields.b !== undefined;
  const range = fields.version !== undefined || fields.range !== undefined;
  if (pair && range) return { error: "give either 'a' and 'b', or 'version' and 'range', not both" };
  try {
    if (range) {
      if (fields.version === undefined) return { error: "missing field 'version'" };
      if (fields.range === undefined) return { error: "missing field 'range'" };
      if (scheme.satisfies === undefined) {
        return { error: `scheme ${scheme.name} has no range syntax (ranges: ${rangeSchemes()})` };
      }
      return { satisfies: scheme.satisfies(fields.version, fields.range) };
    }
    if (fields.a === undefined) return { error: pair ? "missing field 'a'" : "missing fields 'a' and 'b'" };
    if (fields.b === undefined) return { error: "missing field 'b'" };
    return { cmp: scheme.compare(fields.a, fields.b) };
  } catch (err) {
    if (err instanceof InvalidVersionError) return { error: oneLine(err) };
    throw err;
  }
}

/** One answer as one output line, newline included. */
export function serialiseAnswer(a: BatchAnswer): string {
  // JSON.stringify leaves U+0085, U+2028 and U+2029 raw, and some line readers split on them.
  return `${JSON.stringify(a).replace(/[\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}

/** A line read from the input, or why it was refused unread. */
export type InputLine = { readonly text: string } | { readonly refused: string };

/**
 * Splits a byte stream into lines on `\n`, holding at most `maxBytes` of one line: the rest of a longer line is
 * skipped and the line reported as refused. A byte order mark before the first line is dropped.
 */
export class LineSplitter {
  private parts: Uint8Array[] = [];
  private size = 0;
  private overlong = false;
  private first = true;

  constructor(private readonly maxBytes = MAX_LINE_BYTES) {}

  /** The lines that `chunk` completes, in order. */
  push(chunk: Uint8Array): InputLine[] {
    const lines: InputLine[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      this.take(chunk.subarray(start, nl < 0 ? chunk.length : nl));
      if (nl < 0) return lines;
      lines.push(this.finish());
      start = nl + 1;
    }
  }

  /** The last line, when the input does not end with a newline. */
  end(): InputLine[] {
    return this.size > 0 || this.overlong ? [this.finish()] : [];
  }

  private take(piece: Uint8Array): void {
    if (this.overlong || piece.length === 0) return;
    if (this.size + piece.length > this.maxBytes) {
      this.overlong = true;
      this.parts = [];
      this.size = 0;
      return;
    }
    this.parts.push(piece);
    this.size += piece.length;
  }

  private finish(): InputLine {
    const overlong = this.overlong;
    const bytes = this.parts.length === 1 ? (this.parts[0] as Uint8Array) : Buffer.concat(this.parts, this.size);
    const first = this.first;
    this.parts = [];
    this.size = 0;
    this.overlong = false;
    this.first = false;
    if (overlong) return { refused: `line longer than ${this.maxBytes} bytes` };
    if (!isUtf8(bytes)) return { refused: 'line is not valid UTF-8' };
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
    return { text: first && text.startsWith('\uFEFF') ? text.slice(1) : text };
  }
}

/**
 * The whole batch protocol over chunks of input: `push` and `end` return the output for the lines completed so far
 * (possibly ''), and the counts say whether every line got a `cmp` or `satisfies` answer.
 */
export class BatchAnswerer {
  private readonly splitter: LineSplitter;
  /** Lines answered so far. */
  lines = 0;
  /** Lines answered with an error. */
  errors = 0;
  /** The 1-based number of the first line answered with an error. */
  firstError: number | undefined;

  constructor(
    private readonly defaultScheme?: string,
    maxLineBytes = MAX_LINE_BYTES,
  ) {
    this.splitter = new LineSplitter(maxLineBytes);
  }

  push(chunk: Uint8Array): string {
    return this.answerAll(this.splitter.push(chunk));
  }

  end(): string {
    return this.answerAll(this.splitter.end());
  }

  private answerAll(lines: InputLine[]): string {
    let out = '';
    for (const line of lines) {
      const a = 'refused' in line ? { error: line.refused } : answerLine(line.text, this.defaultScheme);
      this.lines++;
      if ('error' in a) {
        this.errors++;
        this.firstError ??= this.lines;
      }
      out += serialiseAnswer(a);
    }
    return out;
  }
}
