import type { CiHit, CiRule } from '../rule.js';

/** ref: zizmor's secrets-inherit audit (docs.zizmor.sh/audits/#secrets-inherit). */
export const secretsInherit: CiRule = {
  id: 'secrets-inherit',
  title: 'Reusable workflow receives every secret (secrets: inherit)',
  severity: 'high',
  confidence: 'high',
  platforms: ['github'],
  rationale:
    'secrets: inherit passes every secret the caller can read, including ones the called workflow never uses; a bug or compromise in the called workflow exposes them all, and for a workflow in another repository its owner decides what runs.',
  remediation:
    'Pass the secrets the called workflow needs by name under `secrets:`, and declare them in its workflow_call.',
  check(w) {
    const hits: CiHit[] = [];
    for (const job of w.jobs) {
      if (job.secrets?.value !== 'inherit') continue;
      const uses = job.uses?.value ?? '';
      const local = uses.startsWith('./');
      hits.push({
        pos: job.secrets.pos,
        severity: local ? 'medium' : 'high',
        message: `job ${job.id} passes every secret to ${local ? 'the local reusable workflow' : 'the reusable workflow of another repository'} ${uses}`,
      });
    }
    return hits;
  },
};
