import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Finding, FindingKind } from '../../src/findings/finding.js';
import { globMatch, packageMatches } from '../../src/policy/match.js';
import type {
  ImageFacts,
  InventoryGap,
  Policy,
  RuleContext,
  RuleVerdict,
  SettingsUsed,
  SignatureCheck,
  SkippedRule,
} from '../../src/policy/model.js';
import { POLICY_RULES } from '../../src/policy/rules/index.js';
import { ROOT } from '../helpers/paths.js';
import { APP_DIFF_ID, BASE_DIFF_ID, check, IMAGE_DIGEST, image, NOW, policy, vuln } from '../helpers/policy.js';

function rule(id: string) {
  const r = POLICY_RULES.find((x) => x.id === id);
  if (!r) throw new Error(`no rule ${id}`);
  return r;
}

interface Run {
  findings?: Finding[];
  image?: ImageFacts;
  checks?: FindingKind[];
  signatures?: SignatureCheck[];
  now?: Date;
  skipped?: SkippedRule[];
  gaps?: InventoryGap[];
  settings?: SettingsUsed;
}

function run(id: string, p: Policy, r: Run = {}): RuleVerdict {
  const ctx: RuleContext = {
    policy: p,
    findings: r.findings ?? [],
    checks: r.checks ?? ['vulnerability'],
    image: r.image ?? image(),
    now: r.now ?? NOW,
    signatures: r.signatures,
    skipped: r.skipped ?? [],
    gaps: r.gaps,
    settings: r.settings,
  };
  expect(rule(id).configured(p)).toBe(true);
  return rule(id).evaluate(ctx);
}

describe('the rule registry', () => {
  it('lists one module per file under src/policy/rules/, named after its id, each documented in docs/policy.md', () => {
    const files = readdirSync(join(ROOT, 'src', 'policy', 'rules'))
      .filter((f) => f !== 'index.ts')
      .map((f) => f.replace(/\.ts$/, ''))
      .sort();
    expect(POLICY_RULES.map((r) => r.id).sort()).toEqual(files);
    const doc = readFileSync(join(ROOT, 'docs', 'policy.md'), 'utf8');
    for (const r of POLICY_RULES) {
      expect(doc, r.id).toContain(`<a id="${r.id}"></a>`);
      expect(readFileSync(join(ROOT, 'src', 'policy', 'rules', `${r.id}.ts`), 'utf8')).toContain(`id: '${r.id}'`);
    }
  });

  it('configures only the rules a policy names', () => {
    const p = policy('  maxAge: 30d\n');
    expect(POLICY_RULES.filter((r) => r.configured(p)).map((r) => r.id)).toEqual(['image-age']);
  });
});

