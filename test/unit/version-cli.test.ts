import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  answerLine,
  BatchAnswerer,
  type InputLine,
  LineSplitter,
  serialiseAnswer,
} from '../../src/advisories/versions/batch.js';
import { dpkgScheme } from '../../src/advisories/versions/dpkg.js';
import { explainComparison } from '../../src/advisories/versions/explain.js';
import { findScheme, SCHEMES } from '../../src/advisories/versions/index.js';
import { rpmScheme } from '../../src/advisories/versions/rpm.js';
import { semverScheme } from '../../src/advisories/versions/semver.js';

const line = (o: unknown) => JSON.stringify(o);

describe('answerLine', () => {
  // [input line, expected answer]; errors are matched by a fragment of their message.
  const rows: [string, object | RegExp][] = [
    [line({ scheme: 'dpkg', a: '1.0', b: '1.0-1' }), { cmp: -1 }],
    [line({ scheme: 'dpkg', a: '1:1.0', b: '2.0' }), { cmp: 1 }],
    [line({ scheme: 'dpkg', a: '1.0~rc1', b: '1.0~rc1' }), { cmp: 0 }],
    [line({ scheme: 'apk', a: '1.2.3_rc1-r0', b: '1.2.3-r0' }), { cmp: -1 }],
    [line({ scheme: 'rpm', a: '1.0-1.el9', b: '1.0' }), { cmp: 1 }],
    [line({ scheme: 'pep440', a: '1.0a1', b: '1.0' }), { cmp: -1 }],
    [line({ scheme: 'maven', a: '1.0-SNAPSHOT', b: '1.0' }), { cmp: -1 }],
    [line({ scheme: 'go', a: 'v1.2.3', b: 'v1.10.0' }), { cmp: -1 }],
    [line({ scheme: 'rubygems', a: '1.0.a', b: '1.0' }), { cmp: -1 }],
    [line({ scheme: 'nuget', a: '1.0.0.0', b: '1.0.0' }), { cmp: 0 }],
    [line({ scheme: 'generic', a: '2', b: '10' }), { cmp: -1 }],
    [line({ scheme: 'semver', version: '1.2.3', range: '^1.0.0' }), { satisfies: true }],
    [line({ scheme: 'semver', version: '2.0.0-rc.1', range: '^1.0.0 || >=2.0.0' }), { satisfies: false }],
    [line({ scheme: 'pep440', version: '1.4', range: '>=1.0,<2' }), { satisfies: true }],
    [line({ scheme: 'maven', version: '2.0', range: '[1.0,2.0)' }), { satisfies: false }],
    [line({ scheme: 'rubygems', version: '1.2.5', range: '~> 1.2.3' }), { satisfies: true }],
    [line({ scheme: 'nuget', version: '1.5.0', range: '[1.0,2.0)' }), { satisfies: true }],
    // OSV ecosystem names (and their `:release` suffix) are aliases, in any case.
    [line({ scheme: 'Debian', a: '1.0', b: '1.0-1' }), { cmp: -1 }],
    [line({ scheme: 'Debian:12', a: '1.0', b: '1.0-1' }), { cmp: -1 }],
    [line({ scheme: 'PyPI', a: '1.0a1', b: '1.0' }), { cmp: -1 }],
    [line({ scheme: 'npm', version: '1.2.3', range: '~1.2' }), { satisfies: true }],
    [line({ scheme: 'DPKG', a: '1', b: '2' }), { cmp: -1 }],
    // Whitespace around the object, and a trailing CR, are JSON whitespace.
    [`  ${line({ scheme: 'dpkg', a: '1', b: '1' })}\r`, { cmp: 0 }],
    // Errors.
    ['', /blank line/],
    [' \t\r', /blank line/],
    ['{"scheme":"dpkg","a":"1"', /^not JSON: /],
    ['[1,2]', /not a JSON object: an array/],
    ['null', /not a JSON object: null/],
    ['"dpkg 1 2"', /not a JSON object: string/],
    [line({ a: '1', b: '2' }), /missing field 'scheme'/],
    [line({ scheme: 'nope', a: '1', b: '2' }), /unknown scheme 'nope' \(schemes: dpkg, apk, rpm, .*PyPI/],
    [line({ scheme: 'dpkg:12', a: '1', b: '2' }), /unknown scheme 'dpkg:12'/],
    [line({ scheme: 'dpkg', a: '1' }), /missing field 'b'/],
    [line({ scheme: 'dpkg', b: '1' }), /missing field 'a'/],
    [line({ scheme: 'dpkg' }), /missing fields 'a' and 'b'/],
    [line({ scheme: 'semver', version: '1.0.0' }), /missing field 'range'/],
    [line({ scheme: 'semver', range: '^1' }), /missing field 'version'/],
    [line({ scheme: 'semver', a: '1.0.0', range: '^1' }), /either 'a' and 'b', or 'version' and 'range'/],
    [line({ scheme: 'dpkg', a: 1, b: '2' }), /field 'a' must be a string, not number/],
    [line({ scheme: 'dpkg', a: '1', b: null }), /field 'b' must be a string, not null/],
    [line({ scheme: 'dpkg', a: '1', b: '2', id: 7 }), /unknown field 'id'/],
    ['{"__proto__":{"scheme":"dpkg"},"a":"1","b":"2"}', /unknown field '__proto__'/],
    [line({ scheme: 'dpkg', a: '1:', b: '2' }), /^dpkg: '1:' is not a valid version \(nothing after colon/],
    [line({ scheme: 'semver', a: 'x', b: '1.0.0' }), /^semver: 'x' is not a valid version/],
    [line({ scheme: 'semver', version: '1.0.0', range: '>>>' }), /^semver: '>>>' .*invalid range/],
    [line({ scheme: 'dpkg', version: '1', range: '>= 1' }), /scheme dpkg has no range syntax \(ranges: semver, pep440/],
    [line({ scheme: 'generic', version: '1', range: '1' }), /scheme generic has no range syntax/],
  ];
  it.each(rows)('%s', (input, expected) => {
    const got = answerLine(input);
    if (expected instanceof RegExp) {
      expect(Object.keys(got)).toEqual(['error']);
      expect((got as { error: string }).error).toMatch(expected);
    } else {
      expect(got).toEqual(expected);
    }
  });

  it('uses the default scheme only for lines that name none', () => {
    expect(answerLine(line({ a: '1.0', b: '1.0-1' }), 'dpkg')).toEqual({ cmp: -1 });
    expect(answerLine(line({ scheme: 'rpm', a: '1.0~rc1', b: '1.0' }), 'nope')).toEqual({ cmp: -1 });
    expect(answerLine(line({ a: '1', b: '2' }), 'nope')).toMatchObject({ error: expect.stringMatching(/nope/) });
  });

  it('answers exactly what the scheme answers, for every scheme', () => {
    for (const [name, scheme] of SCHEMES) {
      expect(findScheme(name)).toBe(scheme);
      expect(answerLine(line({ scheme: name, a: '1.0.0', b: '2.0.0' }))).toEqual({
        cmp: scheme.compare('1.0.0', '2.0.0'),
      });
    }
  });
});

/** Hostile text: arbitrary Unicode (lone surrogates included), JSON of any shape, and near-valid request lines. */
const schemeName = fc.oneof(fc.constantFrom(...SCHEMES.keys(), 'Debian', 'PyPI', 'npm', 'Go:x', ''), fc.string());
const versionText = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('1.0', '1.0-1', '2.0.0', 'v1.2.3', '1:2', '1.0.0-rc.1', '0.9') },
  { weight: 1, arbitrary: fc.string() },
);
const request = fc.record(
  {
    scheme: schemeName,
    a: fc.oneof(versionText, fc.jsonValue()),
    b: fc.oneof(versionText, fc.jsonValue()),
    version: versionText,
    range: fc.oneof(fc.constantFrom('^1.0.0', '>=1,<2', '[1.0,2.0)', '~> 1.2'), fc.string()),
    extra: fc.jsonValue(),
  },
  { requiredKeys: [] },
);
const anyLine = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: fc.nat(0xffff).map((c) => String.fromCharCode(c)), maxLength: 40 }),
  fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
  fc.constantFrom('{"__proto__":{"scheme":"dpkg"},"a":"1","b":"2"}', '{"constructor":"dpkg","toString":1}'),
  request.map((r) => JSON.stringify(r)),
  fc.record({ scheme: schemeName, a: versionText, b: versionText }).map((r) => JSON.stringify(r)),
  fc.record({ scheme: schemeName, version: versionText, range: fc.string() }).map((r) => JSON.stringify(r)),
  fc
    .tuple(
      request.map((r) => JSON.stringify(r)),
      fc.nat(),
      fc.string({ maxLength: 3 }),
    )
    .map(([s, at, c]) => s.slice(0, at % (s.length + 1)) + c + s.slice(at % (s.length + 1))),
);

