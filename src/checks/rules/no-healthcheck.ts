import type { BuildInput, ImageInput, MisconfigRule, RuleHit } from '../model.js';
import { finalSetting } from '../stages.js';

function checkImage(input: ImageInput): RuleHit[] {
  const test = input.config.config?.Healthcheck?.Test;
  if (!test || test.length === 0) return [{ message: 'The image config has no Healthcheck' }];
  // ["NONE"] is what `HEALTHCHECK NONE` writes: it switches off a check inherited from the base image.
  if (test[0] === 'NONE') return [{ message: 'The image config disables its health check (Healthcheck NONE)' }];
  return [];
}

function checkBuild(input: BuildInput): RuleHit[] {
  if (input.from !== 'dockerfile' || input.steps.length === 0) return [];
  const { step: check, from } = finalSetting(input.steps, 'HEALTHCHECK');
  if (!check) {
    return [
      {
        message:
          'The final stage has no HEALTHCHECK (one inherited from the base image is seen only by the image check)',
        ...(from ? { step: from } : {}),
      },
    ];
  }
  if (/^NONE\s*$/i.test(check.args.trim()))
    return [{ message: 'The final stage disables the health check (HEALTHCHECK NONE)', step: check }];
  return [];
}

export const noHealthcheck: MisconfigRule = {
  id: 'no-healthcheck',
  kind: 'misconfiguration',
  title: 'No HEALTHCHECK',
  severity: 'low',
  cis: '4.6',
  dockle: 'CIS-DI-0006',
  rationale:
    'Without a health check the runtime only knows whether the process exists, not whether it works: a hung service keeps receiving traffic and is never restarted.',
  remediation:
    'Add a HEALTHCHECK that exercises the service, e.g. `HEALTHCHECK --interval=30s CMD ["/app/healthcheck"]` (an orchestrator probe serves too: then disable this rule on purpose).',
  checkImage,
  checkBuild,
};
