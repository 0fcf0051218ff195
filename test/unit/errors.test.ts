import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../src/errors.js';
import { ROOT } from '../helpers/paths.js';

describe('error catalogue', () => {
  it('documents every code with its exit code and how to solve it, and nothing else', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `([A-Z0-9_]+)` \| (\d) \| (.+) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    expect(rows).toEqual(Object.entries(ERROR_CATALOGUE).map(([code, e]) => [code, e.exit, e.solve]));
  });
});
