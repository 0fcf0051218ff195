import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { EXAMPLE } from '../helpers/paths.js';
import { skopeoCopy, startRegistry, type TestRegistry } from '../helpers/registry.js';

const USER = 'ci-bot';
const PASSWORD = 'S3cret-Pa55-never-print-me';
let secure: TestRegistry;
let plain: TestRegistry;
let tmp: string;
let expectedDigest: string;

function packagesOf(stdout: string): string[] {
  return JSON.parse(stdout).packages.map((p: { name: string; version: string }) => `${p.name}@${p.version}`);
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-reg-test-'));
  secure = await startRegistry({ tls: true, auth: { user: USER, password: PASSWORD } });
  plain = await startRegistry();
  skopeoCopy(`oci:${EXAMPLE}:latest`, secure, 'team/example:1.0');
  skopeoCopy(`oci:${EXAMPLE}:latest`, plain, 'team/example:1.0');
  const inspect = execFileSync(
    'skopeo',
    [
      'inspect',
      '--cert-dir',
      secure.certDir as string,
      '--creds',
      `${USER}:${PASSWORD}`,
      `docker://${secure.host}/team/example:1.0`,
    ],
    { encoding: 'utf8' },
  );
  expectedDigest = JSON.parse(inspect).Digest;
});

afterAll(async () => {
  await secure?.stop();
  await plain?.stop();
});

