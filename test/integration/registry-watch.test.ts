import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWatchConfig } from '../../src/watch/config.js';
import { reconcile } from '../../src/watch/reconcile.js';
import { runCli } from '../helpers/cli.js';
import {
  type Creds,
  EXAMPLE_BLOBS,
  EXAMPLE_DIGEST,
  exampleDb,
  importUrllib3Update,
  KEY_PASSWORD,
  passingRules,
  requests,
  skopeo,
  skopeoTls,
  tags,
  writePolicy,
} from '../helpers/gate.js';
import { EXAMPLE } from '../helpers/paths.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * `registry watch --once` against a real registry (CNCF distribution, TLS with a test CA, htpasswd): one image the gate
 * promoted, one pushed by skopeo without a signature, one signed with `portcullis sign` but never assessed, and one in
 * a repository the trust policy does not name. Oracles: the gate's own exit and the registry's tag lists (skopeo and
 * node:https put the images there; the watcher only reads).
 */

const CREDS: Creds = { user: 'watcher', password: 'W4tch-Pa55-reg' };
const pw = { COSIGN_PASSWORD: KEY_PASSWORD };
const SHA = EXAMPLE_DIGEST.slice(7);

let tmp: string;
let reg: TestRegistry;
let config: string;
/** The example advisories, as the gate used them. */
let db: string;
/** The policy file the gate promoted prod/app under. */
let gatePolicy: string;

function connection(): string[] {
  return ['--ca-cert', reg.pki?.caCert as string, '--creds', `${CREDS.user}:${CREDS.password}`];
}

