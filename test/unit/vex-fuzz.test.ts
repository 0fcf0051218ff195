import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import type { Finding } from '../../src/findings/finding.js';
import { applyVex } from '../../src/vex/apply.js';
import { parseVex } from '../../src/vex/load.js';

const DIGEST = `sha256:${'1'.repeat(64)}`;
const FINDING: Finding = {
  ruleId: 'CVE-2021-23337',
  kind: 'vulnerability',
  severity: 'high',
  confidence: 'high',
  title: 't',
  message: 'm',
  location: { kind: 'image', image: DIGEST },
  vulnerability: {
    package: { name: 'lodash', version: '4.17.20', purl: 'pkg:npm/lodash@4.17.20', type: 'npm' },
    matched: { ecosystem: 'npm', name: 'lodash', version: '4.17.20' },
    aliases: ['GHSA-35jh-r3h4-6jhm'],
    fixedVersions: ['4.17.21'],
    status: 'fixed',
    sources: ['test'],
  },
};

/** Statements (which apply cleanly) or a one-line VEX_INVALID naming the file: never another error. */
function check(text: string): 'statements' | 'refused' {
  let statements: Parameters<typeof applyVex>[1];
  try {
    statements = parseVex(text, 'fuzz.json').statements;
  } catch (err) {
    if (!(err instanceof PortcullisError) || err.code !== 'VEX_INVALID') throw err;
    expect(err.message).toMatch(/^fuzz\.json: \$/);
    expect(err.message).not.toMatch(/[\n\r\u2028\u2029]/);
    return 'refused';
  }
  const out = applyVex([FINDING], statements, {
    digest: DIGEST,
    packages: [{ purl: 'pkg:npm/lodash@4.17.20', paths: ['node_modules/lodash/package.json'] }],
  });
  expect(out.findings).toHaveLength(1);
  return statements.length > 0 ? 'statements' : 'refused';
}

/** Run a property and show that it reached both outcomes (a fuzzer that only ever hits one proves little). */
function both<T>(arb: fc.Arbitrary<T>, text: (v: T) => string, numRuns: number): void {
  const seen = { statements: 0, refused: 0 };
  fc.assert(
    fc.property(arb, (v) => {
      seen[check(text(v))]++;
    }),
    { numRuns },
  );
  expect(seen.statements).toBeGreaterThan(numRuns / 50);
  expect(seen.refused).toBeGreaterThan(numRuns / 50);
}

