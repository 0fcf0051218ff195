import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dpkgScheme } from '../../src/advisories/versions/dpkg.js';
import { type Comparison, InvalidVersionError } from '../../src/advisories/versions/scheme.js';

// dpkg itself is the oracle: `dpkg --compare-versions -- A op B` exits 0 (true), 1 (false) or 2 (bad syntax) and
// warns on stderr about versions its strict parser refuses. One exec costs 1.5-3 ms, so each batch is a shell loop
// over a file, split over the CPUs.
// PORTCULLIS_FC_SEED and PORTCULLIS_FC_SCALE explore further (other cases, more of them) when run by hand.
const SEED = Number(process.env.PORTCULLIS_FC_SEED ?? 20240603);
const SCALE = Number(process.env.PORTCULLIS_FC_SCALE ?? 1);
const PAIRS = Math.round(10_000 * SCALE);
const SYNTAX = Math.round(2_500 * SCALE);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dpkg-versions-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Run `script` (bash, `$1` = input file) over `records` split into one chunk per CPU; outputs in input order. */
async function inParallel(
  name: string,
  records: string[],
  perRecord: number,
  script: string,
): Promise<{ stdout: string; stderr: string }[]> {
  expect(records.length % perRecord).toBe(0);
  const chunks = Math.min(availableParallelism() + 1, records.length / perRecord);
  const size = Math.ceil(records.length / perRecord / chunks) * perRecord;
  const runs = [];
  for (let c = 0; c < chunks; c++) {
    const file = join(dir, `${name}.${c}`);
    writeFileSync(file, `${records.slice(c * size, (c + 1) * size).join('\n')}\n`);
    runs.push(
      new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn('bash', ['-c', script, 'oracle', file], {
          env: { ...process.env, LC_ALL: 'C' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (b: Buffer) => out.push(b));
        child.stderr.on('data', (b: Buffer) => err.push(b));
        child.on('error', reject);
        child.on('close', (code) => {
          const stderr = Buffer.concat(err).toString('utf8');
          if (code === 0) resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr });
          else reject(new Error(`oracle loop exited ${code}: ${stderr.slice(0, 500)}`));
        });
      }),
    );
  }
  return Promise.all(runs);
}

// ---- generators ------------------------------------------------------------------------------------------------

const number = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 30 }).map(String) },
  { weight: 2, arbitrary: fc.stringMatching(/^0{1,3}[0-9]{0,3}$/) },
  { weight: 1, arbitrary: fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 53n + 3n }).map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 40n }).map(String) },
  { weight: 1, arbitrary: fc.integer({ min: 19700101, max: 20301231 }).map(String) },
);
const word = fc.oneof(
  fc.stringMatching(/^[a-zA-Z]{1,3}$/),
  fc.constantFrom('a', 'b', 'z', 'A', 'Z', 'dfsg', 'deb', 'ubuntu', 'build', 'really', 'rc', 'beta', 'bpo', 'git'),
);
const mark = fc.constantFrom('.', '.', '.', '+', '~', '~~', '-', ':', '+~', '.~');
const piece = fc.oneof(
  { weight: 3, arbitrary: number },
  { weight: 2, arbitrary: word },
  { weight: 3, arbitrary: mark },
);
const upstream = fc.tuple(number, fc.array(piece, { maxLength: 8 })).map(([first, rest]) => first + rest.join(''));
const revision = fc
  .array(fc.oneof(number, word, fc.constantFrom('.', '+', '~', '~~', '+b')), { minLength: 1, maxLength: 5 })
  .map((p) => p.join(''));
const epoch = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 5 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('00', '007', '2147483647', '+1', '-0', '0000000000001') },
);

/** A version dpkg should accept: `:` in the upstream only with an epoch, `-` only with a revision. */
const version = fc
  .record({ epoch: fc.option(epoch, { freq: 3 }), upstream, revision: fc.option(revision, { freq: 3 }) })
  .map(({ epoch, upstream, revision }) => {
    let up = upstream;
    if (epoch === null) up = up.replaceAll(':', '.');
    if (revision === null) up = up.replaceAll('-', '+');
    return `${epoch === null ? '' : `${epoch}:`}${up}${revision === null ? '' : `-${revision}`}`;
  });

/** A near neighbour of `v`, so that many pairs differ only in the subtle places. */
const neighbour = (v: string) =>
  fc.oneof(
    fc.constantFrom('~', '~~', '~a', '+', '.0', '0', 'a', 'A', '-0', '-1', '.', '+b1').map((s) => v + s),
    fc.constant(v.replace(/\d+/, (d) => `0${d}`)),
    fc.constant(v.replace(/\d+(?!.*\d)/, (d) => String(BigInt(d) + 1n))),
    fc.constant(v.includes(':') ? v.slice(v.indexOf(':') + 1) : `0:${v}`),
    fc.constant(v.replace(/~/, '')),
    fc.constant(v.slice(0, -1)),
    fc.constant(v),
  );
