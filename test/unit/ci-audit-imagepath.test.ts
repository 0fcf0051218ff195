import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jobAssessments, wordMatch } from '../../src/ci/assessment.js';
import { auditPath } from '../../src/ci/audit.js';
import { DEFAULT_CI_CONFIG, parseCiConfig } from '../../src/ci/config.js';
import { parseGitHubFile } from '../../src/ci/github/parse.js';
import { destination, jobPushes } from '../../src/ci/imagepath.js';
import type { Step, Workflow } from '../../src/ci/model.js';
import { CI_RULES } from '../../src/ci/rules/index.js';
import { commands } from '../../src/ci/shell.js';
import { PortcullisError } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';

// Where pipelines sit in the image path: the CI audit configuration, push destinations, the assessment step and
// whether it can still fail the job, on the team's model workflow and on variations of it.

const EXAMPLE = readFileSync(join(ROOT, 'examples', 'ci', 'github-actions.yml'), 'utf8');
const EXAMPLE_CONFIG = join(ROOT, 'examples', 'ci', 'portcullis-ci.yaml');
const HEAD = 'apiVersion: portcullis.dev/v1alpha1\nkind: CiAuditConfig\n';
const RULES = CI_RULES.map((r) => r.id);

function repo(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'ci-path-'));
  for (const [f, t] of Object.entries(files)) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    writeFileSync(join(root, f), t);
  }
  return root;
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof PortcullisError) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('no error');
}

function workflow(text: string): Workflow {
  const w = parseGitHubFile('w.yml', text, 'workflow');
  if ('message' in w) throw new Error(w.message);
  return w;
}

/** The model workflow with one text replaced (the replacement must happen). */
function variant(from: string, to: string): string {
  expect(EXAMPLE).toContain(from);
  return EXAMPLE.replace(from, to);
}

const summary = (r: Awaited<ReturnType<typeof auditPath>>) =>
  r.findings.map(
    (f) => `${f.ruleId}:${f.severity}:${f.confidence}:${f.location.kind === 'file' ? f.location.line : 0}`,
  );

describe('CI audit configuration', () => {
  it('the schema is draft-07 with an $id and compiles strictly; the example config parses', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'ci.schema.json'), 'utf8'));
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(() => new Ajv({ strict: true, strictRequired: false }).compile(schema)).not.toThrow();
    const c = parseCiConfig(readFileSync(EXAMPLE_CONFIG, 'utf8'), EXAMPLE_CONFIG, RULES);
    expect(c.production?.map((g) => g.test('registry.example.com/team/app'))).toEqual([true]);
    expect(c.staging?.some((g) => g.test('staging.registry.example.com/team/app'))).toBe(true);
    expect(c.variables.PROD_REPO).toBe('registry.example.com/team/app');
    expect(c.commands).toEqual([['trivy', 'image', '*', '--exit-code', '1']]);
    expect(c.actions).toEqual([{ uses: 'aquasecurity/trivy-action', with: { 'exit-code': '1' } }]);
  });

  it('names the file, line, column and field of a mistake', () => {
    expect(errorOf(() => parseCiConfig(`${HEAD}productionRegistries: [registry.example.com/a b]\n`, 'c.yaml'))).toMatch(
      /^CONFIG_INVALID: c\.yaml:3:\d+: productionRegistries\[0\]: must be a host\/path glob/,
    );
    expect(errorOf(() => parseCiConfig(`${HEAD}productionRegistry: [x.io/a]\n`, 'c.yaml'))).toMatch(
      /^CONFIG_INVALID: c\.yaml:3:1: /,
    );
    expect(errorOf(() => parseCiConfig(`${HEAD}ignore:\n  - rule: gate-bypas\n    reason: x\n`, 'c.yaml', RULES))).toBe(
      "CONFIG_INVALID: c.yaml:4:11: ignore[0].rule: no CI rule 'gate-bypas'",
    );
    expect(errorOf(() => parseCiConfig(`${HEAD}assessment:\n  commands: ['* *']\n`, 'c.yaml'))).toMatch(
      /c\.yaml:4:\d+: assessment\.commands\[0\]: names no command/,
    );
    expect(errorOf(() => parseCiConfig('kind: [', 'c.yaml'))).toMatch(/^CONFIG_INVALID: c\.yaml:1:\d+: /);
  });

  it('is read from .portcullis/ci.yaml in the repository, or --config (which must exist)', async () => {
    const root = repo({
      '.github/workflows/image.yml': EXAMPLE,
      '.portcullis/ci.yaml': readFileSync(EXAMPLE_CONFIG, 'utf8'),
    });
    const r = await auditPath(root);
    expect(r.config).toBe(join(root, '.portcullis', 'ci.yaml'));
    expect(r.notes).toEqual([]);
    await expect(auditPath(root, { config: join(root, 'nope.yaml') })).rejects.toThrow(
      /--config .*nope\.yaml: no such file/,
    );
  });
});

