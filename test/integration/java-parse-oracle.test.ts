import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/inventory/catalogers/java/manifest.js';
import { parseProperties } from '../../src/inventory/catalogers/java/properties.js';
import { ROOT } from '../helpers/paths.js';

/**
 * parseProperties and parseManifest against the JDK's java.util.Properties and java.util.jar.Manifest, over
 * generated inputs rich in the characters each format gives meaning to. Inputs the JDK rejects are only
 * required not to crash ours.
 */

const ORACLE = join(ROOT, 'test/fixtures/java/Oracle.java');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-javaparse-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const unhex = (h: string): string =>
  h === '-' ? '' : String.fromCharCode(...(h.match(/.{4}/g) ?? []).map((x) => Number.parseInt(x, 16)));

/** Run the JDK over all samples at once; undefined where the JDK threw. */
function jdk(mode: 'properties' | 'manifest', samples: readonly Uint8Array[]): (Map<string, string> | undefined)[] {
  const files = samples.map((s, i) => {
    const f = join(dir, `${mode}-${i}`);
    writeFileSync(f, s);
    return f;
  });
  const lines = execFileSync('java', [ORACLE, mode, ...files], { maxBuffer: 1 << 28 })
    .toString()
    .split('\n');
  const out: (Map<string, string> | undefined)[] = [];
  let i = 0;
  while (out.length < samples.length) {
    const head = lines[i++] as string;
    if (head === 'ERR') {
      out.push(undefined);
      continue;
    }
    const n = Number(head.split(' ')[1]);
    const m = new Map<string, string>();
    for (let k = 0; k < n; k++) {
      const [key, value] = (lines[i++] as string).split(' ');
      m.set(unhex(key as string), unhex(value as string));
    }
    out.push(m);
  }
  return out;
}

const sorted = (m: ReadonlyMap<string, string>): [string, string][] => [...m].sort(([a], [b]) => (a < b ? -1 : 1));

describe('Java parsers against the JDK', () => {
  it('parseProperties reads what java.util.Properties.load reads', () => {
    const token = fc.constantFrom(
      'a',
      'key',
      'groupId',
      'version',
      '1.0',
      '=',
      ':',
      ' ',
      '\t',
      '\f',
      '\\',
      '\\\\',
      '\n',
      '\r',
      '\r\n',
      '#',
      '!',
      '\\u0041',
      '\\u00e9',
      '\\uzz',
      '\\t',
      '\\n',
      '\\:',
      '\\=',
      '\\ ',
      'é',
      '\u00ff',
    );
    const samples = fc.sample(
      fc.array(token, { maxLength: 40 }).map((ts) => new Uint8Array(Buffer.from(ts.join(''), 'latin1'))),
      { numRuns: 600, seed: 42 },
    );
    const want = jdk('properties', samples);
    let compared = 0;
    samples.forEach((s, i) => {
      const ours = parseProperties(s);
      const theirs = want[i];
      if (!theirs) return;
      compared++;
      expect(sorted(ours), JSON.stringify(Buffer.from(s).toString('latin1'))).toEqual(sorted(theirs));
    });
    expect(compared).toBeGreaterThan(400);
  });

  it('parseManifest reads the main attributes java.util.jar.Manifest reads', () => {
    const token = fc.constantFrom(
      'Manifest-Version: 1.0',
      'Implementation-Version',
      'Bundle-License',
      'X_y-1',
      ': ',
      ':',
      ' ',
      'a',
      '1.2',
      '\r\n',
      '\n',
      '\r',
      '\r\n ',
      '\n ',
      '\n\n',
      'Name: x/y',
      'é',
      '\u00e9',
      'ü',
    );
    const samples = fc.sample(
      fc.array(token, { maxLength: 40 }).map((ts) => new Uint8Array(Buffer.from(ts.join(''), 'utf8'))),
      { numRuns: 600, seed: 7 },
    );
    const want = jdk('manifest', samples);
    let compared = 0;
    samples.forEach((s, i) => {
      const ours = parseManifest(s);
      const theirs = want[i];
      if (!theirs) return;
      compared++;
      expect(sorted(ours), JSON.stringify(Buffer.from(s).toString('utf8'))).toEqual(sorted(theirs));
    });
    expect(compared).toBeGreaterThan(100);
  });
});
