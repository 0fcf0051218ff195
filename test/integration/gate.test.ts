import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREDICATE_TYPES } from '../../src/sign/attestation.js';
import { runCli } from '../helpers/cli.js';
import { cosignBinary, cosignEnv, run, startTrap, type Trap } from '../helpers/cosign.js';
import {
  BASE_DIFF_ID,
  type Creds,
  catalog,
  EXAMPLE_BLOBS,
  EXAMPLE_DIGEST,
  exampleDb,
  KEY_PASSWORD,
  passingRules,
  requests,
  skopeo,
  skopeoTls,
  storedBlobs,
  tags,
  writePolicy,
  writes,
  writeVariants,
} from '../helpers/gate.js';
import { EXAMPLE } from '../helpers/paths.js';
import { freePort, makePki, startRegistry, type TestPki, type TestRegistry } from '../helpers/registry.js';

/**
 * `portcullis gate` between two real registries (CNCF distribution, TLS with a test CA, htpasswd, different users),
 * with the example image and the example advisories. Oracles: skopeo (digests in production), the registry's catalog
 * and storage on disk (nothing written on FAIL or error), and the real cosign (verify, verify-attestation).
 */

const STAGE: Creds = { user: 'stage-ci', password: 'St4ge-Pa55-gate' };
const PROD: Creds = { user: 'prod-gate', password: 'Pr0d-Pa55-gate' };
const pw = { COSIGN_PASSWORD: KEY_PASSWORD };

let tmp: string;
let pki: TestPki;
let staging: TestRegistry;
let production: TestRegistry;
let db: string;
let gateKey: string;
let baseKey: string;
let otherKey: string;
let variants: ReturnType<typeof writeVariants>;
let trap: Trap;
let cosign: string;
let cosignEnvironment: NodeJS.ProcessEnv;
let n = 0;

const SOURCE = () => `docker://${staging.host}/team/app:1.0`;

function connection(): string[] {
  return [
    '--ca-cert',
    pki.caCert,
    '--src-creds',
    `${STAGE.user}:${STAGE.password}`,
    '--dest-creds',
    `${PROD.user}:${PROD.password}`,
    '--retries',
    '2',
  ];
}

function gateArgs(source: string, to: string, policy: string, extra: string[] = []): string[] {
  return [
    'gate',
    source,
    '--to',
    to,
    '--policy',
    policy,
    '--key',
    `${gateKey}.key`,
    '--db',
    db,
    ...connection(),
    ...extra,
  ];
}

function record(): string {
  return join(tmp, `record-${++n}.json`);
}

/** The policy the example passes, with the base image's signature required (signed by `key`). */
function signedBasePolicy(name: string, key: string): string {
  const sig = [
    '    approved:',
    `      - name: ${staging.host}/base/example`,
    `        digest: ${variants.base}`,
    `        layers: [${BASE_DIFF_ID}]`,
    '    signature:',
    '      keys:',
    `        - ${key}.pub`,
  ].join('\n');
  return writePolicy(tmp, name, passingRules(sig));
}

async function pushToStaging(src: string, dest: string, all = false): Promise<void> {
  await skopeo(
    'copy',
    '--quiet',
    '--preserve-digests',
    ...(all ? ['--all'] : []),
    ...skopeoTls(staging, STAGE, 'dest'),
    src,
    `docker://${staging.host}/${dest}`,
  );
}

async function inspectDigest(reg: TestRegistry, creds: Creds, ref: string): Promise<string> {
  const raw = await skopeo('inspect', '--raw', ...skopeoTls(reg, creds, ''), `docker://${reg.host}/${ref}`);
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

function cosignFlags(): string[] {
  return [
    '--registry-cacert',
    pki.caCert,
    '--registry-username',
    PROD.user,
    '--registry-password',
    PROD.password,
    '--insecure-ignore-tlog=true',
  ];
}

async function cosignVerify(ref: string, key = `${gateKey}.pub`) {
  return run(cosign, ['verify', '--key', key, ...cosignFlags(), ref], cosignEnvironment);
}

async function cosignAttestation(ref: string, type: string) {
  const r = await run(
    cosign,
    ['verify-attestation', '--key', `${gateKey}.pub`, '--type', type, ...cosignFlags(), ref],
    cosignEnvironment,
  );
  if (r.code !== 0) return { ...r, statement: undefined };
  const env = JSON.parse(r.stdout.trim().split('\n')[0] as string);
  return { ...r, statement: JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) };
}

