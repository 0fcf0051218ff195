import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREDICATE_TYPES } from '../../src/sign/attestation.js';
import { buildPayload } from '../../src/sign/payload.js';
import { runCli } from '../helpers/cli.js';
import { cosignBinary, cosignEnv, run, startTrap, type Trap } from '../helpers/cosign.js';
import { EXAMPLE_DIGEST, skopeo, skopeoTls } from '../helpers/gate.js';
import { EXAMPLE } from '../helpers/paths.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * `portcullis sign`, `attest` and `verify` on registry images (docker://), held against the real cosign both ways on a
 * TLS registry with htpasswd auth on 127.0.0.1: cosign verifies what Portcullis wrote into the registry, and Portcullis
 * verifies what cosign wrote there. Every proxy variable of cosign points at a trap that must see no connection.
 */

const CREDS = { user: 'signer', password: 'Sign-Pa55-registry' };
const pw = { COSIGN_PASSWORD: 'registry signing key' };
let reg: TestRegistry;
let trap: Trap;
let tmp: string;
let env: NodeJS.ProcessEnv;
let cosign: string;

function ours(): string[] {
  return ['--ca-cert', reg.pki?.caCert as string, '--creds', `${CREDS.user}:${CREDS.password}`];
}

function theirs(): string[] {
  return [
    '--registry-cacert',
    reg.pki?.caCert as string,
    '--registry-username',
    CREDS.user,
    '--registry-password',
    CREDS.password,
  ];
}

async function push(repo: string): Promise<void> {
  await skopeo('copy', '--quiet', ...skopeoTls(reg, CREDS, 'dest'), `oci:${EXAMPLE}:latest`, `docker://${repo}`);
}

async function keygen(name: string): Promise<string> {
  const prefix = join(tmp, name);
  const r = await runCli(['keygen', '--output-key-prefix', prefix], pw);
  expect(r.code, r.stderr).toBe(0);
  return prefix;
}

beforeAll(async () => {
  cosign = cosignBinary();
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-sign-registry-'));
  trap = await startTrap();
  reg = await startRegistry({ tls: true, auth: CREDS });
  const spare = await keygen('spare');
  env = cosignEnv(tmp, trap, readFileSync(`${spare}.pub`, 'utf8'));
});

