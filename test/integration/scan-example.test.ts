import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { EXAMPLE, ROOT } from '../helpers/paths.js';

const IMAGE = `oci:${EXAMPLE}:latest`;
let db: string;

beforeAll(async () => {
  db = join(mkdtempSync(join(tmpdir(), 'scan-example-')), 'advisories.db');
  const r = await runCli(['db', 'import', join(ROOT, 'examples', 'advisories'), '--db', db, '-q']);
  expect(r.code).toBe(0);
});

type F = {
  ruleId: string;
  kind: string;
  severity: string;
  vulnerability: { package: { name: string }; status: string; fixedVersions: string[]; urgency?: string };
};

describe('scan of the example image against the example advisories', () => {
  it('reports exactly the advisories whose ranges contain the installed versions', async () => {
    const r = await runCli(['scan', IMAGE, '--db', db, '-f', 'json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const vulns = (out.findings as F[]).filter((f) => f.kind === 'vulnerability');
    const got = vulns.map((f) => `${f.vulnerability.package.name} ${f.ruleId}`).sort();
    expect(got).toEqual(
      [
        'curl CVE-2023-46218',
        'libc-bin CVE-2023-4806',
        'libc6 CVE-2023-4806',
        'libcurl4 CVE-2023-46218',
        'libssl3 CVE-2023-2975',
        'libssl3 CVE-2023-3446',
        'lodash CVE-2020-28500',
        'lodash CVE-2021-23337',
        'minimist CVE-2021-44906',
        'openssl CVE-2023-2975',
        'openssl CVE-2023-3446',
        'tar CVE-2023-39804',
        'urllib3 CVE-2023-43804',
      ].sort(),
    );
    // By default the secret scan runs too (the image holds none); the image rules run when asked for.
    expect(out.checks).toEqual(['vulnerability', 'secret']);
    expect((out.findings as F[]).filter((f) => f.kind !== 'vulnerability')).toEqual([]);
    const all = JSON.parse(
      (await runCli(['scan', IMAGE, '--db', db, '-f', 'json', '--scanners', 'vuln,misconfig,secret'])).stdout,
    );
    // The example image runs as a user, but has no HEALTHCHECK.
    expect((all.findings as F[]).filter((f) => f.kind !== 'vulnerability').map((f) => f.ruleId)).toEqual([
      'no-healthcheck',
    ]);
    // The unimportant tar issue is hidden by default, and counted.
    expect(out.hidden.unimportant).toBe(1);
    const lodash = (out.findings as F[]).find((f) => f.ruleId === 'CVE-2021-23337');
    expect(lodash).toMatchObject({ severity: 'high', vulnerability: { status: 'fixed', fixedVersions: ['4.17.21'] } });
    const minimist = (out.findings as F[]).find((f) => f.ruleId === 'CVE-2021-44906');
    expect(minimist?.severity).toBe('critical');
  });

  it('shows unimportant issues on request, filters by severity, and fails the build with --exit-code', async () => {
    const all = JSON.parse((await runCli(['scan', IMAGE, '--db', db, '-f', 'json', '--include-unimportant'])).stdout);
    const tar = (all.findings as F[]).find((f) => f.ruleId === 'CVE-2005-2541');
    expect(tar?.vulnerability).toMatchObject({ status: 'not-fixed', urgency: 'unimportant' });
    const crit = await runCli(['scan', IMAGE, '--db', db, '-f', 'json', '--severity', 'critical', '--exit-code', '1']);
    expect(crit.code).toBe(1);
    expect((JSON.parse(crit.stdout).findings as F[]).map((f) => f.ruleId)).toEqual(['CVE-2021-44906']);
    const table = await runCli(['scan', IMAGE, '--db', db]);
    expect(table.stdout).toMatch(/upgrade lodash 4\.17\.20 to 4\.17\.21: fixes 2/);
  });

  it('refuses to scan without a database, and with one older than --max-db-age', async () => {
    const none = await runCli(['scan', IMAGE, '--db', join(tmpdir(), 'no-such.db')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/NOT_FOUND: no advisory database at .*portcullis db import/);
    const stale = await runCli(['scan', IMAGE, '--db', db, '--max-db-age', '0m']);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/was last updated 20[-0-9T:.]+Z: refused by --max-db-age 0m/);
    expect(stale.stdout).toBe('');
  });
});
