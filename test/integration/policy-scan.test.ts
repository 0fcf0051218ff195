import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { EXAMPLE, ROOT } from '../helpers/paths.js';

const IMAGE = `oci:${EXAMPLE}:latest`;
/** The example image's bottom layer, from its config's rootfs.diff_ids. */
const BASE_DIFF_ID = 'sha256:5546b83ac01747ffec93b0899c33d388baa7e05f12574a948b40818fab2032b4';
const HEAD = 'apiVersion: portcullis.dev/v1alpha1\nkind: ImagePolicy\nname: it\n';
let dir: string;
let db: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'policy-scan-'));
  db = join(dir, 'advisories.db');
  const r = await runCli(['db', 'import', join(ROOT, 'examples', 'advisories'), '--db', db, '-q']);
  expect(r.code).toBe(0);
});

let n = 0;
function policyFile(text: string): string {
  const file = join(dir, `policy-${++n}.yaml`);
  writeFileSync(file, HEAD + text);
  return file;
}

interface Rule {
  id: string;
  outcome: string;
  reasons: string[];
  findings: string[];
}
interface PolicyJson {
  verdict: string;
  pass: boolean;
  rules: Rule[];
  exceptionsUsed: { index: number; findings: string[] }[];
  exceptionsExpired: { index: number; findings: string[] }[];
  warnings: string[];
}

async function scanJson(file: string) {
  const r = await runCli(['scan', IMAGE, '--db', db, '-f', 'json', '--policy', file]);
  return { ...r, policy: JSON.parse(r.stdout).policy as PolicyJson };
}

const critical = 'rules:\n  vulnerabilities:\n    failOn: critical\n';
const minimistException = (expires: string) =>
  `exceptions:\n  - id: GHSA-xvch-5gv4-984h\n    package: minimist\n    reason: argv is fixed by the entrypoint\n    expires: ${expires}\n`;

