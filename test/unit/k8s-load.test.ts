import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadPaths, parseManifests } from '../../src/k8s/load.js';
import { describeObject } from '../../src/k8s/model.js';
import { containersOf, workloadOf } from '../../src/k8s/workload.js';

const DEPLOYMENT = `# a comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web, replicas: 3}
spec:
  template:
    metadata:
      labels: {app: web}
    spec:
      initContainers:
        - name: init
          image: busybox
      containers:
        - name: app
          image: registry.example.com/shop/web:1.0
          securityContext:
            privileged: yes
---
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: p1, namespace: shop}
    spec: {containers: [{name: c, image: nginx}]}
  - apiVersion: batch/v1
    kind: CronJob
    metadata: {name: nightly}
    spec:
      jobTemplate:
        spec:
          template:
            spec:
              containers: [{name: job, image: alpine}]
`;

describe('parseManifests', () => {
  const { objects, errors } = parseManifests(DEPLOYMENT.replace('replicas: 3', "replicas: '3'"), 'm.yaml');

  it('reads every document and expands List items, empty documents skipped', () => {
    expect(errors).toEqual([]);
    expect(objects.map(describeObject)).toEqual(['Deployment shop/web', 'Pod shop/p1', 'CronJob nightly']);
    expect(objects[0]?.labels).toEqual({ app: 'web', replicas: '3' });
    expect(objects.map((o) => o.source)).toEqual([
      { file: 'm.yaml', doc: 0 },
      { file: 'm.yaml', doc: 2, item: 0 },
      { file: 'm.yaml', doc: 2, item: 1 },
    ]);
  });

  it('refuses identity and labels that are not strings, as the API server does (YAML 1.1 booleans)', () => {
    const r = parseManifests(DEPLOYMENT.replace('namespace: shop', 'namespace: n'), 'm.yaml');
    expect(r.errors.map((e) => `${e.line}: ${e.message}`)).toEqual([
      '2: document 1: metadata.namespace is not a string (YAML 1.1 reads y, n, yes, no, on and off as booleans: quote it)',
    ]);
    const labels = parseManifests(
      DEPLOYMENT.replace('labels: {app: web, replicas: 3}', 'labels: {app: web, replicas: 3}'),
      'm.yaml',
    );
    expect(labels.errors[0]?.message).toBe(
      'document 1: metadata.labels.replicas is not a string (quote numbers and y, n, yes, no, on, off)',
    );
    expect(
      parseManifests(
        DEPLOYMENT.replace('labels: {app: web, replicas: 3}', "labels: {app: web, replicas: '3'}"),
        'm.yaml',
      ).objects[0]?.labels,
    ).toEqual({ app: 'web', replicas: '3' });
  });

  it('reads YAML 1.1 booleans as the API server does', () => {
    const w = workloadOf(objects[0] as never);
    const c = w && containersOf(w).find((x) => x.name === 'app');
    expect(c?.container.securityContext).toEqual({ privileged: true });
  });

  it('locates fields: exact lines for nested values and list items, the nearest parent for missing ones', () => {
    const d = objects[0];
    expect(d?.locate([])).toEqual({ line: 2, column: 1 });
    expect(d?.locate(['spec', 'template', 'spec', 'containers', 0, 'securityContext', 'privileged']).line).toBe(20);
    expect(d?.locate(['spec', 'template', 'spec', 'containers', 0, 'image']).line).toBe(18);
    expect(d?.locate(['spec', 'template', 'spec', 'hostNetwork']).line).toBe(13);
    const cron = objects[2];
    expect(cron?.locate([]).line).toBe(30);
    expect(cron?.locate(['spec', 'jobTemplate', 'spec', 'template', 'spec', 'containers', 0]).line).toBe(38);
  });

  it('finds pod specs in every controller kind, with init containers first', () => {
    const ws = objects.map((o) => workloadOf(o));
    expect(ws.map((w) => w?.specPath.join('.'))).toEqual([
      'spec.template.spec',
      'spec',
      'spec.jobTemplate.spec.template.spec',
    ]);
    expect(containersOf(ws[0] as never).map((c) => `${c.field}/${c.name}`)).toEqual([
      'initContainers/init',
      'containers/app',
    ]);
  });

  it('reads a kubectl JSON dump (a typed List) with positions', () => {
    const dump = JSON.stringify(
      {
        apiVersion: 'v1',
        kind: 'PodList',
        items: [
          { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a', namespace: 'x' }, spec: { containers: [] } },
          { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b', namespace: 'y' }, spec: { containers: [] } },
        ],
      },
      null,
      2,
    );
    const r = parseManifests(dump, 'dump.json');
    expect(r.errors).toEqual([]);
    expect(r.objects.map(describeObject)).toEqual(['Pod x/a', 'Pod y/b']);
    expect(r.objects[1]?.locate(['metadata', 'name']).line).toBe(
      dump.split('\n').findIndex((l) => l.includes('"b"')) + 1,
    );
  });
});

describe('parseManifests on hostile and malformed input', () => {
  const one = (text: string, opts = {}) => {
    const r = parseManifests(text, 'bad.yaml', opts);
    expect(r.errors.length).toBeGreaterThan(0);
    for (const e of r.errors) expect(e.message).not.toMatch(/\n/);
    return r.errors[0] as { line: number; column: number; message: string };
  };

  it('names the line of a duplicate key', () => {
    expect(one('apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n')).toMatchObject({
      line: 5,
      message: 'document 1: duplicate key (each key may appear once in a mapping)',
    });
  });

  it('refuses a merge key (<<) that brings in a key set before it: kubectl lets the later one win, YAML 1.1 the explicit', () => {
    // The reviewer's case: audited as not privileged, applied by kubectl (go-yaml v2) as privileged.
    const pod = (sc: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: m}\nspec:\n  containers:\n  - name: c\n    image: x\n    securityContext:\n${sc}`;
    expect(one(pod('      privileged: false\n      <<: {privileged: true}\n'))).toEqual({
      file: 'bad.yaml',
      line: 10,
      column: 7,
      message:
        "document 1: merge key (<<) brings in key 'privileged', which this mapping sets before it: kubectl reads the merged value, this reader the other; set it once",
    });
    // Set after the merge, the key overrides it for both readers (the usual `<<: *base` then overrides): kept.
    const defaults = 'x-defaults: &d {privileged: true}\n';
    const overridden = parseManifests(`${defaults}${pod('      <<: *d\n      privileged: false\n')}`, 'ok.yaml');
    expect(overridden.errors).toEqual([]);
    const spec = overridden.objects[0]?.raw.spec as { containers: { securityContext: unknown }[] } | undefined;
    expect(spec?.containers[0]?.securityContext).toEqual({ privileged: false });
    // Through an anchor, and from a source's own merge.
    const nested = 'x-inner: &i {privileged: true}\nx-outer: &o {<<: *i}\n';
    expect(one(`${nested}${pod('      privileged: false\n      <<: *o\n')}`).message).toMatch(/key 'privileged'/);
    // Two `<<` entries that disagree: go-yaml lets the later overwrite, the yaml library keeps the first.
    const two = 'x-a: &a {privileged: true}\nx-b: &b {privileged: false}\n';
    expect(one(`${two}${pod('      <<: *b\n      <<: *a\n')}`).message).toMatch(
      /merge key \(<<\) brings in key 'privileged', which an earlier << gives another value/,
    );
    // One `<<` with a list of sources: the first wins for both readers, so it is read as written.
    const listed = parseManifests(`${two}${pod('      <<: [*b, *a]\n')}`, 'ok.yaml');
    expect(listed.errors).toEqual([]);
    const sc = listed.objects[0]?.raw.spec as { containers: { securityContext: unknown }[] } | undefined;
    expect(sc?.containers[0]?.securityContext).toEqual({ privileged: false });
  });

  it('keeps merges that bring only new keys, or sources that agree', () => {
    const text =
      'x-sc: &sc {allowPrivilegeEscalation: false}\nx-caps: &caps {capabilities: {drop: [ALL]}, allowPrivilegeEscalation: false}\napiVersion: v1\nkind: Pod\nmetadata: {name: m}\nspec:\n  containers:\n  - name: c\n    image: x\n    securityContext:\n      <<: [*sc, *caps]\n      privileged: false\n';
    const r = parseManifests(text, 'ok.yaml');
    expect(r.errors).toEqual([]);
    const spec = r.objects[0]?.raw.spec as { containers: { securityContext: unknown }[] } | undefined;
    expect(spec?.containers[0]?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
    });
    // A quoted "<<" is a plain key for both readers, not a merge.
    expect(
      parseManifests('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: "1", "<<": x}\n', 'q.yaml')
        .errors,
    ).toEqual([]);
  });

  it('says why a merge source that is not a mapping is refused (not an alias bomb)', () => {
    const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n';
    expect(one(`${cm}x: &x [1]\ndata: {<<: *x}\n`).message).toBe(
      'document 1: Merge sources must be maps or map aliases',
    );
    expect(one(`${cm}data: {<<: *nope}\n`).message).not.toMatch(/alias bomb/);
  });

  it('refuses a merge bomb (sources merging sources) within a bounded amount of work', () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `k${i}: ${i}`).join(', ');
    const lines = [`x0: &a0 {${keys}}`];
    for (let i = 1; i <= 1000; i++) lines.push(`x${i}: &a${i} {<<: [*a${i - 1}], n${i}: 1}`);
    expect(one(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n${lines.join('\n')}\n`).message).toMatch(
      /merges bring in too many keys to check/,
    );
    // Wide instead of deep: one mapping merging a thousand sources that each merge one large mapping. The work is
    // counted inside every loop, so the check stops at its bound, not after the whole mapping (seconds and gigabytes).
    const big = Array.from({ length: 20_000 }, (_, i) => `k${i}: ${i}`).join(', ');
    const wide = [`  b: &B {${big}}`];
    for (let i = 0; i < 1000; i++) wide.push(`  m${i}: &m${i} {<<: *B, y${i}: v}`);
    const all = Array.from({ length: 1000 }, (_, i) => `*m${i}`).join(', ');
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n${wide.join('\n')}\n  <<: [${all}]\n`;
    expect(one(text).message).toMatch(/merges bring in too many keys to check/);
  });

  it('refuses an alias bomb without expanding it', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [p, c] of [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
      ['d', 'e'],
      ['e', 'f'],
      ['f', 'g'],
      ['g', 'h'],
    ])
      levels.push(`${c}: &${c} [${Array(9).fill(`*${p}`).join(',')}]`);
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n${levels.map((l) => `  ${l}`).join('\n')}\n`;
    expect(one(text).message).toMatch(/alias bomb/);
  });

  it('refuses deep nesting (flow and block) with an error, not a crash', () => {
    expect(one(`a: ${'['.repeat(50_000)}${']'.repeat(50_000)}`).message).toMatch(/nested too deeply/);
    const block = Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
    expect(one(block).message).toMatch(/nested too deeply/);
  });

  it('refuses a file over the size limit unread', () => {
    expect(one('x'.repeat(101), { maxBytes: 100 }).message).toBe('larger than 100 bytes (refused unread)');
  });

  it('says that a Helm template must be rendered first', () => {
    expect(one('apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Values.name }}\n').message).toMatch(/helm template/);
    expect(one('{{- if .Values.enabled }}\napiVersion: v1\nkind: Pod\n{{- end }}\n').message).toMatch(/helm template/);
    // Other `{{ }}` text is data (Argo workflow parameters, Alertmanager templates in a rendered chart's Secret).
    expect(
      parseManifests(
        'apiVersion: v1\nkind: Secret\nmetadata: {name: am}\nstringData:\n  alertmanager.yaml: |\n    text: \'{{ template "slack.text" . }}{{ range .Alerts }}{{ .Labels.alertname }}{{ end }}\'\n',
        'am.yaml',
      ).errors,
    ).toEqual([]);
    expect(
      parseManifests(
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: "{{inputs.parameters.msg}}"}\n',
        'a.yaml',
      ).errors,
    ).toEqual([]);
  });

  it('expands Lists nested in Lists, as kubectl flattens them (not an inert List object)', () => {
    const inner =
      'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: deep, namespace: a}\n    spec: {containers: [{name: c, image: x}]}\n';
    const r = parseManifests(`apiVersion: v1\nkind: Pod\nmetadata: {name: first}\n---\n${inner}`, 'm.yaml');
    expect(r.errors).toEqual([]);
    expect(r.objects.map(describeObject)).toEqual(['Pod first', 'Pod a/deep']);
    expect(r.objects[1]?.source).toEqual({ file: 'm.yaml', doc: 1, item: 0 });
    expect(r.objects[1]?.locate(['metadata', 'name']).line).toBe(13);
    // Deeply nested Lists neither crash nor lose the object.
    const deep = `${'{"kind":"List","apiVersion":"v1","items":['.repeat(200)}{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}${']}'.repeat(200)}`;
    expect(parseManifests(deep, 'd.json').objects.map(describeObject)).toEqual(['Pod p']);
  });

  it('reports documents and list items that are not objects, and keeps the others', () => {
    const r = parseManifests(
      '- a\n- b\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: ok}\n---\nkind: List\napiVersion: v1\nitems: [{x: 1}]\n',
      'm.yaml',
    );
    expect(r.objects.map(describeObject)).toEqual(['Pod ok']);
    expect(r.errors.map((e) => `${e.line}: ${e.message}`)).toEqual([
      '1: document 1: not a Kubernetes object (a list)',
      '10: document 3, item 0: not a Kubernetes object (no apiVersion and kind)',
    ]);
  });

  it('never throws and always accounts for its input (fuzz)', () => {
    const fragments = fc.constantFrom(
      'apiVersion: v1\n',
      'kind: Pod\n',
      'kind: List\n',
      'items:\n',
      '  - ',
      '---\n',
      'metadata: {name: x}\n',
      '&a ',
      '*a ',
      '[',
      ']',
      '{',
      '}',
      ': ',
      '"',
      "'",
      '\t',
      '? ',
      '!!binary ',
      '{{ x }}',
      'spec:\n  containers: [{name: c}]\n',
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(fragments, fc.string({ maxLength: 8 })), { maxLength: 40 }), (parts) => {
        const r = parseManifests(parts.join(''), 'f.yaml');
        for (const o of r.objects) {
          expect(typeof o.kind).toBe('string');
          const at = o.locate(['spec', 'containers', 0, 'name']);
          expect(at.line).toBeGreaterThanOrEqual(1);
        }
        for (const e of r.errors) expect(e.message).not.toMatch(/\n/);
      }),
      { numRuns: 400 },
    );
  });
});

