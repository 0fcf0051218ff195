import { describe, expect, it } from 'vitest';
import type { Finding, Suppression } from '../../src/findings/finding.js';
import type { Inventory } from '../../src/inventory/image.js';
import type { Package } from '../../src/inventory/model.js';
import { toVulnerabilityCycloneDx } from '../../src/report/vuln-cyclonedx.js';
import { validateCycloneDx } from '../helpers/validate.js';

const DIGEST = `sha256:${'1'.repeat(64)}`;

function pkg(name: string, version: string, purl: string, path: string, source?: Package['source']): Package {
  return {
    name,
    version,
    type: purl.startsWith('pkg:deb') ? 'deb' : 'npm',
    purl,
    ...(source ? { source } : {}),
    licenses: [],
    locations: [{ path, layer: 0 }],
    layer: 0,
    foundBy: 'test',
  };
}

const PACKAGES = [
  pkg('libc6', '2.36-9', 'pkg:deb/debian/libc6@2.36-9?arch=amd64', 'var/lib/dpkg/status', {
    name: 'glibc',
    version: '2.36-9',
  }),
  pkg('minimist', '1.2.5', 'pkg:npm/minimist@1.2.5', 'app/node_modules/minimist/package.json'),
  // the same purl at a second path: its own component, ref purl#1
  pkg('minimist', '1.2.5', 'pkg:npm/minimist@1.2.5', 'tools/node_modules/minimist/package.json'),
];

const INV: Inventory = {
  subject: { kind: 'image', source: 'docker://registry.example.com/team/app:1', digest: DIGEST, layers: [] },
  os: { id: 'debian', versionId: '12', source: 'etc/os-release' },
  packages: PACKAGES,
  unknowns: [],
  stats: { files: 3, layers: [] },
};

function finding(p: Package, ruleId: string, over: Partial<Finding> = {}, published?: string): Finding {
  const matched = p.source ?? { name: p.name, version: p.version };
  return {
    ruleId,
    kind: 'vulnerability',
    severity: 'medium',
    confidence: 'high',
    title: `${ruleId} in ${matched.name}`,
    message: `${p.name} ${p.version} is affected by ${ruleId}`,
    location: { kind: 'image', image: DIGEST, layer: 0, path: p.locations[0]!.path },
    vulnerability: {
      package: { name: p.name, version: p.version, purl: p.purl, type: p.type },
      matched: { ecosystem: p.type === 'deb' ? 'Debian:12' : 'npm', ...matched },
      aliases: [],
      fixedVersions: [],
      status: 'not-fixed',
      sources: ['osv/CVE'],
      ...(published ? { published } : {}),
    },
    ...over,
  };
}

const vex = (status: string, justification?: string, kind: Suppression['kind'] = 'vex'): Suppression => ({
  kind,
  status,
  ...(justification ? { justification } : {}),
  source: 'vex.json#0',
});

type Vuln = {
  'bom-ref': string;
  id: string;
  affects: { ref: string; versions: unknown[] }[];
  analysis?: unknown;
  published?: string;
  recommendation: string;
};
const vulns = (findings: Finding[]): Vuln[] => {
  const bom = toVulnerabilityCycloneDx([{ inv: INV, findings }]);
  expect(validateCycloneDx(bom)).toEqual([]);
  return bom.vulnerabilities as Vuln[];
};

