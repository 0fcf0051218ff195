import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatValue, Metrics, renderExposition, watchMetrics } from '../../src/watch/metrics.js';
import { CACHE } from '../helpers/paths.js';

/**
 * The /metrics text format, read back by an independent parser: prometheus_client's own text parser (installed into
 * the test venv by scripts/setup-test-env.sh).
 */

const PYTHON = join(CACHE, 'venv', 'bin', 'python');
// Plain Python without backslashes: the families as JSON, each sample as [name, labels, value as text].
const SCRIPT = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [[s.name, s.labels, repr(s.value)] for s in f.samples]})
print(json.dumps(out))
`;

interface Parsed {
  name: string;
  type: string;
  help: string;
  samples: [string, Record<string, string>, string][];
}

function oracle(text: string): Parsed[] {
  const r = spawnSync(PYTHON, ['-c', SCRIPT], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prometheus_client parser refused the text: ${r.stderr}\n${text}`);
  return JSON.parse(r.stdout);
}

describe('Prometheus exposition', () => {
  it('the watch metrics render as prometheus_client reads them: HELP, TYPE, labels, values', () => {
    const m = watchMetrics();
    m.set('portcullis_watch_tags', { host: '127.0.0.1:5000', status: 'approved' }, 3);
    m.set('portcullis_watch_tags', { host: '127.0.0.1:5000', status: 'unsigned' }, 1);
    m.inc('portcullis_watch_reconciles_total');
    m.inc('portcullis_watch_reconciles_total');
    m.set('portcullis_watch_last_reconcile_duration_seconds', {}, 0.25);
    m.inc('portcullis_watch_quarantine_actions_total', { host: 'r', mode: 'dry-run', outcome: 'would-delete' });
    const parsed = oracle(m.render());
    const byName = new Map(parsed.map((f) => [f.name, f]));
    expect(byName.get('portcullis_watch_tags')).toEqual({
      name: 'portcullis_watch_tags',
      type: 'gauge',
      help: 'Tags watched, by registry and status after the last reconcile or event.',
      samples: [
        ['portcullis_watch_tags', { host: '127.0.0.1:5000', status: 'approved' }, '3.0'],
        ['portcullis_watch_tags', { host: '127.0.0.1:5000', status: 'unsigned' }, '1.0'],
      ],
    });
    // prometheus_client names a counter family without its _total suffix; the sample keeps it.
    expect(byName.get('portcullis_watch_reconciles')?.type).toBe('counter');
    expect(byName.get('portcullis_watch_reconciles')?.samples).toEqual([
      ['portcullis_watch_reconciles_total', {}, '2.0'],
    ]);
    expect(byName.get('portcullis_watch_last_reconcile_duration_seconds')?.samples[0]?.[2]).toBe('0.25');
    expect(byName.get('portcullis_watch_quarantine_actions')?.samples).toEqual([
      ['portcullis_watch_quarantine_actions_total', { host: 'r', mode: 'dry-run', outcome: 'would-delete' }, '1.0'],
    ]);
    // Every defined family is there, also those with no sample yet.
    expect(parsed).toHaveLength(Object.keys(m.families()).length);
  });

  it('escapes label values and help text; the parser reads back the exact strings', () => {
    const hostile = ['a"b', 'back\\slash', 'new\nline', 'end\\', '\\n literal', 'ü ✓', ''];
    const m = new Metrics({ t_gauge: { help: 'help with \\ and\nnewline', type: 'gauge', labels: ['v'] } });
    for (const [i, v] of hostile.entries()) m.set('t_gauge', { v }, i);
    const [f] = oracle(m.render());
    expect(f?.help).toBe('help with \\ and\nnewline');
    expect(new Map(f?.samples.map((s) => [s[1].v, s[2]]))).toEqual(new Map(hostile.map((v, i) => [v, `${i}.0`])));
  });

  it('any label value and finite or special value survives the round trip', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 12 }), fc.oneof(fc.double(), fc.integer())), {
          minLength: 1,
          maxLength: 20,
        }),
        (pairs) => {
          const m = new Metrics({ g: { help: 'g', type: 'gauge', labels: ['k'] } });
          const want = new Map<string, number>();
          for (const [k, v] of pairs) {
            m.set('g', { k }, v);
            want.set(k, v);
          }
          const [f] = oracle(m.render());
          const got = new Map(f?.samples.map((s) => [s[1].k, s[2]]));
          expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
          for (const [k, v] of want) {
            const text = got.get(k) as string;
            if (Number.isNaN(v)) expect(text).toBe('nan');
            else expect(Number(text.replace('inf', 'Infinity'))).toBe(v === 0 ? 0 : v);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('formats values as Go does: +Inf, -Inf, NaN', () => {
    expect([Infinity, -Infinity, Number.NaN, 1e21, -0.5].map(formatValue)).toEqual([
      '+Inf',
      '-Inf',
      'NaN',
      '1e+21',
      '-0.5',
    ]);
  });

  it('exact text of a small family (the format by hand: one HELP, one TYPE, a line per sample, sorted)', () => {
    const text = renderExposition([
      {
        name: 'x_total',
        help: 'X.',
        type: 'counter',
        labelNames: ['a', 'b'],
        samples: [
          { labels: { a: '2', b: 'q' }, value: 1 },
          { labels: { a: '1', b: 'r"' }, value: 7 },
        ],
      },
    ]);
    expect(text).toBe('# HELP x_total X.\n# TYPE x_total counter\nx_total{a="1",b="r\\""} 7\nx_total{a="2",b="q"} 1\n');
  });

  it('refuses misuse: wrong labels, a counter going down, a gauge call on a counter', () => {
    const m = watchMetrics();
    expect(() => m.inc('portcullis_watch_tags', { host: 'h' })).toThrow(/takes labels \[host,status\]/);
    expect(() => m.inc('portcullis_watch_reconciles_total', {}, -1)).toThrow(/cannot go down/);
    expect(() => m.set('portcullis_watch_reconciles_total', {}, 1)).toThrow(/not a gauge/);
    expect(() => new Metrics({ 'bad-name': { help: '', type: 'gauge' } })).toThrow(/not valid/);
  });

  it('clear drops vanished label sets of a gauge', () => {
    const m = watchMetrics();
    m.set('portcullis_watch_tags', { host: 'h', status: 'unsigned' }, 2);
    m.clear('portcullis_watch_tags');
    m.set('portcullis_watch_tags', { host: 'h', status: 'approved' }, 1);
    expect(m.render()).not.toContain('unsigned');
    expect(m.get('portcullis_watch_tags', { host: 'h', status: 'approved' })).toBe(1);
  });
});
