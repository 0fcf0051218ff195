import { printable } from '../../errors.js';
import { type Comparison, InvalidVersionError, type VersionScheme } from './scheme.js';

/**
 * PEP 440 versions and specifiers, as `packaging` 26 (pip's own library) reads and orders them. Written here rather
 * than taken from `@renovatebot/pep440`, which holds numbers in doubles and simplifies the exclusive comparisons
 * (`>1.0.post1` rejects 1.0.post2, `<1.0rc1` rejects 1.0b1, `==1.0+a` accepts 1.0+b, `==1.0.*` rejects 1).
 * The parser is a hand-written scan that mirrors packaging's possessive regular expressions token by token, so it
 * cannot backtrack into exponential time on hostile input.
 */

const MAX_LENGTH = 1024;
const MAX_RANGE_LENGTH = 4096;

/** Python's `\s` (and `str.strip()`) on text: the characters for which `str.isspace()` holds. */
const SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const isSpace = (c: string | undefined): boolean => c !== undefined && SPACE.test(c);
function strip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s[a])) a++;
  while (b > a && isSpace(s[b - 1])) b--;
  return s.slice(a, b);
}

type Pre = readonly [rank: 0 | 1 | 2, n: bigint];
/** A local segment: a number, or lower-cased letters and digits. */
type LocalPart = bigint | string;

interface Pep440Version {
  readonly epoch: bigint;
  readonly release: readonly bigint[];
  readonly pre: Pre | null;
  readonly post: bigint | null;
  readonly dev: bigint | null;
  readonly local: readonly LocalPart[] | null;
}

/** Pre-release spellings in packaging's order (longest first where one is a prefix of another), with their rank. */
const PRE_WORDS = ['alpha', 'a', 'beta', 'b', 'preview', 'pre', 'c', 'rc'] as const;
const PRE_RANK: Record<(typeof PRE_WORDS)[number], 0 | 1 | 2> = {
  alpha: 0,
  a: 0,
  beta: 1,
  b: 1,
  preview: 2,
  pre: 2,
  c: 2,
  rc: 2,
};
const POST_WORDS = ['post', 'rev', 'r'];

/** A left-to-right scanner over one string; every method consumes only on success, like a possessive group. */
class Scanner {
  at = 0;
  constructor(readonly s: string) {}
  digits(): string | null {
    let i = this.at;
    while (i < this.s.length && this.s.charCodeAt(i) >= 0x30 && this.s.charCodeAt(i) <= 0x39) i++;
    if (i === this.at) return null;
    const d = this.s.slice(this.at, i);
    this.at = i;
    return d;
  }
  char(set: string): boolean {
    const c = this.s[this.at];
    if (c === undefined || !set.includes(c)) return false;
    this.at++;
    return true;
  }
  /** The first of `words` (lower-case ASCII) that starts here, matched case-insensitively. */
  word<T extends string>(words: readonly T[]): T | null {
    for (const w of words) {
      const got = this.s.slice(this.at, this.at + w.length);
      if (/^[a-z]+$/i.test(got) && got.toLowerCase() === w) {
        this.at += w.length;
        return w;
      }
    }
    return null;
  }
  /** A run of ASCII letters and digits. */
  alnum(): string | null {
    let i = this.at;
    while (i < this.s.length && /[a-z0-9]/i.test(this.s[i] as string)) i++;
    if (i === this.at) return null;
    const run = this.s.slice(this.at, i);
    this.at = i;
    return run;
  }
  /** Run `group` as an optional possessive group: on failure nothing is consumed. */
  optional<T>(group: () => T | null): T | null {
    const start = this.at;
    const r = group();
    if (r === null) this.at = start;
    return r;
  }
}

const SEP = '._-';

/** `v?+ (?:N!)?+ N(?:\.N)*+` with the release read from an already-started scanner. */
function scanRelease(sc: Scanner): { epoch: bigint; release: bigint[] } | null {
  sc.char('vV');
  const epoch = sc.optional(() => {
    const d = sc.digits();
    return d !== null && sc.char('!') ? BigInt(d) : null;
  });
  const first = sc.digits();
  if (first === null) return null;
  const release = [BigInt(first)];
  for (;;) {
    const n = sc.optional(() => (sc.char('.') ? sc.digits() : null));
    if (n === null) break;
    release.push(BigInt(n));
  }
  return { epoch: epoch ?? 0n, release };
}

