import type { Step } from '../model.js';
import type { CiHit, CiRule } from '../rule.js';

/** A path (one per line of `path:`) that takes in the checkout's `.git` directory: the workspace itself, or all of it. */
const WHOLE_WORKSPACE = /^\s*(?:\.\/?|\*\*(?:\/\*)?|\$\{\{\s*github\.workspace\s*\}\}\/?|\.git(?:\/.*)?)\s*$/;

function persistsCredentials(s: Step): boolean {
  if (!/^actions\/checkout@/i.test(s.uses?.value ?? '')) return false;
  return (s.with['persist-credentials']?.value ?? 'true').trim().toLowerCase() !== 'false';
}

function uploadsWorkspace(s: Step): boolean {
  if (!/^actions\/upload-artifact@/i.test(s.uses?.value ?? '')) return false;
  const path = s.with.path?.value ?? '';
  return path.split('\n').some((p) => WHOLE_WORKSPACE.test(p) && !/^\s*!/.test(p));
}

/**
 * ref: zizmor's artipacked audit (docs.zizmor.sh/audits/#artipacked); "ArtiPACKED" (Palo Alto Unit 42, 2024).
 * actions/checkout writes the job's token into .git/config unless told not to; uploading the workspace as an
 * artifact then publishes the token to whoever can download the run's artifacts.
 */
export const artipacked: CiRule = {
  id: 'artipacked',
  title: 'Checkout credentials uploaded in an artifact',
  severity: 'high',
  confidence: 'high',
  platforms: ['github'],
  rationale:
    'actions/checkout keeps the job\u2019s token in .git/config (persist-credentials defaults to true); an artifact of the whole workspace carries .git with it, and anyone who can download the run\u2019s artifacts (everyone, on a public repository) reads the token while it is valid.',
  remediation:
    'Set `persist-credentials: false` on actions/checkout (authenticate later steps explicitly where they push), and upload only the files the artifact needs, never the workspace root or .git.',
  check(w) {
    const hits: CiHit[] = [];
    for (const job of w.jobs) {
      const co = job.steps.find(persistsCredentials);
      if (!co) continue;
      const up = job.steps.slice(co.index + 1).find(uploadsWorkspace);
      if (!up) continue;
      hits.push({
        pos: up.uses?.pos ?? up.pos,
        message: `job ${job.id}: ${up.uses?.value.replace(/@.*/, '')} uploads the workspace (path ${JSON.stringify(up.with.path?.value.trim() ?? '')}) after actions/checkout at line ${co.pos.line} kept the token in .git/config`,
      });
    }
    return hits;
  },
};