describe('glob and package patterns', () => {
  it.each([
    ['*', '', true],
    ['*.example.com', 'registry.example.com', true],
    ['*.example.com', 'example.com', false],
    ['reg?stry', 'registry', true],
    ['a*b*c', 'a-b-x-c', true],
    ['a*b*c', 'a-c-b', false],
    ['ghcr.io/acme/*', 'ghcr.io/acme/team/app', true],
    ['exact', 'exactly', false],
  ])('%s against %s is %s', (pattern, text, want) => expect(globMatch(pattern, text)).toBe(want));

  it('stays linear on patterns that make regular expressions backtrack', () => {
    expect(globMatch(`${'*a'.repeat(200)}b`, 'a'.repeat(5000))).toBe(false);
  });

  it.each([
    ['lodash', true],
    ['lod*', true],
    ['pkg:npm/lodash', true],
    ['pkg:npm/*', true],
    ['pkg:npm/lodash@4.17.*', true],
    ['pkg:npm/lodash@4.18.*', false],
    ['pkg:pypi/lodash', false],
    ['upstream-lodash', true],
  ])('package pattern %s matches lodash 4.17.20 (source upstream-lodash): %s', (pattern, want) => {
    const f = vuln({ id: 'CVE-1', pkg: 'lodash', version: '4.17.20', source: 'upstream-lodash' });
    expect(packageMatches(pattern, f)).toBe(want);
  });

  it('purl patterns without a version ignore qualifiers; with one they match the purl without qualifiers', () => {
    const f = vuln({
      id: 'CVE-1',
      pkg: 'libssl3',
      version: '3.0.9-1',
      purl: 'pkg:deb/debian/libssl3@3.0.9-1?arch=amd64&distro=debian-12',
      source: 'openssl',
    });
    expect(packageMatches('pkg:deb/debian/libssl3', f)).toBe(true);
    expect(packageMatches('pkg:deb/debian/libssl3@3.0.9-1', f)).toBe(true);
    expect(packageMatches('openssl', f)).toBe(true);
    expect(packageMatches('pkg:deb/debian/libssl3@3.0.9-1?arch=amd64', f)).toBe(true);
  });

  it('a ? in a purl pattern is one character, not the start of qualifiers (which need key=value)', () => {
    const lodash = vuln({ id: 'CVE-1', pkg: 'lodash', version: '4.17.20', purl: 'pkg:npm/lodash@4.17.20' });
    const minimist = vuln({ id: 'CVE-2', pkg: 'minimist', version: '1.2.5', purl: 'pkg:npm/minimist@1.2.5' });
    expect(packageMatches('pkg:npm/*?odash', lodash)).toBe(true);
    expect(packageMatches('pkg:npm/*?odash', minimist)).toBe(false);
    expect(packageMatches('pkg:npm/lodash@4.17.2?', lodash)).toBe(true);
    expect(packageMatches('pkg:npm/lodash@4.17.1?', lodash)).toBe(false);
  });

  it('purl patterns name scoped npm packages as people write them, and PyPI names as PEP 503 normalises them', () => {
    const scoped = vuln({ id: 'CVE-1', pkg: '@acme/x', version: '1.2.0', purl: 'pkg:npm/%40acme/x@1.2.0' });
    for (const p of ['pkg:npm/@acme/x', 'pkg:npm/@acme/*', 'pkg:npm/%40acme/x', 'pkg:npm/@acme/x@1.*'])
      expect(packageMatches(p, scoped), p).toBe(true);
    for (const p of ['pkg:npm/@acme/y', 'pkg:npm/@other/*', 'pkg:npm/@acme/x@2.*'])
      expect(packageMatches(p, scoped), p).toBe(false);
    const py = vuln({ id: 'CVE-2', pkg: 'foo-bar', version: '1.0', purl: 'pkg:pypi/foo-bar@1.0' });
    expect(packageMatches('pkg:pypi/Foo_Bar', py)).toBe(true);
    expect(packageMatches('pkg:pypi/foo.bar@1.0', py)).toBe(true);
    // The inventory keeps a dotted name's dots (purl spec): every spelling still names it.
    const zope = vuln({ id: 'CVE-3', pkg: 'zope.interface', version: '5.0', purl: 'pkg:pypi/zope.interface@5.0' });
    for (const p of ['pkg:pypi/zope.interface', 'pkg:pypi/zope-interface@5.*', 'pkg:pypi/Zope_Interface'])
      expect(packageMatches(p, zope), p).toBe(true);
    expect(packageMatches('pkg:pypi/zope-interfaces', zope)).toBe(false);
    const deb = vuln({ id: 'CVE-3', pkg: 'tar', version: '1.34+dfsg-1.2', purl: 'pkg:deb/debian/tar@1.34%2Bdfsg-1.2' });
    expect(packageMatches('pkg:deb/debian/tar@1.34+dfsg-*', deb)).toBe(true);
  });
});