/** Scan a version from `sc.at` to wherever packaging's VERSION_PATTERN would stop. */
function scanVersion(sc: Scanner): Pep440Version | null {
  const rel = scanRelease(sc);
  if (!rel) return null;
  const pre = sc.optional((): Pre | null => {
    sc.char(SEP);
    const w = sc.word(PRE_WORDS);
    if (w === null) return null;
    sc.char(SEP);
    return [PRE_RANK[w], BigInt(sc.digits() ?? 0)];
  });
  const post = sc.optional((): bigint | null => {
    const implicit = sc.optional(() => (sc.char('-') ? sc.digits() : null));
    if (implicit !== null) return BigInt(implicit);
    sc.char(SEP);
    if (sc.word(POST_WORDS) === null) return null;
    sc.char(SEP);
    return BigInt(sc.digits() ?? 0);
  });
  const dev = sc.optional((): bigint | null => {
    sc.char(SEP);
    if (sc.word(['dev']) === null) return null;
    sc.char(SEP);
    return BigInt(sc.digits() ?? 0);
  });
  const local = sc.optional((): LocalPart[] | null => {
    if (!sc.char('+')) return null;
    const first = sc.alnum();
    if (first === null) return null;
    const parts = [first];
    for (;;) {
      const p = sc.optional(() => (sc.char(SEP) ? sc.alnum() : null));
      if (p === null) break;
      parts.push(p);
    }
    return parts.map((p) => (/^[0-9]+$/.test(p) ? BigInt(p) : p.toLowerCase()));
  });
  return { epoch: rel.epoch, release: rel.release, pre, post, dev, local };
}

// Matching compares one installed version with every event of every advisory row, and the same event versions recur:
// parses are remembered (deeply frozen, as they are shared), in a bounded map, as dpkg.ts does.
const PARSED = new Map<string, Pep440Version | string>();
const MAX_PARSED = 65_536;
/** Longer inputs (hostile, or nothing a registry publishes) are parsed each time: the map stays a few MB at most. */
const MAX_REMEMBERED_LENGTH = 64;

function freeze(v: Pep440Version): Pep440Version {
  Object.freeze(v.release);
  if (v.pre) Object.freeze(v.pre);
  if (v.local) Object.freeze(v.local);
  return Object.freeze(v);
}

/** Parse a whole version (surrounding whitespace allowed), or explain why not; remembered. */
function parsePep440(input: string): Pep440Version | string {
  let r = PARSED.get(input);
  if (r === undefined) {
    const p = parseUncached(input);
    r = typeof p === 'string' ? p : freeze(p);
    if (input.length > MAX_REMEMBERED_LENGTH) return r;
    if (PARSED.size >= MAX_PARSED) PARSED.clear();
    PARSED.set(input, r);
  }
  return r;
}

function parseUncached(input: string): Pep440Version | string {
  if (input.length > MAX_LENGTH) return `longer than ${MAX_LENGTH} characters`;
  const s = strip(input);
  const sc = new Scanner(s);
  const v = scanVersion(sc);
  if (!v) return 'no release number';
  if (sc.at !== s.length) return `unexpected '${printable(s[sc.at] ?? '')}' at ${sc.at}`;
  return v;
}

function version(v: string): Pep440Version {
  const p = parsePep440(v);
  if (typeof p === 'string') throw new InvalidVersionError('pep440', v, p);
  return p;
}

const cmpBig = (a: bigint, b: bigint): Comparison => (a < b ? -1 : a > b ? 1 : 0);

function trimmed(release: readonly bigint[]): readonly bigint[] {
  let i = release.length;
  while (i > 0 && release[i - 1] === 0n) i--;
  return release.slice(0, i);
}

/** The six-number suffix of packaging's _cmpkey: pre rank and number, post rank and number, dev rank and number. */
function suffix(v: Pep440Version): bigint[] {
  const preRank = v.pre ? BigInt(v.pre[0]) : v.post === null && v.dev !== null ? -1n : 3n;
  return [
    preRank,
    v.pre ? v.pre[1] : 0n,
    v.post === null ? 0n : 1n,
    v.post ?? 0n,
    v.dev === null ? 1n : 0n,
    v.dev ?? 0n,
  ];
}

