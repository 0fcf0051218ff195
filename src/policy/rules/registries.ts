import { printable } from '../../errors.js';
import { globMatch } from '../match.js';
import type { PolicyRule } from '../model.js';

/** The image itself must come from an allowed registry (host, or host/repository, patterns). */
export const registriesRule: PolicyRule = {
  id: 'registries',
  title: 'From an allowed registry',
  configured: (p) => p.rules.registries !== undefined,
  evaluate: (ctx) => {
    const patterns = ctx.policy.rules.registries;
    if (!patterns) throw new Error('registries rule evaluated without patterns');
    const reg = ctx.image.registry;
    if (!reg)
      return {
        outcome: 'fail',
        reasons: [`${printable(ctx.image.reference)} is not a registry image, so its registry cannot be allowed`],
      };
    const host = reg.host.toLowerCase();
    const full = `${host}/${reg.repository}`;
    const hit = patterns.find((p) =>
      p.includes('/') ? globMatch(p.toLowerCase(), full) : globMatch(p.toLowerCase(), host),
    );
    if (hit) return { outcome: 'pass', reasons: [`${full} matches allowed registry '${hit}'`] };
    return { outcome: 'fail', reasons: [`${full} matches none of the allowed registries (${patterns.join(', ')})`] };
  },
};
