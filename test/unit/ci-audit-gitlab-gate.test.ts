import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditPath, runRules } from '../../src/ci/audit.js';
import { type CiAuditConfig, DEFAULT_CI_CONFIG, parseCiConfig } from '../../src/ci/config.js';
import { buildPipeline } from '../../src/ci/gitlab/parse.js';
import { parseTree } from '../../src/ci/gitlab/tree.js';
import type { Job, Workflow } from '../../src/ci/model.js';
import { CI_RULES } from '../../src/ci/rules/index.js';
import { ROOT } from '../helpers/paths.js';

// gate-bypass, push-to-production and artifact-poisoning on GitLab pipelines: the job as the runner runs it (one
// script), ordering by stages and needs:, allow_failure and when:, variables, and shared caches. The corpus
// (test/fixtures/ci-audit/gitlab/{gate-bypass,push-to-production,artifact-poisoning}) holds the golden cases.

const HEAD = 'apiVersion: portcullis.dev/v1alpha1\nkind: CiAuditConfig\n';
const RULES = CI_RULES.map((r) => r.id);
const config = (body: string): CiAuditConfig => parseCiConfig(HEAD + body, 'ci.yaml', RULES);
/** Staging is staging.example.com; the project's registry is registry.gitlab.example.com/team/app. */
const STAGING = config(
  'stagingRegistries: [staging.example.com/**]\nvariables: { CI_REGISTRY: registry.gitlab.example.com, CI_PROJECT_PATH: team/app }\n',
);

function pure(text: string): Workflow {
  return buildPipeline({
    root: '.gitlab-ci.yml',
    trees: new Map([['.gitlab-ci.yml', parseTree('.gitlab-ci.yml', text)]]),
    children: new Map(),
    includes: [],
  }).workflow;
}

const job = (w: Workflow, id: string): Job => {
  const j = w.jobs.find((x) => x.id === id);
  if (!j) throw new Error(`no job ${id}`);
  return j;
};

/** rule:severity:confidence:line of every finding of the three rules. */
function audit(text: string, c: CiAuditConfig = STAGING): string[] {
  const r = runRules([pure(text)], c);
  return r.findings
    .filter((f) => ['gate-bypass', 'push-to-production', 'artifact-poisoning'].includes(f.ruleId))
    .map((f) => `${f.ruleId}:${f.severity}:${f.confidence}:${f.location.kind === 'file' ? f.location.line : 0}`);
}
const messages = (text: string, c: CiAuditConfig = STAGING): string[] =>
  runRules([pure(text)], c).findings.map((f) => f.message);

function repo(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'ci-gitlab-gate-'));
  for (const [path, t] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), t);
  }
  return root;
}

describe('GitLab: what ordering needs from the model', () => {
  it('reads stages (GitLab default list when absent), needs: apart from dependencies:, when:, allow_failure, caches', () => {
    expect(pure('a:\n  script: [x]\n').stages).toEqual(['.pre', 'build', 'test', 'deploy', '.post']);
    const w = pure(`stages: [build, scan]
a:
  stage: build
  dependencies: [b]
  script: [x]
b:
  stage: scan
  needs:
    - a
    - job: c
      optional: true
    - project: other/project
      job: build
      ref: main
    - pipeline: $PARENT_PIPELINE_ID
      job: gen
  when: manual
  allow_failure:
    exit_codes: [2, 3]
  cache:
    - key: deps
      paths: [node_modules/]
      unprotect: true
    - key:
        files: [package-lock.json]
      policy: pull
  script: [x]
c:
  rules:
    - if: $CI_COMMIT_TAG
      when: manual
  script: [x]
d:
  when: manual
  script: [x]
`);
    expect(w.stages).toEqual(['.pre', 'build', 'scan', '.post']);
    // dependencies: only moves artifacts: the job still waits for the earlier stages.
    expect(job(w, 'a').gitlab?.needs).toBeUndefined();
    expect(job(w, 'b').gitlab).toMatchObject({
      needs: [
        { job: 'a', optional: false },
        { job: 'c', optional: true },
      ],
      whens: ['manual'],
      allowFailure: [2, 3],
      caches: [
        { key: 'deps', unprotect: true, policy: 'pull-push' },
        { key: 'files:package-lock.json', unprotect: false, policy: 'pull' },
      ],
    });
    // Manual in rules: is blocking (allow_failure false); manual outside rules: is optional.
    expect(job(w, 'c').gitlab?.allowFailure).toBeUndefined();
    expect(job(w, 'd').gitlab?.allowFailure).toBe(true);
  });
});

