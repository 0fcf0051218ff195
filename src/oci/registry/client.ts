import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ErrorCode, fail, PortcullisError, printable } from '../../errors.js';
import { apiHost } from '../reference.js';
import { type Challenge, parseChallenges } from './auth.js';
import { type Credential, type CredentialOptions, checkAuthFile, lookupCredential } from './credentials.js';
import {
  discard,
  HttpTransport,
  type RequestOptions,
  readBody,
  redactUrl,
  type StreamResponse,
  type TlsSettings,
} from './http.js';

/** How to reach registries; every default is the safe one. */
export interface RegistryOptions extends CredentialOptions {
  /** PEM files of extra CAs to trust (`--ca-cert`). */
  readonly caCerts?: readonly string[];
  /** A certs.d-style directory (`--cert-dir`): `*.crt` CAs, `*.cert` + `*.key` client pairs. */
  readonly certDir?: string;
  /** Hosts (host[:port]) reached over plain HTTP (`--insecure-registry`); every other host needs verified TLS. */
  readonly insecureRegistries?: readonly string[];
  /** Attempts for retryable failures: 429, 5xx, resets, timeouts (default 5). */
  readonly retries?: number;
  /** First backoff delay in ms, doubled per attempt with jitter (default 250). */
  readonly backoffMs?: number;
  /** Longest Retry-After honoured, in seconds (default 60); longer waits fail with RATE_LIMITED. */
  readonly maxRetryAfterSeconds?: number;
  /** Waits between attempts (default: a timer); tests record the delays instead. */
  readonly sleep?: (ms: number) => Promise<void>;
}

interface Token {
  readonly value: string;
  readonly expires: number;
}

/** Parse Retry-After: delta-seconds or an HTTP date (ref: RFC 9110 section 10.2.3). */
export function retryAfterSeconds(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, Math.ceil((t - now) / 1000));
}

/** What one registry request is for: its scope of access, and which statuses the caller handles itself. */
export interface FetchOptions extends RequestOptions {
  /** Names the request in error messages: the thing, its repository and registry. */
  readonly what: string;
  /** Ask for push access to the repository (`repository:NAME:pull,push`) instead of pull. */
  readonly push?: boolean;
  /** Also ask for pull access to this repository of the same registry, for a cross-repository mount. */
  readonly mountFrom?: string;
  /** Non-2xx statuses returned to the caller instead of thrown (404 on HEAD, 416 on PATCH). */
  readonly okStatus?: readonly number[];
  /** Attempts for this request, at most the client's `retries` (a best-effort cancel tries twice). */
  readonly attempts?: number;
  /** A token scope other than the repository's (`registry:catalog:*` for the catalog). */
  readonly scope?: string;
}

/** A request whose body is read whole, inside the retry budget. */
export interface BodyFetchOptions extends FetchOptions {
  /** Larger bodies fail at once (not retried) with `tooLarge` (default MANIFEST_TOO_LARGE). */
  readonly maxBytes: number;
  readonly tooLarge?: ErrorCode;
  /** Read the body of an `okStatus` answer too (bounded the same way); by default it comes back empty. */
  readonly okStatusBody?: boolean;
}

/** A response with its body read. */
export interface BodyResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly url: URL;
  readonly bytes: Buffer;
}

/** The token scope a request needs; several scopes are space-separated, as the token request takes them. */
export function scopeFor(repository: string, req: Pick<FetchOptions, 'push' | 'mountFrom' | 'scope'>): string {
  if (req.scope !== undefined) return req.scope;
  const own = `repository:${repository}:${req.push ? 'pull,push' : 'pull'}`;
  return req.mountFrom && req.mountFrom !== repository ? `${own} repository:${req.mountFrom}:pull` : own;
}

