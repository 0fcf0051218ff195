import * as CDX from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { parseVex } from '../../src/vex/load.js';
import { validateCycloneDx } from '../helpers/validate.js';

const DIGEST = `sha256:${'cd'.repeat(32)}`;
const SERIAL = 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79';

/**
 * A CycloneDX 1.6 VEX written by the OWASP CycloneDX library (not by Portcullis): an image as metadata.component,
 * two packages, three analysed vulnerabilities and one without analysis.
 */
function libraryVex(): Record<string, unknown> {
  const { Models, Enums } = CDX;
  const bom = new Models.Bom({ serialNumber: SERIAL });
  bom.metadata.timestamp = new Date('2024-01-02T03:04:05Z');
  bom.metadata.component = new Models.Component(Enums.ComponentType.Container, 'app', {
    bomRef: 'image',
    purl: PackageURL.fromString(`pkg:oci/app@${encodeURIComponent(DIGEST)}?arch=amd64`),
  });
  const urllib3 = new Models.Component(Enums.ComponentType.Library, 'urllib3', {
    bomRef: 'pkg:pypi/urllib3@1.26.5',
    version: '1.26.5',
    purl: PackageURL.fromString('pkg:pypi/urllib3@1.26.5'),
  });
  const lodash = new Models.Component(Enums.ComponentType.Library, 'lodash', {
    bomRef: 'lodash',
    purl: PackageURL.fromString('pkg:npm/lodash'),
  });
  bom.components.add(urllib3);
  bom.components.add(lodash);
  const vuln = (id: string, analysis: CDX.Models.Vulnerability.Analysis | undefined, ...refs: CDX.Models.BomRef[]) => {
    const v = new Models.Vulnerability.Vulnerability({ id, ...(analysis ? { analysis } : {}) });
    for (const r of refs) v.affects.add(new Models.Vulnerability.Affect(r));
    bom.vulnerabilities.add(v);
    return v;
  };
  const S = Enums.Vulnerability.AnalysisState;
  const noReach = new Models.Vulnerability.Analysis({
    state: S.NotAffected,
    justification: Enums.Vulnerability.AnalysisJustification.CodeNotReachable,
    detail: 'the image never follows redirects',
  });
  const v1 = vuln('CVE-2023-43804', noReach, urllib3.bomRef);
  v1.references.add(
    new Models.Vulnerability.Reference('GHSA-v845-jxx5-vc9f', new Models.Vulnerability.Source({ name: 'GitHub' })),
  );
  const triage = vuln('CVE-2021-23337', new Models.Vulnerability.Analysis({ state: S.InTriage }), lodash.bomRef);
  triage.affects.add(new Models.Vulnerability.Affect(bom.metadata.component.bomRef));
  vuln('CVE-2020-28500', new Models.Vulnerability.Analysis({ state: S.ResolvedWithPedigree }), lodash.bomRef);
  vuln('CVE-2000-0001', undefined, lodash.bomRef);
  const ser = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot6));
  return JSON.parse(ser.serialize(bom));
}

function refusal(doc: unknown): string {
  try {
    parseVex(JSON.stringify(doc), 'app.cdx.json');
  } catch (err) {
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('VEX_INVALID');
    expect((err as Error).message).not.toMatch(/\n/);
    return (err as Error).message;
  }
  throw new Error('expected VEX_INVALID');
}

// biome-ignore lint/suspicious/noExplicitAny: the cases edit arbitrary paths of a JSON document
type Loose = Record<string, any>;

function edit(mutate: (d: Loose) => void): unknown {
  const d = libraryVex() as Loose;
  mutate(d);
  return d;
}

const image = { kind: 'image', digest: DIGEST, arch: 'amd64' };

