import type { BuildInput, MisconfigRule, RuleHit } from '../model.js';
import { basename, commandWords, runPipelines, shownCommand, stepPlace } from '../shell.js';

function checkBuild(input: BuildInput): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const step of input.steps) {
    const sudo = runPipelines(step)
      .flat()
      .map(commandWords)
      .find((w) => basename(w[0] ?? '') === 'sudo');
    if (sudo) hits.push({ message: `${stepPlace(step)} uses sudo: '${shownCommand(sudo)}'`, step });
  }
  return hits;
}

export const sudoUsage: MisconfigRule = {
  id: 'sudo-usage',
  kind: 'misconfiguration',
  title: 'sudo in a RUN',
  severity: 'medium',
  dockle: 'DKL-DI-0001',
  rationale:
    'sudo in a build means the image carries sudo and a sudoers setup that lets its user become root again, and its TTY and signal handling is unpredictable in containers.',
  remediation:
    'Run the privileged steps before `USER` (as root, without sudo) and switch to the unprivileged user afterwards; where a process must drop privileges at run time, use `gosu` or `setpriv`.',
  checkBuild,
};
