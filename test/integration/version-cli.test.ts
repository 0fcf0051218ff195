import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dpkgScheme } from '../../src/advisories/versions/dpkg.js';
import { runCli } from '../helpers/cli.js';
import { CLI } from '../helpers/paths.js';

// `portcullis version` through the built bundle (built by the global setup). runCli gives no stdin, so the batch
// tests spawn the bundle themselves and feed stdin in uneven slices, so lines straddle the chunks the CLI reads.

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runWithStdin(args: readonly string[], input: string | Buffer): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    const bytes = Buffer.from(input);
    const sizes = [1, 7, 64, 1000, 4096, 65536];
    for (let at = 0, k = 0; at < bytes.length; k++) {
      const size = sizes[k % sizes.length] as number;
      child.stdin.write(bytes.subarray(at, at + size));
      at += size;
    }
    child.stdin.end();
  });
}

const answers = (stdout: string): unknown[] => {
  expect(stdout === '' || stdout.endsWith('\n')).toBe(true);
  return stdout
    .split('\n')
    .slice(0, -1)
    .map((l) => JSON.parse(l));
};
const line = (o: unknown) => JSON.stringify(o);

// ---- dpkg as the oracle for the batch protocol ------------------------------------------------------------------

const SEED = Number(process.env.PORTCULLIS_FC_SEED ?? 20240611);
const PAIRS = Math.round(4000 * Number(process.env.PORTCULLIS_FC_SCALE ?? 1));

const num = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 20 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('00', '007', '20240611', '99999999999999999999999') },
);
const word = fc.constantFrom('a', 'b', 'Z', 'rc', 'dfsg', 'deb', 'ubuntu', 'bpo', 'git', 'really');
const mark = fc.constantFrom('.', '.', '+', '~', '~~', '-', ':');
const validVersion = fc
  .record({
    epoch: fc.option(fc.constantFrom('0', '1', '2', '10', '007'), { freq: 3 }),
    upstream: fc
      .tuple(num, fc.array(fc.oneof(num, word, mark), { maxLength: 6 }))
      .map(([first, rest]) => first + rest.join('')),
    revision: fc.option(
      fc
        .array(fc.oneof(num, word, fc.constantFrom('.', '+', '~')), { minLength: 1, maxLength: 4 })
        .map((p) => p.join('')),
      { freq: 3 },
    ),
  })
  .map(({ epoch, upstream, revision }) => {
    // `:` in the upstream needs an epoch and `-` a revision, or dpkg reads the version differently.
    let up = upstream;
    if (epoch === null) up = up.replaceAll(':', '.');
    if (revision === null) up = up.replaceAll('-', '+');
    return `${epoch === null ? '' : `${epoch}:`}${up}${revision === null ? '' : `-${revision}`}`;
  });
/** Mostly valid versions, some broken the ways dpkg refuses (bad characters, empty parts, a letter first). */
const dpkgVersion = fc.oneof(
  { weight: 9, arbitrary: validVersion },
  {
    weight: 1,
    arbitrary: fc
      .tuple(validVersion, fc.constantFrom('_', ' ', 'é', '!', ':', '-', 'a:'), fc.boolean())
      .map(([v, c, front]) => (front ? c + v : v + c)),
  },
);
const neighbour = (v: string) =>
  fc.oneof(
    fc.constantFrom('~', '~~', '+', '.0', '0', 'a', '-0', '-1', '+b1').map((s) => v + s),
    fc.constant(v.replace(/\d+(?!.*\d)/, (d) => String(BigInt(d) + 1n))),
    fc.constant(v.includes(':') ? v.slice(v.indexOf(':') + 1) : `0:${v}`),
    fc.constant(v),
  );
