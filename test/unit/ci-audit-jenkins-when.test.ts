import { describe, expect, it } from 'vitest';
import { runRules } from '../../src/ci/audit.js';
import { type CiAuditConfig, parseCiConfig } from '../../src/ci/config.js';
import { isJenkinsError, parseJenkinsFile } from '../../src/ci/jenkins/parse.js';
import { stageConditions } from '../../src/ci/jenkins/when.js';
import type { Workflow } from '../../src/ci/model.js';
import { CI_RULES } from '../../src/ci/rules/index.js';

// gate-bypass on Jenkins with `when`: a stage skipped by its condition does not stop the stages after it, so a scan
// in a conditional stage gates a later push only when the push's stage runs under the same conditions (or more).

const CONFIG: CiAuditConfig = parseCiConfig(
  'apiVersion: portcullis.dev/v1alpha1\nkind: CiAuditConfig\nproductionRegistries: [prod.example.com/**]\n',
  'ci.yaml',
  CI_RULES.map((r) => r.id),
);

function parse(text: string): Workflow {
  const r = parseJenkinsFile('Jenkinsfile', text);
  if (isJenkinsError(r)) throw new Error(`${r.line}:${r.column}: ${r.message}`);
  return r.workflow;
}

const SCAN = "sh 'portcullis scan docker://prod.example.com/app:1 --policy p.yaml'";
const PUSH = "sh 'docker push prod.example.com/app:1'";

/** A scan stage and a push stage, each with the `when` body given ('' for none). */
const pipeline = (scanWhen: string, pushWhen: string): string => `pipeline {
  agent any
  stages {
    stage('Scan') {${scanWhen ? `\n      when { ${scanWhen} }` : ''}
      steps { ${SCAN} }
    }
    stage('Push') {${pushWhen ? `\n      when { ${pushWhen} }` : ''}
      steps { ${PUSH} }
    }
  }
}`;

/** gate-bypass findings: confidence, and the reason up to the stage it names as not requiring it. */
function bypass(text: string): string[] {
  return runRules([parse(text)], CONFIG)
    .findings.filter((f) => f.ruleId === 'gate-bypass')
    .map((f) => `${f.confidence}: ${/cannot fail the job: (.*?), which stage/.exec(f.message)?.[1] ?? f.message}`);
}

describe('Jenkins when: which conditions a stage runs under', () => {
  it('keeps the stage’s and the enclosing stages’ conditions, allOf taken apart, evaluation options left out', () => {
    const w = parse(`pipeline {
  agent any
  stages {
    stage('Outer') {
      when { branch 'main' }
      stages {
        stage('Inner') {
          when {
            beforeAgent true
            allOf { environment name: 'DEPLOY', value: 'yes'; not { changeRequest() } }
          }
          steps { sh 'true' }
        }
      }
    }
    stage('Any') {
      when { anyOf { branch 'main'; tag 'v*' } }
      steps { sh 'true' }
    }
  }
}`);
    expect(w.jobs.map((j) => [j.id, stageConditions(j)])).toEqual([
      ['Outer / Inner', ["branch 'main'", "environment name: 'DEPLOY', value: 'yes'", 'not { changeRequest() }']],
      ['Any', ["anyOf { branch 'main'; tag 'v*' }"]],
    ]);
  });
});

