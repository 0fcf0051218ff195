import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBaseline, parseBaseline, serialiseBaseline, snapshot } from '../../src/ci/baseline.js';
import { loadCiConfig } from '../../src/ci/config.js';
import { compareSummaries, DRIFT_RULES, type DriftHit } from '../../src/ci/drift.js';
import { checkoutRevision } from '../../src/ci/gitrev.js';
import { normaliseScript } from '../../src/ci/summary.js';
import { PortcullisError } from '../../src/errors.js';

/**
 * Drift between two commits of a real git repository, one commit per kind of change, read both ways: from the
 * revision (`--since HEAD~1`, through the repository's git) and from a baseline recorded at the first commit and read
 * back from its JSON. The expected changes are written by hand from the two texts (rule, severity, line).
 */

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const CONFIG = `apiVersion: portcullis.dev/v1alpha1
kind: CiAuditConfig
productionRegistries: [prod.example.com/**]
stagingRegistries: [staging.example.com/**]
`;

// Line numbers matter: job `build` is line 10, its steps 13 (checkout), 14 (Build), 16 (Assess), 18 (Push).
const BASE = `name: image
on:
  push:
    branches: [main]
  pull_request:
permissions:
  contents: read
jobs:
  # build, assess, push to staging
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
      - name: Build
        run: buildah bud -t app .
      - name: Assess
        run: portcullis scan --policy policy.yaml containers-storage:app
      - name: Push to staging
        run: buildah push app docker://staging.example.com/team/app:latest
        env:
          REGISTRY_TOKEN: \${{ secrets.STAGING_TOKEN }}
`;

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  });
}

/** A repository with two commits: the base workflow, then `changed`. */
function repoWith(changed: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ci-drift-'));
  dirs.push(dir);
  mkdirSync(join(dir, '.github', 'workflows'), { recursive: true });
  mkdirSync(join(dir, '.portcullis'));
  writeFileSync(join(dir, '.portcullis', 'ci.yaml'), CONFIG);
  writeFileSync(join(dir, '.github', 'workflows', 'image.yml'), BASE);
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'base');
  writeFileSync(join(dir, '.github', 'workflows', 'image.yml'), changed);
  git(dir, 'commit', '-q', '--allow-empty', '-am', 'change');
  return dir;
}

type Row = [rule: string, severity: string, line: number];
const rows = (hits: readonly DriftHit[]): Row[] => hits.map((h) => [h.ruleId, h.severity, h.line]);

async function driftSince(dir: string): Promise<readonly DriftHit[]> {
  const config = loadCiConfig(dir, undefined);
  const rev = await checkoutRevision(dir, 'HEAD~1');
  try {
    const base = await snapshot(rev.dir, config);
    return compareSummaries(base, await snapshot(dir, config), config).hits;
  } finally {
    rev.remove();
  }
}

/** The baseline route: recorded at HEAD~1 (a worktree of it), written as JSON, read back, compared with HEAD. */
async function driftFromBaseline(dir: string): Promise<readonly DriftHit[]> {
  const config = loadCiConfig(dir, undefined);
  const old = mkdtempSync(join(tmpdir(), 'ci-drift-old-'));
  dirs.push(old);
  git(dir, 'worktree', 'add', '-q', '--detach', join(old, 'wt'), 'HEAD~1');
  const text = serialiseBaseline(buildBaseline(await snapshot(join(old, 'wt'), config), new Date(0)));
  const base = parseBaseline(Buffer.from(text), 'baseline.json');
  return compareSummaries(base, await snapshot(dir, config), config).hits;
}

const edit = (from: string, to: string): string => {
  expect(BASE).toContain(from);
  return BASE.replace(from, to);
};

interface Case {
  readonly name: string;
  readonly changed: string;
  readonly expected: readonly Row[];
  /** A word each message must carry (what the change means). */
  readonly says: RegExp;
}

