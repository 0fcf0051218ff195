import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyLicense, renameLicenses, spdxExpression } from '../../src/report/licenses.js';
import { SPDX_LIST_IDS, SPDX_LIST_VERSION } from '../../src/report/spdx-list.generated.js';

const require = createRequire(import.meta.url);

describe('classifyLicense', () => {
  it.each([
    ['MIT', { kind: 'id', id: 'MIT' }],
    ['apache-2.0', { kind: 'id', id: 'Apache-2.0' }],
    ['GPL-2+', { kind: 'id', id: 'GPL-2.0-or-later' }],
    ['Expat', { kind: 'id', id: 'MIT' }],
    ['https://www.apache.org/licenses/LICENSE-2.0.txt', { kind: 'id', id: 'Apache-2.0' }],
    ['(MIT OR Apache-2.0)', { kind: 'expression', expression: 'MIT OR Apache-2.0', unlisted: [] }],
    [
      'GPL-2.0-only WITH Classpath-exception-2.0',
      { kind: 'expression', expression: 'GPL-2.0-only WITH Classpath-exception-2.0', unlisted: [] },
    ],
    ['public-domain', { kind: 'name', name: 'public-domain' }],
    ['curl', { kind: 'id', id: 'curl' }],
  ])('%s', (input, expected) => {
    expect(classifyLicense(input)).toEqual(expected);
  });

  it.each([
    ['GPL-2.0', { kind: 'id', id: 'GPL-2.0-only' }],
    ['gpl-3.0', { kind: 'id', id: 'GPL-3.0-only' }],
    ['GPL-2.0+', { kind: 'id', id: 'GPL-2.0-or-later' }],
    ['LGPL-2.1+ OR MIT', { kind: 'expression', expression: 'LGPL-2.1-or-later OR MIT', unlisted: [] }],
    [
      'GPL-2.0-with-classpath-exception',
      { kind: 'expression', expression: 'GPL-2.0-only WITH Classpath-exception-2.0', unlisted: [] },
    ],
    ['eCos-2.0', { kind: 'expression', expression: 'GPL-2.0-or-later WITH eCos-exception-2.0', unlisted: [] }],
    [
      '(MIT OR wxWindows) AND BSD-2-Clause-NetBSD',
      {
        kind: 'expression',
        expression: '(MIT OR LGPL-2.0-or-later WITH WxWindows-exception-3.1) AND BSD-2-Clause',
        unlisted: [],
      },
    ],
    ['StandardML-NJ', { kind: 'id', id: 'SMLNJ' }],
    // a deprecated id with an exception of its own and another one: no valid expression says that
    [
      'GPL-2.0-with-classpath-exception WITH Classpath-exception-2.0',
      { kind: 'name', name: 'GPL-2.0-with-classpath-exception WITH Classpath-exception-2.0' },
    ],
  ])('rewrites the deprecated ids of %s', (input, expected) => {
    expect(classifyLicense(input)).toEqual(expected);
  });

  it.each([
    [
      'MIT OR LicenseRef-foo',
      { kind: 'expression', expression: 'MIT OR LicenseRef-foo', unlisted: ['LicenseRef-foo'] },
    ],
    ['LicenseRef-foo', { kind: 'expression', expression: 'LicenseRef-foo', unlisted: ['LicenseRef-foo'] }],
    // newer than the list CycloneDX 1.6 ships
    ['UnRAR', { kind: 'expression', expression: 'UnRAR', unlisted: ['UnRAR'] }],
    ['MIT AND WordNet', { kind: 'expression', expression: 'MIT AND WordNet', unlisted: ['WordNet'] }],
    // deprecated without a replacement
    ['Net-SNMP', { kind: 'expression', expression: 'Net-SNMP', unlisted: ['Net-SNMP'] }],
  ])('names the unlisted licences of %s', (input, expected) => {
    expect(classifyLicense(input)).toEqual(expected);
  });

  it('gives an id only for a current licence on the list CycloneDX ships', () => {
    const cdx = new Set(SPDX_LIST_IDS);
    for (const id of require('spdx-license-ids') as string[]) {
      const c = classifyLicense(id);
      if (c.kind === 'id') expect(cdx.has(c.id)).toBe(true);
      else expect(c).toEqual({ kind: 'expression', expression: id, unlisted: [id] });
    }
  });

  it('renames the licences of an expression', () => {
    expect(renameLicenses('(MIT OR UnRAR) AND ISC', (l) => (l === 'UnRAR' ? 'LicenseRef-UnRAR' : l))).toBe(
      '(MIT OR LicenseRef-UnRAR) AND ISC',
    );
  });

  it('joins several licences with AND, and gives up on free-form names', () => {
    expect(spdxExpression(['MIT', 'ISC'])).toBe('MIT AND ISC');
    expect(spdxExpression(['MIT', 'Some EULA'])).toBeUndefined();
  });
});

describe('the SPDX list CycloneDX ships (src/report/spdx-list.generated.ts)', () => {
  it("is the @cyclonedx/cyclonedx-library schema's enum: run scripts/gen-spdx-list.mjs after upgrading it", () => {
    const dir = join(dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')), 'res', 'schema');
    const schema = JSON.parse(readFileSync(join(dir, 'spdx.SNAPSHOT.schema.json'), 'utf8'));
    expect(SPDX_LIST_IDS).toEqual(schema.enum);
    expect(schema.$comment).toMatch(new RegExp(`${SPDX_LIST_VERSION.replaceAll('.', '\\.')}$`));
  });
});