describe('vulnerabilities', () => {
  const old = '2024-01-01T00:00:00Z';
  const recent = '2026-05-25T00:00:00Z';
  const cases: [string, string, Finding[], 'pass' | 'fail', string[]][] = [
    [
      'below the threshold passes',
      '    failOn: high\n',
      [vuln({ id: 'CVE-1', pkg: 'a', severity: 'medium' })],
      'pass',
      [],
    ],
    [
      'at the threshold fails',
      '    failOn: high\n',
      [vuln({ id: 'CVE-1', pkg: 'a', severity: 'high' })],
      'fail',
      ['CVE-1 pkg:npm/a@1.0.0'],
    ],
    [
      'above fails, listed by id',
      '    failOn: medium\n',
      [vuln({ id: 'CVE-2', pkg: 'b', severity: 'critical' }), vuln({ id: 'CVE-1', pkg: 'a', severity: 'medium' })],
      'fail',
      ['CVE-1 pkg:npm/a@1.0.0', 'CVE-2 pkg:npm/b@1.0.0'],
    ],
    [
      'unknown counts as high by default',
      '    failOn: high\n',
      [vuln({ id: 'CVE-1', pkg: 'a', severity: 'unknown' })],
      'fail',
      ['CVE-1 pkg:npm/a@1.0.0'],
    ],
    [
      'unknown counts as what the policy says',
      '    failOn: high\n    unknownSeverity: low\n',
      [vuln({ id: 'CVE-1', pkg: 'a', severity: 'unknown' })],
      'pass',
      [],
    ],
    [
      'onlyFixable leaves out findings without a fix',
      '    failOn: high\n    onlyFixable: true\n',
      [vuln({ id: 'CVE-1', pkg: 'a', status: 'not-fixed' }), vuln({ id: 'CVE-2', pkg: 'b', status: 'will-not-fix' })],
      'pass',
      [],
    ],
    [
      'without onlyFixable, unfixed findings fail',
      '    failOn: high\n',
      [vuln({ id: 'CVE-1', pkg: 'a', status: 'not-fixed' })],
      'fail',
      ['CVE-1 pkg:npm/a@1.0.0'],
    ],
    [
      'fixAvailableFor: a fix published recently does not fail yet, an old one does',
      '    failOn: high\n    fixAvailableFor: 14d\n',
      [vuln({ id: 'CVE-1', pkg: 'a', published: recent }), vuln({ id: 'CVE-2', pkg: 'b', published: old })],
      'fail',
      ['CVE-2 pkg:npm/b@1.0.0'],
    ],
    [
      'fixAvailableFor: an undated advisory counts (the safe reading)',
      '    failOn: high\n    fixAvailableFor: 14d\n',
      [vuln({ id: 'CVE-1', pkg: 'a' })],
      'fail',
      ['CVE-1 pkg:npm/a@1.0.0'],
    ],
    [
      'fixAvailableFor implies onlyFixable',
      '    failOn: high\n    fixAvailableFor: 14d\n',
      [vuln({ id: 'CVE-1', pkg: 'a', status: 'not-fixed', published: old })],
      'pass',
      [],
    ],
    [
      'a package rule with its own threshold',
      '    failOn: critical\n    packages:\n      - package: pkg:npm/b\n        failOn: medium\n',
      [vuln({ id: 'CVE-1', pkg: 'a', severity: 'high' }), vuln({ id: 'CVE-2', pkg: 'b', severity: 'medium' })],
      'fail',
      ['CVE-2 pkg:npm/b@1.0.0'],
    ],
    [
      'a package rule that ignores',
      '    failOn: low\n    packages:\n      - package: a\n        ignore: true\n        reason: test only\n',
      [vuln({ id: 'CVE-1', pkg: 'a', severity: 'critical' })],
      'pass',
      [],
    ],
    [
      'the first matching package rule wins',
      '    failOn: low\n    packages:\n      - package: a\n        failOn: critical\n      - package: "*"\n        ignore: true\n        reason: r\n',
      [vuln({ id: 'CVE-1', pkg: 'a', severity: 'critical' }), vuln({ id: 'CVE-2', pkg: 'b', severity: 'critical' })],
      'fail',
      ['CVE-1 pkg:npm/a@1.0.0'],
    ],
    [
      'a package rule can switch onlyFixable off for its package',
      '    failOn: high\n    onlyFixable: true\n    packages:\n      - package: a\n        onlyFixable: false\n',
      [vuln({ id: 'CVE-1', pkg: 'a', status: 'not-fixed' }), vuln({ id: 'CVE-2', pkg: 'b', status: 'not-fixed' })],
      'fail',
      ['CVE-1 pkg:npm/a@1.0.0'],
    ],
    [
      "the distribution's unimportant issues do not count unless asked",
      '    failOn: low\n',
      [vuln({ id: 'CVE-1', pkg: 'a', urgency: 'unimportant' })],
      'pass',
      [],
    ],
    [
      'includeUnimportant counts them',
      '    failOn: low\n    includeUnimportant: true\n',
      [vuln({ id: 'CVE-1', pkg: 'a', urgency: 'unimportant' })],
      'fail',
      ['CVE-1 pkg:npm/a@1.0.0'],
    ],
    [
      'other kinds of findings are not vulnerabilities',
      '    failOn: low\n',
      [check('secret', 'aws-key', 'critical', 'etc/key')],
      'pass',
      [],
    ],
  ];
  it.each(cases)('%s', (_name, yaml, findings, outcome, ids) => {
    const v = run('vulnerabilities', policy(`  vulnerabilities:\n${yaml}`), { findings });
    expect(v.outcome).toBe(outcome);
    expect(v.findings ?? []).toEqual(ids);
    expect(v.reasons.length).toBeGreaterThan(0);
  });

  it('names each failing finding with its package, severity, fix and age', () => {
    const v = run('vulnerabilities', policy('  vulnerabilities:\n    failOn: high\n'), {
      findings: [
        vuln({
          id: 'CVE-2021-44906',
          pkg: 'minimist',
          version: '1.2.5',
          severity: 'critical',
          published: '2026-05-01T00:00:00Z',
        }),
      ],
    });
    expect(v.reasons[1]).toBe(
      'CVE-2021-44906 in minimist 1.2.5 (critical) is at or above high; fixed in 9.9.9; published 2026-05-01, 31 days ago',
    );
  });

  it('reports an error when no vulnerability scan ran', () => {
    expect(run('vulnerabilities', policy('  vulnerabilities:\n    failOn: high\n'), { checks: [] }).outcome).toBe(
      'error',
    );
  });
});

