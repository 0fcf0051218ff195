/**
 * CVSS vectors to scores and severities. The vector grammar of each version (metric names, values, mandatory
 * metrics, order) is checked here, strictly, from the specification tables; the scoring math is
 * ae-cvss-calculator's (metaeffekt), which implements FIRST's equations for 2.0, 3.0, 3.1 and 4.0. For 3.0 it rounds
 * up as FIRST's own 3.0 calculator does, Math.ceil(x * 10) / 10 on floats, which lands a tenth above exact decimal
 * arithmetic for about one vector in a thousand with temporal or environmental metrics (3.1 fixed Roundup for this).
 * Refs: first.org/cvss/v2/guide, v3.0 and v3.1 specification documents, v4.0 specification document.
 */
import { printable } from '../errors.js';
import { lazyRequire } from '../util/lazy.js';

// A UMD bundle: Node's ESM loader sees no named exports in it, so it is required, and only on first use.
const calculator = lazyRequire<typeof import('ae-cvss-calculator')>('ae-cvss-calculator');

export type CvssVersion = '2.0' | '3.0' | '3.1' | '4.0';
export type CvssSeverity = 'none' | 'low' | 'medium' | 'high' | 'critical';

/** A scored vector: the most specific score its metrics give (see scoreCvss) and that score's rating. */
export interface CvssScore {
  readonly version: CvssVersion;
  readonly score: number;
  readonly severity: CvssSeverity;
}

/** What scoreCvss gives back: a score, or a one-line reason the vector was refused. */
export type CvssResult = CvssScore | { readonly error: string };

/** Vectors longer than this are refused unread; the longest valid one (CVSS 4.0, every metric) has 178. */
export const MAX_CVSS_VECTOR_LENGTH = 512;

interface Grammar {
  readonly version: CvssVersion;
  readonly prefix: string;
  /** Metric → allowed values, in the specification's vector order. */
  readonly metrics: ReadonlyMap<string, readonly string[]>;
  readonly mandatory: readonly string[];
  /** Whether the specification makes any other metric order invalid. */
  readonly ordered: boolean;
}

const V2_BASE = ['AV', 'AC', 'Au', 'C', 'I', 'A'];
const V3_BASE = ['AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A'];
const V4_BASE = ['AV', 'AC', 'AT', 'PR', 'UI', 'VC', 'VI', 'VA', 'SC', 'SI', 'SA'];

function table(spec: string): ReadonlyMap<string, readonly string[]> {
  return new Map(
    spec
      .split(' ')
      .map((m) => m.split('=') as [string, string])
      .map(([k, v]) => [k, v.split(',')]),
  );
}

// CVSS 2.0 guide, table 13 ("the vector lists these metrics in a predetermined order").
const V2: Grammar = {
  version: '2.0',
  prefix: '',
  metrics: table(
    'AV=L,A,N AC=H,M,L Au=M,S,N C=N,P,C I=N,P,C A=N,P,C E=U,POC,F,H,ND RL=OF,TF,W,U,ND RC=UC,UR,C,ND ' +
      'CDP=N,L,LM,MH,H,ND TD=N,L,M,H,ND CR=L,M,H,ND IR=L,M,H,ND AR=L,M,H,ND',
  ),
  mandatory: V2_BASE,
  ordered: true,
};

// CVSS 3.0 and 3.1, section 6: "Programs reading CVSS v3.1 vector strings must accept metrics in any order".
const V3_METRICS = table(
  'AV=N,A,L,P AC=L,H PR=N,L,H UI=N,R S=U,C C=H,L,N I=H,L,N A=H,L,N E=X,H,F,P,U RL=X,U,W,T,O RC=X,C,R,U ' +
    'CR=X,H,M,L IR=X,H,M,L AR=X,H,M,L MAV=X,N,A,L,P MAC=X,L,H MPR=X,N,L,H MUI=X,N,R MS=X,U,C MC=X,H,L,N ' +
    'MI=X,H,L,N MA=X,H,L,N',
);
const V30: Grammar = { version: '3.0', prefix: 'CVSS:3.0/', metrics: V3_METRICS, mandatory: V3_BASE, ordered: false };
const V31: Grammar = { version: '3.1', prefix: 'CVSS:3.1/', metrics: V3_METRICS, mandatory: V3_BASE, ordered: false };

// CVSS 4.0, section 7: metrics in the order of table 23, "every other ordering is invalid".
const V40: Grammar = {
  version: '4.0',
  prefix: 'CVSS:4.0/',
  metrics: table(
    'AV=N,A,L,P AC=L,H AT=N,P PR=N,L,H UI=N,P,A VC=H,L,N VI=H,L,N VA=H,L,N SC=H,L,N SI=H,L,N SA=H,L,N ' +
      'E=X,A,P,U CR=X,H,M,L IR=X,H,M,L AR=X,H,M,L MAV=X,N,A,L,P MAC=X,L,H MAT=X,N,P MPR=X,N,L,H MUI=X,N,P,A ' +
      'MVC=X,H,L,N MVI=X,H,L,N MVA=X,H,L,N MSC=X,H,L,N MSI=X,S,H,L,N MSA=X,S,H,L,N S=X,N,P AU=X,N,Y ' +
      'R=X,A,U,I V=X,D,C RE=X,L,M,H U=X,Clear,Green,Amber,Red',
  ),
  mandatory: V4_BASE,
  ordered: true,
};

