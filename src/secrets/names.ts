/**
 * Name-based detection: a variable whose name says it holds a secret (`DB_PASSWORD`, `API_TOKEN`, `*_SECRET`,
 * `SECRET_KEY`) and that has a real value. Used for the config's Env, labels, build arguments in the history, ENV/ARG
 * in Dockerfiles and `.env` files. A bare `*_KEY` is not enough: `CACHE_KEY`, `PRIMARY_KEY`, `SORT_KEY` are not secrets.
 */

/**
 * Public material that carries "key" or "token" in its name but is not a secret (python images' `GPG_KEY`), as whole
 * parts of the name (`PGPASSWORD`, `PUBLICATION_TOKEN` are secrets); and names of where a secret is, not the secret.
 * A password's or private key's name is never public material (`GPG_PASSPHRASE`, `GPG_PRIVATE_KEY`).
 */
const PUBLIC_MATERIAL = /(?:^|_)(?:PUBLIC|PUBLISHABLE|GPG|PGP|FINGERPRINT|CHECKSUM|SHA256)(?:_|$)/i;
const PASSWORD_NAME = /(?:PASSWORD|PASSWD|PASSPHRASE|(?:^|_)PASS|_PWD)$/i;
const PRIVATE_NAME = /(?:^|_)(?:PRIVATE|SECRET)(?:_|$)/i;
const NOT_SECRET_NAME = /_URL$|_FILE$|_PATH$|_DIR$/i;
const SECRET_NAME = new RegExp(
  [
    '(?:PASSWORD|PASSWD|PASSPHRASE)$',
    '(?:^|_)(?:PASS|SECRET|TOKEN|CREDENTIALS?)$',
    '_PWD$',
    '(?:^|_)(?:API|SECRET|PRIVATE|ACCESS|AUTH|ENCRYPTION|SIGNING|MASTER|LICENSE)_?KEY$',
    '(?:^|_)SECRET_?KEY_?BASE$',
  ].join('|'),
  'i',
);

export function isSecretName(raw: string): boolean {
  // Label keys are dotted and dashed (`org.acme.deploy-token`): read those separators as underscores.
  const name = raw.replace(/[.-]/g, '_');
  if (name.length > 200 || !SECRET_NAME.test(name) || NOT_SECRET_NAME.test(name)) return false;
  return PASSWORD_NAME.test(name) || PRIVATE_NAME.test(name) || !PUBLIC_MATERIAL.test(name);
}

const PLACEHOLDER =
  /^(?:true|false|yes|no|on|off|none|null|nil|undefined|0|1|-|x+|\*+|\.+|placeholder|redacted|replace[-_]?me|todo|tbd|(?:your|my)[-_ ]?[a-z_ -]{0,40}[-_ ]here)$/i;

/**
 * A value that is a secret rather than a reference to one: not empty, not a `$VAR`/`${VAR}` expansion, a
 * `<placeholder>`, a `{{ template }}`, a file path (`/run/secrets/db`), a flag word, or a placeholder word
 * (`your-api-key-here`, `replace-me`). Weak defaults (`changeme`, `password`) are real values an image ships: reported.
 */
export function isSecretValue(value: string): boolean {
  const v = value.trim();
  if (v.length === 0 || v.length > 4096) return false;
  if (/^(?:\$|<|\{\{|%\(|\/|\.\/|~\/)/.test(v)) return false;
  return !PLACEHOLDER.test(v);
}

/** The password of a URL that is a documentation placeholder: `password`, `<password>`, `${DB_PASS}`, `{pw}`, `%s`. */
const URL_PLACEHOLDER =
  /^(?:(?:my|your)[_-]?)?(?:pass(?:word|wd)?|pwd|pw|secret|token|api[_-]?key|key)$|^[[{(<]|^%s$|^\$/i;

/** A `user:password@host` password with a real value: not a placeholder, not a reference, not empty. */
export function isUrlPassword(user: string, password: string, host: string): boolean {
  // Shorter ones are documentation (`a:b@`, `foo:bar@`); the user's name again is a well-known default (`guest:guest`).
  if (password.length < 4 || password.toLowerCase() === user.toLowerCase()) return false;
  if (!isSecretValue(password) || URL_PLACEHOLDER.test(password)) return false;
  if (/^scott$/i.test(user) && /^tiger$/i.test(password)) return false; // Oracle's demo account, in docstrings
  // Reserved for documentation (RFC 2606): no real credential points there.
  return !/(?:^|\.)example(?:\.(?:com|org|net))?$|\.invalid$/i.test(host);
}
