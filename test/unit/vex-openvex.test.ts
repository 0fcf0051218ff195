import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { parseVex } from '../../src/vex/load.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** The spec's own v0.2.0 example (OPENVEX-SPEC.md "Example"), trimmed, plus a statement about an image. */
const SPEC_EXAMPLE = {
  '@context': 'https://openvex.dev/ns/v0.2.0',
  '@id': 'https://openvex.dev/docs/public/vex-2e67563e128250cbcb3e98930df948dd053e43271d70dc50cfa22d57e03fe96f',
  author: 'Spring Builds <spring-builds@users.noreply.github.com>',
  role: 'Project Release Bot',
  timestamp: '2023-01-16T19:07:16.853479631-06:00',
  version: 1,
  statements: [
    {
      vulnerability: {
        '@id': 'https://nvd.nist.gov/vuln/detail/CVE-2021-44228',
        name: 'CVE-2021-44228',
        description: 'Remote code injection in Log4j',
        aliases: ['GHSA-jfh8-c2jp-5v3q'],
      },
      products: [
        {
          '@id': 'pkg:maven/org.springframework.boot/spring-boot@2.6.0-M3',
          identifiers: { purl: 'pkg:maven/org.springframework.boot/spring-boot@2.6.0-M3' },
          hashes: { 'sha-256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
        },
      ],
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
      impact_statement: 'Spring Boot users are only affected if they switched the default logging system to Log4J2.',
    },
    {
      vulnerability: { name: 'CVE-2023-0001' },
      timestamp: '2023-02-01T00:00:00Z',
      products: [
        {
          '@id': `pkg:oci/app@${encodeURIComponent(DIGEST)}?arch=arm64&repository_url=ghcr.io/acme/app`,
          subcomponents: [{ '@id': 'pkg:deb/debian/openssl@3.0.9-1?arch=arm64' }],
        },
      ],
      status: 'affected',
      action_statement: 'upgrade openssl',
    },
  ],
};

const parse = (doc: unknown, file = 'f.vex.json') => parseVex(JSON.stringify(doc), file);

function refusal(doc: unknown): string {
  try {
    parseVex(typeof doc === 'string' ? doc : JSON.stringify(doc), 'f.vex.json');
  } catch (err) {
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('VEX_INVALID');
    const msg = (err as Error).message;
    expect(msg).not.toMatch(/\n/);
    return msg;
  }
  throw new Error('expected VEX_INVALID');
}

// biome-ignore lint/suspicious/noExplicitAny: the refusal cases edit arbitrary paths of a JSON document
type Loose = Record<string, any>;

/** The example with one change at a path. */
function edit(mutate: (d: Loose) => void): unknown {
  const d = structuredClone(SPEC_EXAMPLE) as Loose;
  mutate(d);
  return d;
}

describe('OpenVEX parser', () => {
  it("reads what the v0.2.0 JSON schema allows: a statement's version, @cpe22 and @cpe23 identifiers", () => {
    const doc = edit((d) => {
      d.statements[0].version = 2;
      d.statements[0].products[0].identifiers = {
        purl: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1',
        '@cpe23': 'cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*',
      };
    });
    expect(parse(doc).statements).toHaveLength(2);
  });

  it('reads the v0.2.0 example into the neutral model', () => {
    const { statements, warnings } = parse(SPEC_EXAMPLE);
    expect(warnings).toEqual([]);
    expect(statements).toHaveLength(2);
    const [a, b] = statements;
    expect(a).toMatchObject({
      vulnerability: { id: 'CVE-2021-44228', aliases: ['GHSA-jfh8-c2jp-5v3q'] },
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
      impactStatement: expect.stringMatching(/^Spring Boot users/),
      // Statements without a timestamp take the document's.
      timestamp: '2023-01-16T19:07:16.853479631-06:00',
      origin: { format: 'openvex', file: 'f.vex.json', documentId: SPEC_EXAMPLE['@id'], path: '$.statements[0]' },
    });
    expect(a?.products[0]?.ids).toEqual([
      {
        kind: 'package',
        type: 'maven',
        namespace: 'org.springframework.boot',
        name: 'spring-boot',
        version: '2.6.0-M3',
        qualifiers: {},
      },
      {
        kind: 'package',
        type: 'maven',
        namespace: 'org.springframework.boot',
        name: 'spring-boot',
        version: '2.6.0-M3',
        qualifiers: {},
      },
      { kind: 'image', digest: 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
    ]);
    expect(b).toMatchObject({
      status: 'affected',
      actionStatement: 'upgrade openssl',
      timestamp: '2023-02-01T00:00:00Z',
    });
    expect(b?.products[0]?.ids).toEqual([{ kind: 'image', digest: DIGEST, arch: 'arm64' }]);
    expect(b?.products[0]?.subcomponents[0]?.ids).toEqual([
      {
        kind: 'package',
        type: 'deb',
        namespace: 'debian',
        name: 'openssl',
        version: '3.0.9-1',
        qualifiers: { arch: 'arm64' },
      },
    ]);
  });

  it('reads the v0.0.1 shape older vexctl releases wrote (strings, statement-level subcomponents)', () => {
    const { statements } = parse({
      '@context': 'https://openvex.dev/ns',
      '@id': 'https://openvex.dev/docs/example/vex-9fb3463de1b57',
      author: 'Wolfi J Inkinson',
      role: 'Document Creator',
      timestamp: '2023-01-08T18:02:03.647787998-06:00',
      version: '1',
      statements: [
        {
          vulnerability: 'CVE-2023-12345',
          products: [`example.com/app@${DIGEST}`, 'pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64'],
          subcomponents: ['pkg:apk/wolfi/git@2.39.0-r1'],
          status: 'fixed',
        },
      ],
    });
    expect(statements[0]?.vulnerability).toEqual({ id: 'CVE-2023-12345', aliases: [] });
    expect(statements[0]?.products.map((p) => p.ids[0]?.kind)).toEqual(['image', 'package']);
    expect(statements[0]?.products[0]?.ids[0]).toEqual({ kind: 'image', digest: DIGEST });
    expect(statements[0]?.products.every((p) => p.subcomponents.length === 1)).toBe(true);
  });

  it('reads images by digest only: tags and versionless pkg:oci purls are reported and never match', () => {
    const { statements, warnings } = parse(
      edit((d) => {
        d.statements[1].products = [
          { '@id': 'pkg:oci/app?repository_url=ghcr.io/acme/app&tag=latest' },
          { '@id': 'ghcr.io/acme/app:latest' },
          { identifiers: { cpe23: 'cpe:2.3:a:acme:app:1.0:*:*:*:*:*:*:*' }, '@id': 'https://example.com/app' },
        ];
      }),
    );
    expect(statements[1]?.products.map((p) => p.ids)).toEqual([[], [], []]);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(
      /^f\.vex\.json: \$\.statements\[1\]\.products\[0\]: 'pkg:oci\/app\?.*' names an image without a digest/,
    );
    expect(warnings[1]).toMatch(
      /products\[1\]: 'ghcr\.io\/acme\/app:latest' is neither a package URL nor an image digest/,
    );
  });

  it.each([
    ['not JSON', '{"@context": ', /^f\.vex\.json: \$: not valid JSON/],
    ['neither format', { hello: 'world' }, /^f\.vex\.json: \$: neither an OpenVEX document/],
    [
      'no @id',
      edit((d) => delete d['@id']),
      /^f\.vex\.json: \$\["@id"\]: expected a non-empty string, found undefined$/,
    ],
    ['no timestamp', edit((d) => delete d.timestamp), /^f\.vex\.json: \$\.timestamp: missing/],
    [
      'bad timestamp',
      edit((d) => (d.timestamp = 'yesterday')),
      /\$\.timestamp: 'yesterday' is not an RFC 3339 date-time$/,
    ],
    [
      'statements not an array',
      edit((d) => (d.statements = {})),
      /\$\.statements: expected an array, found an object$/,
    ],
    [
      'statement not an object',
      edit((d) => (d.statements[1] = 7)),
      /\$\.statements\[1\]: expected an object, found 7$/,
    ],
    [
      'no vulnerability name',
      edit((d) => delete d.statements[0].vulnerability.name),
      /\$\.statements\[0\]\.vulnerability\.name: expected/,
    ],
    [
      'alias not a string',
      edit((d) => (d.statements[0].vulnerability.aliases = [1])),
      /\$\.statements\[0\]\.vulnerability\.aliases\[0\]: /,
    ],
    [
      'unknown status',
      edit((d) => (d.statements[1].status = 'fine')),
      /\$\.statements\[1\]\.status: 'fine' is not one of not_affected, affected, fixed, under_investigation$/,
    ],
    [
      'no status',
      edit((d) => delete d.statements[1].status),
      /\$\.statements\[1\]\.status: expected a non-empty string/,
    ],
    [
      'unknown justification',
      edit((d) => (d.statements[0].justification = 'trust_me')),
      /\$\.statements\[0\]\.justification: 'trust_me' is not one of component_not_present/,
    ],
    [
      'not_affected without a reason',
      edit((d) => {
        delete d.statements[0].justification;
        delete d.statements[0].impact_statement;
      }),
      /\$\.statements\[0\]: a not_affected statement needs a justification or an impact_statement$/,
    ],
    [
      'no products',
      edit((d) => delete d.statements[0].products),
      /\$\.statements\[0\]\.products: expected an array, found undefined$/,
    ],
    [
      'empty products',
      edit((d) => (d.statements[0].products = [])),
      /\$\.statements\[0\]\.products: a statement must name at least one product$/,
    ],
    [
      'product with nothing in it',
      edit((d) => (d.statements[0].products = [{}])),
      /\$\.statements\[0\]\.products\[0\]: a component needs an @id/,
    ],
    [
      'subcomponents not an array',
      edit((d) => (d.statements[1].products[0].subcomponents = 'x')),
      /\$\.statements\[1\]\.products\[0\]\.subcomponents: expected an array/,
    ],
    [
      'hash not a string',
      edit((d) => (d.statements[0].products[0].hashes['sha-256'] = 5)),
      /\$\.statements\[0\]\.products\[0\]\.hashes\["sha-256"\]: expected a non-empty string/,
    ],
    [
      'bad statement timestamp',
      edit((d) => (d.statements[1].timestamp = '2023-13-01T00:00:00Z')),
      /\$\.statements\[1\]\.timestamp: /,
    ],
    // A misspelt key that narrows a statement would leave it wider than written if it were ignored.
    [
      'a misspelt subcomponents',
      edit((d) => (d.statements[1].products[0].subcomponets = [{ '@id': 'pkg:deb/debian/libc-bin' }])),
      /\$\.statements\[1\]\.products\[0\]\.subcomponets: unknown key \(expected one of @id, identifiers, hashes, subcomponents\)$/,
    ],
    [
      'an unknown statement key',
      edit((d) => (d.statements[0].product = [])),
      /\$\.statements\[0\]\.product: unknown key/,
    ],
    [
      'an unknown vulnerability key',
      edit((d) => (d.statements[0].vulnerability.alias = ['x'])),
      /\$\.statements\[0\]\.vulnerability\.alias: unknown key/,
    ],
  ])('refuses %s with the file and the JSON path', (_name, doc, message) => {
    expect(refusal(doc)).toMatch(message);
  });

  it('refuses control characters in messages, not just in data', () => {
    const msg = refusal(edit((d) => (d.statements[1].status = 'x\u001b[31m\nred')));
    expect(msg).toContain("'x?[31m?red'");
  });
});