afterAll(async () => {
  await reg?.stop();
  await trap?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('sign, attest and verify in a registry', () => {
  it('Portcullis signs and attests docker://; cosign verify and verify-attestation accept it; a rerun adds nothing', async () => {
    const key = await keygen('p');
    const repo = `${reg.host}/team/app`;
    await push(`${repo}:1.0`);
    const s = await runCli(['sign', `docker://${repo}:1.0`, '--key', `${key}.key`, '-a', 'ci=run-9', ...ours()], pw);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toBe(
      `Signed ${EXAMPLE_DIGEST} for ${repo}: docker://${repo}:sha256-${EXAMPLE_DIGEST.slice(7)}.sig\n`,
    );
    writeFileSync(
      join(tmp, 'assessment.json'),
      JSON.stringify({ decision: 'PASS', assessedAt: '2026-11-01T00:00:00Z' }),
    );
    const a = await runCli(
      [
        'attest',
        `${repo}@${EXAMPLE_DIGEST}`,
        '--key',
        `${key}.key`,
        '--type',
        'assessment',
        '--predicate',
        join(tmp, 'assessment.json'),
        ...ours(),
      ],
      pw,
    );
    expect(a.code, a.stderr).toBe(0);

    const ref = `${repo}@${EXAMPLE_DIGEST}`;
    const v = await run(
      cosign,
      ['verify', '--key', `${key}.pub`, '--insecure-ignore-tlog=true', ...theirs(), ref],
      env,
    );
    expect(v.code, v.stderr).toBe(0);
    const claims = JSON.parse(v.stdout);
    expect(claims).toHaveLength(1);
    expect(claims[0].critical.identity['docker-reference']).toBe(repo);
    expect(claims[0].critical.image['docker-manifest-digest']).toBe(EXAMPLE_DIGEST);
    expect(claims[0].optional).toEqual({ ci: 'run-9' });
    const va = await run(
      cosign,
      [
        'verify-attestation',
        '--key',
        `${key}.pub`,
        '--type',
        PREDICATE_TYPES.assessment as string,
        '--insecure-ignore-tlog=true',
        ...theirs(),
        ref,
      ],
      env,
    );
    expect(va.code, va.stderr).toBe(0);
    const statement = JSON.parse(
      Buffer.from(JSON.parse(va.stdout.split('\n')[0] as string).payload, 'base64').toString(),
    );
    expect(statement.subject).toEqual([{ name: repo, digest: { sha256: EXAMPLE_DIGEST.slice(7) } }]);
    expect(statement.predicate).toEqual({ decision: 'PASS', assessedAt: '2026-11-01T00:00:00Z' });

    // Portcullis agrees, by tag and by digest.
    const pv = await runCli([
      'verify',
      `docker://${repo}:1.0`,
      '--key',
      `${key}.pub`,
      '--attestation',
      'assessment',
      ...ours(),
    ]);
    expect(pv.code, pv.stderr).toBe(0);
    expect(pv.stdout).toContain(`Verified docker://${repo}:1.0 (${EXAMPLE_DIGEST}) for ${repo}`);

    // Signing again with the same key writes nothing: the .sig manifest is unchanged.
    const sigTag = `docker://${repo}:sha256-${EXAMPLE_DIGEST.slice(7)}.sig`;
    const before = await skopeo('inspect', '--raw', ...skopeoTls(reg, CREDS, ''), sigTag);
    const again = await runCli(
      ['sign', `docker://${repo}:1.0`, '--key', `${key}.key`, '-a', 'ci=run-9', ...ours()],
      pw,
    );
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('Already signed');
    expect(await skopeo('inspect', '--raw', ...skopeoTls(reg, CREDS, ''), sigTag)).toBe(before);
  });

  it('Portcullis verifies what cosign signed and attested in the registry; the payload is byte-identical', async () => {
    const dir = join(tmp, 'cosign-keys');
    mkdirSync(dir);
    expect((await run(cosign, ['generate-key-pair'], { ...env, ...pw }, dir)).code).toBe(0);
    const repo = `${reg.host}/team/by-cosign`;
    await push(`${repo}:2.0`);
    const ref = `${repo}@${EXAMPLE_DIGEST}`;
    const s = await run(
      cosign,
      ['sign', '--key', join(dir, 'cosign.key'), '--tlog-upload=false', '-y', ...theirs(), ref],
      { ...env, ...pw },
    );
    expect(s.code, s.stderr).toBe(0);
    writeFileSync(
      join(tmp, 'bom.json'),
      JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components: [] }),
    );
    const a = await run(
      cosign,
      [
        'attest',
        '--key',
        join(dir, 'cosign.key'),
        '--type',
        'cyclonedx',
        '--predicate',
        join(tmp, 'bom.json'),
        '--tlog-upload=false',
        '-y',
        ...theirs(),
        ref,
      ],
      { ...env, ...pw },
    );
    expect(a.code, a.stderr).toBe(0);
    const v = await runCli([
      'verify',
      `docker://${repo}:2.0`,
      '--key',
      join(dir, 'cosign.pub'),
      '--attestation',
      'cyclonedx',
      '-o',
      'json',
      ...ours(),
    ]);
    expect(v.code, v.stderr).toBe(0);
    const doc = JSON.parse(v.stdout);
    expect(doc).toMatchObject({ verified: true, digest: EXAMPLE_DIGEST, repository: repo });
    expect(doc.signatures).toHaveLength(1);
    expect(doc.attestations.map((x: { predicateType: string }) => x.predicateType)).toEqual([
      'https://cyclonedx.org/bom',
    ]);
    // cosign's payload blob is exactly what Portcullis builds for this repository and digest.
    const payloadDigest = `sha256:${createHash('sha256').update(buildPayload(repo, EXAMPLE_DIGEST)).digest('hex')}`;
    const sigManifest = JSON.parse(
      await skopeo(
        'inspect',
        '--raw',
        ...skopeoTls(reg, CREDS, ''),
        `docker://${repo}:sha256-${EXAMPLE_DIGEST.slice(7)}.sig`,
      ),
    );
    expect(sigManifest.layers.map((l: { digest: string }) => l.digest)).toEqual([payloadDigest]);
  });

  it('refuses what does not verify, and --identity for a registry image', async () => {
    const key = await keygen('q');
    const other = await keygen('other');
    const repo = `${reg.host}/team/refuse`;
    await push(`${repo}:1`);
    expect((await runCli(['sign', `docker://${repo}:1`, '--key', `${key}.key`, ...ours()], pw)).code).toBe(0);
    const wrong = await runCli(['verify', `docker://${repo}:1`, '--key', `${other}.pub`, ...ours()]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^portcullis: NOT_VERIFIED: .*wrong key/m);
    const noAtt = await runCli([
      'verify',
      `docker://${repo}:1`,
      '--key',
      `${key}.pub`,
      '--attestation',
      'cyclonedx',
      ...ours(),
    ]);
    expect(noAtt.code).toBe(1);
    expect(noAtt.stderr).toContain('no attestations');
    const id = await runCli(['sign', `docker://${repo}:1`, '--key', `${key}.key`, '--identity', repo, ...ours()], pw);
    expect(id.code).toBe(2);
    expect(id.stderr).toMatch(/^portcullis: USAGE: .*--identity is for OCI layouts/m);
    const missing = await runCli(['verify', `docker://${repo}:nope`, '--key', `${key}.pub`, ...ours()]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^portcullis: NOT_FOUND: /m);
  });

  it('cosign never reached beyond loopback: the proxy trap saw no connection', () => {
    expect(trap.connections()).toBe(0);
  });
});
