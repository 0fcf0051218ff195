/**
 * The CI audit configuration (`.portcullis/ci.yaml` in the audited repository, or `ci audit --config FILE`), YAML or
 * JSON, schema `schemas/ci.schema.json`: where the pipelines sit in the image path.
 *
 *     apiVersion: portcullis.dev/v1alpha1
 *     kind: CiAuditConfig
 *     productionRegistries: [registry.example.com/team/**]
 *     stagingRegistries: [staging.registry.example.com/**]
 *     variables: { PROD_REPO: registry.example.com/team/app }    # values of vars.NAME
 *     assessment:
 *       commands: ['trivy image * --exit-code 1']
 *       actions: [{ uses: aquasecurity/trivy-action, with: { exit-code: '1' } }]
 *     ignore: [{ rule: gate-bypass, files: [.github/workflows/nightly.yml], reason: '...' }]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import CI_SCHEMA from '../../schemas/ci.schema.json' with { type: 'json' };
import { invalid, parseValidated, readConfigFile } from '../checks/config.js';
import { positionAt } from '../policy/yaml.js';
import { compilePathGlob, compileRegistryGlob } from '../util/pathglob.js';

export interface AssessmentAction {
  readonly uses: string;
  readonly with: Readonly<Record<string, string>>;
}

export interface CiIgnore {
  readonly rule: string;
  readonly files?: readonly RegExp[];
  readonly jobs?: readonly string[];
  readonly reason: string;
}

export interface CiAuditConfig {
  /** The file it was read from; undefined for the defaults (no file). */
  readonly file?: string;
  /** Compiled host/path globs; undefined when not configured (push-to-production cannot run). */
  readonly production?: readonly RegExp[];
  readonly staging?: readonly RegExp[];
  readonly variables: Readonly<Record<string, string>>;
  /** Extra assessment commands, each a list of words (`*` alone: any words). */
  readonly commands: readonly (readonly string[])[];
  readonly actions: readonly AssessmentAction[];
  readonly ignore: readonly CiIgnore[];
}

export const DEFAULT_CI_CONFIG: CiAuditConfig = { variables: {}, commands: [], actions: [], ignore: [] };

/** Where `ci audit` looks for the configuration when --config is not given, relative to the audited root. */
export const DEFAULT_CI_CONFIG_PATH = join('.portcullis', 'ci.yaml');

interface Raw {
  productionRegistries?: string[];
  stagingRegistries?: string[];
  variables?: Record<string, string>;
  assessment?: { commands?: string[]; actions?: { uses: string; with?: Record<string, string> }[] };
  ignore?: { rule: string; files?: string[]; jobs?: string[]; reason: string }[];
}

/** Glob stars in one command pattern: each `*` word can backtrack, so a pattern keeps few of them. */
const MAX_STARS = 8;

/** Parse and validate a CI audit config's text; CONFIG_INVALID naming the file, line, column and field otherwise. */
export function parseCiConfig(text: string, file: string, knownRules?: readonly string[]): CiAuditConfig {
  const parsed = parseValidated(text, file, CI_SCHEMA);
  const doc = parsed.value as Raw;
  const commands = (doc.assessment?.commands ?? []).map((c, i) => {
    const words = c.trim().split(/\s+/);
    if (words.filter((w) => w.includes('*')).length > MAX_STARS)
      invalid(file, [
        {
          ...positionAt(parsed, ['assessment', 'commands', i]),
          message: `assessment.commands[${i}]: more than ${MAX_STARS} '*'`,
        },
      ]);
    if (words.every((w) => w === '*'))
      invalid(file, [
        {
          ...positionAt(parsed, ['assessment', 'commands', i]),
          message: `assessment.commands[${i}]: names no command (only '*')`,
        },
      ]);
    return words;
  });
  const ignore = (doc.ignore ?? []).map((e, i): CiIgnore => {
    if (knownRules && !knownRules.includes(e.rule))
      invalid(file, [
        { ...positionAt(parsed, ['ignore', i, 'rule']), message: `ignore[${i}].rule: no CI rule '${e.rule}'` },
      ]);
    return {
      rule: e.rule,
      ...(e.files ? { files: e.files.map(compilePathGlob) } : {}),
      ...(e.jobs ? { jobs: e.jobs } : {}),
      reason: e.reason,
    };
  });
  return {
    file,
    ...(doc.productionRegistries ? { production: doc.productionRegistries.map(compileRegistryGlob) } : {}),
    ...(doc.stagingRegistries ? { staging: doc.stagingRegistries.map(compileRegistryGlob) } : {}),
    variables: doc.variables ?? {},
    commands,
    actions: (doc.assessment?.actions ?? []).map((a) => ({ uses: a.uses.toLowerCase(), with: a.with ?? {} })),
    ignore,
  };
}

/**
 * The configuration for auditing `root`: `--config FILE` when given (it must exist), else `.portcullis/ci.yaml`
 * under the root when it exists, else the defaults.
 */
export function loadCiConfig(
  root: string,
  explicit: string | undefined,
  knownRules?: readonly string[],
): CiAuditConfig {
  const path = explicit ?? join(root, DEFAULT_CI_CONFIG_PATH);
  if (explicit === undefined && !existsSync(path)) return DEFAULT_CI_CONFIG;
  return parseCiConfig(readConfigFile(path, '--config'), path, knownRules);
}
