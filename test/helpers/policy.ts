import type { Finding, FindingKind, Severity } from '../../src/findings/finding.js';
import { parsePolicy } from '../../src/policy/load.js';
import type { ImageFacts, Policy } from '../../src/policy/model.js';

/** Builders shared by the policy unit tests (not a test file itself). */

export const NOW = new Date('2026-06-01T00:00:00Z');
export const BASE_DIFF_ID = `sha256:${'b'.repeat(64)}`;
export const APP_DIFF_ID = `sha256:${'a'.repeat(64)}`;
export const IMAGE_DIGEST = `sha256:${'d'.repeat(64)}`;

/** A policy from the YAML under `rules:` (and optional exceptions), through the real loader. */
export function policy(rulesYaml: string, exceptionsYaml = '', keys: Record<string, string> = {}): Policy {
  const text = `apiVersion: portcullis.dev/v1alpha1\nkind: ImagePolicy\nname: unit\nrules:\n${rulesYaml}${exceptionsYaml ? `exceptions:\n${exceptionsYaml}` : ''}`;
  return parsePolicy(text, 'unit.yaml', {
    readKeyFile: (p) => {
      const name = p.split('/').at(-1) as string;
      const k = keys[name];
      if (!k) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      return k;
    },
  });
}

export interface VulnSpec {
  id: string;
  pkg: string;
  version?: string;
  purl?: string;
  source?: string;
  severity?: Severity;
  status?: 'fixed' | 'not-fixed' | 'will-not-fix' | 'end-of-life' | 'undetermined';
  published?: string;
  aliases?: string[];
  urgency?: string;
}

export function vuln(s: VulnSpec): Finding {
  const version = s.version ?? '1.0.0';
  const purl = s.purl ?? `pkg:npm/${s.pkg}@${version}`;
  const status = s.status ?? 'fixed';
  return {
    ruleId: s.id,
    kind: 'vulnerability',
    severity: s.severity ?? 'high',
    confidence: 'high',
    title: `${s.id} in ${s.pkg}`,
    message: `${s.id} in ${s.pkg} ${version}`,
    location: { kind: 'image', image: IMAGE_DIGEST, layer: 1, path: `srv/node_modules/${s.pkg}/package.json` },
    vulnerability: {
      package: { name: s.pkg, version, purl, type: purl.slice(4, purl.indexOf('/')) },
      matched: { ecosystem: 'npm', name: s.source ?? s.pkg, version },
      aliases: s.aliases ?? [],
      fixedVersions: status === 'fixed' ? ['9.9.9'] : [],
      status,
      ...(s.urgency ? { urgency: s.urgency } : {}),
      sources: ['unit'],
      ...(s.published ? { published: s.published } : {}),
    },
  };
}

export function check(
  kind: Extract<FindingKind, 'misconfiguration' | 'secret'>,
  ruleId: string,
  severity: Severity,
  path: string,
): Finding {
  return {
    ruleId,
    kind,
    severity,
    confidence: 'high',
    title: ruleId,
    message: `${ruleId} at /${path}`,
    location: { kind: 'image', image: IMAGE_DIGEST, path },
  };
}

export function image(over: Partial<ImageFacts> = {}): ImageFacts {
  return {
    kind: 'image',
    reference: 'docker://registry.example.com/team/app:1.0',
    name: 'registry.example.com/team/app',
    registry: { host: 'registry.example.com', repository: 'team/app' },
    digest: IMAGE_DIGEST,
    layers: [{ diffId: BASE_DIFF_ID, digest: `sha256:${'c'.repeat(64)}` }, { diffId: APP_DIFF_ID }],
    labels: { 'org.opencontainers.image.source': 'https://github.com/acme/app' },
    annotations: {},
    created: '2026-05-01T00:00:00Z',
    ...over,
  };
}
