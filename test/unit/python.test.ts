import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type HeaderBlock,
  headerAnalyzer,
  normalizePypiName,
  parseHeaders,
  parsePythonMetadata,
  pythonCataloger,
  pythonLicenses,
  pythonMetadataPath,
} from '../../src/inventory/catalogers/python.js';
import { catalogTestLayers, type LayerEntry } from '../helpers/layers.js';

async function catalogLayers(layers: LayerEntry[][]) {
  return catalogTestLayers(layers, [pythonCataloger]);
}

/** Feed `text` to a header analyzer in the given chunk sizes. */
function analyze(text: string | Buffer, sizes: readonly number[] = [], limit?: number): HeaderBlock {
  const a = headerAnalyzer(limit);
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  let at = 0;
  for (const s of sizes) {
    if (at >= buf.length) break;
    a.write(buf.subarray(at, at + s));
    at += s;
  }
  if (at < buf.length) a.write(buf.subarray(at));
  a.end();
  return a.result() as HeaderBlock;
}

const METADATA = `Metadata-Version: 2.1
Name: requests
Version: 2.32.3
Summary: Python HTTP for Humans.
Home-page: https://requests.readthedocs.io
License: Apache-2.0
Classifier: License :: OSI Approved :: Apache Software License
Requires-Python: >=3.8

# Requests

**Requests** is a simple, yet elegant, HTTP library.
License: not a header, this is the description body
`;

const PKG_INFO = `Metadata-Version: 1.1
Name: termcolor
Version: 1.1.0
Summary: ANSII Color formatting for output in terminal.
License: MIT
Description: Example
        =======
        
        ::
            import sys
Platform: UNKNOWN
Classifier: License :: OSI Approved :: MIT License
`;

describe('pythonMetadataPath', () => {
  it.each([
    ['usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA', 'dist-info', 'usr/lib/python3/dist-packages'],
    [
      'venv/lib/python3.11/site-packages/termcolor-1.1.0-py3.11.egg-info/PKG-INFO',
      'egg-info',
      'venv/lib/python3.11/site-packages',
    ],
    ['usr/lib/python3/dist-packages/cryptography.egg-info/PKG-INFO', 'egg-info', 'usr/lib/python3/dist-packages'],
    ['usr/lib/python3.11/site-packages/foo-1.0-py3.11.egg-info', 'egg-info-file', 'usr/lib/python3.11/site-packages'],
    ['site-packages/foo-1.0-py3.11.egg/EGG-INFO/PKG-INFO', 'egg', 'site-packages'],
    // Outside site-packages: pip install --target (a Lambda's /var/task), PDM, an editable install's egg-info.
    ['var/task/PyYAML-6.0.dist-info/METADATA', 'dist-info', 'var/task'],
    ['app/__pypackages__/3.11/lib/six-1.16.0.dist-info/METADATA', 'dist-info', 'app/__pypackages__/3.11/lib'],
    ['app/foo.egg-info/PKG-INFO', 'egg-info', 'app'],
    ['requests-2.0.dist-info/METADATA', 'dist-info', ''],
    ['var/task/.dist-info/METADATA', undefined, undefined],
    ['var/task/.egg/EGG-INFO/PKG-INFO', undefined, undefined],
    ['usr/lib/python3/dist-packages/foo.dist-info/RECORD', undefined, undefined],
    ['usr/lib/python3/dist-packages/foo/METADATA', undefined, undefined],
    ['usr/lib/python3/dist-packages/.egg-info', undefined, undefined],
  ])('%s -> %s', (path, kind, site) => {
    const r = pythonMetadataPath(path);
    expect(r?.kind).toBe(kind);
    expect(r?.site).toBe(site);
  });
});

