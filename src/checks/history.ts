/**
 * An image's history read as build steps: each entry's `created_by` is the instruction that made it, in whichever form
 * the builder wrote it (classic docker and buildah `/bin/sh -c #(nop) ...`, BuildKit `RUN ... # buildkit`, kaniko's
 * instruction text). Forms not recognised become keyword UNKNOWN; nothing here throws.
 */
import type { ImageConfig } from '../oci/manifest.js';
import type { Instruction } from './model.js';
import { shellScriptIndex } from './shell.js';

const KEYWORDS: ReadonlySet<string> = new Set([
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
]);

/** The history entries in order, each with its index and the layer it made (empty_layer entries make none). */
export function stepsFromHistory(config: ImageConfig): Instruction[] {
  const history: readonly unknown[] = Array.isArray(config?.history) ? config.history : [];
  const layerCount = Array.isArray(config?.rootfs?.diff_ids) ? config.rootfs.diff_ids.length : 0;
  const steps: Instruction[] = [];
  let layer = 0;
  history.forEach((entry, historyIndex) => {
    const h = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {};
    const createdBy = typeof h.created_by === 'string' ? h.created_by : '';
    const made = h.empty_layer !== true;
    steps.push({
      ...readCreatedBy(createdBy),
      source: 'history',
      historyIndex,
      ...(made && layer < layerCount ? { layer } : {}),
    });
    if (made) layer++;
  });
  return steps;
}

interface Word {
  readonly text: string;
  readonly end: number;
}

/** Up to `max` whitespace-separated words from `from`, with where each ends. */
function words(s: string, from: number, max: number): Word[] {
  const out: Word[] = [];
  let i = from;
  while (out.length < max) {
    while (i < s.length && isSpace(s.charCodeAt(i))) i++;
    if (i >= s.length) break;
    const start = i;
    while (i < s.length && !isSpace(s.charCodeAt(i))) i++;
    out.push({ text: s.slice(start, i), end: i });
  }
  return out;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** One `created_by` as the instruction that wrote it. */
export function readCreatedBy(createdBy: string): { keyword: string; args: string; flags?: string[] } {
  let s = createdBy.trim();
  if (s.endsWith('# buildkit')) s = s.slice(0, -'# buildkit'.length).trimEnd();
  // Classic builder and buildah: the shell, then `#(nop) ` and a metadata instruction (or ADD/COPY of a content hash).
  const nop = s.indexOf('#(nop)');
  if (nop >= 0 && nop < 200 && /^(?:\S+\s+){0,6}$/.test(s.slice(0, nop))) {
    return keywordForm(s.slice(nop + '#(nop)'.length).trim(), true) ?? { keyword: 'UNKNOWN', args: s };
  }
  const keyed = keywordForm(s, false);
  if (keyed) return keyed;
  const command = runCommand(s);
  return command !== undefined ? { keyword: 'RUN', args: command } : { keyword: 'UNKNOWN', args: s };
}

/** `KEYWORD args` (BuildKit, kaniko, and after `#(nop)`), or undefined when `s` does not start with a keyword. */
function keywordForm(s: string, classic: boolean): { keyword: string; args: string; flags?: string[] } | undefined {
  const first = words(s, 0, 1)[0];
  if (!first || !KEYWORDS.has(first.text)) return undefined;
  const keyword = first.text;
  let at = first.end;
  const flags: string[] = [];
  if (keyword === 'RUN' || keyword === 'COPY' || keyword === 'ADD') {
    for (;;) {
      const w = words(s, at, 1)[0];
      if (!w?.text.startsWith('--')) break;
      flags.push(w.text);
      at = w.end;
    }
  }
  let args = s.slice(at).trim();
  if (keyword === 'RUN') args = runCommand(args) ?? args;
  // Classic ADD/COPY record `<file|dir|multi>:<hash> in <dest>`; read it as `source dest` like a Dockerfile.
  if (classic && (keyword === 'ADD' || keyword === 'COPY')) {
    const m = / in (\S.*)$/.exec(args);
    if (m && !args.slice(0, m.index).includes(' ')) args = `${args.slice(0, m.index)} ${(m[1] as string).trim()}`;
  }
  return { keyword, args, ...(flags.length > 0 ? { flags } : {}) };
}

/**
 * The command of a RUN entry: drop the `|N A=1 B=2` build arguments and the shell invocation (`/bin/sh -c`, a SHELL
 * such as `/bin/bash -o pipefail -c`, `cmd /S /C`). Undefined when `s` is neither.
 */
function runCommand(s: string): string | undefined {
  let at = 0;
  const count = /^\|(\d{1,4})\s/.exec(s);
  if (count) {
    at = count[0].length - 1;
    const n = Number(count[1]);
    // Values may hold spaces: after the n-th NAME=, words run on until a shell invocation starts.
    let seen = 0;
    for (;;) {
      const w = words(s, at, 1)[0];
      if (!w) return '';
      if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w.text)) {
        if (seen === n) break;
        seen++;
      } else if (seen === n && shellEnd(s, wordStart(s, at)) !== undefined) {
        break;
      } else if (seen === 0) {
        break;
      }
      at = w.end;
    }
    const rest = wordStart(s, at);
    return s.slice(shellEnd(s, rest) ?? rest).trim();
  }
  const end = shellEnd(s, 0);
  return end === undefined ? undefined : s.slice(end).trim();
}

function wordStart(s: string, at: number): number {
  let i = at;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

/** Where the command starts after a shell invocation at `from`, or undefined when none starts there. */
function shellEnd(s: string, from: number): number | undefined {
  const ws = words(s, from, 8);
  const first = ws[0];
  if (!first) return undefined;
  const name = first.text.slice(first.text.lastIndexOf('/') + 1).toLowerCase();
  if (name === 'cmd' || name === 'cmd.exe') {
    let i = 1;
    while (i < ws.length && /^\/[a-z]$/i.test(ws[i]?.text ?? '')) {
      if (ws[i]?.text.toLowerCase() === '/c') return ws[i]?.end;
      i++;
    }
    return undefined;
  }
  if (name === 'powershell' || name === 'pwsh' || name === 'powershell.exe') {
    const c = ws.slice(1).find((w) => /^-c(ommand)?$/i.test(w.text));
    return c?.end;
  }
  const script = shellScriptIndex(ws.map((w) => w.text));
  return script === undefined ? undefined : ws[script - 1]?.end;
}
