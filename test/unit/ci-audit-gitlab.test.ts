import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type GitLabLoad, loadGitLab } from '../../src/ci/gitlab/load.js';
import { buildPipeline, readIncludes } from '../../src/ci/gitlab/parse.js';
import { evaluateIf } from '../../src/ci/gitlab/sources.js';
import { GitLabError, MAX_GITLAB_BYTES, parseTree } from '../../src/ci/gitlab/tree.js';
import type { Job, LoadError, Workflow } from '../../src/ci/model.js';

function repo(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'ci-gitlab-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

async function load(files: Record<string, string>): Promise<GitLabLoad> {
  return loadGitLab(repo(files));
}

async function pipeline(files: Record<string, string>): Promise<Workflow> {
  const r = await load(files);
  expect(r.errors).toEqual([]);
  return r.workflows[0] as Workflow;
}

async function failure(files: Record<string, string>): Promise<LoadError> {
  const r = await load(files);
  expect(r.workflows).toEqual([]);
  expect(r.errors).toHaveLength(1);
  const e = r.errors[0] as LoadError;
  expect(e.message).not.toMatch(/\n/);
  return e;
}

const job = (w: Workflow, id: string): Job => {
  const j = w.jobs.find((x) => x.id === id);
  if (!j) throw new Error(`no job ${id}`);
  return j;
};
const scripts = (j: Job): string[] => j.steps.map((s) => `${s.name}=${s.run?.value}`);

/** A fresh pure parse of one file (no includes). */
function pure(text: string): Workflow {
  const tree = parseTree('.gitlab-ci.yml', text);
  return buildPipeline({
    root: '.gitlab-ci.yml',
    trees: new Map([['.gitlab-ci.yml', tree]]),
    children: new Map(),
    includes: [],
  }).workflow;
}

describe('GitLab: the model', () => {
  it('reads jobs, default:, variables, images, needs, environments, id_tokens, secrets, trigger, with positions', async () => {
    const w = await pipeline({
      '.gitlab-ci.yml': `variables:
  GLOBAL: one
  TOKENED: { value: "$X", description: d }
default:
  image: node:22
  before_script: [echo default-before]
  tags: [docker]
stages: [build, deploy]
build:
  stage: build
  variables: { LOCAL: two }
  services:
    - postgres:17
    - name: redis:7
      alias: cache
  script:
    - make
    - - nested one
      - [nested two]
    - |
      multi
      line
  after_script: echo after
deploy:
  stage: deploy
  image: { name: "alpine:3" }
  inherit:
    default: false
  needs: [build, { job: lint, artifacts: false }]
  dependencies: [build]
  environment: { name: production, action: start }
  id_tokens:
    AWS_TOKEN: { aud: sts.amazonaws.com }
  secrets:
    DB_PASSWORD: { vault: db/password@ops }
  script: ./deploy.sh
downstream:
  trigger: { project: group/other, branch: main }
`,
    });
    expect(w.platform).toBe('gitlab');
    expect(w.file).toBe('.gitlab-ci.yml');
    expect(Object.keys(w.env)).toEqual(['GLOBAL', 'TOKENED']);
    expect(w.env.TOKENED?.value).toBe('$X');
    expect(w.jobs.map((j) => j.id)).toEqual(['build', 'deploy', 'downstream']);
    const build = job(w, 'build');
    expect(build.pos).toEqual({ line: 9, column: 1 });
    expect(build.runsOn).toEqual(['docker']);
    expect(build.images.map((i) => i.value)).toEqual(['node:22', 'postgres:17', 'redis:7']);
    expect(build.env.LOCAL?.value).toBe('two');
    expect(scripts(build)).toEqual([
      'before_script[0]=echo default-before',
      'script[0]=make',
      'script[1]=nested one',
      'script[2]=nested two',
      'script[3]=multi\nline\n',
      'after_script[0]=echo after',
    ]);
    // Each command at its own line; a literal block's text starts on the line after `|`.
    expect(build.steps[1]?.run?.pos).toEqual({ line: 17, column: 7 });
    expect(build.steps[4]?.run?.bodyLine).toBe(21);
    const deploy = job(w, 'deploy');
    expect(deploy.images.map((i) => i.value)).toEqual(['alpine:3']);
    expect(scripts(deploy)).toEqual(['script[0]=./deploy.sh']);
    expect(deploy.runsOn).toEqual([]);
    expect(deploy.needs).toEqual(['build', 'lint']);
    expect(deploy.environment?.value).toBe('production');
    expect(deploy.gitlab?.environmentAction).toBe('start');
    expect(deploy.gitlab?.idTokens.map((t) => t.value)).toEqual(['AWS_TOKEN']);
    expect(deploy.gitlab?.secrets.map((t) => t.value)).toEqual(['DB_PASSWORD']);
    expect(deploy.gitlab?.stage).toBe('deploy');
    expect(job(w, 'downstream').gitlab?.trigger?.value).toBe('group/other');
  });

  it('resolves anchors and YAML 1.1 merge keys (own keys win; earlier mappings in a << list win)', () => {
    const w = pure(
      `.a: &a
  image: a:1
  script: [from-a]
  variables: { V: a }
.b: &b
  image: b:1
  tags: [b]
job:
  <<: [*a, *b]
  variables: { W: own }
  after_script: *scr
.scr: &scr [x]
`.replace('  after_script: *scr\n', ''),
    );
    const j = job(w, 'job');
    expect(j.images.map((i) => i.value)).toEqual(['a:1']);
    expect(j.runsOn).toEqual(['b']);
    expect(Object.keys(j.env)).toEqual(['W']);
    expect(scripts(j)).toEqual(['script[0]=from-a']);
    // The position of merged content is where it is written (the anchor).
    expect(j.steps[0]?.run?.pos.line).toBe(3);
  });

  it('resolves extends: single, multiple (later parents win), multi-level, hidden jobs, deep-merging hashes', () => {
    const w = pure(`.base:
  image: base:1
  variables: { A: base, B: base }
  script: [base]
.mid:
  extends: .base
  variables: { B: mid }
.other:
  image: other:1
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule"
job:
  extends: [.mid, .other]
  variables: { C: job }
real:
  extends: job
  script: [own]
`);
    const j = job(w, 'job');
    expect(j.images.map((i) => i.value)).toEqual(['other:1']);
    expect(Object.fromEntries(Object.entries(j.env).map(([k, v]) => [k, v.value]))).toEqual({
      A: 'base',
      B: 'mid',
      C: 'job',
    });
    expect(scripts(j)).toEqual(['script[0]=base']);
    expect(j.gitlab?.sources).toEqual(['schedule']);
    const real = job(w, 'real');
    expect(scripts(real)).toEqual(['script[0]=own']);
    expect(real.gitlab?.sources).toEqual(['schedule']);
    expect(w.jobs.map((x) => x.id)).toEqual(['job', 'real']);
  });

  it('resolves !reference tags, flattening lists into scripts and rules', () => {
    const w = pure(`.setup:
  script: [one, two]
.rules:
  mr:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
job:
  script:
    - !reference [.setup, script]
    - three
  rules:
    - !reference [.rules, mr]
`);
    const j = job(w, 'job');
    expect(scripts(j)).toEqual(['script[0]=one', 'script[1]=two', 'script[2]=three']);
    expect(j.gitlab?.sources).toEqual(['merge_request_event']);
  });

  it('works out the pipeline sources of each job from workflow rules, rules and only/except', () => {
    const w = pure(`default:
  image: x
plain:
  script: [a]
mr:
  rules:
    - if: $CI_MERGE_REQUEST_IID
  script: [a]
not-mr:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
      when: never
    - when: always
  script: [a]
branch:
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  script: [a]
manual:
  rules:
    - if: $CI_PIPELINE_SOURCE =~ /^(merge_request_event|web)$/
      when: manual
  script: [a]
only-mr:
  only: [merge_requests, schedules]
  script: [a]
except-mr:
  except: [merge_requests, schedules]
  script: [a]
changes:
  rules:
    - changes: [src/**/*]
  script: [a]
`);
    const src = (id: string) => job(w, id).gitlab?.sources;
    const refs = [
      'push',
      'web',
      'schedule',
      'api',
      'trigger',
      'pipeline',
      'parent_pipeline',
      'chat',
      'webide',
      'external',
    ];
    expect(src('plain')?.slice(0, 10)).toEqual(refs);
    expect(src('plain')).not.toContain('merge_request_event');
    expect(src('mr')).toEqual(['merge_request_event']);
    expect(src('not-mr')).not.toContain('merge_request_event');
    expect(src('not-mr')).toContain('external_pull_request_event');
    expect(src('branch')).not.toContain('merge_request_event');
    expect(src('branch')).not.toContain('external_pull_request_event');
    expect(src('manual')).toEqual(['web', 'merge_request_event']);
    expect(job(w, 'manual').gitlab?.manual).toBe(true);
    expect(src('only-mr')).toEqual(['schedule', 'merge_request_event']);
    expect(src('except-mr')).not.toContain('merge_request_event');
    expect(src('except-mr')).not.toContain('schedule');
    expect(src('changes')).toContain('merge_request_event');
    expect(job(w, 'mr').gitlab?.sourcesPos).toEqual({ line: 6, column: 3 });

    const wf = pure(`workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_PIPELINE_SOURCE == "push"
job:
  script: [a]
`);
    expect(wf.triggers.map((t) => t.event)).toEqual(['push', 'merge_request_event']);
    expect(job(wf, 'job').gitlab?.sources).toEqual(['push', 'merge_request_event']);
  });

  it('evaluates rules:if with three-valued logic', () => {
    const mr = 'merge_request_event';
    expect(evaluateIf('$CI_PIPELINE_SOURCE == "merge_request_event"', mr)).toBe(true);
    expect(evaluateIf("$CI_PIPELINE_SOURCE == 'push'", mr)).toBe(false);
    expect(evaluateIf('$CI_PIPELINE_SOURCE != "push" && $CI_MERGE_REQUEST_ID', mr)).toBe(true);
    expect(evaluateIf('$CI_COMMIT_BRANCH', mr)).toBe(false);
    expect(evaluateIf('$CI_COMMIT_BRANCH', 'push')).toBeUndefined();
    expect(evaluateIf('$CI_COMMIT_TAG || $CI_PIPELINE_SOURCE == "schedule"', 'schedule')).toBe(true);
    expect(
      evaluateIf('($SOMETHING == "x" || $CI_PIPELINE_SOURCE == "web") && $CI_PIPELINE_SOURCE != "web"', 'web'),
    ).toBe(false);
    expect(evaluateIf('$CI_PIPELINE_SOURCE =~ /^merge/', mr)).toBe(true);
    expect(evaluateIf('$CI_PIPELINE_SOURCE !~ /^merge/', mr)).toBe(false);
    expect(evaluateIf('$CI_PIPELINE_SOURCE =~ $PATTERN', mr)).toBeUndefined();
    expect(evaluateIf('$CI_MERGE_REQUEST_LABELS =~ /safe/', mr)).toBeUndefined();
    expect(evaluateIf('$X == null', mr)).toBeUndefined();
    expect(evaluateIf('$CI_COMMIT_TAG == null', mr)).toBe(true);
    // Unreadable: unknown, never a decision.
    expect(evaluateIf('$A == ', mr)).toBeUndefined();
    expect(evaluateIf('((($CI_PIPELINE_SOURCE == "push"', 'push')).toBeUndefined();
    expect(evaluateIf(`${'('.repeat(100)}$A${')'.repeat(100)}`, 'push')).toBeUndefined();
  });
});

describe('GitLab: include', () => {
  it('reads local includes (string, list, mapping, leading /, nested, wildcards) and merges them under the file', async () => {
    const w = await pipeline({
      '.gitlab-ci.yml': `include:
  - ci/a.yml
  - local: /ci/b.yml
  - local: ci/jobs/*.yml
variables: { V: root }
a-job:
  image: root:1
`,
      'ci/a.yml': `include: ci/nested/c.yml
variables: { V: a, VA: a }
a-job:
  image: a:1
  script: [from-a]
`,
      'ci/nested/c.yml': `.hidden:
  script: [hidden]
`,
      'ci/b.yml': `b-job:
  extends: .hidden
`,
      'ci/jobs/one.yml': 'one:\n  script: [one]\n',
      'ci/jobs/two.yml': 'two:\n  script: [two]\n',
      'ci/jobs/deeper/no.yml': 'no:\n  script: [no]\n',
    });
    expect(w.included).toEqual(['ci/a.yml', 'ci/b.yml', 'ci/jobs/one.yml', 'ci/jobs/two.yml', 'ci/nested/c.yml']);
    expect(w.env.V?.value).toBe('root');
    expect(w.env.VA?.value).toBe('a');
    const a = job(w, 'a-job');
    expect(a.images.map((i) => [i.value, i.pos])).toEqual([['root:1', { line: 7, column: 10 }]]);
    expect(a.steps[0]?.run?.pos).toEqual({ line: 5, column: 12, file: 'ci/a.yml' });
    expect(scripts(job(w, 'b-job'))).toEqual(['script[0]=hidden']);
    expect(w.jobs.map((j) => j.id).sort()).toEqual(['a-job', 'b-job', 'one', 'two']);
  });

  it('reads each file once: include cycles and repeats are harmless', async () => {
    const w = await pipeline({
      '.gitlab-ci.yml': 'include: [a.yml, b.yml, a.yml]\nroot:\n  script: [r]\n',
      'a.yml': 'include: b.yml\na:\n  script: [a]\n',
      'b.yml': 'include: [a.yml, .gitlab-ci.yml]\nb:\n  script: [b]\n',
    });
    expect(w.included).toEqual(['a.yml', 'b.yml']);
    expect(w.jobs.map((j) => j.id).sort()).toEqual(['a', 'b', 'root']);
  });

  it('never leaves the root: ../ paths are notes, symbolic links and missing files are errors where the include is', async () => {
    const outside = repo({ 'secret.yml': 'leak:\n  script: [x]\n' });
    const r = await load({
      '.gitlab-ci.yml': `include:
  - local: ../../${outside.split('/').pop()}/secret.yml
  - local: $CI_PROJECT_DIR/x.yml
job:
  script: [a]
`,
    });
    expect(r.errors).toEqual([]);
    expect(r.workflows[0]?.jobs.map((j) => j.id)).toEqual(['job']);
    expect(r.notes.map((n) => n.message)).toEqual([
      expect.stringMatching(
        /^include:local \.\.\/\.\.\/.*: not read \(it names a variable, or a path outside the repository\)$/,
      ),
      expect.stringMatching(/^include:local \$CI_PROJECT_DIR\/x\.yml: not read/),
    ]);

    const root = repo({ '.gitlab-ci.yml': 'include: ci/link.yml\n', 'real.yml': 'x:\n  script: [x]\n' });
    mkdirSync(join(root, 'ci'));
    symlinkSync(join(outside, 'secret.yml'), join(root, 'ci', 'link.yml'));
    const sym = await loadGitLab(root);
    expect(sym.errors).toEqual([
      {
        file: '.gitlab-ci.yml',
        line: 1,
        column: 10,
        message: 'include:local ci/link.yml: a symbolic link (not followed)',
      },
    ]);
    const dirRoot = repo({ '.gitlab-ci.yml': 'include: linked/a.yml\n' });
    symlinkSync(outside, join(dirRoot, 'linked'));
    expect((await loadGitLab(dirRoot)).errors[0]?.message).toBe(
      'include:local linked/a.yml: a symbolic link (not followed)',
    );
    const globRoot = repo({ '.gitlab-ci.yml': 'include: "ci/*.yml"\n', 'ci/a.yml': 'a:\n  script: [a]\n' });
    symlinkSync(join(outside, 'secret.yml'), join(globRoot, 'ci', 'b.yml'));
    expect((await loadGitLab(globRoot)).errors[0]?.message).toBe(
      'include:local ci/b.yml: a symbolic link (not followed)',
    );
    const missing = await failure({ '.gitlab-ci.yml': 'x:\n  script: [a]\ninclude:\n  - local: nope.yml\n' });
    expect(missing).toEqual({
      file: '.gitlab-ci.yml',
      line: 4,
      column: 5,
      message: 'include:local nope.yml: cannot read: ENOENT',
    });
  });

  it('reads up to 150 included files (wildcards across directories too), and stops beyond', async () => {
    const files: Record<string, string> = { '.gitlab-ci.yml': 'include: "parts/**.yml"\n' };
    for (let i = 0; i < 150; i++)
      files[`parts/${i % 2 ? 'odd/' : ''}p${String(i).padStart(3, '0')}.yml`] = `j${i}:\n  script: [a]\n`;
    expect((await pipeline(files)).jobs).toHaveLength(150);
    files['parts/p999.yml'] = 'j999:\n  script: [a]\n';
    const e = await failure(files);
    expect(e.message).toBe("more than 150 included files (GitLab's limit)");
  });

  it('lists remote, project, template and component includes (with refs) without fetching them', () => {
    const tree = parseTree(
      '.gitlab-ci.yml',
      `include:
  - https://example.com/a.yml
  - remote: https://example.com/b.yml
    integrity: sha256-abc
  - project: g/p
    ref: v1
    file: [/a.yml, b.yml]
  - template: Auto-DevOps.gitlab-ci.yml
  - component: gitlab.com/g/c/x@1.0
  - local: a/../b.yml
`,
    );
    expect(readIncludes(tree).map((i) => [i.kind, i.value, i.ref ?? i.integrity ?? i.local ?? '', i.pos.line])).toEqual(
      [
        ['remote', 'https://example.com/a.yml', '', 2],
        ['remote', 'https://example.com/b.yml', 'sha256-abc', 3],
        ['project', 'g/p:/a.yml', 'v1', 5],
        ['project', 'g/p:/b.yml', 'v1', 5],
        ['template', 'Auto-DevOps.gitlab-ci.yml', '', 8],
        ['component', 'gitlab.com/g/c/x@1.0', '', 9],
        ['local', 'a/../b.yml', 'b.yml', 10],
      ],
    );
  });

  it('an extends of something not read is a note when non-local includes exist, an error when none do', async () => {
    const r = await load({
      '.gitlab-ci.yml':
        'include:\n  - template: Jobs/Build.gitlab-ci.yml\njob:\n  extends: .auto-build\n  script: [a]\n',
    });
    expect(r.errors).toEqual([]);
    expect(r.notes.map((n) => n.message)).toContain(
      'job extends .auto-build, which is not in the files read (a remote, project, template or component include?): what it adds is not audited',
    );
    expect(await failure({ '.gitlab-ci.yml': 'job:\n  extends: .nothing\n  script: [a]\n' })).toEqual({
      file: '.gitlab-ci.yml',
      line: 2,
      column: 3,
      message: 'job.extends: .nothing is not defined in the configuration',
    });
  });
});

describe('GitLab: hostile and broken input', () => {
  it('refuses extends cycles and chains deeper than 11 levels, in one located line', async () => {
    const cycle = await failure({ '.gitlab-ci.yml': '.a:\n  extends: .b\n.b:\n  extends: .a\njob:\n  extends: .a\n' });
    expect(cycle.message).toBe('extends: circular: job -> .a -> .b -> .a');
    expect(cycle.line).toBe(4);
    const chain = (n: number): string =>
      `${Array.from({ length: n }, (_, i) => `.l${i}:\n  extends: .l${i + 1}\n`).join('')}.l${n}:\n  script: [deep]\njob:\n  extends: .l0\n`;
    // job -> .l0 -> ... -> .l10: eleven levels, as GitLab allows.
    expect(scripts(job(await pipeline({ '.gitlab-ci.yml': chain(10) }), 'job'))).toEqual(['script[0]=deep']);
    expect((await failure({ '.gitlab-ci.yml': chain(11) })).message).toBe('extends: nested more than 11 levels (job)');
    const self = await failure({ '.gitlab-ci.yml': 'job:\n  extends: job\n  script: [a]\n' });
    expect(self.message).toBe('extends: circular: job -> job');
  });

  it('refuses alias bombs, deep nesting, huge files, custom tags, duplicate keys and bad types', async () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    expect((await failure({ '.gitlab-ci.yml': `${bomb.join('\n')}\n` })).message).toMatch(
      /aliases expand to more than 200000 nodes/,
    );
    // The same bomb through !reference and extends instead of aliases.
    const refs = ['.r0:\n  script: [x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++)
      refs.push(
        `.r${i}:\n  script: [${Array(8)
          .fill(`!reference [.r${i - 1}, script]`)
          .join(', ')}]`,
      );
    refs.push('job:\n  script: [!reference [.r9, script]]');
    const refBomb = await failure({ '.gitlab-ci.yml': `${refs.join('\n')}\n` });
    expect(refBomb.message).toMatch(/expand to more than 2000000 nodes|nested more than 10 levels/);
    expect((await failure({ '.gitlab-ci.yml': `a: ${'['.repeat(100)}${']'.repeat(100)}\n` })).message).toBe(
      'nested more than 64 levels deep',
    );
    const big = await failure({ '.gitlab-ci.yml': `# ${'x'.repeat(MAX_GITLAB_BYTES + 10)}\n` });
    expect(big.message).toBe('larger than 1 MiB (refused unread)');
    expect((await failure({ '.gitlab-ci.yml': 'job: !!js/function "x"\n' })).message).toMatch(/unsupported tag/);
    expect(await failure({ '.gitlab-ci.yml': 'job:\n  script: [a]\njob:\n  script: [b]\n' })).toMatchObject({
      line: 3,
      message: 'duplicate key (each key may appear once in a mapping)',
    });
    expect(await failure({ '.gitlab-ci.yml': 'job:\n  <<: [not, maps]\n' })).toMatchObject({
      line: 2,
      message: '<< (merge key): expected a mapping or a list of mappings',
    });
    expect(await failure({ '.gitlab-ci.yml': 'job: [a, b]\n' })).toMatchObject({
      message: 'job: expected a job (a mapping), found a list',
    });
    expect(await failure({ '.gitlab-ci.yml': 'job:\n  script:\n    cmd: x\n' })).toMatchObject({
      line: 3,
      message: 'job.script: expected a command or a list of commands, found a mapping',
    });
    expect(await failure({ '.gitlab-ci.yml': 'a: [1\n' })).toMatchObject({ file: '.gitlab-ci.yml', line: 2 });
    expect(await failure({ '.gitlab-ci.yml': '- a\n- b\n' })).toMatchObject({
      message: 'expected a mapping at the top, found a list',
    });
    expect(await failure({ '.gitlab-ci.yml': 'a: *nothing\n' })).toMatchObject({ line: 1 });
    const root = repo({});
    writeFileSync(join(root, '.gitlab-ci.yml'), Buffer.from([0x6a, 0x3a, 0xff, 0xfe, 0x0a]));
    expect((await loadGitLab(root)).errors).toEqual([
      { file: '.gitlab-ci.yml', line: 1, column: 1, message: 'not UTF-8 text' },
    ]);
    // An error in an included file points into that file.
    expect(await failure({ '.gitlab-ci.yml': 'include: ci/x.yml\n', 'ci/x.yml': 'ok: 1\nbad: [\n' })).toMatchObject({
      file: 'ci/x.yml',
    });
  });

  it('fuzz: random text and random YAML give a model or one located error line, never a throw', () => {
    const yamlish = fc
      .array(
        fc.constantFrom(
          'a',
          ':',
          ' ',
          '\n',
          '-',
          '&x',
          '*x',
          '<<',
          '!reference',
          '[',
          ']',
          '{',
          '}',
          '"',
          'script',
          'extends',
          '.h',
          'rules',
          'if',
          '$',
          '|',
          '#',
          'include',
        ),
        { maxLength: 200 },
      )
      .map((a) => a.join(''));
    const check = (text: string): void => {
      try {
        const tree = parseTree('.gitlab-ci.yml', text);
        const built = buildPipeline({
          root: '.gitlab-ci.yml',
          trees: new Map([['.gitlab-ci.yml', tree]]),
          children: new Map(),
          includes: [],
        });
        expect(built.workflow.platform).toBe('gitlab');
      } catch (err) {
        expect(err).toBeInstanceOf(GitLabError);
        const e = err as GitLabError;
        expect(e.message).not.toMatch(/\n/);
        expect(e.pos.line).toBeGreaterThanOrEqual(1);
      }
    };
    fc.assert(fc.property(yamlish, check), { numRuns: 1500 });
    fc.assert(fc.property(fc.string({ maxLength: 300 }), check), { numRuns: 500 });
    const jobs = fc.dictionary(
      fc.constantFrom('.a', '.b', 'j1', 'j2', 'default', 'workflow', 'variables'),
      fc.record(
        {
          extends: fc.oneof(fc.constantFrom('.a', '.b', 'j1', 'j2'), fc.array(fc.constantFrom('.a', '.b', 'j1'))),
          script: fc.oneof(fc.string(), fc.array(fc.oneof(fc.string(), fc.array(fc.string())))),
          rules: fc.array(
            fc.record({ if: fc.string(), when: fc.constantFrom('never', 'manual', 'always') }, { requiredKeys: [] }),
          ),
          image: fc.oneof(fc.string(), fc.record({ name: fc.string() })),
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(jobs, (j) => check(JSON.stringify(j))),
      { numRuns: 800 },
    );
  });
});
