/**
 * Name-based detection: a variable whose name says it holds a secret (`DB_PASSWORD`, `API_TOKEN`, `*_SECRET`,
 * `*_KEY`) and that has a real value. Used for the config's Env, labels, build arguments in the history, ENV/ARG in
 * Dockerfiles and `.env` files.
 */

/** Public material that carries "key" or "token" in its name but is not a secret (python images' `GPG_KEY`). */
const NOT_SECRET_NAME = /PUBLIC|PUBLISHABLE|GPG|PGP|FINGERPRINT|CHECKSUM|SHA256|_URL$|_FILE$|_PATH$|_DIR$/i;
const SECRET_NAME =
  /(?:^|_)(?:PASSWORD|PASSWD|PASS|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|SECRET_?KEY|AUTH_?KEY|KEY|CREDENTIALS?)$/i;

export function isSecretName(name: string): boolean {
  return name.length <= 200 && SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
}

const PLACEHOLDER = /^(?:true|false|yes|no|on|off|none|null|nil|undefined|0|1|-|x+|\*+|\.+)$/i;

/**
 * A value that is a secret rather than a reference to one: not empty, not a `$VAR`/`${VAR}` expansion, a
 * `<placeholder>`, a `{{ template }}`, a file path (`/run/secrets/db`), or a flag word.
 */
export function isSecretValue(value: string): boolean {
  const v = value.trim();
  if (v.length === 0 || v.length > 4096) return false;
  if (/^(?:\$|<|\{\{|%\(|\/|\.\/|~\/)/.test(v)) return false;
  return !PLACEHOLDER.test(v);
}