async function push(dest: string): Promise<void> {
  await skopeo(
    'copy',
    '--quiet',
    '--preserve-digests',
    ...skopeoTls(reg, CREDS, 'dest'),
    `oci:${EXAMPLE}:latest`,
    `docker://${reg.host}/${dest}`,
  );
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-watch-'));
  reg = await startRegistry({ tls: true, auth: CREDS });
  db = await exampleDb(tmp);
  const key = await runCli(['keygen', '--output-key-prefix', join(tmp, 'gate')], pw);
  expect(key.code, key.stderr).toBe(0);

  await push('staging/app:1.0');
  const policy = writePolicy(tmp, 'passing', passingRules());
  gatePolicy = policy;
  const gate = await runCli(
    [
      'gate',
      `docker://${reg.host}/staging/app:1.0`,
      '--to',
      `${reg.host}/prod/app`,
      '--policy',
      policy,
      '--key',
      join(tmp, 'gate.key'),
      '--db',
      db,
      ...connection(),
    ],
    pw,
  );
  expect(gate.code, gate.stdout + gate.stderr).toBe(0);

  await push('prod/unsigned:1');
  await push('prod/signed:1');
  const sign = await runCli(
    ['sign', `docker://${reg.host}/prod/signed:1`, '--key', join(tmp, 'gate.key'), ...connection()],
    pw,
  );
  expect(sign.code, sign.stderr).toBe(0);
  await push('rogue/app:1');

  writeFileSync(
    join(tmp, 'trust.yaml'),
    `version: 1\nrepositories:\n  - match: ${reg.host}/prod/**\n    keys: [gate.pub]\n    attestations: [assessment]\n`,
  );
  config = join(tmp, 'watch.yaml');
  writeFileSync(
    config,
    [
      'apiVersion: portcullis.dev/v1alpha1',
      'kind: WatchConfig',
      'registries:',
      `  - host: ${reg.host}`,
      '    repositories: [prod/**, rogue/*]',
      '    trustPolicy: trust.yaml',
      '    maxAssessmentAge: 7d',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await reg?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const EXPECTED = [
  { repository: 'prod/app', tag: '1.0', status: 'approved' },
  { repository: 'prod/signed', tag: '1', status: 'unassessed' },
  { repository: 'prod/unsigned', tag: '1', status: 'unsigned' },
  { repository: 'rogue/app', tag: '1', status: 'unknown-repository' },
];

describe('registry watch --once', () => {
  it('classifies exactly the four tags; signature tags and unwatched repositories are left out; exit 1', async () => {
    // The registry does hold the gate's and sign's cosign tags beside the images.
    expect(await tags(reg, 'prod/app', CREDS)).toEqual(['1.0', `sha256-${SHA}.att`, `sha256-${SHA}.sig`]);
    expect(await tags(reg, 'prod/signed', CREDS)).toEqual(['1', `sha256-${SHA}.sig`]);

    const r = await runCli(['registry', 'watch', '--config', config, '--once', '-f', 'json', ...connection()]);
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.registries).toHaveLength(1);
    const inv = doc.registries[0];
    expect(inv.registry).toBe(reg.host);
    expect(inv.catalog).toBe(5);
    expect(inv.repositories).toEqual(['prod/app', 'prod/signed', 'prod/unsigned', 'rogue/app']);
    expect(inv.signatureTags).toBe(3);
    expect(
      inv.tags.map((t: { repository: string; tag: string; status: string }) => ({
        repository: t.repository,
        tag: t.tag,
        status: t.status,
      })),
    ).toEqual(EXPECTED);
    for (const t of inv.tags) expect(t.digest).toBe(EXAMPLE_DIGEST);
    expect(inv.tags[0].assessedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(inv.tags[1].detail).toContain('no attestations');
    expect(inv.tags[2].detail).toContain(`sha256-${SHA}.sig is not in`);
    expect(inv.tags[3].detail).toContain(`no entry of ${join(tmp, 'trust.yaml')} matches ${reg.host}/rogue/app`);
    expect(inv.counts).toEqual({
      approved: 1,
      unsigned: 1,
      unassessed: 1,
      failed: 0,
      stale: 0,
      'unknown-repository': 1,
      unverifiable: 0,
    });
    // One posture finding per tag that is not approved, at the registry and repo:tag.
    expect(inv.findings.map((f: { ruleId: string; location: unknown }) => [f.ruleId, f.location])).toEqual([
      ['watch-unassessed', { kind: 'registry', host: reg.host, path: 'prod/signed:1' }],
      ['watch-unsigned', { kind: 'registry', host: reg.host, path: 'prod/unsigned:1' }],
      ['watch-unknown-repository', { kind: 'registry', host: reg.host, path: 'rogue/app:1' }],
    ]);
    expect(JSON.stringify(doc)).not.toContain('.sig"');
  });

  it('with a trust policy naming gate policies, approves only assessments made under one of them', async () => {
    const run = async (policies: string) => {
      writeFileSync(
        join(tmp, 'trust-policies.yaml'),
        `version: 1\nrepositories:\n  - match: ${reg.host}/prod/**\n    keys: [gate.pub]\n    attestations: [assessment]\n    policies: ${policies}\n`,
      );
      const strict = join(tmp, 'watch-policies.yaml');
      writeFileSync(
        strict,
        readFileSync(config, 'utf8').replace('trustPolicy: trust.yaml', 'trustPolicy: trust-policies.yaml'),
      );
      const r = await runCli(['registry', 'watch', '--config', strict, '--once', '-f', 'json', ...connection()]);
      const tags = JSON.parse(r.stdout).registries[0].tags as { repository: string; status: string; detail: string }[];
      return tags.find((t) => t.repository === 'prod/app');
    };
    const other = await run(`["sha256:${'0'.repeat(64)}"]`);
    expect(other?.status).toBe('unassessed');
    expect(other?.detail).toContain('made under a policy the trust policy does not name for this repository');
    // The gate's own policy file, by path relative to the trust policy: its PASS counts again.
    expect((await run(`[${basename(gatePolicy)}]`))?.status).toBe('approved');
  });

  it('table and SARIF say the same; --exit-code 0 only reports', async () => {
    const t = await runCli(['registry', 'watch', '--config', config, '--once', '--exit-code', '0', ...connection()]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toContain(`Registry:     ${reg.host}`);
    expect(t.stdout).toContain('Tags:         4 (approved: 1, unsigned: 1, unassessed: 1, unknown-repository: 1)');
    expect(t.stdout).toMatch(new RegExp(`HIGH\\s+watch-unsigned\\s+${reg.host.replace('.', '\\.')}/prod/unsigned:1`));
    expect(t.stdout).not.toContain('prod/app:1.0');

    const s = await runCli(['registry', 'watch', '--config', config, '--once', '-f', 'sarif', ...connection()]);
    expect(s.code, s.stderr).toBe(1);
    const run = JSON.parse(s.stdout).runs[0];
    expect(run.results.map((x: { ruleId: string }) => x.ruleId).sort()).toEqual([
      'watch-unassessed',
      'watch-unknown-repository',
      'watch-unsigned',
    ]);
    expect(run.results[0].locations[0].physicalLocation.artifactLocation.uri).toMatch(
      /^127\.0\.0\.1(:|%3A)\d+\/prod\//,
    );
  });

  it('follows catalog pagination (n=1) to the same verdicts; a later clock makes the approval stale', async () => {
    const cfg = loadWatchConfig(config);
    const opts = { caCerts: [reg.pki?.caCert as string], creds: `${CREDS.user}:${CREDS.password}` };
    const from = reg.log().length;
    const [inv] = await reconcile(cfg, { registry: opts, now: () => Date.now(), pageSize: 1 });
    expect(
      inv?.verdicts.map((v) => ({ repository: v.repository, tag: v.tag, status: v.classification.status })),
    ).toEqual(EXPECTED);
    const lines = requests(reg, from);
    // Five repositories, one per page: the first page, then four that each continue after the last name seen.
    expect(lines.filter((l) => /^GET \/v2\/_catalog\?n=1 200$/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /^GET \/v2\/_catalog\?.*last=/.test(l))).toHaveLength(4);
    // distribution 2.8.2 ignores n= on tag lists (one page each); RegistryRepository.listTags's paging is tested
    // in registry-push.test.ts behind a paginating proxy. Every watched repository's tags were asked with n=1.
    expect(lines.filter((l) => /^GET \/v2\/[a-z/]+\/tags\/list\?n=1 200$/.test(l))).toHaveLength(4);
    // A repository no trust entry names is classified without fetching any signature.
    expect(lines.filter((l) => l.startsWith('GET /v2/rogue/app/manifests/sha256-'))).toEqual([]);

    const later = Date.now() + 8 * 86_400_000;
    const [stale] = await reconcile(cfg, { registry: opts, now: () => later });
    expect(stale?.verdicts.find((v) => v.repository === 'prod/app')?.classification.status).toBe('stale');
  });

  it('without --once and without a state it says what is missing; a registry error propagates instead of a classification', async () => {
    const u = await runCli(['registry', 'watch', '--config', config, ...connection()]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(
      /USAGE: registry watch: the watcher needs a state file: set 'state:' in .* or pass --state/,
    );
    const bad = await runCli([
      'registry',
      'watch',
      '--config',
      config,
      '--once',
      '--ca-cert',
      reg.pki?.caCert as string,
      '--creds',
      'watcher:wrong',
      '--retries',
      '1',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.code).not.toBe(1);
    expect(bad.stderr).toMatch(/AUTH_FAILED: .*catalog of 127\.0\.0\.1/);
    expect(bad.stdout).toBe('');
  });
});

/** Vulnerability rules with a limit on medium findings (the example's critical minimist ignored, as in passingRules). */
function limitsRules(medium: number): string {
  return [
    '  vulnerabilities:',
    '    failOn: critical',
    '    packages:',
    '      - package: pkg:npm/minimist',
    '        ignore: true',
    '        reason: dev-only dependency',
    `    limits: { medium: ${medium} }`,
    '',
  ].join('\n');
}

describe("registry watch: the gate's SBOM re-matched when the advisory data changes", () => {
  it('approved on the data the gate used; failed with the new advisory after an update, without pulling a layer; approved again on the old data', async () => {
    // A policy that allows exactly as many medium findings as the image has now (counted by a full scan).
    const probe = writePolicy(tmp, 'probe', limitsRules(1000));
    const scan = await runCli(['scan', `oci:${EXAMPLE}:latest`, '--db', db, '--policy', probe, '-f', 'json']);
    expect(scan.code, scan.stderr).toBe(0);
    const limitRule = JSON.parse(scan.stdout).policy.rules.find((r: { id: string }) => r.id === 'vulnerability-limits');
    const medium = Number(/^medium: (\d+) finding/.exec(limitRule?.reasons[0] ?? '')?.[1]);
    expect(medium).toBeGreaterThan(0);
    const policy = writePolicy(tmp, 'limited', limitsRules(medium));
    const gate = await runCli(
      [
        'gate',
        `docker://${reg.host}/staging/app:1.0`,
        '--to',
        `${reg.host}/prod/limited`,
        '--policy',
        policy,
        '--key',
        join(tmp, 'gate.key'),
        '--db',
        db,
        ...connection(),
      ],
      pw,
    );
    expect(gate.code, gate.stdout + gate.stderr).toBe(0);

    const cfg = join(tmp, 'rematch.yaml');
    writeFileSync(
      cfg,
      [
        'apiVersion: portcullis.dev/v1alpha1',
        'kind: WatchConfig',
        'state: rematch-state.db',
        'registries:',
        `  - host: ${reg.host}`,
        '    repositories: [prod/limited]',
        '    trustPolicy: trust.yaml',
        '    maxAssessmentAge: 7d',
        '    policy: limited.yaml',
        '',
      ].join('\n'),
    );
    const once = (advisories: string) =>
      runCli(['registry', 'watch', '--config', cfg, '--once', '-f', 'json', '--db', advisories, ...connection()]);
    const tagOf = (stdout: string) => JSON.parse(stdout).registries[0].tags;

    const before = await once(db);
    expect(before.code, before.stderr).toBe(0);
    expect(tagOf(before.stdout).map((t: { tag: string; status: string }) => [t.tag, t.status])).toEqual([
      ['1.0', 'approved'],
    ]);

    const updated = join(tmp, 'updated.db');
    copyFileSync(db, updated);
    await importUrllib3Update(tmp, updated);
    const from = reg.log().length;
    const after = await once(updated);
    expect(after.code, after.stderr).toBe(1);
    const [t] = tagOf(after.stdout);
    expect(t.status).toBe('failed');
    expect(t.detail).toContain('re-matched against the advisory data');
    expect(t.detail).toMatch(/vulnerability-limits: medium: \d+ findings/);
    expect(t.detail).toMatch(/CVE-2024-37891|GHSA-34jh-p97f-mpxf/);
    // Only manifests and the small signature and attestation blobs were read: no blob of the image itself.
    const lines = requests(reg, from);
    for (const blob of EXAMPLE_BLOBS)
      expect(lines.filter((l) => l.includes(blob.slice(7)) && l.includes('/blobs/'))).toEqual([]);

    // The oracle: a full scan of the promoted image, with the updated data and the same policy, fails as well.
    const full = await runCli([
      'scan',
      `docker://${reg.host}/prod/limited:1.0`,
      '--db',
      updated,
      '--policy',
      policy,
      ...connection(),
    ]);
    expect(full.code, full.stderr).toBe(1);

    // The data as the gate saw it: re-matched once more, and approved again.
    const back = await once(db);
    expect(back.code, back.stderr).toBe(0);
    expect(tagOf(back.stdout)[0].status).toBe('approved');

    // No advisory data to re-match with: the run fails, it does not report the approval it could not check.
    const none = await once(join(tmp, 'missing.db'));
    expect([2, 3]).toContain(none.code);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/no advisory database at .*missing\.db/);
  });
});
