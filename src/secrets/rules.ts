import type { SecretRuleMeta } from '../checks/model.js';
import { isSecretName, isSecretValue, isUrlPassword } from './names.js';
import { mask } from './redact.js';

/**
 * A secret rule: what it is (metadata for reports and docs) and how the matcher finds it. Token formats follow the
 * providers' published formats; gitleaks and Trivy were read for comparison, the expressions are our own.
 */
export interface SecretRule extends SecretRuleMeta {
  /** Case-sensitive literals: the pattern only runs near one of them (the prefilter). Empty: never run on files. */
  readonly keywords: readonly string[];
  /**
   * Confirms a match; flags `d` (indices) and `g`. The group `secret` is masked in the report; a group `show`, when
   * it matched, is reported instead of the match (a private key shows only its BEGIN line).
   */
  readonly pattern: RegExp;
  /** How far (characters) a match may start before its keyword, and end after the keyword's end. */
  readonly before: number;
  readonly after: number;
  /** Only in files whose path (no leading slash) matches; such rules read the whole of a small file. */
  readonly paths?: RegExp;
  /** False for matches that are not secrets: documentation examples, placeholders, variable references. */
  readonly accept?: (m: RegExpExecArray) => boolean;
  /** The report text when the default (the match, with the secret masked) does not fit. */
  readonly show?: (m: RegExpExecArray) => string;
  /**
   * 'medium' for rules that go by a name or a shape rather than a provider's format (secret-named variables, URL
   * passwords): findings say so, and in a credential file such a match yields to the file's own rule.
   */
  readonly confidence?: 'medium';
}

/** Secrets that vendors print in their documentation, and bodies of one repeated character (`ghp_xxxx...`). */
function realToken(m: RegExpExecArray): boolean {
  const s = m.groups?.secret ?? m[0];
  if (/EXAMPLE/.test(s)) return false;
  return new Set(s).size >= 8;
}

/** A signed JWT (header names an algorithm other than none) that is not the jwt.io example everyone copies. */
function realJwt(m: RegExpExecArray): boolean {
  const [header, payload] = (m.groups?.secret ?? '').split('.');
  try {
    const h = JSON.parse(Buffer.from(header ?? '', 'base64url').toString('utf8')) as { alg?: unknown };
    if (typeof h.alg !== 'string' || h.alg.toLowerCase() === 'none') return false;
    const p = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as { sub?: unknown; name?: unknown };
    return !(p.sub === '1234567890' && p.name === 'John Doe');
  } catch {
    return false;
  }
}

function assignment(m: RegExpExecArray): boolean {
  const name = m.groups?.name ?? '';
  const value = m.groups?.secret ?? '';
  return isSecretName(name) && isSecretValue(value);
}

let lastWindow = '';
let lastHasKey = false;
function hasPrivateKeyField(window: string): boolean {
  if (window !== lastWindow) {
    lastWindow = window;
    lastHasKey = /"private_key"\s{0,8}:\s{0,8}"-----BEGIN/.test(window);
  }
  return lastHasKey;
}

