/**
 * Just enough POSIX shell reading for the build rules: a RUN's script split into pipelines of simple commands (on `&&`,
 * `||`, `;`, `&`, newlines, `|`), quotes removed, comments and heredoc bodies skipped. Linear in the script's length.
 */
import { printable } from '../errors.js';
import { scrubText } from '../secrets/scrub.js';
import type { Instruction } from './model.js';

/** One simple command: its words with quotes removed (assignments and wrappers still in front). */
export interface SimpleCommand {
  readonly words: readonly string[];
}

/** Commands joined by `|`, in order. */
export type Pipeline = readonly SimpleCommand[];

/** Command substitutions nested deeper than this are kept as text and not read as commands. */
const MAX_NESTING = 8;

/** The POSIX-family shells that run a `-c` script or a heredoc: the one list every reader of commands uses. */
export const SHELL_NAMES: ReadonlySet<string> = new Set(['sh', 'bash', 'ash', 'dash', 'zsh', 'ksh', 'mksh']);

/** Is this command word (a name or a path) one of the shells? */
export function isShell(word: string): boolean {
  return SHELL_NAMES.has(basename(word));
}

/**
 * Where the script starts in a shell invocation such as `sh -c`, `/bin/bash -o pipefail -c` or `busybox sh -ec`: the
 * index of the word after the `-c` option group; undefined when `words` is no such invocation.
 */
export function shellScriptIndex(words: readonly string[]): number | undefined {
  let i = basename(words[0] ?? '') === 'busybox' ? 1 : 0;
  if (!isShell(words[i] ?? '')) return undefined;
  for (i++; i < words.length; i++) {
    const t = words[i] as string;
    if (/^-[A-Za-z]*c[A-Za-z]*$/.test(t)) return i + 1;
    if (t === '-o' || t === '+o') i++;
    else if (!/^[-+][A-Za-z]+$/.test(t)) return undefined;
  }
  return undefined;
}

/** apt-get's, apt's and aptitude's options that take a value as the next word. */
export const APT_VALUE_OPTIONS: ReadonlySet<string> = new Set([
  '-o',
  '-c',
  '-t',
  '--option',
  '--config-file',
  '--target-release',
]);
/** apk's options that take a value as the next word. */
export const APK_VALUE_OPTIONS: ReadonlySet<string> = new Set(['-X', '--repository', '-p', '--root', '--arch']);
/** yum's, dnf's, microdnf's and tdnf's options that take a value as the next word. */
export const RPM_VALUE_OPTIONS: ReadonlySet<string> = new Set(['-c', '-d', '-e', '-R', '-x', '--config', '--exclude']);

/** The subcommand of an apt-get, apt or aptitude command (`update`, `install`, ...); undefined for other commands. */
export function aptSubcommand(words: readonly string[]): string | undefined {
  const name = basename(words[0] ?? '');
  if (name !== 'apt-get' && name !== 'apt' && name !== 'aptitude') return undefined;
  return subcommand(words.slice(1), APT_VALUE_OPTIONS);
}

/** The subcommand of an apk command (`update`, `add`, ...); undefined for other commands. */
export function apkSubcommand(words: readonly string[]): string | undefined {
  return basename(words[0] ?? '') === 'apk' ? subcommand(words.slice(1), APK_VALUE_OPTIONS) : undefined;
}

/** Every build rule reads the same RUNs: parse each step once. */
const parsed = new WeakMap<Instruction, readonly Pipeline[]>();

/** The pipelines a RUN step runs: shell form, exec form (JSON), or a heredoc script. Empty for other steps. */
export function runPipelines(step: Instruction): readonly Pipeline[] {
  if (step.keyword !== 'RUN') return [];
  let pipelines = parsed.get(step);
  if (!pipelines) {
    pipelines = readRun(step);
    parsed.set(step, pipelines);
  }
  return pipelines;
}

function readRun(step: Instruction): Pipeline[] {
  const args = step.args.trim();
  if (args.startsWith('[')) {
    const argv = jsonArgv(args);
    if (argv) {
      const script = shellScriptIndex(argv);
      if (script !== undefined && script < argv.length) return parseShell(argv[script] as string);
      return argv.length > 0 ? [[{ words: argv }]] : [];
    }
  }
  return parseShell(heredocScript(args) ?? args);
}

