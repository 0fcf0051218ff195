import { parseChallenges } from '../oci/registry/auth.js';
import type { AnonymousAnswer, Outcome } from './facts.js';
import { parseScope, scopeExcess } from './jwt.js';
import { notChecked, PASS, type PostureRule, type Verdict } from './model.js';

/** Codes distribution sends only once a request has passed authorisation and reached the repository's handler. */
const AFTER_AUTH = new Set([
  'NAME_UNKNOWN',
  'MANIFEST_UNKNOWN',
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
]);

/**
 * Judge an anonymous request. 401 and 403 refuse it. `allowed` statuses prove it was authorised. A 404 or 400 proves it
 * only with a distribution error code that its handlers send (they run after authorisation); a 405 UNSUPPORTED means authorised but the storage
 * refuses the operation (deletes disabled, read-only mode): still a finding, at medium severity, since one setting is
 * all that stands between anonymous users and the operation. Anything else is inconclusive and said so.
 */
function anonymous(
  o: Outcome<AnonymousAnswer>,
  allowed: readonly number[],
  what: string,
  host: string,
  authorisedOnError: boolean,
): Verdict {
  if (!o.ok) return notChecked(o.note);
  const a = o.value;
  const via = a.viaToken ? ' with an anonymous token' : ' without credentials';
  // The location leaves out the probe's random digest or upload id and the query, so SARIF fingerprints stay stable.
  const path = a.request
    .replace(/^\S+\s+/, '')
    .replace(/\?.*$/, '')
    .replace(/\/(sha256:[0-9a-f]{64}|[0-9a-f]{8}-[0-9a-f-]{27})$/, '/');
  if (a.status === 401 || a.status === 403) return PASS;
  if (allowed.includes(a.status))
    return {
      result: 'fail',
      path,
      message: `${a.request} on ${host}${via} answered HTTP ${a.status}: anonymous ${what}${a.cleanup ? `; ${a.cleanup}` : ''}`,
    };
  if (authorisedOnError && (a.status === 404 || a.status === 400) && a.errorCode && AFTER_AUTH.has(a.errorCode))
    return {
      result: 'fail',
      path,
      message: `${a.request} on ${host}${via} answered HTTP ${a.status} ${a.errorCode}, which distribution sends only after authorising the request: anonymous ${what}`,
    };
  if (a.status === 405 && a.errorCode === 'UNSUPPORTED')
    return {
      result: 'fail',
      path,
      severity: 'medium',
      message: `${a.request} on ${host}${via} passed authorisation (HTTP 405 UNSUPPORTED: the storage refuses the operation, the access control does not): anonymous ${what} is one setting away`,
    };
  return notChecked(
    `${a.request} answered HTTP ${a.status}${a.errorCode ? ` ${a.errorCode}` : ''}, which proves neither`,
  );
}

export const ACCESS_RULES: readonly PostureRule[] = [
  {
    id: 'anonymous-catalog',
    kind: 'posture',
    title: 'Anyone can list the repositories',
    severity: 'medium',
    rationale: 'The catalog names every repository: a map for an attacker, and often confidential in itself.',
    remediation:
      'Require authentication for the catalog (distribution: htpasswd or token auth; a token service that grants `registry:catalog:*` only to administrators).',
    evaluate: (f) => anonymous(f.catalog, [200], 'catalog listing', f.host, false),
  },
  {
    id: 'anonymous-pull',
    kind: 'posture',
    title: 'Anyone can pull images',
    severity: 'high',
    rationale:
      'Private images carry code, configuration and sometimes secrets; anonymous pull hands them to anyone who can reach the registry.',
    remediation: 'Require authentication for pulls, and grant pull per repository to the identities that need it.',
    evaluate: (f) => anonymous(f.pull, [200], 'pull', f.host, true),
  },
  {
    id: 'anonymous-push',
    kind: 'posture',
    title: 'Anyone can push images',
    severity: 'critical',
    rationale:
      'Anonymous push lets anyone plant or replace images that pipelines and clusters then run: the gate is bypassed entirely.',
    remediation: 'Require authentication for every write, and grant push only to the promotion identity (the gate).',
    evaluate: (f) => anonymous(f.push, [202], 'push', f.host, true),
  },
  {
    id: 'anonymous-delete',
    kind: 'posture',
    title: 'Anyone can delete images',
    severity: 'high',
    rationale:
      'Anonymous delete lets anyone remove the images deployments depend on, or the signatures that vouch for them.',
    remediation: 'Require authentication for deletes and grant delete only to administrators or the retention job.',
    evaluate: (f) => anonymous(f.delete, [202], 'delete', f.host, true),
  },
  {
    id: 'token-scope-broader',
    kind: 'posture',
    title: 'The token service grants more than was asked',
    severity: 'high',
    rationale:
      'A token for pull that also allows push or delete (or other repositories) turns every leaked read token, CI log or cache into write access.',
    remediation:
      'Make the token service grant the intersection of what is asked and what is allowed, never the whole of what the user may do.',
    evaluate: (f) => {
      if (!f.tokenScope.ok) return notChecked(f.tokenScope.note);
      const asked = parseScope(f.tokenScope.value.asked);
      if (!asked) return notChecked(`the scope asked, '${f.tokenScope.value.asked}', does not parse`);
      const extra = scopeExcess(asked, f.tokenScope.value.access);
      return extra.length
        ? {
            result: 'fail',
            message: `asked the token service of ${f.host} for ${f.tokenScope.value.asked}; the token also grants ${extra.join(', ')}`,
          }
        : PASS;
    },
  },
  {
    id: 'credentials-over-http',
    kind: 'posture',
    title: 'The registry takes credentials over plain HTTP',
    severity: 'high',
    rationale:
      'A registry that challenges for credentials without TLS makes every client send its password or token in clear text.',
    remediation: 'Close the plain-HTTP listener; credentials and tokens must only travel over TLS.',
    evaluate: (f) => {
      if (!f.plainHttp.ok) return notChecked(`plain-HTTP probe: ${f.plainHttp.note}`);
      const a = f.plainHttp.value;
      if (a.status !== 401) return PASS;
      const challenges = parseChallenges(a.challenge);
      const bearer = challenges.find((c) => c.scheme === 'bearer');
      if (bearer) {
        const realm = bearer.params.realm ?? '';
        return {
          result: 'fail',
          path: '/v2/',
          message: `http://${f.host}/v2/ asks for a Bearer token (realm ${realm || 'unnamed'}): tokens travel in clear text${realm.startsWith('http:') ? ', and so do the credentials sent to the realm' : ''}`,
        };
      }
      if (!challenges.some((c) => c.scheme === 'basic'))
        return notChecked(`http://${f.host}/v2/ answered 401 without a Basic or Bearer challenge`);
      const probe = f.plainHttpInvalidCredential;
      if (!probe) return notChecked('the invalid-credential probe did not run');
      if (!probe.ok) return notChecked(`invalid-credential probe: ${probe.note}`);
      return {
        result: 'fail',
        path: '/v2/',
        message: `http://${f.host}/v2/ challenges for Basic credentials over plain HTTP and checked a deliberately invalid one (HTTP ${probe.value.status})`,
      };
    },
  },
];