describe('portcullis scan --policy on the example image', () => {
  it('passes a policy the image meets: exit 0, the decision after the findings', async () => {
    const file = policyFile(
      `rules:\n  vulnerabilities:\n    failOn: critical\n    packages:\n      - package: pkg:npm/minimist\n        ignore: true\n        reason: dev-only dependency\n  baseImage:\n    approved:\n      - name: example-base\n        layers: [${BASE_DIFF_ID}]\n  labels:\n    - key: org.opencontainers.image.title\n      value: portcullis-.*\n  maxAge: 36500d\n`,
    );
    const r = await runCli(['scan', IMAGE, '--db', db, '--policy', file]);
    expect(r.code).toBe(0);
    expect(r.stdout.indexOf('PACKAGE   VULNERABILITY')).toBeLessThan(r.stdout.indexOf('Policy: it ('));
    expect(r.stdout).toMatch(/^base-image\s+PASS\s+the bottom layer matches approved base image example-base$/m);
    expect(r.stdout).toMatch(
      /^vulnerabilities\s+PASS\s+no vulnerability at or above critical; .*1 in packages the policy ignores/m,
    );
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('Decision: PASS (4 rules passed)');
  });

  it('fails a policy the image does not meet: exit 1, with reasons naming the findings', async () => {
    const { code, policy, stderr } = await scanJson(policyFile('rules:\n  vulnerabilities:\n    failOn: high\n'));
    expect(code).toBe(1);
    expect(stderr).toBe('');
    expect(policy.verdict).toBe('FAIL');
    const vulns = policy.rules.find((r) => r.id === 'vulnerabilities') as Rule;
    expect(vulns.outcome).toBe('fail');
    // minimist (critical), lodash (high) and tar (no rating: counted as high by default).
    expect(vulns.findings).toEqual([
      'CVE-2021-23337 pkg:npm/lodash@4.17.20',
      'CVE-2021-44906 pkg:npm/minimist@1.2.5',
      'CVE-2023-39804 pkg:deb/debian/tar@1.34+dfsg-1.2?arch=amd64&distro=debian-12',
    ]);
    expect(vulns.reasons).toContainEqual(
      expect.stringMatching(
        /^CVE-2021-44906 in minimist 1\.2\.5 \(critical\) is at or above high; fixed in 1\.2\.6; published 2022-03-18, \d+ days ago$/,
      ),
    );
    expect(
      vulns.reasons.some((x) => /^CVE-2023-39804 in tar 1\.34\+dfsg-1\.2 \(unknown\), counted as high/.test(x)),
    ).toBe(true);
  });

  it('an exception turns the FAIL into a PASS; the same exception expired turns it back, with a warning', async () => {
    const failing = await runCli(['scan', IMAGE, '--db', db, '--policy', policyFile(critical)]);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/^vulnerabilities\s+FAIL\s+1 finding at or above the threshold/m);

    const active = await scanJson(policyFile(critical + minimistException('2999-12-31')));
    expect(active.code).toBe(0);
    expect(active.policy.verdict).toBe('PASS');
    expect(active.policy.exceptionsUsed).toEqual([
      expect.objectContaining({ index: 1, findings: ['CVE-2021-44906 pkg:npm/minimist@1.2.5'] }),
    ]);

    const file = policyFile(critical + minimistException('2000-01-01'));
    const expired = await runCli(['scan', IMAGE, '--db', db, '--policy', file]);
    expect(expired.code).toBe(1);
    expect(expired.stderr).toContain(
      'portcullis: warning: policy: exception #1 (line 8: GHSA-xvch-5gv4-984h, minimist) expired on 2000-01-01 and no longer applies: 1 finding it covered count again',
    );
    expect(expired.stdout).toContain('Exceptions expired (no longer applied):');
    expect(expired.stdout).toMatch(/CVE-2021-44906 in minimist 1\.2\.5 \(critical\) is at or above critical/);
    const json = await scanJson(file);
    expect(json.policy.exceptionsUsed).toEqual([]);
    expect(json.policy.exceptionsExpired).toEqual([
      expect.objectContaining({ index: 1, findings: ['CVE-2021-44906 pkg:npm/minimist@1.2.5'] }),
    ]);
  });

  it('checks the base image both ways', async () => {
    const base = (diffId: string) =>
      policyFile(`rules:\n  baseImage:\n    approved:\n      - name: approved-base\n        layers: [${diffId}]\n`);
    const good = await scanJson(base(BASE_DIFF_ID));
    expect(good.code).toBe(0);
    expect(good.policy.rules).toEqual([
      {
        id: 'base-image',
        title: 'Built on an approved base image',
        outcome: 'pass',
        reasons: ['the bottom layer matches approved base image approved-base'],
        findings: [],
      },
    ]);
    const bad = await scanJson(base(`sha256:${'0'.repeat(64)}`));
    expect(bad.code).toBe(1);
    expect(bad.policy.rules[0]?.reasons).toEqual([
      'the bottom layer sha256:5546b83ac017… matches no approved base image (approved-base), and the image names no base in org.opencontainers.image.base.digest',
    ]);
  });

  it('the bundled example policy fails the example image, for the vulnerabilities and the age', async () => {
    const r = await scanJson(join(ROOT, 'examples', 'policy.yaml'));
    expect(r.code).toBe(1);
    const outcome = Object.fromEntries(r.policy.rules.map((x) => [x.id, x.outcome]));
    expect(outcome).toMatchObject({
      'base-image': 'pass',
      labels: 'pass',
      'image-age': 'fail',
      vulnerabilities: 'fail',
    });
    expect(r.policy.rules.find((x) => x.id === 'vulnerabilities')?.findings).toContain(
      'CVE-2021-44906 pkg:npm/minimist@1.2.5',
    );
  });

  it('inventory.complete fails an image with a package record it could not read; the example image passes', async () => {
    const file = policyFile('rules:\n  inventory:\n    complete: true\n');
    const whole = await scanJson(file);
    expect(whole.code, whole.stderr).toBe(0);
    expect(whole.policy.rules).toEqual([
      {
        id: 'inventory',
        title: 'Inventory complete',
        outcome: 'pass',
        reasons: ['every package record found was read, and every installed version'],
        findings: [],
      },
    ]);
    const root = join(dir, 'rootfs-damaged');
    mkdirSync(join(root, 'app', 'node_modules', 'left-pad'), { recursive: true });
    mkdirSync(join(root, 'app', 'node_modules', 'ok'), { recursive: true });
    writeFileSync(join(root, 'app', 'node_modules', 'left-pad', 'package.json'), '{"name": "left-pad", "version": ');
    writeFileSync(join(root, 'app', 'node_modules', 'ok', 'package.json'), '{"name": "ok", "version": "1.0.0"}');
    // A package whose version PEP 440 cannot read is never matched: a gap too.
    const site = join(root, 'usr', 'local', 'lib', 'python3.11', 'site-packages', 'urllib3-1.26.5.dist-info');
    mkdirSync(site, { recursive: true });
    writeFileSync(join(site, 'METADATA'), 'Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.5-ubuntu1\n');
    const damaged = await runCli(['scan', `dir:${root}`, '--db', db, '-f', 'json', '--policy', file]);
    expect(damaged.code, damaged.stderr).toBe(1);
    const rule = (JSON.parse(damaged.stdout).policy as PolicyJson).rules[0] as Rule;
    expect(rule).toMatchObject({ id: 'inventory', outcome: 'fail' });
    // The matcher's gaps first (one line may stand for many packages), then the catalogers'.
    expect(rule.reasons).toEqual([
      expect.stringMatching(
        /^matcher: \/usr\/local\/lib\/python3\.11\/site-packages\/urllib3-1\.26\.5\.dist-info\/METADATA: pkg:pypi\/urllib3@1\.26\.5-ubuntu1: .* cannot read the installed version/,
      ),
      expect.stringMatching(/^npm: \/app\/node_modules\/left-pad\/package\.json: /),
    ]);
    // Without the rule the same gap is a warning, and the scan's other rules decide.
    const lenient = await runCli(['scan', `dir:${root}`, '--db', db, '--policy', policyFile(critical)]);
    expect(lenient.code, lenient.stderr).toBe(0);
    expect(lenient.stderr).toMatch(/left-pad\/package\.json/);
  });

  it('a rule that needs a signature verifier fails in scan, which has none', async () => {
    const file = policyFile(
      `rules:\n  baseImage:\n    approved:\n      - name: b\n        digest: sha256:${'e'.repeat(64)}\n        layers: [${BASE_DIFF_ID}]\n    signature:\n      keys: ["sha256:${'1'.repeat(64)}"]\n`,
    );
    const r = await scanJson(file);
    expect(r.code).toBe(1);
    expect(r.policy.rules.find((x) => x.id === 'base-image-signature')).toMatchObject({
      outcome: 'error',
      reasons: [expect.stringMatching(/^no signature verifier ran/)],
    });
  });

  it('sees every finding whatever --severity hides, and writes the decision to stderr for SARIF', async () => {
    const r = await runCli([
      'scan',
      IMAGE,
      '--db',
      db,
      '--severity',
      'low',
      '-f',
      'sarif',
      '--policy',
      policyFile(critical),
    ]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).version).toBe('2.1.0');
    expect(r.stderr).toMatch(/^vulnerabilities\s+FAIL/m);
  });

  it('refuses --exit-code with --policy, and a broken policy before anything else, one line per problem', async () => {
    const both = await runCli(['scan', IMAGE, '--db', db, '--exit-code', '3', '--policy', policyFile(critical)]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^portcullis: USAGE: --exit-code and --policy conflict/);
    const file = policyFile('rules:\n  vulnerabilities:\n    failOn: hihg\n  maxAge: soon\n');
    const bad = await runCli(['scan', IMAGE, '--db', join(dir, 'no-such.db'), '--policy', file]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.split('\n').filter((l) => l.startsWith('portcullis:'))).toEqual([
      `portcullis: POLICY_INVALID: ${file}:6:13: rules.vulnerabilities.failOn: must be one of critical, high, medium, low, info (got 'hihg')`,
      `portcullis: POLICY_INVALID: ${file}:7:11: rules.maxAge: must be a duration such as 90d, 36h or 2w (got 'soon')`,
    ]);
    expect(bad.stderr).toMatch(/hint: Fix the policy at the line and column/);
  });
});

