import type { FigureResult, Row } from './figure.js';

const HEAD = ['#', 'measure', 'portcullis', 'reference', 'ratio', 'target', 'met'] as const;

function verdict(r: Row): string {
  if (r.met === undefined) return '-';
  return r.met ? 'yes' : 'NO';
}

/** The results as a plain-text table, one block per figure with its notes beneath. */
export function renderTable(figures: readonly FigureResult[]): string {
  const lines: string[][] = [];
  for (const f of figures) {
    for (const r of f.rows) {
      lines.push([
        String(f.id),
        r.measure,
        r.ours,
        r.reference,
        r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`,
        r.target,
        verdict(r),
      ]);
    }
  }
  const widths = HEAD.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const fmt = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  const out = [fmt(HEAD), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt), ''];
  for (const f of figures) {
    out.push(`${f.id}. ${f.title}`);
    for (const n of f.notes) out.push(`   ${n}`);
  }
  return `${out.join('\n')}\n`;
}