describe('CycloneDX vulnerabilities', () => {
  const [libc6, minimist, minimist2] = PACKAGES as [Package, Package, Package];

  it('points each finding at its own component, the same purl at another path included', () => {
    const v = vulns([finding(minimist, 'CVE-2021-44906'), finding(minimist2, 'CVE-2021-44906')]);
    expect(v).toHaveLength(1);
    expect(v[0]!.affects.map((a) => a.ref)).toEqual(['pkg:npm/minimist@1.2.5', 'pkg:npm/minimist@1.2.5#1']);
    expect(v[0]!.recommendation).toBe('no fixed version of minimist yet');
  });

  it('splits one id into two vulnerabilities when a statement suppresses it for one component only', () => {
    const v = vulns([
      finding(minimist, 'CVE-2021-44906', { suppression: vex('not_affected', 'component_not_present') }),
      finding(minimist2, 'CVE-2021-44906'),
    ]);
    expect(v.map((x) => [x['bom-ref'], x.affects.map((a) => a.ref), x.analysis])).toEqual([
      [
        'vulnerability:CVE-2021-44906',
        ['pkg:npm/minimist@1.2.5'],
        {
          state: 'not_affected',
          justification: 'code_not_present',
          detail: 'VEX status not_affected, justification component_not_present; statement: vex.json#0',
        },
      ],
      ['vulnerability:CVE-2021-44906#2', ['pkg:npm/minimist@1.2.5#1'], undefined],
    ]);
  });

  it.each([
    // OpenVEX statuses and justifications
    [vex('not_affected', 'vulnerable_code_not_in_execute_path'), 'not_affected', 'code_not_reachable', 'unaffected'],
    [
      vex('not_affected', 'inline_mitigations_already_exist'),
      'not_affected',
      'protected_by_mitigating_control',
      'unaffected',
    ],
    [vex('not_affected', 'vulnerable_code_cannot_be_controlled_by_adversary'), 'not_affected', undefined, 'unaffected'],
    [vex('fixed'), 'resolved', undefined, 'unaffected'],
    [vex('under_investigation'), 'in_triage', undefined, 'affected'],
    // CycloneDX VEX states and justifications pass through
    [vex('resolved'), 'resolved', undefined, 'unaffected'],
    [vex('false_positive'), 'false_positive', undefined, 'unaffected'],
    [vex('not_affected', 'protected_at_runtime'), 'not_affected', 'protected_at_runtime', 'unaffected'],
    [vex('exploitable'), 'exploitable', undefined, 'affected'],
    // a status Portcullis does not know claims nothing
    [vex('something_else'), undefined, undefined, 'affected'],
  ])(
    'analysis of %o: state %s, justification %s, installed version %s',
    (suppression, state, justification, status) => {
      const [v] = vulns([finding(libc6, 'CVE-2023-4806', { suppression })]);
      const a = v!.analysis as { state?: string; justification?: string; response?: string[]; detail: string };
      expect(a.state).toBe(state);
      expect(a.justification).toBe(justification);
      expect(a.response).toBeUndefined();
      expect(a.detail).toContain('statement: vex.json#0');
      if (suppression.justification) expect(a.detail).toContain(suppression.justification);
      expect(v!.affects[0]!.versions[0]).toEqual({ version: '2.36-9', status });
    },
  );

  // A policy exception or an ignore entry accepts a risk: no analysis state claims the code is unaffected.
  it.each([
    [vex('excepted', 'risk accepted until 2025-01-01', 'exception'), 'accepted by a policy exception'],
    [vex('ignored', 'we accept the risk', 'ignore'), 'ignored by an ignore entry'],
    [vex('ignored', undefined, 'ignore'), 'ignored by an ignore entry'],
  ])('analysis of %o: exploitable, will not fix, installed version affected', (suppression, said) => {
    const [v] = vulns([finding(libc6, 'CVE-2023-4806', { suppression })]);
    const why = suppression.justification ? `, reason: ${suppression.justification}` : '';
    expect(v!.analysis).toEqual({
      state: 'exploitable',
      response: ['will_not_fix'],
      detail: `${said}${why}; statement: vex.json#0`,
    });
    expect(v!.affects[0]!.versions).toEqual([{ version: '2.36-9', status: 'affected' }]);
  });

  it('lists fixed versions as unaffected only where the advisory names the component itself', () => {
    const fixed = (p: Package): Finding => {
      const f = finding(p, 'CVE-2023-1');
      return { ...f, vulnerability: { ...f.vulnerability!, fixedVersions: ['9'], status: 'fixed' } };
    };
    const [v] = vulns([fixed(libc6), fixed(minimist)]);
    expect(v!.affects).toEqual([
      { ref: 'pkg:deb/debian/libc6@2.36-9?arch=amd64', versions: [{ version: '2.36-9', status: 'affected' }] },
      {
        ref: 'pkg:npm/minimist@1.2.5',
        versions: [
          { version: '1.2.5', status: 'affected' },
          { version: '9', status: 'unaffected' },
        ],
      },
    ]);
  });

  it('writes published as an RFC 3339 date-time, and leaves out one it cannot read', () => {
    expect(vulns([finding(minimist, 'CVE-1', {}, '2023-01-02')])[0]!.published).toBe('2023-01-02T00:00:00.000Z');
    expect(vulns([finding(minimist, 'CVE-1', {}, '2023-01-02T03:04:05Z')])[0]!.published).toBe('2023-01-02T03:04:05Z');
    expect(vulns([finding(minimist, 'CVE-1', {}, 'last tuesday')])[0]).not.toHaveProperty('published');
  });
});
