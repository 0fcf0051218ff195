import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type TestPki } from './registry.js';

/** Who may do what: the actions a subject (undefined for anonymous) is allowed on one repository. */
export type TokenPolicy = (subject: string | undefined, repository: string) => readonly string[];

export interface TokenServerOptions {
  /** Serve HTTPS with this PKI's server certificate; without it the realm is plain HTTP. */
  readonly pki?: TestPki;
  /** The `service` the registry names in its challenge and expects as the token audience. */
  readonly service: string;
  /** The `iss` claim (default `portcullis-test-issuer`). */
  readonly issuer?: string;
  /** username → password, checked on Basic-authenticated GET requests. */
  readonly users?: Readonly<Record<string, string>>;
  /** refresh (identity) token → username, for the OAuth2 POST refresh_token grant. */
  readonly refreshTokens?: Readonly<Record<string, string>>;
  readonly policy: TokenPolicy;
  /** Token lifetime in seconds (default 300). */
  readonly expiresIn?: number;
}

/** One request the token server saw, as recorded for assertions. */
export interface TokenRequest {
  readonly method: string;
  readonly path: string;
  readonly service: string | undefined;
  /** Scope entries, split on spaces and gathered from every `scope` parameter. */
  readonly scopes: readonly string[];
  readonly authorization: string | undefined;
  /** POST form fields (undefined for GET). */
  readonly form: Readonly<Record<string, string>> | undefined;
  /** The authenticated user, undefined for anonymous or refused requests. */
  readonly subject: string | undefined;
  readonly status: number;
  /** The access entries granted in the issued token. */
  readonly granted: readonly AccessEntry[];
}

/** One entry of the token's `access` claim (ref: distribution docs/spec/auth/jwt.md). */
export interface AccessEntry {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/** A running token issuer on 127.0.0.1 implementing the distribution token and OAuth2 specs. */
export interface TokenServer {
  readonly realm: string;
  readonly host: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM file with the signing key's certificate, for the registry's `auth.token.rootcertbundle`. */
  readonly rootCertBundle: string;
  /** Every request so far, in order; clear with `requests.length = 0`. */
  readonly requests: TokenRequest[];
  /** Sign from now on with a key outside the bundle (true) or the trusted one (false), to prove the registry checks. */
  useRogueKey(on: boolean): void;
  /** Grant every action the policy allows, not only those asked (a misconfigured token service), from now on. */
  setOvergrant(on: boolean): void;
  stop(): Promise<void>;
}

/** RFC 4648 base32 without padding. */
function base32(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/**
 * The libtrust key id distribution 2.8 looks a JWT's `kid` up by: SHA-256 of the DER
 * SubjectPublicKeyInfo, first 240 bits, base32, in colon-separated groups of four.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const b32 = base32(createHash('sha256').update(der).digest().subarray(0, 30));
  return (b32.match(/.{4}/g) ?? []).join(':');
}

/** Parse `repository:team/app:pull,push`; the name may itself hold colons, the type and actions do not. */
function parseScope(scope: string): AccessEntry | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  };
}

function b64url(value: Buffer | string): string {
  return Buffer.from(value).toString('base64url');
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error('form too large');
    parts.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(parts).toString('utf8'));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/**
 * Start a token issuer (ref: https://distribution.github.io/distribution/spec/auth/token/ and
 * spec/auth/oauth/): GET with optional Basic auth, POST with grant_type=refresh_token. Tokens are
 * ES256 JWTs whose `kid` is the libtrust id of a key whose self-signed certificate is the bundle.
 */
