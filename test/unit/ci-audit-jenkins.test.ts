import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditPath } from '../../src/ci/audit.js';
import { MAX_JENKINS_BYTES, MAX_NESTING } from '../../src/ci/jenkins/lex.js';
import { isJenkinsFile } from '../../src/ci/jenkins/load.js';
import { isJenkinsError, type JenkinsParse, parseJenkinsFile } from '../../src/ci/jenkins/parse.js';
import type { LoadError } from '../../src/ci/model.js';
import { ROOT } from '../helpers/paths.js';

// The Jenkins corpus (test/fixtures/ci-audit/jenkins/<rule>/<case>/Jenkinsfile): each starts with a comment saying what
// it shows; expected.json lists every finding of every rule, checked by hand.
const CORPUS = join(ROOT, 'test', 'fixtures', 'ci-audit', 'jenkins');
const cases = readdirSync(CORPUS).flatMap((rule) =>
  readdirSync(join(CORPUS, rule)).map((name) => ({ rule, name, dir: join(CORPUS, rule, name) })),
);

const ok = (r: JenkinsParse | LoadError): JenkinsParse => {
  if (isJenkinsError(r)) throw new Error(`unexpected error: ${r.line}:${r.column}: ${r.message}`);
  return r;
};
const parse = (text: string) => ok(parseJenkinsFile('Jenkinsfile', text));

describe('ci audit: Jenkins corpus', () => {
  it.each(cases.map((c) => [`${c.rule}/${c.name}`, c] as const))('%s', async (_label, c) => {
    const expected = JSON.parse(readFileSync(join(c.dir, 'expected.json'), 'utf8'));
    const r = await auditPath(c.dir);
    expect(r.errors).toEqual([]);
    expect(r.files).toEqual(['Jenkinsfile']);
    const got = r.findings.map((f) => ({
      ruleId: f.ruleId,
      severity: f.severity,
      confidence: f.confidence,
      file: f.location.kind === 'file' ? f.location.path : '',
      line: f.location.kind === 'file' ? f.location.line : 0,
    }));
    expect(got).toEqual(expected);
    expect(readFileSync(join(c.dir, 'Jenkinsfile'), 'utf8')).toMatch(/^(\/\/|\/\*) \S/);
  });

  it('has a positive and a negative case for each rule it covers', () => {
    for (const rule of new Set(cases.map((c) => c.rule))) {
      const mine = cases.filter((c) => c.rule === rule);
      const ids = (c: (typeof cases)[number]) =>
        (JSON.parse(readFileSync(join(c.dir, 'expected.json'), 'utf8')) as { ruleId: string }[]).map((e) => e.ruleId);
      if (rule !== 'push-to-production')
        expect(mine.some((c) => c.name.startsWith('neg-') && !ids(c).includes(rule))).toBe(true);
      expect(
        mine.some((c) => ids(c).includes(rule)),
        rule,
      ).toBe(true);
    }
  });

  it('reads a script block and a scripted pipeline for sh steps, and says what it did not analyse', async () => {
    const r = await auditPath(join(CORPUS, 'unverified-script-exec', 'pos-scripted-node'));
    expect(r.notes.find((n) => n.ruleId === 'not-read')?.message).toMatch(/scripted pipeline.*not analysed/);
    const d = await auditPath(join(CORPUS, 'ci-deploys', 'pos-credentials-kubectl', 'Jenkinsfile'));
    expect(d.files).toEqual(['Jenkinsfile']);
    expect(d.notes.some((n) => n.ruleId === 'not-read' && n.line === 28 && /script block/.test(n.message))).toBe(true);
  });
});

describe('Jenkinsfile parsing', () => {
  it('maps stages to jobs in order, with agents, environment, when and the shell steps', () => {
    const p = parse(`pipeline {
  agent { docker { image 'node:22' } }
  environment { A = 'x'; T = credentials('tok') }
  triggers { cron('H 4 * * *') }
  stages {
    stage('one') { steps { sh "echo \${A} \\$HOME" } }
    stage('two') {
      when { branch 'main' }
      parallel {
        stage('a') { agent { label 'arm' }; steps { bat 'dir' } }
        stage('b') { steps { sh(script: '''x
y''', returnStatus: true) } }
      }
    }
    stage('three') { steps { withEnv(['K=v']) { sh 'env' } } }
  }
}`);
    const w = p.workflow;
    expect(w.platform).toBe('jenkins');
    expect(w.triggers).toEqual([{ event: 'cron', config: 'H 4 * * *', pos: { line: 4, column: 14 } }]);
    expect(Object.keys(w.env)).toEqual(['A', 'T']);
    expect(w.env.T?.value).toBe("credentials('tok')");
    expect(w.jobs.map((j) => [j.id, j.needs, j.runsOn, j.images.map((i) => i.value)])).toEqual([
      ['one', [], [], ['node:22']],
      ['two / a', ['one'], ['arm'], ['node:22']],
      ['two / b', ['one'], [], ['node:22']],
      ['three', ['two / a', 'two / b'], [], ['node:22']],
    ]);
    const [one, a, b, three] = w.jobs;
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the GString's interpolation, kept as written
    expect(one?.steps[0]?.run?.value).toBe('echo ${A} $HOME');
    expect(a?.if?.value).toBe("branch 'main'");
    expect(a?.steps[0]?.shell).toBe('cmd');
    expect(b?.steps[0]?.run?.value).toBe('x\ny');
    expect(b?.steps[0]?.continueOnError).toBe(true);
    expect(three?.steps[0]?.env.K?.value).toBe('v');
  });

  it('notes shared libraries, non-literal scripts, and files with no pipeline in them', () => {
    const lib = parse("@Library('ci-lib') _\npipeline { agent any; stages { stage('s') { steps { sh cmd } } } }");
    expect(lib.notes.map((n) => n.message)).toEqual([
      expect.stringMatching(/shared library/),
      expect.stringMatching(/not a string literal/),
    ]);
    const gs = parse(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Groovy interpolation in a GString and a plain string
      "pipeline { agent any; stages { stage('s') { steps { sh \"echo ${env.CHANGE_TITLE}\"; sh 'echo ${env.CHANGE_TITLE}' } } } }",
    );
    expect(gs.notes.map((n) => [n.line, n.column, n.message.slice(0, 40)])).toEqual([
      [1, 56, 'sh step interpolates env.CHANGE_TITLE in'],
    ]);
    const call = parse("buildPlugin(platforms: ['linux'])\n");
    expect(call.workflow.jobs).toEqual([]);
    expect(call.notes[0]?.message).toMatch(/no pipeline/);
  });

  it('finds Jenkinsfile, Jenkinsfile.<name> and <name>.jenkinsfile, not documents about them', () => {
    expect(['Jenkinsfile', 'Jenkinsfile.release', 'deploy.jenkinsfile'].every(isJenkinsFile)).toBe(true);
    expect(['Jenkinsfile.md', 'jenkins.yml', 'MyJenkinsfile'].some(isJenkinsFile)).toBe(false);
  });
});

