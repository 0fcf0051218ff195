import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditPath } from '../../src/ci/audit.js';
import { CACHE, ROOT } from '../helpers/paths.js';

// An independent peer on the corpus: actionlint (built from its Go module by scripts/setup-test-env.sh). Two things
// hold: every corpus workflow is a valid workflow to actionlint (the corpus is realistic, not shaped to our parser),
// and every expression actionlint calls "potentially untrusted" in a script is a template-injection finding of ours.
// Our rule sees more (composite actions, whole objects such as toJSON(github.event.pull_request)); the counts are
// printed by the assertion messages.

const ACTIONLINT = join(CACHE, 'go', 'bin', 'actionlint');
const CORPUS = join(ROOT, 'test', 'fixtures', 'ci-audit', 'github');

interface LintError {
  filepath: string;
  line: number;
  kind: string;
  message: string;
}

function actionlint(dir: string): LintError[] {
  if (!existsSync(ACTIONLINT))
    throw new Error(`${ACTIONLINT} is missing: run scripts/setup-test-env.sh (it builds actionlint)`);
  const wfDir = join(dir, '.github', 'workflows');
  const files = readdirSync(wfDir).map((f) => join('.github', 'workflows', f));
  // Shellcheck and pyflakes off: style in the scripts is not what is compared.
  const r = spawnSync(ACTIONLINT, ['-format', '{{json .}}', '-shellcheck=', '-pyflakes=', ...files], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  const out = r.stdout.trim();
  return out ? (JSON.parse(out) as LintError[]) : [];
}

const cases = readdirSync(CORPUS).flatMap((rule) => readdirSync(join(CORPUS, rule)).map((c) => join(CORPUS, rule, c)));

describe('ci audit against actionlint on the corpus', () => {
  it('actionlint finds no workflow errors in the corpus, and its untrusted expressions are all our template-injection', async () => {
    let peerHits = 0;
    let ours = 0;
    for (const dir of cases) {
      const lint = actionlint(dir);
      const other = lint.filter((e) => !/potentially untrusted/.test(e.message));
      expect(other, dir).toEqual([]);
      const r = await auditPath(dir);
      const mine = r.findings.filter((f) => f.ruleId === 'template-injection');
      ours += mine.length;
      for (const e of lint.filter((x) => /potentially untrusted/.test(x.message))) {
        peerHits++;
        const expr = /expression "([^"]+)"/.exec(e.message)?.[1] ?? '';
        // actionlint points at the `run:`/`script:` key line of a block; we point at the expression's own line.
        const match = mine.find(
          (f) =>
            f.location.kind === 'file' &&
            f.location.path === e.filepath &&
            (f.location.line ?? 0) >= e.line &&
            f.message.includes(expr),
        );
        expect(match, `${dir}: actionlint ${e.filepath}:${e.line} ${expr}`).toBeDefined();
      }
    }
    expect(peerHits, 'actionlint untrusted-expression hits on the corpus').toBeGreaterThanOrEqual(3);
    expect(ours, 'our template-injection findings').toBeGreaterThan(peerHits);
  });
});
