import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { EXAMPLE } from '../helpers/paths.js';
import { makePki, startRegistry, type TestPki, type TestRegistry } from '../helpers/registry.js';
import { startTokenServer, type TokenPolicy, type TokenRequest, type TokenServer } from '../helpers/tokenserver.js';

const USER = 'ci-bot';
const PASSWORD = 'S3cret-T0ken-Pa55-never-print-me';
const IDENTITY_TOKEN = 'refresh-7f1c9e0b-never-print-me';
const SERVICE = 'portcullis-test-registry';

// Anyone may pull public/*; only ci-bot may touch team/*.
const policy: TokenPolicy = (subject, repository) => {
  if (repository.startsWith('public/')) return subject === USER ? ['pull', 'push'] : ['pull'];
  if (repository.startsWith('team/') && subject === USER) return ['pull', 'push'];
  return [];
};

let tmp: string;
let pki: TestPki;
let tokens: TokenServer;
let reg: TestRegistry;
let localPackages: string[];
let expectedDigest: string;
let layerCount: number;
let env: NodeJS.ProcessEnv;

function packagesOf(stdout: string): string[] {
  return JSON.parse(stdout).packages.map((p: { name: string; version: string }) => `${p.name}@${p.version}`);
}

function dockerConfig(name: string, auths: Record<string, unknown>): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths }));
  return dir;
}

/**
 * skopeo run asynchronously: the token server lives in this process, so a synchronous child
 * (skopeoCopy's execFileSync) would block the very server it needs to reach.
 */
async function skopeo(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)('skopeo', args, { encoding: 'utf8' });
  return stdout;
}

const carriesCredentials = (r: TokenRequest): boolean =>
  r.authorization !== undefined || r.form?.refresh_token !== undefined;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-token-test-'));
  pki = makePki(join(tmp, 'pki'));
  tokens = await startTokenServer({
    pki,
    service: SERVICE,
    users: { [USER]: PASSWORD },
    refreshTokens: { [IDENTITY_TOKEN]: USER },
    policy,
  });
  reg = await startRegistry({ tls: true, pki, token: tokens });
  // skopeo speaks the token flow as well: a push through it checks the token server against the registry.
  for (const repo of ['public/example:1.0', 'team/private:1.0']) {
    await skopeo(
      'copy',
      '--quiet',
      '--dest-cert-dir',
      reg.certDir as string,
      '--dest-creds',
      `${USER}:${PASSWORD}`,
      `oci:${EXAMPLE}:latest`,
      `docker://${reg.host}/${repo}`,
    );
  }
  const inspect = await skopeo(
    'inspect',
    '--cert-dir',
    reg.certDir as string,
    '--creds',
    `${USER}:${PASSWORD}`,
    `docker://${reg.host}/team/private:1.0`,
  );
  expectedDigest = JSON.parse(inspect).Digest;
  layerCount = JSON.parse(inspect).Layers.length;
  localPackages = packagesOf((await runCli(['sbom', `oci:${EXAMPLE}:latest`, '-f', 'json'])).stdout);
  // No ambient credentials; the token realm's CA comes from the environment (see the last test for --cert-dir alone).
  env = {
    DOCKER_CONFIG: join(tmp, 'empty'),
    REGISTRY_AUTH_FILE: '',
    XDG_RUNTIME_DIR: '',
    NODE_EXTRA_CA_CERTS: pki.caCert,
  };
});

afterAll(async () => {
  await reg?.stop();
  await tokens?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  if (tokens) tokens.requests.length = 0;
});

