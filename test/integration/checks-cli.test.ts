import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MISCONFIG_RULES } from '../../src/checks/rules/index.js';
import { SECRET_RULES } from '../../src/secrets/rules.js';
import { runCli } from '../helpers/cli.js';
import { skopeo, skopeoTls } from '../helpers/gate.js';
import { makeTar } from '../helpers/layers.js';
import { ROOT } from '../helpers/paths.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { validateSarif } from '../helpers/validate.js';

/**
 * The checks as users meet them: `scan` (misconfigurations and secrets beside vulnerabilities, in table, JSON and
 * SARIF, with ignore files and a policy), `lint` on a Dockerfile, and `rules`. The image is built by umoci; the key
 * is made by ssh-keygen, so the secret is real and the test can tell that it is never printed.
 */
type F = {
  ruleId: string;
  kind: string;
  severity: string;
  message: string;
  location: { kind: string; path?: string; layer?: number; line?: number };
  suppression?: { kind: string; source: string };
};

let tmp: string;
let image: string;
let db: string;
let sshKey: string;
const NPM_TOKEN = `npm_${'aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5'}`;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'checks-cli-'));
  db = join(tmp, 'advisories.db');
  expect((await runCli(['db', 'import', join(ROOT, 'examples', 'advisories'), '--db', db, '-q'])).code).toBe(0);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'deploy', '-f', join(tmp, 'id_ed25519')]);
  sshKey = readFileSync(join(tmp, 'id_ed25519'), 'utf8');
  const layout = join(tmp, 'layout');
  const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: 'pipe' });
  const layer = async (name: string, entries: Parameters<typeof makeTar>[0]) => {
    const file = join(tmp, `${name}.tar`);
    writeFileSync(file, await makeTar(entries));
    return file;
  };
  const base = await layer('base', [
    { path: 'etc/', dir: true },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' },
    { path: 'etc/group', content: 'root:x:0:\napp:x:1000:\n' },
    { path: 'etc/shadow', content: 'root:*:20000:0:99999:7:::\napp::20000::::::\n', mode: 0o640 },
  ]);
  const app = await layer('app', [
    { path: 'root/', dir: true },
    { path: 'root/.ssh/', dir: true },
    { path: 'root/.ssh/id_ed25519', content: sshKey, mode: 0o600 },
    { path: 'srv/', dir: true },
    { path: 'srv/app/', dir: true },
    { path: 'srv/app/.npmrc', content: `//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n` },
  ]);
  const cleanup = await layer('cleanup', [{ path: 'root/.ssh/.wh.id_ed25519', content: '' }]);
  umoci('init', '--layout', layout);
  umoci('new', '--image', `${layout}:app`);
  umoci(
    'raw',
    'add-layer',
    '--image',
    `${layout}:app`,
    base,
    '--history.created_by',
    '/bin/sh -c #(nop) ADD file:base in /',
  );
  umoci('raw', 'add-layer', '--image', `${layout}:app`, app, '--history.created_by', 'COPY . /srv/app # buildkit');
  umoci(
    'raw',
    'add-layer',
    '--image',
    `${layout}:app`,
    cleanup,
    '--history.created_by',
    'RUN /bin/sh -c rm /root/.ssh/id_ed25519 # buildkit',
  );
  umoci(
    'config',
    '--image',
    `${layout}:app`,
    '--os',
    'linux',
    '--architecture',
    'amd64',
    '--config.exposedports',
    '22/tcp',
  );
  image = `oci:${layout}:app`;
}, 60_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function scan(...args: string[]) {
  return runCli(['scan', image, '--db', db, '-q', '--scanners', 'vuln,misconfig,secret', ...args]);
}

