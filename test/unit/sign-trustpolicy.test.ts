import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { PortcullisError } from '../../src/errors.js';
import { loadPolicy } from '../../src/policy/load.js';
import { loadTrustPolicyFile, trustedKeysFor } from '../../src/sign/trustcheck.js';
import { findTrustEntry, parseTrustPolicy } from '../../src/sign/trustpolicy.js';
import { ROOT } from '../helpers/paths.js';

function errorOf(text: string): string {
  try {
    parseTrustPolicy(text, 'trust.yaml');
  } catch (err) {
    return err instanceof PortcullisError ? `${err.code}: ${err.message}` : `untyped: ${String(err)}`;
  }
  return 'no error';
}

const GOOD = `version: 1
repositories:
  - match: registry.example/team/*
    keys: [team.pub]
    attestations: [assessment, "https://slsa.dev/provenance/v1"]
  - match: docker.io/library/*
    keys: [hub.pub]
  - match: "**/mirror/**"
    keys: [mirror.pub]
`;

describe('trust policy', () => {
  it('first matching entry wins; * stays within a component, ** crosses them; Docker Hub names normalised', () => {
    const p = parseTrustPolicy(GOOD, 'trust.yaml');
    expect(findTrustEntry(p, 'registry.example/team/app')?.keys).toEqual(['team.pub']);
    expect(findTrustEntry(p, 'registry.example/team/sub/app')).toBeUndefined();
    expect(findTrustEntry(p, 'debian')?.keys).toEqual(['hub.pub']);
    expect(findTrustEntry(p, 'index.docker.io/library/debian')?.keys).toEqual(['hub.pub']);
    expect(findTrustEntry(p, 'r.example/a/mirror/b/c')?.keys).toEqual(['mirror.pub']);
    expect(findTrustEntry(p, 'registry.example/teams/app')).toBeUndefined();
    expect(p.entries.map((e) => e.line)).toEqual([3, 6, 8]);
  });

  it('a dot in a pattern is a literal dot', () => {
    const p = parseTrustPolicy('version: 1\nrepositories:\n  - match: r.example/a.b\n    keys: [k]\n', 't');
    expect(findTrustEntry(p, 'r.example/a.b')).toBeDefined();
    expect(findTrustEntry(p, 'rxexample/axb')).toBeUndefined();
  });

  it('errors name the file, line and field', () => {
    expect(errorOf('version: 1\nrepositories:\n  - match: r.example/x\n    keys: []\n')).toBe(
      'CONFIG_INVALID: trust.yaml:4: repositories[0].keys: must be a non-empty list of public key files or PEM texts',
    );
    expect(errorOf('version: 1\nrepositories:\n  - match: r.example/x\n    keys: [a]\n    key: b\n')).toBe(
      'CONFIG_INVALID: trust.yaml:5: repositories[0].key: unknown field',
    );
    expect(errorOf('version: 2\nrepositories: []\n')).toBe('CONFIG_INVALID: trust.yaml:1: version: must be 1');
    expect(errorOf('version: 1\nrepositories:\n  - match: nohost\n    keys: [a]\n')).toMatch(
      /^CONFIG_INVALID: trust\.yaml:3: repositories\[0\]\.match: 'nohost' is not a repository pattern/,
    );
    expect(
      errorOf('version: 1\nrepositories:\n  - match: r.example/x\n    keys: [a]\n    attestations: [spdx]\n'),
    ).toBe(
      "CONFIG_INVALID: trust.yaml:5: repositories[0].attestations[0]: 'spdx' is neither assessment, cyclonedx nor a URI",
    );
    expect(
      errorOf('version: 1\nrepositories:\n  - match: r.example/x\n    keys: [a]\n    policies: [sha256:abc]\n'),
    ).toBe(
      "CONFIG_INVALID: trust.yaml:5: repositories[0].policies[0]: 'sha256:abc' is not a sha256: digest (64 lowercase hex digits)",
    );
    expect(errorOf('version: 1\nversion: 1\n')).toMatch(/^CONFIG_INVALID: trust\.yaml:2: not valid YAML/);
    expect(errorOf('a: &x [1]\nb: *x\n')).toMatch(/^CONFIG_INVALID: trust\.yaml/);
  });
});