const CASES: readonly Case[] = [
  {
    name: 'assessment step removed',
    changed: edit(
      '      - name: Assess\n        run: portcullis scan --policy policy.yaml containers-storage:app\n',
      '',
    ),
    // The job stays at line 10; the push step lost its gate, and one step is gone.
    expected: [
      ['drift-assessment-removed', 'critical', 10],
      ['drift-changed', 'low', 10],
    ],
    says: /the assessment \(portcullis scan\) that ran at step 3 is gone|1 step\(s\) removed/,
  },
  {
    name: 'assessment made non-blocking with || true',
    changed: edit('containers-storage:app\n', 'containers-storage:app || true\n'),
    expected: [['drift-assessment-weakened', 'critical', 17]],
    says: /can no longer fail the job: `\|\| true`/,
  },
  {
    name: 'assessment made non-blocking with continue-on-error',
    changed: edit('      - name: Assess\n', '      - name: Assess\n        continue-on-error: true\n'),
    expected: [['drift-assessment-weakened', 'critical', 18]],
    says: /continue-on-error/,
  },
  {
    name: 'new job pushing to the production registry',
    changed: `${BASE}  release:
    runs-on: ubuntu-latest
    steps:
      - run: crane push app.tar prod.example.com/team/app:1
`,
    // Job release at line 22, its push at 25; reading contents is not a widening for a new job.
    expected: [
      ['drift-changed', 'low', 22],
      ['drift-production-push', 'critical', 25],
    ],
    says: /crane push to prod\.example\.com\/team\/app, a production registry|added/,
  },
  {
    name: 'trigger widened to pull_request_target',
    changed: edit('  pull_request:\n', '  pull_request:\n  pull_request_target:\n    types: [opened]\n'),
    expected: [['drift-trigger-widened', 'high', 6]],
    says: /pull_request_target/,
  },
  {
    name: 'trigger widened to issue_comment',
    changed: edit('  pull_request:\n', '  pull_request:\n  issue_comment:\n'),
    expected: [['drift-trigger-widened', 'high', 6]],
    says: /issue_comment/,
  },
  {
    name: 'new secret exposed to a job',
    changed: edit(
      '        run: buildah bud -t app .\n',
      `        run: buildah bud -t app .\n        env:\n          NPM_TOKEN: \${{ secrets.NPM_TOKEN }}\n`,
    ),
    // The secret (high, at the job) and the step whose inputs changed (low, at the job).
    expected: [
      ['drift-secret-added', 'high', 10],
      ['drift-changed', 'low', 10],
    ],
    says: /secrets\.NPM_TOKEN|step 2 new or changed/,
  },
  {
    name: 'permissions widened to write',
    changed: edit('  contents: read\n', '  contents: read\n  packages: write\n'),
    expected: [['drift-permissions-widened', 'high', 11]],
    says: /packages: write/,
  },
  {
    name: 'permissions block removed (the repository default token)',
    changed: edit('permissions:\n  contents: read\n', ''),
    expected: [['drift-permissions-widened', 'medium', 8]],
    says: /default token/,
  },
  {
    name: 'runner changed to self-hosted',
    changed: edit('    runs-on: ubuntu-latest\n', '    runs-on: [self-hosted, linux]\n'),
    expected: [['drift-self-hosted', 'medium', 10]],
    says: /self-hosted, linux/,
  },
  {
    name: 'new step running third-party code, pinned',
    changed: edit(
      '      - name: Build\n',
      '      - uses: docker/setup-buildx-action@e468171a9de216ec08956ac3ada2f0791b6bd435\n      - name: Build\n',
    ),
    expected: [['drift-new-code', 'medium', 14]],
    says: /third-party docker\/setup-buildx-action/,
  },
  {
    name: 'unpinned action introduced (a first-party ref moved to a tag, a third-party action by branch)',
    changed: edit(
      '      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683\n',
      '      - uses: actions/checkout@v4\n      - uses: someone/lint-action@main\n',
    ),
    expected: [
      ['drift-new-code', 'low', 13],
      ['drift-unpinned', 'medium', 13],
      ['drift-new-code', 'medium', 14],
      ['drift-unpinned', 'medium', 14],
    ],
    says: /actions\/checkout changed from|not pinned|third-party someone\/lint-action@main/,
  },
  {
    name: 'script changed in meaning',
    changed: edit('buildah bud -t app .', 'buildah bud -t app -f Containerfile.release .'),
    expected: [['drift-changed', 'low', 10]],
    says: /step 2 new or changed/,
  },
  {
    name: 'cosmetic only: comments, whitespace, names, key order',
    changed: `# the image pipeline
name: image pipeline
permissions:
  contents: read
on:
  pull_request:
  push:
    branches: [ main ]
jobs:
  build:
    name: Build and assess
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
      - name: Build the image
        run: |
          # build it
          buildah   bud -t app .   # the tag is app
      - name: Assess the image
        run: portcullis scan --policy policy.yaml  containers-storage:app
      - env:
          REGISTRY_TOKEN: \${{ secrets.STAGING_TOKEN }}
        run: buildah push app docker://staging.example.com/team/app:latest
        name: Push
`,
    expected: [['drift-cosmetic', 'info', 1]],
    says: /not what it runs/,
  },
];

