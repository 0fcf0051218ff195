import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parseDocument } from 'yaml';
import { checkUniqueKeys } from '../../src/util/yamlkeys.js';

/** The errors of a document as code@offset, in source order (the library's own order is the composer's). */
const errors = (d: { errors: readonly { code: string; pos: [number, number] }[] }) =>
  d.errors
    .map((e) => ({ at: e.pos[0], text: `${e.code}@${e.pos[0]}` }))
    .sort((a, b) => a.at - b.at || (a.text < b.text ? -1 : 1))
    .map((e) => e.text);

/** Small YAML texts with repeated keys at any depth, in block and flow style, some of them malformed. */
const key = fc.constantFrom('a', 'b', 'c', '"a"', "'b'", '1', '"1"', 'true', '~', '? [x]');
const scalar = fc.constantFrom('1', 'x', '"s"', 'null', '[]', '{}');
const flow = fc
  .array(fc.tuple(key, scalar), { maxLength: 5 })
  .map((ps) => `{${ps.map(([k, v]) => `${k}: ${v}`).join(', ')}}`);
const block: fc.Arbitrary<string> = fc.letrec((tie) => ({
  map: fc
    .array(fc.tuple(key, fc.oneof({ maxDepth: 3 }, scalar, flow, tie('map') as fc.Arbitrary<string>)), {
      minLength: 1,
      maxLength: 5,
    })
    .map((ps) =>
      ps.map(([k, v]) => (v.includes('\n') || /^\S+: /.test(v) ? `${k}:\n${indent(v)}` : `${k}: ${v}`)).join('\n'),
    ),
})).map as fc.Arbitrary<string>;
const indent = (s: string) =>
  s
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

describe('checkUniqueKeys', () => {
  it('finds exactly the duplicate keys the yaml library finds, at the same offsets (fast-check, the library as oracle)', () => {
    fc.assert(
      fc.property(fc.oneof(block, flow), fc.constantFrom('1.1', '1.2'), (text, version) => {
        const want = parseDocument(text, { uniqueKeys: true, version: version as '1.1' | '1.2' });
        const got = parseDocument(text, { uniqueKeys: false, version: version as '1.1' | '1.2' });
        checkUniqueKeys(got);
        expect(errors(got)).toEqual(errors(want));
      }),
      { numRuns: 2000 },
    );
  });

  it('checks each document of a stream, and a mapping of 200,000 keys in one pass', () => {
    const docs = parseAllDocuments('a: 1\nb: 2\n---\na: 1\na: 2\n', { uniqueKeys: false });
    if (!Array.isArray(docs)) throw new Error('expected documents');
    for (const d of docs) checkUniqueKeys(d);
    const want = parseAllDocuments('a: 1\nb: 2\n---\na: 1\na: 2\n', { uniqueKeys: true });
    if (!Array.isArray(want)) throw new Error('expected documents');
    expect(docs.map(errors)).toEqual(want.map(errors));
    expect(docs.map(errors)).toEqual([[], ['DUPLICATE_KEY@19']]);
    const big = Array.from({ length: 200_000 }, (_, i) => `k${i}: v`).join('\n');
    const doc = parseDocument(`${big}\nk7: again\n`, { uniqueKeys: false });
    checkUniqueKeys(doc);
    expect(errors(doc)).toEqual([`DUPLICATE_KEY@${big.length + 1}`]);
  });
});
