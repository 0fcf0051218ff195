import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Verdict, VerifiedAttestation, VerifiedSignature } from '../../src/sign/verify.js';
import {
  type Classification,
  classify,
  type DigestFacts,
  describeWatchRule,
  isCosignTag,
  toFinding,
  WATCH_RULES,
} from '../../src/watch/classify.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const ASSESSMENT = 'https://portcullis.dev/attestation/assessment/v1';
const DAY = 86_400_000;
const NOW = Date.parse('2026-03-10T12:00:00Z');
const WEEK = 7 * DAY;

const signature: VerifiedSignature = {
  layer: 0,
  key: 'keys/gate.pub',
  keyId: 'k1',
  claims: { dockerReference: 'reg.example/team/app', digest: DIGEST, optional: null },
  payload: Buffer.from('{}'),
};

function assessment(decision: unknown, assessedAt: unknown, layer = 0): VerifiedAttestation {
  return {
    layer,
    key: 'keys/gate.pub',
    keyId: 'k1',
    statement: {
      type: 'https://in-toto.io/Statement/v1',
      subjects: [{ name: 'reg.example/team/app', digest: { sha256: 'ab'.repeat(32) } }],
      predicateType: ASSESSMENT,
      predicate: { decision, assessedAt, subject: { digest: DIGEST } },
    },
  };
}

const verdict = <T>(verified: T[], failures: Verdict<T>['failures'] = []): Verdict<T> => ({ verified, failures });

function signedWith(...atts: VerifiedAttestation[]): DigestFacts {
  return { trusted: true, signatures: verdict([signature]), assessments: verdict(atts) };
}

const at = (ms: number) => new Date(ms).toISOString();
const run = (facts: DigestFacts, maxAgeMs = WEEK): Classification => classify(facts, { now: NOW, maxAgeMs });

describe('classify: every category', () => {
  it('approved: a trusted signature and a fresh PASS assessment', () => {
    const c = run(signedWith(assessment('PASS', at(NOW - DAY))));
    expect(c.status).toBe('approved');
    expect(c.assessedAt).toBe(at(NOW - DAY));
  });

  it('unknown-repository: no trust entry, whatever else', () => {
    const c = run({ trusted: false, reason: 'no entry of trust.yaml matches reg.example/x' });
    expect(c).toEqual({ status: 'unknown-repository', detail: 'no entry of trust.yaml matches reg.example/x' });
  });

  it('unsigned: no signature image, or signatures that do not verify (the failure is named)', () => {
    const missing = run({
      trusted: true,
      signatures: verdict([], [{ kind: 'missing', message: 'no signatures: sha256-ab.sig is not in docker://r' }]),
    });
    expect(missing.status).toBe('unsigned');
    expect(missing.detail).toContain('no signatures: sha256-ab.sig is not in docker://r');
    const wrongKey = run({
      trusted: true,
      signatures: verdict([], [{ kind: 'wrong-key', message: 'signature 1 of 1: wrong key' }]),
      // An assessment verifying does not rescue an image whose signature does not.
      assessments: verdict([assessment('PASS', at(NOW))]),
    });
    expect(wrongKey.status).toBe('unsigned');
    expect(wrongKey.detail).toContain('wrong key');
  });

  it('unassessed: signed, but no assessment attestation, or none that verified, or none readable', () => {
    expect(run({ trusted: true, signatures: verdict([signature]) }).status).toBe('unassessed');
    const none = run({
      trusted: true,
      signatures: verdict([signature]),
      assessments: verdict([], [{ kind: 'missing', message: 'no attestations: sha256-ab.att is not in docker://r' }]),
    });
    expect(none.status).toBe('unassessed');
    expect(none.detail).toContain('sha256-ab.att is not in');
    for (const [decision, when] of [
      ['MAYBE', at(NOW)],
      ['PASS', 'yesterday'],
      ['PASS', '2026-03-10'],
      ['PASS', '2026-02-30T00:00:00Z'],
      [undefined, at(NOW)],
    ] as const) {
      const c = run(signedWith(assessment(decision, when)));
      expect(c.status, `${decision} ${when}`).toBe('unassessed');
      expect(c.detail).toContain('without a PASS/FAIL decision and assessedAt');
    }
  });

  it('failed: the latest assessment says FAIL, even with an older PASS beside it', () => {
    const c = run(signedWith(assessment('PASS', at(NOW - 2 * DAY), 0), assessment('FAIL', at(NOW - DAY), 1)));
    expect(c.status).toBe('failed');
    expect(c.detail).toContain('says FAIL');
    // The other way round, the later PASS decides.
    expect(run(signedWith(assessment('FAIL', at(NOW - 2 * DAY)), assessment('PASS', at(NOW - DAY)))).status).toBe(
      'approved',
    );
  });

  it('stale: PASS, but older than maxAssessmentAge', () => {
    const c = run(signedWith(assessment('PASS', at(NOW - 8 * DAY))));
    expect(c.status).toBe('stale');
    expect(c.detail).toBe(`the latest assessment (PASS, ${at(NOW - 8 * DAY)}) is 8d old, more than the 7d allowed`);
  });
});

