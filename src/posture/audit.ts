import { randomBytes } from 'node:crypto';
import { fail } from '../errors.js';
import { parseChallenges } from '../oci/registry/auth.js';
import { loadTls, RegistryClient, type RegistryOptions } from '../oci/registry/client.js';
import { lookupCredential } from '../oci/registry/credentials.js';
import { readBody } from '../oci/registry/http.js';
import type { AnonymousAnswer, AuditFacts, HttpAnswer, Outcome, TokenScopeFacts } from './facts.js';
import { anonymousRequest, type ProbeEndpoint, send, tokenOf } from './httpprobe.js';
import { decodeAccess } from './jwt.js';
import { probeTls } from './tlsprobe.js';

export interface AuditOptions extends RegistryOptions {
  /** The repository for the pull, push and delete probes (`--repository`). */
  readonly repository?: string;
  /** Deadline of each probe in milliseconds. */
  readonly timeoutMs: number;
}

/** `HOST[:PORT]` or `[V6]:PORT`; anything with a scheme or a path is refused. */
export function parseTarget(target: string): { hostname: string; port: number | undefined; host: string } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]{1,253}))(?::(\d{1,5}))?$/.exec(target);
  const port = m?.[3] !== undefined ? Number(m[3]) : undefined;
  if (!m || (port !== undefined && (port < 1 || port > 65535)))
    fail('USAGE', `'${target.slice(0, 100)}' is not HOST[:PORT] (no scheme, no path)`);
  const hostname = (m[1] ?? m[2]) as string;
  const shown = m[1] ? `[${hostname}]` : hostname;
  return { hostname, port, host: port !== undefined ? `${shown}:${port}` : shown };
}

/** The name used for push and delete probes when no repository is known; nothing is ever committed under it. */
export const PROBE_REPOSITORY = 'portcullis-audit-probe';

/**
 * Run every probe against one registry and gather the facts. Anonymous probes send no credentials; credentials (for
 * listing the catalog and asking the token service) go only over TLS that verified, never over plain HTTP.
 */
export async function collectFacts(target: string, opts: AuditOptions): Promise<AuditFacts> {
  const t = parseTarget(target);
  const tlsPort = t.port ?? 443;
  const httpPort = t.port ?? 80;
  const host = `${t.host.replace(/:\d+$/, '')}:${tlsPort}`;
  const ca = loadTls(opts, host)?.ca;
  const tls = await probeTls({ hostname: t.hostname, port: tlsPort, ...(ca ? { ca } : {}), timeoutMs: opts.timeoutMs });
  const hostname = t.host.replace(/:\d+$/, '');
  const httpOrigin = `http://${hostname}:${httpPort}`;
  const plainHttp = await send(new URL('/v2/', httpOrigin), { timeoutMs: opts.timeoutMs });
  const stripped = (o: typeof plainHttp) => (o.ok ? { ok: true as const, value: { ...o.value, body: undefined } } : o);
  let plainHttpInvalidCredential: Outcome<HttpAnswer> | undefined;
  if (plainHttp.ok && plainHttp.value.status === 401 && /basic/i.test(plainHttp.value.challenge ?? '')) {
    // A deliberately invalid credential: never the user's own over plain HTTP.
    const bogus = Buffer.from(`portcullis-audit-probe:${randomBytes(12).toString('hex')}`).toString('base64');
    const r = await send(new URL('/v2/', httpOrigin), {
      headers: { authorization: `Basic ${bogus}` },
      timeoutMs: opts.timeoutMs,
    });
    plainHttpInvalidCredential = r.ok ? { ok: true, value: { status: r.value.status } } : r;
  }
  const httpApi = plainHttp.ok && (plainHttp.value.status === 200 || plainHttp.value.status === 401);
  const endpoint = tls.handshake.ok ? 'https' : httpApi ? 'http' : undefined;
  if (!endpoint) {
    const tlsWhy = tls.handshake.ok ? '' : tls.handshake.note;
    const httpWhy = !plainHttp.ok
      ? plainHttp.note
      : plainHttp.value.status === 0
        ? (plainHttp.value.noAnswer ?? 'no answer')
        : `HTTP ${plainHttp.value.status} on /v2/`;
    fail(
      'NETWORK',
      `${target}: no registry answered: TLS on port ${tlsPort}: ${tlsWhy}; plain HTTP on port ${httpPort}: ${httpWhy}`,
    );
  }
  const ep: ProbeEndpoint = {
    origin: endpoint === 'https' ? `https://${hostname}:${tlsPort}` : httpOrigin,
    ...(ca ? { ca } : {}),
    timeoutMs: opts.timeoutMs,
  };
  const verified = tls.handshake.ok && !tls.handshake.value.chainError && !tls.handshake.value.hostnameError;
  const catalogRaw = await anonymousRequest(ep, 'GET', '/v2/_catalog?n=100', 'registry:catalog:*');
  const catalog = plain(catalogRaw);
  const repository = await chooseRepository(opts, catalogRaw, endpoint === 'https' && verified, host);
  const repo = repository.ok ? repository.value.name : PROBE_REPOSITORY;
  const pull: Outcome<AnonymousAnswer> = repository.ok
    ? plain(await anonymousRequest(ep, 'GET', `/v2/${repo}/tags/list`, `repository:${repo}:pull`))
    : { ok: false, note: repository.note };
  const push = await pushProbe(ep, repo);
  const digest = `sha256:${randomBytes(32).toString('hex')}`;
  const del = plain(
    await anonymousRequest(ep, 'DELETE', `/v2/${repo}/manifests/${digest}`, `repository:${repo}:delete`),
  );
  const tokenScope = await tokenScopeProbe(opts, ep, host, verified, endpoint, repository.ok ? repo : undefined);
  return {
    host,
    tls,
    plainHttp: stripped(plainHttp),
    ...(plainHttpInvalidCredential ? { plainHttpInvalidCredential } : {}),
    endpoint,
    repository,
    catalog,
    pull,
    push,
    delete: del,
    tokenScope,
  };
}

