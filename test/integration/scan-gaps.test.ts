import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { EXAMPLE, ROOT } from '../helpers/paths.js';
import { validateSarif } from '../helpers/validate.js';

/**
 * A database that holds no advisories at all for an ecosystem the image's packages are matched in (built with
 * `db update --source osv:npm`, or `db import` of one feed) can find nothing for them: that is a gap, never a pass.
 */

const IMAGE = `oci:${EXAMPLE}:latest`;
let work: string;
let npmOnly: string;
let full: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'scan-gaps-'));
  const dir = join(work, 'ghsa');
  mkdirSync(dir);
  // The example's GHSA records: npm and PyPI only, nothing for Debian 12.
  for (const f of readdirSync(join(ROOT, 'examples', 'advisories')))
    if (f.startsWith('GHSA-')) copyFileSync(join(ROOT, 'examples', 'advisories', f), join(dir, f));
  npmOnly = join(work, 'ghsa.db');
  const r = await runCli(['db', 'import', dir, '--db', npmOnly, '-q']);
  expect(r.code, r.stderr).toBe(0);
  full = join(work, 'full.db');
  const all = await runCli(['db', 'import', join(ROOT, 'examples', 'advisories'), '--db', full, '-q']);
  expect(all.code, all.stderr).toBe(0);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('scan with a database that covers none of an ecosystem', () => {
  it("warns that the Debian packages were not matched, and fails a policy's inventory rule", async () => {
    const r = await runCli(['scan', IMAGE, '--db', npmOnly, '-q', '-f', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/deb packages .*no advisories for Debian:12/);
    // CI reading the JSON sees the same gap as the warning, not a clean result.
    const doc = JSON.parse(r.stdout);
    expect(doc.notMatched).toHaveLength(1);
    expect(doc.notMatched[0]).toMatchObject({ cataloger: 'matcher', path: expect.stringMatching(/dpkg/) });
    expect(doc.notMatched[0].message).toMatch(/^12 deb packages \(pkg:deb\/debian\/.*no advisories for Debian:12/);
    const policy = join(work, 'policy.yaml');
    writeFileSync(
      policy,
      'apiVersion: portcullis.dev/v1alpha1\nkind: ImagePolicy\nname: gaps\nrules:\n  inventory:\n    complete: true\n',
    );
    const decided = await runCli(['scan', IMAGE, '--db', npmOnly, '-q', '-f', 'json', '--policy', policy]);
    expect(decided.code, decided.stderr).toBe(1);
    const rule = JSON.parse(decided.stdout).policy.rules[0];
    expect(rule).toMatchObject({ id: 'inventory', outcome: 'fail' });
    expect(rule.reasons.join('\n')).toMatch(/no advisories for Debian:12/);
  });

  it('says so in SARIF too, as an error-level tool execution notification of a run that ran to its end', async () => {
    const r = await runCli(['scan', IMAGE, '--db', npmOnly, '-q', '-f', 'sarif']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(validateSarif(doc)).toEqual([]);
    const [invocation] = doc.runs[0].invocations;
    expect(invocation.executionSuccessful).toBe(true);
    const texts = invocation.toolExecutionNotifications.map((n: { level: string; message: { text: string } }) => {
      expect(n.level).toBe('error'); // SARIF Appendix I: the results cannot be assumed complete
      return n.message.text;
    });
    expect(texts).toEqual([expect.stringMatching(/^12 deb packages .*no advisories for Debian:12/)]);
  });

  it('writes no invocation when everything was assessed', async () => {
    const r = await runCli(['scan', IMAGE, '--db', full, '-q', '-f', 'sarif']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).runs[0].invocations).toBeUndefined();
  });
});