let tokenKeywords: RegExp | undefined;
/** A password that holds a token a provider rule names (`https://x:ghp_...@github.com`): that rule reports it. */
function namedByTokenRule(secret: string): boolean {
  tokenKeywords ??= new RegExp(
    SECRET_RULES.filter((r) => !r.paths && !r.confidence && r.keywords.length > 0)
      .flatMap((r) => r.keywords)
      .map((k) => k.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'))
      .join('|'),
  );
  return tokenKeywords.test(secret);
}

const credentialValue = (m: RegExpExecArray): boolean => isSecretValue(m.groups?.secret ?? '');

const CIS = { kind: 'secret', cis: '4.10' } as const;
const DOCKLE = 'CIS-DI-0010';

export const SECRET_RULES: readonly SecretRule[] = [
  {
    ...CIS,
    id: 'private-key',
    title: 'Private key',
    severity: 'critical',
    dockle: DOCKLE,
    rationale:
      'A private key in an image is readable by anyone who can pull it, from every layer it was ever added in, and lets them act as its owner.',
    remediation:
      'Remove the key from every layer (a later `rm` does not), mount it at build time with `RUN --mount=type=secret`, and rotate it.',
    keywords: ['PRIVATE KEY-----', 'PRIVATE KEY BLOCK-----', 'PuTTY-User-Key-File-'],
    // PEM (RSA, EC, DSA, PKCS#8, ENCRYPTED, OPENSSH) and OpenPGP armor, also with JSON-escaped newlines; PuTTY .ppk
    // v2 and v3. A header ends only at a line break, so a line of spaces cannot be split among headers (which took
    // exponential time).
    pattern:
      /(?<show>-----BEGIN[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----)(?:\\[rn]|\s)+(?:(?:Proc-Type|DEK-Info|Comment|Version|Hash|Charset|MessageID):[^\r\n\\]{0,200}(?:\\[rn]|[\r\n])(?:\\[rn]|\s)*)*[A-Za-z0-9+/=]{40}|(?<putty>PuTTY-User-Key-File-[23]: [A-Za-z0-9@.-]{1,40})\r?\n(?:[^\r\n]{0,128}\r?\n){0,40}?Private-Lines: \d{1,4}\r?\n[A-Za-z0-9+/=]{40}/dg,
    before: 48,
    after: 4096,
    show: (m) => m.groups?.show ?? m.groups?.putty ?? '',
  },
  {
    ...CIS,
    id: 'aws-access-key-id',
    title: 'AWS access key ID',
    severity: 'high',
    rationale: 'An AWS access key ID is half of a long-lived AWS credential; its secret key is usually close by.',
    remediation: 'Remove it from the image, deactivate the key in IAM, and give the workload a role instead.',
    keywords: ['AKIA', 'ASIA', 'ABIA', 'ACCA', 'A3T'],
    pattern: /(?<![A-Za-z0-9])(?<secret>(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?![A-Za-z0-9])/dg,
    before: 0,
    after: 20,
    accept: realToken,
  },
  {
    ...CIS,
    id: 'aws-secret-access-key',
    title: 'AWS secret access key',
    severity: 'critical',
    dockle: DOCKLE,
    rationale: 'An AWS secret access key gives whoever reads it the permissions of its IAM user.',
    remediation: 'Remove it from every layer, deactivate the key in IAM, and use a role or build secret instead.',
    keywords: ['secret_access_key', 'SECRET_ACCESS_KEY', 'SecretAccessKey', 'secretAccessKey', 'secret-access-key'],
    pattern:
      /(?<name>(?:aws[_-]?)?secret[_-]?access[_-]?key)["']?[ \t]{0,8}(?:=>|=|:)[ \t]{0,8}["']?(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/dgi,
    before: 4,
    after: 64,
    accept: realToken,
  },
  {
    ...CIS,
    id: 'gcp-service-account',
    title: 'Google Cloud service account key',
    severity: 'critical',
    rationale: 'A service account key file lets anyone act as that service account until the key is deleted.',
    remediation: 'Remove the key file, delete the key in IAM, and use workload identity or a mounted secret.',
    keywords: ['"service_account"'],
    // The key's own field may come before or after "type": looked for once per window (m.input), not per match.
    pattern: /"type"\s{0,8}:\s{0,8}"service_account"/dg,
    before: 4100,
    after: 4100,
    accept: (m) => hasPrivateKeyField(m.input),
    show: (m) => {
      const id = /"private_key_id"\s*:\s*"([0-9a-f]{16,64})"/.exec(m.input)?.[1];
      return `"type": "service_account" with a "private_key"${id ? ` (private_key_id ${mask(id)})` : ''}`;
    },
  },
  {
    ...CIS,
    id: 'azure-storage-key',
    title: 'Azure storage account key',
    severity: 'critical',
    rationale: 'A storage account key grants full access to every container, queue and table of the account.',
    remediation: 'Remove it, rotate the account key, and use a managed identity or a short-lived SAS token.',
    keywords: ['AccountKey='],
    pattern: /AccountKey=(?<secret>[A-Za-z0-9+/]{86}==)/dg,
    before: 0,
    after: 90,
    accept: realToken,
  },
  {
    ...CIS,
    id: 'github-token',
    title: 'GitHub token',
    severity: 'critical',
    rationale: 'A GitHub token acts with its owner\u2019s access to repositories, packages and workflows.',
    remediation: 'Revoke the token on GitHub, remove it from the image, and pass tokens as build secrets.',
    keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
    pattern:
      /(?<![A-Za-z0-9_])(?<secret>gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?![A-Za-z0-9_])/dg,
    before: 0,
    after: 90,
    accept: realToken,
  },
  {
    ...CIS,
    id: 'gitlab-token',
    title: 'GitLab personal access token',
    severity: 'critical',
    rationale: 'A GitLab personal access token acts with its owner\u2019s access to projects and registries.',
    remediation: 'Revoke the token in GitLab, remove it from the image, and pass tokens as build secrets.',
    keywords: ['glpat-'],
    pattern:
      /(?<![A-Za-z0-9_-])(?<secret>glpat-[A-Za-z0-9_-]{20,300}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,9})?)(?![A-Za-z0-9_-])/dg,
    before: 0,
    after: 320,
    accept: realToken,
  },
  {
    ...CIS,
    id: 'npm-token',
    title: 'npm access token',
    severity: 'high',
    rationale: 'An npm token can publish packages as its owner: a supply-chain attack waiting to happen.',
    remediation: 'Revoke the token (`npm token revoke`), remove it, and use a build secret for installs.',
    keywords: ['npm_'],
    pattern: /(?<![A-Za-z0-9_])(?<secret>npm_[A-Za-z0-9]{36})(?![A-Za-z0-9_])/dg,
    before: 0,
    after: 40,
    accept: realToken,
  },
  {
    ...CIS,
    id: 'pypi-token',
    title: 'PyPI API token',
    severity: 'high',
    rationale: 'A PyPI token can upload releases of its projects: a supply-chain attack waiting to happen.',
    remediation: 'Delete the token on PyPI, remove it from the image, and use trusted publishing or a build secret.',
    keywords: ['pypi-AgEIcHlwaS5vcmc'],
    pattern: /(?<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000})/dg,
    before: 0,
    after: 1010,
    accept: realToken,
  },
  {
    ...CIS,
    id: 'slack-token',
    title: 'Slack token',
    severity: 'high',
    rationale: 'A Slack bot or user token reads and posts in the workspace as its app or user.',
    remediation: 'Revoke the token in the Slack app settings and remove it from the image.',
    // Bot, user, app-level (xapp-) and rotating refresh/access tokens (xoxe-, xoxe.xoxp-).
    keywords: ['xoxb-', 'xoxa-', 'xoxp-', 'xoxr-', 'xoxs-', 'xapp-', 'xoxe-', 'xoxe.'],
    pattern:
      /(?<![A-Za-z0-9_.-])(?<secret>(?:xox[abprs]-[0-9]{6,16}|(?:xoxe(?:\.xox[bp])?|xapp)-[0-9]{1,16})-[A-Za-z0-9-]{10,250})(?![A-Za-z0-9-])/dg,
    before: 0,
    after: 280,
    accept: realToken,
  },
  {
    ...CIS,
    id: 'slack-webhook',
    title: 'Slack incoming webhook URL',
    severity: 'medium',
    rationale: 'Anyone with an incoming webhook URL can post messages into its channel.',
    remediation: 'Regenerate the webhook in Slack and keep the URL in a runtime secret.',
    keywords: ['hooks.slack.com/'],
    pattern: /https?:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/(?<secret>[A-Za-z0-9_/+-]{30,200})/dg,
    before: 8,
    after: 220,
    accept: realToken,
  },
  {
    ...CIS,
    id: 'stripe-key',
    title: 'Stripe live secret key',
    severity: 'critical',
    rationale: 'A live Stripe secret or restricted key can move money and read customer data.',
    remediation: 'Roll the key in the Stripe dashboard and keep it in a runtime secret.',
    keywords: ['sk_live_', 'rk_live_'],
    pattern: /(?<![A-Za-z0-9_])(?<secret>[sr]k_live_[A-Za-z0-9]{20,247})(?![A-Za-z0-9])/dg,
    before: 0,
    after: 250,
    accept: realToken,
  },
  {
    ...CIS,
    id: 'google-api-key',
    title: 'Google API key',
    severity: 'medium',
    rationale: 'A Google API key bills its project for whatever APIs it is allowed to call.',
    remediation: 'Delete or restrict the key in the Google Cloud console and remove it from the image.',
    keywords: ['AIza'],
    pattern: /(?<![A-Za-z0-9_-])(?<secret>AIza[A-Za-z0-9_-]{35})(?![A-Za-z0-9_-])/dg,
    before: 0,
    after: 40,
    accept: realToken,
  },
  {
    ...CIS,
    id: 'url-credentials',
    title: 'Password in a URL',
    severity: 'high',
    rationale:
      'A URL with `user:password@` (a database DSN, a Git remote, a proxy) carries the password to whoever reads the file, variable or history.',
    remediation:
      'Take the password out of the URL, pass it at run time (a mounted secret, a separate variable from a secret store), and rotate it.',
    keywords: ['://'],
    pattern:
      // The password may hold an unescaped @: as URL parsers do, the host follows the last one.
      /(?<![A-Za-z0-9+.-])(?<name>[A-Za-z][A-Za-z0-9+.-]{0,30}:\/\/(?<user>[^\s:@/?#"'`<>\\]{0,200}):)(?<secret>[^\s/?#"'`<>\\]{1,300})@(?<host>[A-Za-z0-9._-]{1,253})/dg,
    before: 32,
    after: 760,
    accept: (m) =>
      isUrlPassword(m.groups?.user ?? '', m.groups?.secret ?? '', m.groups?.host ?? '') &&
      !namedByTokenRule(m.groups?.secret ?? ''),
    show: (m) => {
      const user = m.groups?.user ?? '';
      const name = m.groups?.name ?? '';
      // Some providers take a token as the user name (`https://ghp_...:x-oauth-basic@github.com`): mask it too.
      const shownUser = namedByTokenRule(user) || (user.length >= 20 && /\d/.test(user) && /[A-Za-z]/.test(user));
      return `${name.slice(0, name.length - user.length - 1)}${shownUser ? mask(user) : user}:${mask(m.groups?.secret ?? '')}@${m.groups?.host ?? ''}`;
    },
    confidence: 'medium',
  },
  {
    ...CIS,
    id: 'npmrc-auth',
    title: 'npm registry credentials in .npmrc',
    severity: 'high',
    dockle: DOCKLE,
    rationale: 'An .npmrc left in an image carries the registry token or password used to build it.',
    remediation:
      'Use `RUN --mount=type=secret,id=npmrc,target=/root/.npmrc` instead of copying the file, and rotate the token.',
    keywords: ['_auth', '_password'],
    pattern:
      /^[ \t]*(?<name>(?:\/\/[^\s=]{0,300}:)?_(?:authToken|auth|password))[ \t]*=[ \t]*["']?(?<secret>[^\s"'#;]+)/dgm,
    before: 0,
    after: 0,
    paths: /(?:^|\/)\.?npmrc$/,
    accept: credentialValue,
  },
  {
    ...CIS,
    id: 'pypirc-password',
    title: 'Package index password in .pypirc',
    severity: 'high',
    dockle: DOCKLE,
    rationale: 'A .pypirc with a password or token lets anyone who pulls the image upload to that index.',
    remediation: 'Remove the file, rotate the password or token, and pass it as a build secret.',
    keywords: ['password', 'Password', 'PASSWORD'],
    pattern: /^[ \t]*(?<name>password)[ \t]*[=:][ \t]*(?<secret>[^\s#;]+)/dgim,
    before: 0,
    after: 0,
    paths: /(?:^|\/)\.pypirc$/,
    accept: credentialValue,
  },
  {
    ...CIS,
    id: 'docker-config-auth',
    title: 'Registry credentials in a Docker config',
    severity: 'high',
    dockle: DOCKLE,
    rationale: 'The `auth` of a Docker config.json is a base64 user:password for the registry it names.',
    remediation:
      'Remove the file, log out (`docker logout`), rotate the password, and mount credentials at build time.',
    keywords: ['"auth"', '"identitytoken"'],
    pattern: /"(?<name>auth|identitytoken)"\s{0,8}:\s{0,8}"(?<secret>[A-Za-z0-9+/=._-]{8,})"/dg,
    before: 0,
    after: 0,
    paths: /(?:^|\/)\.docker\/config\.json$|(?:^|\/)\.dockercfg$|(?:^|\/)containers\/auth\.json$/,
    accept: credentialValue,
  },
  {
    ...CIS,
    id: 'git-credentials',
    title: 'Stored Git credentials',
    severity: 'high',
    dockle: DOCKLE,
    rationale: 'Git\u2019s credential store keeps passwords and tokens in plain text, one URL per line.',
    remediation: 'Remove the file, rotate the password or token, and use a build secret for private clones.',
    keywords: ['://'],
    pattern: /^(?<name>[a-z][a-z0-9+.-]{0,20}:\/\/[^:@\s/]{1,200}:)(?<secret>[^@\s]{1,1000})@(?<host>[^\s/]{1,300})/dgm,
    before: 0,
    after: 0,
    paths: /(?:^|\/)\.git-credentials$|(?:^|\/)\.config\/git\/credentials$/,
    accept: credentialValue,
  },
  {
    ...CIS,
    id: 'kubeconfig-credentials',
    title: 'Kubernetes credentials in a kubeconfig',
    severity: 'critical',
    dockle: DOCKLE,
    rationale:
      'A kubeconfig with a client key, a token or a password lets whoever pulls the image act on the cluster as that user; CI images should hold no cluster credentials at all.',
    remediation:
      'Remove the kubeconfig from every layer, revoke the credential (rotate the token, re-issue the client certificate), and keep cluster access out of build and CI images.',
    keywords: ['client-key-data', 'token', 'password'],
    pattern: /^[ \t]*(?:-[ \t]+)?(?<name>client-key-data|token|password)[ \t]*:[ \t]*["']?(?<secret>[^\s"'#]{8,})/dgm,
    before: 0,
    after: 0,
    paths: /(?:^|\/)\.kube\/config$|(?:^|\/)kubeconfig(?:\.ya?ml)?$|(?:^|\/)etc\/kubernetes\/[a-z-]+\.conf$/,
    accept: credentialValue,
  },
  {
    ...CIS,
    id: 'netrc-password',
    title: 'Password in a .netrc or apt auth file',
    severity: 'high',
    dockle: DOCKLE,
    rationale: 'A .netrc (read by curl, git, ftp, pip) or apt auth.conf keeps a password per host in plain text.',
    remediation: 'Remove the file, rotate the password, and pass credentials as a build secret.',
    keywords: ['password'],
    pattern: /(?:^|[ \t])(?<name>password)[ \t]+(?<secret>[^\s]+)/dgm,
    before: 0,
    after: 0,
    paths: /(?:^|\/)[._]netrc$|(?:^|\/)etc\/apt\/auth\.conf(?:\.d\/[^/]+)?$/,
    accept: credentialValue,
  },
  {
    ...CIS,
    id: 'private-key-base64',
    title: 'Base64-encoded private key',
    severity: 'critical',
    dockle: DOCKLE,
    rationale:
      'A PEM private key in base64 (a kubeconfig client-key-data, a Kubernetes Secret, a Helm value, a CI variable dump) is as usable as the key itself.',
    remediation:
      'Remove it from every layer, rotate the key, and mount it at run time (a Secret volume, `RUN --mount=type=secret`).',
    // base64 of `-----BEGIN` at the start of the encoded text.
    keywords: ['LS0tLS1CRUdJTi'],
    pattern: /(?<![A-Za-z0-9+/])(?<secret>LS0tLS1CRUdJTi[A-Za-z0-9+/]{40,8000}={0,2})/dg,
    before: 0,
    after: 8100,
    accept: (m) => {
      const head = Buffer.from((m.groups?.secret ?? '').slice(0, 64), 'base64').toString('latin1');
      return /^-----BEGIN[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----/.test(head);
    },
    show: (m) => {
      const head = Buffer.from((m.groups?.secret ?? '').slice(0, 64), 'base64').toString('latin1');
      return `base64 of ${/^-----BEGIN[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----/.exec(head)?.[0] ?? 'a private key'}`;
    },
  },
  {
    ...CIS,
    id: 'jwt',
    title: 'JSON Web Token',
    severity: 'high',
    rationale:
      'A JWT is a bearer credential: until it expires, anyone holding it is whoever it was issued to (service-account tokens, API sessions).',
    remediation:
      'Remove it from the image, revoke it where the issuer allows (rotate the signing key otherwise), and fetch tokens at run time.',
    keywords: ['eyJ'],
    pattern:
      /(?<![A-Za-z0-9_-])(?<secret>eyJ[A-Za-z0-9_-]{10,2000}\.eyJ[A-Za-z0-9_-]{10,8000}\.[A-Za-z0-9_-]{16,1000})(?![A-Za-z0-9_-])/dg,
    before: 0,
    after: 11100,
    accept: realJwt,
    confidence: 'medium',
  },
  {
    ...CIS,
    id: 'dotenv-secret',
    title: 'Secret in a .env file',
    severity: 'high',
    dockle: DOCKLE,
    rationale: 'A .env file copied into an image ships the passwords, tokens and keys it sets.',
    remediation: 'Keep .env files out of the build context (.dockerignore) and pass secrets at run time.',
    keywords: ['='],
    pattern: /^[ \t]*(?:export[ \t]+)?(?<name>[A-Za-z_][A-Za-z0-9_.]{0,200})[ \t]*=[ \t]*["']?(?<secret>[^\s"'#]+)/dgm,
    before: 0,
    after: 0,
    // .env, .env.production.local, and compose's env_file names (db.env); not the examples.
    paths:
      /(?:^|\/)(?:\.env(?:\.[A-Za-z0-9_.-]*[A-Za-z0-9_-])?|(?!(?:example|sample|template|defaults?)\.)[A-Za-z0-9_-][A-Za-z0-9_.-]*\.env)(?<!\.(?:example|sample|template|dist|defaults?))$/i,
    accept: assignment,
    confidence: 'medium',
  },
  {
    ...CIS,
    id: 'env-secret',
    title: 'Secret in an environment variable or build argument',
    severity: 'high',
    dockle: DOCKLE,
    rationale:
      'Environment variables and build arguments are stored in the image config and history, readable by anyone who pulls the image.',
    remediation:
      'Pass the secret at run time (orchestrator secrets, mounted files) or as a build secret, never as ENV or ARG.',
    keywords: [],
    pattern: /(?<![A-Za-z0-9_])(?<name>[A-Za-z_][A-Za-z0-9_]{0,200})=["']?(?<secret>[^\s"';&|]+)/dg,
    before: 0,
    after: 0,
    accept: assignment,
    confidence: 'medium',
  },
];

/** The rule with this id; unknown ids are a bug. */
export function secretRule(id: string): SecretRule {
  const r = SECRET_RULES.find((x) => x.id === id);
  if (!r) throw new Error(`no secret rule ${id}`);
  return r;
}

/** `env-secret` for `ENV NAME value`, the one-variable form without `=` (Dockerfiles, and history ENV steps). */
export const ENV_SPACE_RULE: SecretRule = {
  ...secretRule('env-secret'),
  pattern: /(?:^[ \t]*|#\(nop\)[ \t]+)ENV[ \t]+(?<name>[A-Za-z_][A-Za-z0-9_]{0,200})[ \t]+["']?(?<secret>[^\s"']+)/dgim,
};
