/**
 * The kubelet's command line from its systemd unit and drop-ins (pure): `Environment=`, `EnvironmentFile=` and the
 * last `ExecStart=`, with `$VAR` (split into words) and `${VAR}` (one word) expanded as systemd does. Every word keeps
 * the file and line it came from, so a finding points at the line that set the flag.
 */
import type { Token, Where } from './flags.js';

export interface UnitFile {
  readonly shown: string;
  readonly text: string;
}

/** One `[Service]` setting with the line it starts on. */
interface Setting {
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

/** Settings of the `[Service]` section, continuation lines joined. */
export function serviceSettings(text: string): Setting[] {
  const out: Setting[] = [];
  const lines = text.split(/\r?\n/);
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i] as string;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]}`;
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) continue;
    if (t.startsWith('[')) {
      section = t;
      continue;
    }
    if (section !== '[Service]') continue;
    const eq = t.indexOf('=');
    if (eq < 0) continue;
    out.push({ key: t.slice(0, eq).trim(), value: t.slice(eq + 1).trim(), line: start + 1 });
  }
  return out;
}

/** Split on unquoted whitespace, removing double and single quotes and backslash escapes (systemd's word rules). */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** `KEY=value` lines of an environment file (`EnvironmentFile=`, `/etc/default/kubelet`). */
export function parseEnvFile(text: string, shown: string): Map<string, { value: string; at: Where }> {
  const out = new Map<string, { value: string; at: Where }>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i] as string;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)}${lines[++i]}`;
    const t = line.trim().replace(/^export\s+/, '');
    if (t === '' || t.startsWith('#') || t.startsWith(';')) continue;
    const eq = t.indexOf('=');
    if (eq <= 0) continue;
    const key = t.slice(0, eq).trim();
    const raw = t.slice(eq + 1).trim();
    const value = splitWords(raw).join(' ');
    out.set(key, { value, at: { path: shown, line: start + 1 } });
  }
  return out;
}

export interface KubeletUnit {
  /** Words after the program name, with where each came from. */
  readonly args: Token[];
  /** The program (first word of ExecStart). */
  readonly program?: string;
  /** Where ExecStart was set. */
  readonly at?: Where;
  /** Environment files named, in order, with whether a missing one is acceptable (`-` prefix). */
  readonly envFiles: { readonly path: string; readonly optional: boolean }[];
}

/**
 * Read a unit and its drop-ins (in order): which environment files they name, and the ExecStart. `readEnv` returns
 * the parsed environment file (or undefined when it is not there), so this stays pure.
 */
export function kubeletCommand(
  units: readonly UnitFile[],
  readEnv: (path: string) => Map<string, { value: string; at: Where }> | undefined,
): KubeletUnit {
  const env = new Map<string, { value: string; at: Where }>();
  const envFiles: { path: string; optional: boolean }[] = [];
  let exec: { value: string; at: Where } | undefined;
  for (const u of units) {
    for (const s of serviceSettings(u.text)) {
      const at = { path: u.shown, line: s.line };
      if (s.key === 'Environment') {
        if (s.value === '') env.clear();
        for (const w of splitWords(s.value)) {
          const eq = w.indexOf('=');
          if (eq > 0) env.set(w.slice(0, eq), { value: w.slice(eq + 1), at });
        }
      } else if (s.key === 'EnvironmentFile') {
        if (s.value === '') envFiles.length = 0;
        else {
          const optional = s.value.startsWith('-');
          envFiles.push({ path: optional ? s.value.slice(1) : s.value, optional });
        }
      } else if (s.key === 'ExecStart') {
        exec = s.value === '' ? undefined : { value: s.value, at };
      }
    }
  }
  // Settings from environment files override Environment= (systemd.exec), in the order the files are named.
  for (const f of envFiles) {
    const vars = readEnv(f.path);
    if (vars) for (const [k, v] of vars) env.set(k, v);
  }
  if (!exec) return { args: [], envFiles };
  const line = exec.value.replace(/^[-@:+!]+/, '');
  const words: Token[] = [];
  for (const raw of splitRaw(line)) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(raw.text);
    if (whole && !raw.quoted) {
      const v = env.get(whole[1] as string);
      if (v) for (const w of splitWords(v.value)) words.push({ text: w, at: v.at });
      continue;
    }
    let at: Where = exec.at;
    const text = raw.text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a, b) => {
      const v = env.get((a ?? b) as string);
      if (v) at = v.at;
      return v?.value ?? '';
    });
    words.push({ text, at });
  }
  const [program, ...args] = words;
  return { args, ...(program ? { program: program.text } : {}), at: exec.at, envFiles };
}

/** Words of an ExecStart line before variable expansion, remembering which were quoted. */
function splitRaw(s: string): { text: string; quoted: boolean }[] {
  const out: { text: string; quoted: boolean }[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (quote) {
      if (c === quote) quote = '';
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      quoted = true;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push({ text: cur, quoted });
      cur = '';
      inWord = false;
      quoted = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push({ text: cur, quoted });
  return out;
}