describe('vulnerability-limits', () => {
  const findings = [
    vuln({ id: 'CVE-1', pkg: 'a', severity: 'medium' }),
    vuln({ id: 'CVE-2', pkg: 'b', severity: 'medium' }),
    vuln({ id: 'CVE-3', pkg: 'c', severity: 'low' }),
    vuln({ id: 'CVE-4', pkg: 'd', severity: 'low', status: 'not-fixed' }),
  ];
  it.each([
    ['    limits:\n      medium: 2\n', 'pass', []],
    ['    limits:\n      medium: 1\n', 'fail', ['CVE-1 pkg:npm/a@1.0.0', 'CVE-2 pkg:npm/b@1.0.0']],
    [
      '    limits:\n      total: 3\n',
      'fail',
      ['CVE-1 pkg:npm/a@1.0.0', 'CVE-2 pkg:npm/b@1.0.0', 'CVE-3 pkg:npm/c@1.0.0', 'CVE-4 pkg:npm/d@1.0.0'],
    ],
    ['    onlyFixable: true\n    limits:\n      total: 3\n', 'pass', []],
    ['    limits:\n      critical: 0\n      high: 0\n', 'pass', []],
  ])('%s', (yaml, outcome, ids) => {
    const v = run('vulnerability-limits', policy(`  vulnerabilities:\n    failOn: critical\n${yaml}`), { findings });
    expect(v.outcome).toBe(outcome);
    expect(v.findings ?? []).toEqual(ids);
  });

  it('says the count and the limit', () => {
    const v = run(
      'vulnerability-limits',
      policy('  vulnerabilities:\n    failOn: critical\n    limits:\n      medium: 1\n'),
      { findings },
    );
    expect(v.reasons).toEqual(['medium: 2 findings, more than the limit of 1']);
  });
});

