import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { cosignBinary, cosignEnv, run, startTrap, type Trap } from '../helpers/cosign.js';

/**
 * `ci baseline` and `ci drift` as a pipeline runs them: exit codes, formats, `--since` on a real git repository, and
 * the signed baseline held against the real cosign (v2, built by the test setup) both ways: cosign verify-blob
 * accepts Portcullis's detached signature, and `ci drift --verify-key` accepts cosign sign-blob's. A baseline whose
 * bytes or signature were changed is refused with one line and exit 2. cosign stays on loopback (a trap proxy).
 */

const PASSWORD = { COSIGN_PASSWORD: 'baseline key' };
const WF = `name: image
on: push
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: buildah bud -t app .
      - run: portcullis scan --policy policy.yaml containers-storage:app
      - run: buildah push app docker://staging.example.com/app:latest
`;

let tmp: string;
let trap: Trap;
let cosignEnvVars: NodeJS.ProcessEnv;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ci-drift-cli-'));
  trap = await startTrap();
  const k = await runCli(['keygen', '--output-key-prefix', join(tmp, 'signer')], PASSWORD);
  expect(k.code).toBe(0);
  const o = await runCli(['keygen', '--output-key-prefix', join(tmp, 'other')], PASSWORD);
  expect(o.code).toBe(0);
  cosignEnvVars = cosignEnv(join(tmp, 'cosign'), trap, readFileSync(join(tmp, 'other.pub'), 'utf8'));
});

afterAll(async () => {
  await trap.close();
  rmSync(tmp, { recursive: true, force: true });
});

function git(dir: string, ...args: string[]): void {
  execFileSync('git', args, {
    cwd: dir,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  });
}

function repo(name: string): { dir: string; wf: string } {
  const dir = join(tmp, name);
  mkdirSync(join(dir, '.github', 'workflows'), { recursive: true });
  const wf = join(dir, '.github', 'workflows', 'image.yml');
  writeFileSync(wf, WF);
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'base');
  return { dir, wf };
}

/** The one line the CLI prints for an error (followed by the catalogue's hint, as for every error). */
function oneError(stderr: string, code: string): string {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(new RegExp(`^portcullis: ${code}: `));
  expect(lines[1]).toMatch(/^ {2}hint: /);
  return lines[0] as string;
}

