import type { SettingsUsed } from '../policy/model.js';

/** Settings of the image checks (`--checks-config FILE`, schema in schemas/checks.schema.json). */
export interface CheckSettings {
  /** The file the settings came from and the sha256 of its bytes; absent for the defaults. */
  readonly source?: { readonly file: string; readonly digest: string };
  /** Package names (any ecosystem) that have no place in a production image (CIS 4.3). */
  readonly unnecessaryPackages: readonly string[];
  /** Oldest acceptable image in days since its `created` time (CIS 4.4), fractional for hours; undefined: not checked. */
  readonly maxImageAgeDays?: number;
  /** Registries base images must come from (CIS 4.2); empty: not checked. */
  readonly approvedRegistries: readonly string[];
  /** Rule ids not run at all. */
  readonly disabled: readonly string[];
  readonly secrets: SecretSettings;
}

export interface SecretSettings {
  /** Files larger than this are not read for secrets (bytes). */
  readonly maxFileBytes: number;
  /** Path globs (no leading slash) never read for secrets, on top of the built-in allow list. */
  readonly skipPaths: readonly string[];
  /** False turns the built-in allow list (documentation, test data, language package trees) off. */
  readonly builtinAllow: boolean;
}

/** Packages users expect flagged by default: remote shells, compilers, debuggers and sniffers. */
export const DEFAULT_UNNECESSARY_PACKAGES: readonly string[] = [
  'openssh-server',
  'dropbear',
  'telnetd',
  'inetutils-telnetd',
  'gcc',
  'g++',
  'clang',
  'make',
  'gdb',
  'strace',
  'ltrace',
  'tcpdump',
  'nmap',
  'netcat-traditional',
  'netcat-openbsd',
];

/** Which settings these are, as decisions and attestations record them: the file and its sha256, or the defaults. */
export function settingsUsed(s: CheckSettings | undefined): SettingsUsed {
  return s?.source ? { file: s.source.file, digest: s.source.digest } : 'defaults';
}

export const DEFAULT_SETTINGS: CheckSettings = {
  unnecessaryPackages: DEFAULT_UNNECESSARY_PACKAGES,
  approvedRegistries: [],
  disabled: [],
  secrets: { maxFileBytes: 10 * 1024 * 1024, skipPaths: [], builtinAllow: true },
};
