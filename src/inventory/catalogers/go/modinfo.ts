/**
 * The module info text of a Go binary, parsed as runtime/debug.ParseBuildInfo does (the reverse of
 * BuildInfo.String): `path`, `mod`, `dep`, `=>` and `build` lines, tab-separated, build values
 * Go-quoted when they hold spaces, tabs, newlines or quotes. ref: Go's runtime/debug/mod.go.
 */

/** A module as the build info names it; `replace` is set when a go.mod `replace` directive applied. */
export interface GoModule {
  readonly path: string;
  readonly version: string;
  readonly sum: string;
  readonly replace?: GoModule;
}

/** One `build` line: a setting such as GOOS, -ldflags or vcs.revision. */
export interface GoBuildSetting {
  readonly key: string;
  readonly value: string;
}

/** The parsed module info (the Go toolchain version is stored beside it, not in it). */
export interface GoModInfo {
  /** The main package path (`path` line), e.g. `github.com/containers/skopeo/cmd/skopeo`. */
  readonly path: string;
  /** The main module (`mod` line); absent for GOPATH builds and `go build file.go`. */
  readonly main?: GoModule;
  readonly deps: readonly GoModule[];
  readonly settings: readonly GoBuildSetting[];
}

/** Parsed module info, or why and on which line it could not be parsed. */
export type ModInfoResult =
  | { readonly ok: true; readonly info: GoModInfo }
  | { readonly ok: false; readonly line: number; readonly message: string };

interface MutableModule {
  path: string;
  version: string;
  sum: string;
  replace?: GoModule;
}

const moduleOf = (elem: string[]): MutableModule | string =>
  elem.length === 2 || elem.length === 3
    ? { path: elem[0] as string, version: elem[1] as string, sum: elem[2] ?? '' }
    : `expected 2 or 3 columns; got ${elem.length}`;

const quoteKey = (k: string): boolean => k === '' || /[= \t\r\n"`]/.test(k);
const quoteValue = (v: string): boolean => /[ \t\r\n"`]/.test(v);

/** Parse module info text with the same rules and errors as Go's ParseBuildInfo. */
export function parseModInfo(data: string): ModInfoResult {
  let path = '';
  let main: MutableModule | undefined;
  const deps: MutableModule[] = [];
  const settings: GoBuildSetting[] = [];
  let last: MutableModule | undefined;
  let lineNum = 1;
  const bad = (message: string): ModInfoResult => ({ ok: false, line: lineNum, message });
  let rest = data;
  while (rest.length > 0) {
    const nl = rest.indexOf('\n');
    if (nl < 0) break; // Go drops a last line without its newline
    const line = rest.slice(0, nl);
    rest = rest.slice(nl + 1);
    if (line.startsWith('path\t')) {
      path = line.slice(5);
    } else if (line.startsWith('mod\t') || line.startsWith('dep\t')) {
      const m = moduleOf(line.slice(4).split('\t'));
      if (typeof m === 'string') return bad(m);
      if (line[0] === 'm') main = m;
      else deps.push(m);
      last = m;
    } else if (line.startsWith('=>\t')) {
      const elem = line.slice(3).split('\t');
      if (elem.length !== 3) return bad(`expected 3 columns for replacement; got ${elem.length}`);
      if (!last) return bad('replacement with no module on previous line');
      last.replace = { path: elem[0] as string, version: elem[1] as string, sum: elem[2] as string };
      last = undefined;
    } else if (line.startsWith('build\t')) {
      const s = parseSetting(line.slice(6));
      if (typeof s === 'string') return bad(s);
      settings.push(s);
    }
    lineNum++;
  }
  return { ok: true, info: { path, ...(main ? { main } : {}), deps, settings } };
}

function parseSetting(kv: string): GoBuildSetting | string {
  if (kv.length < 1) return "build line missing '='";
  let key: string;
  let raw: string;
  const c = kv[0];
  if (c === '=') return 'build line with missing key';
  if (c === '`' || c === '"') {
    const q = goUnquotePrefix(kv);
    if (!q) return 'invalid quoted key in build line';
    if (kv.length === q.length) return "build line missing '=' after quoted key";
    if (kv[q.length] !== '=') return 'unexpected character after quoted key';
    key = q.value;
    raw = kv.slice(q.length + 1);
  } else {
    const eq = kv.indexOf('=');
    if (eq < 0) return "build line missing '=' after key";
    key = kv.slice(0, eq);
    raw = kv.slice(eq + 1);
    if (quoteKey(key)) return `unquoted key ${JSON.stringify(key)} must be quoted`;
  }
  let value = raw;
  if (raw[0] === '`' || raw[0] === '"') {
    const q = goUnquotePrefix(raw);
    if (!q || q.length !== raw.length) return 'invalid quoted value in build line';
    value = q.value;
  } else if (quoteValue(raw)) {
    return `unquoted value ${JSON.stringify(raw)} must be quoted`;
  }
  return { key, value };
}

const SIMPLE: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34 };
const encoder = new TextEncoder();
const PLAIN = /[^"\\\n]+/y;
const decoder = new TextDecoder('utf-8');

/**
 * The Go string literal (double-quoted or raw) at the start of `s`: its value and how many
 * characters it spans, or undefined when it is not a valid literal. ref: Go's strconv.unquote.
 */
export function goUnquotePrefix(s: string): { value: string; length: number } | undefined {
  const quote = s[0];
  if (quote === '`') {
    const end = s.indexOf('`', 1);
    if (end < 0) return undefined;
    return { value: s.slice(1, end).replaceAll('\r', ''), length: end + 1 };
  }
  if (quote !== '"') return undefined;
  const out: number[] = [];
  let i = 1;
  while (i < s.length && s[i] !== '"') {
    const ch = s[i] as string;
    if (ch === '\n') return undefined;
    if (ch !== '\\') {
      PLAIN.lastIndex = i;
      const m = PLAIN.exec(s) as RegExpExecArray;
      for (const byte of encoder.encode(m[0])) out.push(byte);
      i += m[0].length;
      continue;
    }
    const e = s[i + 1];
    if (e === undefined) return undefined;
    i += 2;
    const simple = SIMPLE[e];
    if (simple !== undefined) {
      out.push(simple);
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = s.slice(i, i + n);
      if (hex.length < n || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
      const v = Number.parseInt(hex, 16);
      i += n;
      if (e === 'x') out.push(v);
      else if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return undefined;
      else out.push(...encoder.encode(String.fromCodePoint(v)));
    } else if (e >= '0' && e <= '7') {
      const oct = s.slice(i - 1, i + 2);
      if (!/^[0-7]{3}$/.test(oct)) return undefined;
      const v = Number.parseInt(oct, 8);
      if (v > 255) return undefined;
      out.push(v);
      i += 2;
    } else {
      return undefined;
    }
  }
  if (s[i] !== '"') return undefined;
  return { value: decoder.decode(new Uint8Array(out)), length: i + 1 };
}