describe('the model workflow (examples/ci/github-actions.yml)', () => {
  it('audits clean with its config: staging pushes and the gate in the production environment are the design', async () => {
    const root = repo({ '.github/workflows/image.yml': EXAMPLE });
    const r = await auditPath(root, { config: EXAMPLE_CONFIG });
    expect(r.errors).toEqual([]);
    expect(r.findings).toEqual([]);
    expect(r.notes).toEqual([]);
  });

  it('without a config, push-to-production is listed as not checked and the staging push is a note', async () => {
    const r = await auditPath(repo({ '.github/workflows/image.yml': EXAMPLE }));
    expect(r.findings).toEqual([]);
    expect(r.notes).toEqual([
      { ruleId: 'push-to-production', message: expect.stringMatching(/^not checked: no productionRegistries/) },
      {
        ruleId: 'gate-bypass',
        file: '.github/workflows/image.yml',
        line: 110,
        message: expect.stringMatching(
          /job build: buildah push to .*STAGING_REPO.* is taken as a staging push by its name/,
        ),
      },
    ]);
  });

  it('the gate promoting outside an environment is push-to-production at medium', async () => {
    const root = repo({ '.github/workflows/image.yml': variant('    environment: production\n', '') });
    expect(summary(await auditPath(root, { config: EXAMPLE_CONFIG }))).toEqual(['push-to-production:medium:high:222']);
  });

  it('a promote by skopeo copy instead of the gate is a production push, gated only by the scan job', async () => {
    const copy = variant(
      'portcullis gate "docker://$STAGING_REPO@$DIGEST" --to "$PROD_REPO:git-$GITHUB_SHA"',
      'skopeo copy "docker://$STAGING_REPO@$DIGEST" "docker://$PROD_REPO:git-$GITHUB_SHA"',
    );
    // The scan job's failure fails the job (status != 0 exits 1), so the copy is gated: only the production push.
    const gated = await auditPath(repo({ '.github/workflows/image.yml': copy }), { config: EXAMPLE_CONFIG });
    expect(summary(gated)).toEqual(['push-to-production:critical:high:223']);
    // Without the final check the kept status fails nothing: a bypass, pointed at the scan.
    const unchecked = copy.replace('            exit 1\n          fi\n', '            echo warn\n          fi\n');
    const r = await auditPath(repo({ '.github/workflows/image.yml': unchecked }), { config: EXAMPLE_CONFIG });
    expect(summary(r)).toEqual(['gate-bypass:critical:high:156', 'push-to-production:critical:high:223']);
    expect(r.findings[0]?.message).toMatch(/kept in \$status and nothing later fails the job on it/);
  });

  it('the configuration ignore list accepts a finding with its reason, by rule, file and job', async () => {
    const root = repo({
      '.github/workflows/image.yml': variant('    environment: production\n', ''),
      '.portcullis/ci.yaml': `${readFileSync(EXAMPLE_CONFIG, 'utf8')}ignore:\n  - rule: push-to-production\n    files: ['.github/workflows/*.yml']\n    jobs: [promote]\n    reason: the runner is inside the production zone\n`,
    });
    const r = await auditPath(root);
    expect(r.findings).toEqual([]);
    expect(r.ignored).toEqual([
      {
        ruleId: 'push-to-production',
        file: '.github/workflows/image.yml',
        line: 222,
        reason: 'the runner is inside the production zone',
      },
    ]);
  });
});