describe('CycloneDX VEX parser', () => {
  it('reads a VEX the CycloneDX library wrote (valid against the 1.6 schema)', () => {
    const doc = libraryVex();
    expect(validateCycloneDx(doc)).toEqual([]);
    const { statements, warnings } = parseVex(JSON.stringify(doc), 'app.cdx.json');
    expect(warnings).toEqual([
      'app.cdx.json: 1 vulnerabilities carry no analysis.state and say nothing about this image',
    ]);
    const byId = new Map(statements.map((s) => [s.vulnerability.id, s]));
    expect([...byId.keys()].sort()).toEqual(['CVE-2020-28500', 'CVE-2021-23337', 'CVE-2023-43804']);
    const u = byId.get('CVE-2023-43804');
    expect(u).toMatchObject({
      vulnerability: { aliases: ['GHSA-v845-jxx5-vc9f'] },
      status: 'not_affected',
      statedStatus: 'not_affected',
      justification: 'code_not_reachable',
      impactStatement: 'the image never follows redirects',
      timestamp: '2024-01-02T03:04:05.000Z',
      origin: { format: 'cyclonedx', file: 'app.cdx.json', documentId: SERIAL },
    });
    expect(u?.origin.path).toMatch(/^\$\.vulnerabilities\[\d\]$/);
    // The package is read as a subcomponent of the image the document is about.
    expect(u?.products).toEqual([
      {
        ids: [image],
        text: `pkg:oci/app@${DIGEST}?arch=amd64`,
        subcomponents: [
          {
            ids: [{ kind: 'package', type: 'pypi', name: 'urllib3', version: '1.26.5', qualifiers: {} }],
            text: 'pkg:pypi/urllib3@1.26.5',
          },
        ],
      },
    ]);
    const t = byId.get('CVE-2021-23337');
    expect(t?.status).toBe('under_investigation');
    // An affects entry naming the image itself is the image, without subcomponents.
    expect(t?.products.map((p) => [p.ids, p.subcomponents.length])).toEqual([
      [[image], 1],
      [[image], 0],
    ]);
    expect(byId.get('CVE-2020-28500')).toMatchObject({ status: 'fixed', statedStatus: 'resolved_with_pedigree' });
  });

  it.each([
    ['not_affected', 'not_affected'],
    ['false_positive', 'not_affected'],
    ['resolved', 'fixed'],
    ['resolved_with_pedigree', 'fixed'],
    ['exploitable', 'affected'],
    ['in_triage', 'under_investigation'],
  ])('maps analysis.state %s to %s', (state, status) => {
    const doc = edit((d) => {
      d.vulnerabilities = [{ id: 'CVE-1', analysis: { state }, affects: [{ ref: 'lodash' }] }];
    });
    expect(parseVex(JSON.stringify(doc), 'x').statements[0]?.status).toBe(status);
  });

  it('resolves BOM-Links into this document, purls, and nothing else', () => {
    const { statements, warnings } = parseVex(
      JSON.stringify(
        edit((d) => {
          d.vulnerabilities = [
            {
              id: 'CVE-1',
              analysis: { state: 'not_affected', lastUpdated: '2024-05-01T00:00:00Z' },
              affects: [
                { ref: `${SERIAL.replace('uuid:', 'cdx:')}/1#lodash` },
                { ref: 'urn:cdx:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee/1#lodash' },
                { ref: 'pkg:npm/minimist@1.2.5' },
                { ref: 'nowhere' },
              ],
            },
          ];
        }),
      ),
      'x.json',
    );
    const s = statements[0];
    expect(s?.timestamp).toBe('2024-05-01T00:00:00Z');
    expect(
      s?.products.map((p) => p.subcomponents[0]?.ids.map((i) => (i.kind === 'package' ? i.name : i.digest))),
    ).toEqual([['lodash'], [], ['minimist'], []]);
    expect(warnings).toEqual([
      expect.stringMatching(
        /^x\.json: \$\.vulnerabilities\[0\]\.affects\[1\]\.ref: '.*' refers to another BOM; no finding/,
      ),
      expect.stringMatching(/affects\[3\]\.ref: no component has bom-ref 'nowhere'; no finding can match it$/),
    ]);
  });

  it('narrows to the exact versions listed; ranges are not evaluated', () => {
    const { statements, warnings } = parseVex(
      JSON.stringify(
        edit((d) => {
          d.vulnerabilities = [
            {
              id: 'CVE-1',
              analysis: { state: 'not_affected' },
              affects: [
                { ref: 'lodash', versions: [{ version: '4.17.20', status: 'unaffected' }, { range: 'vers:npm/<5' }] },
                { ref: 'pkg:pypi/urllib3@1.26.5', versions: [{ version: '1.26.6' }] },
              ],
            },
          ];
        }),
      ),
      'x.json',
    );
    const subs = statements[0]?.products.map((p) => p.subcomponents[0]?.ids);
    expect(subs).toEqual([[{ kind: 'package', type: 'npm', name: 'lodash', version: '4.17.20', qualifiers: {} }], []]);
    expect(warnings).toEqual([
      expect.stringMatching(/affects\[0\]\.versions\[1\]: version ranges are not evaluated$/),
      expect.stringMatching(/affects\[1\]\.ref: none of its listed versions is an exact version; no finding/),
    ]);
  });

  it('does not clear a version the entry itself marks affected or unknown (resolved: fixed in the unaffected one)', () => {
    const statements = (state: string) =>
      parseVex(
        JSON.stringify(
          edit((d) => {
            d.vulnerabilities = [
              {
                id: 'CVE-1',
                analysis: { state },
                affects: [
                  {
                    ref: 'lodash',
                    versions: [
                      { version: '4.17.20', status: 'affected' },
                      { version: '4.17.19', status: 'unknown' },
                      { version: '4.17.21', status: 'unaffected' },
                      { version: '4.17.22' },
                    ],
                  },
                ],
              },
            ];
          }),
        ),
        'x.json',
      ).statements.map((st) => ({
        status: st.status,
        versions: st.products[0]?.subcomponents[0]?.ids.map((i) => ('version' in i ? i.version : undefined)),
      }));
    // A version with no status is affected (the schema's default). The versions a clearing analysis does not clear
    // are an `affected` statement of their own, so an older statement clearing them does not win.
    const marked = { status: 'affected', versions: ['4.17.20', '4.17.19', '4.17.22'] };
    expect(statements('resolved')).toEqual([{ status: 'fixed', versions: ['4.17.21'] }, marked]);
    expect(statements('not_affected')).toEqual([{ status: 'not_affected', versions: ['4.17.21'] }, marked]);
    // A state that clears nothing keeps every listed version (exploitable: the affected ones are what it is about).
    expect(statements('exploitable')).toEqual([
      { status: 'affected', versions: ['4.17.20', '4.17.19', '4.17.21', '4.17.22'] },
    ]);
  });

  it('reads packages as products when the document names no product, and names none when the product has no id', () => {
    const bare = edit((d) => delete d.metadata.component);
    const s = parseVex(JSON.stringify(bare), 'x').statements.find((x) => x.vulnerability.id === 'CVE-2023-43804');
    expect(s?.products[0]?.subcomponents).toEqual([]);
    expect(s?.products[0]?.ids[0]).toMatchObject({ kind: 'package', name: 'urllib3' });
    const anonymous = edit((d) => delete d.metadata.component.purl);
    const r = parseVex(JSON.stringify(anonymous), 'x');
    expect(r.warnings[0]).toMatch(/\$\.metadata\.component: container 'app' has no digest .*; no statement of this/);
    const u = r.statements.find((x) => x.vulnerability.id === 'CVE-2023-43804');
    expect(u?.products[0]?.ids).toEqual([]);
  });

  it('takes a container digest from its version or its hashes', () => {
    const byVersion = edit((d) => {
      delete d.metadata.component.purl;
      d.metadata.component.version = DIGEST;
    });
    const byHash = edit((d) => {
      delete d.metadata.component.purl;
      d.metadata.component.hashes = [{ alg: 'SHA-256', content: DIGEST.slice(7) }];
    });
    for (const doc of [byVersion, byHash]) {
      const s = parseVex(JSON.stringify(doc), 'x').statements.find((x) => x.vulnerability.id === 'CVE-2023-43804');
      expect(s?.products[0]?.ids).toEqual([{ kind: 'image', digest: DIGEST }]);
    }
  });

  it.each([
    [
      'spec 1.3',
      edit((d) => (d.specVersion = '1.3')),
      /^app\.cdx\.json: \$\.specVersion: '1\.3' is not one of 1\.4, 1\.5, 1\.6$/,
    ],
    ['vulnerabilities not an array', edit((d) => (d.vulnerabilities = 'x')), /\$\.vulnerabilities: expected an array/],
    ['no id', edit((d) => delete d.vulnerabilities[0].id), /\$\.vulnerabilities\[0\]\.id: expected a non-empty string/],
    [
      'unknown state',
      edit((d) => (d.vulnerabilities[0].analysis.state = 'meh')),
      /\$\.vulnerabilities\[0\]\.analysis\.state: 'meh' is not one of/,
    ],
    [
      'unknown justification',
      edit((d) => (d.vulnerabilities[0].analysis.justification = 'because')),
      /\$\.vulnerabilities\[0\]\.analysis\.justification: 'because' is not one of code_not_present/,
    ],
    [
      'bad lastUpdated',
      edit((d) => (d.vulnerabilities[0].analysis.lastUpdated = 'now')),
      /analysis\.lastUpdated: 'now' is not an RFC 3339/,
    ],
    [
      'affects entry without ref',
      edit((d) => (d.vulnerabilities[0].affects = [{}])),
      /\$\.vulnerabilities\[0\]\.affects\[0\]\.ref: expected/,
    ],
    [
      'reference without id',
      edit((d) => (d.vulnerabilities[0].references = [{}])),
      /\$\.vulnerabilities\[0\]\.references\[0\]\.id: /,
    ],
    [
      'a bom-ref used twice',
      edit((d) => (d.components[1]['bom-ref'] = d.components[0]['bom-ref'])),
      /\["bom-ref"\]: bom-ref '.*' is used twice$/,
    ],
    [
      'a version entry with neither',
      edit((d) => (d.vulnerabilities[0].affects[0].versions = [{}])),
      /affects\[0\]\.versions\[0\]: expected a version or a range$/,
    ],
    ['version 0', edit((d) => (d.version = 0)), /\$\.version: expected an integer of at least 1$/],
    // Misspelt keys that narrow a statement would leave it wider than written if they were ignored.
    [
      'a misspelt versions',
      edit((d) => (d.vulnerabilities[0].affects[0].version = [{ version: '4.17.21', status: 'unaffected' }])),
      /\$\.vulnerabilities\[0\]\.affects\[0\]\.version: unknown key \(expected one of ref, versions\)$/,
    ],
    [
      'an unknown analysis key',
      edit((d) => (d.vulnerabilities[0].analysis.status = 'x')),
      /\$\.vulnerabilities\[0\]\.analysis\.status: unknown key/,
    ],
    [
      'an unknown version key',
      edit((d) => (d.vulnerabilities[0].affects[0].versions = [{ version: '1', state: 'unaffected' }])),
      /\$\.vulnerabilities\[0\]\.affects\[0\]\.versions\[0\]\.state: unknown key/,
    ],
  ])('refuses %s with the file and the JSON path', (_name, doc, message) => {
    expect(refusal(doc)).toMatch(message);
  });

  it('bounds component nesting without recursion', () => {
    // Built as text: JSON.stringify itself recurses. JSON.parse does not, so the parser's own walk must not either.
    const n = 100_000;
    const deep = `${'{"type":"library","name":"x","components":['.repeat(n)}{"name":"y"}${']}'.repeat(n)}`;
    const text = JSON.stringify(edit((d) => (d.components = ['DEEP']))).replace('"DEEP"', deep);
    expect(() => parseVex(text, 'deep.json')).toThrow(
      /^deep\.json: \$\.components(\[0\]\.components){65}\[0\]: components nested deeper than 64$/,
    );
  });
});