/** Production holds nothing at all: no repository in its catalog, no blob in its storage. */
async function productionIsEmpty(): Promise<void> {
  expect(await catalog(production, PROD)).toEqual([]);
  expect(storedBlobs(production)).toEqual([]);
}

beforeAll(async () => {
  cosign = cosignBinary();
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-gate-'));
  pki = makePki(join(tmp, 'pki'));
  trap = await startTrap();
  [staging, production] = await Promise.all([
    startRegistry({ tls: true, pki, auth: STAGE }),
    startRegistry({ tls: true, pki, auth: PROD }),
  ]);
  db = await exampleDb(tmp);
  for (const name of ['gate', 'base', 'other']) {
    const r = await runCli(['keygen', '--output-key-prefix', join(tmp, name)], pw);
    expect(r.code, r.stderr).toBe(0);
  }
  [gateKey, baseKey, otherKey] = ['gate', 'base', 'other'].map((k) => join(tmp, k)) as [string, string, string];
  cosignEnvironment = cosignEnv(tmp, trap, readFileSync(`${otherKey}.pub`, 'utf8'));
  const layout = join(tmp, 'variants');
  variants = writeVariants(layout);
  await pushToStaging(`oci:${EXAMPLE}:latest`, 'team/app:1.0');
  await pushToStaging(`oci:${layout}:base`, 'base/example:1');
  await pushToStaging(`oci:${layout}:multi`, 'team/multi:1', true);
  // The approved base image is signed in staging with the platform team's key.
  const s = await runCli(
    [
      'sign',
      `docker://${staging.host}/base/example:1`,
      '--key',
      `${baseKey}.key`,
      '--ca-cert',
      pki.caCert,
      '--creds',
      `${STAGE.user}:${STAGE.password}`,
    ],
    pw,
  );
  expect(s.code, s.stderr).toBe(0);
});

