import { describe, expect, it } from 'vitest';
import { runRules } from '../../src/ci/audit.js';
import { buildBaseline, parseBaseline, serialiseBaseline } from '../../src/ci/baseline.js';
import { type CiAuditConfig, parseCiConfig } from '../../src/ci/config.js';
import { compareSummaries, type DriftHit } from '../../src/ci/drift.js';
import { buildPipeline } from '../../src/ci/gitlab/parse.js';
import { parseTree } from '../../src/ci/gitlab/tree.js';
import type { Workflow } from '../../src/ci/model.js';
import { CI_RULES } from '../../src/ci/rules/index.js';
import { type CiSummary, summarise } from '../../src/ci/summary.js';

/**
 * `ci drift` on GitLab pipelines reads the gate as `ci audit`'s gate-bypass does (the job as one script, stages,
 * needs:, allow_failure, when:): a change makes the assessment non-blocking (or takes it away) exactly when the audit
 * then says the push is not gated. Each variant below is one edit of BASE, with what the audit says written by hand.
 */

const CONFIG: CiAuditConfig = parseCiConfig(
  `apiVersion: portcullis.dev/v1alpha1
kind: CiAuditConfig
productionRegistries: [prod.example.com/**]
stagingRegistries: [staging.example.com/**]
`,
  'ci.yaml',
  CI_RULES.map((r) => r.id),
);

// Lines: job scan at 7, its scan command at 11; job publish at 13, its push at 16.
const BASE = `stages: [build, scan, publish]
build:
  stage: build
  script:
    - buildah bud -t app .
    - buildah push app oci-archive:app.tar
scan:
  stage: scan
  script:
    - echo scanning
    - portcullis scan --policy p.yaml oci-archive:app.tar
    - echo done
publish:
  stage: publish
  script:
    - buildah push app docker://prod.example.com/team/app:1
`;

function pipeline(text: string): Workflow {
  return buildPipeline({
    root: '.gitlab-ci.yml',
    trees: new Map([['.gitlab-ci.yml', parseTree('.gitlab-ci.yml', text)]]),
    children: new Map(),
    includes: [],
  }).workflow;
}

const summary = (text: string): CiSummary => summarise([pipeline(text)], [], CONFIG);

/** The baseline as `ci drift` reads it: recorded, written as JSON, read back through the schema. */
const recorded = (text: string): CiSummary =>
  parseBaseline(Buffer.from(serialiseBaseline(buildBaseline(summary(text), new Date(0)))), 'baseline.json');

const gateHits = (text: string): DriftHit[] =>
  compareSummaries(recorded(BASE), summary(text), CONFIG).hits.filter((h) => h.ruleId.startsWith('drift-assessment'));

const bypass = (text: string): string[] =>
  runRules([pipeline(text)], CONFIG)
    .findings.filter((f) => f.ruleId === 'gate-bypass')
    .map((f) => `${f.confidence}:${f.location.kind === 'file' ? f.location.line : 0}`);

const edit = (from: string, to: string): string => {
  expect(BASE).toContain(from);
  return BASE.replace(from, to);
};

const SCAN = '    - portcullis scan --policy p.yaml oci-archive:app.tar\n';

interface Variant {
  readonly name: string;
  readonly text: string;
  /** gate-bypass findings (confidence:line), by hand; none: the push stays gated. */
  readonly audit: readonly string[];
  /** The one drift-assessment hit (rule:confidence:line), or none. */
  readonly drift?: string;
  readonly says?: RegExp;
}

