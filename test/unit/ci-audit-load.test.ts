import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditPath, auditWorkflows } from '../../src/ci/audit.js';
import { loadGitHub } from '../../src/ci/github/load.js';
import { isLoadError, MAX_WORKFLOW_BYTES, parseGitHubFile } from '../../src/ci/github/parse.js';
import type { LoadError, Workflow } from '../../src/ci/model.js';

const gh = (inner: string): string => ['$', '{{ ', inner, ' }}'].join('');

function model(text: string, kind: 'workflow' | 'action' = 'workflow'): Workflow {
  const r = parseGitHubFile('w.yml', text, kind);
  if (isLoadError(r)) throw new Error(`unexpected error: ${r.line}:${r.column}: ${r.message}`);
  return r;
}

function error(text: string, kind: 'workflow' | 'action' = 'workflow'): LoadError {
  const r = parseGitHubFile('w.yml', text, kind);
  if (!isLoadError(r)) throw new Error('expected a load error');
  expect(r.message).not.toMatch(/\n/);
  return r;
}

const WORKFLOW = `name: ci
on:
  push:
    branches: [main]
  pull_request:
permissions:
  contents: read
env:
  GREETING: hello
jobs:
  build:
    name: Build
    runs-on: [self-hosted, "${gh('matrix.os')}"]
    if: github.event_name == 'push'
    environment:
      name: staging
    needs: [lint]
    container:
      image: node:22
    services:
      db: postgres:17
    steps:
      - id: co
        uses: actions/checkout@v4
        with:
          fetch-depth: 0
          lfs: true
      - name: Test
        continue-on-error: true
        shell: bash
        run: |
          make test
          echo ${gh('github.head_ref')}
  lint:
    runs-on: ubuntu-24.04
    permissions: read-all
    steps: []
  call:
    uses: ./.github/workflows/lib.yml
    secrets: inherit
`;

describe('parse: the model', () => {
  it('reads triggers, permissions, jobs and steps with their positions', () => {
    const w = model(WORKFLOW);
    expect(w.triggers.map((t) => [t.event, t.pos.line])).toEqual([
      ['push', 3],
      ['pull_request', 5],
    ]);
    expect(w.triggers[0]?.config).toEqual({ branches: ['main'] });
    expect(w.permissions).toEqual({ kind: 'scopes', scopes: { contents: 'read' }, pos: { line: 6, column: 1 } });
    expect(w.env.GREETING?.value).toBe('hello');
    const [build, lint, call] = w.jobs;
    expect(build?.pos).toEqual({ line: 11, column: 3 });
    expect(build?.runsOn).toEqual(['self-hosted', gh('matrix.os')]);
    expect(build?.permissions).toBeUndefined();
    expect(build?.environment?.value).toBe('staging');
    expect(build?.needs).toEqual(['lint']);
    expect(build?.images.map((i) => [i.value, i.pos.line])).toEqual([
      ['node:22', 19],
      ['postgres:17', 21],
    ]);
    const [co, test] = build?.steps ?? [];
    expect(co?.pos.line).toBe(23);
    expect(co?.uses).toMatchObject({ value: 'actions/checkout@v4', pos: { line: 24, column: 9 } });
    expect(co?.with).toMatchObject({ 'fetch-depth': { value: '0' }, lfs: { value: 'true' } });
    expect(test).toMatchObject({ name: 'Test', continueOnError: true, shell: 'bash' });
    expect(test?.run?.pos.line).toBe(31);
    expect(test?.run?.bodyLine).toBe(32);
    expect(lint?.permissions).toMatchObject({ kind: 'all', level: 'read' });
    expect(call?.uses?.value).toBe('./.github/workflows/lib.yml');
    expect(call?.secrets?.value).toBe('inherit');
  });

  it('reads `on` as a string, a list or a mapping (YAML 1.2: on is a string key, never true)', () => {
    const jobs = 'jobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps: [{run: x}]\n';
    expect(model(`on: push\n${jobs}`).triggers.map((t) => t.event)).toEqual(['push']);
    expect(model(`on: [push, pull_request_target]\n${jobs}`).triggers.map((t) => t.event)).toEqual([
      'push',
      'pull_request_target',
    ]);
    expect(model(`on:\n  issue_comment:\n    types: [created]\n${jobs}`).triggers[0]).toMatchObject({
      event: 'issue_comment',
      config: { types: ['created'] },
    });
    expect(error(`on: 3\n${jobs}`).message).toMatch(/on: expected an event, a list or a mapping/);
    expect(error(`on: [push, {a: 1}]\n${jobs}`)).toMatchObject({ line: 1, message: expect.stringMatching(/on\[1\]/) });
    expect(error(jobs).message).toMatch(/no 'on:'/);
  });

  it('refuses wrong types with the place and what was expected', () => {
    expect(error('on: push\njobs:\n  - a\n  - b\n')).toMatchObject({
      line: 3,
      message: 'jobs: expected a mapping of job ids to jobs, found a list',
    });
    expect(error('on: push\njobs:\n  a: 3\n')).toMatchObject({ line: 3, message: expect.stringMatching(/jobs\.a/) });
    expect(error('on: push\njobs:\n  a:\n    steps: {run: x}\n')).toMatchObject({
      line: 4,
      message: expect.stringMatching(/jobs\.a\.steps: expected a list of steps/),
    });
    expect(error('on: push\njobs:\n  a:\n    steps:\n      - uses: [x]\n').message).toMatch(/uses: expected a string/);
    expect(error('on: push\npermissions: maybe\njobs: {}\n').message).toMatch(/permissions/);
    expect(error('- just\n- a list\n').message).toMatch(/expected a mapping at the top, found a list/);
    expect(error('name: no runs\n', 'action').message).toMatch(/runs:/);
  });

  it('reads composite actions as one pseudo-job and Docker actions with their image', () => {
    const a = model('name: x\nruns:\n  using: composite\n  steps:\n    - shell: bash\n      run: echo hi\n', 'action');
    expect(a).toMatchObject({ kind: 'action', using: 'composite', triggers: [] });
    expect(a.jobs[0]?.steps[0]?.run).toMatchObject({ value: 'echo hi', pos: { line: 6 } });
    const d = model("runs:\n  using: docker\n  image: 'docker://alpine:3'\n", 'action');
    expect(d.jobs[0]?.images.map((i) => i.value)).toEqual(['docker://alpine:3']);
  });
});

