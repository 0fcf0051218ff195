import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { PortcullisError } from '../../src/errors.js';
import { keyFingerprint, loadPolicy, PolicyInvalidError, parsePolicy } from '../../src/policy/load.js';
import { ROOT } from '../helpers/paths.js';

const HEAD = 'apiVersion: portcullis.dev/v1alpha1\nkind: ImagePolicy\nname: t\n';
const EXAMPLE = readFileSync(join(ROOT, 'examples', 'policy.yaml'), 'utf8');

/** The problems a policy text gives (each `file:line:column: ...`), or [] when it loads. */
function problems(text: string): string[] {
  try {
    parsePolicy(text, 'p.yaml');
    return [];
  } catch (err) {
    if (!(err instanceof PolicyInvalidError)) throw err;
    return [...err.problems];
  }
}

describe('policy schema', () => {
  it('is a draft-07 schema with an $id and a description on every rule, and Ajv compiles it strictly', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'policy.schema.json'), 'utf8'));
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.$id).toMatch(/^https:\/\//);
    for (const [k, v] of Object.entries(schema.properties.rules.properties as Record<string, object>))
      expect(JSON.stringify(v), k).toMatch(/description|\$ref/);
    expect(() => new Ajv({ strict: true, strictRequired: false }).compile(schema)).not.toThrow();
  });

  it('accepts the example policy, with its exception and rules normalised', () => {
    const p = parsePolicy(EXAMPLE, 'examples/policy.yaml');
    expect(p.name).toBe('example-production');
    expect(p.rules.vulnerabilities).toMatchObject({
      failOn: 'high',
      onlyFixable: true,
      fixAvailableFor: { text: '14d', ms: 14 * 86_400_000 },
      unknownSeverity: 'medium',
    });
    expect(p.exceptions[0]).toMatchObject({ index: 1, id: 'CVE-2021-23337', expiresAt: Date.UTC(2027, 11, 31) });
    expect(p.exceptions[0]?.at.line).toBe(EXAMPLE.split('\n').findIndex((l) => l.includes('- id: CVE-2021-23337')) + 1);
    expect(p.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('policy errors name the file, line and column, one line each', () => {
  const cases: [string, string, RegExp[]][] = [
    [
      'a misspelt severity and a misspelt key',
      `${HEAD}rules:\n  vulnerabilities:\n    failOn: hihg\n    onlyFixable: true\n    packges: []\n`,
      [
        /^p\.yaml:6:13: rules\.vulnerabilities\.failOn: must be one of critical, high, medium, low, info \(got 'hihg'\)$/,
        /^p\.yaml:8:5: rules\.vulnerabilities\.packges: unknown key 'packges' \(did you mean 'packages'\?\)$/,
      ],
    ],
    [
      'YAML 1.1 booleans are strings in a policy',
      `${HEAD}rules:\n  vulnerabilities:\n    failOn: high\n    onlyFixable: yes\n`,
      [/^p\.yaml:7:18: rules\.vulnerabilities\.onlyFixable: must be true or false \(got 'yes'\)$/],
    ],
    [
      'an exception without a reason or an expiry',
      `${HEAD}rules:\n  maxAge: 30d\nexceptions:\n  - id: CVE-2023-1\n  - id: CVE-2023-2\n    reason: r\n`,
      [
        /^p\.yaml:7:5: exceptions\[0\]: missing required key 'reason'$/,
        /^p\.yaml:7:5: exceptions\[0\]: missing required key 'expires'$/,
        /^p\.yaml:8:5: exceptions\[1\]: missing required key 'expires'$/,
      ],
    ],
    [
      'an exception that names nothing',
      `${HEAD}rules:\n  maxAge: 30d\nexceptions:\n  - reason: r\n    expires: 2030-01-01\n`,
      [/^p\.yaml:7:5: exceptions\[0\]: needs at least one of 'id', 'package', 'image'$/],
    ],
    [
      'an impossible date and a bad regular expression',
      `${HEAD}rules:\n  labels:\n    - key: a\n      value: "([a-z]"\nexceptions:\n  - id: CVE-2023-1\n    reason: r\n    expires: 2025-02-30\n`,
      [
        /^p\.yaml:7:14: rules\.labels\[0\]\.value: not a valid regular expression/,
        /^p\.yaml:11:14: exceptions\[0\]\.expires: '2025-02-30' is not a real date$/,
      ],
    ],
    [
      'a malformed duration and digest',
      `${HEAD}rules:\n  maxAge: 90 days\n  baseImage:\n    approved:\n      - name: b\n        digest: sha256:abc\n`,
      [
        /^p\.yaml:5:11: rules\.maxAge: must be a duration such as 90d, 36h or 2w \(got '90 days'\)$/,
        /^p\.yaml:9:17: rules\.baseImage\.approved\[0\]\.digest: must be a digest such as sha256:<64 hex digits>/,
      ],
    ],
    [
      'an ignore without a reason, and a package rule that says nothing',
      `${HEAD}rules:\n  vulnerabilities:\n    failOn: high\n    packages:\n      - package: a\n        ignore: true\n      - package: b\n`,
      [/^p\.yaml:8:9: rules\.vulnerabilities\.packages\[0\]: missing required key 'reason'$/],
    ],
    ['no rules at all', `${HEAD}rules: {}\n`, [/^p\.yaml:4:8: rules: must not be empty$/]],
    [
      'the wrong format version',
      'apiVersion: v2\nkind: ImagePolicy\nname: t\nrules:\n  maxAge: 1d\n',
      [/^p\.yaml:1:13: apiVersion: must be 'portcullis\.dev\/v1alpha1' \(got 'v2'\)$/],
    ],
    ['an empty file', '', [/^p\.yaml:1:1: \(top level\): must be a mapping \(got null\)$/]],
    ['a duplicate key', `${HEAD}rules:\n  maxAge: 1d\n  maxAge: 2d\n`, [/^p\.yaml:6:3: duplicate key/]],
    [
      'a custom tag',
      `${HEAD}rules:\n  maxAge: !!js/function "function () {}"\n`,
      [/^p\.yaml:5:11: unsupported tag tag:yaml\.org,2002:js\/function \(custom tags are not allowed\)$/],
    ],
    [
      'a YAML 1.1 type tag',
      `${HEAD}rules:\n  registries: !!set {a, b}\n`,
      [/^p\.yaml:5:\d+: unsupported tag tag:yaml\.org,2002:set \(custom tags are not allowed\)$/],
    ],
    ['two documents', `${HEAD}rules:\n  maxAge: 1d\n---\n${HEAD}`, [/^p\.yaml:6:1: more than one YAML document/]],
    ['a syntax error', `${HEAD}rules:\n  registries: [a, b\n  maxAge: 1d\n`, [/^p\.yaml:\d+:\d+: /]],
  ];
  it.each(cases)('%s', (_name, text, expected) => {
    const got = problems(text);
    for (const re of expected)
      expect(
        got.some((g) => re.test(g)),
        `${re} in\n${got.join('\n')}`,
      ).toBe(true);
    for (const g of got) expect(g).not.toMatch(/[\n\r]/);
    if (expected.length > 1) expect(got.length).toBeGreaterThanOrEqual(expected.length);
  });

  it('finds a package rule that says nothing, and contradictions, once the schema is satisfied', () => {
    const got = problems(
      `${HEAD}rules:\n  vulnerabilities:\n    failOn: high\n    fixAvailableFor: 7d\n    onlyFixable: false\n    packages:\n      - package: b\n      - package: c\n        ignore: true\n        reason: r\n        failOn: low\n`,
    );
    expect(got).toEqual([
      expect.stringMatching(/^p\.yaml:8:18: rules\.vulnerabilities\.onlyFixable: false contradicts fixAvailableFor/),
      expect.stringMatching(/^p\.yaml:10:9: rules\.vulnerabilities\.packages\[0\]: says nothing/),
      expect.stringMatching(
        /^p\.yaml:12:17: rules\.vulnerabilities\.packages\[1\]\.ignore: ignore: true cannot be combined/,
      ),
    ]);
  });

  it('reports at most 20 problems and counts the rest', () => {
    const many = `${HEAD}rules:\n  maxAge: 1d\n${Array.from({ length: 30 }, (_, i) => `k${i}: 1\n`).join('')}`;
    const got = problems(many);
    expect(got).toHaveLength(21);
    expect(got[20]).toBe('… and 10 more problems');
  });
});

describe('hostile YAML is refused quickly with a clear error', () => {
  it('an alias bomb (billion laughs) stops at the alias limit', () => {
    let bomb = `${HEAD}rules:\n  maxAge: 1d\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n`;
    for (let i = 1; i < 12; i++)
      bomb += `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]\n`;
    expect(problems(bomb)).toEqual([expect.stringMatching(/^p\.yaml:1:1: aliases expand to more than 100 nodes/)]);
  });

  it.each([
    ['flow', `${HEAD}rules:\n  registries: ${'['.repeat(500_000)}`],
    ['flow mappings', `${HEAD}rules: ${'{a: '.repeat(200_000)}`],
    ['block', Array.from({ length: 1400 }, (_, i) => `${' '.repeat(i)}a:`).join('\n')],
    ['compact sequences', `${'- '.repeat(400_000)}x\n`],
  ])('deep %s nesting stops at 64 levels', (_name, text) => {
    expect(problems(text)).toEqual([expect.stringMatching(/^p\.yaml:\d+:\d+: nested more than 64 levels deep$/)]);
  });

  it('a 10 MB file is refused before it is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-big-'));
    const file = join(dir, 'big.yaml');
    writeFileSync(file, `${HEAD}rules:\n  maxAge: 1d\n# ${'x'.repeat(10 * 1024 * 1024)}\n`);
    expect(() => loadPolicy(file)).toThrow(/big\.yaml:1:1: larger than 1 MiB/);
    // And the same text handed over directly.
    expect(problems(readFileSync(file, 'utf8'))).toEqual(['p.yaml:1:1: larger than 1 MiB']);
  });

  it('a missing file is NOT_FOUND, a directory is POLICY_INVALID', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-nf-'));
    expect(() => loadPolicy(join(dir, 'none.yaml'))).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => loadPolicy(dir)).toThrow(expect.objectContaining({ code: 'POLICY_INVALID' }));
  });
});