describe('core metadata', () => {
  it('reads the header block only, with repeated keys and folded lines', () => {
    const h = parseHeaders(PKG_INFO);
    expect(h.get('name')).toEqual(['termcolor']);
    expect(h.get('description')?.[0]).toBe('Example\n=======\n::\nimport sys');
    expect(parseHeaders(METADATA).get('license')).toEqual(['Apache-2.0']);
  });

  it.each([
    ['License-Expression wins', 'License-Expression: MIT OR Apache-2.0\nLicense: BSD\n', ['MIT OR Apache-2.0']],
    [
      'a short License field',
      'License: BSD-3-Clause\nClassifier: License :: OSI Approved :: BSD License\n',
      ['BSD-3-Clause'],
    ],
    [
      'classifiers when License holds a whole text',
      'License: Copyright (c) 2020 A\n        Permission is hereby granted\nClassifier: License :: OSI Approved :: MIT License\n',
      ['MIT License'],
    ],
    [
      'classifiers when License is UNKNOWN',
      'License: UNKNOWN\nClassifier: License :: OSI Approved :: Apache Software License\nClassifier: License :: Public Domain\nClassifier: Topic :: Utilities\n',
      ['Apache Software License', 'Public Domain'],
    ],
    ['nothing', 'Name: x\n', []],
  ])('licences: %s', (_, text, want) => {
    expect(pythonLicenses(parseHeaders(text))).toEqual(want);
  });

  it.each([
    ['PyYAML', 'pyyaml'],
    ['zope.interface', 'zope-interface'],
    ['Foo__Bar-.baz', 'foo-bar-baz'],
  ])('PEP 503 normalises %s to %s', (name, want) => {
    expect(normalizePypiName(name)).toBe(want);
  });

  it('needs a Name and a Version', () => {
    expect(parsePythonMetadata(METADATA)).toMatchObject({
      name: 'requests',
      version: '2.32.3',
      licenses: ['Apache-2.0'],
    });
    expect(parsePythonMetadata('Name: x\n')).toBeUndefined();
    expect(parsePythonMetadata('Version: 1\n')).toBeUndefined();
  });
});

describe('header analyzer', () => {
  it('stops at the first empty line whatever the chunking, also with CRLF', () => {
    const head = METADATA.slice(0, METADATA.indexOf('\n\n') + 2);
    expect(analyze(METADATA).text).toBe(head);
    expect(analyze(METADATA, [1, 1, 3, 7, 200]).text).toBe(head);
    const crlf = METADATA.replace(/\n/g, '\r\n');
    expect(analyze(crlf, [5]).text).toBe(crlf.slice(0, crlf.indexOf('\r\n\r\n') + 4));
  });

  it('is bounded, and says when a header block was cut', () => {
    const huge = `Name: x\nVersion: 1\nSummary: ${'a'.repeat(5000)}\n\nbody`;
    const r = analyze(huge, [100], 1000);
    expect(r.text.length).toBe(1000);
    expect(r.complete).toBe(false);
    expect(analyze('Name: x\nVersion: 1\n').complete).toBe(true);
  });

  it('agrees with parsing the whole file, for any chunking and content', () => {
    const lines = fc.array(
      fc.oneof(
        fc.constantFrom('Name: a', 'Version: 1', 'License: MIT', '', '\r', '  folded', 'Classifier: License :: X'),
        fc.string(),
      ),
      { maxLength: 30 },
    );
    fc.assert(
      fc.property(lines, fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 20 }), (ls, sizes) => {
        const text = ls.join('\n');
        const block = analyze(text, sizes);
        expect(parsePythonMetadata(block.text)).toEqual(parsePythonMetadata(text));
      }),
    );
  });
});

