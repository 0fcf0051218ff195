import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runK8sRules } from '../../src/k8s/audit.js';
import { parseK8sConfig } from '../../src/k8s/config.js';
import { loadPaths } from '../../src/k8s/load.js';
import type { K8sRule } from '../../src/k8s/rule.js';
import { IMAGE_RULES } from '../../src/k8s/rules/images.js';
import { K8S_RULES } from '../../src/k8s/rules/index.js';
import { NAMESPACE_RULES } from '../../src/k8s/rules/namespaces.js';
import { NETWORK_RULES } from '../../src/k8s/rules/network.js';
import { RBAC_RULES } from '../../src/k8s/rules/rbac.js';
import { ROOT } from '../helpers/paths.js';

// The corpus (test/fixtures/k8s/corpus/<case>/): manifests/ holds the input (each file starts with a comment saying
// what it shows; the kubectl dump is JSON and says it in expected.json), k8s-config.yaml the configuration (the
// corpus-wide one otherwise), expected.json every finding and note of the namespace, network, RBAC and image checks,
// checked by hand against the manifests. Other groups (Pod Security, CIS, placement) are tested on their own.

const CORPUS = join(ROOT, 'test', 'fixtures', 'k8s', 'corpus');
const MY_RULES: readonly K8sRule[] = [...NAMESPACE_RULES, ...NETWORK_RULES, ...RBAC_RULES, ...IMAGE_RULES];

interface Expected {
  description?: string;
  findings: {
    rule: string;
    object: string;
    file: string;
    line: number;
    severity: string;
    confidence: string;
    message: string;
  }[];
  notes: string[];
}

const cases = readdirSync(CORPUS, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

async function auditCase(name: string) {
  const dir = join(CORPUS, name);
  const own = join(dir, 'k8s-config.yaml');
  const configFile = existsSync(own) ? own : join(CORPUS, 'k8s-config.yaml');
  const config = parseK8sConfig(readFileSync(configFile, 'utf8'), configFile);
  const loaded = await loadPaths(['manifests'], { cwd: dir });
  const r = runK8sRules(loaded.objects, { config, rules: MY_RULES });
  return { loaded, ...r };
}

describe('k8s namespace, network, RBAC and image checks: corpus', () => {
  it.each(cases)('%s', async (name) => {
    const expected = JSON.parse(readFileSync(join(CORPUS, name, 'expected.json'), 'utf8')) as Expected;
    const r = await auditCase(name);
    expect(r.loaded.errors).toEqual([]);
    expect(r.loaded.objects.length).toBeGreaterThan(0);
    const got = r.findings.map((f) => ({
      rule: f.ruleId,
      object: f.resource
        ? `${f.resource.kind} ${f.resource.namespace !== undefined ? `${f.resource.namespace}/` : ''}${f.resource.name}`
        : '',
      file: f.location.kind === 'file' ? f.location.path : '',
      line: f.location.kind === 'file' ? (f.location.line ?? 0) : 0,
      severity: f.severity,
      confidence: f.confidence,
      message: f.message,
    }));
    expect(got).toEqual(expected.findings);
    expect(r.notes.map((n) => `${n.ruleId}: ${n.where ? `${n.where}: ` : ''}${n.message}`)).toEqual(expected.notes);
    for (const f of r.findings) {
      expect(f.kind).toBe('kubernetes');
      expect(f.message).not.toMatch(/\n/);
    }
  });

  it('every manifest starts with a comment saying what it shows; every check has a positive and a clean negative', async () => {
    for (const name of cases) {
      const dir = join(CORPUS, name, 'manifests');
      for (const f of readdirSync(dir))
        if (f.endsWith('.yaml')) expect(readFileSync(join(dir, f), 'utf8'), `${name}/${f}`).toMatch(/^# \S/);
        else
          expect(
            (JSON.parse(readFileSync(join(CORPUS, name, 'expected.json'), 'utf8')) as Expected).description,
          ).toBeTruthy();
    }
    const all = cases.map((name) => ({
      name,
      rules: (JSON.parse(readFileSync(join(CORPUS, name, 'expected.json'), 'utf8')) as Expected).findings.map(
        (f) => f.rule,
      ),
    }));
    for (const rule of MY_RULES)
      expect(
        all.some((c) => c.rules.includes(rule.id)),
        `${rule.id}: a positive case`,
      ).toBe(true);
    expect(all.find((c) => c.name === 'neg-well-configured')?.rules).toEqual([]);
  });

  it('docs/rules.md documents every check with its severity, in registry order', () => {
    const docs = readFileSync(join(ROOT, 'docs', 'rules.md'), 'utf8');
    const start = docs.indexOf('## Kubernetes: namespaces, network, RBAC and images');
    expect(start).toBeGreaterThan(0);
    const section = docs.slice(start, docs.indexOf('\n## ', start + 1));
    const rows = [...section.matchAll(/^\| `([a-z-]+)` \| (\w+) \|/gm)].map((m) => [m[1], m[2]]);
    expect(rows).toEqual(MY_RULES.map((r) => [r.id, r.severity]));
  });

  it('registers the checks in the shared registry, in the group order, with complete metadata', () => {
    for (const rule of MY_RULES) {
      expect(K8S_RULES).toContain(rule);
      expect(rule.id).toMatch(/^[a-z]+(-[a-z]+)+$/);
      expect(rule.rationale.length).toBeGreaterThan(40);
      expect(rule.remediation.length).toBeGreaterThan(40);
      expect(rule.title.length).toBeGreaterThan(10);
    }
    expect(new Set(MY_RULES.map((r) => r.id)).size).toBe(MY_RULES.length);
    expect(MY_RULES.map((r) => r.group)).toEqual([
      ...NAMESPACE_RULES.map(() => 'namespaces'),
      ...NETWORK_RULES.map(() => 'network'),
      ...RBAC_RULES.map(() => 'rbac'),
      ...IMAGE_RULES.map(() => 'images'),
    ]);
  });
});