describe('GitLab gate-bypass: the job as one script', () => {
  it('set +e on an earlier line carries over to the scan on a later one', () => {
    const text = `publish:
  script:
    - set +e
    - portcullis scan oci-archive:i.tar --policy p.yaml
    - echo done
    - docker push "$CI_REGISTRY_IMAGE:1"
`;
    expect(audit(text)).toEqual(['gate-bypass:critical:high:4']);
    expect(messages(text)[0]).toMatch(/set \+e is in effect/);
    // Without it the scan stops the script before the push.
    expect(audit(text.replace('    - set +e\n', ''))).toEqual([]);
  });

  it('before_script counts (it runs in the same shell, first); a default: before_script reaches every job', () => {
    const text = `default:
  before_script:
    - portcullis scan oci-archive:i.tar --policy p.yaml
a:
  script: [docker push "$CI_REGISTRY_IMAGE:a"]
b:
  before_script: []
  script: [docker push "$CI_REGISTRY_IMAGE:b"]
`;
    expect(audit(text)).toEqual(['gate-bypass:critical:high:8']);
  });

  it('points at the exact line inside a multi-line script and in an included file', async () => {
    expect(
      audit(`publish:
  script:
    - |
      echo one
      echo two
      crane push i.tar "$CI_REGISTRY_IMAGE:x"
`),
    ).toEqual(['gate-bypass:critical:high:6']);
    const root = repo({
      '.gitlab-ci.yml': 'include: ci/publish.yml\npublish:\n  stage: deploy\n',
      'ci/publish.yml':
        'publish:\n  script:\n    - echo hi\n    - docker push registry.gitlab.example.com/team/app:1\n',
      '.portcullis/ci.yaml': `${HEAD}stagingRegistries: [staging.example.com/**]\n`,
    });
    const r = await auditPath(root);
    expect(r.findings.map((f) => [f.ruleId, f.location])).toEqual([
      ['gate-bypass', { kind: 'file', path: 'ci/publish.yml', line: 4, column: 7 }],
    ]);
  });

  it('after_script that tests $CI_JOB_STATUS is medium: the status test cannot be read', () => {
    const text = `publish:
  script:
    - portcullis scan oci-archive:i.tar --policy p.yaml
  after_script:
    - if [ "$CI_JOB_STATUS" = success ]; then docker push "$CI_REGISTRY_IMAGE:1"; fi
`;
    expect(audit(text)).toEqual(['gate-bypass:critical:medium:3']);
  });
});

describe('GitLab gate-bypass: ordering', () => {
  it('a scan job that runs only in merge request pipelines does not gate a branch pipeline push', () => {
    const text = `stages: [scan, publish]
scan:
  stage: scan
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
  script: [portcullis scan oci-archive:i.tar --policy p.yaml]
publish:
  stage: publish
  script: [docker push "$CI_REGISTRY_IMAGE:1"]
`;
    expect(audit(text)).toEqual(['gate-bypass:critical:high:9']);
    expect(audit(text.replace(/ {2}rules:\n.*\n/, ''))).toEqual([]);
  });

  it('an optional need may be absent: no gate; a required one is', () => {
    const text = `scan:
  stage: build
  script: [portcullis scan oci-archive:i.tar --policy p.yaml]
publish:
  stage: build
  needs: [{ job: scan, optional: true }]
  script: [docker push "$CI_REGISTRY_IMAGE:1"]
`;
    expect(audit(text)).toEqual(['gate-bypass:critical:high:7']);
    expect(audit(text.replace('optional: true', 'optional: false'))).toEqual([]);
  });

  it('allow_failure exit codes: 1 (a policy failure) is high, others medium', () => {
    const text = (codes: string) => `scan:
  stage: build
  allow_failure:
    exit_codes: [${codes}]
  script: [portcullis scan oci-archive:i.tar --policy p.yaml]
publish:
  stage: test
  script: [docker push "$CI_REGISTRY_IMAGE:1"]
`;
    expect(audit(text('1'))).toEqual(['gate-bypass:critical:high:5']);
    expect(audit(text('137'))).toEqual(['gate-bypass:critical:medium:5']);
  });

  it('a job running when: always in between lets what is before it through; the stage wait still holds', () => {
    const text = `stages: [scan, middle, publish]
scan:
  stage: scan
  script: [portcullis scan oci-archive:i.tar --policy p.yaml]
cleanup:
  stage: middle
  when: always
  script: [echo]
publish:
  stage: publish
  needs: [cleanup]
  script: [docker push "$CI_REGISTRY_IMAGE:1"]
`;
    // Through needs: only cleanup, which runs when the scan failed.
    expect(audit(text)).toEqual(['gate-bypass:critical:high:5']);
    expect(messages(text)[0]).toMatch(/job cleanup may run with when: always/);
    // Without needs: publish waits for every earlier stage, the scan's too.
    expect(audit(text.replace('  needs: [cleanup]\n', ''))).toEqual([]);
  });

  it('a manual push job is still a push nobody assessed, and says so', () => {
    const text = `publish:
  when: manual
  script: [docker push "$CI_REGISTRY_IMAGE:1"]
`;
    expect(audit(text)).toEqual(['gate-bypass:critical:high:3']);
    expect(messages(text)[0]).toMatch(/started by hand: when: manual is no assessment/);
  });
});

