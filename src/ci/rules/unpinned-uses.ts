import type { Include, Located } from '../model.js';
import { type CiHit, type CiRule, firstParty } from '../rule.js';

const SHA = /^[0-9a-f]{40}$/;
const DIGEST = /@sha256:[0-9a-f]{64}$/;
const VERSION_TAG = /^v?\d+(\.\d+){0,2}([-.+][\w.-]*)?$/;

function judgeAction(uses: string): Omit<CiHit, 'pos'> | undefined {
  if (uses.startsWith('./') || uses.includes('${{')) return undefined;
  if (uses.startsWith('docker://')) return judgeImage(uses.slice('docker://'.length), 'action image');
  const at = uses.lastIndexOf('@');
  const ref = at === -1 ? '' : uses.slice(at + 1);
  if (SHA.test(ref)) return undefined;
  const name = at === -1 ? uses : uses.slice(0, at);
  if (!ref) return { severity: 'high', message: `uses ${uses} without a ref` };
  const kind = VERSION_TAG.test(ref) ? 'tag' : 'branch or tag';
  if (firstParty(uses))
    return {
      severity: kind === 'tag' ? 'low' : 'medium',
      message: `uses ${name}@${ref}: a GitHub-maintained action by ${kind}, not by commit SHA`,
    };
  return {
    severity: 'high',
    message: `uses ${name}@${ref}: a third-party action by ${kind}, which its owner can move`,
  };
}

function judgeImage(image: string, what: string, gitlab = false): Omit<CiHit, 'pos'> | undefined {
  // GitLab: an image named by a variable ($CI_REGISTRY_IMAGE/...) cannot be judged here.
  if (image.includes('${{') || DIGEST.test(image) || (gitlab && image.includes('$'))) return undefined;
  if (/@sha256:<[^>]*>$/.test(image))
    return {
      severity: 'info',
      message: `${what} ${image} has a placeholder digest: fill it in (until then it cannot be pulled)`,
    };
  return { severity: 'medium', message: `${what} ${image} is not pinned by digest (@sha256:…)` };
}

/**
 * GitLab `include:`: a project file or component by branch or tag, or a remote URL without `integrity:`, can change
 * under the pipeline. Templates ship with the GitLab instance and move with it: not reported.
 * ref: https://docs.gitlab.com/ci/yaml/#include
 */
function judgeInclude(i: Include): Omit<CiHit, 'pos'> | undefined {
  if (i.kind === 'remote')
    return i.integrity
      ? undefined
      : {
          severity: 'high',
          message: `include:remote ${i.value} without integrity: whoever serves the URL decides what runs`,
        };
  if (i.kind === 'project') {
    if (i.ref && SHA.test(i.ref)) return undefined;
    return {
      severity: 'high',
      message: `include:project ${i.value} ${i.ref ? `at ref ${i.ref}, a branch or tag` : 'without a ref (its default branch)'}, which its project can move`,
    };
  }
  if (i.kind === 'component') {
    const version = i.value.slice(i.value.lastIndexOf('@') + 1);
    if (i.value.includes('@') && SHA.test(version)) return undefined;
    return {
      severity: 'high',
      message: `include:component ${i.value}: by version, not by commit SHA, which its project can move`,
    };
  }
  return undefined;
}

/**
 * ref: zizmor's unpinned-uses audit (docs.zizmor.sh/audits/#unpinned-uses); GitHub's security hardening guide,
 * "Using third-party actions" (a full-length commit SHA is the only immutable reference). GitHub's own actions by
 * tag are reported at low severity; third-party ones at high.
 */
export const unpinnedUses: CiRule = {
  id: 'unpinned-uses',
  title: 'Action, reusable workflow or image not pinned by commit or digest',
  severity: 'high',
  confidence: 'high',
  rationale:
    "A tag or branch can be moved to other code by whoever controls the action's repository (or steals its credentials), and the next run executes it with the job's token and secrets; images by tag change the same way.",
  remediation:
    'Pin actions and reusable workflows to a full 40-character commit SHA with the tag in a comment (`uses: owner/action@<sha> # v1.2.3`), images to a digest; let Dependabot or Renovate update the pins.',
  check(w) {
    const hits: CiHit[] = [];
    const seen = new Set<string>();
    const add = (l: Located, j: Omit<CiHit, 'pos'> | undefined): void => {
      // A GitLab template's image reaches every job that extends it: one finding where it is written.
      const key = `${l.pos.file ?? ''}:${l.pos.line}:${l.pos.column}`;
      if (j && !seen.has(key)) hits.push({ ...j, pos: l.pos });
      seen.add(key);
    };
    for (const i of w.includes ?? []) add(i, judgeInclude(i));
    for (const job of w.jobs) {
      if (job.uses) add(job.uses, judgeAction(job.uses.value));
      for (const img of job.images)
        add(
          img,
          judgeImage(
            img.value.replace(/^docker:\/\//, ''),
            w.kind === 'action' ? 'action image' : 'image',
            w.platform === 'gitlab',
          ),
        );
      for (const s of job.steps) if (s.uses) add(s.uses, judgeAction(s.uses.value));
    }
    return hits;
  },
};
