/**
 * Dockerfile reading for the build rules: dockerfile-ast parses (escape directive, continuations, heredocs, flags as
 * BuildKit reads them); this module turns its instructions into `Instruction` steps and reads the inline
 * `# portcullis:ignore` comments.
 */
import { type Instruction as AstInstruction, DockerfileParser, ModifiableInstruction } from 'dockerfile-ast';
import { fail, printable } from '../errors.js';
import type { Instruction } from './model.js';

/** Dockerfiles larger than this (in UTF-16 code units, so a 1 MiB file always fits) are refused as hostile. */
export const MAX_DOCKERFILE_CHARS = 1024 * 1024;

/**
 * dockerfile-ast drops each flag from an instruction's argument array with `shift()`, which is quadratic in flags times
 * arguments; beyond this product of the longest run of option-like words and the word count the file is refused.
 */
const FLAG_WORK_BUDGET = 20_000_000;

/** An inline `# portcullis:ignore rule[,rule] [reason="..."] [expires=YYYY-MM-DD]` comment. */
export interface InlineIgnore {
  readonly ruleIds: string[];
  /** 1-based line of the comment. */
  readonly line: number;
  /** The instruction it silences (the next one after the comment). */
  readonly appliesTo: { readonly line: number; readonly endLine: number };
  readonly reason?: string;
  readonly expires?: string;
}

export interface ParsedDockerfile {
  readonly steps: Instruction[];
  readonly ignores: InlineIgnore[];
  /** Malformed or misplaced inline ignore comments, each `line N: ...`; they silence nothing. */
  readonly problems: string[];
}

/** Parse a Dockerfile; throws DOCKERFILE_INVALID only for hostile input (size, parser-exhausting shapes). */
export function parseDockerfile(text: string, path: string): ParsedDockerfile {
  if (text.length > MAX_DOCKERFILE_CHARS) {
    fail('DOCKERFILE_INVALID', `Dockerfile ${printable(path)}: ${text.length} characters, over the 1 MiB limit`);
  }
  checkFlagWork(text, path);
  const df = DockerfileParser.parse(text);
  const escapeChar = df.getEscapeCharacter();
  const steps: Instruction[] = [];
  let stage = -1;
  for (const ins of df.getInstructions()) {
    const keyword = ins.getKeyword();
    if (keyword === 'FROM') stage++;
    const range = ins.getRange();
    const flags = ins instanceof ModifiableInstruction ? ins.getFlags().map((f) => f.toString()) : [];
    steps.push({
      keyword,
      args: joinArguments(ins, escapeChar),
      source: 'dockerfile',
      line: range.start.line + 1,
      endLine: range.end.line + 1,
      ...(stage >= 0 ? { stage } : {}),
      ...(flags.length > 0 ? { flags } : {}),
    });
  }
  const { ignores, problems } = readIgnores(
    df.getComments().map((c) => ({ line: c.getRange().start.line + 1, content: c.getContent() })),
    steps,
  );
  return { steps, ignores, problems };
}

/**
 * The arguments as BuildKit sees them: the instruction's logical line with continuations joined (comment and blank
 * lines inside a continuation dropped), then any heredoc bodies verbatim on their own lines.
 */
function joinArguments(ins: AstInstruction, escapeChar: string): string {
  const raw = ins.getRawArgumentsContent();
  if (raw === null) return '';
  const lines = raw.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  let logical = '';
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i] as string;
    if (i > 0 && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    const cut = continuationAt(line, escapeChar);
    if (cut < 0) {
      logical += line;
      i++;
      break;
    }
    logical += line.slice(0, cut);
  }
  const rest = lines.slice(i);
  return rest.length > 0 ? `${logical}\n${rest.join('\n')}` : logical;
}

/** Index of a trailing escape character (followed only by spaces or tabs), or -1. */
function continuationAt(line: string, escapeChar: string): number {
  let end = line.length;
  while (end > 0 && (line[end - 1] === ' ' || line[end - 1] === '\t')) end--;
  return end > 0 && line[end - 1] === escapeChar ? end - 1 : -1;
}

/**
 * Refuse input that would make the parser quadratic: long runs of option-like words (`-x`, `--x`, quoted or split by
 * continuations) times the number of words. Real Dockerfiles stay orders of magnitude below the budget.
 */