export function loadTls(opts: RegistryOptions, host: string): TlsSettings | undefined {
  const ca: string[] = [];
  let cert: string | undefined;
  let key: string | undefined;
  const read = (p: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch (err) {
      fail('NOT_FOUND', `${p}: cannot read certificate (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  };
  for (const f of opts.caCerts ?? []) ca.push(read(f));
  const extra = (opts.env ?? process.env).NODE_EXTRA_CA_CERTS;
  if (extra && ca.length) ca.push(read(extra));
  // --cert-dir is used as given; the conventional per-host directories are consulted too.
  const dirs = [opts.certDir, join('/etc/containers/certs.d', host), join('/etc/docker/certs.d', host)].filter(
    (d): d is string => !!d,
  );
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      if (dir === opts.certDir) fail('NOT_FOUND', `--cert-dir ${dir}: not a readable directory`);
      continue;
    }
    for (const n of names.sort()) {
      if (n.endsWith('.crt')) ca.push(read(join(dir, n)));
      else if (n.endsWith('.cert') && names.includes(n.replace(/\.cert$/, '.key'))) {
        cert = read(join(dir, n));
        key = read(join(dir, n.replace(/\.cert$/, '.key')));
      }
    }
    if (ca.length || cert) break;
  }
  if (!ca.length && !cert) return undefined;
  return { ...(ca.length ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

/**
 * A client for one registry host speaking the OCI distribution API: challenge-driven auth (Bearer
 * tokens, Basic), verified TLS, retries with backoff for 429/5xx/resets, bounded error bodies.
 */
export class RegistryClient {
  readonly host: string;
  private readonly base: URL;
  private readonly http = new HttpTransport();
  private readonly tls: TlsSettings | undefined;
  private readonly tokens = new Map<string, Token>();
  private basic = false;
  /** Credentials by repository: an auth file may hold one per namespace (containers-auth.json). */
  private readonly credentials = new Map<string, Promise<Credential | undefined>>();

  constructor(
    readonly registry: string,
    private readonly opts: RegistryOptions = {},
  ) {
    this.host = apiHost(registry);
    const insecure = (opts.insecureRegistries ?? []).some((h) => h === registry || h === this.host);
    this.base = new URL(`${insecure ? 'http' : 'https'}://${this.host}`);
    this.tls = insecure ? undefined : loadTls(opts, this.host);
    checkAuthFile(opts);
  }

  /** `https://host[:port]` (or `http://` for an insecure registry): two clients with one origin share blobs. */
  get origin(): string {
    return this.base.origin;
  }

  private cred(repository: string): Promise<Credential | undefined> {
    let cred = this.credentials.get(repository);
    if (cred === undefined) {
      cred = lookupCredential(this.registry, this.opts, repository || undefined);
      this.credentials.set(repository, cred);
    }
    return cred;
  }

  /**
   * Send a request for a repository's path (or an absolute upload URL on this registry), authenticating
   * as challenged and retrying what is worth retrying. Resolves with a 2xx response (or one of
   * `okStatus`) whose body is unread: a failure while the caller reads it is not retried (see fetchBody).
   */
  fetch(path: string, repository: string, req: FetchOptions): Promise<StreamResponse> {
    return this.retrying(req, () => this.once(new URL(path, this.base), repository, req));
  }

  /**
   * As `fetch`, with the whole body (at most `req.maxBytes`) read inside the same retry budget: a body cut
   * short is fetched again; a size breach is not (nor a digest mismatch, which the caller checks after).
   * An `okStatus` answer comes back with an empty body (unless `okStatusBody`).
   */
  fetchBody(path: string, repository: string, req: BodyFetchOptions): Promise<BodyResponse> {
    return this.retrying(req, async () => {
      const res = await this.once(new URL(path, this.base), repository, req);
      if ((res.status < 200 || res.status >= 300) && !req.okStatusBody) {
        discard(res);
        return { status: res.status, headers: res.headers, url: res.url, bytes: Buffer.alloc(0) };
      }
      const bytes = await readBody(res, req.maxBytes, req.what, req.tooLarge);
      return { status: res.status, headers: res.headers, url: res.url, bytes };
    });
  }

  /** Run one attempt of a request until it succeeds, fails for good, or the attempts run out (with backoff). */
  private async retrying<T>(req: FetchOptions, attempt1: () => Promise<T>): Promise<T> {
    const attempts = Math.max(1, Math.min(req.attempts ?? Number.POSITIVE_INFINITY, this.opts.retries ?? 5));
    let lastErr: PortcullisError | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) {
        const base = (this.opts.backoffMs ?? 250) * 2 ** (attempt - 1);
        const retryAfter = (lastErr as { retryAfter?: number } | undefined)?.retryAfter;
        await (this.opts.sleep ?? sleep)(
          retryAfter !== undefined ? retryAfter * 1000 : Math.min(base + Math.random() * base, 30_000),
        );
      }
      try {
        return await attempt1();
      } catch (err) {
        if (!(err instanceof PortcullisError) || !err.retryable) throw err;
        lastErr = err;
      }
    }
    throw new PortcullisError(
      lastErr?.code === 'RATE_LIMITED' ? 'RATE_LIMITED' : (lastErr?.code ?? 'NETWORK'),
      // A socket error names only the URL; the request's own description says which image and blob it was.
      `${lastErr?.code === 'NETWORK' ? `${req.what}: ` : ''}${lastErr?.message ?? req.what} (gave up after ${attempts} attempts)`,
      { cause: lastErr },
    );
  }

  private async once(url: URL, repository: string, req: FetchOptions): Promise<StreamResponse> {
    if (url.origin !== this.base.origin) {
      // Upload locations come from the registry; credentials go nowhere else.
      fail('REGISTRY_ERROR', `${req.what}: the registry sent the client to ${redactUrl(url)}, outside ${this.host}`);
    }
    const scope = scopeFor(repository, req);
    let res = await this.send(url, req, scope, repository);
    if (res.status === 401) {
      const challenges = parseChallenges(res.headers['www-authenticate'] as string | undefined);
      discard(res);
      await this.authenticate(challenges, scope, repository, req.what);
      res = await this.send(url, req, scope, repository);
      if (res.status === 401) {
        const again = parseChallenges(res.headers['www-authenticate'] as string | undefined);
        discard(res);
        const cred = await this.cred(repository);
        if (cred && again.some((c) => c.scheme === 'bearer' && c.params.error === 'insufficient_scope')) {
          // The token service knew the user but granted less than asked (ref: RFC 6750 section 3.1).
          fail(
            'DENIED',
            `${req.what}: user '${cred.username}' may not ${req.push ? 'push to' : 'pull from'} ${repository}${req.mountFrom ? ` (or pull from ${req.mountFrom})` : ''} on ${this.registry}`,
          );
        }
        fail(
          'AUTH_FAILED',
          cred
            ? `${req.what}: ${this.registry} rejected the credentials for user '${cred.username}'`
            : `${req.what}: ${this.registry} needs credentials (none found for it; use --creds, --authfile or docker login)`,
        );
      }
    }
    return this.followRedirects(res, req, scope, repository);
  }

  private async followRedirects(
    first: StreamResponse,
    req: FetchOptions,
    scope: string,
    repository: string,
  ): Promise<StreamResponse> {
    let res = first;
    for (let hops = 0; [301, 302, 303, 307, 308].includes(res.status); hops++) {
      const location = res.headers.location;
      discard(res);
      if (!location || hops >= 5) fail('REGISTRY_ERROR', `${req.what}: too many or empty redirects`);
      const next = new URL(location, res.url);
      if (res.url.protocol === 'https:' && next.protocol !== 'https:') {
        fail('TLS_FAILED', `${req.what}: refusing a redirect from HTTPS to ${redactUrl(next)}`);
      }
      // Blob redirects point at storage (S3, CDN) that must not see the registry's credentials, on any hop:
      // compare with the registry itself, not with the previous hop.
      const sameHost = next.protocol === this.base.protocol && next.host === this.base.host;
      const headers = { ...req.headers };
      const auth = sameHost ? this.authHeader(scope, repository) : undefined;
      // Storage elsewhere is trusted with the registry's CAs (--ca-cert, --cert-dir), as skopeo's one TLS
      // configuration is for every hop, but gets no client certificate, as it gets no credentials.
      const tls = sameHost ? this.tls : this.tls?.ca ? { ca: this.tls.ca } : undefined;
      res = await this.http.request(next, { ...req, headers: auth ? { ...headers, ...auth } : headers }, tls);
    }
    if ((res.status >= 200 && res.status < 300) || req.okStatus?.includes(res.status)) return res;
    throw await this.errorFor(res, req.what);
  }

  private async send(url: URL, req: RequestOptions, scope: string, repository: string): Promise<StreamResponse> {
    const auth = this.authHeader(scope, repository);
    return this.http.request(url, { ...req, headers: { ...req.headers, ...auth } }, this.tls);
  }

  private authHeader(scope: string, repository: string): Record<string, string> | undefined {
    const token = this.tokens.get(scope);
    if (token && token.expires > Date.now()) return { authorization: `Bearer ${token.value}` };
    if (this.basic) return this.basicHeaders.get(repository);
    return undefined;
  }

  /** Basic authorization by repository (see `credentials`). */
  private readonly basicHeaders = new Map<string, Record<string, string>>();

  private async authenticate(challenges: Challenge[], scope: string, repository: string, what: string): Promise<void> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    const cred = await this.cred(repository);
    if (bearer) {
      await this.fetchToken(bearer, scope, cred, what);
      return;
    }
    if (basic) {
      if (cred?.kind !== 'basic') {
        fail(
          'AUTH_FAILED',
          `${what}: ${this.registry} needs credentials: a username and password (none found for it; use --creds, --authfile or docker login)`,
        );
      }
      this.basic = true;
      this.basicHeaders.set(repository, {
        authorization: `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`,
      });
      return;
    }
    fail('AUTH_FAILED', `${what}: ${this.registry} answered 401 without a Bearer or Basic challenge`);
  }

  private async fetchToken(ch: Challenge, scope: string, cred: Credential | undefined, what: string): Promise<void> {
    const realm = ch.params.realm;
    if (!realm) fail('AUTH_FAILED', `${what}: the Bearer challenge of ${this.registry} names no realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      fail('AUTH_FAILED', `${what}: the token realm '${printable(realm, 100)}' is not a URL`);
    }
    const insecureOk = (this.opts.insecureRegistries ?? []).includes(url.host);
    if (url.protocol !== 'https:' && !insecureOk) {
      fail('TLS_FAILED', `${what}: refusing to send credentials to the plain-HTTP token realm ${redactUrl(url)}`);
    }
    const service = ch.params.service;
    // The challenge may name several scopes, with the actions in another order (`push,pull`): ask once for each.
    const norm = (sc: string) => {
      const at = sc.lastIndexOf(':');
      return `${sc.slice(0, at)}:${sc
        .slice(at + 1)
        .split(',')
        .sort()
        .join(',')}`;
    };
    const scopes = scope.split(' ');
    for (const extra of (ch.params.scope ?? '').split(' ').filter(Boolean)) {
      if (!scopes.some((sc) => norm(sc) === norm(extra))) scopes.push(extra);
    }
    let res: StreamResponse;
    // A realm on another host is trusted with the registry's CAs too, as skopeo does.
    const tls = url.host === this.host ? this.tls : loadTls(this.opts, url.host);
    if (cred?.kind === 'identity-token') {
      // ref: distribution docs/spec/auth/oauth.md: refresh-token grant.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: cred.token,
        client_id: 'portcullis',
      });
      if (service) form.set('service', service);
      form.set('scope', scopes.join(' '));
      res = await this.http.request(
        url,
        { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() },
        tls,
      );
    } else {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (cred) headers.authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
      res = await this.http.request(url, { headers }, tls);
    }
    if (cred?.kind === 'identity-token' && [400, 401, 403].includes(res.status)) {
      let reason = `HTTP ${res.status}`;
      try {
        const body = JSON.parse((await readBody(res, 64 * 1024, `${what}: token response`)).toString('utf8')) as {
          error?: unknown;
        };
        if (typeof body.error === 'string') reason = printable(body.error, 80);
      } catch {
        // the status says enough
      }
      fail(
        'AUTH_FAILED',
        `${what}: the token service of ${this.registry} refused the identity token${cred.username ? ` of user '${cred.username}'` : ''} (${reason}); log in again`,
      );
    }
    if (res.status === 401 || res.status === 403) {
      discard(res);
      fail(
        'AUTH_FAILED',
        `${what}: the token service of ${this.registry} refused ${cred ? `user '${cred.username}'` : 'anonymous access'} (HTTP ${res.status})`,
      );
    }
    if (res.status < 200 || res.status >= 300) throw await this.errorFor(res, `${what}: token request`);
    const body = await readBody(res, 1024 * 1024, `${what}: token response`);
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      fail('REGISTRY_ERROR', `${what}: the token service of ${this.registry} answered something other than JSON`);
    }
    if (typeof parsed !== 'object' || parsed === null) {
      fail('REGISTRY_ERROR', `${what}: the token service of ${this.registry} answered JSON that is not an object`);
    }
    const value = typeof parsed.token === 'string' && parsed.token ? parsed.token : parsed.access_token;
    // The token goes into a header: only the characters an HTTP header value may hold, within reason.
    if (typeof value !== 'string' || !/^[\x21-\x7e]{1,16384}$/.test(value)) {
      fail('REGISTRY_ERROR', `${what}: the token service of ${this.registry} returned no usable token`);
    }
    const ttl =
      typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? Math.min(parsed.expires_in, 86_400) : 60;
    this.tokens.set(scope, { value, expires: Date.now() + Math.max(ttl - 10, 5) * 1000 });
  }

  /** Build a typed error from a non-2xx response, with the registry's own error code when it sent one. */
  private async errorFor(res: StreamResponse, what: string): Promise<PortcullisError> {
    let detail = '';
    try {
      const body = await readBody(res, 64 * 1024, what);
      const parsed = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
      const e = parsed.errors?.[0];
      if (e) detail = printable(` ${e.code ?? ''}${e.message ? `: ${e.message}` : ''}`, 300);
    } catch {
      // not JSON: the status says enough
    }
    const status = res.status;
    const msg = `${what}: HTTP ${status}${detail}`;
    if (status === 429) {
      // Without Retry-After the usual backoff applies: retrying at once only adds to the load that was refused.
      const after = retryAfterSeconds(res.headers['retry-after']);
      const max = this.opts.maxRetryAfterSeconds ?? 60;
      const err = new PortcullisError('RATE_LIMITED', `${msg} (rate limited)`, {
        retryable: after === undefined || after <= max,
      });
      return after === undefined ? err : Object.assign(err, { retryAfter: Math.min(after, max) });
    }
    if (status >= 500) return new PortcullisError('REGISTRY_ERROR', msg, { retryable: true });
    const code: ErrorCode =
      status === 404 ? 'NOT_FOUND' : status === 403 ? 'DENIED' : status === 401 ? 'AUTH_FAILED' : 'REGISTRY_ERROR';
    return new PortcullisError(code, msg);
  }

  close(): void {
    this.http.close();
  }
}
