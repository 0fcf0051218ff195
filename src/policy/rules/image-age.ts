import { printable } from '../../errors.js';
import { days } from '../match.js';
import type { PolicyRule } from '../model.js';

/** A created time this far ahead of the clock is taken as false, not as a new image. */
const CLOCK_SKEW_MS = 3_600_000;

/** The image must be younger than maxAge, by its config's `created` time. */
export const imageAgeRule: PolicyRule = {
  id: 'image-age',
  title: 'Not older than the maximum age',
  configured: (p) => p.rules.maxAge !== undefined,
  evaluate: (ctx) => {
    const max = ctx.policy.rules.maxAge;
    if (!max) throw new Error('image-age rule evaluated without maxAge');
    const created = ctx.image.created;
    if (!created) return { outcome: 'fail', reasons: ['the image config has no created time'] };
    const t = Date.parse(created);
    if (!Number.isFinite(t)) return { outcome: 'fail', reasons: [`created '${printable(created, 60)}' is not a time`] };
    const age = ctx.now.getTime() - t;
    if (age < -CLOCK_SKEW_MS) return { outcome: 'fail', reasons: [`created ${created} is in the future`] };
    const text = `created ${created}, ${days(Math.max(0, age))} days ago`;
    if (age > max.ms) return { outcome: 'fail', reasons: [`${text}: older than maxAge ${max.text}`] };
    return { outcome: 'pass', reasons: [`${text}: within maxAge ${max.text}`] };
  },
};