describe('portcullis scan --policy with pinned check settings', () => {
  it('passes the defaults or a listed settings file by its sha256, and fails any other file', async () => {
    const reviewed = join(dir, 'checks.yaml');
    // Saved with a byte-order mark: the digest is of the file's bytes, as sha256sum prints it.
    const text = '\ufeffapiVersion: portcullis.dev/v1alpha1\nkind: CheckSettings\nunnecessaryPackages: [gdb]\n';
    writeFileSync(reviewed, text);
    const digest = `sha256:${execFileSync('sha256sum', [reviewed], { encoding: 'utf8' }).split(' ')[0]}`;
    const edited = join(dir, 'checks-edited.yaml');
    writeFileSync(edited, `${text}disabled: [no-healthcheck]\n`);
    const pinned = policyFile(`rules:\n  checkSettings:\n    allow: [defaults, "${digest}"]\n`);
    const scan = (...extra: string[]) => runCli(['scan', IMAGE, '--db', db, '--policy', pinned, ...extra]);

    const plain = await scan();
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^check-settings\s+PASS\s+the checks ran with the default settings$/m);
    const withFile = await scan('--checks-config', reviewed);
    expect(withFile.code, withFile.stderr).toBe(0);
    expect(withFile.stdout).toContain(
      `the checks ran with the settings of ${reviewed} (${digest}), which the policy allows`,
    );
    const other = await scan('--checks-config', edited);
    expect(other.code, other.stderr).toBe(1);
    expect(other.stdout).toMatch(/^check-settings\s+FAIL\s+the checks ran with the settings of .*checks-edited\.yaml/m);
    expect(other.stdout.trimEnd().split('\n').at(-1)).toBe('Decision: FAIL (1 of 1 rule did not pass)');
  });

  it('refuses an allow entry that is neither defaults nor a sha256 digest, naming the line', async () => {
    const file = policyFile('rules:\n  checkSettings:\n    allow: [relaxed.yaml]\n');
    const r = await runCli(['scan', IMAGE, '--db', db, '--policy', file]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      `portcullis: POLICY_INVALID: ${file}:6:13: rules.checkSettings.allow[0]: must be defaults, or sha256: and the 64 hex digits of a settings file's digest (got 'relaxed.yaml')`,
    );
  });
});
