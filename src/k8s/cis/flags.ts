/**
 * Command-line flags of the Kubernetes components as their own parsers read them (pure). The control-plane components
 * and the kubelet use spf13/pflag: `--flag=value` and `--flag value`, except that a boolean flag never takes the next
 * word (`--profiling false` is `--profiling=true` plus a stray argument), and parsing goes on past positional words.
 * etcd uses Go's `flag` package: one or two dashes, and parsing stops at the first positional word.
 */

/** Where a word came from: the file as shown and its line, when known. */
export interface Where {
  readonly path: string;
  readonly line?: number;
}

export interface Token {
  readonly text: string;
  readonly at?: Where;
}

export interface FlagUse {
  readonly name: string;
  /** The value as written; `true` for a bare boolean flag. */
  readonly value: string;
  /** A boolean flag given without `=value`. */
  readonly bare?: boolean;
  readonly at?: Where;
}

export interface FlagSyntax {
  /** Go's `flag` package (etcd): `-name` like `--name`, and the first positional word ends the flags. */
  readonly goFlag?: boolean;
  /** Flags that never take the next word as their value. */
  readonly booleans: ReadonlySet<string>;
}

/** Words parsed at most (a command line is a few hundred; a hostile file cannot make this quadratic anyway). */
export const MAX_TOKENS = 100_000;

/** Parse the words after the program name into flag uses, in order. */
export function parseFlags(tokens: readonly Token[], syntax: FlagSyntax): Flags {
  const uses: FlagUse[] = [];
  const n = Math.min(tokens.length, MAX_TOKENS);
  for (let i = 0; i < n; i++) {
    const t = tokens[i] as Token;
    const w = t.text;
    if (w === '--') break;
    const dashes = w.startsWith('--') ? 2 : w.startsWith('-') && w.length > 1 ? 1 : 0;
    const head = w.slice(dashes);
    if (dashes === 0 || head === '' || head.startsWith('-') || head.startsWith('=')) {
      if (syntax.goFlag) break; // Go's flag stops at the first positional word; pflag reads on
      continue;
    }
    if (dashes === 1 && !syntax.goFlag) continue; // pflag shorthand (`-v=2`): no checked flag has one
    const body = head;
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const at = t.at;
    if (eq >= 0) {
      uses.push({ name, value: body.slice(eq + 1), ...(at ? { at } : {}) });
      continue;
    }
    if (syntax.booleans.has(name)) {
      uses.push({ name, value: 'true', bare: true, ...(at ? { at } : {}) });
      continue;
    }
    const next = i + 1 < n ? (tokens[i + 1] as Token) : undefined;
    // Both parsers take the next word whatever it is; here a word that looks like a flag is read as the next flag,
    // because a boolean flag missing from `booleans` would otherwise swallow it (a value starting with `-` is rare).
    if (next && !next.text.startsWith('-')) {
      uses.push({ name, value: next.text, ...(at ? { at } : {}) });
      i++;
    } else uses.push({ name, value: '', ...(at ? { at } : {}) });
  }
  return new Flags(uses);
}

/** strconv.ParseBool, which both pflag and Go's flag use: anything else makes the component refuse to start. */
export function parseBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

export class Flags {
  constructor(readonly uses: readonly FlagUse[]) {}

  /** The last use of a flag (scalar flags: the last one wins). */
  last(name: string): FlagUse | undefined {
    for (let i = this.uses.length - 1; i >= 0; i--) if ((this.uses[i] as FlagUse).name === name) return this.uses[i];
    return undefined;
  }

  has(name: string): boolean {
    return this.last(name) !== undefined;
  }

  /**
   * A string-slice flag (`--enable-admission-plugins`, `--authorization-mode`): every use appends its comma list
   * (pflag's StringSlice), each item trimmed, empty items dropped. Each item keeps the use it came from.
   */
  list(name: string): { item: string; use: FlagUse }[] {
    const out: { item: string; use: FlagUse }[] = [];
    for (const u of this.uses) {
      if (u.name !== name) continue;
      for (const part of u.value.split(',')) {
        const item = part.trim();
        if (item) out.push({ item, use: u });
      }
    }
    return out;
  }

  /** A `key=value,...` map flag (`--feature-gates`): later uses override earlier keys. */
  map(name: string): Map<string, { value: string; use: FlagUse }> {
    const out = new Map<string, { value: string; use: FlagUse }>();
    for (const u of this.uses) {
      if (u.name !== name) continue;
      for (const part of u.value.split(',')) {
        const eq = part.indexOf('=');
        if (eq < 0) continue;
        out.set(part.slice(0, eq).trim(), { value: part.slice(eq + 1).trim(), use: u });
      }
    }
    return out;
  }
}