const pair = fc.oneof(
  fc.tuple(dpkgVersion, dpkgVersion),
  dpkgVersion.chain((a) => fc.tuple(fc.constant(a), neighbour(a))),
);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'version-cli-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** For each [a, op, b], dpkg's exit code and anything it wrote to stderr, one shell loop per CPU. */
async function askDpkg(claims: (readonly [string, string, string])[]): Promise<{ code: string; stderr: string }[]> {
  const chunks = Math.max(1, Math.min(availableParallelism(), claims.length));
  const size = Math.ceil(claims.length / chunks);
  const script = `
    while IFS= read -r a && IFS= read -r op && IFS= read -r b; do
      dpkg --compare-versions -- "$a" "$op" "$b" 2>&1; printf '\\037%d\\036' "$?"
    done < "$1"`;
  const runs = [];
  for (let c = 0; c < chunks; c++) {
    const file = join(dir, `claims.${c}`);
    writeFileSync(
      file,
      `${claims
        .slice(c * size, (c + 1) * size)
        .flat()
        .join('\n')}\n`,
    );
    runs.push(
      new Promise<string>((resolve, reject) => {
        const child = spawn('bash', ['-c', script, 'oracle', file], {
          env: { ...process.env, LC_ALL: 'C' },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const out: Buffer[] = [];
        child.stdout.on('data', (b: Buffer) => out.push(b));
        child.on('error', reject);
        child.on('close', (code) =>
          code === 0 ? resolve(Buffer.concat(out).toString('utf8')) : reject(new Error(`oracle loop exited ${code}`)),
        );
      }),
    );
  }
  return (await Promise.all(runs))
    .flatMap((o) => o.split('\x1e').slice(0, -1))
    .map((r) => {
      const [stderr = '', code = ''] = r.split('\x1f');
      return { code, stderr };
    });
}

describe('version compare --batch against dpkg --compare-versions', () => {
  it(`answers ${PAIRS} generated dpkg pairs, with bad lines among them, as dpkg orders and refuses them`, async () => {
    const pairs = fc
      .sample(pair, { numRuns: PAIRS, seed: SEED })
      // dpkg's command line reads '' and '<unknown>' as the blank version; no package carries them.
      .filter(([a, b]) => ![a, b].some((v) => v === '' || v === '<unknown>'));
    // Every 97th line is not a request; its answer must be an error and the pairs after it must stay in step.
    const BAD = ['', 'not json', '{"scheme":"dpkg","a":"1"}', '{"scheme":"dpkg","a":1,"b":"2"}', '[]'];
    const lines: string[] = [];
    const pairAt: number[] = [];
    for (const [k, [a, b]] of pairs.entries()) {
      if (k % 97 === 0) lines.push(BAD[(k / 97) % BAD.length] as string);
      pairAt.push(lines.length);
      // The OSV name for half of them: both spellings must reach the dpkg scheme.
      lines.push(line({ scheme: k % 2 ? 'dpkg' : 'Debian:12', a, b }));
    }
    const run = await runWithStdin(['version', 'compare', '--batch'], `${lines.join('\n')}\n`);
    const got = answers(run.stdout) as Record<string, unknown>[];
    expect(got).toHaveLength(lines.length);
    const isPair = new Set(pairAt);
    const bad = got.filter((_, k) => !isPair.has(k));
    expect(bad).toHaveLength(Math.ceil(pairs.length / 97));
    for (const g of bad) expect(Object.keys(g)).toEqual(['error']);
    // Some lines were bad, so the exit code says so, and stderr says where the first one was.
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/answered with an error \(first: line 1\)/);

    const OP = { '-1': 'lt', '0': 'eq', '1': 'gt' } as const;
    const claims = pairs.map(([a, b], k) => {
      const answer = got[pairAt[k] as number] as { cmp?: -1 | 0 | 1; error?: string };
      // For a refused pair, ask anything: dpkg must exit 2 or warn.
      return [a, answer.cmp === undefined ? 'lt' : OP[answer.cmp], b] as const;
    });
    const verdicts = await askDpkg(claims);
    expect(verdicts).toHaveLength(claims.length);
    const wrong: string[] = [];
    const seen = { lt: 0, eq: 0, gt: 0, error: 0 };
    for (const [k, [a, op, b]] of claims.entries()) {
      const answer = got[pairAt[k] as number] as { cmp?: number; error?: string };
      const dpkg = verdicts[k] as { code: string; stderr: string };
      if (answer.error !== undefined) {
        seen.error++;
        expect(answer.error).toMatch(/^dpkg: '.*' is not a valid version \(/);
        if (dpkg.code !== '2' && dpkg.stderr === '') wrong.push(`${a} / ${b}: we refuse, dpkg accepts both`);
      } else {
        seen[op as 'lt']++;
        if (dpkg.code !== '0' || dpkg.stderr !== '') wrong.push(`${a} ${op} ${b}: dpkg ${dpkg.code} ${dpkg.stderr}`);
      }
    }
    expect(wrong.slice(0, 20), `seed ${SEED}`).toEqual([]);
    // Every verdict is well represented, or the comparison proves little.
    for (const [k, n] of Object.entries(seen)) expect(n, k).toBeGreaterThan(PAIRS / 40);
  });
});

// ---- the batch protocol -----------------------------------------------------------------------------------------

describe('version compare --batch', () => {
  it('exits 0 and writes nothing else when every line is answered', async () => {
    const run = await runWithStdin(
      ['version', 'compare', '--batch'],
      [
        line({ scheme: 'rpm', a: '1.0-1.el9', b: '1.0-1.el9_2' }),
        line({ scheme: 'semver', version: '1.2.3', range: '>=1.2.0 <2' }),
        line({ scheme: 'PyPI', a: '1.0.post1', b: '1.0' }),
        // The last line needs no newline.
        line({ scheme: 'apk', a: '1.2.3-r0', b: '1.2.3-r0' }),
      ].join('\n'),
    );
    expect(run).toEqual({ code: 0, stdout: '{"cmp":-1}\n{"satisfies":true}\n{"cmp":1}\n{"cmp":0}\n', stderr: '' });
  });

  it('uses --scheme for lines that name none', async () => {
    const run = await runWithStdin(
      ['version', 'compare', '--batch', '--scheme', 'dpkg'],
      '{"a":"1.0~rc1","b":"1.0"}\n',
    );
    expect(run).toMatchObject({ code: 0, stdout: '{"cmp":-1}\n' });
  });

  it('answers a blank, an overlong and an undecodable line with errors and goes on', async () => {
    const input = Buffer.concat([
      Buffer.from(`\n${line({ scheme: 'dpkg', a: '1'.repeat(70_000), b: '1' })}\n`),
      Buffer.from([0xc3, 0x28, 0x0a]),
      Buffer.from(`${line({ scheme: 'dpkg', a: '2', b: '1' })}\n`),
    ]);
    const run = await runWithStdin(['version', 'compare', '--batch'], input);
    expect(answers(run.stdout)).toEqual([
      { error: 'blank line (each line must be a JSON object)' },
      { error: 'line longer than 65536 bytes' },
      { error: 'line is not valid UTF-8' },
      { cmp: 1 },
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('portcullis: 3 of 4 lines answered with an error (first: line 1)\n');
  });

  it('exits 0 with no output for empty input', async () => {
    expect(await runWithStdin(['version', 'compare', '--batch'], '')).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('answers 100,000 lines in order', async () => {
    const versions = fc.sample(validVersion, { numRuns: 1000, seed: SEED });
    const pairs = Array.from(
      { length: 100_000 },
      (_, k) => [versions[k % 1000] as string, versions[(k * 7 + 3) % 1000] as string] as const,
    );
    const run = await runWithStdin(
      ['version', 'compare', '--batch'],
      pairs.map(([a, b]) => `${line({ scheme: 'dpkg', a, b })}\n`).join(''),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // The dpkg scheme itself is held against dpkg above; here the point is order and completeness at volume.
    expect(answers(run.stdout)).toEqual(pairs.map(([a, b]) => ({ cmp: dpkgScheme.compare(a, b) })));
  });

  it('refuses versions on the command line, --explain and --format text with --batch, and unknown schemes', async () => {
    for (const args of [
      ['--batch', '1'],
      ['--batch', '--explain'],
      ['--batch', '-f', 'text'],
      ['--batch', '--scheme', 'nope'],
    ]) {
      const run = await runWithStdin(['version', 'compare', ...args], line({ scheme: 'dpkg', a: '1', b: '2' }));
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^portcullis: USAGE: /);
    }
  });

  it('exits 3 with OUTPUT_FAILED when the reader closes stdout early', async () => {
    const input = `${line({ scheme: 'dpkg', a: '1', b: '2' })}\n`.repeat(300_000);
    const run = await new Promise<Run>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'version', 'compare', '--batch'], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const err: Buffer[] = [];
      child.stderr.on('data', (c: Buffer) => err.push(c));
      child.stdout.once('data', () => child.stdout.destroy());
      // The CLI stops reading when it fails; what is left of stdin is lost on purpose.
      child.stdin.on('error', () => {});
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout: '', stderr: Buffer.concat(err).toString() }));
      child.stdin.end(input);
    });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^portcullis: OUTPUT_FAILED: stdout: .*EPIPE after \d+ answers\n {2}hint: /);
  });
});