describe('registry transport (real distribution registry, TLS + htpasswd)', () => {
  it('reads an image over verified TLS with --creds and finds what the OCI layout holds', async () => {
    const local = await runCli(['sbom', `oci:${EXAMPLE}:latest`, '-f', 'json']);
    const r = await runCli([
      'sbom',
      `docker://${secure.host}/team/example:1.0`,
      '-f',
      'json',
      '--cert-dir',
      secure.certDir as string,
      '--creds',
      `${USER}:${PASSWORD}`,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(packagesOf(r.stdout)).toEqual(packagesOf(local.stdout));
    expect(JSON.parse(r.stdout).subject.digest).toBe(expectedDigest);
  });

  it('accepts a digest reference and --ca-cert', async () => {
    const r = await runCli([
      'sbom',
      `${secure.host}/team/example@${expectedDigest}`,
      '-f',
      'json',
      '--ca-cert',
      secure.pki?.caCert as string,
      '--creds',
      `${USER}:${PASSWORD}`,
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).subject.digest).toBe(expectedDigest);
  });

  it('refuses a registry whose certificate it cannot verify (exit 3, one line + hint)', async () => {
    const r = await runCli(['sbom', `docker://${secure.host}/team/example:1.0`, '--creds', `${USER}:${PASSWORD}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /^portcullis: TLS_FAILED: https:\/\/127\.0\.0\.1:\d+\/v2\/team\/example\/manifests\/1\.0: TLS verification failed/,
    );
    expect(r.stdout).toBe('');
  });

  it('says credentials are needed when none are found, and never prints a rejected password', async () => {
    const env = { DOCKER_CONFIG: join(tmp, 'empty'), REGISTRY_AUTH_FILE: '', XDG_RUNTIME_DIR: '' };
    const none = await runCli(
      ['sbom', `docker://${secure.host}/team/example:1.0`, '--cert-dir', secure.certDir as string],
      env,
    );
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/AUTH_FAILED: .*needs credentials/);
    const wrong = await runCli([
      'sbom',
      `docker://${secure.host}/team/example:1.0`,
      '--cert-dir',
      secure.certDir as string,
      '--creds',
      `${USER}:wrong-${PASSWORD}`,
    ]);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(/AUTH_FAILED: .*rejected the credentials for user 'ci-bot'/);
    expect(wrong.stderr + wrong.stdout).not.toContain(PASSWORD);
  });

  it('takes credentials from ~/.docker/config.json auths, REGISTRY_AUTH_FILE, credHelpers and credsStore', async () => {
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    const dockerDir = join(tmp, 'docker');
    execFileSync('mkdir', ['-p', dockerDir]);
    writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [secure.host]: { auth } } }));
    const viaConfig = await runCli(
      ['sbom', `docker://${secure.host}/team/example:1.0`, '--cert-dir', secure.certDir as string, '-f', 'json'],
      { DOCKER_CONFIG: dockerDir },
    );
    expect(viaConfig.code).toBe(0);

    const authFile = join(tmp, 'auth.json');
    writeFileSync(
      authFile,
      JSON.stringify({ auths: { [`https://${secure.host}/v2/`]: { username: USER, password: PASSWORD } } }),
    );
    const viaAuthFile = await runCli(
      ['sbom', `docker://${secure.host}/team/example:1.0`, '--cert-dir', secure.certDir as string, '-f', 'json'],
      {
        REGISTRY_AUTH_FILE: authFile,
        DOCKER_CONFIG: join(tmp, 'empty'),
      },
    );
    expect(viaAuthFile.code).toBe(0);

    // A real credential-helper executable speaking the docker-credential-helpers protocol.
    const bin = join(tmp, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    const seen = join(tmp, 'helper-saw');
    writeFileSync(
      join(bin, 'docker-credential-portcullis-test'),
      `#!/bin/sh\n[ "$1" = get ] || exit 1\nread server\necho "$server" >> ${seen}\nprintf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASSWORD}"}' "$server"\n`,
    );
    chmodSync(join(bin, 'docker-credential-portcullis-test'), 0o755);
    const helperDir = join(tmp, 'helper');
    execFileSync('mkdir', ['-p', helperDir]);
    writeFileSync(
      join(helperDir, 'config.json'),
      JSON.stringify({ credHelpers: { [secure.host]: 'portcullis-test' } }),
    );
    const env = { DOCKER_CONFIG: helperDir, PATH: `${bin}:${process.env.PATH}` };
    const viaHelper = await runCli(
      ['sbom', `docker://${secure.host}/team/example:1.0`, '--cert-dir', secure.certDir as string, '-f', 'json'],
      env,
    );
    expect(viaHelper.code).toBe(0);
    writeFileSync(join(helperDir, 'config.json'), JSON.stringify({ credsStore: 'portcullis-test' }));
    const viaStore = await runCli(
      ['sbom', `docker://${secure.host}/team/example:1.0`, '--cert-dir', secure.certDir as string, '-f', 'json'],
      env,
    );
    expect(viaStore.code).toBe(0);
    expect(readFileSync(seen, 'utf8').trim().split('\n')).toEqual([secure.host, secure.host]);
  });

  it('chooses the most specific auth-file entry (repository, namespace, host) as skopeo does', async () => {
    const entry = (password: string) => ({ auth: Buffer.from(`${USER}:${password}`).toString('base64') });
    const ref = `docker://${secure.host}/team/example:1.0`;
    const attempt = async (auths: Record<string, unknown>) => {
      const file = join(tmp, 'scoped-auth.json');
      writeFileSync(file, JSON.stringify({ auths }));
      const ours = await runCli(['sbom', ref, '--cert-dir', secure.certDir as string, '-f', 'json'], {
        REGISTRY_AUTH_FILE: file,
        DOCKER_CONFIG: join(tmp, 'empty'),
      });
      let skopeoOk = true;
      try {
        execFileSync('skopeo', ['inspect', '--cert-dir', secure.certDir as string, '--authfile', file, ref], {
          stdio: 'ignore',
        });
      } catch {
        skopeoOk = false;
      }
      return { ours, skopeoOk };
    };
    // The namespace's entry wins over the host's and a sibling namespace's, whichever comes first in the file.
    const good = await attempt({
      [secure.host]: entry('wrong-host'),
      [`${secure.host}/other`]: entry('wrong-sibling'),
      [`${secure.host}/team`]: entry(PASSWORD),
    });
    expect(good.skopeoOk).toBe(true);
    expect(good.ours.code, good.ours.stderr).toBe(0);
    // The repository's own entry is more specific still: a wrong one there is used, and rejected.
    const bad = await attempt({
      [`${secure.host}/team`]: entry(PASSWORD),
      [`${secure.host}/team/example`]: entry('wrong-repository'),
    });
    expect(bad.skopeoOk).toBe(false);
    expect(bad.ours.code).toBe(3);
    expect(bad.ours.stderr).toMatch(/AUTH_FAILED: .*rejected the credentials for user 'ci-bot'/);
    // An entry for another namespace only is no credential for this one.
    const none = await attempt({ [`${secure.host}/other`]: entry(PASSWORD) });
    expect(none.skopeoOk).toBe(false);
    expect(none.ours.code).toBe(3);
    expect(none.ours.stderr).toMatch(/AUTH_FAILED: .*needs credentials/);
  });

  it('uses plain HTTP only for hosts named with --insecure-registry', async () => {
    const refused = await runCli(['sbom', `docker://${plain.host}/team/example:1.0`]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/TLS_FAILED: .*does not speak TLS.*--insecure-registry/);
    const ok = await runCli([
      'sbom',
      `docker://${plain.host}/team/example:1.0`,
      '--insecure-registry',
      plain.host,
      '-f',
      'json',
    ]);
    expect(ok.code).toBe(0);
    expect(packagesOf(ok.stdout)).toHaveLength(15);
  });

  it('detects a blob tampered with in the registry storage (exit 2, names the layer)', async () => {
    const reg = await startRegistry();
    try {
      skopeoCopy(`oci:${EXAMPLE}:latest`, reg, 'team/tampered:1');
      const manifest = JSON.parse(
        execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/team/tampered:1`], {
          encoding: 'utf8',
        }),
      );
      const layer = manifest.layers[1].digest.slice(7);
      const data = join(reg.storage, 'docker/registry/v2/blobs/sha256', layer.slice(0, 2), layer, 'data');
      const bytes = readFileSync(data);
      const at = bytes.length - 20;
      bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
      writeFileSync(data, bytes);
      const r = await runCli(['sbom', `docker://${reg.host}/team/tampered:1`, '--insecure-registry', reg.host]);
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(/^portcullis: (DIGEST_MISMATCH|LAYER_INVALID): layer 1 \(sha256:/);
      expect(r.stdout).toBe('');
    } finally {
      await reg.stop();
    }
  });

  it('reports a missing tag as not found (exit 2)', async () => {
    const r = await runCli(['sbom', `docker://${plain.host}/team/example:nope`, '--insecure-registry', plain.host]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/NOT_FOUND: manifest team\/example:nope .*HTTP 404 MANIFEST_UNKNOWN/);
  });
});

describe('archive transports (made by skopeo)', () => {
  it('oci-archive and docker-archive give the same packages as the layout', async () => {
    const local = packagesOf((await runCli(['sbom', `oci:${EXAMPLE}:latest`, '-f', 'json'])).stdout);
    execFileSync('skopeo', [
      'copy',
      '--quiet',
      `oci:${EXAMPLE}:latest`,
      `oci-archive:${join(tmp, 'img.oci.tar')}:latest`,
    ]);
    execFileSync('skopeo', [
      'copy',
      '--quiet',
      `oci:${EXAMPLE}:latest`,
      `docker-archive:${join(tmp, 'img.docker.tar')}:example:latest`,
    ]);
    execFileSync('skopeo', ['copy', '--quiet', `oci:${EXAMPLE}:latest`, `dir:${join(tmp, 'skopeo-dir')}`]);
    for (const ref of [
      `oci-archive:${join(tmp, 'img.oci.tar')}:latest`,
      `docker-archive:${join(tmp, 'img.docker.tar')}`,
      `dir:${join(tmp, 'skopeo-dir')}`,
    ]) {
      const r = await runCli(['sbom', ref, '-f', 'json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(packagesOf(r.stdout)).toEqual(local);
    }
  });
});