describe('trust policy: gate policies', () => {
  it('names a policy file by the digest the gate records for it, byte for byte (a BOM, bytes that are not UTF-8)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trust-policies-'));
    try {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      writeFileSync(join(dir, 'k.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
      const text =
        'apiVersion: portcullis.dev/v1alpha1\nkind: ImagePolicy\nname: prod # caf\xe9\nrules:\n  vulnerabilities:\n    failOn: critical\n';
      // A byte-order mark, and a comment in Latin-1: the gate hashes the file's bytes, not the text it decodes.
      writeFileSync(
        join(dir, 'prod.yaml'),
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'latin1')]),
      );
      writeFileSync(
        join(dir, 'trust.yaml'),
        'version: 1\nrepositories:\n  - match: r.example/**\n    keys: [k.pub]\n    policies: [prod.yaml]\n',
      );
      const trusted = await trustedKeysFor(await loadTrustPolicyFile(join(dir, 'trust.yaml')), 'r.example/a');
      expect([...(trusted?.policies ?? [])]).toEqual([loadPolicy(join(dir, 'prod.yaml')).digest]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the trust policy agrees with its JSON schema', () => {
  const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'trust-policy.schema.json'), 'utf8'));
  const validate = new Ajv({ strict: true, allErrors: true }).compile(schema);
  const entry = (over: Record<string, unknown>) => ({ match: 'r.example/a', keys: ['k.pub'], ...over });
  const docs: [string, unknown][] = [
    ['good', parseYaml(GOOD)],
    ['no version', { repositories: [entry({})] }],
    ['version 2', { version: 2, repositories: [entry({})] }],
    ['empty list', { version: 1, repositories: [] }],
    ['extra top field', { version: 1, repositories: [entry({})], extra: 1 }],
    ['extra entry field', { version: 1, repositories: [entry({ extra: 1 })] }],
    ['no keys', { version: 1, repositories: [{ match: 'r.example/a' }] }],
    ['blank key', { version: 1, repositories: [entry({ keys: ['  '] })] }],
    ['number key', { version: 1, repositories: [entry({ keys: [1] })] }],
    ['trailing slash', { version: 1, repositories: [entry({ match: 'r.example/a/' })] }],
    ['no path', { version: 1, repositories: [entry({ match: 'r.example' })] }],
    ['space in path', { version: 1, repositories: [entry({ match: 'r.example/a b' })] }],
    ['bad host char', { version: 1, repositories: [entry({ match: 'r_example/a' })] }],
    ['wildcard host', { version: 1, repositories: [entry({ match: '*.example/**' })] }],
    ['uri type', { version: 1, repositories: [entry({ attestations: ['https://x.example/p'] })] }],
    ['unknown type', { version: 1, repositories: [entry({ attestations: ['spdx'] })] }],
    ['empty type', { version: 1, repositories: [entry({ attestations: [''] })] }],
    ['schema field', { $schema: 'x', version: 1, repositories: [entry({})] }],
    ['policy file', { version: 1, repositories: [entry({ policies: ['policies/prod.yaml'] })] }],
    [
      'policy digest',
      {
        version: 1,
        repositories: [
          entry({ policies: ['sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'] }),
        ],
      },
    ],
    ['short policy digest', { version: 1, repositories: [entry({ policies: ['sha256:abc'] })] }],
    [
      'upper-case policy digest',
      {
        version: 1,
        repositories: [
          entry({ policies: ['sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'] }),
        ],
      },
    ],
    ['empty policies', { version: 1, repositories: [entry({ policies: [] })] }],
    ['policy path after spaces', { version: 1, repositories: [entry({ policies: ['  prod.yaml'] })] }],
    ['blank policy', { version: 1, repositories: [entry({ policies: [' '] })] }],
    ['policies not a list', { version: 1, repositories: [entry({ policies: 'prod.yaml' })] }],
    ['not a mapping', [1, 2]],
  ];
  for (const [name, doc] of docs) {
    it(`${name}: schema and parser agree`, () => {
      const schemaOk = validate(doc) === true;
      const parsed = errorOf(JSON.stringify(doc));
      expect(parsed === 'no error', parsed).toBe(schemaOk);
      if (!schemaOk) expect(parsed).toMatch(/^CONFIG_INVALID: trust\.yaml:\d+: /);
    });
  }
});