describe('python cataloger', () => {
  const site = 'usr/local/lib/python3.11/site-packages';
  it('finds dist-info, egg-info and egg distributions, one per name and site directory, as pip does', async () => {
    const { packages, unknowns } = await catalogLayers([
      [
        { path: `${site}/requests-2.32.3.dist-info/METADATA`, content: METADATA },
        { path: `${site}/termcolor-1.1.0-py3.11.egg-info/PKG-INFO`, content: PKG_INFO },
        { path: `${site}/six-1.16.0-py3.11.egg-info`, content: 'Metadata-Version: 1.0\nName: six\nVersion: 1.16.0\n' },
        { path: `${site}/old-0.1-py3.11.egg/EGG-INFO/PKG-INFO`, content: 'Name: old\nVersion: 0.1\n' },
        {
          path: 'usr/lib/python3/dist-packages/cryptography-38.0.4.dist-info/METADATA',
          content: 'Name: cryptography\nVersion: 38.0.4\n',
        },
        {
          path: 'usr/lib/python3/dist-packages/cryptography.egg-info/PKG-INFO',
          content: 'Name: cryptography\nVersion: 38.0.4\n',
        },
        { path: `${site}/Cryptography-41.0.0.dist-info/METADATA`, content: 'Name: Cryptography\nVersion: 41.0.0\n' },
      ],
      [{ path: `${site}/broken-1.0.dist-info/METADATA`, content: 'Metadata-Version: 2.1\nSummary: no name\n' }],
    ]);
    expect(packages.map((p) => `${p.name}@${p.version} ${p.metadata?.['format']}`).sort()).toEqual([
      'Cryptography@41.0.0 dist-info',
      'cryptography@38.0.4 dist-info',
      'old@0.1 egg',
      'requests@2.32.3 dist-info',
      'six@1.16.0 egg-info-file',
      'termcolor@1.1.0 egg-info',
    ]);
    expect(packages.find((p) => p.name === 'Cryptography')?.purl).toBe('pkg:pypi/cryptography@41.0.0');
    expect(packages.find((p) => p.name === 'termcolor')).toMatchObject({
      licenses: ['MIT'],
      locations: [{ path: `${site}/termcolor-1.1.0-py3.11.egg-info/PKG-INFO`, layer: 0 }],
    });
    expect(unknowns).toMatchObject([{ path: `${site}/broken-1.0.dist-info/METADATA`, layer: 1, fatal: false }]);
  });

  it('finds distributions installed outside site-packages (pip install --target), purls named as the purl spec says', async () => {
    const { packages } = await catalogLayers([
      [
        { path: 'var/task/zope.interface-6.1.dist-info/METADATA', content: 'Name: zope.interface\nVersion: 6.1\n' },
        {
          path: 'var/task/typing_extensions-4.9.0.dist-info/METADATA',
          content: 'Name: typing_extensions\nVersion: 4.9.0\n',
        },
      ],
    ]);
    // Dots are kept, `_` becomes `-` and case is lowered (purl-spec PURL-TYPES, packageurl-js): what syft and trivy write.
    expect(packages.map((p) => p.purl).sort()).toEqual([
      'pkg:pypi/typing-extensions@4.9.0',
      'pkg:pypi/zope.interface@6.1',
    ]);
    expect(packages.every((p) => p.metadata?.['sitePackages'] === 'var/task')).toBe(true);
  });

  it('reports both versions when one directory holds metadata of two (stale dist-info), with a note', async () => {
    const { packages, unknowns } = await catalogLayers([
      [{ path: `${site}/requests-2.9.1.dist-info/METADATA`, content: 'Name: requests\nVersion: 2.9.1\n' }],
      [{ path: `${site}/requests-2.31.0.dist-info/METADATA`, content: 'Name: requests\nVersion: 2.31.0\n' }],
    ]);
    expect(packages.map((p) => `${p.name}@${p.version}`).sort()).toEqual(['requests@2.31.0', 'requests@2.9.1']);
    expect(unknowns).toMatchObject([
      {
        path: site,
        layer: 1,
        fatal: false,
        message: expect.stringMatching(/versions 2\.(9\.1|31\.0), 2\.(9\.1|31\.0) in one directory/),
      },
    ]);
  });

  it('streams a METADATA file with a large description without keeping it', async () => {
    const big = `${METADATA}${'long description line\n'.repeat(200_000)}`;
    const { packages } = await catalogLayers([[{ path: `${site}/requests-2.32.3.dist-info/METADATA`, content: big }]]);
    expect(packages.map((p) => p.name)).toEqual(['requests']);
  });

  it('never throws on arbitrary metadata files', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        const { unknowns } = await catalogLayers([
          [{ path: `${site}/x-1.dist-info/METADATA`, content: Buffer.from(bytes) }],
        ]);
        expect(unknowns.every((u) => !u.fatal)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });
});
