import { printable } from '../../errors.js';
import type { ImageInput, MisconfigRule, RuleHit } from '../model.js';

function checkImage(input: ImageInput): RuleHit[] {
  // Names compare without case: PyPI and NuGet names are case-insensitive, and no list means `GCC` apart from `gcc`.
  const unwanted = new Set(input.settings.unnecessaryPackages.map((n) => n.toLowerCase()));
  if (unwanted.size === 0) return [];
  return input.packages
    .filter((p) => unwanted.has(p.name.toLowerCase()))
    .map((p) => {
      const where = p.locations[0]?.path;
      return {
        message: `${printable(p.name, 100)} ${printable(p.version, 60)} (${p.type}) is installed, introduced in layer ${p.layer}${where ? ` (/${printable(where)})` : ''}`,
        ...(where ? { path: where } : {}),
        layer: p.layer,
      };
    });
}

export const unnecessaryPackage: MisconfigRule = {
  id: 'unnecessary-package',
  kind: 'misconfiguration',
  title: 'Unnecessary package installed',
  severity: 'medium',
  cis: '4.3',
  rationale:
    'Remote shells, compilers, debuggers and sniffers do nothing for the application but everything for an intruder, and each brings its own vulnerabilities to patch. The list is `unnecessaryPackages` in the checks settings.',
  remediation:
    'Remove the package (`apt-get purge`, `apk del`, ...) or build in one stage and copy only the result into a slim final stage.',
  checkImage,
};
