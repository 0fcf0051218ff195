/**
 * Debian package versions, `[epoch:]upstream[-revision]`, ordered as dpkg orders them (Debian Policy 5.6.12).
 * Validity is dpkg's own parser in strict mode, the one that builds and installs packages: what it reports as an
 * error or a warning is refused here, so `valid()` is true exactly when dpkg accepts the version silently.
 */
import { type Comparison, InvalidVersionError, type VersionScheme } from './scheme.js';

/** A parsed Debian version; an absent revision is the empty string, which dpkg orders like `0`. */
export interface DpkgVersion {
  readonly epoch: number;
  readonly upstream: string;
  readonly revision: string;
}

const INT_MAX = 2147483647;
const UPSTREAM_CHARS = /^[0-9A-Za-z.+~:-]*$/;
const REVISION_CHARS = /^[0-9A-Za-z.+~]*$/;
// dpkg trims blanks (space and tab only) around the version; a blank left inside is an error.
const TRIM = /^[ \t]*([^ \t]*)[ \t]*$/;

// Matching compares one installed version with every range of every advisory row, and the same fixed versions recur
// across rows and images: parses are remembered (frozen, so a caller cannot change a shared one), in a bounded map.
const PARSED = new Map<string, Readonly<DpkgVersion> | string>();
const MAX_PARSED = 65_536;

function parse(v: string): DpkgVersion | string {
  let r = PARSED.get(v);
  if (r === undefined) {
    const p = parseUncached(v);
    r = typeof p === 'string' ? p : Object.freeze(p);
    if (PARSED.size >= MAX_PARSED) PARSED.clear();
    PARSED.set(v, r);
  }
  return r;
}

/** Parse a Debian version, or return why dpkg would refuse it. */
function parseUncached(v: string): DpkgVersion | string {
  if (v === '') return 'version string is empty';
  const body = TRIM.exec(v)?.[1];
  if (body === undefined) return 'version string has embedded spaces';
  let epoch = 0;
  let rest = body;
  const colon = body.indexOf(':');
  if (colon >= 0) {
    // The epoch is what C's strtol reads (white space, a sign, decimal digits), and nothing else before the colon.
    const text = body.slice(0, colon).replace(/^[ \t\n\v\f\r]+/, '');
    if (!/^[+-]?\d/.test(text)) return 'epoch in version is empty';
    if (!/^[+-]?\d+$/.test(text)) return 'epoch in version is not number';
    const digits = text.replace(/^[+-]?0*/, '');
    if (text.startsWith('-') && digits !== '') return 'epoch in version is negative';
    if (digits.length > 10 || Number(digits) > INT_MAX) return 'epoch in version is too big';
    if (colon === body.length - 1) return 'nothing after colon in version number';
    epoch = Number(digits);
    rest = body.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen < 0 ? rest : rest.slice(0, hyphen);
  const revision = hyphen < 0 ? '' : rest.slice(hyphen + 1);
  if (hyphen >= 0 && revision === '') return 'revision number is empty';
  if (upstream === '') return 'version number is empty';
  if (!/^[0-9]/.test(upstream)) return 'version number does not start with digit';
  if (!UPSTREAM_CHARS.test(upstream)) return 'invalid character in version number';
  if (!REVISION_CHARS.test(revision)) return 'invalid character in revision number';
  return { epoch, upstream, revision };
}

/** Parse a Debian version; throws InvalidVersionError with dpkg's reason. */
export function parseDpkgVersion(v: string): DpkgVersion {
  const parsed = parse(v);
  if (typeof parsed === 'string') throw new InvalidVersionError('dpkg', v, parsed);
  return parsed;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** Weight of the character at `i` in a non-digit run: `~` below the end of the part, letters below other marks. */
function order(s: string, i: number): number {
  if (i >= s.length) return 0;
  const c = s.charCodeAt(i);
  if (isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 0x7e) return -1;
  return c + 256;
}

function digitsEnd(s: string, i: number): number {
  let j = i;
  while (j < s.length && isDigit(s.charCodeAt(j))) j++;
  return j;
}

/** dpkg's verrevcmp: alternate non-digit runs (by `order`) and digit runs (numerically, as strings). */
function compareParts(a: string, b: string): Comparison {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const d = order(a, i) - order(b, j);
      if (d !== 0) return d < 0 ? -1 : 1;
      i++;
      j++;
    }
    while (a.charCodeAt(i) === 0x30) i++;
    while (b.charCodeAt(j) === 0x30) j++;
    const ie = digitsEnd(a, i);
    const je = digitsEnd(b, j);
    if (ie - i !== je - j) return ie - i > je - j ? 1 : -1;
    const x = a.slice(i, ie);
    const y = b.slice(j, je);
    if (x !== y) return x < y ? -1 : 1;
    i = ie;
    j = je;
  }
  return 0;
}

/** Order two parsed Debian versions: epoch, then upstream, then revision. */
export function compareDpkgVersions(a: DpkgVersion, b: DpkgVersion): Comparison {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  return compareParts(a.upstream, b.upstream) || compareParts(a.revision, b.revision);
}

/** The dpkg version scheme (Debian, Ubuntu and their derivatives). */
export const dpkgScheme: VersionScheme = {
  name: 'dpkg',
  valid: (v) => typeof parse(v) !== 'string',
  compare: (a, b) => compareDpkgVersions(parseDpkgVersion(a), parseDpkgVersion(b)),
};