describe('batch answers under any input', () => {
  it('give exactly one valid JSON line per input line and never throw', () => {
    const seen = { cmp: 0, satisfies: 0, error: 0 };
    fc.assert(
      fc.property(anyLine, fc.option(fc.constantFrom('dpkg', 'semver', 'nope')), (text, dflt) => {
        const out = serialiseAnswer(answerLine(text, dflt ?? undefined));
        expect(out.endsWith('\n')).toBe(true);
        // No character that any common line reader (Python's splitlines included) treats as a line break.
        expect(out.slice(0, -1)).not.toMatch(/[\n\r\v\f\u001c-\u001e\u0085\u2028\u2029]/);
        const parsed = JSON.parse(out) as Record<string, unknown>;
        const keys = Object.keys(parsed);
        expect(keys).toHaveLength(1);
        const [key] = keys as ['cmp' | 'satisfies' | 'error'];
        seen[key]++;
        if (key === 'cmp') expect([-1, 0, 1]).toContain(parsed.cmp);
        else if (key === 'satisfies') expect(typeof parsed.satisfies).toBe('boolean');
        else {
          expect(key).toBe('error');
          expect(typeof parsed.error).toBe('string');
          expect((parsed.error as string).length).toBeLessThan(1000);
        }
      }),
      { numRuns: 5000, seed: 20240611 },
    );
    // The generator reaches every kind of answer, or the property proves little.
    expect(seen.cmp).toBeGreaterThan(50);
    expect(seen.satisfies).toBeGreaterThan(5);
    expect(seen.error).toBeGreaterThan(2000);
  });
});

