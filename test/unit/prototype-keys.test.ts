import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { genericScheme } from '../../src/advisories/versions/generic.js';
import { auditPath } from '../../src/ci/audit.js';
import { DEFAULT_CI_CONFIG } from '../../src/ci/config.js';
import { parseGitHubFile } from '../../src/ci/github/parse.js';
import { buildPipeline } from '../../src/ci/gitlab/parse.js';
import { evaluateOnlyExcept } from '../../src/ci/gitlab/sources.js';
import { parseTree } from '../../src/ci/gitlab/tree.js';
import { jobPushes } from '../../src/ci/imagepath.js';
import { parseJenkinsFile } from '../../src/ci/jenkins/parse.js';
import type { Job, Workflow } from '../../src/ci/model.js';
import { commands } from '../../src/ci/shell.js';
import { rpmNamespace } from '../../src/inventory/catalogers/rpm.js';
import { classifyLicense } from '../../src/report/licenses.js';
import { predicateTypeOf } from '../../src/sign/attestation.js';
import { lookup } from '../../src/util/record.js';

// Keys read from input that are also names of Object's own properties: `__proto__` set on an ordinary object replaces
// its prototype (the entry then hides from Object.entries, where the CI rules look for secrets); `constructor` or
// `toString` looked up in an ordinary table reads Object's function.

const HOSTILE = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];

function github(text: string): Workflow {
  const w = parseGitHubFile('w.yml', text, 'workflow');
  if ('message' in w) throw new Error(w.message);
  return w;
}

const only = (w: Workflow): Job => w.jobs[0] as Job;

describe('names that are Object properties, read from CI files', () => {
  it('are entries like any other in a GitHub workflow, so a secret under `__proto__` is seen', () => {
    const w = github(
      'on: pull_request_target\njobs:\n  b:\n    runs-on: ubuntu-latest\n    env:\n      __proto__: ${{ secrets.DEPLOY_TOKEN }}\n    steps:\n      - run: make\n        with:\n          constructor: x\n',
    );
    expect(Object.keys(only(w).env)).toEqual(['__proto__']);
    expect(only(w).env.__proto__?.value).toBe('${{ secrets.DEPLOY_TOKEN }}');
  });

  it('so the audit sees a secret under `__proto__` in a pull_request_target job', async () => {
    const root = mkdtempSync(join(tmpdir(), 'proto-keys-'));
    mkdirSync(join(root, '.github', 'workflows'), { recursive: true });
    writeFileSync(
      join(root, '.github', 'workflows', 'w.yml'),
      'on: pull_request_target\njobs:\n  b:\n    runs-on: ubuntu-latest\n    env:\n      __proto__: ${{ secrets.DEPLOY_TOKEN }}\n    steps:\n      - uses: actions/checkout@v4\n        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n      - run: make\n',
    );
    const r = await auditPath(root);
    const triggers = r.findings.filter((f) => f.ruleId === 'dangerous-triggers');
    expect(triggers.map((f) => f.severity)).toContain('high');
    expect(triggers.map((f) => f.message).join('\n')).toMatch(/DEPLOY_TOKEN/);
  });

  it('are entries like any other in GitLab variables', () => {
    const text = 'build:\n  variables:\n    __proto__: $DEPLOY_TOKEN\n  script: [make]\n';
    const w = buildPipeline({
      root: '.gitlab-ci.yml',
      trees: new Map([['.gitlab-ci.yml', parseTree('.gitlab-ci.yml', text)]]),
      children: new Map(),
      includes: [],
    }).workflow;
    expect(Object.keys(only(w).env)).toEqual(['__proto__']);
    // `only: [constructor]` is a branch name (a legitimate one), not a keyword with Object's function as sources.
    const tree = parseTree('x.yml', 'only: [constructor, toString]\n');
    const node = tree.kind === 'map' ? tree.entries.get('only')?.value : undefined;
    expect(node).toBeDefined();
    expect(() => evaluateOnlyExcept(node, node, 'on_success')).not.toThrow();
  });

  it('are entries like any other in a Jenkinsfile environment, withEnv and withCredentials', () => {
    const r = parseJenkinsFile(
      'Jenkinsfile',
      `pipeline {
  agent any
  environment { __proto__ = credentials('prod-kubeconfig') }
  stages { stage('b') { steps {
    withEnv(['constructor=1']) { withCredentials([string(credentialsId: 'c', variable: '__proto__')]) { sh 'make' } }
    toString 'not a step'
  } } }
}`,
    );
    if ('message' in r) throw new Error(r.message);
    const steps = r.workflow.jobs.flatMap((j) => j.steps);
    expect(steps.map((s) => s.run?.value)).toEqual(['make']);
    expect(Object.keys(steps[0]?.env ?? {}).sort()).toEqual(['__proto__', 'constructor']);
    expect(steps[0]?.env.__proto__?.value).toContain('string(');
  });

  it('resolve as unknown in a push destination, not as Object functions', () => {
    const w = github(
      'on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          docker push ${{ env.constructor }}/app\n          docker push $toString/app\n          docker push $__proto__/app\n',
    );
    const pushes = jobPushes(w, only(w), DEFAULT_CI_CONFIG);
    expect(pushes).toHaveLength(3);
    for (const line of ['constructor=1 docker push x', '__proto__=1 make'])
      expect(Object.keys(commands(line)[0]?.assigns ?? {})).toHaveLength(1);
  });
});

describe('names that are Object properties, read from images and arguments', () => {
  it('are text in os-release IDs, licences, attestation types and version words', () => {
    for (const id of HOSTILE) expect(rpmNamespace({ id })).toBe(id);
    for (const text of HOSTILE) expect(classifyLicense(text)).toEqual({ kind: 'name', name: text });
    for (const name of HOSTILE) expect(() => predicateTypeOf(name)).toThrow(/neither/);
    // An unknown word sorts as any other unknown word does.
    expect(genericScheme.compare('1.0constructor', '1.0')).toBe(genericScheme.compare('1.0foo', '1.0'));
    expect(lookup({ a: 1 }, 'constructor')).toBeUndefined();
  });
});