function plain(o: Awaited<ReturnType<typeof anonymousRequest>>): Outcome<AnonymousAnswer> {
  if (!o.ok) return o;
  const { raw: _r, auth: _a, ...rest } = o.value;
  return { ok: true, value: rest };
}

function firstRepository(body: Buffer): string | undefined {
  try {
    const r = (JSON.parse(body.toString('utf8')) as { repositories?: unknown }).repositories;
    const first = Array.isArray(r)
      ? r.find((x) => typeof x === 'string' && /^[a-z0-9][a-z0-9._/-]{0,254}$/.test(x))
      : undefined;
    return first as string | undefined;
  } catch {
    return undefined;
  }
}

async function chooseRepository(
  opts: AuditOptions,
  catalog: Awaited<ReturnType<typeof anonymousRequest>>,
  canSendCredentials: boolean,
  host: string,
): Promise<AuditFacts['repository']> {
  if (opts.repository) return { ok: true, value: { name: opts.repository, from: 'flag' } };
  if (catalog.ok && catalog.value.status === 200) {
    const name = firstRepository(catalog.value.raw.body);
    if (name) return { ok: true, value: { name, from: 'catalog' } };
  }
  const none = 'no repository to probe: give --repository REPO';
  if (!canSendCredentials)
    return {
      ok: false,
      note: `${none} (credentials go only over verified TLS, and the anonymous catalog listed none)`,
    };
  const cred = await lookupCredential(host.replace(/:443$/, ''), opts); // as docker login saves it: no default port
  if (!cred)
    return { ok: false, note: `${none} (no credentials to list the catalog, and the anonymous catalog listed none)` };
  const client = new RegistryClient(host, { ...opts, insecureRegistries: [], retries: 1 });
  try {
    const res = await client.fetch('/v2/_catalog?n=100', '', {
      what: `${host} catalog`,
      attempts: 1,
      idleTimeoutMs: opts.timeoutMs,
    });
    const name = firstRepository(await readBody(res, 1024 * 1024, `${host} catalog`));
    return name
      ? { ok: true, value: { name, from: 'catalog' } }
      : { ok: false, note: `${none} (the catalog is empty)` };
  } catch (err) {
    return { ok: false, note: `${none} (listing the catalog with credentials failed: ${(err as Error).message})` };
  } finally {
    client.close();
  }
}

/** Codes distribution answers a PATCH to an unknown upload with, once the request has passed authorisation. */
const UPLOAD_AFTER_AUTH = new Set(['BLOB_UPLOAD_UNKNOWN', 'BLOB_UPLOAD_INVALID']);

/**
 * Anonymous push, in two steps. First a PATCH to an upload that does not exist: it needs push access, creates nothing,
 * and distribution answers 401 (refused) or, after authorising, BLOB_UPLOAD_INVALID / BLOB_UPLOAD_UNKNOWN. Only when the
 * answer proves neither is an upload started with POST, and then cancelled at once with DELETE on its Location
 * (distribution keeps a cancelled upload's small hash-state directory until its upload purger runs).
 */
