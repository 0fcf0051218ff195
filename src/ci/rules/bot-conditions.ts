import { jobRunsFor } from '../github/reach.js';
import type { Located } from '../model.js';
import type { CiHit, CiRule } from '../rule.js';

/** Triggers an outsider can cause, with how much a spoofed bot check gives away there. */
const OUTSIDER_TRIGGERS: Readonly<Record<string, 'high' | 'medium'>> = {
  pull_request_target: 'high',
  workflow_run: 'high',
  issue_comment: 'medium',
  pull_request_review: 'medium',
  pull_request_review_comment: 'medium',
  pull_request: 'medium',
};

/** Who caused the event, as a workflow can read it: not who wrote the code it runs. */
const ACTOR = String.raw`github\.(?:actor|triggering_actor|event\.sender\.login)`;
/** A bot account's login: `name[bot]`. */
const BOT = String.raw`'[^']*\[bot\]'`;
/** The actor compared equal to a bot (either side), starting with or holding a bot's name, or in a list of bots. */
const ACTOR_IS_BOT = new RegExp(
  String.raw`(?:${ACTOR}\s*==\s*${BOT}|${BOT}\s*==\s*${ACTOR}|startsWith\(\s*${ACTOR}\s*,\s*'[^']*bot[^']*'\s*\)|contains\(\s*${ACTOR}\s*,\s*'[^']*bot[^']*'\s*\)|contains\(\s*fromJSON\('[^']*\[bot\][^']*'\)\s*,\s*${ACTOR}\s*\))`,
  'i',
);

function botCheck(cond: Located | undefined): string | undefined {
  const m = cond ? ACTOR_IS_BOT.exec(cond.value) : null;
  return m ? m[0].replace(/\s+/g, ' ') : undefined;
}

/**
 * ref: zizmor's bot-conditions audit (docs.zizmor.sh/audits/#bot-conditions). `github.actor` is whoever caused the
 * event, not who wrote the pull request: an outsider can have Dependabot act on their fork's branch (a rebase, a
 * recreate), and the event then arrives with the bot as actor and the outsider's code. The pull request's author
 * (`github.event.pull_request.user.login`) names who wrote it; a login ending in `[bot]` cannot be taken by a person.
 */
export const botConditions: CiRule = {
  id: 'bot-conditions',
  title: 'Condition trusts a bot by the event actor, which outsiders can steer',
  severity: 'high',
  confidence: 'medium',
  platforms: ['github'],
  rationale:
    "github.actor (and triggering_actor, event.sender) is whoever caused the event, not who wrote the code: an outsider can make Dependabot or another bot act on their pull request's branch, and the check then admits the outsider's code with the privileges meant for the bot.",
  remediation:
    "Check the pull request's author instead (`github.event.pull_request.user.login == 'dependabot[bot]'`), and for workflow_run the triggering run's head repository; keep privileged steps out of jobs that run the pull request's code.",
  check(w) {
    if (w.kind !== 'workflow') return [];
    const events = w.triggers.map((t) => t.event).filter((e) => OUTSIDER_TRIGGERS[e] !== undefined);
    if (events.length === 0) return [];
    const hits: CiHit[] = [];
    for (const job of w.jobs) {
      const reached = events.filter((e) => jobRunsFor(job, e));
      if (reached.length === 0) continue;
      const severity = reached.some((e) => OUTSIDER_TRIGGERS[e] === 'high') ? 'high' : 'medium';
      const on = reached.join(', ');
      const check = botCheck(job.if);
      if (check && job.if) {
        hits.push({
          pos: job.if.pos,
          severity,
          job: job.id,
          message: `job ${job.id} runs on ${on} when ${check}: the actor is whoever caused the event, which an outsider can make a bot`,
        });
      }
      for (const s of job.steps) {
        const stepCheck = botCheck(s.if);
        if (!stepCheck || !s.if) continue;
        hits.push({
          pos: s.if.pos,
          severity,
          job: job.id,
          message: `job ${job.id}, step ${s.name ?? s.id ?? s.index + 1} runs on ${on} when ${stepCheck}: the actor is whoever caused the event, which an outsider can make a bot`,
        });
      }
    }
    return hits;
  },
};