describe('parse: hostile input', () => {
  it('invalid YAML: the line and column of the problem', () => {
    const e = error('on: push\njobs:\n  a:\n    run: "unterminated\n');
    expect(e.line).toBeGreaterThanOrEqual(4);
    const dup = error('on: push\non: pull_request\njobs: {}\n');
    expect(dup).toMatchObject({ line: 2, message: expect.stringMatching(/duplicate key/) });
  });

  it('an alias bomb is refused, not expanded', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    lines.push('on: push', 'jobs: {}');
    expect(error(lines.join('\n')).message).toMatch(/alias/);
  });

  it('a 2 MB file is refused before it is parsed', () => {
    const big = `on: push\njobs: {}\n# ${'x'.repeat(2 * 1024 * 1024)}\n`;
    expect(big.length).toBeGreaterThan(MAX_WORKFLOW_BYTES);
    expect(error(big)).toMatchObject({ line: 1, column: 1, message: expect.stringMatching(/larger than 1 MiB/) });
  });

  it('1000-deep nesting (block and flow) is refused with where it got too deep', () => {
    const flow = `on: push\njobs: ${'['.repeat(1000)}${']'.repeat(1000)}\n`;
    expect(error(flow).message).toMatch(/nested more than \d+ levels/);
    let block = 'on: push\njobs:\n';
    for (let i = 1; i <= 1000; i++) block += `${' '.repeat(i)}k${i}:\n`;
    const e = error(block);
    expect(e.message).toMatch(/nested more than \d+ levels/);
    expect(e.line).toBeGreaterThan(2);
  });

  it('custom tags and several documents are refused', () => {
    expect(error('on: !!js/function "x"\njobs: {}\n').message).toMatch(/tag/);
    expect(error('on: push\njobs: {}\n---\non: push\n').message).toMatch(/more than one YAML document/);
  });

  it('fuzz: any text is a model or a one-line located error, never another throw', () => {
    const fragments = fc.constantFrom(
      'on:',
      ' push',
      'jobs:',
      '  a:',
      '    steps:',
      '      - run: x',
      '      - uses: a/b@v1',
      '    runs-on: x',
      '&a',
      '*a',
      '[',
      ']',
      '{',
      '}',
      '- ',
      ': ',
      '"',
      "'",
      '\n',
      '  ',
      '!!str',
      gh('github.head_ref'),
      'permissions: write-all',
      'runs:',
      '  using: composite',
    );
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.array(fragments, { maxLength: 60 }).map((a) => a.join('')),
    );
    fc.assert(
      fc.property(text, fc.constantFrom('workflow' as const, 'action' as const), (t, kind) => {
        const r = parseGitHubFile('f.yml', t, kind);
        if (isLoadError(r)) {
          expect(r.message).not.toMatch(/\n/);
          expect(r.line).toBeGreaterThanOrEqual(1);
          expect(r.column).toBeGreaterThanOrEqual(1);
        } else {
          expect(r.kind).toBe(kind);
          expect(Array.isArray(r.jobs)).toBe(true);
          // Whatever the loader accepts, every rule can read without throwing.
          for (const f of auditWorkflows([r])) expect(f.location.kind).toBe('file');
        }
      }),
      { numRuns: 3000 },
    );
  });
});

