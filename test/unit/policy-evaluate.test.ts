import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../src/findings/finding.js';
import { evaluate } from '../../src/policy/evaluate.js';
import type { EvaluationInput, Policy, PolicyRule } from '../../src/policy/model.js';
import { POLICY_RULES } from '../../src/policy/rules/index.js';
import { decisionJson, decisionTable } from '../../src/report/policy-decision.js';
import { check, image, NOW, policy, vuln } from '../helpers/policy.js';

function input(findings: Finding[], over: Partial<EvaluationInput> = {}): EvaluationInput {
  return { findings, checks: ['vulnerability', 'secret', 'misconfiguration'], image: image(), now: NOW, ...over };
}

const LODASH = vuln({ id: 'CVE-2021-23337', pkg: 'lodash', version: '4.17.20', aliases: ['GHSA-35jh-r3h4-6jhm'] });
const MINIMIST = vuln({ id: 'CVE-2021-44906', pkg: 'minimist', version: '1.2.5', severity: 'critical' });

describe('exceptions', () => {
  const rules = '  vulnerabilities:\n    failOn: high\n';
  const exc = (fields: string, expires = '2030-01-01') =>
    `  - ${fields}\n    reason: accepted risk\n    expires: ${expires}\n`;

  it('turn a FAIL into a PASS and are listed with the findings they cover', () => {
    expect(evaluate(policy(rules), input([LODASH])).pass).toBe(false);
    const d = evaluate(policy(rules, exc('id: CVE-2021-23337')), input([LODASH]));
    expect(d.pass).toBe(true);
    expect(d.exceptionsUsed).toEqual([
      {
        index: 1,
        line: 8,
        id: 'CVE-2021-23337',
        reason: 'accepted risk',
        expires: '2030-01-01',
        findings: ['CVE-2021-23337 pkg:npm/lodash@4.17.20'],
      },
    ]);
    expect(d.exceptionsExpired).toEqual([]);
  });

  it.each([
    ['an alias, in any case', 'id: ghsa-35jh-r3h4-6jhm', true],
    ['a package name', 'package: lodash', true],
    ['a purl pattern', 'package: pkg:npm/lodash@4.17.*', true],
    ['an image pattern', 'image: registry.example.com/team/*', true],
    ['an image digest', `image: "sha256:${'d'.repeat(64)}"`, true],
    ['another image', 'image: registry.example.com/other/*', false],
    ['id and package, both matching', 'id: CVE-2021-23337\n    package: lodash', true],
    ['id and package, one not matching', 'id: CVE-2021-23337\n    package: minimist', false],
    ['another advisory', 'id: CVE-2021-99999', false],
  ])('match by %s: %s', (_name, fields, applies) => {
    const d = evaluate(policy(rules, exc(fields)), input([LODASH]));
    expect(d.pass).toBe(applies);
    expect(d.exceptionsUsed.length).toBe(applies ? 1 : 0);
  });

  it('stop applying at their expiry, with a warning that names them, and the FAIL returns', () => {
    const d = evaluate(policy(rules, exc('id: CVE-2021-23337', '2026-06-01')), input([LODASH]));
    expect(d.pass).toBe(false);
    expect(d.exceptionsUsed).toEqual([]);
    expect(d.exceptionsExpired).toEqual([
      expect.objectContaining({ index: 1, expires: '2026-06-01', findings: ['CVE-2021-23337 pkg:npm/lodash@4.17.20'] }),
    ]);
    expect(d.warnings).toEqual([
      'exception #1 (line 8: CVE-2021-23337) expired on 2026-06-01 and no longer applies: 1 finding it covered count again',
    ]);
    expect(d.rules[0]?.findings).toEqual(['CVE-2021-23337 pkg:npm/lodash@4.17.20']);
    // One second later than now it still applies.
    expect(evaluate(policy(rules, exc('id: CVE-2021-23337', '2026-06-01T00:00:01Z')), input([LODASH])).pass).toBe(true);
  });

  it("an expired exception's findings that another exception covers do not count again, and the warning says which", () => {
    const both = exc('id: CVE-2021-23337', '2026-06-01') + exc('package: pkg:npm/lodash');
    const d = evaluate(policy(rules, both), input([LODASH, MINIMIST]));
    expect(d.warnings).toEqual([
      'exception #1 (line 8: CVE-2021-23337) expired on 2026-06-01 and no longer applies: 1 finding it covered stay excepted by #2',
    ]);
    expect(d.exceptionsUsed.map((u) => u.index)).toEqual([2]);
    expect(d.exceptionsExpired[0]?.stillExcepted).toEqual({
      findings: ['CVE-2021-23337 pkg:npm/lodash@4.17.20'],
      by: [2],
    });
    expect(decisionTable(d)).toContain('#1 (line 8) CVE-2021-23337: expired 2026-06-01; 1 finding stay excepted by #2');
  });

  it('an image exception by digest matches the manifest or the index it was chosen from', () => {
    const index = `sha256:${'e'.repeat(64)}`;
    const byIndex = exc(`image: "${index}"`);
    expect(evaluate(policy(rules, byIndex), input([LODASH], { image: image({ indexDigest: index }) })).pass).toBe(true);
    expect(evaluate(policy(rules, byIndex), input([LODASH])).pass).toBe(false);
  });

  it('warn two weeks ahead of expiry', () => {
    const d = evaluate(policy(rules, exc('id: CVE-2021-23337', '2026-06-10')), input([LODASH]));
    expect(d.pass).toBe(true);
    expect(d.warnings).toEqual(['exception #1 (line 8: CVE-2021-23337) expires on 2026-06-10 (in 9 days)']);
  });

  it('cover secrets and misconfigurations by rule id', () => {
    const secret = check('secret', 'aws-access-key', 'critical', 'root/.aws/credentials');
    const d = evaluate(policy('  secrets:\n    fail: ["*"]\n', exc('id: aws-access-key')), input([secret]));
    expect(d.pass).toBe(true);
  });

  it('are not credited for findings VEX already suppressed', () => {
    const suppressed = { ...LODASH, suppression: { kind: 'vex' as const, status: 'not_affected', source: 'vex.json' } };
    const d = evaluate(policy(rules, exc('id: CVE-2021-23337')), input([suppressed]));
    expect(d.pass).toBe(true);
    expect(d.exceptionsUsed).toEqual([]);
  });
});