const VARIANTS: readonly Variant[] = [
  {
    name: 'set +e on a line before the scan (a later command sets the status)',
    text: edit('    - echo scanning\n', '    - echo scanning\n    - set +e\n'),
    audit: ['high:12'],
    drift: 'drift-assessment-weakened:high:12',
    says: /job scan: the assessment \(portcullis scan\) can no longer fail the job: set \+e is in effect/,
  },
  {
    name: 'allow_failure: true on the scanning job',
    text: edit('  stage: scan\n', '  stage: scan\n  allow_failure: true\n'),
    audit: ['high:12'],
    drift: 'drift-assessment-weakened:high:12',
    says: /job publish: the assessment \(portcullis scan in job scan\) can no longer stop its pushes: job scan has allow_failure: true/,
  },
  {
    name: 'allow_failure: exit_codes [1] on the scanning job',
    text: edit('  stage: scan\n', '  stage: scan\n  allow_failure:\n    exit_codes: [1]\n'),
    audit: ['high:13'],
    drift: 'drift-assessment-weakened:high:13',
    says: /exit_codes \[1\]/,
  },
  {
    name: 'allow_failure: exit_codes [3] (maybe the scanner’s failure): medium',
    text: edit('  stage: scan\n', '  stage: scan\n  allow_failure:\n    exit_codes: [3]\n'),
    audit: ['medium:13'],
    drift: 'drift-assessment-weakened:medium:13',
  },
  {
    name: '|| true after the scan',
    text: edit('oci-archive:app.tar\n    - echo done', 'oci-archive:app.tar || true\n    - echo done'),
    audit: ['high:11'],
    drift: 'drift-assessment-weakened:high:11',
  },
  {
    name: 'the scanning job made when: manual (optional outside rules:)',
    text: edit('  stage: scan\n', '  stage: scan\n  when: manual\n'),
    audit: ['high:12'],
    drift: 'drift-assessment-weakened:high:12',
    says: /manual with allow_failure/,
  },
  {
    name: 'the pushing job made when: always',
    text: edit('  stage: publish\n', '  stage: publish\n  when: always\n'),
    audit: ['high:17'],
    drift: 'drift-assessment-weakened:high:17',
    says: /job publish may run with when: always/,
  },
  {
    name: 'needs: [] on the pushing job (it starts at once)',
    text: edit('  stage: publish\n', '  stage: publish\n  needs: []\n'),
    audit: ['high:17'],
    drift: 'drift-assessment-removed:high:13',
    says: /job publish: the assessment \(portcullis scan\) in job scan no longer runs before its pushes/,
  },
  {
    name: 'the pushing job moved into the scan stage (it no longer waits for the scan)',
    text: edit('  stage: publish\n', '  stage: scan\n'),
    audit: ['high:16'],
    drift: 'drift-assessment-removed:high:13',
  },
  {
    name: 'the scan moved to after_script (it cannot fail the job)',
    text: edit(`  script:\n    - echo scanning\n${SCAN}`, `  script:\n    - echo scanning\n  after_script:\n${SCAN}`),
    audit: ['high:17'],
    drift: 'drift-assessment-weakened:high:12',
    says: /job scan: .*after_script/,
  },
  {
    name: 'the push moved into the scanning job, before the scan',
    text: `${edit(SCAN, `    - buildah push app docker://prod.example.com/team/app:1\n${SCAN}`)}`.replace(
      /publish:\n[\s\S]*$/,
      '',
    ),
    audit: ['high:11'],
    drift: 'drift-assessment-weakened:high:12',
    says: /job scan: the assessment \(portcullis scan\) can no longer fail the job: it runs after the job's push at line 11/,
  },
  // Negatives: the push stays gated, and the drift says nothing about the gate.
  {
    name: 'set +e and set -e again before the scan',
    text: edit('    - echo scanning\n', '    - set +e\n    - echo scanning\n    - set -e\n'),
    audit: [],
  },
  {
    name: 'set +e after the scan (errexit was on when it ran)',
    text: edit('    - echo done\n', '    - set +e\n    - echo done\n'),
    audit: [],
  },
  {
    name: 'a saved status checked on a later line',
    text: edit(
      'oci-archive:app.tar\n    - echo done',
      'oci-archive:app.tar || rc=$?\n    - echo done\n    - \'if [ "$rc" -ne 0 ]; then exit 1; fi\'',
    ),
    audit: [],
  },
  {
    name: 'allow_failure: true on the build job, not the scanning one',
    text: edit('  stage: build\n', '  stage: build\n  allow_failure: true\n'),
    audit: [],
  },
  {
    name: 'allow_failure on the scanning job, but the pushing job scans before its push too',
    text: edit('  stage: scan\n', '  stage: scan\n  allow_failure: true\n').replace(
      '    - buildah push app docker://prod',
      `${SCAN}    - buildah push app docker://prod`,
    ),
    audit: [],
  },
  {
    name: 'needs: [scan] on the pushing job',
    text: edit('  stage: publish\n', '  stage: publish\n  needs: [scan]\n'),
    audit: [],
  },
  {
    name: 'a scan && push on one line in the pushing job, the scanning job made allow_failure',
    text: edit('  stage: scan\n', '  stage: scan\n  allow_failure: true\n').replace(
      '    - buildah push app docker://prod.example.com/team/app:1\n',
      '    - portcullis scan --policy p.yaml oci-archive:app.tar && buildah push app docker://prod.example.com/team/app:1\n    - echo pushed\n',
    ),
    audit: [],
  },
];

describe('ci drift on GitLab: the gate as gate-bypass judges it', () => {
  it('the base pipeline is gated, and a baseline of it has no drift against itself', () => {
    expect(bypass(BASE)).toEqual([]);
    expect(compareSummaries(recorded(BASE), summary(BASE), CONFIG).hits).toEqual([]);
    const publish = summary(BASE).workflows[0]?.jobs.find((j) => j.id === 'publish');
    expect(publish?.assessments).toEqual([{ step: 1, line: 11, how: 'portcullis scan', blocking: true, job: 'scan' }]);
  });

  it.each(VARIANTS.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    expect(bypass(v.text)).toEqual(v.audit);
    const hits = gateHits(v.text);
    // Exactly when the audit says the push is no longer gated, said once.
    expect(hits.length > 0).toBe(v.audit.length > 0);
    expect(hits.map((h) => `${h.ruleId}:${h.confidence}:${h.line}`)).toEqual(v.drift ? [v.drift] : []);
    if (v.says) expect(hits[0]?.message).toMatch(v.says);
  });

  it('carries set +e across the lines of before_script and script, as the runner does', () => {
    const text = edit(
      '  script:\n    - echo scanning\n',
      '  before_script:\n    - set +e\n  script:\n    - echo scanning\n',
    );
    expect(bypass(text)).toEqual(['high:13']);
    expect(gateHits(text).map((h) => h.ruleId)).toEqual(['drift-assessment-weakened']);
  });

  it('reads a baseline recorded before the other-job gates were recorded (no job or confidence fields)', () => {
    const old = JSON.parse(serialiseBaseline(buildBaseline(summary(BASE), new Date(0))));
    for (const w of old.workflows)
      for (const j of w.jobs) j.assessments = j.assessments.filter((a: { job?: string }) => a.job === undefined);
    const base = parseBaseline(Buffer.from(JSON.stringify(old)), 'old.json');
    // The gate the pushing job relies on is new to the summary: a low change, never a pass of a weakened gate.
    expect(compareSummaries(base, summary(BASE), CONFIG).hits.map((h) => [h.ruleId, h.severity])).toEqual([
      ['drift-changed', 'low'],
    ]);
    const weakened = edit('    - echo scanning\n', '    - echo scanning\n    - set +e\n');
    expect(
      compareSummaries(base, summary(weakened), CONFIG)
        .hits.filter((h) => h.ruleId.startsWith('drift-assessment'))
        .map((h) => h.line),
    ).toEqual([12]);
  });
});
