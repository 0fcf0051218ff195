import { describeMatch, matchBaseImage } from '../baseimage.js';
import type { PolicyRule } from '../model.js';

/** The image must be built on an approved base image (by its layers, or by a trusted base annotation). */
export const baseImageRule: PolicyRule = {
  id: 'base-image',
  title: 'Built on an approved base image',
  configured: (p) => p.rules.baseImage !== undefined,
  evaluate: (ctx) => {
    const rules = ctx.policy.rules.baseImage;
    if (!rules) throw new Error('base-image rule evaluated without its settings');
    const m = matchBaseImage(rules, ctx.image);
    if (m.kind === 'none') return { outcome: 'fail', reasons: [m.reason] };
    return { outcome: 'pass', reasons: [describeMatch(m)] };
  },
};