describe('the decision fails closed', () => {
  const p = policy('  vulnerabilities:\n    failOn: high\n  maxAge: 30d\n');

  it('a rule that throws is an error outcome and the decision fails', () => {
    const boom: PolicyRule = {
      id: 'boom',
      title: 'Throws',
      configured: () => true,
      evaluate: () => {
        throw new Error('bad\ninput');
      },
    };
    const d = evaluate(p, input([]), [...POLICY_RULES, boom]);
    expect(d.pass).toBe(false);
    expect(d.rules.find((r) => r.id === 'boom')).toEqual({
      id: 'boom',
      title: 'Throws',
      outcome: 'error',
      reasons: ['the rule could not be evaluated: bad input'],
      findings: [],
    });
  });

  it('a rule that gives no verdict, or no reasons, is an error', () => {
    const empty: PolicyRule = {
      id: 'empty',
      title: 'E',
      configured: () => true,
      evaluate: () => ({ outcome: 'pass', reasons: [] }),
    };
    const junk: PolicyRule = {
      id: 'junk',
      title: 'J',
      configured: () => true,
      evaluate: () => ({ outcome: 'ok' }) as never,
    };
    const d = evaluate(p, input([]), [empty, junk]);
    expect(d.pass).toBe(false);
    expect(d.rules.map((r) => r.outcome)).toEqual(['error', 'error']);
  });

  it('a policy without rules fails', () => {
    const d = evaluate(p, input([]), []);
    expect(d.pass).toBe(false);
    expect(d.warnings).toContain('the policy configures no rule, so nothing can pass');
  });

  it('a clock without a valid time fails every rule', () => {
    const d = evaluate(p, input([], { now: new Date(Number.NaN) }));
    expect(d.pass).toBe(false);
    expect(d.rules.every((r) => r.outcome === 'error')).toBe(true);
  });

  it('a signature rule without a verifier fails the decision', () => {
    const signed = policy(
      `  baseImage:\n    approved:\n      - name: b\n        digest: sha256:${'e'.repeat(64)}\n        layers: [sha256:${'b'.repeat(64)}]\n    signature:\n      keys: ["sha256:${'1'.repeat(64)}"]\n`,
    );
    const d = evaluate(signed, input([]));
    expect(d.pass).toBe(false);
    expect(d.rules.map((r) => [r.id, r.outcome])).toEqual([
      ['base-image', 'pass'],
      ['base-image-signature', 'error'],
    ]);
  });
});

