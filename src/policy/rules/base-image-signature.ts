import { matchBaseImage } from '../baseimage.js';
import type { PolicyRule, RuleVerdict } from '../model.js';

/**
 * The approved base image the image is built on must be signed by a key the policy trusts. The signature checks
 * are the caller's (the gate verifies; evaluation stays pure); with none, the rule reports an error, never a pass.
 */
export const baseImageSignatureRule: PolicyRule = {
  id: 'base-image-signature',
  title: 'Base image signed by a trusted key',
  configured: (p) => p.rules.baseImage?.signature !== undefined,
  evaluate: (ctx): RuleVerdict => {
    const rules = ctx.policy.rules.baseImage;
    const keys = rules?.signature?.keys;
    if (!rules || !keys) throw new Error('base-image-signature rule evaluated without keys');
    const m = matchBaseImage(rules, ctx.image);
    if (m.kind === 'none')
      return { outcome: 'fail', reasons: [`no approved base image identified, so no signature to check: ${m.reason}`] };
    const digest = m.base.digest;
    if (!digest)
      return {
        outcome: 'error',
        reasons: [`approved base image ${m.base.name} has no digest in the policy; signatures are checked on a digest`],
      };
    if (ctx.signatures === undefined)
      return {
        outcome: 'error',
        reasons: [
          `no signature verifier ran, so the signature of ${m.base.name} (${digest}) is unchecked ('portcullis scan' does not verify signatures; 'portcullis gate' does)`,
        ],
      };
    const trusted = new Map(keys.map((k) => [k.fingerprint, k.source]));
    const checks = ctx.signatures.filter((s) => s.digest === digest);
    const good = checks.find((s) => s.verified && s.keyFingerprint !== undefined && trusted.has(s.keyFingerprint));
    if (good)
      return {
        outcome: 'pass',
        reasons: [
          `${m.base.name} (${digest}) is signed with trusted key ${trusted.get(good.keyFingerprint as string)}`,
        ],
      };
    if (checks.length === 0)
      return { outcome: 'fail', reasons: [`no signature of ${m.base.name} (${digest}) was found to verify`] };
    return {
      outcome: 'fail',
      reasons: [
        `no signature of ${m.base.name} (${digest}) verifies with a trusted key`,
        ...checks.map((s) =>
          s.verified && s.keyFingerprint && !trusted.has(s.keyFingerprint)
            ? `verified with key ${s.keyFingerprint}, which the policy does not trust`
            : s.detail,
        ),
      ],
    };
  },
};
