import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { type Document, parseDocument, type YAMLSeq } from 'yaml';
import {
  auditGitHubWorkflow,
  auditGitLabCi,
  evalGitHubIf,
  evalGitLabIf,
  githubJobsFor,
  gitlabJobs,
  gitlabJobsFor,
  gitlabScripts,
  parseYaml,
  pushDestinations,
} from '../helpers/ci-audit.js';
import { CACHE, ROOT } from '../helpers/paths.js';

// The CI examples users copy (issue 4, "CI integration"): CI builds and pushes to staging only, the gate promotes.
// The audits in test/helpers/ci-audit.ts check the invariants; each mutation below shows an audit catches its breach.

const GITHUB = join(ROOT, 'examples', 'ci', 'github-actions.yml');
const GITLAB = join(ROOT, 'examples', 'ci', 'gitlab-ci.yml');
const githubText = readFileSync(GITHUB, 'utf8');
const gitlabText = readFileSync(GITLAB, 'utf8');
const require = createRequire(import.meta.url);
/** A GitHub expression as a workflow writes it (built up, so it is not read as a template literal by mistake). */
const gh = (inner: string): string => ['$', '{{ ', inner, ' }}'].join('');

/** Edit a copy of a YAML file through the yaml package's document model, and print it back. */
function mutate(text: string, edit: (doc: Document) => void): string {
  const doc = parseDocument(text);
  edit(doc);
  return doc.toString({ lineWidth: 0 });
}

