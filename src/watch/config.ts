import { dirname, isAbsolute, join } from 'node:path';
import WATCH_SCHEMA from '../../schemas/watch.schema.json' with { type: 'json' };
import { readConfigFile } from '../checks/config.js';
import { PortcullisError, printable } from '../errors.js';
import { validateWithSchema } from '../policy/schema.js';
import { dottedPath, type Problem, parseYaml, positionAt } from '../policy/yaml.js';
import { compilePathGlob } from '../util/pathglob.js';

/**
 * The watch configuration (`registry watch --config FILE`), YAML or JSON, schema `schemas/watch.schema.json`:
 *
 *     apiVersion: portcullis.dev/v1alpha1
 *     kind: WatchConfig
 *     registries:
 *       - host: registry.example.com
 *         repositories: [prod/**]         # path globs, no host
 *         trustPolicy: trust.yaml         # relative to this file
 *         maxAssessmentAge: 7d
 */

/** One watched registry. */
export interface WatchedRegistry {
  readonly host: string;
  readonly repositories: readonly string[];
  /** Compiled `repositories`, in order. */
  readonly patterns: readonly RegExp[];
  /** The trust policy file, resolved against the config file's directory. */
  readonly trustPolicy: string;
  readonly maxAssessmentAge: string;
  readonly maxAssessmentAgeMs: number;
  /** `file:line` of the entry, for messages. */
  readonly source: string;
}

export interface WatchConfig {
  readonly file: string;
  readonly registries: readonly WatchedRegistry[];
}

interface RawRegistry {
  host: string;
  repositories: string[];
  trustPolicy: string;
  maxAssessmentAge: string;
}

const HOURS = { h: 1, d: 24, w: 168 } as const;

/** `7d`, `36h`, `2w` (the schema's pattern) in milliseconds. */
export function assessmentAgeMs(age: string): number {
  return Number(age.slice(0, -1)) * HOURS[age.slice(-1) as keyof typeof HOURS] * 3_600_000;
}

/** Parse and validate a watch config's text; CONFIG_INVALID naming the file, line, column and field otherwise. */
export function parseWatchConfig(text: string, file: string): WatchConfig {
  const parsed = parseYaml(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  if ('problems' in parsed) invalid(file, parsed.problems);
  const problems = validateWithSchema(WATCH_SCHEMA, parsed.value).map((p) => {
    const at = positionAt(parsed, p.key === undefined ? p.path : p.path.slice(0, -1), p.key);
    return { line: at.line, column: at.column, message: `${dottedPath(p.path)}: ${p.message}` };
  });
  if (problems.length > 0) invalid(file, problems);
  const raw = (parsed.value as { registries: RawRegistry[] }).registries;
  const base = dirname(file);
  const seen = new Map<string, number>();
  const registries = raw.map((r, i): WatchedRegistry => {
    const at = positionAt(parsed, ['registries', i]);
    const earlier = seen.get(r.host);
    if (earlier !== undefined) {
      const where = positionAt(parsed, ['registries', i, 'host']);
      invalid(file, [
        { ...where, message: `registries[${i}].host: '${r.host}' is already watched by registries[${earlier}]` },
      ]);
    }
    seen.set(r.host, i);
    return {
      host: r.host,
      repositories: r.repositories,
      patterns: r.repositories.map(compilePathGlob),
      trustPolicy: isAbsolute(r.trustPolicy) ? r.trustPolicy : join(base, r.trustPolicy),
      maxAssessmentAge: r.maxAssessmentAge,
      maxAssessmentAgeMs: assessmentAgeMs(r.maxAssessmentAge),
      source: `${file}:${at.line}`,
    };
  });
  return { file, registries };
}

/** Read (at most 1 MiB) and parse a watch config file. */
export function loadWatchConfig(path: string): WatchConfig {
  return parseWatchConfig(readConfigFile(path, '--config'), path);
}

function invalid(file: string, problems: readonly Problem[]): never {
  const sorted = [...problems].sort((a, b) => a.line - b.line || a.column - b.column);
  const first = sorted[0] as Problem;
  const more = sorted.length > 1 ? ` (and ${sorted.length - 1} more)` : '';
  throw new PortcullisError(
    'CONFIG_INVALID',
    `${printable(file, 200)}:${first.line}:${first.column}: ${first.message}${more}`,
  );
}