afterAll(async () => {
  await Promise.all([staging?.stop(), production?.stop()]);
  await trap?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('gate: FAIL and errors write nothing to production', () => {
  it('a stricter policy fails the image: exit 1, the decision explained and recorded, production untouched', async () => {
    const policy = writePolicy(tmp, 'strict', '  vulnerabilities:\n    failOn: high\n');
    const rec = record();
    const from = production.log().length;
    const r = await runCli(gateArgs(SOURCE(), `${production.host}/prod/app`, policy, ['--record', rec]), pw);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^vulnerabilities\s+FAIL\s+3 findings at or above the threshold/m);
    expect(r.stdout).toContain('Gate: FAIL: nothing was written to production');
    expect(writes(requests(production, from))).toEqual([]);
    await productionIsEmpty();
    expect(await tags(production, 'prod/app', PROD)).toEqual([]);
    const doc = JSON.parse(readFileSync(rec, 'utf8'));
    expect(doc).toMatchObject({
      source: SOURCE(),
      digest: EXAMPLE_DIGEST,
      destination: `${production.host}/prod/app`,
      tag: '1.0',
      decision: 'FAIL',
      promoted: false,
      policy: { name: 'strict' },
    });
    expect(doc.rules).toEqual([expect.objectContaining({ id: 'vulnerabilities', outcome: 'fail' })]);
  });

  it('a misconfiguration rule fails the image on what the image checks found in the same walk', async () => {
    const policy = writePolicy(tmp, 'healthcheck', '  misconfigurations:\n    fail: [no-healthcheck]\n');
    const r = await runCli(gateArgs(SOURCE(), `${production.host}/prod/app`, policy), pw);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(
      /^misconfigurations\s+FAIL\s+1 misconfiguration finding with a rule id in no-healthcheck/m,
    );
    expect(r.stdout).toContain('Gate: FAIL: nothing was written to production');
    await productionIsEmpty();
  });

  it('check settings the policy does not allow fail the image, whatever they turn off', async () => {
    const settings = join(tmp, 'relaxed.yaml');
    const text = 'apiVersion: portcullis.dev/v1alpha1\nkind: CheckSettings\ndisabled: [no-healthcheck]\n';
    writeFileSync(settings, text);
    const digest = `sha256:${createHash('sha256').update(text).digest('hex')}`;
    const policy = writePolicy(tmp, 'pinned', `${passingRules()}  checkSettings:\n    allow: [defaults]\n`);
    const r = await runCli(
      gateArgs(SOURCE(), `${production.host}/prod/app`, policy, ['--checks-config', settings]),
      pw,
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(
        `^check-settings\\s+FAIL\\s+the checks ran with the settings of ${settings} \\(${digest}\\), which the policy does not allow \\(allowed: defaults\\)$`,
        'm',
      ),
    );
    await productionIsEmpty();
  });

  it('a base image signed with a key the policy does not trust fails the base-image-signature rule', async () => {
    const r = await runCli(
      gateArgs(SOURCE(), `${production.host}/prod/app`, signedBasePolicy('untrusted', otherKey)),
      pw,
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(
      /^base-image-signature\s+FAIL\s+no signature of .*base\/example .* verifies with a trusted key/m,
    );
    expect(r.stdout).toMatch(/wrong key: the signature does not verify with .*other\.pub/);
    await productionIsEmpty();
  });

  it('errors exit by class, before anything is written: bad key password (2), invalid policy (2), unreachable production (3)', async () => {
    const policy = writePolicy(tmp, 'ok-for-errors', passingRules());
    const to = `${production.host}/prod/app`;
    const badPw = await runCli(gateArgs(SOURCE(), to, policy), { COSIGN_PASSWORD: 'not the password' });
    expect(badPw.code).toBe(2);
    expect(badPw.stderr).toMatch(/^portcullis: KEY_DECRYPT_FAILED: .*gate\.key: cannot decrypt the private key/m);

    const invalid = writePolicy(tmp, 'invalid', '  vulnerabilities:\n    failOn: hihg\n');
    const rec = record();
    const bad = await runCli(gateArgs(SOURCE(), to, invalid, ['--record', rec]), pw);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^portcullis: POLICY_INVALID: .*invalid\.yaml:6:13: rules\.vulnerabilities\.failOn/m);
    expect(JSON.parse(readFileSync(rec, 'utf8'))).toMatchObject({
      decision: 'ERROR',
      promoted: false,
      error: { code: 'POLICY_INVALID', exitCode: 2 },
    });

    const nowhere = `127.0.0.1:${await freePort()}/prod/app`;
    const down = await runCli(gateArgs(SOURCE(), nowhere, policy), pw);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/^portcullis: NETWORK: .*127\.0\.0\.1:\d+/m);

    const digestOnly = await runCli(gateArgs(`${staging.host}/team/app@${EXAMPLE_DIGEST}`, to, policy), pw);
    expect(digestOnly.code).toBe(2);
    expect(digestOnly.stderr).toContain('named by digest only: give the production tag with --tag');
    await productionIsEmpty();
  });
});