describe('scan with misconfiguration and secret checks', () => {
  it('reports the image rules, the build rules on the history and both secrets, the deleted key with its layer', async () => {
    const r = await scan('-f', 'json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { findings: F[]; checks: string[] };
    expect(out.checks).toEqual(['vulnerability', 'misconfiguration', 'secret']);
    const ids = new Set(out.findings.map((f) => f.ruleId));
    for (const id of ['root-user', 'no-healthcheck', 'ssh-port-exposed', 'privileged-port', 'empty-password'])
      expect(ids, id).toContain(id);
    const key = out.findings.find((f) => f.ruleId === 'private-key');
    expect(key).toMatchObject({ kind: 'secret', location: { kind: 'image', path: 'root/.ssh/id_ed25519', layer: 1 } });
    expect(key?.message).toMatch(/deleted in a later layer/);
    const npm = out.findings.find((f) => f.location.path === 'srv/app/.npmrc');
    expect(npm?.kind).toBe('secret');
    // The secrets themselves never reach the output.
    const body = sshKey.split('\n').slice(1, -2).join('');
    for (const chunk of body.match(/.{16}/g) ?? []) expect(r.stdout).not.toContain(chunk);
    expect(r.stdout).not.toContain(NPM_TOKEN);
  });

  it('the table lists them under their own headings with the CIS recommendation; --scanners chooses', async () => {
    const r = await scan();
    expect(r.stdout).toMatch(/^Misconfigurations: \d+/m);
    expect(r.stdout).toMatch(/^Secrets: 2 /m);
    expect(r.stdout).toMatch(/HIGH +root-user +CIS 4\.1/);
    expect(r.stdout).not.toContain(NPM_TOKEN);
    const vulnOnly = JSON.parse((await scan('-f', 'json', '--scanners', 'vuln')).stdout) as { findings: F[] };
    expect(vulnOnly.findings.every((f) => f.kind === 'vulnerability')).toBe(true);
    const bad = await scan('--scanners', 'vuln,malware');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--scanners: 'malware' is not one of vuln, misconfig, secret/);
  });

  it('SARIF describes each check rule from the rule object and validates against SARIF 2.1.0', async () => {
    const r = await scan('-f', 'sarif');
    const doc = JSON.parse(r.stdout);
    expect(validateSarif(doc)).toEqual([]);
    const rules = doc.runs[0].tool.driver.rules as {
      id: string;
      help: { text: string };
      properties: { tags: string[] };
    }[];
    const root = rules.find((x) => x.id === 'root-user');
    const meta = MISCONFIG_RULES.find((x) => x.id === 'root-user');
    expect(root?.help.text).toContain(meta?.remediation);
    expect(root?.properties.tags).toContain('CIS-4.1');
    expect(r.stdout).not.toContain(NPM_TOKEN);
  });

  it('an ignore file silences with a reason, and an expired entry stops applying and is reported', async () => {
    const file = join(tmp, 'ignore.yaml');
    writeFileSync(
      file,
      `apiVersion: portcullis.dev/v1alpha1
kind: IgnoreList
ignore:
  - id: ssh-port-exposed
    reason: bastion image, reviewed
  - id: privileged-port
    reason: was accepted last year
    expires: 2025-01-01
`,
    );
    const r = await scan('-f', 'json', '--ignore-file', file);
    const out = JSON.parse(r.stdout) as { findings: F[]; suppressed: F[] };
    expect(out.findings.map((f) => f.ruleId)).not.toContain('ssh-port-exposed');
    expect(out.findings.map((f) => f.ruleId)).toContain('privileged-port');
    expect(out.suppressed.find((f) => f.ruleId === 'ssh-port-exposed')?.suppression).toMatchObject({
      kind: 'ignore',
      source: `${file}:4`,
    });
    expect(r.stderr).toContain(`${file}:6: the ignore entry for privileged-port expired on 2025-01-01`);
    const broken = join(tmp, 'broken.yaml');
    writeFileSync(broken, 'apiVersion: portcullis.dev/v1alpha1\nkind: IgnoreList\nignore:\n  - id: x\n');
    const b = await scan('--ignore-file', broken);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(
      new RegExp(`CONFIG_INVALID: ${broken}:4:\\d+: ignore\\[0\\]: missing required key 'reason'`),
    );
  });

  it('a policy with a secrets rule fails the image on the real key, and errs when the secret scan did not run', async () => {
    const policy = join(tmp, 'policy.yaml');
    writeFileSync(
      policy,
      'apiVersion: portcullis.dev/v1alpha1\nkind: ImagePolicy\nname: no-secrets\nrules:\n  secrets:\n    fail: ["private-key", "npm-*"]\n',
    );
    const r = await scan('--policy', policy);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL/);
    expect(r.stdout).toMatch(/private-key/);
    // A developer's ignore file shapes the listing, never the organisation's decision.
    const ignore = join(tmp, 'ignore-key.yaml');
    writeFileSync(
      ignore,
      'apiVersion: portcullis.dev/v1alpha1\nkind: IgnoreList\nignore:\n  - id: "*"\n    reason: silence everything\n',
    );
    const ignored = await scan('--policy', policy, '--ignore-file', ignore);
    expect(ignored.code).toBe(1);
    expect(ignored.stdout).toMatch(/^secrets\s+FAIL/m);
    // A rule the policy names that could not run (no maxImageAge set) is an error, never a pass.
    const agePolicy = join(tmp, 'age-policy.yaml');
    writeFileSync(
      agePolicy,
      'apiVersion: portcullis.dev/v1alpha1\nkind: ImagePolicy\nname: age\nrules:\n  misconfigurations:\n    fail: [image-too-old]\n',
    );
    const age = await scan('--policy', agePolicy);
    expect(age.code).toBe(1);
    expect(age.stdout).toMatch(
      /image-too-old did not run on this image \(maxImageAge is not set in the check settings\)/,
    );
    // A typo in a rule id is refused when the policy loads.
    const typo = join(tmp, 'typo-policy.yaml');
    writeFileSync(typo, readFileSync(agePolicy, 'utf8').replace('image-too-old', 'image-to-old'));
    const t = await scan('--policy', typo);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/'image-to-old' matches no misconfiguration rule/);
    const skipped = await scan('--policy', policy, '--scanners', 'vuln,misconfig');
    expect(skipped.code).toBe(1);
    expect(skipped.stdout).toMatch(/no secret scan ran on this image/);
  });
});