describe('GitLab: variables', () => {
  it('$CI_REGISTRY_IMAGE without a configured registry cannot be resolved: low, never taken as staging by its CI_ name', () => {
    const text = 'publish:\n  script: [docker push "$CI_REGISTRY_IMAGE:1"]\n';
    expect(audit(text, DEFAULT_CI_CONFIG)).toEqual(['gate-bypass:critical:low:2']);
    expect(messages(text, DEFAULT_CI_CONFIG)[0]).toMatch(/through CI_REGISTRY_IMAGE, CI_REGISTRY, CI_PROJECT_PATH/);
  });

  it('configured variables win over the file (GitLab: project settings over .gitlab-ci.yml)', () => {
    const text = `variables:
  TARGET: staging.example.com/team/app
publish:
  script: [docker push "$TARGET:1"]
`;
    expect(audit(text)).toEqual([]);
    const prod = config(
      'productionRegistries: [registry.example.com/**]\nstagingRegistries: [staging.example.com/**]\nvariables: { TARGET: registry.example.com/team/app }\n',
    );
    expect(audit(text, prod)).toEqual(['push-to-production:critical:high:4', 'gate-bypass:critical:high:4']);
  });

  it('a script assignment wins over both', () => {
    const text = `variables:
  TARGET: staging.example.com/team/app
publish:
  script:
    - TARGET=registry.gitlab.example.com/team/app
    - docker push "$TARGET:1"
`;
    expect(audit(text)).toEqual(['gate-bypass:critical:high:6']);
  });
});

