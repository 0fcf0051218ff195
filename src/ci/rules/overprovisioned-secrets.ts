import { extractExpressions } from '../github/expressions.js';
import type { Located } from '../model.js';
import { type CiHit, type CiRule, posIn } from '../rule.js';

/** The whole secrets context, or one secret chosen at run time: every secret is put where one is needed. */
const WHOLE = /\btoJSON\s*\(\s*secrets\s*\)/i;
const DYNAMIC = /\bsecrets\s*\[(?!\s*'[^']*'\s*\])/i;

/** ref: zizmor's overprovisioned-secrets audit (docs.zizmor.sh/audits/#overprovisioned-secrets). */
export const overprovisionedSecrets: CiRule = {
  id: 'overprovisioned-secrets',
  title: 'Every secret handed to a step (toJSON(secrets), secrets[...])',
  severity: 'medium',
  confidence: 'high',
  platforms: ['github'],
  rationale:
    '`toJSON(secrets)` puts every secret the workflow can read into one value, and `secrets[expr]` lets run-time data choose which: the runner then holds secrets the step never needs, and a log line, a crash dump or a compromised tool can leak them all.',
  remediation:
    'Name the secrets the step needs, one by one (`secrets.NPM_TOKEN`), and give each only to the step that uses it.',
  check(w) {
    const hits: CiHit[] = [];
    const look = (where: string, vals: Readonly<Record<string, Located>>): void => {
      for (const [key, l] of Object.entries(vals)) {
        for (const e of extractExpressions(l.value)) {
          const how = WHOLE.test(e.inner)
            ? 'every secret (toJSON(secrets))'
            : DYNAMIC.test(e.inner)
              ? 'a secret chosen at run time (secrets[...])'
              : undefined;
          if (how) hits.push({ pos: posIn(l, e.start), message: `${where} ${key} gets ${how}` });
        }
      }
    };
    look('workflow env', w.env);
    for (const job of w.jobs) {
      look(`job ${job.id} env`, job.env);
      look(`job ${job.id} with`, job.with);
      for (const s of job.steps) {
        const step = `job ${job.id}, step ${s.name ?? s.id ?? s.index + 1}`;
        look(`${step} env`, s.env);
        look(`${step} with`, s.with);
        if (s.run) look(step, { run: s.run });
      }
    }
    return hits;
  },
};