export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-token-'));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = join(dir, 'signing.key');
  const bundle = join(dir, 'signing.crt');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-new',
      '-key',
      keyFile,
      '-subj',
      '/CN=Portcullis Test Token Signer',
      '-days',
      '2',
      '-out',
      bundle,
    ],
    { stdio: 'pipe' },
  );
  const trusted = { key: privateKey, kid: libtrustKeyId(publicKey) };
  const rogueKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rogue = { key: rogueKeys.privateKey, kid: libtrustKeyId(rogueKeys.publicKey) };
  let signer = trusted;
  let overgrant = false;
  const issuer = opts.issuer ?? 'portcullis-test-issuer';
  const expiresIn = opts.expiresIn ?? 300;
  const requests: TokenRequest[] = [];

  const issue = (subject: string | undefined, scopes: readonly string[]): { jwt: string; granted: AccessEntry[] } => {
    const granted: AccessEntry[] = [];
    for (const s of scopes) {
      const want = parseScope(s);
      if (!want) continue;
      const allowed = want.type === 'repository' ? opts.policy(subject, want.name) : [];
      granted.push({ ...want, actions: overgrant ? [...allowed] : want.actions.filter((a) => allowed.includes(a)) });
    }
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', kid: signer.kid };
    const claims = {
      iss: issuer,
      sub: subject ?? '',
      aud: opts.service,
      exp: now + expiresIn,
      nbf: now - 1,
      iat: now,
      jti: randomUUID(),
      access: granted,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    // JWS ES256 wants the raw r||s pair, not DER (ref: RFC 7518 section 3.4).
    const sig = sign('sha256', Buffer.from(input), { key: signer.key, dsaEncoding: 'ieee-p1363' });
    return { jwt: `${input}.${b64url(sig)}`, granted };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    const authorization = req.headers.authorization;
    const form = req.method === 'POST' ? await readForm(req) : undefined;
    const params = form ?? url.searchParams;
    const service = params.get('service') ?? undefined;
    const scopes = params.getAll('scope').flatMap((s) => s.split(' ').filter(Boolean));
    const record = (status: number, subject?: string, granted: AccessEntry[] = []): void => {
      requests.push({
        method: req.method ?? '',
        path: url.pathname,
        service,
        scopes,
        authorization,
        form: form ? Object.fromEntries(form) : undefined,
        subject,
        status,
        granted,
      });
    };
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
      record(404);
      return json(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
    }
    if (service !== opts.service) {
      record(400);
      return json(res, 400, { error: 'invalid_request', error_description: 'unknown service' });
    }
    let subject: string | undefined;
    if (form) {
      // ref: distribution docs/spec/auth/oauth.md; invalid grants answer 400 as RFC 6749 section 5.2 says.
      if (form.get('grant_type') !== 'refresh_token') {
        record(400);
        return json(res, 400, { error: 'unsupported_grant_type' });
      }
      if (!form.get('client_id')) {
        record(400);
        return json(res, 400, { error: 'invalid_request', error_description: 'client_id is required' });
      }
      subject = opts.refreshTokens?.[form.get('refresh_token') ?? ''];
      if (!subject) {
        record(400);
        return json(res, 400, { error: 'invalid_grant', error_description: 'unknown refresh token' });
      }
    } else if (authorization) {
      const m = /^Basic\s+(\S+)$/i.exec(authorization);
      const decoded = m ? Buffer.from(m[1] as string, 'base64').toString('utf8') : '';
      const colon = decoded.indexOf(':');
      const user = colon > 0 ? decoded.slice(0, colon) : '';
      const password = colon > 0 ? decoded.slice(colon + 1) : undefined;
      if (!user || opts.users?.[user] === undefined || opts.users[user] !== password) {
        record(401);
        res.setHeader('www-authenticate', 'Basic realm="portcullis-test-token"');
        return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
      }
      subject = user;
    }
    const { jwt, granted } = issue(subject, scopes);
    record(200, subject, granted);
    const issuedAt = new Date().toISOString();
    if (form) {
      return json(res, 200, {
        access_token: jwt,
        scope: scopes.join(' '),
        expires_in: expiresIn,
        issued_at: issuedAt,
      });
    }
    json(res, 200, { token: jwt, access_token: jwt, expires_in: expiresIn, issued_at: issuedAt });
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: Error) => json(res, 500, { error: 'server_error', error_description: err.message }));
  };
  const server = opts.pki
    ? https.createServer({ cert: readFileSync(opts.pki.serverCert), key: readFileSync(opts.pki.serverKey) }, listener)
    : http.createServer(listener);
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const host = `127.0.0.1:${port}`;
  return {
    realm: `${opts.pki ? 'https' : 'http'}://${host}/token`,
    host,
    service: opts.service,
    issuer,
    rootCertBundle: bundle,
    requests,
    useRogueKey(on) {
      signer = on ? rogue : trusted;
    },
    setOvergrant(on) {
      overgrant = on;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
