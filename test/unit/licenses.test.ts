import { describe, expect, it } from 'vitest';
import { classifyLicense, spdxExpression } from '../../src/report/licenses.js';

describe('classifyLicense', () => {
  it.each([
    ['MIT', { kind: 'id', id: 'MIT' }],
    ['apache-2.0', { kind: 'id', id: 'Apache-2.0' }],
    ['GPL-2+', { kind: 'id', id: 'GPL-2.0-or-later' }],
    ['Expat', { kind: 'id', id: 'MIT' }],
    ['https://www.apache.org/licenses/LICENSE-2.0.txt', { kind: 'id', id: 'Apache-2.0' }],
    ['(MIT OR Apache-2.0)', { kind: 'expression', expression: '(MIT OR Apache-2.0)' }],
    [
      'GPL-2.0-only WITH Classpath-exception-2.0',
      { kind: 'expression', expression: 'GPL-2.0-only WITH Classpath-exception-2.0' },
    ],
    ['public-domain', { kind: 'name', name: 'public-domain' }],
    ['curl', { kind: 'id', id: 'curl' }],
  ])('%s', (input, expected) => {
    expect(classifyLicense(input)).toEqual(expected);
  });

  it('joins several licences with AND, and gives up on free-form names', () => {
    expect(spdxExpression(['MIT', 'ISC'])).toBe('MIT AND ISC');
    expect(spdxExpression(['MIT', 'Some EULA'])).toBeUndefined();
  });
});