describe('classify: the maxAssessmentAge boundary', () => {
  it('exactly maxAssessmentAge old is approved; one millisecond more is stale', () => {
    expect(run(signedWith(assessment('PASS', at(NOW - WEEK)))).status).toBe('approved');
    expect(run(signedWith(assessment('PASS', at(NOW - WEEK - 1)))).status).toBe('stale');
  });

  it('an assessment dated ahead of this clock is never approved (up to five minutes of clock skew are)', () => {
    const ahead = run(signedWith(assessment('PASS', '2099-01-01T00:00:00Z')));
    expect(ahead).toMatchObject({ status: 'stale', assessedAt: '2099-01-01T00:00:00Z' });
    expect(ahead.detail).toMatch(/^the latest assessment is dated 2099-01-01T00:00:00Z, \d+d ahead of this clock/);
    // A future PASS does not hide a FAIL beside it either: it is the latest, and stale.
    const both = signedWith(assessment('FAIL', at(NOW - DAY)), assessment('PASS', at(NOW + DAY), 1));
    expect(run(both).status).toBe('stale');
    expect(run(signedWith(assessment('PASS', at(NOW + 5 * 60_000)))).status).toBe('approved');
    expect(run(signedWith(assessment('PASS', at(NOW + 5 * 60_000 + 1)))).status).toBe('stale');
  });

  it('property: a PASS is approved exactly when its age is at most the maximum (and at most 5 min ahead)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2 * DAY, max: 400 * DAY }), fc.integer({ min: 1, max: 100 * DAY }), (age, max) => {
        const c = run(signedWith(assessment('PASS', at(NOW - age))), max);
        expect(c.status).toBe(age <= max && age >= -5 * 60_000 ? 'approved' : 'stale');
      }),
    );
  });

  it('property: nothing is approved without a verified signature and a PASS', () => {
    const facts = fc.record({
      signed: fc.boolean(),
      atts: fc.array(
        fc.record({
          decision: fc.constantFrom('PASS', 'FAIL', 'pass', 7),
          age: fc.integer({ min: -DAY, max: 30 * DAY }),
        }),
        { maxLength: 4 },
      ),
    });
    fc.assert(
      fc.property(facts, ({ signed, atts }) => {
        const c = run({
          trusted: true,
          signatures: verdict(signed ? [signature] : []),
          assessments: verdict(atts.map((a, i) => assessment(a.decision, at(NOW - a.age), i))),
        });
        if (c.status === 'approved') {
          expect(signed).toBe(true);
          expect(atts.some((a) => a.decision === 'PASS' && a.age <= WEEK)).toBe(true);
        }
      }),
    );
  });
});

describe('findings and cosign tags', () => {
  it('one posture finding per non-approved tag, located at host and repo:tag; none for approved', () => {
    const base = { host: 'reg.example:5000', repository: 'team/app', tag: '1.0', digest: DIGEST };
    expect(toFinding({ ...base, classification: { status: 'approved', detail: 'ok' } })).toBeUndefined();
    const f = toFinding({ ...base, classification: { status: 'unsigned', detail: 'no signature by a trusted key' } });
    expect(f).toMatchObject({
      ruleId: 'watch-unsigned',
      kind: 'posture',
      severity: 'high',
      location: { kind: 'registry', host: 'reg.example:5000', path: 'team/app:1.0' },
    });
    expect(f?.message).toBe(`reg.example:5000/team/app:1.0 (${DIGEST}) is unsigned: no signature by a trusted key`);
    for (const r of Object.values(WATCH_RULES)) expect(describeWatchRule(r.id)?.shortDescription).toBe(r.title);
  });

  it("recognises cosign's sig/att/sbom tags and nothing else", () => {
    const hex = 'ab'.repeat(32);
    for (const t of [`sha256-${hex}.sig`, `sha256-${hex}.att`, `sha256-${hex}.sbom`]) expect(isCosignTag(t)).toBe(true);
    for (const t of ['latest', `sha256-${hex}`, `sha256-${hex}.sig2`, `sha256-${hex.slice(2)}.sig`, 'sha256-x.sig'])
      expect(isCosignTag(t), t).toBe(false);
  });
});
