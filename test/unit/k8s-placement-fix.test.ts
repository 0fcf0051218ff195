import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runK8sRules } from '../../src/k8s/audit.js';
import { type K8sConfig, loadK8sConfig } from '../../src/k8s/config.js';
import { parseManifests } from '../../src/k8s/load.js';
import { type JsonPatchOp, planFixes } from '../../src/k8s/placement/fix.js';
import { shellQuote } from '../../src/k8s/placement/render.js';
import { notPinned, tolerationMismatch } from '../../src/k8s/placement/workloads.js';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';

// `k8s placement fix`: golden outputs (reviewed line by line) for the corpus in three formats, exit codes that fail
// closed, shell quoting proven by a real shell, and the property that matters: applying the JSON patches to any
// generated workload and auditing again leaves no pinning or toleration finding (and the YAML strategic-merge patch
// gives the same object).

const DIR = join(ROOT, 'test', 'fixtures', 'k8s', 'placement');
const rel = (p: string) => relative(ROOT, p);
const CFG = rel(join(DIR, 'config.yaml'));
const CONFIG = loadK8sConfig(join(DIR, 'config.yaml'));
const S = CONFIG.sensitivity as NonNullable<K8sConfig['sensitivity']>;
const KEY = S.nodeLabelKey;
const golden = (name: string) => readFileSync(join(DIR, 'golden', name), 'utf8');

/** RFC 6902 add / replace / remove, strict about paths, for the tests only. */
function applyJsonPatch(doc: unknown, ops: readonly JsonPatchOp[]): unknown {
  const root = structuredClone(doc);
  for (const op of ops) {
    const tokens = op.path
      .split('/')
      .slice(1)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop() as string;
    let parent = root as Record<string, unknown> | unknown[];
    for (const t of tokens) {
      const next = (parent as Record<string, unknown>)[t];
      if (next === null || typeof next !== 'object') throw new Error(`${op.path}: no such parent`);
      parent = next as Record<string, unknown>;
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value));
      else if (op.op === 'replace') parent[i] = structuredClone(op.value);
      else parent.splice(i, 1);
      continue;
    }
    if (op.op !== 'add' && !Object.hasOwn(parent, last)) throw new Error(`${op.op} ${op.path}: no such member`);
    if (op.op === 'remove') delete parent[last];
    else parent[last] = structuredClone(op.value);
  }
  return root;
}

/** Strategic merge as it applies to these patches: maps merge, null deletes, lists (all atomic here) replace. */
function applyMergePatch(doc: unknown, patch: unknown): unknown {
  const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isMap(doc) || !isMap(patch)) return structuredClone(patch);
  const out = structuredClone(doc);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = isMap(v) && isMap(out[k]) ? applyMergePatch(out[k], v) : structuredClone(v);
  }
  return out;
}

