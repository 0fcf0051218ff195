import { normalizePackageName } from '../advisories/names.js';
import type { Finding, Severity } from '../findings/finding.js';
import { severityRank } from '../findings/finding.js';
import type { PolicySeverity } from './model.js';

/**
 * Glob match: `*` is any run of characters (slashes and dots included), `?` one character, everything else literal.
 * Iterative with one backtrack point, so it is O(pattern × text) whatever the pattern: patterns come from the
 * policy and texts from the image, and a regex built from a glob can backtrack exponentially.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || (pattern[p] !== '*' && pattern[p] === text[t]))) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** The purl without qualifiers and subpath (`pkg:deb/debian/openssl@3.0.9-1`). */
function purlCore(purl: string): string {
  const cut = purl.search(/[?#]/);
  return cut >= 0 ? purl.slice(0, cut) : purl;
}

/**
 * A purl pattern without the qualifiers and subpath it may carry. `?` is a glob character here: it starts the
 * qualifiers only where a qualifier (`key=`) follows it (`pkg:npm/lodash@4.17.2?` means any 4.17.2x).
 */
function patternCore(pattern: string): string {
  const cut = pattern.search(/#|\?[A-Za-z0-9._-]+=/);
  return cut >= 0 ? pattern.slice(0, cut) : pattern;
}

/**
 * Whether a package pattern matches a vulnerability finding's package. A pattern starting with `pkg:` is a purl
 * pattern: without `@` it matches the package whatever its version (`pkg:npm/lodash`), with `@` it matches the purl
 * without qualifiers (`pkg:deb/debian/openssl@3.0.*`). Any other pattern matches the installed package's name or
 * the name the advisory speaks of (the source package for distributions: `openssl` covers `libssl3`).
 */
export function packageMatches(pattern: string, f: Finding): boolean {
  const v = f.vulnerability;
  if (!v) return false;
  if (pattern.startsWith('pkg:')) {
    const want = purlPattern(pattern);
    const { name, version } = purlParts(v.package.purl);
    return globMatch(want.name, name) && (want.version === undefined || globMatch(want.version, version ?? ''));
  }
  return globMatch(pattern, v.package.name) || globMatch(pattern, v.matched.name);
}

/**
 * A purl without qualifiers, its `pkg:type/namespace/name` and version apart and percent-decoded: a scoped npm
 * package is `pkg:npm/@acme/x` to people and `pkg:npm/%40acme/x` in a purl. Only the version separator is a literal
 * `@` in a purl.
 */
function purlParts(purl: string): { name: string; version?: string } {
  const core = purlCore(purl);
  const at = core.lastIndexOf('@');
  const name = pep503(decoded(at < 0 ? core : core.slice(0, at)));
  return at < 0 ? { name } : { name, version: decoded(core.slice(at + 1)) };
}

/**
 * PyPI names compared normalised (PEP 503) on both sides: one project has many spellings, and a purl keeps the
 * dots (`pkg:pypi/zope.interface`) that a pattern may write as dashes.
 */
function pep503(purlName: string): string {
  return purlName.startsWith('pkg:pypi/') ? `pkg:pypi/${normalizePackageName('PyPI', purlName.slice(9))}` : purlName;
}

/**
 * A purl pattern as people write it, scopes with `@` or `%40`: its version is what follows an `@` after the last
 * `/`. PyPI names are compared normalised (PEP 503).
 */
function purlPattern(pattern: string): { name: string; version?: string } {
  const text = decoded(patternCore(pattern));
  const slash = text.lastIndexOf('/');
  const at = text.indexOf('@', slash + 1);
  const name = pep503(at < 0 ? text : text.slice(0, at));
  return at < 0 ? { name } : { name, version: text.slice(at + 1) };
}

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * A finding's id in decisions: the rule or advisory id and what it is about (the package's purl, or the path).
 * Not unique when the same package is installed twice; decisions list each id once.
 */
export function findingId(f: Finding): string {
  if (f.vulnerability) return `${f.ruleId} ${f.vulnerability.package.purl}`;
  const loc = f.location;
  if (loc.kind === 'file') return `${f.ruleId} ${loc.path}${loc.line ? `:${loc.line}` : ''}`;
  if (loc.kind === 'registry') return `${f.ruleId} ${loc.host}${loc.path ?? ''}`;
  return `${f.ruleId} ${loc.path ? `/${loc.path}` : loc.image}`;
}

/** A short human label for reasons: `CVE-2021-44906 in minimist 1.2.5 (critical)`. */
export function findingLabel(f: Finding): string {
  if (f.vulnerability) {
    const p = f.vulnerability.package;
    return `${f.ruleId} in ${p.name} ${p.version} (${f.severity})`;
  }
  const loc = f.location;
  const where = loc.kind === 'file' ? `${loc.path}${loc.line ? `:${loc.line}` : ''}` : loc.path ? `/${loc.path}` : '';
  return `${f.ruleId}${where ? ` at ${where}` : ''} (${f.severity})`;
}

/** Sort key that makes the order of findings irrelevant: by id, then by everything else. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const keyed = findings.map((f) => ({ f, id: findingId(f), all: undefined as string | undefined }));
  // The whole finding as text breaks ties of id only: made when first needed, not for every finding.
  const all = (k: (typeof keyed)[number]): string => {
    k.all ??= JSON.stringify(k.f);
    return k.all;
  };
  keyed.sort((a, b) => cmp(a.id, b.id) || cmp(all(a), all(b)));
  return keyed.map((k) => k.f);
}

/** Code-unit order, independent of locale. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Distinct ids in sorted order. */
export function uniqueIds(findings: readonly Finding[]): string[] {
  return [...new Set(findings.map(findingId))].sort(cmp);
}

/** The severity a finding counts as under a policy: `unknown` becomes the policy's choice. */
export function effectiveSeverity(s: Severity, unknownAs: PolicySeverity): PolicySeverity {
  return s === 'unknown' ? unknownAs : s;
}

/** Whether `s` is at or above `threshold`. */
export function atOrAbove(s: PolicySeverity, threshold: PolicySeverity): boolean {
  return severityRank(s) >= severityRank(threshold);
}

/** `n finding(s)` style counts. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Whole days between two instants, for messages. */
export function days(ms: number): number {
  return Math.floor(ms / 86_400_000);
}