function write(root: string, files: Record<string, string>): void {
  for (const [f, t] of Object.entries(files)) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    writeFileSync(join(root, f), t);
  }
}

describe('load: discovery and failing closed', () => {
  it('reads a local action in a hidden directory when a workflow names it, and nothing outside the tree', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ci-load-'));
    const outside = join(root, 'repo');
    write(root, { 'evil/action.yml': 'runs: [' });
    write(outside, {
      '.github/workflows/a.yml': `on: issue_comment\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: ./.ci/actions/echo\n      - uses: ./../evil\n      - uses: ./missing\n`,
      '.ci/actions/echo/action.yml': `runs:\n  using: composite\n  steps:\n    - shell: bash\n      run: echo "${gh('github.event.comment.body')}"\n`,
      '.cache/junk/action.yml': 'runs: [',
      '.venv/lib/action.yml': 'runs: [',
    });
    const r = await auditPath(outside);
    expect(r.errors).toEqual([]);
    expect(r.files).toEqual(['.github/workflows/a.yml', '.ci/actions/echo/action.yml']);
    expect(r.findings.map((f) => [f.ruleId, f.severity, f.location.kind === 'file' && f.location.path])).toEqual([
      ['template-injection', 'high', '.ci/actions/echo/action.yml'],
      ['dangerous-triggers', 'low', '.github/workflows/a.yml'],
    ]);
  });

  it('reads .github/workflows/*.y{a,}ml and action.y{a,}ml anywhere, but not node_modules, .git or other YAML', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ci-load-'));
    const wf = 'on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps: [{run: make}]\n';
    const action = 'runs:\n  using: composite\n  steps: []\n';
    write(root, {
      '.github/workflows/a.yml': wf,
      '.github/workflows/b.yaml': wf,
      '.github/workflows/sub/c.yml': wf,
      '.github/workflows/notes.txt': 'x',
      'tools/setup/action.yml': action,
      'tools/other/action.yaml': action,
      'node_modules/pkg/action.yml': action,
      '.git/hooks/action.yml': action,
      'config.yml': 'a: 1\n',
    });
    const repo = await loadGitHub(root);
    expect(repo.errors).toEqual([]);
    expect(repo.workflows.map((w) => `${w.kind}:${w.file}`).sort()).toEqual([
      'action:tools/other/action.yaml',
      'action:tools/setup/action.yml',
      'workflow:.github/workflows/a.yml',
      'workflow:.github/workflows/b.yaml',
    ]);
  });

  it('a broken file is one error line; the others are still audited; symlinks and non-UTF-8 are refused', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ci-load-'));
    write(root, {
      '.github/workflows/bad.yml': 'on: push\njobs:\n  a: [\n',
      '.github/workflows/good.yml': `on: issues\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo "${gh('github.event.issue.title')}"\n`,
    });
    writeFileSync(join(root, '.github/workflows/latin1.yml'), Buffer.from([0x6f, 0x6e, 0x3a, 0x20, 0xe9, 0x0a]));
    symlinkSync('/etc/passwd', join(root, '.github/workflows/link.yml'));
    const r = await auditPath(root);
    expect(r.errors.map((e) => `${e.file}:${e.message}`)).toEqual([
      expect.stringMatching(/^\.github\/workflows\/bad\.yml:/),
      '.github/workflows/latin1.yml:not UTF-8 text',
      '.github/workflows/link.yml:a symbolic link (not followed)',
    ]);
    expect(r.files).toEqual(['.github/workflows/good.yml']);
    expect(r.findings.map((f) => f.ruleId)).toEqual(['template-injection']);
  });

  it('an oversized file is refused unread', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ci-load-'));
    write(root, { '.github/workflows/huge.yml': `on: push\njobs: {}\n#${'x'.repeat(MAX_WORKFLOW_BYTES)}\n` });
    const r = await auditPath(root);
    expect(r.errors).toEqual([
      { file: '.github/workflows/huge.yml', line: 1, column: 1, message: 'larger than 1 MiB (refused unread)' },
    ]);
  });
});