describe('Bearer tokens against a real distribution registry (auth: token)', () => {
  it('pulls a public repository anonymously with a token the registry verified', async () => {
    const r = await runCli(
      ['sbom', `docker://${reg.host}/public/example:1.0`, '--cert-dir', reg.certDir as string, '-f', 'json'],
      env,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(packagesOf(r.stdout)).toEqual(localPackages);
    expect(JSON.parse(r.stdout).subject.digest).toBe(expectedDigest);
    expect(tokens.requests.map((q) => [q.method, q.subject, q.authorization, q.status])).toEqual([
      ['GET', undefined, undefined, 200],
    ]);
  });

  it('asks for the challenge service and the pull scope, with the user as Basic auth', async () => {
    const r = await runCli(
      [
        'sbom',
        `docker://${reg.host}/team/private:1.0`,
        '--cert-dir',
        reg.certDir as string,
        '--creds',
        `${USER}:${PASSWORD}`,
        '-f',
        'json',
      ],
      env,
    );
    expect(r.code).toBe(0);
    expect(packagesOf(r.stdout)).toEqual(localPackages);
    expect(tokens.requests).toHaveLength(1);
    const q = tokens.requests[0] as TokenRequest;
    expect(q.method).toBe('GET');
    expect(q.path).toBe('/token');
    expect(q.service).toBe(SERVICE);
    expect(q.scopes).toEqual(['repository:team/private:pull']);
    expect(q.authorization).toBe(`Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`);
    expect(q.subject).toBe(USER);
    expect(q.granted).toEqual([{ type: 'repository', name: 'team/private', actions: ['pull'] }]);
  });

  it('asks the token server once per scope however many blobs the image has', async () => {
    // manifest + config + every layer: each is its own registry request.
    expect(layerCount).toBeGreaterThanOrEqual(2);
    const r = await runCli(
      [
        'sbom',
        `docker://${reg.host}/team/private:1.0`,
        '--cert-dir',
        reg.certDir as string,
        '--creds',
        `${USER}:${PASSWORD}`,
        '-f',
        'json',
      ],
      env,
    );
    expect(r.code).toBe(0);
    const scopes = tokens.requests.flatMap((q) => q.scopes);
    expect(scopes).toEqual(['repository:team/private:pull']);
  });

  it('is refused by the registry when the token is signed by a key outside its rootcertbundle', async () => {
    tokens.useRogueKey(true);
    try {
      const r = await runCli(
        ['sbom', `docker://${reg.host}/public/example:1.0`, '--cert-dir', reg.certDir as string, '-f', 'json'],
        env,
      );
      expect(r.code).toBe(3);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')[0]).toMatch(/^portcullis: AUTH_FAILED: manifest public\/example:1\.0 /);
      // The token server granted pull; only the registry's signature check can have refused it.
      expect(tokens.requests.map((q) => [q.status, q.granted])).toEqual([
        [200, [{ type: 'repository', name: 'public/example', actions: ['pull'] }]],
      ]);
    } finally {
      tokens.useRogueKey(false);
    }
  });

  it('reads the credentials from docker config.json', async () => {
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    const r = await runCli(
      ['sbom', `docker://${reg.host}/team/private:1.0`, '--cert-dir', reg.certDir as string, '-f', 'json'],
      { ...env, DOCKER_CONFIG: dockerConfig('docker-basic', { [reg.host]: { auth } }) },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).subject.digest).toBe(expectedDigest);
    expect(tokens.requests.map((q) => q.subject)).toEqual([USER]);
  });

  it('says credentials are needed for a private repository when none are found (exit 3, one line)', async () => {
    const r = await runCli(['sbom', `docker://${reg.host}/team/private:1.0`, '--cert-dir', reg.certDir as string], env);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(
      `portcullis: AUTH_FAILED: manifest team/private:1.0 on ${reg.host}: ${reg.host} needs credentials (none found for it; use --creds, --authfile or docker login)`,
    );
    expect(lines[1]).toMatch(/^ {2}hint: /);
    // The anonymous token carried no access, and the registry (not the client) said so.
    expect(tokens.requests.map((q) => [q.subject, q.granted])).toEqual([
      [undefined, [{ type: 'repository', name: 'team/private', actions: [] }]],
    ]);
  });

  it('reports wrong credentials naming the user, never the password', async () => {
    const wrong = `wrong-${PASSWORD}`;
    const r = await runCli(
      [
        'sbom',
        `docker://${reg.host}/team/private:1.0`,
        '--cert-dir',
        reg.certDir as string,
        '--creds',
        `${USER}:${wrong}`,
      ],
      env,
    );
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toMatch(/^portcullis: AUTH_FAILED: .*user 'ci-bot'/);
    expect(r.stderr).not.toContain(wrong);
    expect(r.stderr).not.toContain(PASSWORD);
    expect(r.stderr).not.toContain(Buffer.from(`${USER}:${wrong}`).toString('base64'));
    expect(tokens.requests.map((q) => q.status)).toEqual([401]);
  });

  it('trades a docker identity token for an access token with the OAuth2 refresh_token grant', async () => {
    const r = await runCli(
      ['sbom', `docker://${reg.host}/team/private:1.0`, '--cert-dir', reg.certDir as string, '-f', 'json'],
      { ...env, DOCKER_CONFIG: dockerConfig('docker-identity', { [reg.host]: { identitytoken: IDENTITY_TOKEN } }) },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(packagesOf(r.stdout)).toEqual(localPackages);
    expect(tokens.requests).toHaveLength(1);
    const q = tokens.requests[0] as TokenRequest;
    expect(q.method).toBe('POST');
    expect(q.authorization).toBeUndefined();
    expect(q.form).toMatchObject({ grant_type: 'refresh_token', refresh_token: IDENTITY_TOKEN, service: SERVICE });
    expect(q.form?.client_id).toBeTruthy();
    expect(q.scopes).toEqual(['repository:team/private:pull']);
    expect(q.subject).toBe(USER);
  });

  it('fails closed on a revoked identity token without printing it', async () => {
    const revoked = 'refresh-revoked-never-print-me';
    const r = await runCli(['sbom', `docker://${reg.host}/team/private:1.0`, '--cert-dir', reg.certDir as string], {
      ...env,
      DOCKER_CONFIG: dockerConfig('docker-revoked', { [reg.host]: { identitytoken: revoked } }),
    });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toContain(revoked);
    expect(r.stderr.split('\n')[0]).toMatch(/^portcullis: AUTH_FAILED: .*refused the identity token/);
    expect(tokens.requests.map((q) => [q.method, q.status])).toEqual([['POST', 400]]);
  });

  it('refuses a plain-HTTP token realm for an HTTPS registry and sends it no credentials', async () => {
    const plainTokens = await startTokenServer({
      service: SERVICE,
      users: { [USER]: PASSWORD },
      refreshTokens: { [IDENTITY_TOKEN]: USER },
      policy,
    });
    const leaky = await startRegistry({ tls: true, pki, token: plainTokens });
    try {
      expect(plainTokens.realm).toMatch(/^http:\/\//);
      const viaCreds = await runCli(
        [
          'sbom',
          `docker://${leaky.host}/team/private:1.0`,
          '--cert-dir',
          leaky.certDir as string,
          '--creds',
          `${USER}:${PASSWORD}`,
        ],
        env,
      );
      const viaIdentity = await runCli(
        ['sbom', `docker://${leaky.host}/team/private:1.0`, '--cert-dir', leaky.certDir as string],
        {
          ...env,
          DOCKER_CONFIG: dockerConfig('docker-identity-leaky', { [leaky.host]: { identitytoken: IDENTITY_TOKEN } }),
        },
      );
      for (const r of [viaCreds, viaIdentity]) {
        expect(r.code).toBe(3);
        expect(r.stdout).toBe('');
        expect(r.stderr.split('\n')[0]).toMatch(
          /^portcullis: TLS_FAILED: .*refusing to send credentials to the plain-HTTP token realm http:\/\/127\.0\.0\.1:\d+\/token$/,
        );
        expect(r.stderr).not.toContain(PASSWORD);
        expect(r.stderr).not.toContain(IDENTITY_TOKEN);
      }
      expect(plainTokens.requests.filter(carriesCredentials)).toEqual([]);
    } finally {
      await leaky.stop();
      await plainTokens.stop();
    }
  });

  it('trusts the --cert-dir CA for the token realm too, as skopeo does', async () => {
    const r = await runCli(
      [
        'sbom',
        `docker://${reg.host}/team/private:1.0`,
        '--cert-dir',
        reg.certDir as string,
        '--creds',
        `${USER}:${PASSWORD}`,
        '-f',
        'json',
      ],
      // spawn drops undefined variables, so the child has no extra CA beyond what --cert-dir gives.
      { ...env, NODE_EXTRA_CA_CERTS: undefined },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).subject.digest).toBe(expectedDigest);
    expect(tokens.requests.map((q) => q.subject)).toEqual([USER]);
  });
});