describe('GitLab: the model pipeline (examples/ci/gitlab-ci.yml)', () => {
  const EXAMPLE = readFileSync(join(ROOT, 'examples', 'ci', 'gitlab-ci.yml'), 'utf8');
  const EXAMPLE_CONFIG = parseCiConfig(
    readFileSync(join(ROOT, 'examples', 'ci', 'portcullis-ci.yaml'), 'utf8'),
    'portcullis-ci.yaml',
    RULES,
  );
  const variant = (from: string, to: string): string => {
    expect(EXAMPLE).toContain(from);
    return EXAMPLE.replace(from, to);
  };

  it('with the example configuration: the staging push and the gate in the production environment are the design', () => {
    const r = runRules([pure(EXAMPLE)], EXAMPLE_CONFIG);
    expect(r.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(r.notes).toEqual([]);
  });

  it('without one: the staging push is a note, taken by the name of STAGING_REPO', () => {
    const r = runRules([pure(EXAMPLE)], DEFAULT_CI_CONFIG);
    expect(r.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(r.notes.filter((n) => n.ruleId === 'gate-bypass').map((n) => n.message)).toEqual([
      'job build: buildah push to staging.registry.example.com/team/app is taken as a staging push by the name of STAGING_REPO',
    ]);
  });

  it('a push to production from the build job is both a bypass and a production push', () => {
    const text = variant(
      '      rm -f /tmp/staging-auth.json\n',
      '      rm -f /tmp/staging-auth.json\n      skopeo copy oci-archive:x "docker://$PROD_REPO:latest"\n',
    );
    expect(audit(text, EXAMPLE_CONFIG)).toEqual([
      'push-to-production:critical:high:107',
      'gate-bypass:critical:high:107',
    ]);
  });

  it('the gate outside the production environment is push-to-production at medium', () => {
    const text = variant('  environment:\n    name: production\n    deployment_tier: production\n', '');
    expect(audit(text, EXAMPLE_CONFIG)).toEqual(['push-to-production:medium:high:161']);
  });

  it('a promote by skopeo copy is gated by the scan job it needs; with the scan allowed to fail, it is not', () => {
    const copy = variant(
      'portcullis gate "docker://$STAGING_REPO@$STAGING_DIGEST" --to "$PROD_REPO:git-$CI_COMMIT_SHA"',
      'skopeo copy "docker://$STAGING_REPO@$STAGING_DIGEST" "docker://$PROD_REPO:git-$CI_COMMIT_SHA"',
    );
    expect(audit(copy, EXAMPLE_CONFIG)).toEqual(['push-to-production:critical:high:164']);
    const soft = copy.replace(
      '\nscan:\n  extends: .portcullis\n',
      '\nscan:\n  extends: .portcullis\n  allow_failure: true\n',
    );
    expect(soft).not.toBe(copy);
    expect(audit(soft, EXAMPLE_CONFIG)).toEqual([
      'gate-bypass:critical:high:133',
      'push-to-production:critical:high:165',
    ]);
  });
});

describe('GitLab gate-bypass: properties', () => {
  const name = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
  const jobArb = fc.record({
    stage: fc.constantFrom('build', 'test', 'deploy'),
    needs: fc.option(fc.uniqueArray(name, { maxLength: 3 }), { nil: undefined }),
    when: fc.constantFrom(undefined, 'manual', 'always'),
    allowFailure: fc.boolean(),
    scan: fc.constantFrom('none', 'blocking', '|| true'),
    push: fc.boolean(),
  });

  it('never throws; findings point at pushing jobs only; a blocking scan first in every pushing job clears them', () => {
    fc.assert(
      fc.property(fc.dictionary(name, jobArb, { minKeys: 1 }), (jobs) => {
        const yaml = (lead: boolean) =>
          Object.entries(jobs)
            .map(([id, j]) => {
              const lines = [`${id}:`, `  stage: ${j.stage}`];
              if (j.needs) lines.push(`  needs: [${j.needs.join(', ')}]`);
              if (j.when) lines.push(`  when: ${j.when}`);
              if (j.allowFailure) lines.push('  allow_failure: true');
              lines.push('  script:');
              if (lead && j.push) lines.push('    - portcullis scan oci-archive:i.tar --policy p.yaml');
              if (j.scan === 'blocking') lines.push('    - portcullis scan oci-archive:i.tar --policy p.yaml');
              if (j.scan === '|| true') lines.push('    - portcullis scan oci-archive:i.tar --policy p.yaml || true');
              lines.push(j.push ? `    - docker push "$CI_REGISTRY_IMAGE:${id}"` : '    - echo');
              return lines.join('\n');
            })
            .join('\n');
        // A need on a job that is not there is GitLab's error; here it is simply no gate.
        const r = runRules([pure(yaml(false))], STAGING).findings.filter((f) => f.ruleId === 'gate-bypass');
        const pushing = Object.entries(jobs)
          .filter(([, j]) => j.push)
          .map(([id]) => id);
        for (const f of r) expect(pushing.some((id) => f.message.startsWith(`job ${id}:`))).toBe(true);
        expect(runRules([pure(yaml(true))], STAGING).findings.filter((f) => f.ruleId === 'gate-bypass')).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('stays linear: 3,000 pushing jobs over 30 stages, all after one scan, give no finding', () => {
    const stages = Array.from({ length: 30 }, (_, i) => `s${i}`);
    const jobs = Array.from(
      { length: 3000 },
      (_, i) => `j${i}:\n  stage: s${1 + (i % 29)}\n  script: [docker push "$CI_REGISTRY_IMAGE:${i}"]\n`,
    );
    const text = `stages: [${stages.join(', ')}]\nscan:\n  stage: s0\n  script: [portcullis scan oci-archive:i.tar --policy p.yaml]\n${jobs.join('')}`;
    expect(audit(text)).toEqual([]);
    // And with the scan allowed to fail, every push is reported, at the scan's line, as one finding.
    const soft = audit(text.replace('  stage: s0\n', '  stage: s0\n  allow_failure: true\n'));
    expect(soft).toEqual(['gate-bypass:critical:high:5']);
  });
});

describe('GitLab artifact-poisoning', () => {
  it('a cache with unprotect: true in a job that pushes is high; in one that holds nothing, medium', () => {
    const text = `build:
  cache: { key: deps, paths: [vendor/], unprotect: true }
  script:
    - make
    - docker push "$CI_REGISTRY_IMAGE:1"
lint:
  cache: { key: deps, paths: [vendor/], unprotect: true }
  script: [make lint]
`;
    const r = runRules([pure(text)], STAGING).findings.filter((f) => f.ruleId === 'artifact-poisoning');
    expect(r.map((f) => [f.severity, f.confidence, f.location.kind === 'file' ? f.location.line : 0])).toEqual([
      ['high', 'medium', 2],
      ['medium', 'medium', 7],
    ]);
    expect(r[0]?.message).toMatch(/holding a registry push/);
  });

  it('does not run on Jenkinsfiles (copyArtifacts is not read)', () => {
    expect(CI_RULES.find((r) => r.id === 'artifact-poisoning')?.platforms).toEqual(['github', 'gitlab']);
  });
});
