/**
 * What the probes of `registry audit` observed, as plain data. Rules (`rules.ts`) are pure functions of these facts,
 * so every verdict is unit-tested without a network; the probes (`tlsprobe.ts`, `httpprobe.ts`) are the I/O edge.
 */

/** A probe either observed something or says why it could not run; it never passes silently. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly note: string };

/** The server certificate as the TLS handshake presented it. */
export interface CertFacts {
  readonly subject: string;
  readonly issuer: string;
  /** ISO 8601 instants of notBefore and notAfter. */
  readonly validFrom: string;
  readonly validTo: string;
  readonly subjectAltName?: string;
  readonly fingerprint256: string;
}

/** One completed TLS handshake with default client settings (TLS 1.2 or later). */
export interface HandshakeFacts {
  readonly protocol: string;
  readonly cipher: string;
  readonly cert: CertFacts | undefined;
  /** OpenSSL's verdict on the chain against the configured CAs plus the system roots (undefined when it chains). */
  readonly chainError?: string;
  /** Why the certificate does not name the host (undefined when it does). */
  readonly hostnameError?: string;
}

/** Whether a handshake limited to one old protocol version completed. */
export interface OldProtocolFacts {
  readonly version: 'TLSv1' | 'TLSv1.1';
  readonly accepted: Outcome<boolean>;
}

export interface TlsFacts {
  /** The handshake, or why there was none (connection refused, the port does not speak TLS, timeout). */
  readonly handshake: Outcome<HandshakeFacts>;
  /** True when a TCP connection was made (a refused or timed-out connection is unreachable). */
  readonly reachable: boolean;
  readonly oldProtocols: readonly OldProtocolFacts[];
}

/** One HTTP answer, reduced to what verdicts read. */
export interface HttpAnswer {
  /** 0 when nothing HTTP came back (connection refused or reset, a TLS alert instead of a response). */
  readonly status: number;
  /** Why there was no HTTP answer (status 0). */
  readonly noAnswer?: string;
  /** The WWW-Authenticate header. */
  readonly challenge?: string;
  /** Docker-Distribution-API-Version, when sent. */
  readonly apiVersion?: string;
  /** The first `errors[].code` of a distribution error body. */
  readonly errorCode?: string;
}

/** An anonymous request's final answer, after the anonymous token dance when the registry asked for a Bearer token. */
export interface AnonymousAnswer extends HttpAnswer {
  /** The method and path asked (for locations). */
  readonly request: string;
  /** An anonymous token was obtained and used for the final request. */
  readonly viaToken: boolean;
  /** The token service refused an anonymous token (HTTP status). */
  readonly tokenRefused?: number;
  /** For an accepted upload: how its cancellation went. */
  readonly cleanup?: string;
}

/** One entry of a registry token's `access` claim (ref: distribution docs/spec/auth/jwt.md). */
export interface AccessEntry {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

export interface TokenScopeFacts {
  /** The scope asked for, e.g. `repository:team/app:pull`. */
  readonly asked: string;
  readonly access: readonly AccessEntry[];
}

/** Everything one audit observed about one registry. */
export interface AuditFacts {
  /** host:port as audited. */
  readonly host: string;
  readonly tls: TlsFacts;
  /** GET /v2/ over plain HTTP. */
  readonly plainHttp: Outcome<HttpAnswer>;
  /** GET /v2/ over plain HTTP with a deliberately invalid Basic credential (only sent when the first GET challenged). */
  readonly plainHttpInvalidCredential?: Outcome<HttpAnswer>;
  /** The scheme the API probes used: https when a TLS handshake completed, else http when it answered, else none. */
  readonly endpoint: 'https' | 'http' | undefined;
  /** The repository the pull, push and delete probes used, and where it came from. */
  readonly repository: Outcome<{ readonly name: string; readonly from: 'flag' | 'catalog' | 'probe-name' }>;
  readonly catalog: Outcome<AnonymousAnswer>;
  readonly pull: Outcome<AnonymousAnswer>;
  readonly push: Outcome<AnonymousAnswer>;
  readonly delete: Outcome<AnonymousAnswer>;
  readonly tokenScope: Outcome<TokenScopeFacts>;
}
