import { compilePathGlob } from '../util/pathglob.js';
import { SECRET_RULES } from './rules.js';

/**
 * Paths not read for secrets by default: installed packages' documentation and test suites, where secret-shaped
 * sample data (test keys, example tokens) is normal and would drown real findings. Only package trees: an
 * application's own `test/` or `README.md` is read. `builtinAllow: false` turns the list off. Listed in
 * docs/rules.md ("Allow list").
 */
export const ALLOWED_PATHS: readonly string[] = [
  // Distribution documentation.
  'usr/share/doc/**',
  'usr/share/man/**',
  'usr/share/info/**',
  'usr/share/gtk-doc/**',
  // Test suites of what package managers install system-wide: Python's standard library and dist-packages, Go's
  // toolchain, SDKs under usr/lib; pip and `npm -g` under usr/local/lib.
  'usr/lib/**/test/**',
  'usr/lib/**/tests/**',
  'usr/lib/**/testdata/**',
  'usr/local/lib/**/test/**',
  'usr/local/lib/**/tests/**',
  'usr/local/lib/**/testdata/**',
  'usr/share/**/testdata/**',
  'usr/lib/go*/**/*_test.go',
  'usr/share/go*/**/*_test.go',
  'usr/local/go/**/testdata/**',
  'usr/local/go/**/*_test.go',
  // PEM files in Go's own sources are its tests' keys (crypto/x509/platform_root_key.pem lies outside testdata).
  'usr/local/go/src/**/*.pem',
  'usr/lib/go*/src/**/*.pem',
  // Language package trees wherever they are (virtualenvs, an application's node_modules): their test directories
  // (test, tests, testdata, test-fixtures, ...) and READMEs. The Go module cache is a build cache of downloaded,
  // checksummed module sources, full of their authors' test keys outside test directories too: all of it.
  '**/site-packages/**/test*/**',
  '**/dist-packages/**/test*/**',
  '**/site-packages/**/SelfTest/**',
  '**/dist-packages/**/SelfTest/**',
  '**/node_modules/**/test*/**',
  '**/node_modules/**/__tests__/**',
  '**/node_modules/*/test.js',
  '**/node_modules/@*/*/test.js',
  '**/node_modules/**/*.md',
  '**/go/pkg/mod/**',
  // Ruby gems and Rust crates as installed.
  '**/gems/*/test/**',
  '**/gems/*/spec/**',
  '**/cargo/registry/src/**/tests/**',
];

/**
 * Paths the built-in list never hides, whatever glob matched them: credential files the path rules read, and
 * private-key files by name. (A package tree in a home, a virtualenv or `pip install --user`, is a package tree like
 * any other.) `secrets.skipPaths` still applies to them: that is the user's own choice.
 */
export const NEVER_ALLOWED: readonly string[] = [
  '**/.ssh/**',
  '**/id_rsa',
  '**/id_dsa',
  '**/id_ecdsa',
  '**/id_ed25519',
  '**/id_ecdsa_sk',
  '**/id_ed25519_sk',
  '**/*.ppk',
];

const CREDENTIAL_FILES = new RegExp(SECRET_RULES.flatMap((r) => (r.paths ? [r.paths.source] : [])).join('|'), 'i');

/** One anchored expression for a list of path globs (none: matches nothing). */
export function globsRegExp(globs: readonly string[]): RegExp | undefined {
  if (globs.length === 0) return undefined;
  return new RegExp(globs.map((g) => `(?:${compilePathGlob(g).source})`).join('|'), 's');
}

const ALLOWED = globsRegExp(ALLOWED_PATHS) as RegExp;
const NEVER = globsRegExp(NEVER_ALLOWED) as RegExp;

/** True when the built-in allow list hides this path (no leading slash). */
export function builtinAllowed(path: string): boolean {
  return ALLOWED.test(path) && !NEVER.test(path) && !CREDENTIAL_FILES.test(path);
}