describe('lint', () => {
  const DOCKERFILE = `FROM debian:latest
RUN apt-get update
# portcullis:ignore sudo-usage reason="the build user needs it" expires=2099-01-01
RUN sudo apt-get install -y curl \\
    && rm -rf /var/lib/apt/lists/*
ADD app.tar.gz /srv/
ADD config.yaml /etc/app/
ENV NPM_TOKEN=${NPM_TOKEN}
USER root
`;

  it('reports the build rules with line numbers, honours inline ignores, and exits 1', async () => {
    const file = join(tmp, 'Dockerfile');
    writeFileSync(file, DOCKERFILE);
    const r = await runCli(['lint', file, '-f', 'json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { findings: F[]; suppressed: F[] };
    const at = (id: string) => out.findings.filter((f) => f.ruleId === id).map((f) => f.location.line);
    expect(at('latest-tag')).toEqual([1]);
    expect(at('apt-get-update-alone')).toEqual([2]);
    expect(at('add-instead-of-copy')).toEqual([7]);
    expect(at('root-user')).toEqual([9]);
    expect(out.findings.map((f) => f.ruleId)).not.toContain('sudo-usage');
    expect(out.suppressed.map((f) => [f.ruleId, f.location.line])).toEqual([['sudo-usage', 4]]);
    const secret = out.findings.find((f) => f.kind === 'secret');
    expect(secret?.location).toMatchObject({ kind: 'file', path: file, line: 8 });
    expect(r.stdout).not.toContain(NPM_TOKEN);
  });

  it('a clean Dockerfile exits 0; SARIF points at the file and line', async () => {
    const file = join(tmp, 'Dockerfile.good');
    writeFileSync(
      file,
      'FROM debian:12.8@sha256:0000000000000000000000000000000000000000000000000000000000000000\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\nCOPY app /srv/app\nUSER 1000\nHEALTHCHECK CMD ["/srv/app/health"]\n',
    );
    const ok = await runCli(['lint', file]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const bad = join(tmp, 'Dockerfile');
    const sarif = JSON.parse((await runCli(['lint', bad, '-f', 'sarif'])).stdout);
    expect(validateSarif(sarif)).toEqual([]);
    const loc = sarif.runs[0].results.find((x: { ruleId: string }) => x.ruleId === 'latest-tag').locations[0];
    expect(loc.physicalLocation.region.startLine).toBe(1);
  });
});

describe('rules', () => {
  it('lists every image rule once, and docs/rules.md documents each', async () => {
    // The CI and Kubernetes rules follow (test/unit/rules-cli.test.ts); --kind image is the image rules alone.
    const r = await runCli(['rules', '-f', 'json', '--kind', 'image']);
    const rules = JSON.parse(r.stdout) as { id: string; kind: string; cis?: string }[];
    const ids = rules.map((x) => x.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...MISCONFIG_RULES, ...SECRET_RULES].map((x) => x.id));
    const docs = readFileSync(join(ROOT, 'docs', 'rules.md'), 'utf8');
    for (const m of MISCONFIG_RULES) expect(docs, m.id).toContain(`### ${m.id}\n`);
    for (const s of SECRET_RULES) expect(docs, s.id).toContain(`| \`${s.id}\` |`);
    const table = await runCli(['rules']);
    expect(table.stdout).toMatch(/root-user +misconfiguration +high +4\.1 +CIS-DI-0001/);
  });
});

describe('image-unsigned (CIS 4.5) with scan --trust-policy, against a real registry', () => {
  const CREDS = { user: 'scanner', password: 'Scan-Pa55-registry' };
  const pw = { COSIGN_PASSWORD: 'content trust key' };
  let reg: TestRegistry;

  beforeAll(async () => {
    reg = await startRegistry({ tls: true, auth: CREDS });
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
  });

  it('reports an unsigned image, not a signed one, and refuses a policy on it without --trust-policy', async () => {
    const conn = ['--ca-cert', reg.pki?.caCert as string, '--creds', `${CREDS.user}:${CREDS.password}`];
    for (const tag of ['signed', 'unsigned'])
      await skopeo('copy', '--quiet', ...skopeoTls(reg, CREDS, 'dest'), image, `docker://${reg.host}/team/app:${tag}`);
    const key = join(tmp, 'trust');
    expect((await runCli(['keygen', '--output-key-prefix', key], pw)).code).toBe(0);
    // Both tags name the same digest: sign a second image so the two differ.
    const other = join(tmp, 'other-layout');
    execFileSync('umoci', ['init', '--layout', other]);
    execFileSync('umoci', ['new', '--image', `${other}:x`]);
    await skopeo(
      'copy',
      '--quiet',
      ...skopeoTls(reg, CREDS, 'dest'),
      `oci:${other}:x`,
      `docker://${reg.host}/team/app:signed`,
    );
    const s = await runCli(['sign', `docker://${reg.host}/team/app:signed`, '--key', `${key}.key`, ...conn], pw);
    expect(s.code, s.stderr).toBe(0);
    const trust = join(tmp, 'trust.yaml');
    writeFileSync(trust, `version: 1\nrepositories:\n  - match: ${reg.host}/team/**\n    keys: [trust.pub]\n`);
    const scanOf = (tag: string, ...more: string[]) =>
      runCli(['scan', `docker://${reg.host}/team/app:${tag}`, '--db', db, '-q', '-f', 'json', ...conn, ...more]);
    const unsigned = JSON.parse((await scanOf('unsigned', '--trust-policy', trust)).stdout) as { findings: F[] };
    const finding = unsigned.findings.find((f) => f.ruleId === 'image-unsigned');
    expect(finding?.severity).toBe('high');
    expect(finding?.message).toMatch(/has no valid signature by a trusted key/);
    const signed = JSON.parse((await scanOf('signed', '--trust-policy', trust)).stdout) as { findings: F[] };
    expect(signed.findings.map((f) => f.ruleId)).not.toContain('image-unsigned');
    const policy = join(tmp, 'signed-policy.yaml');
    writeFileSync(
      policy,
      'apiVersion: portcullis.dev/v1alpha1\nkind: ImagePolicy\nname: signed\nrules:\n  misconfigurations:\n    fail: [image-unsigned]\n',
    );
    const refused = await scanOf('unsigned', '--policy', policy);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/the policy fails on image-unsigned; give --trust-policy FILE/);
    const failed = await scanOf('unsigned', '--policy', policy, '--trust-policy', trust);
    expect(failed.code).toBe(1);
  });

  it("reads the base image's age by its digest from the registry (CIS 4.4 for the base)", async () => {
    const conn = ['--ca-cert', reg.pki?.caCert as string, '--creds', `${CREDS.user}:${CREDS.password}`];
    const layout = join(tmp, 'base-age');
    const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: 'pipe' });
    umoci('init', '--layout', layout);
    umoci('new', '--image', `${layout}:base`);
    umoci('config', '--image', `${layout}:base`, '--created', '2020-01-01T00:00:00Z', '--config.user', '1000');
    await skopeo(
      'copy',
      '--quiet',
      ...skopeoTls(reg, CREDS, 'dest'),
      `oci:${layout}:base`,
      `docker://${reg.host}/base/old:1`,
    );
    const inspected = JSON.parse(
      await skopeo('inspect', ...skopeoTls(reg, CREDS, ''), `docker://${reg.host}/base/old:1`),
    ) as { Digest: string };
    const app = (tag: string, baseName: string) => {
      umoci('new', '--image', `${layout}:${tag}`);
      umoci(
        'config',
        '--image',
        `${layout}:${tag}`,
        '--created',
        new Date().toISOString(),
        '--config.user',
        '1000',
        '--manifest.annotation',
        `org.opencontainers.image.base.name=${baseName}`,
        '--manifest.annotation',
        `org.opencontainers.image.base.digest=${inspected.Digest}`,
      );
    };
    app('app', `${reg.host}/base/old:1`);
    await skopeo(
      'copy',
      '--quiet',
      ...skopeoTls(reg, CREDS, 'dest'),
      `oci:${layout}:app`,
      `docker://${reg.host}/team/fresh:1`,
    );
    const settings = join(tmp, 'age.yaml');
    writeFileSync(settings, 'apiVersion: portcullis.dev/v1alpha1\nkind: CheckSettings\nmaxImageAge: 30d\n');
    const r = await runCli([
      'scan',
      `docker://${reg.host}/team/fresh:1`,
      '--db',
      db,
      '-q',
      '-f',
      'json',
      '--checks-config',
      settings,
      ...conn,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const old = (JSON.parse(r.stdout) as { findings: F[] }).findings.filter((f) => f.ruleId === 'image-too-old');
    expect(old.map((f) => f.message)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^The base image ${reg.host}/base/old:1@${inspected.Digest} was created 2020-01-01T00:00:00Z, \\d+ days ago`,
        ),
      ),
    ]);
    // Without the limit nothing is read or reported.
    const plain = await runCli(['scan', `docker://${reg.host}/team/fresh:1`, '--db', db, '-q', '-f', 'json', ...conn]);
    expect((JSON.parse(plain.stdout) as { findings: F[] }).findings.map((f) => f.ruleId)).not.toContain(
      'image-too-old',
    );
  });
});