describe('push destinations', () => {
  it('normalises references and tells local stores from registries', () => {
    expect(destination('docker://Registry.Example.com/prod/app:1.0', '', [])).toEqual({
      kind: 'registry',
      repo: 'registry.example.com/prod/app',
    });
    expect(destination('nginx:1.27', '', [])).toEqual({ kind: 'registry', repo: 'docker.io/library/nginx' });
    expect(destination('org/app@sha256:abc', '', [])).toEqual({ kind: 'registry', repo: 'docker.io/org/app' });
    expect(destination('oci-archive:/tmp/x.tar', '', []).kind).toBe('local');
    expect(destination('localhost:5000/app:1', '', []).kind).toBe('local');
    expect(destination('\u0000:tag', '$X:tag', ['X'])).toEqual({ kind: 'unresolved', text: '$X:tag', via: ['X'] });
    // Unknown only in the tag still names the repository.
    expect(destination('ghcr.io/o/app:\u0000', '', [])).toEqual({ kind: 'registry', repo: 'ghcr.io/o/app' });
  });

  it('resolves through script assignments, step, job and workflow env, and configured vars', () => {
    const w = workflow(`on: push
env:
  HOST: registry.example.com
jobs:
  a:
    runs-on: ubuntu-24.04
    env:
      TEAM: prod
    steps:
      - run: |
          IMAGE="$HOST/$TEAM/app"
          docker push "$IMAGE:1"
          podman push --authfile a.json localhost/app docker://\${{ vars.REPO }}:2
          skopeo copy --dest-creds u:p docker://x.io/a docker://$SECRET_DEST:3
        env:
          SECRET_DEST: \${{ secrets.DEST }}
`);
    const config = { ...DEFAULT_CI_CONFIG, variables: { REPO: 'quay.io/org/app' } };
    const pushes = jobPushes(w, w.jobs[0] as Workflow['jobs'][number], config);
    expect(pushes.map((p) => [p.tool, p.dest.kind === 'registry' ? p.dest.repo : p.dest.kind, p.pos.line])).toEqual([
      ['docker push', 'registry.example.com/prod/app', 12],
      ['podman push', 'quay.io/org/app', 13],
      ['skopeo copy', 'unresolved', 14],
    ]);
  });
});

describe('the assessment step', () => {
  const job = (script: string, shell?: string) =>
    workflow(
      `on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n${shell ? `    defaults:\n      run:\n        shell: ${shell}\n` : ''}    steps:\n      - run: |\n${script
        .split('\n')
        .map((l) => `          ${l}`)
        .join('\n')}\n`,
    ).jobs[0] as Workflow['jobs'][number];
  const weak = (script: string, shell?: string) =>
    jobAssessments(job(script, shell), DEFAULT_CI_CONFIG).map((a) => a.weak?.confidence ?? 'ok');

  it('can fail the job when nothing takes the failure away', () => {
    expect(weak('portcullis scan x --policy p.yaml')).toEqual(['ok']);
    expect(weak('portcullis gate x --to y')).toEqual(['ok']);
    expect(weak('portcullis scan x --policy p | tee out', 'bash')).toEqual(['ok']); // bash: pipefail
    expect(weak('set -euo pipefail\nportcullis scan x --policy p | tee out')).toEqual(['ok']);
    expect(weak('portcullis scan x --policy p || exit 1')).toEqual(['ok']);
    expect(weak('portcullis scan x --policy p || { echo failed >&2; exit 1; }')).toEqual(['ok']);
    expect(weak('s=0\nportcullis scan x --policy p || s=$?\n[ "$s" -eq 0 ]')).toEqual(['ok']);
    expect(weak('portcullis scan x --policy p || s=$?\nexit "$s"')).toEqual(['ok']);
  });

  it('cannot when a failure is swallowed, and says medium when it cannot tell', () => {
    expect(weak('portcullis scan x --policy p || true')).toEqual(['high']);
    expect(weak('portcullis scan x --policy p || :')).toEqual(['high']);
    expect(weak('portcullis scan x --policy p | tee out')).toEqual(['high']);
    expect(weak('set +e\nportcullis scan x --policy p\nexit 0')).toEqual(['high']);
    expect(weak('portcullis scan x --policy p\necho done', 'bash {0}')).toEqual(['high']);
    expect(weak('portcullis scan x')).toEqual(['high']);
    expect(weak('portcullis scan x --policy p || s=$?\n[ "$s" -le 1 ]')).toEqual(['high']);
    expect(weak('portcullis scan x --policy p || s=$?\nnotify "$s"')).toEqual(['medium']);
    expect(weak('portcullis scan x --policy p || notify')).toEqual(['medium']);
    expect(weak('if portcullis scan x --policy p; then echo ok; fi')).toEqual(['medium']);
  });

  it('word patterns: words in order, a lone * for any words, * inside a word for any characters', () => {
    const p = ['trivy', 'image', '*', '--exit-code', '1'];
    expect(wordMatch(p, ['trivy', 'image', '--severity', 'HIGH', '--exit-code', '1', 'img'])).toBe(true);
    expect(wordMatch(p, ['/usr/bin/trivy', 'image', '--exit-code', '1'])).toBe(true);
    expect(wordMatch(p, ['trivy', 'image', '--exit-code', '0'])).toBe(false);
    expect(wordMatch(p, ['echo', 'trivy', 'image', '--exit-code', '1'])).toBe(false);
    expect(wordMatch(['grype', '*', '--fail-on=*'], ['grype', 'img', '--fail-on=high'])).toBe(true);
  });

  it('fuzz: any script reads as commands, and the analyses never throw', () => {
    const alphabet = fc.constantFrom(
      ...'portcullis scan gate --policy || && | ; & $? s=$? set +e -o pipefail if then fi exit 0 1 [ ] " \' \\ \n { } ( ) docker push x.io/a'.split(
        ' ',
      ),
      ' ',
      '\n',
    );
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 60 }), (parts) => {
        const script = parts.join(' ');
        expect(commands(script).every((c) => c.text.length > 0)).toBe(true);
        const base = job('true');
        const step = { ...(base.steps[0] as Step), run: { value: script, pos: { line: 1, column: 1 } } };
        const j = { ...base, steps: [step] };
        for (const a of jobAssessments(j, DEFAULT_CI_CONFIG)) expect(a.pos.line).toBeGreaterThan(0);
        jobPushes(workflow('on: push\njobs:\n  a:\n    runs-on: x\n'), j, DEFAULT_CI_CONFIG);
      }),
      { numRuns: 300 },
    );
  });
});