const enc = (s: string) => Buffer.from(s, 'utf8');

/** Cut `bytes` at the given offsets. */
function chunks(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out;
}

/** What the splitter must give: lines split on \n (no line after a final \n), overlong ones refused. */
function model(text: string, max: number): InputLine[] {
  const parts = text.split('\n');
  if (parts.at(-1) === '') parts.pop();
  return parts.map((p, k) => {
    if (Buffer.byteLength(p) > max) return { refused: `line longer than ${max} bytes` };
    return { text: k === 0 && p.startsWith('\uFEFF') ? p.slice(1) : p };
  });
}

describe('LineSplitter', () => {
  it('gives the same lines however the input is cut into chunks', () => {
    const text = fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constant('\n')), {
      maxLength: 20,
    });
    fc.assert(
      fc.property(
        text.map((p) => p.join('')),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.boolean(),
        (t, cuts, bom) => {
          const input = bom ? `\uFEFF${t}` : t;
          const s = new LineSplitter(16);
          const got = [...chunks(enc(input), cuts).flatMap((c) => s.push(c)), ...s.end()];
          expect(got).toEqual(model(input, 16));
        },
      ),
      { numRuns: 3000, seed: 7 },
    );
  });

  it('refuses an overlong line without holding it, and goes on with the next', () => {
    const s = new LineSplitter(10);
    expect(s.push(enc('0123456789\n01234'))).toEqual([{ text: '0123456789' }]);
    expect(s.push(enc('567890'))).toEqual([]);
    expect(s.push(enc('x'.repeat(100_000)))).toEqual([]);
    expect(s.push(enc('\nok\n'))).toEqual([{ refused: 'line longer than 10 bytes' }, { text: 'ok' }]);
    expect(s.end()).toEqual([]);
  });

  it('refuses invalid UTF-8 (a byte order mark counts only before the first line)', () => {
    const s = new LineSplitter();
    const got = [...s.push(Buffer.from([0xef, 0xbb, 0xbf, 0x61, 0x0a, 0xff, 0x0a, 0xc3])), ...s.end()];
    expect(got).toEqual([
      { text: 'a' },
      { refused: 'line is not valid UTF-8' },
      { refused: 'line is not valid UTF-8' },
    ]);
    const t = new LineSplitter();
    expect([...t.push(enc('x\n\uFEFFy')), ...t.end()]).toEqual([{ text: 'x' }, { text: '\uFEFFy' }]);
  });
});

