import { cpSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditPath } from '../../src/ci/audit.js';
import { CI_RULES } from '../../src/ci/rules/index.js';
import { severityRank } from '../../src/findings/finding.js';
import { ROOT } from '../helpers/paths.js';

// The GitLab corpus (test/fixtures/ci-audit/gitlab/<rule>/<case>/): small repositories whose .gitlab-ci.yml starts
// with a comment saying what it shows; expected.json lists every finding of every rule (checked by hand), so a
// negative case also proves no other rule fires on it, GitHub-only rules included.

const CORPUS = join(ROOT, 'test', 'fixtures', 'ci-audit', 'gitlab');

interface Expected {
  ruleId: string;
  severity: string;
  confidence: string;
  file: string;
  line: number;
}

const cases = readdirSync(CORPUS).flatMap((rule) =>
  readdirSync(join(CORPUS, rule)).map((name) => ({ rule, name, dir: join(CORPUS, rule, name) })),
);
const expectedOf = (dir: string): Expected[] => JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));

describe('ci audit corpus: GitLab CI', () => {
  it.each(cases.map((c) => [`${c.rule}/${c.name}`, c] as const))('%s', async (_label, c) => {
    const r = await auditPath(c.dir);
    expect(r.errors).toEqual([]);
    expect(r.files[0]).toBe('.gitlab-ci.yml');
    const got = r.findings.map((f) => ({
      ruleId: f.ruleId,
      severity: f.severity,
      confidence: f.confidence,
      file: f.location.kind === 'file' ? f.location.path : '',
      line: f.location.kind === 'file' ? f.location.line : 0,
    }));
    expect(got).toEqual(expectedOf(c.dir));
    for (const f of r.findings) {
      expect(f.kind).toBe('ci');
      expect(f.message).not.toMatch(/\n/);
    }
  });

  it('has a positive and a negative case for each rule that applies to GitLab; every case says what it shows', () => {
    const gitlabRules = CI_RULES.filter((r) => !r.platforms || r.platforms.includes('gitlab')).map((r) => r.id);
    for (const id of [
      'dangerous-triggers',
      'unpinned-uses',
      'unverified-script-exec',
      'ci-deploys',
      'gate-bypass',
      'push-to-production',
      'artifact-poisoning',
    ]) {
      expect(gitlabRules).toContain(id);
      const mine = cases.filter((c) => c.rule === id);
      expect(mine.some((c) => expectedOf(c.dir).some((e) => e.ruleId === id))).toBe(true);
      expect(mine.some((c) => c.name.startsWith('neg-') && !expectedOf(c.dir).some((e) => e.ruleId === id))).toBe(true);
    }
    for (const c of cases) expect(readFileSync(join(c.dir, '.gitlab-ci.yml'), 'utf8')).toMatch(/^# \S/);
  });

  it('reports findings in locally included files at their own path and line, once for a line many jobs inherit', async () => {
    const r = await auditPath(join(CORPUS, 'unverified-script-exec', 'pos-inherited-include'));
    expect(r.files).toEqual(['.gitlab-ci.yml', 'ci/templates.yml']);
    const inherited = r.findings.find((f) => f.location.kind === 'file' && f.location.path === 'ci/templates.yml');
    expect(inherited?.location).toMatchObject({ line: 6, column: 7 });
    expect(inherited?.message).toContain('the same line reaches 1 more job');
  });

  it('lists what it did not fetch (remote, project, template and component includes) as notes, not errors', async () => {
    const r = await auditPath(join(CORPUS, 'unpinned-uses', 'pos-includes-images'));
    const notRead = r.notes.filter((n) => n.ruleId === 'not-read').map((n) => n.message);
    expect(notRead).toHaveLength(4);
    expect(notRead.join('\n')).toMatch(/include:template Jobs\/Secret-Detection\.gitlab-ci\.yml: not fetched/);
  });

  it("audits the team's model pipeline (examples/ci/gitlab-ci.yml) clean: nothing above info", async () => {
    const repo = mkdtempSync(join(tmpdir(), 'ci-gitlab-example-'));
    cpSync(join(ROOT, 'examples', 'ci', 'gitlab-ci.yml'), join(repo, '.gitlab-ci.yml'));
    const r = await auditPath(repo);
    expect(r.errors).toEqual([]);
    expect(r.files).toEqual(['.gitlab-ci.yml']);
    expect(r.findings.filter((f) => severityRank(f.severity) > severityRank('info'))).toEqual([]);
    // The placeholders are said, at info.
    expect(r.findings.map((f) => f.message).join('\n')).toMatch(/placeholder digest/);
  });
});
