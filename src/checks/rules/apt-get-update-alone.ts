import type { BuildInput, MisconfigRule, RuleHit } from '../model.js';
import {
  apkSubcommand,
  aptSubcommand,
  basename,
  effectiveWords,
  RPM_VALUE_OPTIONS,
  runPipelines,
  shownCommand,
  stepPlace,
  subcommand,
} from '../shell.js';

type Family = 'apt' | 'apk' | 'rpm';

/** What a package-manager command does to the index or the packages, when it is one. */
function classify(words: readonly string[]): { family: Family; action: 'update' | 'install' } | undefined {
  const apt = aptSubcommand(words);
  if (apt === 'update') return { family: 'apt', action: 'update' };
  if (apt && /^(?:install|upgrade|dist-upgrade|full-upgrade|build-dep|reinstall|safe-upgrade)$/.test(apt))
    return { family: 'apt', action: 'install' };
  const apk = apkSubcommand(words);
  if (apk === 'update') return { family: 'apk', action: 'update' };
  if (apk === 'add' || apk === 'upgrade' || apk === 'fix') return { family: 'apk', action: 'install' };
  const name = basename(words[0] ?? '');
  if (name === 'yum' || name === 'dnf' || name === 'microdnf' || name === 'tdnf') {
    const sub = subcommand(words.slice(1), RPM_VALUE_OPTIONS);
    if (sub === 'makecache') return { family: 'rpm', action: 'update' };
    if (sub && /^(?:install|update|upgrade|groupinstall|reinstall|downgrade|distro-sync|localinstall)$/.test(sub))
      return { family: 'rpm', action: 'install' };
  }
  return undefined;
}

function checkBuild(input: BuildInput): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const step of input.steps) {
    const found = runPipelines(step)
      .flat()
      .map(effectiveWords)
      .map((w) => ({ w, c: classify(w) }));
    const installs = new Set(found.filter((f) => f.c?.action === 'install').map((f) => f.c?.family));
    const alone = found.find((f) => f.c?.action === 'update' && !installs.has(f.c.family));
    if (alone) {
      hits.push({
        message: `${stepPlace(step)} runs '${shownCommand(alone.w)}' without installing anything in the same RUN: a cached layer keeps stale package lists for later installs`,
        step,
      });
    }
  }
  return hits;
}

export const aptGetUpdateAlone: MisconfigRule = {
  id: 'apt-get-update-alone',
  kind: 'misconfiguration',
  title: 'Package index update alone in a RUN',
  severity: 'low',
  cis: '4.7',
  dockle: 'CIS-DI-0007',
  rationale:
    'A RUN that only refreshes the package index is cached as its own layer: later builds reuse the old index and install outdated packages, or fail when the mirror has moved on.',
  remediation:
    'Refresh and install in one RUN: `RUN apt-get update && apt-get install -y --no-install-recommends pkg && rm -rf /var/lib/apt/lists/*` (or `apk add --no-cache pkg`).',
  checkBuild,
};
