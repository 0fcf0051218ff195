import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditPath } from '../../src/ci/audit.js';
import { DRIFT_RULES } from '../../src/ci/drift.js';
import { CI_RULES } from '../../src/ci/rules/index.js';
import { severityRank } from '../../src/findings/finding.js';
import { ROOT } from '../helpers/paths.js';

// The corpus (test/fixtures/ci-audit/github/<rule>/<case>/): each case is a small repository whose workflow starts with
// a comment saying what it shows; expected.json lists every finding of every rule (checked by hand), so a negative
// case also proves no other rule fires on it.

const CORPUS = join(ROOT, 'test', 'fixtures', 'ci-audit', 'github');

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

describe('ci audit corpus', () => {
  it.each(cases.map((c) => [`${c.rule}/${c.name}`, c] as const))('%s', async (_label, c) => {
    const expected = JSON.parse(readFileSync(join(c.dir, 'expected.json'), 'utf8')) as Expected[];
    const r = await auditPath(c.dir);
    expect(r.errors).toEqual([]);
    expect(r.files.length).toBeGreaterThan(0);
    const got = r.findings.map((f) => ({
      ruleId: f.ruleId,
      severity: f.severity,
      confidence: f.confidence,
      file: f.location.kind === 'file' ? f.location.path : '',
      line: f.location.kind === 'file' ? f.location.line : 0,
    }));
    expect(got).toEqual(expected);
    for (const f of r.findings) {
      expect(f.kind).toBe('ci');
      expect(f.message.length).toBeGreaterThan(10);
      expect(f.message).not.toMatch(/\n/);
    }
  });

  it('has a positive and a negative case for every rule, and every case starts with a comment saying what it shows', () => {
    for (const rule of CI_RULES) {
      const mine = cases.filter((c) => c.rule === rule.id);
      const hits = mine.map((c) => ({
        c,
        ids: (JSON.parse(readFileSync(join(c.dir, 'expected.json'), 'utf8')) as Expected[]).map((e) => e.ruleId),
      }));
      expect(
        hits.some((h) => h.ids.includes(rule.id)),
        `${rule.id}: a positive case`,
      ).toBe(true);
      expect(
        hits.some((h) => h.c.name.startsWith('neg-') && !h.ids.includes(rule.id)),
        `${rule.id}: a negative case`,
      ).toBe(true);
    }
    for (const c of cases) {
      const wfDir = join(c.dir, '.github', 'workflows');
      for (const f of readdirSync(wfDir)) expect(readFileSync(join(wfDir, f), 'utf8'), f).toMatch(/^# \S/);
    }
    expect(cases.every((c) => CI_RULES.some((r) => r.id === c.rule))).toBe(true);
  });

  it('docs/rules.md documents every CI rule with its severity, in registry order; docs/commands/ci.md names each', () => {
    const docs = readFileSync(join(ROOT, 'docs', 'rules.md'), 'utf8');
    const section = docs.slice(docs.indexOf('## CI pipelines'));
    const rows = [...section.matchAll(/^\| `([a-z-]+)` \| (\w+) \|/gm)].map((m) => [m[1], m[2]]);
    // The audit rules, then the drift rules (their own subsection at the end).
    expect(rows).toEqual([...CI_RULES, ...DRIFT_RULES].map((r) => [r.id, r.severity]));
    const command = readFileSync(join(ROOT, 'docs', 'commands', 'ci.md'), 'utf8');
    expect(command).toContain('CI_INVALID');
  });

  it("audits the team's model workflow (examples/ci/github-actions.yml) clean: nothing above info", async () => {
    const repo = mkdtempSync(join(tmpdir(), 'ci-example-'));
    mkdirSync(join(repo, '.github', 'workflows'), { recursive: true });
    cpSync(join(ROOT, 'examples', 'ci', 'github-actions.yml'), join(repo, '.github', 'workflows', 'image.yml'));
    const r = await auditPath(repo);
    expect(r.errors).toEqual([]);
    expect(r.files).toEqual(['.github/workflows/image.yml']);
    expect(r.findings.filter((f) => severityRank(f.severity) > severityRank('info'))).toEqual([]);
    expect(existsSync(join(repo, '.github', 'workflows', 'image.yml'))).toBe(true);
  });
});
