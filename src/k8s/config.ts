/**
 * The Kubernetes configuration (`k8s audit --config FILE`, also read by `k8s placement fix` and `k8s webhook`),
 * YAML or JSON, schema `schemas/k8s.schema.json`.
 *
 *     apiVersion: portcullis.dev/v1alpha1
 *     kind: K8sConfig
 *     pssLevel: restricted
 *     productionRegistries: [registry.example.com/prod/**]
 *     sensitivity: { levels: [public, internal, confidential, restricted] }
 *     ignore: [{ rule: hostPathVolumes, namespaces: [monitoring], reason: node exporter reads /proc }]
 */
import K8S_SCHEMA from '../../schemas/k8s.schema.json' with { type: 'json' };
import { invalid, parseValidated, readConfigFile } from '../checks/config.js';
import { positionAt } from '../policy/yaml.js';
import { compileRegistryGlob } from '../util/pathglob.js';

export type PssLevel = 'baseline' | 'restricted';

export interface SensitivityConfig {
  /** Lowest first. */
  readonly levels: readonly string[];
  readonly labelKey: string;
  readonly nodeLabelKey: string;
  readonly taintKey: string;
  /** The level of each namespace, as the cluster's owners set it (sensitivity.namespaces). */
  readonly namespaces: Readonly<Record<string, string>>;
}

export interface K8sIgnore {
  readonly rule: string;
  readonly namespaces?: readonly string[];
  readonly names?: readonly RegExp[];
  readonly reason: string;
}

export interface K8sConfig {
  readonly file?: string;
  /** The level when neither the flag nor the namespace's enforce label says. */
  readonly pssLevel: PssLevel;
  /** Compiled host/path globs; undefined when not configured. */
  readonly production?: readonly RegExp[];
  readonly requireDigest: boolean;
  readonly sensitivity?: SensitivityConfig;
  readonly ignore: readonly K8sIgnore[];
  /** Per-namespace PSS level for the webhook; namespaces not listed get pssLevel. */
  readonly pssLevels?: Readonly<Record<string, PssLevel>>;
  readonly webhook?: WebhookSettings;
}

/** `webhook:` of the config, durations in ms (absent: the webhook's defaults). */
export interface WebhookSettings {
  readonly maxAssessmentAgeMs?: number;
  readonly cacheTtlMs?: number;
  readonly denyCacheTtlMs?: number;
  readonly cacheSize?: number;
  /** /mutate pins pods with a known level label to their level's nodes (placement/fix.ts planFix). */
  readonly pinSensitivity?: boolean;
}

export const DEFAULT_SENSITIVITY_LABEL = 'portcullis.dev/sensitivity';
export const DEFAULT_NODE_LABEL = 'node-restriction.kubernetes.io/sensitivity';

export const DEFAULT_K8S_CONFIG: K8sConfig = { pssLevel: 'baseline', requireDigest: true, ignore: [] };

interface Raw {
  pssLevel?: PssLevel;
  productionRegistries?: string[];
  requireDigest?: boolean;
  sensitivity?: {
    levels: string[];
    labelKey?: string;
    nodeLabelKey?: string;
    taintKey?: string;
    namespaces?: Record<string, string>;
  };
  ignore?: { rule: string; namespaces?: string[]; names?: string[]; reason: string }[];
  pssLevels?: Record<string, PssLevel>;
  webhook?: {
    maxAssessmentAge?: string;
    cacheTtl?: string;
    denyCacheTtl?: string;
    cacheSize?: number;
    pinSensitivity?: boolean;
  };
}

/** How a config will be used: `admission` (the webhook) refuses what a requester could exploit. */
export interface K8sConfigUse {
  readonly knownRules?: readonly string[];
  readonly admission?: boolean;
}

