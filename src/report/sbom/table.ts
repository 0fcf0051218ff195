import type { Inventory } from '../../inventory/image.js';
import { describeUnknown } from '../../inventory/model.js';

/** Render rows as an aligned text table. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A readable inventory for people: subject, OS, packages with the layer that introduced them. */
export function toTable(inv: Inventory): string {
  const s = inv.subject;
  const head: string[] = [`${s.kind === 'image' ? 'Image' : 'Root file system'}: ${s.source}`];
  if (s.digest) head.push(`Digest:   ${s.digest}`);
  if (s.platform)
    head.push(
      `Platform: ${s.platform.os}/${s.platform.architecture}${s.platform.variant ? `/${s.platform.variant}` : ''}`,
    );
  head.push(`OS:       ${inv.os ? (inv.os.prettyName ?? `${inv.os.id} ${inv.os.versionId ?? ''}`) : 'unknown'}`);
  head.push(`Packages: ${inv.packages.length} in ${s.layers.length} layer${s.layers.length === 1 ? '' : 's'}`);
  const rows = inv.packages.map((p) => [
    p.name,
    p.version,
    p.type,
    String(p.layer),
    p.licenses.join(', ').slice(0, 40),
  ]);
  const out = [head.join('\n'), '', renderTable(['NAME', 'VERSION', 'TYPE', 'LAYER', 'LICENSES'], rows)];
  if (inv.unknowns.length) {
    out.push('', `Not catalogued (${inv.unknowns.length}):`);
    for (const u of inv.unknowns) out.push(`  ${u.fatal ? 'ERROR' : 'warn '} ${describeUnknown(u)}`);
  }
  return `${out.join('\n')}\n`;
}
