import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scoreCvss } from '../../src/advisories/cvss.js';
import { judge, type OracleAnswer, oracleScores } from '../helpers/cvss-oracle.js';
import { advisoryData } from '../helpers/paths.js';

function* jsonFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* jsonFiles(p);
    else if (e.name.endsWith('.json')) yield p;
  }
}

const V2 = /^AV:[LAN]\/AC:/;

/**
 * Every CVSS vector in the shared data: OSV `severity` entries typed CVSS_V2/3/4 (with the version their type
 * claims), and any other string that reads as a vector wherever it sits.
 */
function collect(root: string): { vectors: Map<string, Set<string>>; files: number } {
  const vectors = new Map<string, Set<string>>();
  const add = (v: string, type: string) => vectors.set(v, (vectors.get(v) ?? new Set()).add(type));
  const visit = (x: unknown): void => {
    if (typeof x === 'string') {
      if (x.startsWith('CVSS:') || V2.test(x)) add(x, 'untyped');
    } else if (Array.isArray(x)) {
      for (const y of x) visit(y);
    } else if (x !== null && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      if (typeof o.type === 'string' && /^CVSS_V/.test(o.type) && typeof o.score === 'string') add(o.score, o.type);
      for (const y of Object.values(o)) visit(y);
    }
  };
  let files = 0;
  for (const f of jsonFiles(root)) {
    files++;
    visit(JSON.parse(readFileSync(f, 'utf8')));
  }
  return { vectors, files };
}

describe('CVSS vectors of the real advisory data against the Python cvss package', () => {
  it('scores every vector the data holds exactly as the oracle does', () => {
    const { vectors, files } = collect(advisoryData());
    expect(files).toBeGreaterThan(1000);
    const all = [...vectors.keys()];
    expect(all.length).toBeGreaterThan(100);
    const answers = oracleScores(all);
    const problems: string[] = [];
    const versions = new Map<string, number>();
    all.forEach((v, i) => {
      const answer = answers[i] as OracleAnswer;
      const ours = scoreCvss(v);
      const verdict = judge(v, ours, answer);
      if (verdict !== 'equal')
        problems.push(`${verdict}: ${v}: ours ${JSON.stringify(ours)}, oracle ${JSON.stringify(answer)}`);
      if ('error' in ours) return;
      versions.set(ours.version, (versions.get(ours.version) ?? 0) + 1);
      // An OSV CVSS_V3 entry must hold a 3.x vector, CVSS_V4 a 4.0 one, CVSS_V2 a 2.0 one.
      for (const type of vectors.get(v) ?? []) {
        if (type !== 'untyped' && type !== `CVSS_V${ours.version[0]}`) problems.push(`${type} holds ${v}`);
      }
    });
    expect(problems).toEqual([]);
    // The data has 3.0, 3.1 and 4.0 vectors; each version it has was scored.
    expect([...versions.keys()].sort()).toEqual(expect.arrayContaining(['3.0', '3.1', '4.0']));
  });
});
