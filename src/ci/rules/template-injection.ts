import { attackerPaths, contextPaths, extractExpressions } from '../github/expressions.js';
import { COMMENTER_GUARD, jobGuard, jobRunsFor, PRIVILEGED_EVENTS, privileges } from '../github/reach.js';
import type { Located } from '../model.js';
import { type CiHit, type CiRule, posIn } from '../rule.js';

/**
 * Inputs of actions that are code (the action runs them as a script or command): the sinks CodeQL's and zizmor's
 * template-injection queries list.
 */
const CODE_INPUTS: Readonly<Record<string, string>> = {
  'actions/github-script': 'script',
  'nick-fields/retry': 'command',
  'azure/cli': 'inlinescript',
  'azure/powershell': 'inlinescript',
  'appleboy/ssh-action': 'script',
  'addnab/docker-run-action': 'run',
  'mikefarah/yq': 'cmd',
  'amadevus/pwsh-script': 'script',
  'jannekem/run-python-script-action': 'script',
  'cardinalby/js-eval-action': 'expression',
};

/**
 * ref: zizmor's template-injection audit (docs.zizmor.sh/audits/#template-injection); GitHub's security hardening
 * guide, "Understanding the risk of script injections". Values passed through `env:` and read as $VAR are data to
 * the shell, so `env:` is never a sink here.
 */
export const templateInjection: CiRule = {
  id: 'template-injection',
  title: 'Attacker-controlled context expanded into a script',
  severity: 'high',
  confidence: 'high',
  platforms: ['github'],
  rationale:
    // biome-ignore lint/suspicious/noTemplateCurlyInString: GitHub's expression syntax, not a JavaScript template
    "GitHub substitutes ${{ }} expressions into the script text before the shell runs it, so a pull request title, branch name, issue or comment body or commit message containing shell syntax becomes code, running with the job's token and secrets.",
  remediation:
    // biome-ignore lint/suspicious/noTemplateCurlyInString: GitHub's expression syntax, not a JavaScript template
    'Pass the value through an environment variable (env: TITLE: ${{ github.event.issue.title }}) and use "$TITLE" in the script, quoted; in github-script read it from context.payload or process.env.',
  check(w, ctx) {
    const events = ctx.repo.events(w);
    const tainted = ctx.repo.taintedInputs(w);
    const hits: CiHit[] = [];
    for (const job of w.jobs) {
      const privileged = [...events].some((e) => PRIVILEGED_EVENTS.has(e) && jobRunsFor(job, e));
      const jobGuarded = jobGuard(w, job);
      const holds = (): string => {
        const p = privileges(w, job);
        return p.what.length ? `holding ${p.what.join('; ')}` : 'with a read-only token and no secrets';
      };
      for (const step of job.steps) {
        const sinks: { where: string; l: Located }[] = [];
        if (step.run) sinks.push({ where: 'run', l: step.run });
        const uses = (step.uses?.value ?? '').replace(/@.*/, '').toLowerCase();
        const input = Object.hasOwn(CODE_INPUTS, uses) ? CODE_INPUTS[uses] : undefined;
        // Input names are case-insensitive (azure/cli documents inlineScript).
        const key = input === undefined ? undefined : Object.keys(step.with).find((k) => k.toLowerCase() === input);
        const code = key === undefined ? undefined : step.with[key];
        if (key && code) sinks.push({ where: `with.${key} of ${uses}`, l: code });
        for (const { where, l } of sinks) {
          for (const e of extractExpressions(l.value)) {
            const seen = new Set<string>();
            // Inputs a local caller fills from attacker-controlled context are attacker-controlled here too.
            const viaInputs = contextPaths(e.inner).flatMap((path) => {
              const from = /^inputs\.([\w-]+)$/.exec(path) ? tainted.get(path.slice(7).toLowerCase()) : undefined;
              return from ? [{ path: `${path}, filled with ${from},`, control: 'field' as const }] : [];
            });
            for (const a of [...attackerPaths(e.inner), ...viaInputs]) {
              if (seen.has(a.path)) continue;
              seen.add(a.path);
              // A comment's or review's text is its writer's: only a guard on that writer vouches for it.
              const guard =
                jobGuarded &&
                /^github\.event\.(comment|review|review_comment)\./.test(a.path) &&
                jobGuarded !== COMMENTER_GUARD
                  ? undefined
                  : jobGuarded;
              const severity = privileged && !guard ? 'high' : 'medium';
              hits.push({
                pos: posIn(l, e.start),
                severity,
                confidence: a.control === 'field' && !guard ? 'high' : 'medium',
                message: `job ${job.id}, step ${step.name ?? step.id ?? step.index + 1}: ${a.path} is expanded into ${where}${
                  a.control === 'object' ? ' (an object that holds attacker-controlled fields)' : ''
                }${privileged ? ` in a workflow an outsider triggers, ${holds()}` : ''}${guard ? ` (the job is guarded: ${guard})` : ''}`,
              });
            }
          }
        }
      }
    }
    return hits;
  },
};
