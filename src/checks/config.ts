import CHECKS_SCHEMA from '../../schemas/checks.schema.json' with { type: 'json' };
import IGNORE_SCHEMA from '../../schemas/ignore.schema.json' with { type: 'json' };
import { type ErrorCode, PortcullisError, printable } from '../errors.js';
import { parseInstant } from '../policy/load.js';
import { validateWithSchema } from '../policy/schema.js';
import { dottedPath, type Problem, parseYaml, positionAt, type YamlSource } from '../policy/yaml.js';
import { readBoundedFile } from '../util/boundedfile.js';
import { compilePathGlob } from '../util/pathglob.js';
import { type CheckSettings, DEFAULT_SETTINGS } from './settings.js';

/** Config files are small; a larger one is refused before it is parsed. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** One entry of an ignore file, or of an inline Dockerfile comment. */
export interface IgnoreEntry {
  readonly id: string;
  readonly paths?: readonly RegExp[];
  /** Only findings on these Dockerfile lines (inline comments). */
  readonly lines?: { readonly path: string; readonly line: number; readonly endLine: number };
  readonly reason: string;
  readonly expires?: string;
  /** ms since the epoch from which the entry no longer applies. */
  readonly expiresAt?: number;
  /** Where the entry is written, for messages: `file:line`. */
  readonly source: string;
}

interface RawChecks {
  unnecessaryPackages?: string[];
  maxImageAge?: string;
  approvedRegistries?: string[];
  disabled?: string[];
  secrets?: { maxFileSize?: string; skipPaths?: string[]; builtinAllow?: boolean };
}

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KiB: 1024,
  k: 1024,
  MiB: 1 << 20,
  m: 1 << 20,
  GiB: 1 << 30,
  g: 1 << 30,
};

/** Parse and validate check settings; CONFIG_INVALID naming the file, line and field otherwise. */
export function parseChecksConfig(text: string, file: string): CheckSettings {
  const parsed = parseValidated(text, file, CHECKS_SCHEMA);
  const raw = parsed.value as RawChecks;
  const d = DEFAULT_SETTINGS;
  const size = raw.secrets?.maxFileSize;
  let maxFileBytes = d.secrets.maxFileBytes;
  if (size !== undefined) {
    const m = /^([0-9]+)([A-Za-z]*)$/.exec(size) as RegExpExecArray;
    maxFileBytes = Number(m[1]) * (SIZE_UNITS[m[2] || 'B'] ?? 1);
    // Smaller would silently skip nearly every file (a private key alone is over 400 bytes).
    if (maxFileBytes < 1024) {
      const at = positionAt(parsed, ['secrets', 'maxFileSize']);
      invalid(file, [{ ...at, message: `secrets.maxFileSize: '${size}' is below the 1KiB minimum` }]);
    }
  }
  const age = raw.maxImageAge;
  return {
    unnecessaryPackages: raw.unnecessaryPackages ?? d.unnecessaryPackages,
    approvedRegistries: raw.approvedRegistries ?? d.approvedRegistries,
    disabled: raw.disabled ?? d.disabled,
    // In hours first, one division last: 36h is exactly 1.5 days.
    ...(age
      ? { maxImageAgeDays: (Number(age.slice(0, -1)) * { h: 1, d: 24, w: 168 }[age.slice(-1) as 'h']) / 24 }
      : {}),
    secrets: {
      maxFileBytes,
      skipPaths: raw.secrets?.skipPaths ?? d.secrets.skipPaths,
      builtinAllow: raw.secrets?.builtinAllow ?? d.secrets.builtinAllow,
    },
  };
}

/** Parse and validate an ignore file. An entry whose expiry is no real date is an error, not a silent "never". */
export function parseIgnoreFile(text: string, file: string): IgnoreEntry[] {
  const parsed = parseValidated(text, file, IGNORE_SCHEMA);
  const raw = parsed.value as {
    ignore: { id: string; paths?: string[]; reason: string; expires?: string }[];
  };
  const problems: Problem[] = [];
  const entries = raw.ignore.map((e, i) => {
    const at = positionAt(parsed, ['ignore', i]);
    let expiresAt: number | undefined;
    if (e.expires !== undefined) {
      expiresAt = parseInstant(e.expires);
      if (expiresAt === undefined)
        problems.push({
          ...positionAt(parsed, ['ignore', i, 'expires']),
          message: `${dottedPath(['ignore', i, 'expires'])}: '${e.expires}' is no real date`,
        });
    }
    return {
      id: e.id,
      ...(e.paths ? { paths: e.paths.map(compilePathGlob) } : {}),
      reason: e.reason,
      ...(e.expires !== undefined ? { expires: e.expires } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      source: `${file}:${at.line}`,
    };
  });
  if (problems.length > 0) invalid(file, problems);
  return entries;
}

function strip(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Parse YAML and validate it against a JSON schema; CONFIG_INVALID naming the file, line, column and field. */
export function parseValidated(text: string, file: string, schema: object): YamlSource {
  const parsed = parseYaml(strip(text));
  if ('problems' in parsed) invalid(file, parsed.problems);
  const problems = validateWithSchema(schema, parsed.value).map((p) => {
    const at = positionAt(parsed, p.key === undefined ? p.path : p.path.slice(0, -1), p.key);
    return { line: at.line, column: at.column, message: `${dottedPath(p.path)}: ${p.message}` };
  });
  if (problems.length > 0) invalid(file, problems);
  return parsed;
}

/** CONFIG_INVALID at the first problem (by position), counting the others. */
export function invalid(file: string, problems: readonly Problem[]): never {
  const sorted = [...problems].sort((a, b) => a.line - b.line || a.column - b.column);
  const first = sorted[0] as Problem;
  const more = sorted.length > 1 ? ` (and ${sorted.length - 1} more)` : '';
  throw new PortcullisError(
    'CONFIG_INVALID',
    `${printable(file, 200)}:${first.line}:${first.column}: ${first.message}${more}`,
  );
}

/**
 * Read a small text file (a config file, a Dockerfile) of at most `max` bytes: NOT_FOUND when missing, `tooLarge`
 * (default CONFIG_INVALID) when over the limit, CONFIG_INVALID when unreadable.
 */
export function readConfigFile(
  path: string,
  flag: string,
  opts: { readonly max?: number; readonly tooLarge?: ErrorCode } = {},
): string {
  return decodeConfig(readConfigBytes(path, flag, opts));
}

/** A config file's text (a UTF-8 BOM dropped, invalid bytes replaced). */
export function decodeConfig(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

/** `readConfigFile`'s bytes, before decoding: what a digest of the file is over. */
export function readConfigBytes(
  path: string,
  flag: string,
  opts: { readonly max?: number; readonly tooLarge?: ErrorCode } = {},
): Uint8Array {
  const max = opts.max ?? MAX_CONFIG_BYTES;
  const r = readBoundedFile(path, max);
  if (r.ok) return r.bytes;
  if (r.problem === 'missing') throw new PortcullisError('NOT_FOUND', `${flag} ${printable(path)}: no such file`);
  const why = {
    unreadable: `cannot be read (${r.code ?? 'error'})`,
    'not-a-file': 'not a regular file',
    'too-large': 'larger than 1 MiB',
  }[r.problem];
  const code = r.problem === 'too-large' ? (opts.tooLarge ?? 'CONFIG_INVALID') : 'CONFIG_INVALID';
  throw new PortcullisError(code, `${printable(path)}: ${why}`);
}