async function pushProbe(ep: ProbeEndpoint, repo: string): Promise<Outcome<AnonymousAnswer>> {
  const scope = `repository:${repo}:pull,push`;
  const uuid = randomBytes(16)
    .toString('hex')
    .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
  const patch = plain(await anonymousRequest(ep, 'PATCH', `/v2/${repo}/blobs/uploads/${uuid}`, scope));
  if (
    patch.ok &&
    (patch.value.status === 401 ||
      patch.value.status === 403 ||
      (patch.value.errorCode !== undefined && UPLOAD_AFTER_AUTH.has(patch.value.errorCode)))
  )
    return patch;
  const r = await anonymousRequest(ep, 'POST', `/v2/${repo}/blobs/uploads/`, scope);
  if (!r.ok || r.value.status !== 202) return plain(r);
  const loc = r.value.raw.location;
  let cleanup: string;
  if (!loc) cleanup = 'the registry gave no Location, so the upload could not be cancelled';
  else {
    const url = new URL(loc, ep.origin);
    if (url.origin !== new URL(ep.origin).origin)
      cleanup = `not cancelled: the upload Location is outside the registry (${url.origin})`;
    else {
      const d = await send(url, {
        method: 'DELETE',
        headers: r.value.auth ? { authorization: r.value.auth } : {},
        timeoutMs: ep.timeoutMs,
      });
      cleanup =
        d.ok && d.value.status >= 200 && d.value.status < 300
          ? `the upload was cancelled (HTTP ${d.value.status})`
          : `cancelling the upload at ${url.pathname} failed (${d.ok ? `HTTP ${d.value.status}` : d.note}); it stays until the registry purges uploads`;
    }
  }
  const p = plain(r);
  return p.ok ? { ok: true, value: { ...p.value, cleanup } } : p;
}

/** Ask the token service for pull on one repository with the user's credentials and read what the token grants. */
async function tokenScopeProbe(
  opts: AuditOptions,
  ep: ProbeEndpoint,
  host: string,
  verified: boolean,
  endpoint: 'https' | 'http',
  repo: string | undefined,
): Promise<Outcome<TokenScopeFacts>> {
  if (endpoint !== 'https' || !verified)
    return { ok: false, note: 'credentials are sent only over verified TLS; the registry has none' };
  // As docker login saves the host: no default port. With the repository, an auth file's entry for it (or a
  // namespace above it) is the one a client pulling it would use.
  const cred = await lookupCredential(host.replace(/:443$/, ''), opts, repo);
  if (!cred) return { ok: false, note: 'needs credentials (--creds, --authfile or docker login) to ask for a token' };
  if (cred.kind !== 'basic') return { ok: false, note: 'identity-token credentials are not used for this probe yet' };
  if (!repo) return { ok: false, note: 'no repository to ask a token for: give --repository REPO' };
  // The challenge decides where the credentials go, so it is read over a verified connection too: an earlier verified
  // probe says nothing about this one (a man in the middle can pass that one through and answer this).
  const v2 = await send(new URL('/v2/', ep.origin), {
    verify: true,
    ...(ep.ca ? { ca: ep.ca } : {}),
    timeoutMs: ep.timeoutMs,
  });
  if (!v2.ok) return v2;
  const bearer = parseChallenges(v2.value.challenge).find((c) => c.scheme === 'bearer');
  if (!bearer) return { ok: false, note: 'the registry does not use Bearer tokens (no token service to ask)' };
  let realm: URL;
  try {
    realm = new URL(bearer.params.realm ?? '');
  } catch {
    return { ok: false, note: 'the Bearer challenge names no usable realm' };
  }
  if (realm.protocol !== 'https:')
    return {
      ok: false,
      note: `refusing to send credentials to the plain-HTTP token realm ${realm.origin}${realm.pathname}`,
    };
  const asked = `repository:${repo}:pull`;
  if (bearer.params.service) realm.searchParams.set('service', bearer.params.service);
  realm.searchParams.set('scope', asked);
  const basic = Buffer.from(`${cred.username}:${cred.password}`).toString('base64');
  const res = await send(realm, {
    headers: { authorization: `Basic ${basic}` },
    verify: true,
    ...(ep.ca ? { ca: ep.ca } : {}),
    timeoutMs: ep.timeoutMs,
  });
  if (!res.ok) return res;
  if (res.value.status !== 200)
    return { ok: false, note: `the token service answered HTTP ${res.value.status || res.value.noAnswer}` };
  const token = tokenOf(res.value.body);
  if (!token) return { ok: false, note: 'the token service returned no usable token' };
  const access = decodeAccess(token);
  return access.ok ? { ok: true, value: { asked, access: access.value } } : access;
}