describe('misconfigurations and secrets', () => {
  const findings = [
    check('secret', 'aws-access-key-id', 'critical', 'root/.aws/credentials'),
    check('secret', 'dotenv-secret', 'low', 'srv/app/.env'),
    check('misconfiguration', 'root-user', 'medium', 'config'),
  ];
  const both: FindingKind[] = ['vulnerability', 'secret', 'misconfiguration'];
  it.each([
    [
      'secrets',
      '  secrets:\n    fail: ["*"]\n',
      'fail',
      ['aws-access-key-id /root/.aws/credentials', 'dotenv-secret /srv/app/.env'],
    ],
    ['secrets', '  secrets:\n    failOn: high\n', 'fail', ['aws-access-key-id /root/.aws/credentials']],
    ['secrets', '  secrets:\n    fail: [aws-*]\n', 'fail', ['aws-access-key-id /root/.aws/credentials']],
    ['secrets', '  secrets:\n    fail: [gcp-*]\n', 'pass', []],
    ['misconfigurations', '  misconfigurations:\n    fail: [root-user]\n', 'fail', ['root-user /config']],
    ['misconfigurations', '  misconfigurations:\n    failOn: high\n', 'pass', []],
  ])('%s %s', (id, yaml, outcome, ids) => {
    const v = run(id, policy(yaml), { findings, checks: both });
    expect(v.outcome).toBe(outcome);
    expect(v.findings ?? []).toEqual(ids);
  });

  it('a rule named outright that could not run is an error; a wildcard over it is not', () => {
    const skipped = [{ id: 'image-unsigned', reason: 'no trust policy was given' }];
    const named = run('misconfigurations', policy('  misconfigurations:\n    fail: [image-unsigned, root-user]\n'), {
      findings,
      checks: both,
      skipped,
    });
    expect(named).toEqual({
      outcome: 'error',
      reasons: ['image-unsigned did not run on this image (no trust policy was given), so the policy cannot tell'],
    });
    const wild = run('misconfigurations', policy('  misconfigurations:\n    fail: ["image-*"]\n'), {
      findings,
      checks: both,
      skipped,
    });
    expect(wild.outcome).toBe('pass');
    expect(wild.reasons).toContain('not run on this image: image-unsigned (no trust policy was given)');
  });

  it('a pattern none of whose rules ran is an error (the build rules of an image without readable history)', () => {
    const reason = 'the image history holds no build step to read; give --dockerfile';
    const skipped = ['apt-get-update-alone', 'apt-dist-upgrade', 'apk-no-cache'].map((id) => ({ id, reason }));
    const v = run('misconfigurations', policy('  misconfigurations:\n    fail: ["ap*"]\n'), {
      findings,
      checks: both,
      skipped,
    });
    expect(v).toEqual({
      outcome: 'error',
      reasons: ['none of the rules ap* covers ran on this image, so the policy cannot tell'],
    });
  });

  it('report an error, not a pass, when no such scan ran', () => {
    const v = run('secrets', policy('  secrets:\n    fail: ["*"]\n'), { findings: [] });
    expect(v).toEqual({
      outcome: 'error',
      reasons: ['no secret scan ran on this image, so the policy cannot tell that it has none'],
    });
    expect(run('misconfigurations', policy('  misconfigurations:\n    failOn: low\n')).outcome).toBe('error');
  });
});

