import { attackerPaths, extractExpressions } from '../github/expressions.js';
import { jobGuard, jobRunsFor, PRIVILEGED_EVENTS } from '../github/reach.js';
import type { Located } from '../model.js';
import { type CiHit, type CiRule, ENV_WRITE, posIn, scriptLines } from '../rule.js';

/** Branch and ref names: git forbids newlines (and spaces) in them, so they cannot set another variable. */
const SINGLE_LINE = /(?:head_ref|\.ref|head_branch|\.label)$/;

/** Attacker-controlled context that may hold a newline, in one expression. */
function multiLine(inner: string): string | undefined {
  return attackerPaths(inner).find((p) => !SINGLE_LINE.test(p.path))?.path;
}

/** The attacker-controlled context a text names with `${{ }}`, or through an environment variable set to one. */
function attackerData(text: string, tainted: ReadonlyMap<string, string>): string | undefined {
  for (const e of extractExpressions(text)) {
    const p = multiLine(e.inner);
    if (p) return p;
  }
  for (const [name, path] of tainted) if (new RegExp(`\\$\\{?${name}\\b`).test(text)) return `${path} (as $${name})`;
  return undefined;
}

/**
 * ref: zizmor's github-env audit (docs.zizmor.sh/audits/#github-env); GitHub Security Lab on environment variable
 * injection. Writing attacker-controlled text to $GITHUB_ENV or $GITHUB_PATH in a privileged job lets a newline in it
 * set any variable (NODE_OPTIONS, LD_PRELOAD, BASH_ENV) or put a directory first on PATH for every later step.
 */
export const githubEnv: CiRule = {
  id: 'github-env',
  title: 'Attacker-controlled text written to $GITHUB_ENV or $GITHUB_PATH',
  severity: 'high',
  confidence: 'high',
  platforms: ['github'],
  rationale:
    'Every later step of the job reads $GITHUB_ENV and $GITHUB_PATH: text an outsider chooses (a comment, a title, a branch name) written there can carry a newline and set NODE_OPTIONS, LD_PRELOAD or BASH_ENV, or put their directory first on PATH, and so run their code with the job\u2019s token and secrets. Delimiters do not help: the text can contain the delimiter.',
  remediation:
    'Do not write outsider-controlled text to $GITHUB_ENV or $GITHUB_PATH; pass it to the steps that need it as a step output or through `env:`, where it stays data, and validate it (a number, a fixed pattern) first.',
  check(w, ctx) {
    const events = ctx.repo.events(w);
    const hits: CiHit[] = [];
    for (const job of w.jobs) {
      const privileged = [...events].filter((e) => PRIVILEGED_EVENTS.has(e) && jobRunsFor(job, e));
      if (privileged.length === 0 || jobGuard(w, job)) continue;
      for (const step of job.steps) {
        if (!step.run || !ENV_WRITE.test(step.run.value)) continue;
        const tainted = taintedEnv({ ...w.env, ...job.env, ...step.env });
        const lines = scriptLines(step.run.value);
        const writes = lines.filter((l) => ENV_WRITE.test(l.text));
        // The same line: certain. Elsewhere in the script (a heredoc built over lines): likely.
        const direct = writes.map((l) => ({ l, data: attackerData(l.text, tainted) })).find((x) => x.data);
        const anywhere = direct ? undefined : attackerData(step.run.value, tainted);
        const data = direct?.data ?? anywhere;
        if (!data) continue;
        const line = direct?.l ?? writes[0];
        hits.push({
          pos: posIn(step.run, line?.offset ?? 0),
          confidence: direct ? 'high' : 'medium',
          message: `on.${privileged[0]}: job ${job.id}, step ${step.name ?? step.id ?? step.index + 1} writes ${data} to $${ENV_WRITE.exec(line?.text ?? step.run.value)?.[1] ?? 'GITHUB_ENV'}: a newline in it sets any variable for every later step`,
        });
      }
    }
    return hits;
  },
};

/** Environment variables (`env:` of the workflow, job and step) set from attacker-controlled context. */
function taintedEnv(env: Readonly<Record<string, Located>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, l] of Object.entries(env)) {
    const path = extractExpressions(l.value)
      .map((e) => multiLine(e.inner))
      .find(Boolean);
    if (path && /^[A-Za-z_]\w*$/.test(name)) out.set(name, path);
  }
  return out;
}
