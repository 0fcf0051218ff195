import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allRules } from '../../src/checks/registry.js';
import { DRIFT_RULES } from '../../src/ci/drift.js';
import { CI_RULES } from '../../src/ci/rules/index.js';
import { K8S_RULES } from '../../src/k8s/rules/index.js';
import { rulesTable } from '../../src/report/checks-table.js';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';

// `portcullis rules`: every registered rule (image, CI, Kubernetes), filtered by --kind; the image rules' output is
// what it was before the other families joined.

interface Listed {
  id: string;
  kind: string;
  group?: string;
  platforms?: string[];
  severity: string;
}

async function json(...args: string[]): Promise<Listed[]> {
  const r = await runCli(['rules', '-f', 'json', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Listed[];
}

describe('portcullis rules', () => {
  it('lists image, CI (audit and drift) and Kubernetes rules from their registries, each id once per kind', async () => {
    const all = await json();
    expect(all.map((r) => `${r.kind}:${r.id}`)).toEqual([
      ...allRules().map((r) => `${r.kind}:${r.id}`),
      ...CI_RULES.map((r) => `ci:${r.id}`),
      ...DRIFT_RULES.map((r) => `ci-drift:${r.id}`),
      ...K8S_RULES.map((r) => `kubernetes:${r.id}`),
    ]);
    expect(new Set(all.map((r) => `${r.kind}:${r.id}`)).size).toBe(all.length);
    // The image rules' objects are what they always were.
    expect(all.slice(0, allRules().length)).toEqual(JSON.parse(JSON.stringify(allRules())));
    // CI rules say where they run; Kubernetes checks carry their group.
    expect(all.find((r) => r.kind === 'ci' && r.id === 'gate-bypass')?.platforms).toEqual([
      'github',
      'gitlab',
      'jenkins',
    ]);
    expect(all.find((r) => r.kind === 'ci' && r.id === 'template-injection')?.platforms).toEqual(['github']);
    for (const k of K8S_RULES) expect(all.find((r) => r.kind === 'kubernetes' && r.id === k.id)?.group).toBe(k.group);
  });

  it('--kind filters (repeated or comma-separated); image is misconfiguration and secret', async () => {
    expect((await json('--kind', 'image')).map((r) => r.id)).toEqual(allRules().map((r) => r.id));
    expect(new Set((await json('--kind', 'secret')).map((r) => r.kind))).toEqual(new Set(['secret']));
    const ciK8s = await json('--kind', 'ci,kubernetes');
    expect(ciK8s.length).toBe(CI_RULES.length + DRIFT_RULES.length + K8S_RULES.length);
    expect(await json('--kind', 'ci', '--kind', 'kubernetes')).toEqual(ciK8s);
  });

  it('the table: the image rules exactly as before, then the CI table, then the Kubernetes table with its groups', async () => {
    const image = await runCli(['rules', '--kind', 'image']);
    expect(image.stdout).toBe(rulesTable(allRules()));
    const all = (await runCli(['rules'])).stdout;
    expect(all.startsWith(`${rulesTable(allRules())}\n`)).toBe(true);
    expect(all).toMatch(/^ID +KIND +SEVERITY +CONFIDENCE +PLATFORMS +TITLE$/m);
    expect(all).toMatch(/^gate-bypass +ci +critical +high +github,gitlab,jenkins +/m);
    expect(all).toMatch(/^artifact-poisoning +ci +high +high +github,gitlab +/m);
    if (K8S_RULES.length) {
      expect(all).toMatch(/^ID +GROUP +SEVERITY +CONFIDENCE +MAPPING +TITLE$/m);
      const k = K8S_RULES[0] as (typeof K8S_RULES)[number];
      expect(all).toMatch(
        new RegExp(`^${k.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +${k.group} +${k.severity} +`, 'm'),
      );
    }
  });

  it('refuses an unknown kind with a usage error, exit 2', async () => {
    const r = await runCli(['rules', '--kind', 'docker']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    // The project's usage error: one line saying what, then the hint.
    expect(r.stderr.split('\n')[0]).toBe(
      "portcullis: USAGE: --kind: 'docker' is not one of image, misconfiguration, secret, ci, kubernetes",
    );
  });

  it('docs/commands/rules.md documents --kind and every kind', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'commands', 'rules.md'), 'utf8');
    for (const k of ['--kind', '`image`', '`misconfiguration`', '`secret`', '`ci`', '`ci-drift`', '`kubernetes`'])
      expect(doc).toContain(k);
  });
});
