import { printable } from '../errors.js';
import type { Finding, FindingLocation } from '../findings/finding.js';
import { scrubText } from '../secrets/scrub.js';
import type { BuildInput, ImageInput, MisconfigRule, RuleHit, RuleMeta, SecretHit } from './model.js';
import { MISCONFIG_RULES } from './rules/index.js';

/** Where findings are reported: the image reference (image checks, history) and the Dockerfile path. */
export interface Targets {
  readonly image: string;
  readonly dockerfile?: string;
  /** diff_ids by layer index, for locations. */
  readonly diffIds?: readonly (string | undefined)[];
}

/**
 * Run the misconfiguration rules: build rules on `build` (the Dockerfile, or the image history), image rules on
 * `image`. A rule that throws is a bug in Portcullis: it is not swallowed, so the run fails closed.
 */
export function runMisconfigRules(
  input: { readonly image?: ImageInput; readonly build?: BuildInput },
  targets: Targets,
  rules: readonly MisconfigRule[] = MISCONFIG_RULES,
): Finding[] {
  const disabled = new Set(input.image?.settings.disabled ?? input.build?.settings.disabled ?? []);
  const out: Finding[] = [];
  for (const rule of rules) {
    if (disabled.has(rule.id)) continue;
    // With the image at hand, a rule that reads it decides: the Dockerfile's view (no USER: the base image's user)
    // would only repeat it, or contradict it.
    if (input.build && rule.checkBuild && !(input.image && rule.checkImage)) {
      for (const hit of rule.checkBuild(input.build))
        out.push(toFinding(rule, hit, buildLocation(hit, input.build, targets)));
    }
    if (input.image && rule.checkImage) {
      for (const hit of rule.checkImage(input.image)) out.push(toFinding(rule, hit, imageLocation(hit, targets)));
    }
  }
  return out;
}

/** Secret hits as findings, with their rule's metadata. An unknown rule id is a bug. */
export function secretFindings(hits: readonly SecretHit[], rules: readonly RuleMeta[], targets: Targets): Finding[] {
  const byId = new Map(rules.map((r) => [r.id, r]));
  return hits.map((h) => {
    const rule = byId.get(h.ruleId);
    if (!rule) throw new Error(`secret hit for unknown rule ${h.ruleId}`);
    const line = h.line ? `:${h.line}` : '';
    // A path is the image's text too: a token in a directory name is masked (in the message and the location, which
    // the table, SARIF and decisions print), control characters shown as `?`.
    const path = printable(scrubText(h.path), 4096);
    const where =
      h.where === 'file'
        ? `/${path}${line}${h.layer !== undefined ? ` (layer ${h.layer}${h.deleted ? ', deleted in a later layer but still shipped' : ''})` : ''}`
        : h.where === 'dockerfile'
          ? `${path}${line}`
          : h.where === 'env'
            ? `environment variable ${path}`
            : h.where === 'label'
              ? `label ${path}`
              : `history entry ${path}`;
    const hit: RuleHit = {
      message: `${rule.title} in ${where}: ${h.redacted}`,
      ...(h.where === 'file' ? { path } : {}),
      ...(h.layer !== undefined ? { layer: h.layer } : {}),
    };
    const location: FindingLocation =
      h.where === 'dockerfile'
        ? { kind: 'file', path, ...(h.line ? { line: h.line } : {}) }
        : imageLocation({ ...hit, message: '' }, targets);
    return { ...toFinding(rule, hit, location), confidence: h.confidence ?? 'high' };
  });
}

function toFinding(rule: RuleMeta, hit: RuleHit, location: FindingLocation): Finding {
  return {
    ruleId: rule.id,
    kind: rule.kind,
    severity: hit.severity ?? rule.severity,
    confidence: 'high',
    title: rule.title,
    // Build rules quote RUN lines and URLs: a token or password in them is masked as the secret findings mask it.
    message: rule.kind === 'secret' ? hit.message : scrubText(hit.message),
    location,
    fix: { text: rule.remediation },
  };
}

function imageLocation(hit: RuleHit, targets: Targets): FindingLocation {
  const diffId = hit.layer !== undefined ? targets.diffIds?.[hit.layer] : undefined;
  return {
    kind: 'image',
    image: targets.image,
    ...(hit.layer !== undefined ? { layer: hit.layer } : {}),
    ...(diffId ? { layerDiffId: diffId } : {}),
    ...(hit.path !== undefined ? { path: hit.path } : {}),
  };
}

function buildLocation(hit: RuleHit, build: BuildInput, targets: Targets): FindingLocation {
  if (build.from === 'dockerfile') {
    const line = hit.step?.line;
    return { kind: 'file', path: build.path ?? targets.dockerfile ?? 'Dockerfile', ...(line ? { line } : {}) };
  }
  const layer = hit.layer ?? hit.step?.layer;
  return imageLocation({ ...hit, ...(layer !== undefined ? { layer } : {}) }, targets);
}

/** A finding of an image rule that runs at the I/O edge (signatures), with the same shape as the pure rules'. */
export function imageRuleFinding(rule: RuleMeta, hit: RuleHit, targets: Targets): Finding {
  return toFinding(rule, hit, imageLocation(hit, targets));
}