const anything = fc.jsonValue({ maxDepth: 3 });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.oneof({ weight: 60, arbitrary: a }, { weight: 1, arbitrary: anything });
const hex = fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.stringMatching(/^[0-9a-fA-F]{0,130}$/));
const text = fc.string({ maxLength: 20 }).map((x) => `x${x}`);
const time = maybe(
  fc
    .oneof(
      {
        weight: 20,
        arbitrary: fc.date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }),
      },
      { weight: 1, arbitrary: fc.date({ noInvalidDate: true }) },
    )
    .map((d) => d.toISOString()),
);
const ident = maybe(
  fc.constantFrom(
    DIGEST,
    `pkg:oci/app@sha256%3A${'1'.repeat(64)}?arch=amd64`,
    'pkg:oci/app',
    'pkg:npm/lodash',
    'pkg:npm/lodash@4.17.20',
    'pkg:npm/%zz',
    'pkg:',
    `ghcr.io/a/b@${DIGEST}`,
    'app:latest',
  ),
);
const component = maybe(
  fc.oneof(
    ident,
    fc.record(
      {
        '@id': ident,
        identifiers: maybe(fc.record({ purl: ident }, { requiredKeys: [] })),
        hashes: maybe(fc.dictionary(fc.constantFrom('sha-256', 'sha-512', 'md5'), maybe(hex))),
      },
      { requiredKeys: [] },
    ),
  ),
);
const openvexDoc = fc.record(
  {
    '@context': maybe(fc.constantFrom('https://openvex.dev/ns/v0.2.0', 'https://openvex.dev/ns')),
    '@id': maybe(fc.constant('urn:x')),
    timestamp: time,
    statements: maybe(
      fc.array(
        maybe(
          fc.record(
            {
              vulnerability: maybe(
                fc.oneof(
                  fc.constantFrom('CVE-2021-23337', 'GHSA-35jh-r3h4-6jhm'),
                  fc.record({
                    name: maybe(fc.constant('CVE-2021-23337')),
                    aliases: maybe(fc.array(maybe(fc.constantFrom('GHSA-35jh-r3h4-6jhm', 'CVE-1')))),
                  }),
                ),
              ),
              products: maybe(
                fc.array(
                  fc.oneof(
                    component,
                    fc.record({ '@id': ident, subcomponents: maybe(fc.array(component, { maxLength: 3 })) }),
                  ),
                  { minLength: 1, maxLength: 3 },
                ),
              ),
              subcomponents: maybe(fc.array(component, { maxLength: 2 })),
              status: maybe(fc.constantFrom('not_affected', 'affected', 'fixed', 'under_investigation')),
              justification: maybe(fc.constantFrom('component_not_present', 'inline_mitigations_already_exist')),
              impact_statement: maybe(text),
              action_statement: maybe(text),
              timestamp: time,
            },
            { requiredKeys: ['vulnerability', 'products', 'status'] },
          ),
        ),
        { minLength: 1, maxLength: 4 },
      ),
    ),
  },
  { requiredKeys: ['@context', '@id', 'timestamp', 'statements'] },
);
const cdxFields = {
  type: maybe(fc.constantFrom('container', 'library', 'application')),
  name: maybe(fc.constantFrom('app', 'lodash')),
  'bom-ref': maybe(
    fc.oneof(
      fc.constantFrom('a', 'lodash'),
      fc.string({ minLength: 1, maxLength: 6 }).map((x) => `r${x}`),
    ),
  ),
  purl: ident,
  version: maybe(fc.constantFrom(DIGEST, '4.17.20')),
  hashes: maybe(fc.array(fc.record({ alg: maybe(fc.constant('SHA-256')), content: maybe(hex) }))),
};
const cdxComponent = fc.record(cdxFields, { requiredKeys: [] });
const cyclonedxDoc = fc.record(
  {
    bomFormat: fc.constant('CycloneDX'),
    specVersion: maybe(fc.constantFrom('1.4', '1.5', '1.6')),
    serialNumber: maybe(fc.constant('urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79')),
    version: maybe(fc.constant(1)),
    metadata: maybe(fc.record({ timestamp: time, component: maybe(cdxComponent) }, { requiredKeys: [] })),
    components: maybe(
      fc.array(maybe(fc.record({ ...cdxFields, components: maybe(fc.array(cdxComponent)) }, { requiredKeys: [] }))),
    ),
    vulnerabilities: maybe(
      fc.array(
        maybe(
          fc.record(
            {
              id: maybe(fc.constantFrom('CVE-2021-23337', 'GHSA-35jh-r3h4-6jhm')),
              references: maybe(fc.array(maybe(fc.record({ id: maybe(fc.constant('CVE-2021-23337')) })))),
              analysis: maybe(
                fc.record(
                  {
                    state: maybe(
                      fc.constantFrom('not_affected', 'false_positive', 'resolved', 'exploitable', 'in_triage'),
                    ),
                    justification: maybe(fc.constantFrom('code_not_present', 'requires_environment')),
                    detail: maybe(text),
                    lastUpdated: time,
                  },
                  { requiredKeys: ['state'] },
                ),
              ),
              affects: maybe(
                fc.array(
                  maybe(
                    fc.record(
                      {
                        ref: maybe(
                          fc.constantFrom(
                            'a',
                            'lodash',
                            'pkg:npm/lodash',
                            'urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#lodash',
                            'urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#%E0%A4%A',
                          ),
                        ),
                        versions: maybe(
                          fc.array(
                            maybe(
                              fc.record(
                                {
                                  version: maybe(fc.constantFrom('4.17.20', '1.0')),
                                  range: maybe(fc.constant('vers:npm/<5')),
                                },
                                { requiredKeys: [] },
                              ),
                            ),
                          ),
                        ),
                      },
                      { requiredKeys: ['ref'] },
                    ),
                  ),
                  { minLength: 1, maxLength: 3 },
                ),
              ),
            },
            { requiredKeys: ['id', 'analysis', 'affects'] },
          ),
        ),
        { minLength: 1, maxLength: 4 },
      ),
    ),
  },
  { requiredKeys: ['bomFormat', 'specVersion', 'vulnerabilities'] },
);

describe('VEX parsers under fuzzing: statements or VEX_INVALID, never a crash', () => {
  it('any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (t) => {
        check(t);
      }),
      { numRuns: 2000 },
    );
  });

  it('any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        check(JSON.stringify(v) ?? 'null');
      }),
      { numRuns: 2000 },
    );
  });

  it('OpenVEX-shaped documents with wrong, missing and odd fields', () => {
    both(openvexDoc, (d) => JSON.stringify(d), 3000);
  });

  it('CycloneDX-shaped documents with wrong, missing and odd fields', () => {
    both(cyclonedxDoc, (d) => JSON.stringify(d), 3000);
  });

  it('truncated documents', () => {
    fc.assert(
      fc.property(openvexDoc, fc.nat(), (d, cut) => {
        const text = JSON.stringify(d);
        check(text.slice(0, cut % (text.length + 1)));
      }),
      { numRuns: 500 },
    );
  });
});