describe('gate-bypass on Jenkins: a scan in a conditional stage', () => {
  it.each([
    // [case, scan when, push when, findings]
    ['no conditions anywhere', '', '', []],
    ['a condition on the push stage only (the scan always runs)', '', "branch 'main'", []],
    ['the same condition on both', "branch 'main'", "branch 'main'", []],
    ['the same condition, written with other spacing', "branch   'main'", "branch 'main'", []],
    ['a stricter push condition (the scan’s and more)', "branch 'main'", "branch 'main'; buildingTag()", []],
    ['a stricter push condition through allOf', "branch 'main'", "allOf { buildingTag(); branch 'main' }", []],
    [
      'an unconditional push after a conditional scan',
      "branch 'main'",
      '',
      ["high: stage Scan runs only when { branch 'main' }"],
    ],
    [
      'another condition on the push stage',
      "branch 'main'",
      "branch 'release'",
      ["medium: stage Scan runs only when { branch 'main' }"],
    ],
    [
      'a push condition weaker than the scan’s',
      "branch 'main'; buildingTag()",
      "branch 'main'",
      ['medium: stage Scan runs only when { buildingTag() }'],
    ],
    [
      'anyOf blocks that differ inside (not taken as the same)',
      "anyOf { branch 'main'; branch 'release' }",
      "anyOf { branch 'main'; branch 'dev' }",
      ["medium: stage Scan runs only when { anyOf { branch 'main'; branch 'release' } }"],
    ],
  ] as const)('%s', (_name, scanWhen, pushWhen, expected) => {
    expect(bypass(pipeline(scanWhen, pushWhen))).toEqual(expected);
  });

  it('a nested scan stage with its own condition does not gate a push under the outer condition only', () => {
    const text = `pipeline {
  agent any
  stages {
    stage('Main') {
      when { branch 'main' }
      stages {
        stage('Scan') {
          when { expression { return params.SCAN } }
          steps { ${SCAN} }
        }
        stage('Push') { steps { ${PUSH} } }
      }
    }
  }
}`;
    expect(bypass(text)).toEqual(['medium: stage Main / Scan runs only when { expression { return params.SCAN } }']);
    // The same push, nested under both conditions, is gated.
    expect(
      bypass(
        text.replace(`stage('Push') { steps`, `stage('Push') { when { expression { return params.SCAN } }; steps`),
      ),
    ).toEqual([]);
  });

  it('a scan that always runs still gates, beside a conditional one', () => {
    const text = pipeline("branch 'main'", '').replace(
      "stage('Push')",
      `stage('Always') { steps { ${SCAN} } }\n    stage('Push')`,
    );
    expect(bypass(text)).toEqual([]);
  });

  it('the pipeline’s post after a conditional scan stage is not gated by it', () => {
    const text = pipeline("branch 'main'", '').replace(/\n {2}\}\n\}$/, `\n  }\n  post { success { ${PUSH} } }\n}`);
    // The push stage's push, and the post's.
    expect(bypass(text)).toEqual([
      "high: stage Scan runs only when { branch 'main' }",
      "high: stage Scan runs only when { branch 'main' }",
    ]);
  });
});

describe('gate-bypass on Jenkins: a push in a post condition', () => {
  const inPipelinePost = (cond: string): string => `pipeline {
  agent any
  stages {
    stage('Scan') { steps { ${SCAN} } }
  }
  post {
    ${cond} { ${PUSH} }
  }
}`;
  const inStagePost = (cond: string): string => `pipeline {
  agent any
  stages {
    stage('Release') {
      steps { ${SCAN} }
      post { ${cond} { ${PUSH} } }
    }
  }
}`;

  it('post success (and fixed) runs only when the stages passed: the scan gates the push', () => {
    for (const cond of ['success', 'fixed']) {
      expect(bypass(inPipelinePost(cond))).toEqual([]);
      expect(bypass(inStagePost(cond))).toEqual([]);
    }
  });

  it('the conditions that run after a failure (always, failure, unsuccessful, cleanup, ...) are a bypass', () => {
    for (const cond of [
      'always',
      'failure',
      'unsuccessful',
      'cleanup',
      'changed',
      'regression',
      'aborted',
      'unstable',
    ]) {
      expect(bypass(inPipelinePost(cond)), cond).toEqual([
        `high: job post { ${cond} }: docker push to production prod.example.com/app at line 7; its assessment (portcullis scan in job Scan) cannot fail the job: the push is in the pipeline's post { ${cond} }, which runs when a stage failed too`,
      ]);
      expect(bypass(inStagePost(cond)), cond).toEqual([
        `high: job Release: docker push to production prod.example.com/app at line 6; its assessment (portcullis scan) cannot fail the job: the push is in the stage's post { ${cond} }, which runs after a failure too`,
      ]);
    }
  });

  it('points at the post condition, and names the push line', () => {
    const text = inPipelinePost('always').replace(`always { ${PUSH} }`, `always {\n      ${PUSH}\n    }`);
    const [f] = runRules([parse(text)], CONFIG).findings.filter((x) => x.ruleId === 'gate-bypass');
    expect(f?.location).toMatchObject({ kind: 'file', line: 7 });
    expect(f?.message).toContain('prod.example.com/app at line 8;');
  });
});
