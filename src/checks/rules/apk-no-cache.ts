import type { BuildInput, MisconfigRule, RuleHit } from '../model.js';
import { apkSubcommand, basename, effectiveWords, runPipelines, shownCommand, stepPlace } from '../shell.js';

function checkBuild(input: BuildInput): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const step of input.steps) {
    // A cache mount keeps the cache out of the layer.
    if ((step.flags ?? []).some((f) => f.startsWith('--mount=') && f.includes('/var/cache/apk'))) continue;
    const commands = runPipelines(step).flat().map(effectiveWords);
    const add = commands.find((w) => apkSubcommand(w) === 'add' && !w.includes('--no-cache'));
    if (!add) continue;
    const cleaned = commands.some(
      (w) =>
        (basename(w[0] ?? '') === 'rm' && w.some((a) => a.startsWith('/var/cache/apk'))) ||
        (basename(w[0] ?? '') === 'apk' && w[1] === 'cache' && w[2] === 'clean'),
    );
    if (!cleaned) {
      hits.push({
        message: `${stepPlace(step)} runs '${shownCommand(add)}' without --no-cache: the package index stays in the layer`,
        step,
      });
    }
  }
  return hits;
}

export const apkNoCache: MisconfigRule = {
  id: 'apk-no-cache',
  kind: 'misconfiguration',
  title: 'apk add without --no-cache',
  severity: 'low',
  dockle: 'DKL-DI-0004',
  rationale:
    'Without --no-cache, apk keeps the downloaded package index in /var/cache/apk: megabytes in the layer that only age.',
  remediation: 'Use `apk add --no-cache pkg` (it needs no `apk update` before it).',
  checkBuild,
};