// ---- one comparison on the command line -------------------------------------------------------------------------

describe('version compare A B', () => {
  it('prints -1, 0 or 1, or JSON with -f json', async () => {
    expect(await runCli(['version', 'compare', '--scheme', 'dpkg', '1.0-1', '1.0-1+deb12u1'])).toEqual({
      code: 0,
      stdout: '-1\n',
      stderr: '',
    });
    expect((await runCli(['version', 'compare', '--scheme', 'Debian', '2:1.0', '2:1.0'])).stdout).toBe('0\n');
    expect((await runCli(['version', 'compare', '--scheme', 'maven', '1.0', '1.0-SNAPSHOT'])).stdout).toBe('1\n');
    expect((await runCli(['version', 'compare', '--scheme', 'go', '-f', 'json', 'v1.2.3', 'v1.10.0'])).stdout).toBe(
      '{"cmp":-1}\n',
    );
  });

  it('--explain names the component that decided, after the verdict', async () => {
    const run = await runCli(['version', 'compare', '--scheme', 'dpkg', '--explain', '1:2.30-1', '2.31-1']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("1\ndpkg: '1:2.30-1' > '2.31-1'\n  epoch     1 > 0   <- decides\n");
    const json = await runCli([
      'version',
      'compare',
      '--scheme',
      'semver',
      '--explain',
      '-f',
      'json',
      '1.0.0',
      '1.0.0',
    ]);
    expect(JSON.parse(json.stdout)).toEqual({
      cmp: 0,
      explain: [
        "semver: '1.0.0' = '1.0.0'",
        '  major       1 = 1',
        '  minor       0 = 0',
        '  patch       0 = 0',
        '  prerelease  (none, above any prerelease) = (none, above any prerelease)',
        '  equal in every component',
      ],
    });
  });

  it('refuses an invalid version with one line naming the scheme and the version, exit 2', async () => {
    const run = await runCli(['version', 'compare', '--scheme', 'dpkg', '1.0', 'x1.0']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const [first, hint, ...rest] = run.stderr.split('\n');
    expect(first).toBe(
      "portcullis: INVALID_VERSION: dpkg: 'x1.0' is not a valid version (version number does not start with digit)",
    );
    expect(hint).toMatch(/^ {2}hint: /);
    expect(rest).toEqual(['']);
  });

  it('without --scheme, or with an unknown one, lists the schemes (exit 2)', async () => {
    for (const args of [[], ['--scheme', 'debain']]) {
      const run = await runCli(['version', 'compare', ...args, '1', '2']);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        /^portcullis: USAGE: .*dpkg, apk, rpm, semver, pep440, maven, go, rubygems, nuget, generic/,
      );
    }
    const missing = await runCli(['version', 'compare', '--scheme', 'dpkg', '1']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^portcullis: USAGE: version compare needs two versions/);
  });
});

describe('version satisfies', () => {
  it('prints true (exit 0) or false (exit 1)', async () => {
    expect(await runCli(['version', 'satisfies', '--scheme', 'npm', '1.4.0', '^1.2.0'])).toEqual({
      code: 0,
      stdout: 'true\n',
      stderr: '',
    });
    expect(await runCli(['version', 'satisfies', '--scheme', 'semver', '2.0.0', '^1.2.0'])).toEqual({
      code: 1,
      stdout: 'false\n',
      stderr: '',
    });
    const json = await runCli(['version', 'satisfies', '--scheme', 'pep440', '-f', 'json', '1.4', '>=1,<2']);
    expect(json).toMatchObject({ code: 0, stdout: '{"satisfies":true}\n' });
  });

  it('exits 2 for a scheme without ranges and for an invalid range', async () => {
    const dpkg = await runCli(['version', 'satisfies', '--scheme', 'dpkg', '1.0', '1.0']);
    expect(dpkg.code).toBe(2);
    expect(dpkg.stderr).toMatch(/^portcullis: USAGE: scheme dpkg has no range syntax/);
    const range = await runCli(['version', 'satisfies', '--scheme', 'semver', '1.0.0', '>>1']);
    expect(range.code).toBe(2);
    expect(range.stderr).toMatch(/^portcullis: INVALID_VERSION: semver: '>>1' .*invalid range/);
  });
});