/** Run a tool the test setup provides; a missing tool fails the test (never a skip). */
function tool(path: string, args: string[], input?: string): { code: number; out: string } {
  for (const needed of [path, SHELLCHECK]) {
    if (!existsSync(needed)) {
      throw new Error(
        `${needed} is missing: run scripts/setup-test-env.sh (it installs shellcheck, builds actionlint)`,
      );
    }
  }
  const r = spawnSync(path, args, { encoding: 'utf8', input, timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

const ACTIONLINT = join(CACHE, 'go', 'bin', 'actionlint');
const SHELLCHECK = '/usr/bin/shellcheck';

function schemaValidator(file: string) {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(file, 'utf8')));
  return (doc: unknown): string[] =>
    validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
const schemastore = join(dirname(require.resolve('schemastore/package.json')), 'schemas', 'json');

describe('the expression evaluators', () => {
  const pr = { github: { event_name: 'pull_request', ref: 'refs/pull/1/merge' } };
  it.each([
    ["github.event_name == 'push' && github.ref == 'refs/heads/main'", false],
    ["github.event_name == 'PULL_REQUEST'", true],
    [gh("github.event_name != 'push'"), true],
    ["!(github.event_name == 'pull_request') || startsWith(github.ref, 'refs/pull/')", true],
    ["always() && contains(github.ref, 'heads')", false],
  ])('GitHub: %s is %s for a pull request', (expr, want) => {
    expect(evalGitHubIf(expr, pr)).toBe(want);
  });

  it('GitHub: refuses what it cannot evaluate instead of guessing', () => {
    expect(() => evalGitHubIf('github.actor == "x"', pr)).toThrow(/github.actor/);
    expect(() => evalGitHubIf("hashFiles('a') != ''", pr)).toThrow(/hashFiles/);
    expect(() => evalGitHubIf("github.ref == 'a' 'b'", pr)).toThrow(/unexpected/);
  });

  it.each([
    ['$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH', false],
    ['$CI_PIPELINE_SOURCE == "merge_request_event"', true],
    ['$CI_COMMIT_BRANCH == null', true],
    ['$CI_COMMIT_BRANCH', false],
    ['($CI_COMMIT_TAG || $CI_MERGE_REQUEST_IID) && $CI_DEFAULT_BRANCH != "main"', false],
  ])('GitLab: %s is %s for a merge request', (expr, want) => {
    const mr = { CI_PIPELINE_SOURCE: 'merge_request_event', CI_MERGE_REQUEST_IID: '3', CI_DEFAULT_BRANCH: 'main' };
    expect(evalGitLabIf(expr, mr)).toBe(want);
  });

  it('GitLab: refuses regular expression matches', () => {
    expect(() => evalGitLabIf('$CI_COMMIT_BRANCH =~ /^release/', {})).toThrow(/regular expression/);
  });

  it('finds push destinations across line continuations, ignoring flags', () => {
    const script =
      'buildah push --authfile a \\\n  --digestfile d "localhost/app" "docker://$STAGING_REPO:x"\nskopeo copy a b';
    expect(pushDestinations(script)).toEqual(['docker://$STAGING_REPO:x', 'b']);
    expect(pushDestinations('docker push registry.example.com/app:1 && echo ok')).toEqual([
      'registry.example.com/app:1',
    ]);
  });
});

describe('examples/ci/github-actions.yml', () => {
  const wf = parseYaml(githubText);

  it('keeps every invariant of the trust split', () => {
    expect(auditGitHubWorkflow(githubText)).toEqual([]);
  });

  it('runs only build and scan for a fork pull request, and build, scan and the gate for main', () => {
    expect([...githubJobsFor(wf, 'pull_request from a fork')]).toEqual(['pr-build-scan']);
    expect([...githubJobsFor(wf, 'push to main')].sort()).toEqual(['build', 'promote', 'scan']);
    expect([...githubJobsFor(wf, 'push to another branch')]).toEqual([]);
  });

  it('is valid for actionlint, with shellcheck reading every run: script', () => {
    const r = tool(ACTIONLINT, ['-no-color', '-shellcheck', SHELLCHECK, GITHUB]);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('actionlint is no rubber stamp: it flags an injected expression and a shell bug in a broken copy', () => {
    const broken = githubText.replace(
      'buildah build --format oci --pull=always -t localhost/app:pr .',
      `echo "${gh('github.event.pull_request.title')}"; cd $HOME`,
    );
    expect(broken).not.toBe(githubText);
    const r = tool(ACTIONLINT, ['-no-color', '-shellcheck', SHELLCHECK, '-'], broken);
    expect(r.code).toBe(1);
    expect(r.out).toContain('"github.event.pull_request.title" is potentially untrusted');
    expect(r.out).toContain('SC2086');
  });

  const mutations: Array<[string, (doc: Document) => void, RegExp]> = [
    [
      'a pull_request_target trigger',
      (d) => d.setIn(['on', 'pull_request_target'], null),
      /on\.pull_request_target: runs with secrets/,
    ],
    ['a workflow_run trigger', (d) => d.setIn(['on', 'workflow_run'], { workflows: ['x'] }), /on\.workflow_run/],
    [
      'an action pinned to a tag',
      (d) => d.setIn(['jobs', 'scan', 'steps', 0, 'uses'], 'actions/checkout@v6'),
      /jobs\.scan: uses 'actions\/checkout@v6', which is not pinned/,
    ],
    [
      'a short SHA',
      (d) => d.setIn(['jobs', 'build', 'steps', 0, 'uses'], 'actions/checkout@8e8c483'),
      /jobs\.build: uses 'actions\/checkout@8e8c483', which is not pinned/,
    ],
    [
      'an expression of pull request data inside run:',
      (d) => d.setIn(['jobs', 'pr-build-scan', 'steps', 2, 'run'], `echo "${gh('github.event.pull_request.title')}"`),
      /jobs\.pr-build-scan\.steps\[2\]: an expression inside run:/,
    ],
    [
      'a job without permissions',
      (d) => d.deleteIn(['jobs', 'build', 'permissions']),
      /jobs\.build: no permissions block/,
    ],
    [
      'write permissions on the build job',
      (d) => d.setIn(['jobs', 'build', 'permissions', 'packages'], 'write'),
      /jobs\.build: permissions\.packages: write/,
    ],
    ['write-all at the top', (d) => d.set('permissions', 'write-all'), /^permissions: the workflow default/],
    [
      'the gate job without its condition (it would run for pull requests)',
      (d) => {
        d.deleteIn(['jobs', 'promote', 'if']);
        d.setIn(['jobs', 'promote', 'needs'], ['pr-build-scan']);
      },
      /pull_request from a fork: jobs\.promote runs and references secrets .*PROD_PUSH_TOKEN/,
    ],
    [
      'a production secret in the build job',
      (d) => d.setIn(['jobs', 'build', 'env', 'TOKEN'], gh('secrets.PROD_PUSH_TOKEN')),
      /jobs\.build: holds PROD_PUSH_TOKEN outside the protected production environment/,
    ],
    [
      'a secret in the pull request job',
      (d) => d.setIn(['jobs', 'pr-build-scan', 'env', 'T'], gh('secrets.STAGING_PUSH_TOKEN')),
      /pull_request from a fork: jobs\.pr-build-scan runs and references secrets STAGING_PUSH_TOKEN/,
    ],
    [
      'a kubectl step',
      (d) => (d.getIn(['jobs', 'promote', 'steps']) as YAMLSeq).add({ run: 'kubectl apply -f deploy/' }),
      /jobs\.promote: runs 'kubectl'/,
    ],
    [
      'a helm upgrade after the scan',
      (d) => (d.getIn(['jobs', 'scan', 'steps']) as YAMLSeq).add({ run: 'echo ok && helm upgrade app chart/' }),
      /jobs\.scan: runs 'helm'/,
    ],
    [
      'a push to production from the build job',
      (d) =>
        d.setIn(
          ['jobs', 'build', 'steps', 1, 'run'],
          'buildah push localhost/app "docker://registry.example.com/team/app:latest"',
        ),
      /jobs\.build: pushes to 'docker:\/\/registry\.example\.com\/team\/app:latest', which is not the staging/,
    ],
    [
      'the gate outside the production environment',
      (d) => d.setIn(['jobs', 'promote', 'environment'], 'staging'),
      /jobs\.promote: runs the gate outside the production environment/,
    ],
    [
      'a checkout that keeps the token on disk',
      (d) => d.deleteIn(['jobs', 'scan', 'steps', 0, 'with']),
      /jobs\.scan\.steps\[0\]: checkout must set persist-credentials: false/,
    ],
  ];
  it.each(mutations)('the audit catches %s', (_name, edit, want) => {
    const problems = auditGitHubWorkflow(mutate(githubText, edit));
    expect(
      problems.some((p) => want.test(p)),
      problems.join('\n'),
    ).toBe(true);
  });

  it('the audit reads the pin comments as written: a SHA without its tag comment is caught', () => {
    const text = githubText.replace(
      '@8e8c483db84b4bee98b60c0593521ed34d9990e8 # v6.0.1',
      '@8e8c483db84b4bee98b60c0593521ed34d9990e8',
    );
    expect(auditGitHubWorkflow(text).some((p) => /a 'uses:' without '@<sha> # vX\.Y\.Z'/.test(p))).toBe(true);
  });
});

describe('examples/ci/gitlab-ci.yml', () => {
  const cfg = parseYaml(gitlabText);

  it('keeps every invariant of the trust split', () => {
    expect(auditGitLabCi(gitlabText)).toEqual([]);
  });

  it('builds and scans merge requests; pushes, scans and offers a manual gate on the default branch; else nothing', () => {
    expect(Object.fromEntries(gitlabJobsFor(cfg, 'merge request (from a fork)'))).toEqual({
      'mr-build': 'on_success',
      'mr-scan': 'on_success',
    });
    expect(Object.fromEntries(gitlabJobsFor(cfg, 'push to the default branch'))).toEqual({
      build: 'on_success',
      scan: 'on_success',
      promote: 'manual',
    });
    expect(gitlabJobsFor(cfg, 'push to another branch').size).toBe(0);
    expect(gitlabJobsFor(cfg, 'push of a tag').size).toBe(0);
  });

  it("matches GitLab's own CI schema (as SchemaStore ships it)", () => {
    const file = join(
      schemastore,
      'gitlab.com/gitlab-org/gitlab/-/raw/master/app/assets/javascripts/editor/schema/ci.json',
    );
    const validate = schemaValidator(file);
    expect(validate(cfg)).toEqual([]);
    // The schema does check: a misspelt keyword and an unknown environment action are refused.
    const broken = parseYaml(
      mutate(gitlabText, (d) => {
        d.setIn(['promote', 'environment', 'action'], 'deploy');
        d.setIn(['scan', 'scritp'], ['true']);
      }),
    );
    expect(validate(broken).length).toBeGreaterThan(0);
    expect(validate(broken).join('\n')).toMatch(/allowed values|additional properties/);
  });

  it('every job script passes shellcheck as the bash the runner runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gitlab-scripts-'));
    const files: string[] = [];
    for (const [name, job] of Object.entries(gitlabJobs(cfg))) {
      for (const [i, script] of gitlabScripts(cfg, job).entries()) {
        const file = join(dir, `${name}-${i}.sh`);
        writeFileSync(file, `#!/bin/bash\nset -eo pipefail\n${script}\n`);
        files.push(file);
      }
    }
    expect(files.length).toBeGreaterThanOrEqual(5);
    const r = tool(SHELLCHECK, ['-s', 'bash', '-f', 'gcc', ...files]);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  const mutations: Array<[string, (doc: Document) => void, RegExp]> = [
    [
      'an image pinned by tag only',
      (d) => d.setIn(['.portcullis', 'image'], 'docker.io/library/node:20-bookworm'),
      /\.portcullis\.image: 'docker\.io\/library\/node:20-bookworm' is not pinned by digest/,
    ],
    [
      'the gate offered to merge requests',
      (d) => d.setIn(['promote', 'rules', 0, 'if'], '$CI_PIPELINE_SOURCE == "merge_request_event"'),
      /merge request \(from a fork\): promote runs in environment production/,
    ],
    [
      'a gate that runs by itself',
      (d) => d.deleteIn(['promote', 'rules', 0, 'when']),
      /push to the default branch: the gate job promote is not manual/,
    ],
    [
      'a production credential read by the build job',
      (d) => d.addIn(['build', 'script'], 'echo "$PROD_PUSH_TOKEN" >/dev/null'),
      /build: reads PROD_PUSH_TOKEN outside production/,
    ],
    [
      'a staging credential read in a merge request job',
      (d) => d.addIn(['mr-scan', 'script'], 'echo "$STAGING_PULL_TOKEN" >/dev/null'),
      /merge request \(from a fork\): mr-scan reads STAGING_PULL_TOKEN/,
    ],
    [
      'a kubectl deploy',
      (d) => d.addIn(['build', 'script'], 'kubectl set image deploy/app app=x'),
      /build: runs 'kubectl'/,
    ],
    ['terraform', (d) => d.addIn(['scan', 'script'], 'terraform apply -auto-approve'), /scan: runs 'terraform'/],
    ['only: instead of rules', (d) => d.setIn(['mr-build', 'only'], ['merge_requests']), /mr-build: only\/except/],
    [
      'a push to production from the build job',
      (d) => d.addIn(['build', 'script'], 'skopeo copy oci-archive:x "docker://$PROD_REPO:latest"'),
      /build: pushes to 'docker:\/\/\$PROD_REPO:latest', which is not the staging repository/,
    ],
    [
      'a credential written into the file',
      (d) => d.setIn(['variables', 'PROD_PUSH_TOKEN'], 'hunter2'),
      /variables\.PROD_PUSH_TOKEN: a credential in the file itself/,
    ],
    ['no workflow rules', (d) => d.delete('workflow'), /workflow:rules missing/],
    [
      'the gate without a resource group',
      (d) => d.deleteIn(['promote', 'resource_group']),
      /promote: no resource_group/,
    ],
    [
      'a job that needs one outside its pipeline',
      (d) => d.setIn(['mr-scan', 'needs'], ['build']),
      /merge request \(from a fork\): mr-scan needs build, which is not in the pipeline/,
    ],
  ];
  it.each(mutations)('the audit catches %s', (_name, edit, want) => {
    const problems = auditGitLabCi(mutate(gitlabText, edit));
    expect(
      problems.some((p) => want.test(p)),
      problems.join('\n'),
    ).toBe(true);
  });
});
