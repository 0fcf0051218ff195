import { printable } from '../../errors.js';
import type { BuildInput, Instruction, MisconfigRule, RuleHit } from '../model.js';
import { stepPlace } from '../shell.js';

const ARG_ITEM = /([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|'[^']*'|\S*))?/y;
const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** Default values of the ARGs declared before the first FROM (the only ones a FROM sees). */
function globalArgs(steps: readonly Instruction[]): Map<string, string | undefined> {
  const args = new Map<string, string | undefined>();
  for (const step of steps) {
    if (step.keyword === 'FROM') break;
    if (step.keyword !== 'ARG') continue;
    let at = 0;
    const text = step.args;
    while (at < text.length) {
      while (at < text.length && /\s/.test(text[at] as string)) at++;
      ARG_ITEM.lastIndex = at;
      const m = ARG_ITEM.exec(text);
      if (!m) break;
      const raw = m[2];
      args.set(m[1] as string, raw === undefined ? undefined : raw.replace(/^(["'])(.*)\1$/, '$2'));
      at = ARG_ITEM.lastIndex;
    }
  }
  return args;
}

/** The image name with the ARG defaults substituted, or undefined when a variable has no value to go by. */
function substitute(text: string, args: ReadonlyMap<string, string | undefined>): string | undefined {
  // No real image reference is this long; the bound keeps the regular expression linear on a hostile FROM.
  if (text.length > 1024) return undefined;
  let unresolved = false;
  const out = text.replace(VARIABLE, (_all, braced?: string, op?: string, word?: string, bare?: string) => {
    const name = (braced ?? bare) as string;
    const value = args.get(name);
    const set = value !== undefined;
    const nonEmpty = set && value !== '';
    if (op === ':-') return nonEmpty ? value : (word ?? '');
    if (op === '-') return set ? value : (word ?? '');
    if (op === ':+') return nonEmpty ? (word ?? '') : '';
    if (op === '+') return set ? (word ?? '') : '';
    if (!set) unresolved = true;
    return value ?? '';
  });
  return unresolved ? undefined : out;
}

function checkBuild(input: BuildInput): RuleHit[] {
  if (input.from !== 'dockerfile') return [];
  const args = globalArgs(input.steps);
  const stages = new Set<string>();
  const hits: RuleHit[] = [];
  for (const step of input.steps) {
    if (step.keyword !== 'FROM') continue;
    const words = step.args.trim().split(/\s+/);
    const written = words[0] ?? '';
    const hit = fromHit(step, written, substitute(written, args), stages);
    if (hit) hits.push(hit);
    // A stage's own name becomes usable by the FROMs after it.
    if (words.length >= 3 && (words[1] ?? '').toLowerCase() === 'as') stages.add((words[2] as string).toLowerCase());
  }
  return hits;
}

function fromHit(
  step: Instruction,
  written: string,
  image: string | undefined,
  stages: ReadonlySet<string>,
): RuleHit | undefined {
  if (image === undefined || image === '' || image.includes('$') || image.includes('@')) return undefined;
  if (image.toLowerCase() === 'scratch' || stages.has(image.toLowerCase())) return undefined;
  const last = image.slice(image.lastIndexOf('/') + 1);
  const colon = last.indexOf(':');
  const tag = colon < 0 ? undefined : last.slice(colon + 1);
  if (tag !== undefined && tag !== 'latest') return undefined;
  const via = image !== written ? ` (${printable(written, 80)} with its ARG defaults)` : '';
  return {
    message:
      tag === undefined
        ? `${stepPlace(step)} uses ${printable(image, 120)}${via} with no tag or digest: it means :latest, whatever that is on the day of the build`
        : `${stepPlace(step)} uses ${printable(image, 120)}${via}: :latest moves, so two builds of this Dockerfile differ`,
    step,
  };
}

export const latestTag: MisconfigRule = {
  id: 'latest-tag',
  kind: 'misconfiguration',
  title: 'FROM an image by its latest tag',
  severity: 'medium',
  dockle: 'DKL-DI-0006',
  rationale:
    'A base named by :latest (or by no tag) changes under the build: the same Dockerfile yields different images, and nobody decided to take the new base.',
  remediation:
    'Name the base by a version tag and, better, pin its digest: `FROM debian:12.7-slim@sha256:...`; let a bot propose updates.',
  checkBuild,
};
