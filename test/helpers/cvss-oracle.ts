/**
 * The CVSS oracle: Red Hat's Python `cvss` package (CVSS 2, 3.0, 3.1, 4.0), installed into the test venv by
 * scripts/setup-test-env.sh. One python process scores a whole batch, one JSON line in and out per vector.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { CvssResult } from '../../src/advisories/cvss.js';
import { CACHE } from './paths.js';

export const PYTHON = join(CACHE, 'venv', 'bin', 'python');

export type OracleAnswer =
  | {
      /** [base, temporal, environmental] for 2.0 and 3.x (temporal/environmental null where 2.0 leaves them out); [score] for 4.0. */
      scores: (number | null)[];
      severities: string[];
      /**
       * 3.x only: some round-up met an exact value already on a tenth. There FIRST's own 3.0 calculator, which uses
       * Math.ceil(x * 10) / 10 on floats, can land one tenth higher than the exact decimal arithmetic of the oracle
       * (the CVSS 3.1 specification, appendix A, redefined Roundup for this reason).
       */
      onTenth: boolean;
    }
  | { error: string };

// Plain Python without backslashes, so a template literal carries it unchanged.
const SCRIPT = `
import json, sys
from decimal import Decimal
import cvss.cvss3 as c3
from cvss import CVSS2, CVSS3, CVSS4
from cvss import constants2, constants3, constants4
from cvss.exceptions import CVSSError

if sys.argv[1:] == ['tables']:
    print(json.dumps({
        '2.0': {m: list(constants2.METRICS_VALUES[m]) for m in constants2.METRICS_ABBREVIATIONS},
        '3': {m: list(constants3.METRICS_VALUES[m]) for m in constants3.METRICS_ABBREVIATIONS},
        '4.0': {m: list(constants4.METRICS_VALUE_NAMES[m]) for m in constants4.METRICS_ABBREVIATIONS},
        'mandatory': {'2.0': constants2.METRICS_MANDATORY, '3': constants3.METRICS_MANDATORY, '4.0': constants4.METRICS_MANDATORY},
    }))
    sys.exit(0)

on_tenth = [False]
exact_round_up = c3.round_up
def round_up(value):
    if value == value.quantize(Decimal('0.1')):
        on_tenth[0] = True
    return exact_round_up(value)
c3.round_up = round_up

for raw in sys.stdin.buffer:
    vector = json.loads(raw.decode('utf-8'))
    on_tenth[0] = False
    try:
        if vector.startswith('CVSS:4'):
            o = CVSS4(vector)
        elif vector.startswith('CVSS:3'):
            o = CVSS3(vector)
        else:
            o = CVSS2(vector)
        out = {'scores': list(o.scores()), 'severities': list(o.severities()), 'onTenth': on_tenth[0]}
    except CVSSError as e:
        out = {'error': type(e).__name__ + ': ' + str(e)[:200]}
    except Exception as e:
        out = {'error': 'crash ' + type(e).__name__ + ': ' + str(e)[:200]}
    print(json.dumps(out))
`;

