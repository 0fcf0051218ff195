import { attackerPaths, extractExpressions } from '../github/expressions.js';
import { jobGuard, jobRunsFor, PRIVILEGED_EVENTS } from '../github/reach.js';
import type { Located } from '../model.js';
import { type CiHit, type CiRule, posIn } from '../rule.js';

/** Inputs of actions that are code (the action evaluates them): github-script's `script`. */
const CODE_INPUTS: Readonly<Record<string, string>> = { 'actions/github-script': 'script' };

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
    const hits: CiHit[] = [];
    for (const job of w.jobs) {
      const privileged = [...events].some((e) => PRIVILEGED_EVENTS.has(e) && jobRunsFor(job, e));
      const guard = jobGuard(w, job);
      for (const step of job.steps) {
        const sinks: { where: string; l: Located }[] = [];
        if (step.run) sinks.push({ where: 'run', l: step.run });
        const uses = (step.uses?.value ?? '').replace(/@.*/, '').toLowerCase();
        const input = CODE_INPUTS[uses];
        const code = input ? step.with[input] : undefined;
        if (input && code) sinks.push({ where: `with.${input} of ${uses}`, l: code });
        for (const { where, l } of sinks) {
          for (const e of extractExpressions(l.value)) {
            const seen = new Set<string>();
            for (const a of attackerPaths(e.inner)) {
              if (seen.has(a.path)) continue;
              seen.add(a.path);
              const severity = privileged && !guard ? 'high' : 'medium';
              hits.push({
                pos: posIn(l, e.start),
                severity,
                confidence: a.control === 'field' && !guard ? 'high' : 'medium',
                message: `job ${job.id}, step ${step.name ?? step.id ?? step.index + 1}: ${a.path} is expanded into ${where}${
                  a.control === 'object' ? ' (an object that holds attacker-controlled fields)' : ''
                }${privileged ? ' in a workflow that runs with secrets for outsiders' : ''}${guard ? ` (the job is guarded: ${guard})` : ''}`,
              });
            }
          }
        }
      }
    }
    return hits;
  },
};
