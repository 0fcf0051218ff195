import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CvssResult, scoreCvss } from '../../src/advisories/cvss.js';
import {
  judge,
  type OracleAnswer,
  oracleScores,
  oracleTables,
  sample,
  VERSIONS,
  validVector,
} from '../helpers/cvss-oracle.js';
import { ROOT } from '../helpers/paths.js';

// The module is loaded three ways: by vitest (these tests), from the esbuild bundle the CLI ships, and from the
// plain tsc build the benchmark runs. The library is CommonJS (UMD); each way must find and load it.
// Builds go below the checkout (git-ignored .cache) so Node resolves node_modules and "type": "module" as for dist/.
let dir: string;
let vectors: string[];
let inProcess: CvssResult[];
let answers: OracleAnswer[];

beforeAll(() => {
  mkdirSync(join(ROOT, '.cache'), { recursive: true });
  dir = mkdtempSync(join(ROOT, '.cache', 'cvss-loadpaths-'));
  const tables = oracleTables();
  const seed = Date.now() % 2 ** 31;
  const hostile = fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('CVSS:4.0/AV:N', 'CVSS:3.1/AV:N/AV:N', ''));
  vectors = [...VERSIONS.flatMap((v) => sample(validVector(tables, v), 150, seed)), ...sample(hostile, 100, seed)];
  inProcess = vectors.map(scoreCvss);
  answers = oracleScores(vectors);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(script: string): CvssResult[] {
  const out = execFileSync(process.execPath, [script], { input: JSON.stringify(vectors), encoding: 'utf8' });
  return JSON.parse(out) as CvssResult[];
}

function expectOracleScores(results: CvssResult[]): void {
  const problems = vectors
    .map((v, i) => [v, judge(v, results[i] as CvssResult, answers[i] as OracleAnswer)] as const)
    .filter(([, verdict]) => verdict !== 'equal' && verdict !== 'tolerated');
  expect(problems).toEqual([]);
}

const RUNNER = (from: string) =>
  `import { readFileSync } from 'node:fs';\nimport { scoreCvss } from '${from}';\n` +
  `process.stdout.write(JSON.stringify(JSON.parse(readFileSync(0, 'utf8')).map(scoreCvss)));\n`;

describe('scoreCvss loads and scores in every way the project runs it', () => {
  it('in vitest, as the oracle scores', () => {
    expectOracleScores(inProcess);
  });

  it('from an esbuild bundle made as scripts/bundle.mjs makes dist/portcullis.mjs', async () => {
    const entry = join(dir, 'entry.ts');
    writeFileSync(entry, RUNNER(join(ROOT, 'src', 'advisories', 'cvss.js')));
    const outfile = join(dir, 'bundle.mjs');
    await build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['better-sqlite3', 'zstd-napi', 'yaml'],
      banner: {
        js: "import { createRequire as __portcullisRequire } from 'node:module';\nconst require = __portcullisRequire(import.meta.url);",
      },
      logLevel: 'error',
    });
    const results = run(outfile);
    expect(results).toEqual(inProcess);
    expectOracleScores(results);
  });

  it('from a plain tsc build with the benchmark settings (tsconfig.bench.json), run by node', () => {
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(ROOT, 'tsconfig.bench.json'),
        compilerOptions: { rootDir: ROOT, outDir: join(dir, 'out') },
        include: [join(ROOT, 'src', 'advisories', 'cvss.ts')],
      }),
    );
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')],
      {
        encoding: 'utf8',
      },
    );
    const runner = join(dir, 'run-tsc.mjs');
    writeFileSync(runner, RUNNER('./out/src/advisories/cvss.js'));
    const results = run(runner);
    expect(results).toEqual(inProcess);
    expectOracleScores(results);
  });
});
