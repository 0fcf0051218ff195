import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { validateSarif } from '../helpers/validate.js';

/**
 * SARIF's `security-severity` is what GitHub files an alert under (and what a "fail on critical" check reads): it
 * must be the score behind the finding's severity, not a lower one another record of the same vulnerability gives.
 */

let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'scan-sarif-severity-'));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function record(id: string, aliases: string[], vector: { type: string; score: string }): string {
  return JSON.stringify({
    schema_version: '1.6.0',
    id,
    aliases,
    modified: '2024-01-01T00:00:00Z',
    summary: `test advisory ${id}`,
    severity: [vector],
    affected: [
      {
        package: { ecosystem: 'npm', name: 'widget' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0.1' }] }],
      },
    ],
  });
}

describe('scan SARIF security-severity', () => {
  it('is the score behind the severity when records of one vulnerability score it differently', async () => {
    const adv = join(work, 'adv');
    mkdirSync(adv);
    // GHSA scores it with CVSS 4.0 only (10.0, critical); another record of the same CVE with CVSS 3.1 (5.4, medium).
    writeFileSync(
      join(adv, 'GHSA-test-v4.json'),
      record('GHSA-test-v4', ['CVE-2099-0001'], {
        type: 'CVSS_V4',
        score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H',
      }),
    );
    writeFileSync(
      join(adv, 'OSV-test-v3.json'),
      record('OSV-test-v3', ['CVE-2099-0001'], {
        type: 'CVSS_V3',
        score: 'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:N',
      }),
    );
    const db = join(work, 'adv.db');
    const imp = await runCli(['db', 'import', adv, '--db', db, '-q']);
    expect(imp.code, imp.stderr).toBe(0);
    const root = join(work, 'root');
    mkdirSync(join(root, 'app', 'node_modules', 'widget'), { recursive: true });
    writeFileSync(
      join(root, 'app', 'node_modules', 'widget', 'package.json'),
      JSON.stringify({ name: 'widget', version: '1.0.0' }),
    );
    const json = await runCli(['scan', '--db', db, '-q', '-f', 'json', `dir:${root}`]);
    expect(json.code, json.stderr).toBe(0);
    const findings = JSON.parse(json.stdout).findings as { ruleId: string; severity: string }[];
    expect(findings.map((f) => [f.ruleId, f.severity])).toEqual([['CVE-2099-0001', 'critical']]);
    const r = await runCli(['scan', '--db', db, '-q', '-f', 'sarif', `dir:${root}`]);
    expect(r.code, r.stderr).toBe(0);
    const log = JSON.parse(r.stdout);
    expect(validateSarif(log)).toEqual([]);
    const rule = log.runs[0].tool.driver.rules[0];
    expect(rule.properties.tags).toContain('critical');
    expect(log.runs[0].results[0].level).toBe('error');
    // GitHub reads 9.0 and above as critical.
    expect(Number(rule.properties['security-severity'])).toBeGreaterThanOrEqual(9);
  });
});