describe('gate: PASS promotes by digest, signed and attested, then tagged', () => {
  it('promotes: same digest in production, cosign verifies signature and attestations, the record is right', async () => {
    const policy = signedBasePolicy('production', baseKey);
    const rec = record();
    const r = await runCli(gateArgs(SOURCE(), `${production.host}/prod/app`, policy, ['--record', rec]), pw);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^base-image-signature\s+PASS\s+.*base\/example \(sha256:[0-9a-f]{64}\) is signed with trusted key .*base\.pub$/m,
    );
    expect(r.stdout).toMatch(/^secrets\s+PASS\s+no secret finding at or above high \(0 secret findings\)/m);
    expect(r.stdout).toMatch(
      /^misconfigurations\s+PASS\s+no misconfiguration finding with a rule id in empty-password, setuid-setgid/m,
    );
    expect(r.stdout).toContain(`Tagged:      ${production.host}/prod/app:1.0 -> ${EXAMPLE_DIGEST}`);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('Gate: PASS, promoted');

    // skopeo sees the same digest in production, with every blob of the image.
    expect(await inspectDigest(production, PROD, 'prod/app:1.0')).toBe(EXAMPLE_DIGEST);
    expect(storedBlobs(production)).toEqual(expect.arrayContaining(EXAMPLE_BLOBS));
    expect(await catalog(production, PROD)).toEqual(['prod/app']);
    const sha = EXAMPLE_DIGEST.slice(7);
    expect(await tags(production, 'prod/app', PROD)).toEqual(['1.0', `sha256-${sha}.att`, `sha256-${sha}.sig`]);

    // The real cosign verifies the signature and both attestations on production.
    const repo = `${production.host}/prod/app`;
    const ref = `${repo}@${EXAMPLE_DIGEST}`;
    const v = await cosignVerify(ref);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)[0].critical).toEqual({
      identity: { 'docker-reference': repo },
      image: { 'docker-manifest-digest': EXAMPLE_DIGEST },
      type: 'cosign container image signature',
    });
    const assessment = await cosignAttestation(ref, PREDICATE_TYPES.assessment as string);
    expect(assessment.code, assessment.stderr).toBe(0);
    expect(assessment.statement.subject).toEqual([{ name: repo, digest: { sha256: sha } }]);
    expect(assessment.statement.predicate).toMatchObject({
      decision: 'PASS',
      subject: { source: SOURCE(), digest: EXAMPLE_DIGEST },
      policy: { name: 'production' },
    });
    const platform = assessment.statement.predicate.platforms[0];
    expect(platform.decision.rules.map((x: { id: string; outcome: string }) => `${x.id} ${x.outcome}`)).toEqual([
      'base-image pass',
      'base-image-signature pass',
      'labels pass',
      'misconfigurations pass',
      'secrets pass',
      'vulnerabilities pass',
    ]);
    expect(platform.vulnerabilities.map((x: { id: string; package: string }) => `${x.package} ${x.id}`)).toContain(
      'minimist CVE-2021-44906',
    );
    const sbom = await cosignAttestation(ref, 'cyclonedx');
    expect(sbom.code, sbom.stderr).toBe(0);
    expect(sbom.statement.predicate.bomFormat).toBe('CycloneDX');
    expect(sbom.statement.predicate.metadata.component.version).toBe(EXAMPLE_DIGEST);
    expect(sbom.statement.predicate.components.map((c: { purl?: string }) => c.purl)).toContain(
      'pkg:npm/minimist@1.2.5',
    );
    // The oracle is not vacuous: another key is refused.
    expect((await cosignVerify(ref, `${otherKey}.pub`)).code).not.toBe(0);

    // Portcullis verifies the production tag the same way.
    const pv = await runCli([
      'verify',
      `docker://${repo}:1.0`,
      '--key',
      `${gateKey}.pub`,
      '--attestation',
      'assessment',
      '--attestation',
      'cyclonedx',
      '--ca-cert',
      pki.caCert,
      '--creds',
      `${PROD.user}:${PROD.password}`,
    ]);
    expect(pv.code, pv.stderr).toBe(0);

    // The record: what, where, the decision with its rules, the findings counted as scan counts them.
    const doc = JSON.parse(readFileSync(rec, 'utf8'));
    // The gate ran the checks its policy's rules read (misconfigurations, secrets): scan with the same.
    const scan = await runCli([
      'scan',
      `oci:${EXAMPLE}:latest`,
      '--db',
      db,
      '-f',
      'json',
      '--include-unimportant',
      '--scanners',
      'vuln,misconfig,secret',
    ]);
    const findings = JSON.parse(scan.stdout).findings as { severity: string }[];
    const count = (s: string) => findings.filter((f) => f.severity === s).length;
    expect(doc).toMatchObject({
      tool: { name: 'portcullis', version: JSON.parse(readFileSync('package.json', 'utf8')).version },
      source: SOURCE(),
      digest: EXAMPLE_DIGEST,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      destination: repo,
      tag: '1.0',
      decision: 'PASS',
      promoted: true,
      alreadyPromoted: false,
      policy: { name: 'production', file: policy },
      findings: {
        total: findings.length,
        critical: count('critical'),
        high: count('high'),
        medium: count('medium'),
        low: count('low'),
        unknown: count('unknown'),
        suppressed: 0,
      },
      signature: `sha256-${sha}.sig`,
      attestations: { tag: `sha256-${sha}.att`, types: [PREDICATE_TYPES.assessment, PREDICATE_TYPES.cyclonedx] },
      copied: { blobs: 3, mounted: 0, present: 0 },
    });
    expect(doc.rules.map((x: { id: string; outcome: string }) => `${x.id} ${x.outcome}`)).toEqual([
      'base-image pass',
      'base-image-signature pass',
      'labels pass',
      'misconfigurations pass',
      'secrets pass',
      'vulnerabilities pass',
    ]);
    expect(Number.isNaN(Date.parse(doc.time))).toBe(false);
    // Every step the promotion went through is timed, in order.
    expect(Object.keys(doc.stepSeconds)).toEqual(['resolve', 'assess', 'copy', 'sign', 'attest', 'tag']);
    expect(Object.values(doc.stepSeconds).every((x) => typeof x === 'number' && x >= 0)).toBe(true);
  });

  it('a rerun is a no-op success: nothing written to production', async () => {
    const policy = join(tmp, 'production.yaml');
    const rec = record();
    const from = production.log().length;
    const r = await runCli(gateArgs(SOURCE(), `${production.host}/prod/app`, policy, ['--record', rec]), pw);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Gate: PASS, already promoted: ${production.host}/prod/app:1.0 names ${EXAMPLE_DIGEST}`);
    expect(writes(requests(production, from))).toEqual([]);
    const doc = JSON.parse(readFileSync(rec, 'utf8'));
    expect(doc).toMatchObject({ decision: 'PASS', promoted: true, alreadyPromoted: true, digest: EXAMPLE_DIGEST });
    // Assessed again (this run's time), beside when the attested assessment was made.
    expect(Date.parse(doc.assessedAt)).toBeGreaterThan(Date.parse(doc.attestedAt));
    expect(Object.keys(doc.stepSeconds)).toEqual(['resolve', 'assess']);
  });

  it('a rerun assesses again: with newer advisories the promoted digest fails, and production is not written to', async () => {
    // A test advisory (not a real one): a critical vulnerability in the example's lodash, as a database update brings.
    const newer = join(tmp, 'newer-advisories');
    mkdirSync(newer, { recursive: true });
    writeFileSync(
      join(newer, 'TEST-lodash-critical.json'),
      JSON.stringify({
        schema_version: '1.6.0',
        id: 'PORTCULLIS-TEST-0001',
        modified: '2026-11-01T00:00:00Z',
        summary: 'test advisory: a critical flaw in lodash before 4.17.21',
        severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
        affected: [
          {
            package: { ecosystem: 'npm', name: 'lodash' },
            ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }],
          },
        ],
      }),
    );
    const db2 = join(tmp, 'advisories-newer.db');
    copyFileSync(db, db2);
    const imported = await runCli(['db', 'import', newer, '--db', db2, '-q']);
    expect(imported.code, imported.stderr).toBe(0);
    const rec = record();
    const from = production.log().length;
    const args = gateArgs(SOURCE(), `${production.host}/prod/app`, join(tmp, 'production.yaml'), ['--record', rec]);
    const r = await runCli(
      [...args.slice(0, args.indexOf('--db') + 1), db2, ...args.slice(args.indexOf('--db') + 2)],
      pw,
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('PORTCULLIS-TEST-0001');
    expect(r.stdout).toContain(`still names ${EXAMPLE_DIGEST} from an earlier promotion`);
    expect(writes(requests(production, from))).toEqual([]);
    expect(JSON.parse(readFileSync(rec, 'utf8'))).toMatchObject({
      decision: 'FAIL',
      promoted: false,
      alreadyPromoted: false,
      inProduction: true,
    });
  });

  it('other check settings are another decision: assessed and attested again, then a rerun is a no-op', async () => {
    const policy = join(tmp, 'production.yaml');
    const settings = join(tmp, 'checks.yaml');
    writeFileSync(settings, 'apiVersion: portcullis.dev/v1alpha1\nkind: CheckSettings\nunnecessaryPackages: [gdb]\n');
    const from = production.log().length;
    const args = gateArgs(SOURCE(), `${production.host}/prod/app`, policy, ['--checks-config', settings]);
    const again = await runCli(args, pw);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('already promoted');
    // Only the attestations were written anew (and the tag put again, to the same digest): the image and its
    // signature were there.
    const written = writes(requests(production, from));
    expect(written.some((w) => /manifests\/sha256-[0-9a-f]{64}\.att 201$/.test(w))).toBe(true);
    expect(written.filter((w) => !/sha256-[0-9a-f]{64}\.att|\/blobs\/|manifests\/1\.0 201$/.test(w))).toEqual([]);
    const rerun = await runCli(args, pw);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('already promoted');
  });

  it('when SOURCE moves to another digest, the gate is a new promotion: the tag moves, both digests stay signed', async () => {
    await pushToStaging(`oci:${join(tmp, 'variants')}:moved`, 'team/app:1.0');
    const policy = join(tmp, 'production.yaml');
    const r = await runCli(gateArgs(SOURCE(), `${production.host}/prod/app`, policy), pw);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Tagged:      ${production.host}/prod/app:1.0 -> ${variants.moved}`);
    expect(await inspectDigest(production, PROD, 'prod/app:1.0')).toBe(variants.moved);
    const repo = `${production.host}/prod/app`;
    expect((await cosignVerify(`${repo}@${variants.moved}`)).code).toBe(0);
    expect((await cosignVerify(`${repo}@${EXAMPLE_DIGEST}`)).code).toBe(0);
  });

  it('promotes a multi-platform index whole and signs it at the index digest', async () => {
    const policy = join(tmp, 'production.yaml');
    const rec = record();
    const source = `docker://${staging.host}/team/multi:1`;
    const r = await runCli(gateArgs(source, `${production.host}/prod/multi`, policy, ['--record', rec]), pw);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Platform linux/amd64');
    expect(r.stdout).toContain('Platform linux/arm64/v8');
    expect(await inspectDigest(production, PROD, 'prod/multi:1')).toBe(variants.multi);
    // The build attestation (unknown/unknown) is copied with the index, and not assessed as a platform.
    for (const child of [...variants.children, variants.attestation]) {
      expect(await inspectDigest(production, PROD, `prod/multi@${child}`)).toBe(child);
    }
    const repo = `${production.host}/prod/multi`;
    const v = await cosignVerify(`${repo}@${variants.multi}`);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)[0].critical.image['docker-manifest-digest']).toBe(variants.multi);
    const sbom = await cosignAttestation(`${repo}@${variants.multi}`, 'cyclonedx');
    expect(sbom.code, sbom.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(rec, 'utf8'));
    expect(doc).toMatchObject({ digest: variants.multi, decision: 'PASS', promoted: true });
    expect(doc.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(doc.platforms).toEqual([
      { platform: 'linux/amd64', digest: variants.children[0], decision: 'PASS' },
      { platform: 'linux/arm64/v8', digest: variants.children[1], decision: 'PASS' },
    ]);
  });

  it('assesses an index entry that calls itself an attestation but has a real platform: it fails, nothing promoted', async () => {
    await pushToStaging(`oci:${join(tmp, 'variants')}:disguised`, 'team/disguised:1', true);
    const policy = join(tmp, 'production.yaml');
    const from = production.log().length;
    const r = await runCli(
      gateArgs(`docker://${staging.host}/team/disguised:1`, `${production.host}/prod/disguised`, policy),
      pw,
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^labels\s+FAIL\s+.*evil-unassessed/m);
    expect(r.stdout).toContain('Gate: FAIL: nothing was written to production');
    expect(writes(requests(production, from))).toEqual([]);
  });

  it('cosign never reached beyond loopback: the proxy trap saw no connection', () => {
    expect(trap.connections()).toBe(0);
  });
});