/** A JSON array of strings (the exec form), or undefined. */
function jsonArgv(text: string): string[] | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * For `RUN <<EOF` (or `RUN bash <<EOF`) the heredoc body is the script BuildKit runs; undefined when the heredoc is
 * data for some other command, or its body starts with a shebang for another interpreter.
 */
function heredocScript(args: string): string | undefined {
  const nl = args.indexOf('\n');
  if (nl < 0) return undefined;
  const first = args.slice(0, nl);
  const m = /^\s*(?:(\S+)(?:\s+-[A-Za-z]+)*\s+)?<<(-?)\s*(["']?)([A-Za-z0-9_.-]+)\3\s*$/.exec(first);
  if (!m || (m[1] !== undefined && !isShell(m[1]))) return undefined;
  const tabs = m[2] === '-';
  const delimiter = m[4] as string;
  const body: string[] = [];
  for (const raw of args.slice(nl + 1).split('\n')) {
    const line = tabs ? raw.replace(/^\t+/, '') : raw;
    if (line === delimiter) break;
    body.push(line);
  }
  const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(body[0] ?? '');
  if (shebang) {
    const interp = shebang[1] === '/usr/bin/env' ? (shebang[2] ?? '') : (shebang[1] as string);
    if (!isShell(interp)) return '';
  }
  return body.join('\n');
}

export function basename(word: string): string {
  return word.slice(word.lastIndexOf('/') + 1);
}

/** Split a script into pipelines; `$(...)`, `<(...)` and backquoted commands are read as pipelines of their own too. */
export function parseShell(script: string, depth = 0): Pipeline[] {
  const pipelines: Pipeline[] = [];
  let pipeline: SimpleCommand[] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  let dropNextWord = false;
  const heredocs: { delimiter: string; tabs: boolean }[] = [];
  const endWord = () => {
    if (!inWord) return;
    if (dropNextWord) dropNextWord = false;
    else words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) pipeline.push({ words });
    words = [];
  };
  const endPipeline = () => {
    endCommand();
    if (pipeline.length > 0) pipelines.push(pipeline);
    pipeline = [];
  };
  const nested = (inner: string) => {
    if (depth < MAX_NESTING) pipelines.push(...parseShell(inner, depth + 1));
  };
  const n = script.length;
  let i = 0;
  while (i < n) {
    const c = script[i] as string;
    if (c === "'") {
      const j = script.indexOf("'", i + 1);
      const end = j < 0 ? n : j;
      word += script.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      while (j < n && script[j] !== '"') {
        if (script[j] === '\\' && j + 1 < n && '"\\$`\n'.includes(script[j + 1] as string)) {
          if (script[j + 1] !== '\n') word += script[j + 1];
          j += 2;
        } else {
          word += script[j];
          j++;
        }
      }
      inWord = true;
      i = j + 1;
    } else if (c === '\\') {
      if (script[i + 1] !== '\n' && i + 1 < n) {
        word += script[i + 1];
        inWord = true;
      }
      i += 2;
    } else if (c === '#' && !inWord) {
      while (i < n && script[i] !== '\n') i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      endWord();
      i++;
    } else if (c === '\n') {
      endPipeline();
      i++;
      // Heredoc bodies started on the line just ended are data, not commands.
      for (const h of heredocs.splice(0)) {
        while (i < n) {
          const eol = script.indexOf('\n', i);
          const end = eol < 0 ? n : eol;
          const line = script.slice(i, end);
          i = end + 1;
          if ((h.tabs ? line.replace(/^\t+/, '') : line) === h.delimiter) break;
        }
      }
    } else if (c === ';' || c === '&' || c === '|') {
      const next = script[i + 1];
      if (c === '|' && next !== '|') {
        endCommand();
        i += next === '&' ? 2 : 1;
      } else {
        endPipeline();
        i += next === c ? 2 : 1;
      }
    } else if ((c === '$' || c === '<') && script[i + 1] === '(' && !(c === '$' && script[i + 2] === '(')) {
      // $(...) and <(...): the inner commands run too; the outer word keeps their text.
      const close = matching(script, i + 1);
      const inner = script.slice(i + 2, close);
      word += script.slice(i, Math.min(close + 1, n));
      inWord = true;
      nested(inner);
      i = close + 1;
    } else if (c === '`') {
      const j = script.indexOf('`', i + 1);
      const end = j < 0 ? n : j;
      word += script.slice(i, Math.min(end + 1, n));
      inWord = true;
      nested(script.slice(i + 1, end));
      i = end + 1;
    } else if (c === '(' || c === ')') {
      endPipeline();
      i++;
    } else if (c === '>' || c === '<') {
      // A redirection: drop a file-descriptor number before it and the target after it.
      if (inWord && /^\d+$/.test(word)) {
        word = '';
        inWord = false;
      }
      endWord();
      let j = i;
      while (j < n && (script[j] === '>' || script[j] === '<' || script[j] === '&' || script[j] === '|')) j++;
      const op = script.slice(i, j);
      i = j;
      if (op === '<<' || op === '<<-') {
        const m = /^\s*(["']?)([A-Za-z0-9_.-]+)\1/.exec(script.slice(i, i + 200));
        if (m) {
          heredocs.push({ delimiter: m[2] as string, tabs: op === '<<-' });
          i += m[0].length;
        }
      } else if (!op.endsWith('&')) {
        dropNextWord = true;
      }
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  endPipeline();
  return pipelines;
}

/** Index of the `)` closing the `(` at `open`, skipping quoted text; the end of the script when unclosed. */
function matching(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "'") {
      const j = s.indexOf("'", i + 1);
      if (j < 0) return s.length;
      i = j;
    } else if (c === '\\') {
      i++;
    } else if (c === '(') {
      depth++;
    } else if (c === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return s.length;
}

const RESERVED: ReadonlySet<string> = new Set([
  'if',
  'then',
  'else',
  'elif',
  'do',
  'while',
  'until',
  '!',
  '{',
  '}',
  'time',
  'exec',
  'command',
  'nohup',
  'fi',
  'done',
]);

/** Index of the command name from `from` on: leading assignments, reserved words and `env` skipped. */
function skipPrefix(w: readonly string[], from: number): number {
  let i = from;
  while (i < w.length) {
    const t = w[i] as string;
    if (RESERVED.has(t) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(t)) i++;
    else if (basename(t) === 'env') {
      i++;
      while (i < w.length && (/^-/.test(w[i] as string) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(w[i] as string))) {
        i += w[i] === '-u' ? 2 : 1;
      }
    } else break;
  }
  return i;
}

/** Words from the command name on: leading assignments, reserved words and `env` dropped (`sudo` kept). */
export function commandWords(cmd: SimpleCommand): readonly string[] {
  return cmd.words.slice(skipPrefix(cmd.words, 0));
}

/** sudo's options that take a value. */
const SUDO_VALUE_OPTIONS: ReadonlySet<string> = new Set(['-u', '-g', '-C', '-h', '-p', '-r', '-t', '-U', '-D', '-R']);
/** xargs's options that take a value as the next word. */
const XARGS_VALUE_OPTIONS: ReadonlySet<string> = new Set(['-a', '-d', '-E', '-I', '-L', '-n', '-P', '-s']);

/** Words of the command that actually runs: like `commandWords`, with `sudo` and `xargs` and their options dropped. */
export function effectiveWords(cmd: SimpleCommand): readonly string[] {
  const w = cmd.words;
  let i = skipPrefix(w, 0);
  for (;;) {
    const name = basename(w[i] ?? '');
    if (name !== 'sudo' && name !== 'xargs') return w.slice(i);
    const valueOptions = name === 'sudo' ? SUDO_VALUE_OPTIONS : XARGS_VALUE_OPTIONS;
    i++;
    while (i < w.length && (w[i] as string).startsWith('-') && w[i] !== '--') {
      i += valueOptions.has(w[i] as string) ? 2 : 1;
    }
    if (w[i] === '--') i++;
    i = skipPrefix(w, i);
  }
}

/** The first word that is not an option (`-x`), skipping the values of the options listed. */
export function subcommand(args: readonly string[], valueOptions: ReadonlySet<string> = new Set()): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (!a.startsWith('-')) return a;
    if (valueOptions.has(a)) i++;
  }
  return undefined;
}

/** Where a step is, for messages: `RUN at line 12` or `RUN of history entry 4`. */
export function stepPlace(step: Instruction): string {
  if (step.line !== undefined) {
    return step.endLine !== undefined && step.endLine !== step.line
      ? `${step.keyword} at lines ${step.line}-${step.endLine}`
      : `${step.keyword} at line ${step.line}`;
  }
  return `${step.keyword} of history entry ${step.historyIndex ?? '?'}`;
}

/** A command as text for a message: one line, bounded, its secrets masked before it is cut (a cut token no longer matches). */
export function shownCommand(words: readonly string[], max = 120): string {
  return printable(scrubText(words.join(' ')), max);
}
