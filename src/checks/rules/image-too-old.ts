import { printable } from '../../errors.js';
import type { ImageInput, MisconfigRule, RuleHit } from '../model.js';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** Reproducible builders (ko, Bazel, Nix, `SOURCE_DATE_EPOCH=0`) write these instead of a real build time. */
const PLACEHOLDER_BEFORE = Date.UTC(1980, 0, 2);

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

/** An age for messages: whole days, or whole hours below 2 days. */
function age(ms: number): string {
  return ms < 2 * DAY_MS ? plural(Math.floor(ms / HOUR_MS), 'hour') : plural(Math.floor(ms / DAY_MS), 'day');
}

/** A limit for messages: in days when it is a whole number of them (2 or more), else in hours. */
function limit(ms: number): string {
  return ms >= 2 * DAY_MS && ms % DAY_MS === 0
    ? plural(ms / DAY_MS, 'day')
    : plural(+(ms / HOUR_MS).toFixed(2), 'hour');
}

/**
 * Is an image created at `created` older than `maxDays` (fractional for hour limits: 12h is 0.5) at `now`? Compared in
 * milliseconds. `what` names it in messages ("the image", "the base image x@sha256:..."). An image that does not say
 * when it was built cannot pass: the rule was asked for.
 */
export function ageHits(created: string | undefined, maxDays: number, now: Date, what: string): RuleHit[] {
  const maxMs = Math.round(maxDays * DAY_MS);
  const untold = (why: string): RuleHit[] => [
    { message: `Cannot tell the age of ${what} (at most ${limit(maxMs)} allowed): ${why}`, severity: 'low' },
  ];
  if (created === undefined || created === '') return untold('the config has no created time');
  const at = Date.parse(created);
  if (Number.isNaN(at)) return untold(`the created time '${printable(created, 60)}' is not a date`);
  if (at < PLACEHOLDER_BEFORE)
    return untold(`the created time ${printable(created, 60)} is a reproducible-build placeholder, not a build time`);
  if (at > now.getTime() + DAY_MS) return untold(`the created time ${printable(created, 60)} is in the future`);
  const ageMs = now.getTime() - at;
  if (ageMs <= maxMs) return [];
  const name = what.charAt(0).toUpperCase() + what.slice(1);
  return [
    {
      message: `${name} was created ${printable(created, 60)}, ${age(ageMs)} ago: older than the ${limit(maxMs)} allowed`,
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
    'An image that has not been rebuilt for a long time lacks every fix its base image and packages have had since: rebuilding regularly is how patches reach it. Runs only when `maxImageAge` is set (a duration such as `90d`, `12w` or `36h`).',
  remediation:
    'Rebuild the image from an up-to-date base (with `--pull`, without a stale cache) and redeploy; automate it on a schedule.',
  checkImage,
};