function python(args: string[], input: string): string {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run 'npm run setup' (it installs the cvss oracle)`);
  const r = spawnSync(PYTHON, ['-c', SCRIPT, ...args], { input, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`cvss oracle failed (${r.status}): ${r.stderr.slice(0, 2000)}`);
  return r.stdout;
}

/** Score every vector with the Python `cvss` package, in one process; answers in input order. */
export function oracleScores(vectors: readonly string[]): OracleAnswer[] {
  if (vectors.length === 0) return [];
  const out = python([], `${vectors.map((v) => JSON.stringify(v)).join('\n')}\n`)
    .trim()
    .split('\n');
  if (out.length !== vectors.length) throw new Error(`cvss oracle answered ${out.length} of ${vectors.length} vectors`);
  return out.map((line) => JSON.parse(line) as OracleAnswer);
}

export interface OracleTables {
  '2.0': Record<string, string[]>;
  '3': Record<string, string[]>;
  '4.0': Record<string, string[]>;
  mandatory: { '2.0': string[]; '3': string[]; '4.0': string[] };
}

/** The oracle's own metric tables (names in its vector order, allowed values). */
export function oracleTables(): OracleTables {
  return JSON.parse(python(['tables'], '')) as OracleTables;
}

const TEMPORAL = new Set(['E', 'RL', 'RC']);
const ENVIRONMENTAL = new Set(['CR', 'IR', 'AR', 'MAV', 'MAC', 'MPR', 'MUI', 'MS', 'MC', 'MI', 'MA', 'CDP', 'TD']);

/**
 * The oracle's score that scoreCvss promises: 4.0's one score; for 2.0 and 3.x the environmental score when the
 * vector defines an environmental metric, else the temporal score when it defines a temporal one, else the base.
 */
export function expectedScore(vector: string, answer: { scores: (number | null)[] }): number | null {
  if (vector.startsWith('CVSS:4')) return answer.scores[0] ?? null;
  const defined = vector
    .split('/')
    .map((f) => f.split(':'))
    .filter(([, v]) => v !== 'X' && v !== 'ND')
    .map(([m]) => m ?? '');
  const [base = null, temporal = null, environmental = null] = answer.scores;
  if (defined.some((m) => ENVIRONMENTAL.has(m))) return environmental;
  if (defined.some((m) => TEMPORAL.has(m))) return temporal;
  return base;
}

/** The oracle's severity label for that same score, lower-cased. */
export function expectedSeverity(vector: string, answer: { scores: (number | null)[]; severities: string[] }): string {
  if (vector.startsWith('CVSS:4')) return (answer.severities[0] ?? '').toLowerCase();
  const score = expectedScore(vector, answer);
  const i = answer.scores.indexOf(score);
  return (answer.severities[i] ?? '').toLowerCase();
}

export type Version = '2.0' | '3.0' | '3.1' | '4.0';
export const VERSIONS: readonly Version[] = ['2.0', '3.0', '3.1', '4.0'];
const PREFIX: Record<Version, string> = { '2.0': '', '3.0': 'CVSS:3.0/', '3.1': 'CVSS:3.1/', '4.0': 'CVSS:4.0/' };

function tableOf(tables: OracleTables, version: Version): { metrics: Record<string, string[]>; mandatory: string[] } {
  const key = version === '3.0' || version === '3.1' ? '3' : version;
  return { metrics: tables[key], mandatory: tables.mandatory[key] };
}

/**
 * Valid vectors of one version, from the oracle's tables: every base metric with a random value, each optional
 * (temporal, threat, environmental, supplemental) metric left out, given or set to X; in the specification's order,
 * shuffled for 3.x (which must accept any order). For 2.0 optional metrics are ND only: scoreCvss refuses others.
 */
export function validVector(tables: OracleTables, version: Version): fc.Arbitrary<string> {
  const { metrics, mandatory } = tableOf(tables, version);
  const fields = Object.entries(metrics).map(([metric, values]) => {
    const pool = version === '2.0' && !mandatory.includes(metric) ? ['ND'] : values;
    const field = fc.constantFrom(...pool).map((v) => `${metric}:${v}`);
    return mandatory.includes(metric) ? field : fc.option(field, { nil: undefined });
  });
  // How many optional metrics a vector carries varies widely: none, some, or all of them.
  const density = fc.constantFrom('none', 'some', 'all');
  const ordered = fc
    .tuple(density, fc.tuple(...fields), fc.tuple(...fields.map(() => fc.boolean())))
    .map(([d, chosen, keep]) =>
      chosen
        .map((f, i) => {
          const metric = Object.keys(metrics)[i] ?? '';
          if (mandatory.includes(metric)) return f;
          return d === 'none' ? undefined : d === 'all' || keep[i] ? f : undefined;
        })
        .filter((f): f is string => f !== undefined),
    );
  const arranged =
    version === '3.0' || version === '3.1'
      ? ordered.chain((list) => fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }))
      : ordered;
  return arranged.map((list) => PREFIX[version] + list.join('/'));
}

/** Every vector of base metrics only, in order: 729 for 2.0, 2,592 for each of 3.0 and 3.1. */
export function allBaseVectors(tables: OracleTables, version: Exclude<Version, '4.0'>): string[] {
  const { metrics, mandatory } = tableOf(tables, version);
  let out = [''];
  for (const m of mandatory) out = out.flatMap((p) => (metrics[m] ?? []).map((v) => `${p}${p ? '/' : ''}${m}:${v}`));
  return out.map((v) => PREFIX[version] + v);
}

/** Sample an arbitrary with a seed given in failure messages. */
export function sample<T>(arb: fc.Arbitrary<T>, numRuns: number, seed: number): T[] {
  return fc.sample(arb, { numRuns, seed });
}

/**
 * FIRST's 3.0 calculator rounds up with Math.ceil(x * 10) / 10 on floats, and so does the library; the oracle
 * rounds exact decimals. They differ by one tenth only where an exact value lies on a tenth (the 3.1 specification
 * redefined Roundup for this); the oracle reports when that happened.
 */
function tolerated3p0(vector: string, score: number, answer: OracleAnswer, want: number): boolean {
  return (
    vector.startsWith('CVSS:3.0/') && 'onTenth' in answer && answer.onTenth && Math.round((score - want) * 10) === 1
  );
}

/**
 * Judge one scoreCvss result against the oracle's answer for a vector the oracle scores: 'equal', 'tolerated' (the
 * 3.0 round-up above), or what is wrong.
 */
export function judge(vector: string, ours: CvssResult, answer: OracleAnswer): 'equal' | 'tolerated' | string {
  if ('error' in answer) return 'error' in ours ? 'equal' : 'scored a vector the oracle refuses';
  if ('error' in ours) return 'refused a vector the oracle scores';
  const want = expectedScore(vector, answer);
  if (ours.score === want && ours.severity === expectedSeverity(vector, answer)) return 'equal';
  if (want !== null && tolerated3p0(vector, ours.score, answer, want)) return 'tolerated';
  return 'scores differ';
}