describe('ci baseline and ci drift (CLI)', () => {
  it('records a baseline, then: no drift exits 0, cosmetic drift exits 0, a weakened gate exits N', async () => {
    const { dir, wf } = repo('plain');
    const b = await runCli(['ci', 'baseline', dir]);
    expect(b.code).toBe(0);
    expect(b.stderr).toMatch(/^Baseline written to .*ci-baseline\.json \(1 files, 1 jobs\)\n$/);
    const doc = JSON.parse(readFileSync(join(dir, '.portcullis', 'ci-baseline.json'), 'utf8'));
    expect(Object.keys(doc)).toEqual(['$schema', 'version', 'tool', 'createdAt', 'files', 'workflows']);
    expect(doc.workflows[0].jobs[0].assessments).toEqual([
      { step: 1, line: 10, how: 'portcullis scan', blocking: true },
    ]);
    expect(doc.workflows[0].jobs[0].pushes).toEqual([
      { tool: 'buildah push', dest: 'staging.example.com/app', byGate: false, line: 11 },
    ]);

    const clean = await runCli(['ci', 'drift', dir]);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('Drift: 0 changes');

    writeFileSync(wf, WF.replace('  build:\n', '  # the one job\n  build:\n    name: Build\n'));
    const cosmetic = await runCli(['ci', 'drift', dir, '-f', 'json']);
    expect(cosmetic.code).toBe(0);
    expect(JSON.parse(cosmetic.stdout).findings.map((f: { ruleId: string }) => f.ruleId)).toEqual(['drift-cosmetic']);

    writeFileSync(wf, WF.replace('containers-storage:app', 'containers-storage:app || echo ignored'));
    const weak = await runCli(['ci', 'drift', dir, '--exit-code', '7']);
    expect(weak.code).toBe(7);
    expect(weak.stdout).toMatch(/CRITICAL +drift-assessment-weakened +\.github\/workflows\/image\.yml:10 /);
    const sarif = await runCli(['ci', 'drift', dir, '-f', 'sarif']);
    expect(sarif.code).toBe(1);
    const run0 = JSON.parse(sarif.stdout).runs[0];
    expect(run0.results.map((r: { ruleId: string; level: string }) => [r.ruleId, r.level])).toEqual([
      ['drift-assessment-weakened', 'error'],
    ]);
    expect(run0.tool.driver.rules[0].shortDescription.text).toBe('Assessment step can no longer fail the job');
    // No productionRegistries here: the rule that was not checked is said so in the SARIF, not only in its properties.
    expect(run0.invocations[0].toolExecutionNotifications).toEqual([
      {
        level: 'error',
        message: { text: 'drift-production-push: not checked: no productionRegistries in the CI audit configuration' },
      },
    ]);
  });

  it('--since HEAD~1 compares with the previous commit through git', async () => {
    const { dir, wf } = repo('since');
    writeFileSync(wf, WF.replace('on: push', 'on: [push, pull_request_target]'));
    git(dir, 'commit', '-qam', 'widen');
    const r = await runCli(['ci', 'drift', dir, '--since', 'HEAD~1', '-f', 'json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.revision).toBe('HEAD~1');
    expect(out.findings.map((f: { ruleId: string; severity: string }) => [f.ruleId, f.severity])).toEqual([
      ['drift-trigger-widened', 'high'],
    ]);
    const same = await runCli(['ci', 'drift', dir, '--since', 'HEAD']);
    expect(same.code).toBe(0);
    const bad = await runCli(['ci', 'drift', dir, '--since', 'nope']);
    expect(bad.code).toBe(2);
    expect(oneError(bad.stderr, 'CI_GIT_FAILED')).toContain('--since nope: no such commit');
    const both = await runCli(['ci', 'drift', dir, '--since', 'HEAD', '--baseline', 'x.json']);
    expect(both.code).toBe(2);
    oneError(both.stderr, 'USAGE');
  });

  it('signs the baseline as cosign sign-blob does; cosign verify-blob accepts it; drift --verify-key checks it', async () => {
    const { dir } = repo('signed');
    const base = join(dir, '.portcullis', 'ci-baseline.json');
    const b = await runCli(['ci', 'baseline', dir, '--sign-key', join(tmp, 'signer.key')], PASSWORD);
    expect(b.code).toBe(0);
    expect(readFileSync(`${base}.sig`, 'utf8')).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);

    const cosign = cosignBinary();
    const oracle = await run(
      cosign,
      [
        'verify-blob',
        '--key',
        join(tmp, 'signer.pub'),
        '--signature',
        `${base}.sig`,
        '--insecure-ignore-tlog=true',
        base,
      ],
      cosignEnvVars,
    );
    expect(oracle.stderr).toContain('Verified OK');
    expect(oracle.code).toBe(0);

    const ok = await runCli(['ci', 'drift', dir, '--verify-key', join(tmp, 'signer.pub')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`(signature verified with ${join(tmp, 'signer.pub')})`);

    const wrongKey = await runCli(['ci', 'drift', dir, '--verify-key', join(tmp, 'other.pub')]);
    expect(wrongKey.code).toBe(2);
    expect(oneError(wrongKey.stderr, 'CI_BASELINE_NOT_VERIFIED')).toContain('does not verify with');

    // One byte of the baseline changed: a job's recorded gate turned off. Refused unread, and cosign agrees.
    const bytes = readFileSync(base, 'utf8');
    expect(bytes).toContain('"blocking": true');
    writeFileSync(base, bytes.replace('"blocking": true', '"blocking": false'));
    const tampered = await runCli(['ci', 'drift', dir, '--verify-key', join(tmp, 'signer.pub')]);
    expect(tampered.code).toBe(2);
    expect(tampered.stdout).toBe('');
    oneError(tampered.stderr, 'CI_BASELINE_NOT_VERIFIED');
    const oracleTampered = await run(
      cosign,
      [
        'verify-blob',
        '--key',
        join(tmp, 'signer.pub'),
        '--signature',
        `${base}.sig`,
        '--insecure-ignore-tlog=true',
        base,
      ],
      cosignEnvVars,
    );
    expect(oracleTampered.code).not.toBe(0);

    // cosign's own signature over the restored bytes is accepted.
    writeFileSync(base, bytes);
    rmSync(`${base}.sig`);
    const missing = await runCli(['ci', 'drift', dir, '--verify-key', join(tmp, 'signer.pub')]);
    expect(missing.code).toBe(2);
    expect(oneError(missing.stderr, 'CI_BASELINE_NOT_VERIFIED')).toContain('no signature beside the baseline');
    const signed = await run(
      cosign,
      [
        'sign-blob',
        '--key',
        join(tmp, 'signer.key'),
        '--tlog-upload=false',
        '--output-signature',
        `${base}.sig`,
        '-y',
        base,
      ],
      { ...cosignEnvVars, ...PASSWORD },
    );
    expect(signed.code).toBe(0);
    const byCosign = await runCli(['ci', 'drift', dir, '--verify-key', join(tmp, 'signer.pub')]);
    expect(byCosign.code).toBe(0);

    // Recording again without a key removes the signature that no longer matches.
    const unsigned = await runCli(['ci', 'baseline', dir]);
    expect(unsigned.code).toBe(0);
    expect(existsSync(`${base}.sig`)).toBe(false);
    expect(trap.connections()).toBe(0);
  });

  it('refuses hostile and missing baselines with one line and exit 2', async () => {
    const { dir } = repo('hostile');
    const file = join(tmp, 'hostile.json');
    const cases: [string | Buffer, RegExp][] = [
      ['{"version": 1, "files": [', /hostile\.json: not JSON/],
      ['{"version": 99}', /format version 99 is not one this portcullis reads \(1\)/],
      [
        JSON.stringify({ version: 1, tool: { name: 'x', version: '1' }, createdAt: 'x', files: [], workflows: [{}] }),
        /workflows\[0\]/,
      ],
      [Buffer.alloc(16 * 1024 * 1024 + 1, 0x20), /larger than 16 MiB/],
    ];
    for (const [content, says] of cases) {
      writeFileSync(file, content);
      const r = await runCli(['ci', 'drift', dir, '--baseline', file]);
      expect(r.code).toBe(2);
      expect(oneError(r.stderr, 'CI_BASELINE_INVALID')).toMatch(says);
    }
    const none = await runCli(['ci', 'drift', dir]);
    expect(none.code).toBe(2);
    expect(oneError(none.stderr, 'NOT_FOUND')).toContain("record one with 'portcullis ci baseline'");
  });

  it('a workflow that cannot be read fails the baseline and the drift closed', async () => {
    const { dir, wf } = repo('broken');
    expect((await runCli(['ci', 'baseline', dir])).code).toBe(0);
    writeFileSync(wf, 'on: push\njobs: [\n');
    const r = await runCli(['ci', 'drift', dir]);
    expect(r.code).toBe(2);
    expect(oneError(r.stderr, 'CI_INVALID')).toContain('.github/workflows/image.yml:');
    const b = await runCli(['ci', 'baseline', dir]);
    expect(b.code).toBe(2);
  });
});