function checkFlagWork(text: string, path: string): void {
  let words = 0;
  let run = 0;
  let longest = 0;
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('#')) continue;
    for (const word of line.split(/[ \t\r\f\v]+/)) {
      const bare = word.replace(/["'`\\]/g, '');
      if (bare === '') continue;
      words++;
      if (bare.startsWith('-')) {
        run++;
        if (run > longest) longest = run;
      } else {
        run = 0;
      }
    }
  }
  if (longest * words > FLAG_WORK_BUDGET) {
    fail(
      'DOCKERFILE_INVALID',
      `Dockerfile ${printable(path)}: ${longest} option-like words in a row among ${words} words, refused as built to exhaust the parser`,
    );
  }
}

const IGNORE_PREFIX = /^portcullis:/i;
const RULE_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const OPTION = /\s*([A-Za-z_]+)=(?:"([^"]*)"|([^"\s]\S*))/y;

/** Attach each inline ignore comment to the instruction after it; report the malformed and the misplaced. */
function readIgnores(
  comments: readonly { line: number; content: string }[],
  steps: readonly Instruction[],
): { ignores: InlineIgnore[]; problems: string[] } {
  const ignores: InlineIgnore[] = [];
  const problems: string[] = [];
  let next = 0;
  for (const c of comments) {
    if (!IGNORE_PREFIX.test(c.content)) continue;
    const parsed = parseIgnore(c.content);
    if (typeof parsed === 'string') {
      problems.push(`line ${c.line}: ${parsed}; the comment silences nothing`);
      continue;
    }
    while (next < steps.length && (steps[next]?.endLine ?? 0) < c.line) next++;
    const step = steps[next];
    if (!step) {
      problems.push(`line ${c.line}: portcullis:ignore comment with no instruction after it`);
      continue;
    }
    if ((step.line ?? 0) <= c.line) {
      problems.push(
        `line ${c.line}: portcullis:ignore comment inside the ${step.keyword} of lines ${step.line}-${step.endLine}; put it on the line before the instruction`,
      );
      continue;
    }
    ignores.push({ ...parsed, line: c.line, appliesTo: { line: step.line ?? 0, endLine: step.endLine ?? 0 } });
  }
  return { ignores, problems };
}

/** The comment's rule ids and options, or what is wrong with it. */
function parseIgnore(content: string): Omit<InlineIgnore, 'line' | 'appliesTo'> | string {
  const m = /^portcullis:(\S*)(.*)$/is.exec(content);
  if (m?.[1] !== 'ignore')
    return `unknown directive 'portcullis:${printable(m?.[1] ?? '', 40)}' (expected portcullis:ignore)`;
  const rest = (m[2] ?? '').trim();
  if (rest === '') return 'portcullis:ignore without a rule id';
  const space = rest.search(/\s/);
  const idList = space < 0 ? rest : rest.slice(0, space);
  const ruleIds = idList.split(',');
  const bad = ruleIds.find((id) => !RULE_ID.test(id));
  if (bad !== undefined) return `'${printable(bad, 60)}' is not a rule id (lower-case words joined by '-')`;
  const options = new Map<string, string>();
  const tail = space < 0 ? '' : rest.slice(space);
  OPTION.lastIndex = 0;
  let at = 0;
  while (at < tail.length && tail.slice(at).trim() !== '') {
    OPTION.lastIndex = at;
    const o = OPTION.exec(tail);
    if (!o)
      return `cannot read '${printable(tail.slice(at).trim(), 60)}' (expected reason="..." or expires=YYYY-MM-DD)`;
    const key = o[1] as string;
    if (key !== 'reason' && key !== 'expires')
      return `unknown option '${printable(key, 40)}' (expected reason or expires)`;
    if (options.has(key)) return `${key} given twice`;
    options.set(key, o[2] ?? o[3] ?? '');
    at = OPTION.lastIndex;
  }
  const expires = options.get('expires');
  if (expires !== undefined && !isCalendarDate(expires)) {
    return `expires=${printable(expires, 40)} is not a date YYYY-MM-DD`;
  }
  const reason = options.get('reason');
  return {
    ruleIds,
    ...(reason !== undefined && reason.trim() !== '' ? { reason: reason.trim() } : {}),
    ...(expires !== undefined ? { expires } : {}),
  };
}

function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}
