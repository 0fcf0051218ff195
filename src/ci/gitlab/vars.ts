/**
 * CI/CD variables a GitLab job reads (`$NAME`, `${NAME}`, `%NAME%`), and which of them look like credentials. Whether a
 * project variable is masked, protected or scoped to an environment is a project setting: it cannot be seen here.
 * ref: https://docs.gitlab.com/ci/variables/
 */
import type { Job, Located, Workflow } from '../model.js';

const REF = /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?|%([A-Za-z_][A-Za-z0-9_]*)%/g;

/** The variable names a text references, with where each starts. */
export function variableRefs(text: string): { name: string; offset: number }[] {
  const out: { name: string; offset: number }[] = [];
  for (const m of text.matchAll(REF)) out.push({ name: (m[1] ?? m[2]) as string, offset: m.index ?? 0 });
  return out;
}

/** Predefined variables that hold a credential (the job token, or what is made from it). */
const PREDEFINED_CREDENTIALS = new Set([
  'CI_JOB_TOKEN',
  'CI_REGISTRY_PASSWORD',
  'CI_DEPENDENCY_PROXY_PASSWORD',
  'CI_DEPLOY_PASSWORD',
]);

const CREDENTIAL_NAME =
  /(TOKEN|SECRET|PASSWORD|PASSWD|_PASS$|^PASS|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|SIGNING_?KEY|CREDENTIAL|KUBE_?CONFIG|_AUTH$|AUTH_?CONFIG|_PAT$)/i;

/**
 * A credential by its name: predefined token variables, and names that say token, secret, password, key or
 * credentials. Other predefined `CI_`/`GITLAB_` variables are not secrets.
 */
export function credentialName(name: string): boolean {
  if (PREDEFINED_CREDENTIALS.has(name)) return true;
  if (/^(CI|GITLAB)_/.test(name)) return false;
  return CREDENTIAL_NAME.test(name);
}

/**
 * The credential-like variables a job reads that the configuration does not set to a plain value itself (a value
 * written in the file is no secret): each with the first place it is read.
 */
export function credentialsRead(w: Workflow, job: Job): { name: string; at: Located }[] {
  const defined = new Set<string>();
  for (const vars of [w.env, job.env])
    for (const [k, l] of Object.entries(vars)) if (!/[$%]/.test(l.value) && l.value !== '') defined.add(k);
  const found = new Map<string, Located>();
  const look = (l: Located): void => {
    for (const r of variableRefs(l.value))
      if (!found.has(r.name) && !defined.has(r.name) && credentialName(r.name)) found.set(r.name, l);
  };
  for (const s of job.steps) if (s.run) look(s.run);
  // Global variables reach every job (`inherit: variables:` is not read).
  for (const l of [...Object.values(job.env), ...Object.values(w.env)]) look(l);
  return [...found].map(([name, at]) => ({ name, at }));
}