describe('Jenkinsfile hostile input', () => {
  const err = (text: string) => {
    const r = parseJenkinsFile('Jenkinsfile', text);
    if (!isJenkinsError(r)) throw new Error('expected an error');
    return r;
  };

  it('reports unterminated strings, comments and blocks where they start', () => {
    expect(err("pipeline {\n  stages { sh 'oops\n}")).toMatchObject({
      line: 2,
      column: 15,
      message: expect.stringMatching(/unterminated string/),
    });
    expect(err('pipeline {\n sh """never closed\n')).toMatchObject({ line: 2, column: 5 });
    expect(err('a /* no end')).toMatchObject({ line: 1, column: 3, message: expect.stringMatching(/comment/) });
    expect(err('pipeline {\n  stages {\n')).toMatchObject({ line: 2, column: 10, message: "'{' is not closed" });
    expect(err('x(]')).toMatchObject({ line: 1, column: 3, message: expect.stringMatching(/unbalanced/) });
    expect(err('sh "${ { "')).toMatchObject({ line: 1, column: 4 });
  });

  it('refuses deep nesting and huge files with one located line', () => {
    expect(err(`${'{'.repeat(10_000)}${'}'.repeat(10_000)}`).message).toMatch(new RegExp(`${MAX_NESTING} levels`));
    expect(err(`x(${'['.repeat(100)}`).message).toMatch(/nested/);
    expect(err(`sh "${'${'.repeat(200)}"`).message).toMatch(/nested|deep/);
    expect(err(' '.repeat(MAX_JENKINS_BYTES + 1)).message).toMatch(/larger than/);
    expect(err('x\n'.repeat(150_000)).message).toMatch(/more than .* tokens/);
  });

  it('fails the audit closed on a file it cannot read, naming the file, line and column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-jenkins-'));
    try {
      mkdirSync(join(dir, 'ci'));
      writeFileSync(join(dir, 'Jenkinsfile'), "pipeline {\n  stages {\n    stage('x') { steps { sh '''never closed\n");
      writeFileSync(join(dir, 'ci', 'big.jenkinsfile'), 'x'.repeat(MAX_JENKINS_BYTES + 1));
      writeFileSync(join(dir, 'ci', 'bin.jenkinsfile'), Buffer.from([0xff, 0xfe, 0x00]));
      symlinkSync('/etc/passwd', join(dir, 'ci', 'Jenkinsfile.link'));
      const r = await auditPath(dir);
      expect(r.errors.map((e) => [e.file, e.line, e.column, e.message])).toEqual([
        ['ci/Jenkinsfile.link', 1, 1, 'a symbolic link (not followed)'],
        ['Jenkinsfile', 3, 29, "unterminated string (''' not closed)"],
        ['ci/big.jenkinsfile', 1, 1, 'larger than 1 MiB (refused unread)'],
        ['ci/bin.jenkinsfile', 1, 1, 'not UTF-8 text'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives a model or a one-line located error for any input (fuzz)', () => {
    const pieces = fc.constantFrom(
      'pipeline',
      'stages',
      "stage('s')",
      'steps',
      'script',
      'node',
      'sh',
      "'a'",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a Groovy GString, not a JavaScript template
      '"b ${c}"',
      "'''x\n'''",
      '"""y"""',
      '{',
      '}',
      '(',
      ')',
      '[',
      ']',
      '\n',
      ';',
      ' ',
      '//c\n',
      '/*d*/',
      '\\',
      '$',
      "withCredentials([file(credentialsId: 'k', variable: 'V')])",
      'x: true,',
      '@Library',
    );
    const input = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.array(pieces, { maxLength: 80 }).map((a) => a.join('')),
    );
    fc.assert(
      fc.property(input, (text) => {
        const r = parseJenkinsFile('Jenkinsfile', text);
        if (isJenkinsError(r)) {
          expect(r.message).not.toMatch(/\n/);
          expect(r.line).toBeGreaterThanOrEqual(1);
          expect(r.column).toBeGreaterThanOrEqual(1);
        } else {
          expect(r.workflow.platform).toBe('jenkins');
          for (const n of r.notes) expect(n.message).not.toMatch(/\n/);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
