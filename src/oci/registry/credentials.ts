import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import { DOCKER_HUB } from '../reference.js';

/** Credentials for one registry. Never logged or printed; `toString` is redacted. */
export type Credential =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | { readonly kind: 'identity-token'; readonly username: string; readonly token: string };

/** Where credentials come from, in precedence order (first match wins). */
export interface CredentialOptions {
  /** `--creds user:password` for every registry of this run. */
  readonly creds?: string;
  /** `--authfile` / REGISTRY_AUTH_FILE: a containers-auth.json or docker config file. */
  readonly authFile?: string;
  /** Environment to read DOCKER_CONFIG, REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR and HOME from. */
  readonly env?: NodeJS.ProcessEnv;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Docker Hub's credentials are stored under its legacy index URL. */
const HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];

/**
 * An `auths` key as a lookup name: docker's URL form (`https://index.docker.io/v1/`) names only its host;
 * containers-auth.json(5) keys name a host (`quay.io`), or a namespace or repository on it (`quay.io/org/app`).
 */
function authName(key: string): string {
  if (/^[a-z]+:\/\//.test(key)) return key.replace(/^[a-z]+:\/\//, '').split('/')[0] ?? key;
  return key.replace(/\/+$/, '');
}

/**
 * The names whose credential applies to `repository` on one of `hosts`, most specific first, as podman and skopeo
 * choose: the repository, each namespace above it, then the host.
 */
function authNames(hosts: readonly string[], repository: string | undefined): string[] {
  const out: string[] = [];
  const parts = repository ? repository.split('/') : [];
  for (let n = parts.length; n > 0; n--) for (const h of hosts) out.push(`${h}/${parts.slice(0, n).join('/')}`);
  out.push(...hosts);
  return out;
}

/** Read an auth file; `named` (how the user named it) makes one that cannot be read an error, not "no credentials". */
function readConfig(path: string, named?: string): ConfigFile | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (named === undefined) return undefined;
    const code = (err as NodeJS.ErrnoException).code;
    fail(
      code === 'ENOENT' ? 'NOT_FOUND' : 'CONFIG_INVALID',
      `${named} ${path}: cannot be read (${code ?? String(err)})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Never JSON.parse's message: it quotes the text around the bad token, which here is likely a secret.
    fail('CONFIG_INVALID', `${path}: not valid JSON (${jsonErrorAt(text)})`);
  }
  if (typeof parsed !== 'object' || parsed === null) fail('CONFIG_INVALID', `${path}: not a JSON object`);
  return parsed as ConfigFile;
}

/**
 * Where JSON.parse stops on `text`, as `line L, column C`, without its message's excerpt. The message names the
 * position, except for an unexpected token; then bisect on the prefix length: a prefix fails before its end exactly
 * when it takes in the offending character.
 */
function jsonErrorAt(text: string): string {
  // The index JSON.parse stops at (-1: an index it does not name; the length: it ran out), undefined if it parses.
  const stop = (t: string): number | undefined => {
    try {
      JSON.parse(t);
      return undefined;
    } catch (err) {
      const message = (err as Error).message;
      if (/end of JSON input/i.test(message)) return t.length;
      const at = /at position (\d+)/.exec(message);
      return at ? Number(at[1]) : -1;
    }
  };
  let at = stop(text) ?? text.length;
  if (at < 0) {
    let lo = 0;
    let hi = text.length;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      const s = stop(text.slice(0, mid));
      if (s !== undefined && s < mid) hi = mid;
      else lo = mid;
    }
    at = hi - 1;
  }
  if (at >= text.length) return 'it ends early';
  const before = text.slice(0, at);
  return `line ${before.split('\n').length}, column ${before.length - before.lastIndexOf('\n')}`;
}

function fromEntry(entry: AuthEntry, where: string): Credential | undefined {
  let username = entry.username ?? '';
  let password = entry.password ?? '';
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) fail('CONFIG_INVALID', `${where}: 'auth' is not base64 of user:password`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (entry.identitytoken) return { kind: 'identity-token', username, token: entry.identitytoken };
  if (username || password) return { kind: 'basic', username, password };
  return undefined;
}

/** Run `docker-credential-<helper> get` with the server on stdin (ref: docker-credential-helpers protocol). */
export function runCredentialHelper(
  helper: string,
  server: string,
  env?: NodeJS.ProcessEnv,
): Promise<Credential | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(helper)) fail('CONFIG_INVALID', `credential helper name '${helper}' is not valid`);
  const bin = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      ['get'],
      { env: env ?? process.env, timeout: 30_000, maxBuffer: 1024 * 1024 },
      (err, stdout) => {
        if (err) {
          // Helpers answer "credentials not found in native keychain" for unknown servers: that is "no credential".
          if (/not found/i.test(String(stdout)) || /not found/i.test(err.message)) return resolve(undefined);
          const code = (err as NodeJS.ErrnoException).code;
          return reject(
            Object.assign(
              new Error(code === 'ENOENT' ? `${bin} is not on PATH` : `${bin} failed (${err.message.split('\n')[0]})`),
              {
                helper: true,
              },
            ),
          );
        }
        try {
          const out = JSON.parse(stdout) as { Username?: string; Secret?: string };
          if (!out.Secret) return resolve(undefined);
          // ref: docker/cli: a Username of "<token>" marks the Secret as an identity (refresh) token.
          if (out.Username === '<token>') return resolve({ kind: 'identity-token', username: '', token: out.Secret });
          resolve({ kind: 'basic', username: out.Username ?? '', password: out.Secret });
        } catch {
          reject(new Error(`${bin} printed something other than JSON`));
        }
      },
    );
    child.stdin?.end(server);
  }).catch((err: Error) => fail('CREDENTIAL_HELPER_FAILED', `credentials for ${server}: ${err.message}`)) as Promise<
    Credential | undefined
  >;
}

/** The auth file the user named (--authfile, else REGISTRY_AUTH_FILE) and how, for messages. */
function namedAuthFile(opts: CredentialOptions): { readonly path: string; readonly named: string } | undefined {
  if (opts.authFile) return { path: opts.authFile, named: '--authfile' };
  const env = (opts.env ?? process.env).REGISTRY_AUTH_FILE;
  return env ? { path: env, named: 'REGISTRY_AUTH_FILE' } : undefined;
}

/**
 * Fail now if the user named an auth file that cannot be read or parsed (as skopeo does), rather than at the first
 * registry that asks for credentials, or never for one that does not. The default files may be absent.
 */
export function checkAuthFile(opts: CredentialOptions): void {
  const named = namedAuthFile(opts);
  if (opts.creds === undefined && named) readConfig(named.path, named.named);
}

/** The config files consulted, in order: --authfile/REGISTRY_AUTH_FILE, podman's auth.json, docker's config.json. */
export function configPaths(opts: CredentialOptions): string[] {
  const env = opts.env ?? process.env;
  const home = env.HOME ?? homedir();
  const out: string[] = [];
  const named = namedAuthFile(opts);
  if (named) return [named.path];
  if (env.XDG_RUNTIME_DIR) out.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  out.push(join(env.DOCKER_CONFIG ?? join(home, '.docker'), 'config.json'));
  return out;
}

/**
 * Find the credential for a repository on a registry host (or for the host itself when no repository is given), or
 * undefined for anonymous access.
 */
export async function lookupCredential(
  registry: string,
  opts: CredentialOptions,
  repository?: string,
): Promise<Credential | undefined> {
  if (opts.creds !== undefined) {
    const colon = opts.creds.indexOf(':');
    if (colon <= 0) fail('USAGE', '--creds must be USERNAME:PASSWORD');
    return { kind: 'basic', username: opts.creds.slice(0, colon), password: opts.creds.slice(colon + 1) };
  }
  const hosts = registry === DOCKER_HUB ? HUB_KEYS.map(authName) : [registry];
  const names = authNames(hosts, repository);
  const server = registry === DOCKER_HUB ? (HUB_KEYS[0] as string) : registry;
  const named = namedAuthFile(opts);
  for (const path of configPaths(opts)) {
    const cfg = readConfig(path, named?.named);
    if (!cfg) continue;
    // Credential helpers are configured per host.
    const helper = (registry === DOCKER_HUB ? HUB_KEYS : [registry]).map((k) => cfg.credHelpers?.[k]).find(Boolean);
    if (helper) return runCredentialHelper(helper, server, opts.env);
    const entries = Object.entries(cfg.auths ?? {}).map(([key, entry]) => [authName(key), key, entry] as const);
    for (const name of names) {
      for (const [n, key, entry] of entries) {
        if (n !== name) continue;
        const cred = fromEntry(entry, `${path} auths["${key}"]`);
        if (cred) return cred;
      }
    }
    if (cfg.credsStore) return runCredentialHelper(cfg.credsStore, server, opts.env);
  }
  return undefined;
}
