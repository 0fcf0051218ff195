import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TOOL } from '../../src/version.js';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { multitoolValidate, validateSarif } from '../helpers/validate.js';

/* `portcullis k8s audit` as a user runs it: formats, filters, exit codes, and failing closed on unreadable input. */

const PODS = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {pod-security.kubernetes.io/enforce: baseline}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: nginx:1.27
          securityContext: {privileged: true}
---
apiVersion: v1
kind: Pod
metadata: {name: quiet, namespace: shop}
spec:
  containers:
    - name: app
      image: nginx:1.27
`;

interface Report {
  objects: number;
  files: string[];
  findings: {
    ruleId: string;
    severity: string;
    location: { path: string; line: number };
    resource?: { name: string };
  }[];
  hidden: number;
  errors: unknown[];
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'k8s-cli-'));
  writeFileSync(join(dir, 'app.yaml'), PODS);
});

describe('k8s audit', () => {
  it('reports the findings with the line to fix, and exits 1', async () => {
    const r = await runCli(['k8s', 'audit', join(dir, 'app.yaml'), '-f', 'json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as Report;
    expect(doc.objects).toBe(3);
    const privileged = doc.findings.find((f) => f.ruleId === 'privileged');
    expect(privileged).toMatchObject({ severity: 'critical', location: { line: 18 }, resource: { name: 'web' } });
    expect(doc.errors).toEqual([]);
  });

  it('holds pods to the level asked for: restricted finds more than the namespace label', async () => {
    const base = JSON.parse((await runCli(['k8s', 'audit', join(dir, 'app.yaml'), '-f', 'json'])).stdout) as Report;
    const strict = JSON.parse(
      (await runCli(['k8s', 'audit', join(dir, 'app.yaml'), '-f', 'json', '--pss-level', 'restricted'])).stdout,
    ) as Report;
    const ids = (d: Report) => new Set(d.findings.map((f) => f.ruleId));
    expect(ids(base).has('runAsNonRoot')).toBe(false);
    expect(ids(strict).has('runAsNonRoot')).toBe(true);
    expect(strict.findings.some((f) => f.ruleId === 'runAsNonRoot' && f.resource?.name === 'quiet')).toBe(true);
  });

  it('filters by severity and exits with --exit-code, or 0 when nothing is left', async () => {
    const r = await runCli([
      'k8s',
      'audit',
      join(dir, 'app.yaml'),
      '-f',
      'json',
      '--severity',
      'critical',
      '--exit-code',
      '4',
    ]);
    expect(r.code).toBe(4);
    const doc = JSON.parse(r.stdout) as Report;
    expect(doc.findings.length).toBeGreaterThan(0);
    expect(doc.findings.every((f) => f.severity === 'critical')).toBe(true);
    expect(doc.hidden).toBeGreaterThan(0);
    const none = await runCli(['k8s', 'audit', join(dir, 'app.yaml'), '--severity', 'info']);
    expect(none.code).toBe(0);
  });

  it('writes SARIF 2.1.0 that the schema and the SARIF multitool accept', async () => {
    const r = await runCli([
      'k8s',
      'audit',
      join(ROOT, 'test', 'fixtures', 'k8s', 'corpus'),
      '-f',
      'sarif',
      '--exit-code',
      '0',
    ]);
    expect(r.code).toBe(0);
    const log = JSON.parse(r.stdout) as { runs: { results: unknown[]; tool: { driver: { rules: unknown[] } } }[] };
    expect(validateSarif(log)).toEqual([]);
    expect(log.runs[0]?.results.length).toBeGreaterThan(10);
    expect(log.runs[0]?.tool.driver.rules.length).toBeGreaterThan(5);
    const problems = multitoolValidate(log).map((p) => `${p.rule}: ${p.message}`);
    const allowed = TOOL.homepage ? [] : [expect.stringMatching(/^SARIF2005: .*'informationUri'/)];
    expect(problems).toEqual(allowed);
    // What the JSON lists as errors and notes (not checked, not judged) is in the SARIF too, one notification each.
    const json = JSON.parse(
      (
        await runCli([
          'k8s',
          'audit',
          join(ROOT, 'test', 'fixtures', 'k8s', 'corpus'),
          '-f',
          'json',
          '--exit-code',
          '0',
        ])
      ).stdout,
    ) as { errors: unknown[]; notes: { ruleId: string; message: string }[] };
    expect(json.notes.length).toBeGreaterThan(0);
    const run = JSON.parse(r.stdout).runs[0] as {
      invocations: { toolExecutionNotifications: { level: string; message: { text: string } }[] }[];
    };
    const notes = run.invocations[0]?.toolExecutionNotifications ?? [];
    expect(new Set(notes.map((n) => n.level))).toEqual(new Set(['error']));
    const texts = notes.map((n) => n.message.text);
    expect(texts).toHaveLength(json.errors.length + json.notes.length);
    for (const n of json.notes)
      expect(texts.some((t) => t.startsWith(`${n.ruleId}: `) && t.endsWith(n.message))).toBe(true);
  });

  it('prints a table for people', async () => {
    const r = await runCli(['k8s', 'audit', join(dir, 'app.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Objects read: 3 from 1 file\nKubernetes findings: \d+ \(critical: 1/);
    expect(r.stdout).toMatch(/CRITICAL +privileged +Deployment shop\/web +\S+app\.yaml:18/);
  });

  it('fails closed: a file it cannot read makes the run exit 2 even with no findings elsewhere', async () => {
    const bad = join(dir, 'bad');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'ok.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n');
    writeFileSync(join(bad, 'broken.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n');
    const r = await runCli(['k8s', 'audit', bad, '-f', 'json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^portcullis: K8S_INVALID: \S+broken\.yaml:5:3: document 1: duplicate key/);
    const doc = JSON.parse(r.stdout) as Report;
    expect(doc.objects).toBe(1);
    expect(doc.errors).toHaveLength(1);
  });

  it('names a missing path, and refuses a bad configuration with its line', async () => {
    const missing = await runCli(['k8s', 'audit', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/K8S_INVALID: \S+nope\.yaml:1:1: no such file or directory/);
    writeFileSync(join(dir, 'k8s.yaml'), 'apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\npssLevel: strict\n');
    const cfg = await runCli(['k8s', 'audit', join(dir, 'app.yaml'), '--config', join(dir, 'k8s.yaml')]);
    expect(cfg.code).toBe(2);
    expect(cfg.stderr).toMatch(/CONFIG_INVALID: \S+k8s\.yaml:3:\d+: pssLevel/);
  });
});