/** Parse against the grammar; the metrics in vector order, or a one-line reason. */
function parse(g: Grammar, vector: string): Map<string, string> | string {
  const body = vector.slice(g.prefix.length);
  const order = [...g.metrics.keys()];
  const seen = new Map<string, string>();
  let last = -1;
  for (const field of body.split('/')) {
    if (field === '') return `CVSS ${g.version} vector has an empty field`;
    const colon = field.indexOf(':');
    if (colon < 0 || field.indexOf(':', colon + 1) >= 0) {
      return `CVSS ${g.version} field '${printable(field, 40)}' is not METRIC:VALUE`;
    }
    const metric = field.slice(0, colon);
    const value = field.slice(colon + 1);
    const allowed = g.metrics.get(metric);
    if (!allowed) return `CVSS ${g.version} has no metric '${printable(metric, 40)}'`;
    if (!allowed.includes(value)) return `CVSS ${g.version} metric ${metric} has no value '${printable(value, 40)}'`;
    if (seen.has(metric)) return `CVSS ${g.version} metric ${metric} appears twice`;
    const at = order.indexOf(metric);
    if (g.ordered && at < last) return `CVSS ${g.version} metric ${metric} is out of the specification's order`;
    last = at;
    seen.set(metric, value);
  }
  const missing = g.mandatory.filter((m) => !seen.has(m));
  if (missing.length > 0) return `CVSS ${g.version} vector lacks base metric(s) ${missing.join(', ')}`;
  return seen;
}

function grammarOf(vector: string): Grammar | string {
  for (const g of [V31, V40, V30]) if (vector.startsWith(g.prefix)) return g;
  if (vector.startsWith('CVSS:')) {
    return `unsupported CVSS version '${printable(vector.slice(5).split('/', 1)[0] ?? '', 12)}'`;
  }
  if (vector.startsWith('AV:')) return V2;
  return `not a CVSS vector: '${printable(vector, 40)}' (expected CVSS:3.0/, CVSS:3.1/, CVSS:4.0/ or a 2.0 AV:...)`;
}

function scoreParsed(g: Grammar, vector: string, metrics: Map<string, string>): CvssResult {
  if (g.version === '2.0') {
    // The library's 2.0 temporal score rounds in floats (8.55 to 8.5) and its environmental equation rounds where
    // the guide does not; its base score, what advisories publish, is exact. So 2.0 is scored from base metrics only.
    const extra = [...metrics].find(([m, v]) => !V2_BASE.includes(m) && v !== 'ND');
    if (extra) return { error: `CVSS 2.0 temporal and environmental metrics are not supported (${extra[0]})` };
  }
  const lib = calculator();
  const Vector = { '2.0': lib.Cvss2, '3.0': lib.Cvss3P0, '3.1': lib.Cvss3P1, '4.0': lib.Cvss4P0 }[g.version];
  let value: unknown;
  try {
    value = new Vector(vector).calculateScores().overall;
  } catch (err) {
    return { error: `CVSS ${g.version} vector could not be scored: ${printable(String(err), 120)}` };
  }
  if (typeof value !== 'number' || !(value >= 0 && value <= 10)) {
    return { error: `CVSS ${g.version} vector scored outside 0-10 (${printable(String(value), 20)})` };
  }
  // The library's 2.0 equation gives -0 when there is no impact.
  const score = value === 0 ? 0 : value;
  return { version: g.version, score, severity: severityFromScore(score, g.version) ?? 'none' };
}

// Advisory sets repeat a few thousand distinct vectors many times over; a 4.0 score costs ~0.3 ms.
const cache = new Map<string, CvssResult>();
const CACHE_LIMIT = 10_000;

/**
 * Score a CVSS 2.0, 3.0, 3.1 or 4.0 vector string. The score is the most specific one its metrics give: for 4.0
 * the one score of the vector (CVSS-B, -BT, -BE or -BTE); for 3.x and 2.0 the environmental score when any
 * environmental metric is defined, else the temporal score when any temporal metric is, else the base score.
 * Never throws: a vector that breaks its version's grammar (unknown or duplicate metric, bad value, missing base
 * metric, wrong order where the version requires one, over MAX_CVSS_VECTOR_LENGTH) gives `{ error }`.
 */
export function scoreCvss(vector: string): CvssResult {
  if (typeof vector !== 'string') return { error: `a CVSS vector must be a string, not ${typeof vector}` };
  if (vector.length > MAX_CVSS_VECTOR_LENGTH) {
    return { error: `CVSS vector is longer than ${MAX_CVSS_VECTOR_LENGTH} characters (${vector.length})` };
  }
  const hit = cache.get(vector);
  if (hit) return hit;
  const g = grammarOf(vector);
  const metrics = typeof g === 'string' ? g : parse(g, vector);
  const result: CvssResult = Object.freeze(
    typeof g === 'string'
      ? { error: g }
      : typeof metrics === 'string'
        ? { error: metrics }
        : scoreParsed(g, vector, metrics),
  );
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(vector, result);
  return result;
}

/**
 * The qualitative rating of a score: for 3.x and 4.0 FIRST's scale (none 0.0, low 0.1-3.9, medium 4.0-6.9,
 * high 7.0-8.9, critical 9.0-10.0); for 2.0, which has none of its own, NVD's (low 0.0-3.9, medium, high 7.0-10.0).
 * Undefined for anything that is not a score from 0 to 10.
 */
export function severityFromScore(score: number, version: CvssVersion = '3.1'): CvssSeverity | undefined {
  if (typeof score !== 'number' || !(score >= 0 && score <= 10)) return undefined;
  if (version === '2.0') return score < 4 ? 'low' : score < 7 ? 'medium' : 'high';
  if (score === 0) return 'none';
  return score < 4 ? 'low' : score < 7 ? 'medium' : score < 9 ? 'high' : 'critical';
}
