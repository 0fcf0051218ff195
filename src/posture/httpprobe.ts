import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { parseChallenges } from '../oci/registry/auth.js';
import type { AnonymousAnswer, HttpAnswer, Outcome } from './facts.js';

/** Where the HTTP probes go and how long each may take. */
export interface ProbeEndpoint {
  /** `https://host:port` or `http://host:port`. */
  readonly origin: string;
  /** PEM CAs besides the system roots, for requests that verify (credentials). */
  readonly ca?: readonly string[];
  readonly timeoutMs: number;
}

/** An answer with what the orchestration needs beyond the verdicts: the Location header and a bounded body. */
export interface RawAnswer extends HttpAnswer {
  readonly location?: string;
  readonly body: Buffer;
}

const MAX_BODY = 64 * 1024;

/** Socket errors that mean no HTTP answer came (nothing listening, a TLS alert instead of a response). */
const NO_ANSWER = /^(ECONNREFUSED|ECONNRESET|EPIPE|HPE_|ERR_SSL|EPROTO)/;

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * One request with a hard deadline covering connection, headers and body. `verify` checks the server's certificate
 * against the system roots plus `ca` and is required whenever a credential is sent; anonymous probes do not verify,
 * since they send nothing secret and a broken certificate must not hide an open registry.
 */
export function send(
  url: URL,
  opts: {
    readonly method?: string;
    readonly headers?: Record<string, string>;
    readonly verify?: boolean;
    readonly ca?: readonly string[];
    readonly timeoutMs: number;
  },
): Promise<Outcome<RawAnswer>> {
  const tlsOpts =
    url.protocol === 'https:'
      ? {
          rejectUnauthorized: opts.verify === true,
          minVersion: 'TLSv1.2' as const,
          ...(opts.ca?.length ? { ca: [...rootCertificates, ...opts.ca] } : {}),
        }
      : {};
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: Outcome<RawAnswer>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(o);
    };
    const method = opts.method ?? 'GET';
    const req = mod.request(url, {
      method,
      agent: false,
      headers: {
        'user-agent': 'portcullis-audit/0.1',
        ...(method === 'POST' || method === 'PUT' ? { 'content-length': '0' } : {}),
        ...opts.headers,
      },
      ...tlsOpts,
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ ok: false, note: `${method} ${url.origin}${url.pathname}: no answer within ${opts.timeoutMs} ms` });
    }, opts.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'error';
      if (NO_ANSWER.test(code)) finish({ ok: true, value: { status: 0, noAnswer: code, body: Buffer.alloc(0) } });
      else finish({ ok: false, note: `${method} ${url.origin}${url.pathname}: ${code} (${err.message})` });
    });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) parts.push(c);
        else res.destroy();
      });
      const answer = (): RawAnswer => {
        const body = Buffer.concat(parts).subarray(0, MAX_BODY);
        const challenge = header(res.headers['www-authenticate']);
        const apiVersion = header(res.headers['docker-distribution-api-version']);
        const location = header(res.headers.location);
        const errorCode = errorCodeOf(body);
        return {
          status: res.statusCode ?? 0,
          ...(challenge ? { challenge } : {}),
          ...(apiVersion ? { apiVersion } : {}),
          ...(errorCode ? { errorCode } : {}),
          ...(location ? { location } : {}),
          body,
        };
      };
      res.on('end', () => finish({ ok: true, value: answer() }));
      res.on('close', () => finish({ ok: true, value: answer() }));
      res.on('error', () => finish({ ok: true, value: answer() }));
    });
    req.end();
  });
}

/** The first `errors[].code` of a distribution error body, if the body is one. */
export function errorCodeOf(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown }[] };
    const code = parsed?.errors?.[0]?.code;
    return typeof code === 'string' && /^[A-Z_]{1,64}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

/** Read a token service's JSON answer: `token`, else `access_token`. */
export function tokenOf(body: Buffer): string | undefined {
  try {
    const p = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown };
    const t = typeof p.token === 'string' && p.token ? p.token : p.access_token;
    return typeof t === 'string' && /^[\x21-\x7e]{1,16384}$/.test(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A request without credentials, as an anonymous client makes it: when the registry asks for a Bearer token, ask its
 * token service for one without credentials (the challenge's scope, else `scope`) and try again with it.
 */
export async function anonymousRequest(
  ep: ProbeEndpoint,
  method: string,
  path: string,
  scope: string,
): Promise<Outcome<AnonymousAnswer & { readonly raw: RawAnswer; readonly auth?: string }>> {
  const url = new URL(path, ep.origin);
  const request = `${method} ${url.pathname}`;
  const first = await send(url, { method, timeoutMs: ep.timeoutMs });
  if (!first.ok) return first;
  const strip = (r: RawAnswer) => {
    const { body: _b, location: _l, ...rest } = r;
    return rest;
  };
  if (first.value.status === 0) return { ok: false, note: `${request}: no HTTP answer (${first.value.noAnswer})` };
  const bearer = parseChallenges(first.value.challenge).find((c) => c.scheme === 'bearer');
  if (first.value.status !== 401 || !bearer)
    return { ok: true, value: { ...strip(first.value), request, viaToken: false, raw: first.value } };
  let realm: URL;
  try {
    realm = new URL(bearer.params.realm ?? '');
  } catch {
    return { ok: false, note: `${request}: the Bearer challenge names no usable realm` };
  }
  if (bearer.params.service) realm.searchParams.set('service', bearer.params.service);
  realm.searchParams.set('scope', bearer.params.scope ?? scope);
  const tok = await send(realm, { timeoutMs: ep.timeoutMs });
  if (!tok.ok) return { ok: false, note: `anonymous token request: ${tok.note}` };
  const token = tok.value.status === 200 ? tokenOf(tok.value.body) : undefined;
  if (!token)
    return {
      ok: true,
      value: { ...strip(first.value), request, viaToken: false, tokenRefused: tok.value.status, raw: first.value },
    };
  const auth = `Bearer ${token}`;
  const second = await send(url, { method, headers: { authorization: auth }, timeoutMs: ep.timeoutMs });
  if (!second.ok) return second;
  if (second.value.status === 0) return { ok: false, note: `${request}: no HTTP answer (${second.value.noAnswer})` };
  return { ok: true, value: { ...strip(second.value), request, viaToken: true, raw: second.value, auth } };
}
