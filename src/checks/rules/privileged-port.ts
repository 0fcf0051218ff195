import type { ImageInput, MisconfigRule, RuleHit } from '../model.js';
import { exposedPorts } from '../ports.js';

function checkImage(input: ImageInput): RuleHit[] {
  return exposedPorts(input.config.config?.ExposedPorts)
    .filter((p) => p.low < 1024)
    .map((p) => ({ message: `The image exposes privileged port ${p.key} (below 1024)` }));
}

export const privilegedPort: MisconfigRule = {
  id: 'privileged-port',
  kind: 'misconfiguration',
  title: 'Privileged port exposed',
  severity: 'low',
  rationale:
    'Binding a port below 1024 needs root or CAP_NET_BIND_SERVICE in the container, so an image listening there tends to keep privileges it would not need on a high port.',
  remediation:
    'Listen on a port of 1024 or above (e.g. 8080 instead of 80) and let the runtime map the public port to it.',
  checkImage,
};