describe('the decision is deterministic', () => {
  const ids = ['CVE-2021-1', 'CVE-2021-2', 'CVE-2022-3', 'GHSA-aaaa-bbbb-cccc'];
  const pkgs = ['lodash', 'minimist', 'openssl', 'urllib3'];
  const findingArb = fc.oneof(
    {
      weight: 5,
      arbitrary: fc
        .record({
          id: fc.constantFrom(...ids),
          pkg: fc.constantFrom(...pkgs),
          version: fc.constantFrom('1.0.0', '2.0.0'),
          severity: fc.constantFrom('critical', 'high', 'medium', 'low', 'info', 'unknown'),
          status: fc.constantFrom('fixed', 'not-fixed', 'will-not-fix'),
          published: fc.option(fc.constantFrom('2020-01-01T00:00:00Z', '2026-05-30T00:00:00Z'), { nil: undefined }),
          aliases: fc.subarray(['CVE-2021-1', 'GHSA-xxxx-yyyy-zzzz']),
          urgency: fc.option(fc.constantFrom('unimportant', 'high'), { nil: undefined }),
        })
        .map((r) => vuln(r as Parameters<typeof vuln>[0])),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('secret', 'misconfiguration'),
          fc.constantFrom('aws-key', 'ROOT-USER'),
          fc.constantFrom('high', 'low'),
        )
        .map(([k, r, s]) => check(k as 'secret', r, s as 'high', `etc/${r}`)),
    },
  );
  const exceptionArb = fc
    .record({
      what: fc.constantFrom(
        ...ids.map((i) => `id: ${i}`),
        ...pkgs.map((p) => `package: ${p}`),
        'id: aws-key',
        'image: registry.example.com/*',
        'image: elsewhere/*',
      ),
      expires: fc.constantFrom(
        '2020-01-01',
        '2026-05-31',
        '2026-06-01',
        '2026-06-01T00:00:01Z',
        '2026-06-05',
        '2030-01-01',
      ),
    })
    .map((e) => `  - ${e.what}\n    reason: r\n    expires: ${e.expires}\n`);
  const policyArb = fc
    .record({
      failOn: fc.constantFrom('critical', 'high', 'medium', 'low'),
      onlyFixable: fc.boolean(),
      fixAge: fc.option(fc.constantFrom('1d', '30d'), { nil: undefined }),
      limit: fc.option(fc.nat(5), { nil: undefined }),
      secrets: fc.boolean(),
      exceptions: fc.array(exceptionArb, { maxLength: 5 }),
    })
    .map((r) => {
      let rules = `  vulnerabilities:\n    failOn: ${r.failOn}\n`;
      if (r.fixAge) rules += `    fixAvailableFor: ${r.fixAge}\n`;
      else rules += `    onlyFixable: ${r.onlyFixable}\n`;
      if (r.limit !== undefined) rules += `    limits:\n      total: ${r.limit}\n`;
      if (r.secrets) rules += '  secrets:\n    failOn: high\n';
      return policy(rules, r.exceptions.join(''));
    });

  it('shuffled findings give the same decision', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc
          .array(findingArb, { maxLength: 25 })
          .chain((fs) =>
            fc.tuple(fc.constant(fs), fc.shuffledSubarray(fs, { minLength: fs.length, maxLength: fs.length })),
          ),
        (p, [findings, shuffled]) => {
          const a = evaluate(p, input(findings));
          const b = evaluate(p, input(shuffled));
          expect(b).toEqual(a);
          expect(decisionTable(b)).toBe(decisionTable(a));
          expect(JSON.stringify(decisionJson(b))).toBe(JSON.stringify(decisionJson(a)));
          // And rules are sorted by id.
          expect(a.rules.map((r) => r.id)).toEqual([...a.rules.map((r) => r.id)].sort());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an exception that has expired never suppresses: removing it changes no rule outcome', () => {
    let expiredSeen = 0;
    fc.assert(
      fc.property(policyArb, fc.array(findingArb, { maxLength: 25 }), (p, findings) => {
        const d = evaluate(p, input(findings));
        const t = NOW.getTime();
        const expired = new Set(p.exceptions.filter((e) => e.expiresAt <= t).map((e) => e.index));
        expiredSeen += expired.size;
        for (const used of d.exceptionsUsed) expect(expired.has(used.index)).toBe(false);
        expect(d.exceptionsExpired.map((e) => e.index)).toEqual([...expired]);
        const withoutExpired: Policy = { ...p, exceptions: p.exceptions.filter((e) => !expired.has(e.index)) };
        const d2 = evaluate(withoutExpired, input(findings));
        expect(d2.rules).toEqual(d.rules);
        expect(d2.pass).toBe(d.pass);
        expect(d2.exceptionsUsed).toEqual(d.exceptionsUsed);
      }),
      { numRuns: 300 },
    );
    expect(expiredSeen).toBeGreaterThan(50);
  });
});

describe('the decision table', () => {
  it('shows every rule with its outcome, the exceptions, and the verdict', () => {
    const p = policy(
      '  vulnerabilities:\n    failOn: high\n  maxAge: 60d\n',
      '  - id: CVE-2021-23337\n    reason: not reachable\n    expires: 2030-01-01\n  - package: minimist\n    reason: old\n    expires: 2020-01-01\n',
    );
    const text = decisionTable(evaluate(p, input([LODASH, MINIMIST])));
    expect(text).toContain('vulnerabilities  FAIL     1 finding at or above the threshold');
    expect(text).toContain('CVE-2021-44906 in minimist 1.2.5 (critical) is at or above high; fixed in 9.9.9');
    expect(text).toContain('image-age        PASS     created 2026-05-01T00:00:00Z, 31 days ago: within maxAge 60d');
    expect(text).toContain('#1 (line 9) CVE-2021-23337, expires 2030-01-01: 1 finding; reason: not reachable');
    expect(text).toContain('#2 (line 12) minimist: expired 2020-01-01; 1 finding it covered count again');
    expect(text.trimEnd().split('\n').at(-1)).toBe('Decision: FAIL (1 of 2 rules did not pass)');
  });
});
