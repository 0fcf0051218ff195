import type { BuildInput, MisconfigRule, RuleHit } from '../model.js';
import { aptSubcommand, effectiveWords, runPipelines, shownCommand, stepPlace } from '../shell.js';

function checkBuild(input: BuildInput): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const step of input.steps) {
    const found = runPipelines(step)
      .flat()
      .map(effectiveWords)
      .find((w) => {
        const sub = aptSubcommand(w);
        return sub === 'dist-upgrade' || sub === 'full-upgrade';
      });
    if (found) hits.push({ message: `${stepPlace(step)} runs '${shownCommand(found)}'`, step });
  }
  return hits;
}

export const aptDistUpgrade: MisconfigRule = {
  id: 'apt-dist-upgrade',
  kind: 'misconfiguration',
  title: 'apt-get dist-upgrade in a build',
  severity: 'low',
  dockle: 'DKL-DI-0003',
  rationale:
    'dist-upgrade may install, remove and replace packages, even across the release the base image was built for, so the image drifts from its base in ways nobody reviewed.',
  remediation:
    'Rebuild on a newer base image, or install the fixed versions of the named packages (`apt-get install --only-upgrade pkg`); `apt-get upgrade` keeps to the installed set.',
  checkBuild,
};
