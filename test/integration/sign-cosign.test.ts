import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREDICATE_TYPES } from '../../src/sign/attestation.js';
import { LayoutSignatureStore } from '../../src/sign/layoutstore.js';
import { buildPayload } from '../../src/sign/payload.js';
import { SIGNATURE_ANNOTATION, signatureTag } from '../../src/sign/sigimage.js';
import { runCli } from '../helpers/cli.js';
import { cosignBinary, cosignEnv, run, startTrap, type Trap } from '../helpers/cosign.js';
import { EXAMPLE } from '../helpers/paths.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * The real cosign (v2.6.5, built by the test setup) as the oracle, both ways: it accepts Portcullis's keys,
 * signatures and attestations (cosign verify / verify-attestation against a real registry on 127.0.0.1), and
 * Portcullis accepts cosign's. openssl checks the raw ECDSA signature over the payload bytes. Nothing leaves
 * loopback: every proxy variable points at a trap that counts connections, and the last test asserts it saw none.
 */

const USER = 'signer';
const PASSWORD = 'registry-Pa55';
const KEY_PASSWORD = 'key password with spaces ✓';
let reg: TestRegistry;
let trap: Trap;
let tmp: string;
let env: NodeJS.ProcessEnv;
let cosign: string;

const pw = { COSIGN_PASSWORD: KEY_PASSWORD };

function registryFlags(): string[] {
  return ['--registry-cacert', reg.pki?.caCert as string, '--registry-username', USER, '--registry-password', PASSWORD];
}