describe('ci drift between commits of a real git repository', () => {
  for (const c of CASES) {
    it(`${c.name}: by --since HEAD~1 and by a recorded baseline`, async () => {
      const dir = repoWith(c.changed);
      const since = await driftSince(dir);
      expect(rows(since)).toEqual(c.expected);
      for (const h of since) {
        expect(h.file).toBe('.github/workflows/image.yml');
        expect(h.message).toMatch(c.says);
      }
      expect(rows(await driftFromBaseline(dir))).toEqual(c.expected);
    });
  }

  it('no change: no drift; every drift rule is exercised above', async () => {
    const dir = repoWith(BASE);
    expect(await driftSince(dir)).toEqual([]);
    const used = new Set(CASES.flatMap((c) => c.expected.map((r) => r[0])));
    expect(DRIFT_RULES.map((r) => r.id).filter((id) => !used.has(id))).toEqual([]);
  });

  it('a workflow renamed: the old one reads as removed, the new one names only what matters', async () => {
    const dir = repoWith(BASE);
    git(dir, 'mv', '.github/workflows/image.yml', '.github/workflows/renamed.yml');
    git(dir, 'commit', '-qm', 'rename');
    const hits = await driftSince(dir);
    // The old file is gone (it held the gate); in the new one: its triggers (pull_request is an outsider's event),
    // the job's secret, the job itself, and the first-party checkout it runs.
    expect(rows(hits)).toEqual([
      ['drift-changed', 'medium', 1],
      ['drift-changed', 'low', 3],
      ['drift-trigger-widened', 'medium', 5],
      ['drift-secret-added', 'high', 10],
      ['drift-changed', 'low', 10],
      ['drift-new-code', 'low', 13],
    ]);
    expect(hits[0]?.file).toBe('.github/workflows/image.yml');
    expect(hits[0]?.message).toMatch(/workflow removed \(it ran the assessment gate\)/);
    expect(hits.slice(1).every((h) => h.file === '.github/workflows/renamed.yml')).toBe(true);
  });

  it('GitLab: a job newly run for merge request pipelines with a secret, and its gate swallowed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ci-drift-gl-'));
    dirs.push(dir);
    const job = (rules: string, fallback: string) => `build:
${rules}  script:
    - buildah bud -t app .
    - portcullis scan --policy p.yaml containers-storage:app${fallback}
    - buildah push app docker://staging.example.com/app
  secrets:
    DEPLOY:
      vault: ci/deploy@ops
`;
    writeFileSync(join(dir, '.gitlab-ci.yml'), job('', ''));
    git(dir, 'init', '-q', '-b', 'main');
    git(dir, 'add', '-A');
    git(dir, 'commit', '-qm', 'base');
    const rules = '  rules:\n    - if: $CI_PIPELINE_SOURCE == "merge_request_event"\n    - if: $CI_COMMIT_BRANCH\n';
    writeFileSync(join(dir, '.gitlab-ci.yml'), job(rules, ' || true'));
    git(dir, 'commit', '-qam', 'change');
    const hits = await driftSince(dir);
    // The job is at line 1, the scan at line 7 (three lines of rules above the script).
    expect(rows(hits)).toEqual([
      ['drift-trigger-widened', 'high', 1],
      ['drift-assessment-weakened', 'critical', 7],
    ]);
    expect(hits[0]?.message).toMatch(/now runs for .*merge_request_event/);
  });

  it('a revision whose workflow is too large or a symbolic link fails closed, as the same files on disk do', async () => {
    const dir = repoWith(BASE);
    writeFileSync(join(dir, '.github', 'workflows', 'big.yml'), `# ${'x'.repeat(1024 * 1024 + 10)}\n`);
    symlinkSync('/etc/passwd', join(dir, '.github', 'workflows', 'link.yml'));
    git(dir, 'add', '-A');
    git(dir, 'commit', '-qm', 'hostile');
    const rev = await checkoutRevision(dir, 'HEAD');
    try {
      const config = loadCiConfig(dir, undefined);
      await expect(snapshot(rev.dir, config)).rejects.toThrow(
        /^\.github\/workflows\/big\.yml:1:1: larger than 1 MiB \(refused unread\) \(and 1 more\)$/,
      );
      await expect(snapshot(dir, config)).rejects.toThrow(/big\.yml:1:1: larger than 1 MiB/);
    } finally {
      rev.remove();
    }
  });

  it('refuses a revision that is no commit, and a directory outside any repository, with one line', async () => {
    const dir = repoWith(BASE);
    await expect(checkoutRevision(dir, 'no-such-branch')).rejects.toThrow(/^--since no-such-branch: no such commit/);
    await expect(checkoutRevision(dir, '--output=/tmp/x')).rejects.toMatchObject({ code: 'USAGE' });
    const bare = mkdtempSync(join(tmpdir(), 'ci-drift-nogit-'));
    dirs.push(bare);
    await expect(checkoutRevision(bare, 'HEAD')).rejects.toMatchObject({ code: 'CI_GIT_FAILED' });
  });
});