describe('portcullis k8s placement fix: output', () => {
  const workloads = rel(join(DIR, 'manifests', 'workloads.yaml'));
  const dump = rel(join(DIR, 'dump', 'cluster.json'));

  it.each([
    ['yaml', workloads, 'workloads.patch.yaml'],
    ['json', workloads, 'workloads.patch.json'],
    ['kubectl', workloads, 'workloads.kubectl.sh'],
    ['kubectl', dump, 'cluster.kubectl.sh'],
  ])('--format %s on %s matches golden/%s, exit 0, skipped workloads on stderr', async (format, input, file) => {
    const r = await runCli(['k8s', 'placement', 'fix', '--config', CFG, '--format', format, input]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(golden(file));
    expect(r.stderr).toMatch(/portcullis: \d+ patch(es)?; \d+ workloads? without a known level skipped\n$/);
  });

  it('says which workloads it could not fix and why', async () => {
    const r = await runCli(['k8s', 'placement', 'fix', '--config', CFG, workloads]);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('portcullis: skipped'))).toEqual([
      `portcullis: skipped Deployment other/no-level (${workloads}:15): no portcullis.dev/sensitivity label on its pods or its namespace`,
      `portcullis: skipped Deployment elsewhere/no-ns-object (${workloads}:35): no portcullis.dev/sensitivity label on its pods or its namespace`,
      `portcullis: skipped Deployment apps/typo (${workloads}:54): portcullis.dev/sensitivity=confidental is not one of the levels`,
    ]);
  });

  it('writes nothing for well-placed workloads but a comment (yaml) or [] (json)', async () => {
    const good = rel(join(DIR, 'manifests', 'good.yaml'));
    const y = await runCli(['k8s', 'placement', 'fix', '--config', CFG, good]);
    expect([y.code, y.stdout]).toEqual([0, '# no patches: every workload with a known level is placed correctly\n']);
    const j = await runCli(['k8s', 'placement', 'fix', '--config', CFG, '-f', 'json', good]);
    expect([j.code, JSON.parse(j.stdout)]).toEqual([0, []]);
  });

  it('fails closed: unreadable input, a missing path, no manifests, no config, no levels: exit 2 and no patches', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'placement-fix-'));
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(bad, `${readFileSync(join(DIR, 'manifests', 'workloads.yaml'), 'utf8')}\n---\nkind: [unclosed\n`);
    const r1 = await runCli(['k8s', 'placement', 'fix', '--config', CFG, bad]);
    expect([r1.code, r1.stdout]).toEqual([2, '']);
    expect(r1.stderr).toMatch(/^portcullis: K8S_INVALID: .*bad\.yaml:\d+:\d+: document \d+: /);
    const r2 = await runCli(['k8s', 'placement', 'fix', '--config', CFG, join(tmp, 'nope.yaml')]);
    expect([r2.code, r2.stdout]).toEqual([2, '']);
    expect(r2.stderr).toContain('no such file or directory');
    const empty = mkdtempSync(join(tmpdir(), 'placement-empty-'));
    const r3 = await runCli(['k8s', 'placement', 'fix', '--config', CFG, empty]);
    expect([r3.code, r3.stdout]).toEqual([2, '']);
    expect(r3.stderr).toMatch(/NOT_FOUND: no manifests/);
    const r4 = await runCli(['k8s', 'placement', 'fix', workloads]);
    expect([r4.code, r4.stdout]).toEqual([2, '']);
    expect(r4.stderr).toMatch(/USAGE: k8s placement fix needs --config FILE/);
    const noLevels = join(tmp, 'k8s.yaml');
    writeFileSync(noLevels, 'apiVersion: portcullis.dev/v1alpha1\nkind: K8sConfig\n');
    const r5 = await runCli(['k8s', 'placement', 'fix', '--config', noLevels, workloads]);
    expect([r5.code, r5.stdout]).toEqual([2, '']);
    expect(r5.stderr).toMatch(/CONFIG_INVALID: .*no sensitivity section/);
  });

  it('kubectl lines survive a real shell: hostile names are arguments, never code, and the patch arrives intact', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'placement-sh-'));
    const sentinel = join(tmp, 'pwned');
    const name = `web'; touch ${sentinel}; echo '$(touch ${sentinel})\`touch ${sentinel}\``;
    const manifest = join(tmp, 'm.json');
    const obj = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'a b' },
      spec: { template: { metadata: { labels: { [S.labelKey]: 'public' } }, spec: { containers: [] } } },
    };
    writeFileSync(manifest, JSON.stringify(obj));
    const r = await runCli(['k8s', 'placement', 'fix', '--config', CFG, '-f', 'kubectl', manifest]);
    expect(r.code).toBe(0);
    const script = `kubectl() { for a in "$@"; do printf '%s\\0' "$a"; done; }\n${r.stdout}`;
    const args = execFileSync('sh', ['-c', script], { encoding: 'utf8' }).split('\0').slice(0, -1);
    expect(existsSync(sentinel)).toBe(false);
    expect(args.slice(0, 6)).toEqual(['patch', 'deployment.apps', name, '-n', 'a b', '--type=json']);
    expect(args[6]).toBe('-p');
    const ops = JSON.parse(args[7] as string) as JsonPatchOp[];
    expect(applyJsonPatch(obj, ops)).toEqual({
      ...obj,
      spec: {
        template: {
          metadata: obj.spec.template.metadata,
          spec: {
            containers: [],
            nodeSelector: { [KEY]: 'public' },
            tolerations: [{ key: KEY, operator: 'Equal', value: 'public', effect: 'NoSchedule' }],
          },
        },
      },
    });
    expect(args).toHaveLength(8);
  });

  it.each([
    ['plain', 'plain'],
    ['with space', "'with space'"],
    ["it's", "'it'\\''s'"],
    ['', "''"],
  ])('shellQuote(%j) = %s', (s, want) => {
    expect(shellQuote(s)).toBe(want);
  });
});

