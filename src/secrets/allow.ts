import { compilePathGlob } from '../util/pathglob.js';

/**
 * Paths not read for secrets by default: documentation and test suites, where secret-shaped sample data (test keys,
 * example tokens) is normal and would drown real findings. `builtinAllow: false` turns the list off. Listed in
 * docs/rules.md ("Allow list").
 */
export const ALLOWED_PATHS: readonly string[] = [
  'usr/share/doc/**',
  'usr/share/man/**',
  'usr/share/info/**',
  '**/test/**',
  '**/tests/**',
  '**/testdata/**',
  '**/__tests__/**',
  '**/node_modules/*/test*',
  '**/node_modules/*/test*/**',
  '**/*.md',
  '**/*.rst',
];

/** One anchored expression for a list of path globs (none: matches nothing). */
export function globsRegExp(globs: readonly string[]): RegExp | undefined {
  if (globs.length === 0) return undefined;
  return new RegExp(globs.map((g) => `(?:${compilePathGlob(g).source})`).join('|'), 's');
}