describe('signature keys', () => {
  it('reads PEM files relative to the policy and names them by the SHA-256 of their DER SPKI (as openssl computes it)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-keys-'));
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(join(dir, 'base.pub'), pem);
    const der = execFileSync('openssl', ['pkey', '-pubin', '-in', join(dir, 'base.pub'), '-outform', 'DER']);
    const sha = execFileSync('openssl', ['dgst', '-sha256', '-r'], { input: der }).toString().split(' ')[0];
    const fp = `sha256:${'ab'.repeat(32)}`;
    const text = `${HEAD}rules:\n  baseImage:\n    approved:\n      - name: b\n        digest: sha256:${'1'.repeat(64)}\n    signature:\n      keys: [base.pub, "${fp}"]\n`;
    writeFileSync(join(dir, 'policy.yaml'), text);
    const p = loadPolicy(join(dir, 'policy.yaml'));
    expect(p.rules.baseImage?.signature?.keys).toEqual([
      { fingerprint: `sha256:${sha}`, source: 'base.pub' },
      { fingerprint: fp, source: fp },
    ]);
    expect(keyFingerprint(pem)).toBe(`sha256:${sha}`);
  });

  it('a key file that is missing or not a key is a problem at its line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-badkey-'));
    writeFileSync(join(dir, 'junk.pub'), 'not a key');
    const text = `${HEAD}rules:\n  baseImage:\n    approved:\n      - name: b\n        digest: sha256:${'1'.repeat(64)}\n    signature:\n      keys:\n        - junk.pub\n        - gone.pub\n`;
    writeFileSync(join(dir, 'policy.yaml'), text);
    try {
      loadPolicy(join(dir, 'policy.yaml'));
      expect.unreachable();
    } catch (err) {
      expect((err as PolicyInvalidError).problems).toEqual([
        expect.stringMatching(
          /policy\.yaml:11:11: rules\.baseImage\.signature\.keys\[0\]: 'junk\.pub' is not a PEM public key$/,
        ),
        expect.stringMatching(
          /policy\.yaml:12:11: rules\.baseImage\.signature\.keys\[1\]: cannot read key 'gone\.pub' \(key .*gone\.pub: no such file\)$/,
        ),
      ]);
    }
  });
});

