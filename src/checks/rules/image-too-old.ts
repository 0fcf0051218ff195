import { printable } from '../../errors.js';
import type { ImageInput, MisconfigRule, RuleHit } from '../model.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Reproducible builders (ko, Bazel, Nix, `SOURCE_DATE_EPOCH=0`) write these instead of a real build time. */
const PLACEHOLDER_BEFORE = Date.UTC(1980, 0, 2);

/**
 * Is an image created at `created` older than `maxDays` at `now`? `what` names it in messages ("The image", "The base
 * image x@sha256:..."). An image that does not say when it was built cannot pass: the rule was asked for.
 */
export function ageHits(created: string | undefined, maxDays: number, now: Date, what: string): RuleHit[] {
  const untold = (why: string): RuleHit[] => [
    { message: `Cannot tell the age of ${what} (at most ${maxDays} days allowed): ${why}`, severity: 'low' },
  ];
  if (created === undefined || created === '') return untold('the config has no created time');
  const at = Date.parse(created);
  if (Number.isNaN(at)) return untold(`the created time '${printable(created, 60)}' is not a date`);
  if (at < PLACEHOLDER_BEFORE)
    return untold(`the created time ${printable(created, 60)} is a reproducible-build placeholder, not a build time`);
  if (at > now.getTime() + DAY_MS) return untold(`the created time ${printable(created, 60)} is in the future`);
  const age = Math.floor((now.getTime() - at) / DAY_MS);
  if (age <= maxDays) return [];
  const name = what.charAt(0).toUpperCase() + what.slice(1);
  return [
    {
      message: `${name} was created ${printable(created, 60)}, ${age} days ago: older than the ${maxDays} days allowed`,
    },
  ];
}

function checkImage(input: ImageInput): RuleHit[] {
  const maxDays = input.settings.maxImageAgeDays;
  if (maxDays === undefined) return [];
  return ageHits(input.config.created, maxDays, input.now, 'the image');
}

export const imageTooOld: MisconfigRule = {
  id: 'image-too-old',
  kind: 'misconfiguration',
  title: 'Image older than allowed',
  severity: 'medium',
  cis: '4.4',
  rationale:
    'An image that has not been rebuilt for a long time lacks every fix its base image and packages have had since: rebuilding regularly is how patches reach it. Runs only when `maxImageAgeDays` is set.',
  remediation:
    'Rebuild the image from an up-to-date base (with `--pull`, without a stale cache) and redeploy; automate it on a schedule.',
  checkImage,
};