/** Parse and validate the configuration's text; CONFIG_INVALID naming the file, line, column and field otherwise. */
export function parseK8sConfig(text: string, file: string, use: K8sConfigUse = {}): K8sConfig {
  const parsed = parseValidated(text, file, K8S_SCHEMA);
  const doc = parsed.value as Raw;
  const ignore = (doc.ignore ?? []).map((e, i): K8sIgnore => {
    if (use.knownRules && !use.knownRules.includes(e.rule))
      invalid(file, [
        { ...positionAt(parsed, ['ignore', i, 'rule']), message: `ignore[${i}].rule: no Kubernetes check '${e.rule}'` },
      ]);
    // At admission the object's name is the requester's choice (so is a controller's, which its pods' names
    // follow); only its namespace, which the API server sets, says who could have made it.
    if (use.admission && e.names && !e.namespaces)
      invalid(file, [
        {
          ...positionAt(parsed, ['ignore', i, 'names']),
          message: `ignore[${i}].names: without namespaces, anyone who may create a pod anywhere could pick a matching name and be admitted; add the namespaces whose creators you trust`,
        },
      ]);
    return {
      rule: e.rule,
      ...(e.namespaces ? { namespaces: e.namespaces } : {}),
      ...(e.names ? { names: e.names.map(nameGlob) } : {}),
      reason: e.reason,
    };
  });
  const s = doc.sensitivity;
  if (doc.webhook?.pinSensitivity && !s)
    invalid(file, [
      {
        ...positionAt(parsed, ['webhook', 'pinSensitivity']),
        message: 'webhook.pinSensitivity: needs sensitivity.levels (the levels to pin to)',
      },
    ]);
  for (const [ns, level] of Object.entries(s?.namespaces ?? {})) {
    if (!s?.levels.includes(level))
      invalid(file, [
        {
          ...positionAt(parsed, ['sensitivity', 'namespaces', ns]),
          message: `sensitivity.namespaces.${ns}: '${level}' is not one of the levels (${s?.levels.join(', ')})`,
        },
      ]);
  }
  const nodeLabelKey = s?.nodeLabelKey ?? DEFAULT_NODE_LABEL;
  return {
    file,
    pssLevel: doc.pssLevel ?? 'baseline',
    ...(doc.productionRegistries ? { production: doc.productionRegistries.map(compileRegistryGlob) } : {}),
    requireDigest: doc.requireDigest ?? true,
    ...(s
      ? {
          sensitivity: {
            levels: s.levels,
            labelKey: s.labelKey ?? DEFAULT_SENSITIVITY_LABEL,
            nodeLabelKey,
            taintKey: s.taintKey ?? nodeLabelKey,
            namespaces: { ...(s.namespaces ?? {}) },
          },
        }
      : {}),
    ignore,
    ...(doc.pssLevels ? { pssLevels: doc.pssLevels } : {}),
    ...(doc.webhook ? { webhook: webhookSettings(doc.webhook) } : {}),
  };
}

function webhookSettings(w: NonNullable<Raw['webhook']>): WebhookSettings {
  // The schema has checked the shape: digits and one unit.
  const ms = (d: string) =>
    Number(d.slice(0, -1)) * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[d.slice(-1) as 's'];
  return {
    ...(w.maxAssessmentAge ? { maxAssessmentAgeMs: ms(w.maxAssessmentAge) } : {}),
    ...(w.cacheTtl ? { cacheTtlMs: ms(w.cacheTtl) } : {}),
    ...(w.denyCacheTtl ? { denyCacheTtlMs: ms(w.denyCacheTtl) } : {}),
    ...(w.cacheSize ? { cacheSize: w.cacheSize } : {}),
    ...(w.pinSensitivity ? { pinSensitivity: true } : {}),
  };
}

export function loadK8sConfig(path: string | undefined, use: K8sConfigUse = {}): K8sConfig {
  if (path === undefined) return DEFAULT_K8S_CONFIG;
  return parseK8sConfig(readConfigFile(path, '--config'), path, use);
}

function nameGlob(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}