describe('any text gives a policy or POLICY_INVALID, never another error', () => {
  function outcome(text: string): 'policy' | 'refused' {
    try {
      parsePolicy(text, 'fuzz.yaml', { readKeyFile: () => 'not a key' });
      return 'policy';
    } catch (err) {
      if (!(err instanceof PortcullisError) || err.code !== 'POLICY_INVALID') throw err;
      for (const p of (err as PolicyInvalidError).problems) expect(p).toMatch(/^fuzz\.yaml:\d+:\d+: [^\n\r]+$|^… and/);
      return 'refused';
    }
  }

  it('random strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (s) => void outcome(s)),
      { numRuns: 500 },
    );
  });

  it('YAML of random JSON values, and random values put into a valid policy', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => void outcome(stringify(v))),
      { numRuns: 300 },
    );
    const base = parsePolicyValue();
    const seen = { policy: 0, refused: 0 };
    const paths = [
      ['rules', 'vulnerabilities', 'failOn'],
      ['rules', 'vulnerabilities', 'packages'],
      ['rules', 'vulnerabilities', 'limits'],
      ['rules', 'baseImage', 'approved'],
      ['rules', 'labels'],
      ['rules', 'maxAge'],
      ['exceptions'],
      ['exceptions', '0', 'expires'],
      ['name'],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 3 }), (path, v) => {
        const copy = structuredClone(base) as Record<string, unknown>;
        let at = copy as Record<string, unknown>;
        for (const k of path.slice(0, -1)) at = at[k] as Record<string, unknown>;
        at[path.at(-1) as string] = v;
        seen[outcome(stringify(copy))]++;
      }),
      { numRuns: 400 },
    );
    expect(seen.refused).toBeGreaterThan(100);
    expect(outcome(stringify(base))).toBe('policy');
  });

  it('the example policy with characters deleted, duplicated or replaced', () => {
    const seen = { policy: 0, refused: 0 };
    fc.assert(
      fc.property(
        fc.nat(EXAMPLE.length - 1),
        fc.nat(40),
        fc.constantFrom('', ' ', ':', '-', '[', '{', '"', "'", '&a', '*a', '!!', '\t', '\n', '#', '---'),
        (at, len, insert) => {
          seen[outcome(EXAMPLE.slice(0, at) + insert + EXAMPLE.slice(at + len))]++;
        },
      ),
      { numRuns: 500 },
    );
    expect(seen.policy).toBeGreaterThan(20);
    expect(seen.refused).toBeGreaterThan(20);
  });
});

function parsePolicyValue(): unknown {
  return parse(EXAMPLE);
}