function skopeo(...args: string[]): string {
  return execFileSync('skopeo', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** skopeo copy between a layout and the registry, digests preserved. */
function copy(from: string, to: string, direction: 'push' | 'pull'): void {
  const tls =
    direction === 'push'
      ? ['--dest-cert-dir', reg.certDir as string, '--dest-creds', `${USER}:${PASSWORD}`]
      : ['--src-cert-dir', reg.certDir as string, '--src-creds', `${USER}:${PASSWORD}`];
  skopeo('copy', '--quiet', '--preserve-digests', ...tls, from, to);
}

function layoutDigest(dir: string, tag: string): string {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const entry = index.manifests.find(
    (m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === tag,
  );
  if (!entry) throw new Error(`${dir} has no tag ${tag}`);
  return entry.digest;
}

function freshLayout(name: string): string {
  const dir = join(tmp, name);
  cpSync(EXAMPLE, dir, { recursive: true });
  return dir;
}

async function cosignRun(args: string[], extraEnv: NodeJS.ProcessEnv = {}, cwd?: string) {
  return run(cosign, args, { ...env, ...extraEnv }, cwd);
}

beforeAll(async () => {
  cosign = cosignBinary();
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-cosign-'));
  trap = await startTrap();
  reg = await startRegistry({ tls: true, auth: { user: USER, password: PASSWORD } });
  // Any P-256 public key will do as the (unused) Rekor key; cosign only needs the variable set.
  const spare = join(tmp, 'spare');
  const k = await runCli(['keygen', '--output-key-prefix', spare], pw);
  expect(k.code).toBe(0);
  env = cosignEnv(tmp, trap, readFileSync(`${spare}.pub`, 'utf8'));
});

afterAll(async () => {
  await reg?.stop();
  await trap?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('keys: cosign and Portcullis read each other', () => {
  it('cosign decrypts a Portcullis key (public-key), signs a blob with it, and verifies that with the .pub', async () => {
    const prefix = join(tmp, 'pk');
    const k = await runCli(['keygen', '--output-key-prefix', prefix], pw);
    expect(k.code).toBe(0);
    expect(k.stderr).toContain(`Private key written to ${prefix}.key`);
    const pub = readFileSync(`${prefix}.pub`, 'utf8');
    const derived = await cosignRun(['public-key', '--key', `${prefix}.key`], pw);
    expect(derived.code).toBe(0);
    expect(derived.stdout).toBe(pub);
    const wrong = await cosignRun(['public-key', '--key', `${prefix}.key`], { COSIGN_PASSWORD: 'not it' });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('decryption failed');

    const blob = join(tmp, 'blob.txt');
    writeFileSync(blob, 'some bytes\n');
    const signed = await cosignRun(
      ['sign-blob', '--key', `${prefix}.key`, '--tlog-upload=false', '--output-signature', `${blob}.sig`, '-y', blob],
      pw,
    );
    expect(signed.code, signed.stderr).toBe(0);
    const verified = await cosignRun([
      'verify-blob',
      '--key',
      `${prefix}.pub`,
      '--signature',
      `${blob}.sig`,
      '--insecure-ignore-tlog=true',
      blob,
    ]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stderr).toContain('Verified OK');
  });

  it('the key file is what cosign writes: PEM label, scrypt N=65536 r=8 p=1, 32-byte salt, nacl/secretbox, mode 0600', async () => {
    const prefix = join(tmp, 'shape');
    expect((await runCli(['keygen', '--output-key-prefix', prefix], pw)).code).toBe(0);
    const text = readFileSync(`${prefix}.key`, 'utf8');
    expect(text).toMatch(
      /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n$/,
    );
    const body = text.split('\n').slice(1, -2).join('');
    const env = JSON.parse(Buffer.from(body, 'base64').toString('utf8'));
    expect(env.kdf.name).toBe('scrypt');
    expect(env.kdf.params).toEqual({ N: 65536, r: 8, p: 1 });
    expect(Buffer.from(env.kdf.salt, 'base64')).toHaveLength(32);
    expect(env.cipher.name).toBe('nacl/secretbox');
    expect(Buffer.from(env.cipher.nonce, 'base64')).toHaveLength(24);
    expect(execFileSync('stat', ['-c', '%a', `${prefix}.key`], { encoding: 'utf8' }).trim()).toBe('600');
    // The public key is a plain SPKI PEM that openssl reads as a P-256 key.
    const info = execFileSync('openssl', ['pkey', '-pubin', '-in', `${prefix}.pub`, '-noout', '-text'], {
      encoding: 'utf8',
    });
    expect(info).toMatch(/NIST CURVE: P-256|prime256v1/);
  });

  it('Portcullis signs with a key cosign generate-key-pair wrote, and with the older ENCRYPTED COSIGN PRIVATE KEY label', async () => {
    const dir = join(tmp, 'cosign-keys');
    execFileSync('mkdir', ['-p', dir]);
    const gen = await cosignRun(['generate-key-pair'], pw, dir);
    expect(gen.code, gen.stderr).toBe(0);
    const layout = freshLayout('cosign-key-layout');
    const repo = `${reg.host}/ck`;
    const s = await runCli(['sign', `oci:${layout}:latest`, '--key', join(dir, 'cosign.key'), '--identity', repo], pw);
    expect(s.code, s.stderr).toBe(0);
    const v = await runCli(['verify', `oci:${layout}:latest`, '--key', join(dir, 'cosign.pub'), '--identity', repo]);
    expect(v.code, v.stderr).toBe(0);
    const old = readFileSync(join(dir, 'cosign.key'), 'utf8').replaceAll('SIGSTORE PRIVATE KEY', 'COSIGN PRIVATE KEY');
    writeFileSync(join(dir, 'old.key'), old);
    const s2 = await runCli(['sign', `oci:${layout}:latest`, '--key', join(dir, 'old.key'), '--identity', repo], pw);
    expect(s2.code, s2.stderr).toBe(0);
    expect(s2.stdout).toContain('Already signed'); // same key, same payload: cosign's dupe rule
    const bad = await runCli(['sign', `oci:${layout}:latest`, '--key', join(dir, 'cosign.key'), '--identity', repo], {
      COSIGN_PASSWORD: 'wrong',
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /^portcullis: KEY_DECRYPT_FAILED: .*cosign\.key: cannot decrypt the private key: wrong password/m,
    );
  });
});

describe('signatures and attestations: cosign verifies Portcullis, Portcullis verifies cosign', () => {
  it("openssl verifies the ECDSA signature over the exact payload bytes, and the payload is cosign's format", async () => {
    const prefix = join(tmp, 'ossl');
    expect((await runCli(['keygen', '--output-key-prefix', prefix], pw)).code).toBe(0);
    const layout = freshLayout('ossl-layout');
    const repo = `${reg.host}/team/ossl`;
    expect(
      (await runCli(['sign', `oci:${layout}:latest`, '--key', `${prefix}.key`, '--identity', repo], pw)).code,
    ).toBe(0);
    const digest = layoutDigest(layout, 'latest');
    const store = new LayoutSignatureStore(layout);
    const sig = await store.getManifest(signatureTag(digest, 'sig'));
    const manifest = JSON.parse((sig as { bytes: Buffer }).bytes.toString('utf8'));
    expect(manifest.layers).toHaveLength(1);
    const layer = manifest.layers[0];
    expect(layer.mediaType).toBe('application/vnd.dev.cosign.simplesigning.v1+json');
    const payload = await store.getBlob(layer.digest, 1 << 20);
    expect(JSON.parse(payload.toString('utf8'))).toEqual({
      critical: {
        identity: { 'docker-reference': repo },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional: null,
    });
    writeFileSync(join(tmp, 'payload.json'), payload);
    writeFileSync(join(tmp, 'payload.sig'), Buffer.from(layer.annotations[SIGNATURE_ANNOTATION], 'base64'));
    const ok = execFileSync(
      'openssl',
      [
        'dgst',
        '-sha256',
        '-verify',
        `${prefix}.pub`,
        '-signature',
        join(tmp, 'payload.sig'),
        join(tmp, 'payload.json'),
      ],
      { encoding: 'utf8' },
    );
    expect(ok.trim()).toBe('Verified OK');
    writeFileSync(join(tmp, 'payload.json'), Buffer.concat([payload, Buffer.from(' ')]));
    const tampered = await run(
      'openssl',
      [
        'dgst',
        '-sha256',
        '-verify',
        `${prefix}.pub`,
        '-signature',
        join(tmp, 'payload.sig'),
        join(tmp, 'payload.json'),
      ],
      process.env,
    );
    expect(tampered.code).not.toBe(0);
  });

  it('cosign verify and verify-attestation accept what Portcullis signed in a layout and skopeo pushed', async () => {
    const prefix = join(tmp, 'push');
    expect((await runCli(['keygen', '--output-key-prefix', prefix], pw)).code).toBe(0);
    const layout = freshLayout('push-layout');
    const repo = `${reg.host}/team/app`;
    const sign = await runCli(
      ['sign', `oci:${layout}:latest`, '--key', `${prefix}.key`, '--identity', repo, '-a', 'ci=run-7'],
      pw,
    );
    expect(sign.code, sign.stderr).toBe(0);
    writeFileSync(join(tmp, 'assessment.json'), JSON.stringify({ decision: 'PASS', findings: [] }));
    writeFileSync(
      join(tmp, 'sbom.json'),
      JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [] }),
    );
    for (const [type, file] of [
      ['assessment', 'assessment.json'],
      ['cyclonedx', 'sbom.json'],
    ]) {
      const a = await runCli(
        [
          'attest',
          `oci:${layout}:latest`,
          '--key',
          `${prefix}.key`,
          '--identity',
          repo,
          '--type',
          type as string,
          '--predicate',
          join(tmp, file as string),
        ],
        pw,
      );
      expect(a.code, a.stderr).toBe(0);
    }
    const digest = layoutDigest(layout, 'latest');
    for (const tag of ['latest', signatureTag(digest, 'sig'), signatureTag(digest, 'att')]) {
      copy(`oci:${layout}:${tag}`, `docker://${repo}:${tag}`, 'push');
    }
    const ref = `${repo}@${digest}`;
    const v = await cosignRun([
      'verify',
      '--key',
      `${prefix}.pub`,
      '--insecure-ignore-tlog=true',
      ...registryFlags(),
      ref,
    ]);
    expect(v.code, v.stderr).toBe(0);
    const out = JSON.parse(v.stdout);
    expect(out).toHaveLength(1);
    expect(out[0].critical).toEqual({
      identity: { 'docker-reference': repo },
      image: { 'docker-manifest-digest': digest },
      type: 'cosign container image signature',
    });
    expect(out[0].optional).toEqual({ ci: 'run-7' });
    for (const type of [PREDICATE_TYPES.assessment as string, 'cyclonedx']) {
      const va = await cosignRun([
        'verify-attestation',
        '--key',
        `${prefix}.pub`,
        '--type',
        type,
        '--insecure-ignore-tlog=true',
        ...registryFlags(),
        ref,
      ]);
      expect(va.code, va.stderr).toBe(0);
      const env = JSON.parse(va.stdout.trim().split('\n')[0] as string);
      const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
      expect(statement._type).toBe('https://in-toto.io/Statement/v1');
      expect(statement.subject).toEqual([{ name: repo, digest: { sha256: digest.slice(7) } }]);
    }
    // The oracle is not vacuous: another key is refused.
    const other = join(tmp, 'other');
    expect((await runCli(['keygen', '--output-key-prefix', other], pw)).code).toBe(0);
    const no = await cosignRun([
      'verify',
      '--key',
      `${other}.pub`,
      '--insecure-ignore-tlog=true',
      ...registryFlags(),
      ref,
    ]);
    expect(no.code).not.toBe(0);
    expect(no.stderr).toMatch(/no matching signatures|invalid signature/);
  });

  it('Portcullis verifies what cosign signed and attested in the registry (skopeo pulled), byte-identical payload', async () => {
    const dir = join(tmp, 'cosign-signer');
    execFileSync('mkdir', ['-p', dir]);
    expect((await cosignRun(['generate-key-pair'], pw, dir)).code).toBe(0);
    const repo = `${reg.host}/team/from-cosign`;
    copy(`oci:${EXAMPLE}:latest`, `docker://${repo}:1.0`, 'push');
    const digest = layoutDigest(EXAMPLE, 'latest');
    const ref = `${repo}@${digest}`;
    const s = await cosignRun(
      ['sign', '--key', join(dir, 'cosign.key'), '--tlog-upload=false', '-y', ...registryFlags(), ref],
      pw,
    );
    expect(s.code, s.stderr).toBe(0);
    writeFileSync(
      join(tmp, 'cdx.json'),
      JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components: [] }),
    );
    const a = await cosignRun(
      [
        'attest',
        '--key',
        join(dir, 'cosign.key'),
        '--type',
        'cyclonedx',
        '--predicate',
        join(tmp, 'cdx.json'),
        '--tlog-upload=false',
        '-y',
        ...registryFlags(),
        ref,
      ],
      pw,
    );
    expect(a.code, a.stderr).toBe(0);

    const layout = join(tmp, 'pulled');
    for (const tag of ['1.0', signatureTag(digest, 'sig'), signatureTag(digest, 'att')]) {
      copy(`docker://${repo}:${tag}`, `oci:${layout}:${tag}`, 'pull');
    }
    const v = await runCli([
      'verify',
      `oci:${layout}:1.0`,
      '--key',
      join(dir, 'cosign.pub'),
      '--identity',
      repo,
      '--attestation',
      'cyclonedx',
      '-o',
      'json',
    ]);
    expect(v.code, v.stderr).toBe(0);
    const doc = JSON.parse(v.stdout);
    expect(doc.verified).toBe(true);
    expect(doc.signatures).toHaveLength(1);
    expect(doc.attestations.map((x: { predicateType: string }) => x.predicateType)).toEqual([
      'https://cyclonedx.org/bom',
    ]);

    // cosign's payload is byte for byte what Portcullis builds for the same digest and repository.
    const store = new LayoutSignatureStore(layout);
    const sig = await store.getManifest(signatureTag(digest, 'sig'));
    const layer = JSON.parse((sig as { bytes: Buffer }).bytes.toString('utf8')).layers[0];
    expect((await store.getBlob(layer.digest, 1 << 20)).equals(buildPayload(repo, digest))).toBe(true);

    // Checked against a repository it was not signed for, the same signature fails with that reason.
    const wrongRepo = await runCli([
      'verify',
      `oci:${layout}:1.0`,
      '--key',
      join(dir, 'cosign.pub'),
      '--identity',
      `${reg.host}/team/elsewhere`,
    ]);
    expect(wrongRepo.code).toBe(1);
    expect(wrongRepo.stderr).toContain('repository mismatch');
  });

  it('cosign never reached beyond loopback: the proxy trap saw no connection', () => {
    expect(trap.connections()).toBe(0);
  });
});