describe('normalised scripts', () => {
  it('drops comments, blank lines and whitespace runs, keeps quoted text and python indentation', () => {
    expect(normaliseScript('  # c\n\necho   a  b # note\n')).toBe('echo a b');
    expect(normaliseScript('echo "a  #b"   c')).toBe('echo "a  #b" c');
    expect(normaliseScript("echo 'x   y'")).not.toBe(normaliseScript("echo 'x y'"));
    expect(normaliseScript('echo a#b')).toBe('echo a#b');
    expect(normaliseScript('if x:\n    y()\n', 'python')).not.toBe(normaliseScript('if x:\ny()\n', 'python'));
  });

  it('is idempotent, and blind to added blank lines, comment lines and extra spaces between words', () => {
    const word = fc.stringMatching(/^[a-z$=|&.-]{1,6}$/); // quoted text keeps its spaces (tested above)
    fc.assert(
      fc.property(fc.array(fc.array(word, { minLength: 1, maxLength: 5 }), { maxLength: 8 }), (lines) => {
        const script = lines.map((ws) => ws.join(' ')).join('\n');
        const once = normaliseScript(script);
        expect(normaliseScript(once)).toBe(once);
        const noisy = lines.map((ws) => `  ${ws.join('   ')}\t`).join('\n\n# a comment\n');
        expect(normaliseScript(noisy)).toBe(once);
      }),
      { numRuns: 300 },
    );
  });
});

describe('hostile baselines', () => {
  const one = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(PortcullisError);
      expect((err as PortcullisError).code).toBe('CI_BASELINE_INVALID');
      const m = (err as Error).message;
      expect(m).not.toContain('\n');
      return m;
    }
    throw new Error('accepted');
  };
  const doc = JSON.parse(serialiseBaseline(buildBaseline({ files: [], workflows: [] }, new Date(0))));

  it('refuses malformed JSON, a wrong version, a schema violation and a huge file, each in one line', () => {
    expect(one(() => parseBaseline(Buffer.from('{"version": 1,'), 'b.json'))).toMatch(/^b\.json: not JSON/);
    expect(one(() => parseBaseline(Buffer.from('[]'), 'b.json'))).toBe('b.json: not a JSON object');
    expect(one(() => parseBaseline(Buffer.from(JSON.stringify({ ...doc, version: 2 })), 'b.json'))).toMatch(
      /^b\.json: format version 2 is not one this portcullis reads \(1\)/,
    );
    const bad = { ...doc, files: [{ file: 'a.yml', sha256: 'md5:00' }] };
    expect(one(() => parseBaseline(Buffer.from(JSON.stringify(bad)), 'b.json'))).toMatch(
      /^b\.json: files\[0\]\.sha256/,
    );
    expect(one(() => parseBaseline(Buffer.from(JSON.stringify({ ...doc, extra: 1 })), 'b.json'))).toMatch(/extra/);
    expect(one(() => parseBaseline(Buffer.alloc(17 * 1024 * 1024, 0x20), 'b.json'))).toMatch(/larger than 16 MiB/);
    expect(one(() => parseBaseline(Buffer.from([0xff, 0xfe, 0x7b]), 'b.json'))).toBe('b.json: not UTF-8 text');
    // A million levels of nesting where a list of files belongs: parsed, then refused by the schema at the first item.
    const deep = `{"version":1,"tool":{"name":"x","version":"1"},"createdAt":"x","files":[${'['.repeat(1e6)}${']'.repeat(1e6)}],"workflows":[]}`;
    expect(one(() => parseBaseline(Buffer.from(deep), 'b.json'))).toMatch(/^b\.json: files\[0\]/);
    expect(parseBaseline(Buffer.from(JSON.stringify(doc)), 'b.json').version).toBe(1);
  });

  it('anything else (random JSON, random bytes) is read or refused with CI_BASELINE_INVALID, never a crash', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.json().map((j) => Buffer.from(j)),
          fc.uint8Array({ maxLength: 300 }),
        ),
        (bytes) => {
          try {
            parseBaseline(Buffer.from(bytes), 'b.json');
          } catch (err) {
            expect((err as PortcullisError).code).toBe('CI_BASELINE_INVALID');
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