describe('composite actions', () => {
  it("a push inside an action is reported at medium: its callers' earlier steps cannot be seen", async () => {
    const root = repo({
      'publish/action.yml': `name: publish
runs:
  using: composite
  steps:
    - shell: bash
      run: docker push "registry.example.com/team/app:$TAG"
`,
    });
    const r = await auditPath(root, { config: EXAMPLE_CONFIG });
    expect(summary(r)).toEqual(['push-to-production:critical:high:6', 'gate-bypass:critical:medium:6']);
  });
});

describe('hostile workflows', () => {
  it('names from the workflow are taken literally, and a script of thousands of scans and pushes stays bounded', async () => {
    const lines = Array.from({ length: 12_000 }, (_, i) =>
      i % 2 ? `docker push registry.example.com/team/a:${i}` : 'portcullis scan x --policy p && true || s=$?',
    );
    const root = repo({
      '.github/workflows/w.yml': `# hostile
on: push
jobs:
  a:
    runs-on: ubuntu-24.04
    steps:
      - id: "sc(an"
        run: |
          portcullis scan x --policy p || st=$?
          echo "x=$st" >> "$GITHUB_OUTPUT"
      - env:
          "S(": \${{ steps.sc(an.outputs.x }}
        run: |
          [ "$S(" -eq 0 ]
          docker push registry.example.com/team/b:1
      - run: |
${lines.map((l) => `          ${l}`).join('\n')}
`,
    });
    const r = await auditPath(root, { config: EXAMPLE_CONFIG });
    expect(r.errors.map((e) => e.message)).toEqual([]);
    // The first scan's kept status is checked by the next step through its odd names (read literally, not as
    // patterns), so every push after it is gated.
    expect(r.findings.filter((f) => f.ruleId === 'gate-bypass')).toEqual([]);
    expect(r.findings.filter((f) => f.ruleId === 'push-to-production').length).toBe(6_001);
  });
});

describe('portcullis ci audit --config', () => {
  it('table lists rules not checked; JSON carries notes and the config; a bad config exits 2 with a located line', async () => {
    const root = repo({ '.github/workflows/image.yml': EXAMPLE });
    const table = await runCli(['ci', 'audit', root]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/\nNot checked:\n {2}push-to-production: not checked: no productionRegistries/);
    const json = await runCli(['ci', 'audit', root, '-f', 'json', '--config', EXAMPLE_CONFIG]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ findings: [], notes: [], ignored: [], config: EXAMPLE_CONFIG });
    const bad = join(root, 'bad.yaml');
    writeFileSync(bad, `${HEAD}stagingRegistries: nope\n`);
    const r = await runCli(['ci', 'audit', root, '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^portcullis: CONFIG_INVALID: .*bad\.yaml:3:20: stagingRegistries: must be a list/);
  });
});