describe('base-image', () => {
  const approved = (extra = '') =>
    `  baseImage:\n    approved:\n      - name: debian-base\n        layers: [${BASE_DIFF_ID}]\n      - name: other\n        digest: sha256:${'e'.repeat(64)}\n${extra}`;
  const otherBase = `sha256:${'f'.repeat(64)}`;

  it('passes when the bottom layers equal an approved base (by diff_id or by layer digest)', () => {
    expect(run('base-image', policy(approved()))).toEqual({
      outcome: 'pass',
      reasons: ['the bottom layer matches approved base image debian-base'],
    });
    const byDigest = policy(
      `  baseImage:\n    approved:\n      - name: by-digest\n        layers: [sha256:${'c'.repeat(64)}]\n`,
    );
    expect(run('base-image', byDigest).outcome).toBe('pass');
  });

  it('prefers the longest matching base', () => {
    const p = policy(
      `  baseImage:\n    approved:\n      - name: short\n        layers: [${BASE_DIFF_ID}]\n      - name: long\n        layers: [${BASE_DIFF_ID}, ${APP_DIFF_ID}]\n`,
    );
    expect(run('base-image', p).reasons).toEqual(['the bottom 2 layers match approved base image long']);
  });

  it('fails when the bottom layer matches no approved base', () => {
    const v = run('base-image', policy(approved()), {
      image: image({ layers: [{ diffId: otherBase }, { diffId: APP_DIFF_ID }] }),
    });
    expect(v.outcome).toBe('fail');
    expect(v.reasons[0]).toMatch(
      /^the bottom layer sha256:ffffffffffff… matches no approved base image \(debian-base, other\)/,
    );
  });

  it('fails when an image has fewer layers than the base', () => {
    const p = policy(
      `  baseImage:\n    approved:\n      - name: two\n        layers: [${BASE_DIFF_ID}, ${APP_DIFF_ID}]\n`,
    );
    expect(run('base-image', p, { image: image({ layers: [{ diffId: BASE_DIFF_ID }] }) }).outcome).toBe('fail');
  });

  it('accepts a base.digest annotation only with trustAnnotations, for a base without layers', () => {
    const claims = image({
      layers: [{ diffId: otherBase }],
      annotations: { 'org.opencontainers.image.base.digest': `sha256:${'e'.repeat(64)}` },
    });
    const off = run('base-image', policy(approved()), { image: claims });
    expect(off.outcome).toBe('fail');
    expect(off.reasons[0]).toMatch(
      /\(approved base other\), but that base lists no layers to check and trustAnnotations is false$/,
    );
    const on = run('base-image', policy(approved('    trustAnnotations: true\n')), { image: claims });
    expect(on).toEqual({
      outcome: 'pass',
      reasons: [
        "the annotation org.opencontainers.image.base.digest names approved base image other (the builder's claim: trustAnnotations is on and the base lists no layers)",
      ],
    });
  });

  it('refuses an annotation that names a base whose layers do not match (a false claim)', () => {
    const p = policy(
      `  baseImage:\n    trustAnnotations: true\n    approved:\n      - name: debian-base\n        digest: sha256:${'9'.repeat(64)}\n        layers: [${BASE_DIFF_ID}]\n`,
    );
    const liar = image({
      layers: [{ diffId: otherBase }],
      labels: { 'org.opencontainers.image.base.digest': `sha256:${'9'.repeat(64)}` },
    });
    const v = run('base-image', p, { image: liar });
    expect(v.outcome).toBe('fail');
    expect(v.reasons[0]).toMatch(/label org\.opencontainers\.image\.base\.digest names .*bottom layers differ/);
  });

  it('matches base.name when there is no base.digest, and refuses an unapproved name', () => {
    const p = policy(
      `  baseImage:\n    trustAnnotations: true\n    approved:\n      - name: docker.io/library/debian:bookworm\n        digest: sha256:${'e'.repeat(64)}\n`,
    );
    const named = (n: string) =>
      image({ layers: [{ diffId: otherBase }], annotations: { 'org.opencontainers.image.base.name': n } });
    expect(run('base-image', p, { image: named('docker.io/library/debian:bookworm') }).outcome).toBe('pass');
    expect(run('base-image', p, { image: named('docker.io/evil/debian:bookworm') }).reasons[0]).toMatch(
      /not an approved base image/,
    );
  });

  it('fails for a root file system', () => {
    const v = run('base-image', policy(approved()), { image: image({ kind: 'rootfs', layers: [] }) });
    expect(v.outcome).toBe('fail');
  });
});

