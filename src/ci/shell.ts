/**
 * Just enough shell to read a `run:` script's commands: each joined line (continuations folded) split into simple
 * commands at `;`, `&&`, `||`, `|` and `&` outside quotes, each a list of words with the quotes removed. No expansion,
 * no parsing of compound commands beyond the words `if`, `then`, `!`: the rules that use it say what they cannot see.
 */

import { emptyRecord } from '../util/record.js';
import type { Located, Pos } from './model.js';
import { scriptLines } from './rule.js';

export type Op = ';' | '&&' | '||' | '|' | '&' | '';

export interface Command {
  /** The words, unquoted. Leading `sudo`, `env A=B`, `time` and `NAME=value` prefixes are dropped (see `assigns`). */
  readonly words: readonly string[];
  /** The text as written (trimmed). */
  readonly text: string;
  /** The operator before and after it on its line ('' at the ends). */
  readonly before: Op;
  readonly after: Op;
  /** `NAME=value` assignments written before the command (or the whole command, when it is only assignments). */
  readonly assigns: Readonly<Record<string, string>>;
  /** The command is an `if`/`elif`/`while`/`until` condition (its status is tested, not fatal), maybe negated (`!`). */
  readonly condition: boolean;
  readonly negated: boolean;
  /** Offset of the line in the script, the index of the (joined) line, and the 0-based script line it starts on. */
  readonly offset: number;
  readonly line: number;
  readonly scriptLine: number;
}

/** Longest script line split; anything longer is cut (workflows are bounded at 1 MiB anyway). */
const MAX_LINE = 64 * 1024;

function splitOps(line: string): { text: string; op: Op }[] {
  const out: { text: string; op: Op }[] = [];
  let quote = '';
  let from = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"') i++;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i++;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1] as string))) {
      out.push({ text: line.slice(from, i), op: '' });
      return out;
    } else if (c === ';' || c === '&' || c === '|') {
      const two = line.slice(i, i + 2);
      const op: Op = two === '&&' || two === '||' ? two : c === '&' && line[i + 1] === '>' ? '' : (c as Op);
      if (op === '') continue;
      // `>&2`, `2>&1`, `&>` are redirections, not operators.
      if (c === '&' && (line[i - 1] === '>' || line[i - 1] === '<')) continue;
      out.push({ text: line.slice(from, i), op });
      i += op.length - 1;
      from = i + 1;
    }
  }
  out.push({ text: line.slice(from), op: '' });
  return out;
}

/** Words of one simple command, quotes removed (a quoted `${{ }}` stays one word). */
export function words(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else if (c === '$' && text.startsWith('${{', i)) {
      const end = text.indexOf('}}', i);
      const stop = end === -1 ? text.length : end + 2;
      cur += text.slice(i, stop);
      i = stop - 1;
    } else cur += c;
  }
  if (has || cur) out.push(cur);
  return out;
}

const KEYWORDS = new Set(['if', 'elif', 'while', 'until', 'then', 'else', 'do', '!', '{', '(', 'fi', 'done', '}', ')']);
const ASSIGN = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;

/** Scripts already split, by text: several rules read the same scripts, and generated workflows repeat them. */
const parsed = new Map<string, readonly Command[]>();
let parsedChars = 0;
/** What the memo may hold (script characters) before it starts over. */
const MAX_PARSED_CHARS = 16 * 1024 * 1024;

/** Every simple command of a script, in order (shared between callers: read only). */
export function commands(script: string): readonly Command[] {
  let out = parsed.get(script);
  if (!out) {
    out = parseCommands(script);
    if (parsedChars + script.length > MAX_PARSED_CHARS) {
      parsed.clear();
      parsedChars = 0;
    }
    parsed.set(script, out);
    parsedChars += script.length;
  }
  return out;
}

function parseCommands(script: string): Command[] {
  const out: Command[] = [];
  let scriptLine = 0;
  let counted = 0;
  scriptLines(script).forEach((l, line) => {
    for (let i = counted; i < l.offset; i++) if (script.charCodeAt(i) === 10) scriptLine++;
    counted = Math.max(counted, l.offset);
    const parts = splitOps(l.text.slice(0, MAX_LINE));
    let before: Op = '';
    for (const p of parts) {
      let w = words(p.text);
      const assigns = emptyRecord<string>();
      let condition = false;
      let negated = false;
      while (w[0] !== undefined && KEYWORDS.has(w[0])) {
        if (/^(if|elif|while|until)$/.test(w[0])) condition = true;
        if (w[0] === '!') negated = true;
        w = w.slice(1);
      }
      for (;;) {
        const first = w[0];
        if (first === undefined) break;
        const m = ASSIGN.exec(first);
        if (m) assigns[m[1] as string] = m[2] as string;
        else if (first === 'export' || first === 'local' || first === 'readonly') {
          const m2 = ASSIGN.exec(w[1] ?? '');
          if (!m2) break;
          assigns[m2[1] as string] = m2[2] as string;
          w = w.slice(1);
        } else if (first === 'sudo' || first === 'time' || first === 'env' || first === 'exec' || first === 'command') {
          w = w.slice(1);
          while (w[0]?.startsWith('-')) w = w.slice(1);
          continue;
        } else break;
        w = w.slice(1);
      }
      const text = p.text.trim();
      if (text)
        out.push({
          words: w,
          text,
          before,
          after: p.op,
          assigns,
          condition,
          negated,
          offset: l.offset,
          line,
          scriptLine,
        });
      before = p.op;
    }
  });
  return out;
}

/** Where a command of `run` starts in the file (what posIn gives for its offset, without rescanning the script). */
export function commandPos(run: Located, c: Command): Pos {
  if (run.bodyLine === undefined) return run.pos;
  const line = run.bodyLine + c.scriptLine;
  return line === run.pos.line ? run.pos : { line, column: 1 };
}
