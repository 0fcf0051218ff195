import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CI_RULES } from '../../src/ci/rules/index.js';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { validateSarif } from '../helpers/validate.js';

// `portcullis ci audit` end to end, as a user runs the built CLI on a repository.

const gh = (inner: string): string => ['$', '{{ ', inner, ' }}'].join('');

function repo(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'ci-cli-'));
  for (const [f, t] of Object.entries(files)) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    writeFileSync(join(root, f), t);
  }
  return root;
}

const CLEAN = readFileSync(join(ROOT, 'examples', 'ci', 'github-actions.yml'), 'utf8');
const PWN = `on: pull_request_target
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${gh('github.event.pull_request.head.sha')}
      - run: npm ci && npm test
        env:
          NPM_TOKEN: ${gh('secrets.NPM_TOKEN')}
`;

describe('portcullis ci audit', () => {
  let clean: string;
  let pwn: string;
  beforeAll(() => {
    clean = repo({ '.github/workflows/image.yml': CLEAN });
    pwn = repo({ '.github/workflows/image.yml': CLEAN, '.github/workflows/test.yml': PWN });
  });

  it('exits 0 on a clean repository and says what it read', async () => {
    const r = await runCli(['ci', 'audit', clean]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Files read: 1\nCI findings: 0\n/);
  });

  it('exits 1 (or --exit-code N) with findings, and --severity filters what counts', async () => {
    const table = await runCli(['ci', 'audit', pwn]);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/CRITICAL +high +untrusted-checkout +\.github\/workflows\/test\.yml:8 /);
    expect((await runCli(['ci', 'audit', pwn, '--exit-code', '7'])).code).toBe(7);
    const onlyLow = await runCli(['ci', 'audit', pwn, '--severity', 'info', '-f', 'json']);
    expect(onlyLow.code).toBe(0);
    expect(JSON.parse(onlyLow.stdout)).toMatchObject({ findings: [], hidden: 3 });
  });

  it('JSON: files, findings in the shared Finding shape, errors', async () => {
    const r = await runCli(['ci', 'audit', pwn, '-f', 'json']);
    const doc = JSON.parse(r.stdout);
    expect(doc.files).toEqual(['.github/workflows/image.yml', '.github/workflows/test.yml']);
    expect(doc.errors).toEqual([]);
    expect(doc.findings.map((f: { ruleId: string; severity: string }) => `${f.ruleId}:${f.severity}`)).toEqual([
      'dangerous-triggers:high',
      'untrusted-checkout:critical',
      'unpinned-uses:low',
    ]);
    expect(doc.findings[0]).toMatchObject({
      kind: 'ci',
      confidence: expect.stringMatching(/^(high|medium|low)$/),
      location: {
        kind: 'file',
        path: '.github/workflows/test.yml',
        line: expect.any(Number),
        column: expect.any(Number),
      },
      fix: { text: expect.any(String) },
    });
  });

  it('SARIF validates against the SARIF 2.1.0 schema, with rule help and the portcullis-ci category', async () => {
    const out = join(pwn, 'ci.sarif');
    const r = await runCli(['ci', 'audit', pwn, '-f', 'sarif', '-o', out]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const sarif = JSON.parse(readFileSync(out, 'utf8'));
    expect(validateSarif(sarif)).toEqual([]);
    const run = sarif.runs[0];
    expect(run.automationDetails.id).toMatch(/^portcullis-ci\//);
    const ids = (run.tool.driver.rules as { id: string; help: { text: string } }[]).map((x) => x.id);
    expect(ids).toContain('untrusted-checkout');
    for (const rule of run.tool.driver.rules) expect(rule.help.text).toMatch(/Remediation: /);
    expect(run.results.find((x: { ruleId: string }) => x.ruleId === 'untrusted-checkout')).toMatchObject({
      level: 'error',
      locations: [
        { physicalLocation: { artifactLocation: { uri: '.github/workflows/test.yml' }, region: { startLine: 8 } } },
      ],
    });
    expect(CI_RULES.map((x) => x.id)).toEqual(expect.arrayContaining(ids));
    // The rules not checked (no configuration here) are notifications too, as in the JSON's notes.
    const json = JSON.parse((await runCli(['ci', 'audit', pwn, '-f', 'json'])).stdout);
    expect(json.notes.length).toBeGreaterThan(0);
    const texts = run.invocations[0].toolExecutionNotifications.map(
      (n: { message: { text: string } }) => n.message.text,
    );
    expect(texts).toHaveLength(json.errors.length + json.notes.length);
    for (const n of json.notes)
      expect(texts).toContain(`${n.ruleId}: ${n.file ? `${n.file}:${n.line ?? 1}: ` : ''}${n.message}`);
  });

  it('fails closed: an unreadable file exits 2 with one located line, and the other files are still reported', async () => {
    const root = repo({
      '.github/workflows/test.yml': PWN,
      '.github/workflows/broken.yml': 'on: push\njobs: [a, b]\n',
    });
    const r = await runCli(['ci', 'audit', root, '-f', 'json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'portcullis: CI_INVALID: .github/workflows/broken.yml:2:7: jobs: expected a mapping of job ids to jobs, found a list\n',
    );
    const doc = JSON.parse(r.stdout);
    expect(doc.findings.length).toBeGreaterThan(0);
    expect(doc.errors).toEqual([
      { file: '.github/workflows/broken.yml', line: 2, column: 7, message: expect.stringMatching(/found a list/) },
    ]);
    // Even with nothing to report from the readable files, the run is not a pass.
    const only = await runCli(['ci', 'audit', repo({ '.github/workflows/x.yml': 'on: [push\n' })]);
    expect(only.code).toBe(2);
    expect(only.stdout).toMatch(/Not read \(the audit is incomplete\):\n {2}\.github\/workflows\/x\.yml:\d+:\d+: /);
  });

  it('usage errors exit 2: a missing path, a bad --severity, a bad --exit-code', async () => {
    const missing = await runCli(['ci', 'audit', join(clean, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^portcullis: NOT_FOUND: .*nope: no such file or directory/);
    expect((await runCli(['ci', 'audit', clean, '--severity', 'severe'])).code).toBe(2);
    expect((await runCli(['ci', 'audit', clean, '--exit-code', '300'])).code).toBe(2);
    expect((await runCli(['ci', 'audit', clean, '-f', 'xml'])).code).toBe(2);
  });

  it('audits one workflow file given directly, named from its repository root as an audit of the root names it', async () => {
    const root = repo({ '.github/workflows/pr target.yml': PWN, 'ci/build.yml': PWN });
    const r = await runCli(['ci', 'audit', join(root, '.github', 'workflows', 'pr target.yml'), '-f', 'json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.files).toEqual(['.github/workflows/pr target.yml']);
    expect(new Set(doc.findings.map((f: { location: { path: string } }) => f.location.path))).toEqual(
      new Set(['.github/workflows/pr target.yml']),
    );
    const uris = async (file: string) => {
      const sarif = JSON.parse((await runCli(['ci', 'audit', file, '-f', 'sarif'])).stdout);
      expect(validateSarif(sarif)).toEqual([]);
      type Result = { locations: { physicalLocation: { artifactLocation: { uri: string } } }[] };
      return new Set(sarif.runs[0].results.map((x: Result) => x.locations[0]!.physicalLocation.artifactLocation.uri));
    };
    expect(await uris(join(root, '.github', 'workflows', 'pr target.yml'))).toEqual(
      new Set(['.github/workflows/pr%20target.yml']),
    );
    // a file outside any .github: relative to its own directory
    expect(await uris(join(root, 'ci', 'build.yml'))).toEqual(new Set(['build.yml']));
  });
});