describe('base-image-signature', () => {
  const key = `sha256:${'1'.repeat(64)}`;
  const baseDigest = `sha256:${'e'.repeat(64)}`;
  const p = policy(
    `  baseImage:\n    approved:\n      - name: debian-base\n        digest: ${baseDigest}\n        layers: [${BASE_DIFF_ID}]\n    signature:\n      keys: ["${key}"]\n`,
  );

  it('fails closed with a reason when no verifier ran', () => {
    const v = run('base-image-signature', p);
    expect(v.outcome).toBe('error');
    expect(v.reasons[0]).toMatch(
      /no signature verifier ran, so the signature of debian-base \(sha256:e+\) is unchecked/,
    );
  });

  it('passes with a verified signature by a trusted key on the base digest', () => {
    const v = run('base-image-signature', p, {
      signatures: [{ digest: baseDigest, verified: true, keyFingerprint: key, detail: 'ok' }],
    });
    expect(v).toEqual({ outcome: 'pass', reasons: [`debian-base (${baseDigest}) is signed with trusted key ${key}`] });
  });

  it.each([
    ['nothing found', [], /no signature of debian-base .* was found/],
    [
      'failed verification',
      [{ digest: baseDigest, verified: false, detail: 'signature does not verify: payload edited' }],
      /payload edited/,
    ],
    [
      'an untrusted key',
      [{ digest: baseDigest, verified: true, keyFingerprint: `sha256:${'2'.repeat(64)}`, detail: 'ok' }],
      /does not trust/,
    ],
    ['another digest', [{ digest: IMAGE_DIGEST, verified: true, keyFingerprint: key, detail: 'ok' }], /was found/],
  ] as [string, SignatureCheck[], RegExp][])('fails on %s', (_name, signatures, why) => {
    const v = run('base-image-signature', p, { signatures });
    expect(v.outcome).toBe('fail');
    expect(v.reasons.join(' | ')).toMatch(why);
  });

  it('fails when no approved base is identified, and errs when the base has no digest to check', () => {
    expect(
      run('base-image-signature', p, { image: image({ layers: [{ diffId: APP_DIFF_ID }] }), signatures: [] }).outcome,
    ).toBe('fail');
    const noDigest = policy(
      `  baseImage:\n    approved:\n      - name: b\n        layers: [${BASE_DIFF_ID}]\n    signature:\n      keys: ["${key}"]\n`,
    );
    expect(run('base-image-signature', noDigest, { signatures: [] }).outcome).toBe('error');
  });
});

describe('registries', () => {
  it.each([
    [['registry.example.com'], 'pass'],
    [['*.example.com'], 'pass'],
    [['REGISTRY.example.com'], 'pass'],
    [['registry.example.com/team/*'], 'pass'],
    [['registry.example.com/other/*'], 'fail'],
    [['ghcr.io', 'docker.io'], 'fail'],
  ])('%j: %s', (patterns, outcome) => {
    const yaml = `  registries:\n${patterns.map((p) => `    - "${p}"\n`).join('')}`;
    expect(run('registries', policy(yaml)).outcome).toBe(outcome);
  });

  it('fails for an image that is not in a registry', () => {
    const local = image({ reference: 'oci:layout:latest', name: 'oci:layout:latest' });
    const { registry: _, ...noRegistry } = local;
    const v = run('registries', policy('  registries: ["*"]\n'), { image: noRegistry });
    expect(v).toEqual({
      outcome: 'fail',
      reasons: ['oci:layout:latest is not a registry image, so its registry cannot be allowed'],
    });
  });
});

describe('labels', () => {
  it.each([
    ['    - key: org.opencontainers.image.source\n', 'pass'],
    ['    - key: org.opencontainers.image.source\n      value: https://github\\.com/acme/.*\n', 'pass'],
    // The pattern must match the whole value, not a part of it.
    ['    - key: org.opencontainers.image.source\n      value: github\\.com/acme\n', 'fail'],
    ['    - key: org.opencontainers.image.revision\n', 'fail'],
  ])('%s', (yaml, outcome) => {
    expect(run('labels', policy(`  labels:\n${yaml}`)).outcome).toBe(outcome);
  });

  it('names the missing, empty and mismatching labels', () => {
    const v = run('labels', policy('  labels:\n    - key: a\n    - key: b\n    - key: c\n      value: "x+"\n'), {
      image: image({ labels: { b: '', c: 'xy' } }),
    });
    expect(v).toEqual({
      outcome: 'fail',
      reasons: ['label a is missing', 'label b is empty', "label c = 'xy' does not match x+"],
    });
  });

  it('does not run a pattern over a very long value', () => {
    const v = run('labels', policy('  labels:\n    - key: a\n      value: "(a+)+"\n'), {
      image: image({ labels: { a: `${'a'.repeat(5000)}!` } }),
    });
    expect(v.reasons).toEqual(['label a is longer than 4096 characters']);
  });
});

