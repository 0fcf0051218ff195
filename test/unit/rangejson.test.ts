import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AffectedRange } from '../../src/advisories/model.js';
import { parseRanges, stringifyRanges } from '../../src/store/rangejson.js';

/** What the store held before the fast path: JSON.parse, or its error. */
function reference(json: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(json) };
  } catch (err) {
    return { error: (err as Error).name };
  }
}

function ours(json: string): { value: unknown } | { error: string } {
  try {
    return { value: parseRanges(json) };
  } catch (err) {
    return { error: (err as Error).name };
  }
}

/** Version strings as advisories write them, and the characters JSON must escape or that end the fast path. */
const version = fc.oneof(
  fc.constantFrom('0', '1.2.3', '1:2.36-9+deb12u4', '2.0.0-rc.1', 'v0.0.0-20210101000000-abcdef123456', ''),
  fc.string({ unit: fc.constantFrom('1', '.', '-', '"', '\\', '\n', '\u0000', '\u001f', 'é', '\u2028', '😀', '~') }),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const event = fc.oneof(
  version.map((v) => ({ introduced: v })),
  version.map((v) => ({ fixed: v })),
  version.map((v) => ({ last_affected: v })),
  version.map((v) => ({ limit: v })),
);
const range: fc.Arbitrary<AffectedRange> = fc.record({
  type: fc.constantFrom('ECOSYSTEM', 'SEMVER', 'GIT'),
  events: fc.array(event, { maxLength: 3 }),
});

describe('stringifyRanges', () => {
  it('writes exactly what JSON.stringify writes for the ranges importers make (fast-check)', () => {
    expect(stringifyRanges([])).toBe('[]');
    fc.assert(
      fc.property(fc.array(range, { maxLength: 4 }), (ranges) => {
        expect(stringifyRanges(ranges)).toBe(JSON.stringify(ranges));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseRanges', () => {
  it('reads what the importer writes exactly as JSON.parse does, keys in the same order (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(range, { maxLength: 3 }), (ranges) => {
        const json = JSON.stringify(ranges);
        const got = parseRanges(json);
        expect(got).toStrictEqual(JSON.parse(json));
        expect(JSON.stringify(got)).toBe(json);
      }),
      { numRuns: 3000 },
    );
  });

  it('takes the fast path for the common shape and still matches JSON.parse there', () => {
    const common = fc.tuple(fc.constantFrom('ECOSYSTEM', 'SEMVER'), version, fc.option(version, { nil: undefined }));
    fc.assert(
      fc.property(common, ([type, introduced, fixed]) => {
        const json = JSON.stringify([
          { type, events: fixed === undefined ? [{ introduced }] : [{ introduced }, { fixed }] },
        ]);
        expect(JSON.stringify(parseRanges(json))).toBe(json);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with JSON.parse on damaged or hand-written text, errors included (fast-check)', () => {
    const near = fc
      .tuple(fc.array(range, { maxLength: 2 }), fc.nat(), fc.string({ maxLength: 3 }))
      .map(([ranges, at, insert]) => {
        const json = JSON.stringify(ranges);
        const i = at % (json.length + 1);
        return json.slice(0, i) + insert + json.slice(i);
      });
    const samples = [
      '[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}] ',
      '[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1\\u0030"}]}]',
      '[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1\u0001"}]}]',
      '[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1"},{"fixed":"2"}]}]',
      '[{"type":"ECOSYSTEM","events":[{"introduced":"0","fixed":"1"}]}]',
      '[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]},{"type":"SEMVER","events":[{"introduced":"0"}]}]',
      '[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1"}]}',
      '[]',
      '',
    ];
    for (const s of samples) expect(ours(s)).toStrictEqual(reference(s));
    fc.assert(
      fc.property(fc.oneof(near, fc.string()), (s) => {
        expect(ours(s)).toStrictEqual(reference(s));
      }),
      { numRuns: 3000 },
    );
  });
});