const pair = fc.oneof(
  fc.tuple(version, version),
  version.chain((a) => fc.tuple(fc.constant(a), neighbour(a))),
  version.chain((a) => fc.tuple(neighbour(a), fc.constant(a))),
);

/** Any short string over version characters and the characters dpkg refuses (no NUL or newline: argv and lines). */
const anyString = fc.oneof(
  fc.string({
    unit: fc.constantFrom(...'0123456789aZ.+~:-_ \t\r\v\f!/@é<>'.split(''), '1', '2', '0', '.', '-', ':'),
    maxLength: 12,
  }),
  fc
    .tuple(version, fc.nat(), fc.constantFrom('_', ' ', '\t', '-', ':', '~', 'é', '', '!', 'A'))
    .map(([v, at, c]) => v.slice(0, at % (v.length + 1)) + c + v.slice(at % (v.length + 1))),
  version.map((v) => ` ${v}\t `),
  fc
    .tuple(
      fc.constantFrom('', ' ', '\f', '\t\v', '+', '-', '-0', '+0', '0x', '00', '99999999999', '2147483648', 'a', '1-1'),
      fc.constantFrom('', '1', '0', '2147483647'),
      fc.constantFrom(':', '::', ': ', ''),
      fc.constantFrom('1', '-1', '1-', ' 1', 'a', '1:1', '1-1-1', '1:-1', ''),
    )
    .map((parts) => parts.join('')),
);

// ---- tests -----------------------------------------------------------------------------------------------------

const OP: Record<Comparison, string> = { [-1]: 'lt', 0: 'eq', 1: 'gt' };

describe('dpkg scheme against dpkg --compare-versions', () => {
  it(`orders ${PAIRS} generated pairs exactly as dpkg does`, async () => {
    const pairs = fc
      .sample(pair, { numRuns: PAIRS, seed: SEED })
      .filter(([a, b]) => dpkgScheme.valid(a) && dpkgScheme.valid(b));
    // The generator makes versions dpkg accepts, save a few neighbours (`1-` from `1-1`): nearly all must survive.
    expect(pairs.length).toBeGreaterThan(PAIRS * 0.97);
    // Ask dpkg whether our answer holds: exit 0 means dpkg agrees, 1 means it does not (lt/eq/gt are exclusive).
    const claims = pairs.map(([a, b]) => [a, OP[dpkgScheme.compare(a, b)], b] as const);
    for (const op of ['lt', 'eq', 'gt']) expect(claims.filter((c) => c[1] === op).length).toBeGreaterThan(PAIRS / 20);
    const script = `
      while IFS= read -r a && IFS= read -r op && IFS= read -r b; do
        dpkg --compare-versions -- "$a" "$op" "$b"; echo "$?"
      done < "$1"`;
    const outputs = await inParallel('pairs', claims.flat(), 3, script);
    // Any warning would mean dpkg's strict parser refuses a version that valid() accepted.
    expect(outputs.map((o) => o.stderr).join('')).toBe('');
    const codes = outputs.flatMap((o) => o.stdout.split('\n').filter((l) => l !== ''));
    expect(codes).toHaveLength(claims.length);
    const wrong = claims
      .filter((_, k) => codes[k] !== '0')
      .map(([a, op, b], k) => `${a} ${op} ${b} (dpkg ${codes[k]})`);
    expect(wrong.slice(0, 20), `seed ${SEED}`).toEqual([]);
  });

  it(`accepts exactly the ${SYNTAX} generated strings that dpkg accepts without error or warning`, async () => {
    const strings = fc
      .sample(anyString, { numRuns: SYNTAX, seed: SEED })
      // dpkg's command line reads '' and '<unknown>' as the blank version; no package carries them.
      .filter((s) => s !== '' && s !== '<unknown>' && !s.includes('\n'));
    const script = `
      while IFS= read -r v; do
        dpkg --compare-versions -- "$v" eq 0 2>&1; printf '\\037%d\\036' "$?"
      done < "$1"`;
    const outputs = await inParallel('syntax', strings, 1, script);
    const records = outputs.flatMap((o) => o.stdout.split('\x1e').slice(0, -1));
    expect(records).toHaveLength(strings.length);
    const verdicts = records.map((r) => {
      const [stderr, code] = r.split('\x1f');
      return code !== '2' && stderr === '';
    });
    const disagree = strings
      .map((s, k) => ({ s, dpkg: verdicts[k], ours: dpkgScheme.valid(s) }))
      .filter((x) => x.dpkg !== x.ours)
      .map((x) => `${JSON.stringify(x.s)}: dpkg ${x.dpkg ? 'accepts' : 'refuses'}`);
    expect(disagree.slice(0, 20), `seed ${SEED}`).toEqual([]);
    // Both verdicts must be well represented, or the test proves little.
    expect(verdicts.filter(Boolean).length).toBeGreaterThan(strings.length / 5);
    expect(verdicts.filter((x) => !x).length).toBeGreaterThan(strings.length / 5);
    for (const [k, s] of strings.entries()) {
      if (!verdicts[k]) expect(() => dpkgScheme.compare(s, '0')).toThrow(InvalidVersionError);
    }
  });
});