describe('image-age', () => {
  it.each([
    ['2026-05-01T00:00:00Z', '60d', 'pass', 'created 2026-05-01T00:00:00Z, 31 days ago: within maxAge 60d'],
    ['2026-05-01T00:00:00Z', '2w', 'fail', 'created 2026-05-01T00:00:00Z, 31 days ago: older than maxAge 2w'],
    ['2026-06-01T00:30:00Z', '1h', 'pass', 'created 2026-06-01T00:30:00Z, 0 days ago: within maxAge 1h'],
    ['2026-06-02T00:00:00Z', '60d', 'fail', 'created 2026-06-02T00:00:00Z is in the future'],
    ['yesterday', '60d', 'fail', "created 'yesterday' is not a time"],
  ])('created %s, maxAge %s: %s', (created, max, outcome, reason) => {
    expect(run('image-age', policy(`  maxAge: ${max}\n`), { image: image({ created }) })).toEqual({
      outcome,
      reasons: [reason],
    });
  });

  it('fails an image without a created time', () => {
    const { created: _, ...none } = image();
    expect(run('image-age', policy('  maxAge: 1d\n'), { image: none }).outcome).toBe('fail');
  });
});

describe('inventory', () => {
  const complete = policy('  inventory:\n    complete: true\n');
  it('passes when every package record found was read', () => {
    expect(run('inventory', complete, { gaps: [] })).toEqual({
      outcome: 'pass',
      reasons: ['every package record found was read, and every installed version'],
    });
  });

  it('fails on each record not read, naming the cataloger, the path and why, at most 20 listed', () => {
    const gap = (i: number): InventoryGap => ({
      path: `app/lib/x${i}.jar`,
      cataloger: 'java',
      message: 'central directory lists entries the stream did not reach',
    });
    const one = run('inventory', complete, { gaps: [gap(1)] });
    expect(one).toEqual({
      outcome: 'fail',
      reasons: ['java: /app/lib/x1.jar: central directory lists entries the stream did not reach'],
    });
    const many = run('inventory', complete, { gaps: Array.from({ length: 25 }, (_, i) => gap(i)) });
    expect(many.reasons).toHaveLength(21);
    expect(many.reasons.at(-1)).toBe('… and 5 more not read');
  });

  it('fails closed when no inventory was taken', () => {
    expect(run('inventory', complete).outcome).toBe('fail');
  });
});

describe('check-settings', () => {
  const hex = 'ab'.repeat(32);
  const file: SettingsUsed = { file: 'ci/checks.yaml', digest: `sha256:${hex}` };
  const other: SettingsUsed = { file: 'ci/relaxed.yaml', digest: `sha256:${'cd'.repeat(32)}` };
  const onlyDefaults = policy('  checkSettings:\n    allow: [defaults]\n');
  const reviewed = policy(`  checkSettings:\n    allow: [defaults, "sha256:${hex.toUpperCase()}"]\n`);

  it('passes the default settings, or a settings file whose sha256 the policy lists (in any case)', () => {
    expect(run('check-settings', onlyDefaults, { settings: 'defaults' })).toEqual({
      outcome: 'pass',
      reasons: ['the checks ran with the default settings'],
    });
    expect(run('check-settings', reviewed, { settings: file })).toEqual({
      outcome: 'pass',
      reasons: [`the checks ran with the settings of ci/checks.yaml (sha256:${hex}), which the policy allows`],
    });
  });

  it('fails settings the policy does not list, naming the file, its digest and what is allowed', () => {
    expect(run('check-settings', reviewed, { settings: other })).toEqual({
      outcome: 'fail',
      reasons: [
        `the checks ran with the settings of ci/relaxed.yaml (sha256:${'cd'.repeat(32)}), which the policy does not allow (allowed: defaults, sha256:${hex})`,
      ],
    });
    expect(run('check-settings', onlyDefaults, { settings: file }).outcome).toBe('fail');
    const fileOnly = policy(`  checkSettings:\n    allow: ["sha256:${hex}"]\n`);
    expect(run('check-settings', fileOnly, { settings: 'defaults' })).toEqual({
      outcome: 'fail',
      reasons: [`the checks ran with the default settings, which the policy does not allow (allowed: sha256:${hex})`],
    });
  });

  it('errs when the caller cannot say which settings the checks ran with', () => {
    expect(run('check-settings', onlyDefaults).outcome).toBe('error');
  });
});