describe('loadPaths', () => {
  it('walks directories for .yaml, .yml and .json in name order, skipping .git and hidden directories', async () => {
    const root = mkdtempSync(join(tmpdir(), 'k8s-load-'));
    mkdirSync(join(root, 'b'));
    mkdirSync(join(root, '.git'));
    mkdirSync(join(root, '.hidden'));
    const pod = (n: string) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${n}}\nspec: {containers: []}\n`;
    writeFileSync(join(root, 'a.yml'), pod('a'));
    writeFileSync(
      join(root, 'b', 'c.json'),
      JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'c' } }),
    );
    writeFileSync(join(root, 'README.md'), '# not a manifest');
    writeFileSync(join(root, '.git', 'x.yaml'), pod('git'));
    writeFileSync(join(root, '.hidden', 'x.yaml'), pod('hidden'));
    symlinkSync(join(root, 'loop.yaml'), join(root, 'loop.yaml'));
    const r = await loadPaths([root]);
    expect(r.objects.map((o) => o.name)).toEqual(['a', 'c']);
    expect(r.files).toEqual([join(root, 'a.yml'), join(root, 'b/c.json')]);
    expect(r.errors.map((e) => `${e.file}: ${e.message}`)).toEqual([`${join(root, 'loop.yaml')}: not a regular file`]);
  });

  it('leaves out other YAML and JSON found in a walk, but not a broken manifest or a file named on the command line', async () => {
    const root = mkdtempSync(join(tmpdir(), 'k8s-skip-'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0' }));
    writeFileSync(join(root, 'compose.yaml'), 'services:\n  web:\n    image: nginx\n');
    writeFileSync(join(root, 'empty.yaml'), '---\n');
    writeFileSync(join(root, 'broken.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: a\n');
    writeFileSync(join(root, 'pod.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n');
    const r = await loadPaths([root]);
    expect(r.objects.map((o) => o.name)).toEqual(['a']);
    expect(r.skipped).toEqual([join(root, 'compose.yaml'), join(root, 'empty.yaml'), join(root, 'package.json')]);
    expect(r.errors.map((e) => e.file)).toEqual([join(root, 'broken.yaml')]);
    const named = await loadPaths([join(root, 'package.json')]);
    expect(named.errors.map((e) => e.message)).toEqual([
      'document 1: not a Kubernetes object (no apiVersion and kind)',
    ]);
  });

  it('reports a path that does not exist (the audit is then incomplete)', async () => {
    const r = await loadPaths(['/nonexistent/k8s']);
    expect(r.errors).toEqual([{ file: '/nonexistent/k8s', line: 1, column: 1, message: 'no such file or directory' }]);
  });
});
