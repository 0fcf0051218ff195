import { dirname, isAbsolute, join } from 'node:path';
import WATCH_SCHEMA from '../../schemas/watch.schema.json' with { type: 'json' };
import { invalid, parseValidated, readConfigFile } from '../checks/config.js';
import { positionAt } from '../policy/yaml.js';
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
 *         quarantine: dry-run             # off | dry-run (default) | delete
 *         policy: policy.yaml             # the gate's policy: re-match stored SBOMs when the advisories change
 *     state: watch.db                     # relative to this file
 *     listen: 127.0.0.1:9479
 *     notificationSecretEnv: WATCH_SECRET # the variable's name, never the secret
 *     reconcileInterval: 5m
 *     alerts: [{ name: ops, kind: webhook, url: https://hooks.example.com/x, headersEnv: OPS_HEADERS }]
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
  readonly quarantine: QuarantineMode;
  /** The gate's policy file (resolved), when approved images are re-matched on advisory updates. */
  readonly policy?: string;
  /** `file:line` of the entry, for messages. */
  readonly source: string;
}

export type QuarantineMode = 'off' | 'dry-run' | 'delete';

/** An alert sink as configured: its headers are named by an environment variable, read when the watcher starts. */
export interface AlertSinkConfig {
  readonly name: string;
  readonly kind: 'webhook' | 'slack';
  readonly url: string;
  readonly headersEnv?: string;
}

export interface WatchConfig {
  readonly file: string;
  readonly registries: readonly WatchedRegistry[];
  /** The state file, resolved against the config file's directory. */
  readonly state?: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly notificationSecretEnv?: string;
  readonly reconcileIntervalMs: number;
  readonly alerts: readonly AlertSinkConfig[];
}

export const DEFAULT_LISTEN = '127.0.0.1:9479';
export const DEFAULT_RECONCILE_INTERVAL = '5m';

interface RawRegistry {
  host: string;
  repositories: string[];
  trustPolicy: string;
  maxAssessmentAge: string;
  quarantine?: QuarantineMode;
  policy?: string;
}

interface RawConfig {
  registries: RawRegistry[];
  state?: string;
  listen?: string;
  notificationSecretEnv?: string;
  reconcileInterval?: string;
  alerts?: AlertSinkConfig[];
}

const HOURS = { h: 1, d: 24, w: 168 } as const;

/** `7d`, `36h`, `2w` (the schema's pattern) in milliseconds. */
export function assessmentAgeMs(age: string): number {
  return Number(age.slice(0, -1)) * HOURS[age.slice(-1) as keyof typeof HOURS] * 3_600_000;
}

const SECONDS = { s: 1, m: 60, h: 3600 } as const;

/** `30s`, `5m`, `1h` (the schema's pattern) in milliseconds. */
export function intervalMs(text: string): number {
  return Number(text.slice(0, -1)) * SECONDS[text.slice(-1) as keyof typeof SECONDS] * 1000;
}

/** `host:port` or `[v6]:port` (the schema's pattern) split; the brackets dropped. */
export function splitListen(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  const host = text.slice(0, i);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(text.slice(i + 1)) };
}

/** Parse and validate a watch config's text; CONFIG_INVALID naming the file, line, column and field otherwise. */
export function parseWatchConfig(text: string, file: string): WatchConfig {
  const parsed = parseValidated(text, file, WATCH_SCHEMA);
  const doc = parsed.value as RawConfig;
  const raw = doc.registries;
  const base = dirname(file);
  const resolve = (p: string) => (isAbsolute(p) ? p : join(base, p));
  const listen = splitListen(doc.listen ?? DEFAULT_LISTEN);
  if (listen.port > 65535) {
    invalid(file, [{ ...positionAt(parsed, ['listen']), message: `listen: port ${listen.port} is over 65535` }]);
  }
  const alerts = doc.alerts ?? [];
  alerts.forEach((a, i) => {
    const earlier = alerts.findIndex((b) => b.name === a.name);
    const at = (key: string) => positionAt(parsed, ['alerts', i, key]);
    if (earlier < i)
      invalid(file, [{ ...at('name'), message: `alerts[${i}].name: '${a.name}' is already alerts[${earlier}]` }]);
    if (!URL.canParse(a.url)) invalid(file, [{ ...at('url'), message: `alerts[${i}].url: not a URL` }]);
    const u = new URL(a.url);
    // Credentials in the URL would end up in logs and error messages.
    if (u.username !== '' || u.password !== '') {
      invalid(file, [
        { ...at('url'), message: `alerts[${i}].url: has user:password@ in it; put credentials in headersEnv` },
      ]);
    }
  });
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
      trustPolicy: resolve(r.trustPolicy),
      maxAssessmentAge: r.maxAssessmentAge,
      maxAssessmentAgeMs: assessmentAgeMs(r.maxAssessmentAge),
      quarantine: r.quarantine ?? 'dry-run',
      ...(r.policy !== undefined ? { policy: resolve(r.policy) } : {}),
      source: `${file}:${at.line}`,
    };
  });
  return {
    file,
    registries,
    ...(doc.state !== undefined ? { state: resolve(doc.state) } : {}),
    listen,
    ...(doc.notificationSecretEnv !== undefined ? { notificationSecretEnv: doc.notificationSecretEnv } : {}),
    reconcileIntervalMs: intervalMs(doc.reconcileInterval ?? DEFAULT_RECONCILE_INTERVAL),
    alerts,
  };
}

/** Read (at most 1 MiB) and parse a watch config file. */
export function loadWatchConfig(path: string): WatchConfig {
  return parseWatchConfig(readConfigFile(path, '--config'), path);
}