describe('apply and re-audit', () => {
  const LEVELS = S.levels;
  const API: Record<string, string> = {
    Pod: 'v1',
    Deployment: 'apps/v1',
    StatefulSet: 'apps/v1',
    DaemonSet: 'apps/v1',
    Job: 'batch/v1',
    CronJob: 'batch/v1',
  };
  const value = fc.constantFrom(...LEVELS, 'a', '3');
  const req = fc.oneof(
    fc.record({
      key: fc.constantFrom(KEY, KEY, 'zone'),
      operator: fc.constantFrom('In', 'NotIn'),
      values: fc.array(value, { minLength: 1, maxLength: 3 }),
    }),
    fc.record({ key: fc.constantFrom(KEY, 'zone'), operator: fc.constantFrom('Exists', 'DoesNotExist') }),
    fc.record({ key: fc.constantFrom(KEY, 'zone'), operator: fc.constantFrom('Gt', 'Lt'), values: fc.constant(['2']) }),
  );
  const toleration = fc.oneof(
    fc.constant({ operator: 'Exists' }),
    fc.constant({ operator: 'Exists', effect: 'NoExecute' }),
    fc.constant({ key: KEY, operator: 'Exists' }),
    fc.constant({ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' }),
    fc.constant({ key: KEY, operator: 'Gt', value: '1' }),
    fc.record(
      {
        key: fc.constant(KEY),
        operator: fc.constant('Equal'),
        value: fc.constantFrom(...LEVELS),
        effect: fc.constantFrom('NoSchedule', 'NoExecute', 'PreferNoSchedule'),
      },
      { requiredKeys: ['key', 'value'] },
    ),
  );
  const workload = fc.record(
    {
      kind: fc.constantFrom(...Object.keys(API)),
      level: fc.constantFrom(...LEVELS),
      fromNamespace: fc.boolean(),
      nodeSelector: fc.dictionary(fc.constantFrom(KEY, 'zone'), value, { maxKeys: 2 }),
      terms: fc.array(fc.array(req, { maxLength: 3 }), { minLength: 1, maxLength: 3 }),
      preferred: fc.array(req, { maxLength: 2 }),
      tolerations: fc.array(toleration, { maxLength: 4 }),
    },
    { requiredKeys: ['kind', 'level', 'fromNamespace'] },
  );

  type Gen = typeof workload extends fc.Arbitrary<infer T> ? T : never;

  function build(g: Gen, i: number): Record<string, unknown> {
    const spec: Record<string, unknown> = { containers: [{ name: 'app', image: 'registry.example.com/prod/app' }] };
    if (g.nodeSelector) spec.nodeSelector = g.nodeSelector;
    const nodeAffinity: Record<string, unknown> = {};
    if (g.terms)
      nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = {
        nodeSelectorTerms: g.terms.map((t) => (t.length ? { matchExpressions: t } : {})),
      };
    if (g.preferred)
      nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution = [
        { weight: 1, preference: { matchExpressions: g.preferred } },
      ];
    if (Object.keys(nodeAffinity).length) spec.affinity = { nodeAffinity };
    if (g.tolerations) spec.tolerations = g.tolerations;
    const labels = g.fromNamespace ? { app: 'x' } : { app: 'x', [S.labelKey]: g.level };
    const template = { metadata: { labels }, spec };
    const top = g.kind === 'Pod' ? spec : g.kind === 'CronJob' ? { jobTemplate: { spec: { template } } } : { template };
    return {
      apiVersion: API[g.kind],
      kind: g.kind,
      metadata: { name: `w${i}`, namespace: `ns${i}`, ...(g.kind === 'Pod' ? { labels } : {}) },
      spec: top,
    };
  }

  it('applying the JSON patches leaves no sensitivity-not-pinned or toleration finding; the YAML patch agrees', () => {
    fc.assert(
      fc.property(fc.array(workload, { minLength: 1, maxLength: 4 }), (gs) => {
        const namespaces = gs.map((g, i) => ({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: `ns${i}`, labels: { [S.labelKey]: g.level } },
        }));
        const objs = gs.map(build);
        const parse = (docs: unknown[]) => {
          const r = parseManifests(docs.map((d) => JSON.stringify(d)).join('\n---\n'), 'gen.yaml');
          expect(r.errors).toEqual([]);
          return r.objects;
        };
        const rules = [notPinned, tolerationMismatch];
        const before = runK8sRules(parse([...namespaces, ...objs]), { config: CONFIG, rules });
        const { plans, skipped } = planFixes(parse([...namespaces, ...objs]), S);
        expect(skipped).toEqual([]);
        // The fix and the checks agree on which workloads are wrong.
        expect(new Set(plans.map((p) => p.object.name))).toEqual(new Set(before.findings.map((f) => f.resource?.name)));
        const fixed = objs.map((o) => {
          const plan = plans.find((p) => p.object.name === (o.metadata as { name: string }).name);
          if (!plan) return o;
          const viaJson = applyJsonPatch(o, plan.jsonPatch);
          expect(applyMergePatch(o, plan.mergePatch)).toEqual(viaJson);
          return viaJson;
        });
        const after = runK8sRules(parse([...namespaces, ...fixed]), { config: CONFIG, rules });
        expect(after.findings.map((f) => `${f.resource?.name}: ${f.message}`)).toEqual([]);
        // And a second run has nothing left to fix.
        expect(planFixes(parse([...namespaces, ...fixed]), S).plans).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
