import { printable } from '../../errors.js';
import { scrubNamedValue } from '../../secrets/scrub.js';
import type { PolicyRule } from '../model.js';

/** Label values longer than this are not matched against a policy's regular expression (it could backtrack). */
const MAX_LABEL_VALUE = 4096;

/** The image config must carry the required labels, with values matching their patterns. */
export const labelsRule: PolicyRule = {
  id: 'labels',
  title: 'Required labels present',
  configured: (p) => p.rules.labels !== undefined,
  evaluate: (ctx) => {
    const required = ctx.policy.rules.labels;
    if (!required) throw new Error('labels rule evaluated without labels');
    const failed: string[] = [];
    const ok: string[] = [];
    for (const r of required) {
      const v = ctx.image.labels[r.key];
      const shown = `label ${r.key}`;
      // The decision is recorded and attested: a label's secret is masked as the secret findings mask it.
      const value = v === undefined ? '' : printable(scrubNamedValue(r.key, v), 80);
      if (v === undefined) failed.push(`${shown} is missing`);
      else if (v === '') failed.push(`${shown} is empty`);
      else if (r.value === undefined) ok.push(`${shown} = '${value}'`);
      else if (v.length > MAX_LABEL_VALUE) failed.push(`${shown} is longer than ${MAX_LABEL_VALUE} characters`);
      else if (new RegExp(`^(?:${r.value})$`, 'u').test(v)) ok.push(`${shown} = '${value}' matches ${r.value}`);
      else failed.push(`${shown} = '${value}' does not match ${r.value}`);
    }
    return failed.length ? { outcome: 'fail', reasons: failed } : { outcome: 'pass', reasons: ok };
  },
};
