import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rpmScheme } from '../../src/advisories/versions/rpm.js';
import { InvalidVersionError } from '../../src/advisories/versions/scheme.js';

// rpm 4.18 itself is the oracle: its Lua `rpm.vercmp(a, b)` parses both as [epoch:]version[-release] and
// compares them with rpmverCmp. One `rpm --eval` reads every pair from a file, so the batch costs one exec.
// PORTCULLIS_FC_SEED and PORTCULLIS_FC_SCALE explore further when run by hand.
const SEED = Number(process.env.PORTCULLIS_FC_SEED ?? 20240603);
const PAIRS = Math.round(30_000 * Number(process.env.PORTCULLIS_FC_SCALE ?? 1));

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rpm-versions-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** rpm.vercmp over pairs given as alternate lines; '-1' | '0' | '1', or 'E' where rpm raised an error. */
function rpmVercmp(pairs: (readonly [string, string])[]): string[] {
  const file = join(dir, 'pairs');
  writeFileSync(file, `${pairs.flat().join('\n')}\n`);
  const lua = `
    local next_line = io.lines(${JSON.stringify(file)})
    for a in next_line do
      local b = next_line()
      local ok, r = pcall(rpm.vercmp, a, b)
      io.write(ok and tostring(r) or 'E', '\\n')
    end`;
  const out = execFileSync('rpm', ['--eval', `%{lua:${lua}}`], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out.split('\n').filter((l) => l !== '');
}

// ---- generators ------------------------------------------------------------------------------------------------

const number = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 30 }).map(String) },
  { weight: 2, arbitrary: fc.stringMatching(/^0{1,3}[0-9]{0,3}$/) },
  { weight: 1, arbitrary: fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 53n + 3n }).map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 40n }).map(String) },
);
const word = fc.oneof(
  fc.stringMatching(/^[a-zA-Z]{1,3}$/),
  fc.constantFrom('el9', 'fc40', 'rc', 'beta', 'git', 'post', 'a', 'Z', 'module', 'snap'),
);
// Separators rpm skips (any non-alphanumeric byte, UTF-8 included) and its two marks, ~ and ^.
const mark = fc.constantFrom('.', '.', '_', '+', '-', '~', '~~', '^', '^~', '~^', ':', ' ', '%', 'é', '..', '-.');
const piece = fc.oneof(
  { weight: 3, arbitrary: number },
  { weight: 2, arbitrary: word },
  { weight: 3, arbitrary: mark },
);
const text = fc.array(piece, { maxLength: 8 }).map((p) => p.join(''));
const version = fc
  .tuple(fc.option(fc.oneof(number, fc.constant('')), { freq: 4 }), text, fc.option(text, { freq: 2 }))
  .map(([epoch, v, release]) => `${epoch === null ? '' : `${epoch}:`}${v}${release === null ? '' : `-${release}`}`);

/** A near neighbour of `v`, so that many pairs differ only in the subtle places. */
const neighbour = (v: string) =>
  fc.oneof(
    fc.constantFrom('~', '~~', '^', '^~', '~a', '.0', '0', 'a', '-', '-1', '.', '_', 'é').map((s) => v + s),
    fc.constant(v.replace(/\d+/, (d) => `0${d}`)),
    fc.constant(v.replace(/\d+(?!.*\d)/, (d) => String(BigInt(d) + 1n))),
    fc.constant(/^\d*:/.test(v) ? v.replace(/^\d*:/, '') : `0:${v}`),
    fc.constant(v.replace(/[._+]/, '')),
    fc.constant(v.replace(/[~^]/, '')),
    fc.constant(v.slice(0, -1)),
    fc.constant(v),
  );
const pair = fc.oneof(
  fc.tuple(version, version),
  version.chain((a) => fc.tuple(fc.constant(a), neighbour(a))),
  version.chain((a) => fc.tuple(neighbour(a), fc.constant(a))),
);

const ours = (a: string, b: string): string => {
  try {
    return String(rpmScheme.compare(a, b));
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidVersionError);
    return 'E';
  }
};

describe('rpm scheme against rpm.vercmp (rpm 4.18)', () => {
  it(`orders ${PAIRS} generated pairs exactly as rpm does, and refuses what rpm refuses`, () => {
    const pairs = fc.sample(pair, { numRuns: PAIRS, seed: SEED });
    const started = Date.now();
    const theirs = rpmVercmp(pairs);
    expect(theirs).toHaveLength(pairs.length);
    expect(Date.now() - started).toBeLessThan(60_000);
    const wrong = pairs
      .map(([a, b], k) => ({ a, b, rpm: theirs[k], ours: ours(a, b) }))
      .filter((x) => x.rpm !== x.ours)
      .map((x) => `${JSON.stringify(x.a)} vs ${JSON.stringify(x.b)}: rpm ${x.rpm}, ours ${x.ours}`);
    expect(wrong.slice(0, 20), `seed ${SEED}`).toEqual([]);
    for (const r of ['-1', '0', '1', 'E']) expect(theirs.filter((x) => x === r).length).toBeGreaterThan(PAIRS / 200);
    for (const r of ['-1', '0', '1']) expect(theirs.filter((x) => x === r).length).toBeGreaterThan(PAIRS / 20);
  });
});
