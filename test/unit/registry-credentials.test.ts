import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { RegistryClient } from '../../src/oci/registry/client.js';
import { type CredentialOptions, lookupCredential } from '../../src/oci/registry/credentials.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-credentials-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = Buffer.from('alice:hunter2').toString('base64');

/** Write `text` as `name` in the test directory; returns its path. */
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function failure(opts: CredentialOptions): Promise<PortcullisError> {
  const err = await lookupCredential('r.example', opts, 'app').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PortcullisError);
  return err as PortcullisError;
}

describe('a credentials file that is not valid JSON', () => {
  it('is named with the line and column, never with the text around the error (a secret)', async () => {
    // the auth value left unquoted: JSON.parse's own message would quote it
    const path = file('config.json', `{\n  "auths": {\n    "r.example": { "auth": ${SECRET} }\n  }\n}\n`);
    const err = await failure({ authFile: path, env: {} });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toBe(`${path}: not valid JSON (line 3, column 28)`);
  });

  it('the same through REGISTRY_AUTH_FILE and docker config.json, on one line or cut short', async () => {
    const oneLine = file('auth.json', `{"auths":{"r.example":{"auth":${SECRET}}}}`);
    const viaEnv = await failure({ env: { REGISTRY_AUTH_FILE: oneLine } });
    expect(viaEnv.message).toBe(`${oneLine}: not valid JSON (line 1, column 31)`);
    const quoted = file('quoted.json', `{'auths':{'r.example':{'auth':'${SECRET}'}}}`);
    expect((await failure({ authFile: quoted, env: {} })).message).toBe(`${quoted}: not valid JSON (line 1, column 2)`);
    const docker = mkdtempSync(join(dir, 'docker-'));
    writeFileSync(join(docker, 'config.json'), `{"auths":{"r.example":{"auth":"${SECRET}`);
    const cut = await failure({ env: { DOCKER_CONFIG: docker, HOME: dir } });
    expect(cut.message).toBe(`${join(docker, 'config.json')}: not valid JSON (it ends early)`);
    for (const err of [viaEnv, cut]) expect(err.message).not.toMatch(/hunter2|YWxpY2|auth"/);
  });

  it('JSON that is not an object is said to be so', async () => {
    const err = await failure({ authFile: file('string.json', `"${SECRET}"`), env: {} });
    expect(err.message).toMatch(/string\.json: not a JSON object$/);
  });
});

describe('an auth file the user named', () => {
  it('that does not exist, or cannot be read, is an error naming it, not "no credentials"', async () => {
    const missing = join(dir, 'missing.json');
    const flag = await failure({ authFile: missing, env: {} });
    expect([flag.code, flag.message]).toEqual(['NOT_FOUND', `--authfile ${missing}: cannot be read (ENOENT)`]);
    const env = await failure({ env: { REGISTRY_AUTH_FILE: missing } });
    expect([env.code, env.message]).toEqual(['NOT_FOUND', `REGISTRY_AUTH_FILE ${missing}: cannot be read (ENOENT)`]);
    const directory = await failure({ authFile: dir, env: {} });
    expect([directory.code, directory.message]).toEqual([
      'CONFIG_INVALID',
      `--authfile ${dir}: cannot be read (EISDIR)`,
    ]);
  });

  it('fails when the client is made, before any registry asks for credentials (unless --creds is given)', () => {
    const authFile = join(dir, 'missing.json');
    expect(() => new RegistryClient('r.example', { authFile, env: {} })).toThrow(
      /--authfile .*missing\.json: cannot be read/,
    );
    new RegistryClient('r.example', { authFile, creds: 'alice:hunter2', env: {} }).close();
  });

  it('the default files may be absent: no credentials', async () => {
    const env = { HOME: dir, DOCKER_CONFIG: join(dir, 'no-such-dir'), XDG_RUNTIME_DIR: join(dir, 'no-run') };
    expect(await lookupCredential('r.example', { env }, 'app')).toBeUndefined();
    new RegistryClient('r.example', { env }).close();
  });
});
