import type { ImageInput, MisconfigRule, RuleHit } from '../model.js';
import { exposedPorts } from '../ports.js';

function checkImage(input: ImageInput): RuleHit[] {
  return exposedPorts(input.config.config?.ExposedPorts)
    .filter((p) => p.proto === 'tcp' && p.low <= 22 && 22 <= p.high)
    .map((p) => ({ message: `The image exposes the SSH port (${p.key})` }));
}

export const sshPortExposed: MisconfigRule = {
  id: 'ssh-port-exposed',
  kind: 'misconfiguration',
  title: 'SSH port exposed',
  severity: 'medium',
  rationale:
    "An image that exposes port 22 usually runs an SSH server: one more service with credentials to steal and patch, and a way around the runtime's own access control (`docker exec`, `kubectl exec`).",
  remediation: "Remove `EXPOSE 22` and the SSH server; use the runtime's exec for debugging.",
  checkImage,
};