function cmpList(a: readonly bigint[], b: readonly bigint[]): Comparison {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const c = cmpBig(a[i] as bigint, b[i] as bigint);
    if (c) return c;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** cmpList of both releases without their trailing zeros, without copying them (matching calls it very often). */
function cmpRelease(a: readonly bigint[], b: readonly bigint[]): Comparison {
  let la = a.length;
  while (la > 0 && a[la - 1] === 0n) la--;
  let lb = b.length;
  while (lb > 0 && b[lb - 1] === 0n) lb--;
  for (let i = 0; i < la && i < lb; i++) {
    const c = cmpBig(a[i] as bigint, b[i] as bigint);
    if (c) return c;
  }
  return la === lb ? 0 : la < lb ? -1 : 1;
}

/** Epoch, then release without trailing zeros (1.0 == 1), then pre / post / dev: everything but the local label. */
function comparePublic(a: Pep440Version, b: Pep440Version): Comparison {
  return cmpBig(a.epoch, b.epoch) || cmpRelease(a.release, b.release) || cmpList(suffix(a), suffix(b));
}

/** Local labels: none first; then part by part, letters before numbers, shorter first. */
function compareLocal(a: readonly LocalPart[] | null, b: readonly LocalPart[] | null): Comparison {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  for (let i = 0; i < a.length && i < b.length; i++) {
    const x = a[i] as LocalPart;
    const y = b[i] as LocalPart;
    if (typeof x !== typeof y) return typeof x === 'string' ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function compareVersions(a: Pep440Version, b: Pep440Version): Comparison {
  return comparePublic(a, b) || compareLocal(a.local, b.local);
}

/** A version with only epoch, release and a .dev0: the lowest version of that release. */
const dev0 = (epoch: bigint, release: readonly bigint[]): Pep440Version => ({
  epoch,
  release,
  pre: null,
  post: null,
  dev: 0n,
  local: null,
});

/** The release one up in its last place: 1.2 -> 1.3. */
const bumped = (release: readonly bigint[]): bigint[] => [
  ...release.slice(0, -1),
  (release[release.length - 1] as bigint) + 1n,
];

type Test = (v: Pep440Version, raw: string) => boolean;

/** One specifier (`>=1.0`, `~=2.2.post3`, `==1.4.*`, `===foo`) as packaging's Specifier ranges read it. */
function specifier(text: string, whole: string): Test {
  const bad = (why: string): never => {
    throw new InvalidVersionError('pep440', whole, `invalid specifier '${printable(text, 60)}': ${why}`);
  };
  const op = ['===', '~=', '==', '!=', '<=', '>=', '<', '>'].find((o) => text.startsWith(o));
  if (!op) return bad('no operator');
  const body = strip(text.slice(op.length));
  if (op === '===') {
    if (body === '' || /[;)]/.test(body) || [...body].some(isSpace)) return bad('arbitrary version');
    const want = body.toLowerCase();
    return (_v, raw) => raw.toLowerCase() === want;
  }
  if ((op === '==' || op === '!=') && body.endsWith('.*')) {
    const sc = new Scanner(body.slice(0, -2));
    const rel = scanRelease(sc);
    if (!rel || sc.at !== sc.s.length) return bad('a wildcard follows a plain release only');
    const lo = dev0(rel.epoch, rel.release);
    const hi = dev0(rel.epoch, bumped(rel.release));
    const inside: Test = (v) => compareVersions(v, lo) >= 0 && compareVersions(v, hi) < 0;
    return op === '==' ? inside : (v, raw) => !inside(v, raw);
  }
  const sc = new Scanner(body);
  const spec = scanVersion(sc);
  if (!spec || sc.at !== body.length) return bad('not a version');
  if (spec.local && op !== '==' && op !== '!=') return bad('a local label is only allowed with == and !=');
  switch (op) {
    case '==':
    case '!=': {
      const same: Test = spec.local ? (v) => compareVersions(v, spec) === 0 : (v) => comparePublic(v, spec) === 0;
      return op === '==' ? same : (v, raw) => !same(v, raw);
    }
    case '>=':
      return (v) => compareVersions(v, spec) >= 0;
    case '<=':
      return (v) => comparePublic(v, spec) <= 0;
    case '<': {
      // <V excludes V's own prereleases unless V is one: it is < V.dev0.
      const bound = spec.pre || spec.dev !== null ? spec : { ...spec, dev: 0n };
      return (v) => compareVersions(v, bound) < 0;
    }
    case '>': {
      // >V excludes V's post-releases and local versions unless V is itself a post or dev release.
      if (spec.dev !== null) {
        const from = { ...spec, dev: spec.dev + 1n };
        return (v) => compareVersions(v, from) >= 0;
      }
      if (spec.post !== null) {
        const from = { ...spec, post: spec.post + 1n, dev: 0n };
        return (v) => compareVersions(v, from) >= 0;
      }
      const head = (x: Pep440Version): Comparison =>
        cmpBig(x.epoch, spec.epoch) ||
        cmpList(trimmed(x.release), trimmed(spec.release)) ||
        cmpList(suffix(x).slice(0, 2), suffix(spec).slice(0, 2));
      return (v) => head(v) > 0;
    }
    default: {
      // ~=V: >= V and == V's release without its last part, as a prefix.
      if (spec.release.length < 2) return bad('~= needs at least two release numbers');
      const hi = dev0(spec.epoch, bumped(spec.release.slice(0, -1)));
      return (v) => compareVersions(v, spec) >= 0 && compareVersions(v, hi) < 0;
    }
  }
}

/**
 * A specifier set (`>=1.0,!=1.3.*,<2`) as packaging's SpecifierSet.contains reads it for one installed version:
 * every specifier must hold, prereleases match (packaging 26 matches them when there is a single candidate, and PEP
 * 440 says installed prereleases are accepted), and an empty set matches everything.
 */
function specifierSet(range: string): Test[] {
  if (range.length > MAX_RANGE_LENGTH) throw new InvalidVersionError('pep440', range, 'specifier set too long');
  return range
    .split(',')
    .map(strip)
    .filter((s) => s !== '')
    .map((s) => specifier(s, range));
}

/** PEP 440 (PyPI): epochs, pre / post / dev releases, local labels, and specifier sets. */
export const pep440Scheme: VersionScheme = {
  name: 'pep440',
  valid(v: string): boolean {
    return typeof parsePep440(v) !== 'string';
  },
  compare(a: string, b: string): Comparison {
    return compareVersions(version(a), version(b));
  },
  satisfies(v: string, range: string): boolean {
    const parsed = version(v);
    return specifierSet(range).every((test) => test(parsed, v));
  },
};
