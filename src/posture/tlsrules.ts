import type { AuditFacts, CertFacts, HandshakeFacts } from './facts.js';
import { notChecked, PASS, type PostureRule, type Verdict } from './model.js';

/** The handshake a certificate rule reads, or the verdict when there is none. */
function withHandshake(f: AuditFacts, read: (h: HandshakeFacts, c: CertFacts) => Verdict): Verdict {
  if (!f.tls.handshake.ok) return notChecked(`no TLS handshake (${f.tls.handshake.note})`);
  const h = f.tls.handshake.value;
  if (!h.cert) return notChecked('the server presented no certificate');
  return read(h, h.cert);
}

const DAY = 86_400_000;

/** Verification errors about dates or the name, not the chain: the expiry and hostname rules report those. */
const NOT_CHAIN_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID']);

export const TLS_RULES: readonly PostureRule[] = [
  {
    id: 'plain-http',
    kind: 'posture',
    title: 'The registry API answers over plain HTTP',
    severity: 'high',
    rationale:
      'Without TLS anyone on the path reads and rewrites manifests, blobs, tokens and credentials; a tag can be pointed at another image in transit.',
    remediation:
      'Serve the registry over TLS only (distribution: `http.tls.certificate` and `key`) and close the plain-HTTP listener, or redirect it to HTTPS without serving the API.',
    evaluate: (f) => {
      if (!f.plainHttp.ok) return notChecked(`plain-HTTP probe: ${f.plainHttp.note}`);
      const a = f.plainHttp.value;
      // 200 or 401 on /v2/ is the API; a TLS server's "HTTP request to an HTTPS server" is a 400 and is no API.
      if (a.status !== 200 && a.status !== 401) return PASS;
      return {
        result: 'fail',
        path: '/v2/',
        message: `GET http://${f.host}/v2/ answered HTTP ${a.status}${a.apiVersion ? ` (${a.apiVersion})` : ''} without TLS`,
      };
    },
  },
  {
    id: 'tls-old-protocol',
    kind: 'posture',
    title: 'The registry accepts TLS 1.0 or 1.1',
    severity: 'medium',
    rationale:
      'TLS 1.0 and 1.1 are deprecated (RFC 8996): they lack modern cipher suites and let a downgrade-capable attacker weaken the connection.',
    remediation:
      'Require TLS 1.2 or later (distribution: `http.tls.minimumtls: tls1.2`; in a TLS-terminating proxy, its minimum protocol setting).',
    evaluate: (f) => {
      if (!f.tls.handshake.ok) return notChecked(`no TLS handshake (${f.tls.handshake.note})`);
      const accepted = f.tls.oldProtocols.filter((p) => p.accepted.ok && p.accepted.value).map((p) => p.version);
      if (accepted.length)
        return { result: 'fail', message: `${f.host} completed a handshake limited to ${accepted.join(' and ')}` };
      const unknown = f.tls.oldProtocols.filter((p) => !p.accepted.ok);
      if (unknown.length)
        return notChecked(unknown.map((p) => `${p.version}: ${p.accepted.ok ? '' : p.accepted.note}`).join('; '));
      return PASS;
    },
  },
  {
    id: 'cert-expired',
    kind: 'posture',
    title: "The registry's certificate has expired",
    severity: 'high',
    rationale:
      'Clients refuse an expired certificate, and the habit it breeds (turning verification off) exposes every pull and push to interception.',
    remediation: 'Renew the certificate now and automate renewal (ACME, or your PKI with an alert well before expiry).',
    evaluate: (f, ctx) =>
      withHandshake(f, (_, c) =>
        ctx.now.getTime() > Date.parse(c.validTo)
          ? { result: 'fail', message: `the certificate of ${f.host} (${c.subject}) expired on ${c.validTo}` }
          : PASS,
      ),
  },
  {
    id: 'cert-not-yet-valid',
    kind: 'posture',
    title: "The registry's certificate is not valid yet",
    severity: 'high',
    rationale:
      'A certificate whose validity starts in the future is refused by clients; often a clock or issuance error.',
    remediation: "Check the registry host's clock and the certificate's notBefore; reissue it if it is wrong.",
    evaluate: (f, ctx) =>
      withHandshake(f, (_, c) =>
        ctx.now.getTime() < Date.parse(c.validFrom)
          ? { result: 'fail', message: `the certificate of ${f.host} (${c.subject}) is valid only from ${c.validFrom}` }
          : PASS,
      ),
  },
  {
    id: 'cert-expiring',
    kind: 'posture',
    title: "The registry's certificate expires soon",
    severity: 'medium',
    rationale: 'An expiring certificate becomes an outage of every pipeline that pulls or pushes, on a known date.',
    remediation: 'Renew the certificate before it expires and automate renewal.',
    evaluate: (f, ctx) =>
      withHandshake(f, (_, c) => {
        const left = Date.parse(c.validTo) - ctx.now.getTime();
        if (left < 0 || left > ctx.expiryWarningMs) return PASS;
        return {
          result: 'fail',
          message: `the certificate of ${f.host} (${c.subject}) expires on ${c.validTo}, in ${Math.floor(left / DAY)} days (horizon ${Math.round(ctx.expiryWarningMs / DAY)} days)`,
        };
      }),
  },
  {
    id: 'cert-hostname-mismatch',
    kind: 'posture',
    title: "The registry's certificate does not name its host",
    severity: 'high',
    rationale:
      'A certificate that does not name the host is refused by verifying clients, or accepted only by clients that skip verification and so accept anyone.',
    remediation: "Reissue the certificate with the registry's DNS name or IP address in subjectAltName.",
    evaluate: (f) =>
      withHandshake(f, (h, c) =>
        h.hostnameError
          ? {
              result: 'fail',
              message: `the certificate of ${f.host} (${c.subject}; subjectAltName ${c.subjectAltName ?? 'none'}) does not name it: ${h.hostnameError}`,
            }
          : PASS,
      ),
  },
  {
    id: 'cert-untrusted',
    kind: 'posture',
    title: "The registry's certificate does not chain to a trusted CA",
    severity: 'high',
    rationale:
      'A certificate no configured CA vouches for cannot be told from an impostor; clients must either fail or stop verifying.',
    remediation:
      'Issue the certificate from the CA your clients trust (give it to Portcullis with --ca-cert or --cert-dir), and serve the intermediate certificates with it.',
    evaluate: (f) =>
      withHandshake(f, (h, c) =>
        h.chainError && !NOT_CHAIN_ERRORS.has(h.chainError)
          ? {
              result: 'fail',
              message: `the certificate of ${f.host} (${c.subject}, issued by ${c.issuer}) does not verify: ${h.chainError}`,
            }
          : PASS,
      ),
  },
];