describe('BatchAnswerer', () => {
  it('answers every line in order and counts the errors', () => {
    const input = [
      line({ scheme: 'dpkg', a: '1', b: '2' }),
      'garbage',
      '',
      line({ scheme: 'semver', version: '1.0.0', range: '1.x' }),
      'x'.repeat(80),
      line({ scheme: 'dpkg', a: '2', b: '1' }),
    ].join('\n');
    const b = new BatchAnswerer(undefined, 60);
    const out = [...chunks(enc(input), [3, 50, 51, 90, 120])].map((c) => b.push(c)).join('') + b.end();
    expect(
      out
        .split('\n')
        .slice(0, -1)
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { cmp: -1 },
      { error: expect.stringMatching(/^not JSON/) },
      { error: expect.stringMatching(/^blank line/) },
      { satisfies: true },
      { error: 'line longer than 60 bytes' },
      { cmp: 1 },
    ]);
    expect([b.lines, b.errors, b.firstError]).toEqual([6, 3, 2]);
  });

  it('gives as many output lines as input lines for any text', () => {
    fc.assert(
      fc.property(fc.array(anyLine, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 5 }), (lines, cuts) => {
        // Lines of the input are the generated strings split at their own newlines, if any.
        const text = lines.map((l) => `${l}\n`).join('');
        const b = new BatchAnswerer('dpkg', 200);
        const out = chunks(enc(text), cuts)
          .map((c) => b.push(c))
          .join('');
        const expected = model(text, 200).length;
        expect((out + b.end()).split('\n').length - 1).toBe(expected);
        expect(b.lines).toBe(expected);
      }),
      { numRuns: 1000, seed: 11 },
    );
  });
});

describe('explainComparison', () => {
  const version = fc
    .tuple(
      fc.constantFrom('0', '1', '2', '10'),
      fc.array(fc.constantFrom('0', '1', '2', '10', '.', '~', '+', 'a', 'rc', '-', ':', '^'), { maxLength: 7 }),
    )
    .map(([first, rest]) => first + rest.join(''));
  it.each([dpkgScheme, rpmScheme, semverScheme])(
    '$name: the component it names as deciding has the sign of compare()',
    (scheme) => {
      let decided = 0;
      fc.assert(
        fc.property(version, version, (x, y) => {
          const a = scheme === semverScheme ? `1.${x.length}.0-${x}` : x;
          const b = scheme === semverScheme ? `1.${y.length}.0-${y}` : y;
          if (!scheme.valid(a) || !scheme.valid(b)) return;
          const { cmp, lines } = explainComparison(scheme, a, b);
          expect(cmp).toBe(scheme.compare(a, b));
          const decider = lines.find((l) => l.endsWith('<- decides'));
          if (cmp === 0) {
            expect(decider).toBeUndefined();
            expect(lines).toContain('  equal in every component');
          } else {
            decided++;
            expect(decider).toContain(` ${cmp < 0 ? '<' : '>'} `);
            expect(lines.at(-1)).toBe(decider);
          }
        }),
        { numRuns: 2000, seed: 5 },
      );
      expect(decided).toBeGreaterThan(200);
    },
  );

  it('names the component that decided', () => {
    expect(explainComparison(dpkgScheme, '1:2.0-1', '1:2.0-2').lines).toEqual([
      "dpkg: '1:2.0-1' < '1:2.0-2'",
      '  epoch     1 = 1',
      '  upstream  2.0 = 2.0',
      '  revision  1 < 2   <- decides',
    ]);
    expect(explainComparison(rpmScheme, '1:1.0', '2.0').lines.at(-1)).toBe('  epoch    1 > (none, as 0)   <- decides');
    expect(explainComparison(semverScheme, '1.2.3', '1.10.0').lines.at(-1)).toBe('  minor       2 < 10   <- decides');
    const other = explainComparison(SCHEMES.get('pep440')!, '1.0', '1.0.post1');
    expect(other.cmp).toBe(-1);
    expect(other.lines[1]).toMatch(/no component breakdown for pep440/);
  });
});
