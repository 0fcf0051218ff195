import { closeSync, fstatSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fail, printable } from '../errors.js';
import type { AdvisoryDbWriter } from '../store/advisorydb.js';
import { isAlpineSecdb, parseAlpineSecdb } from './alpine.js';
import { isDebianTracker, parseDebianTracker } from './debian.js';
import type { Advisory, Affected } from './model.js';
import { parseOsv } from './osv.js';

/** Largest single JSON file read (the Debian tracker export is ~4 MB for one release, ~80 MB for all). */
const MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Most files one import walks before it is refused as hostile. */
const MAX_FILES = 2_000_000;

export interface ImportStats {
  files: number;
  records: number;
  /** Files or records refused, with where and why; the import goes on. */
  refused: { where: string; reason: string }[];
  /** Files that are JSON but no advisory format (data indexes, READMEs in JSON). */
  ignored: string[];
  /** Records per source name. */
  bySource: Map<string, { records: number; newest: string | null }>;
}

/**
 * Import advisories from a file or a directory tree (OSV JSON of any ecosystem, the Debian tracker JSON, Alpine
 * secdb). Malformed records are counted and reported, never fatal; the writer commits only if the caller says so.
 */
export function importPath(path: string, writer: AdvisoryDbWriter, onProgress?: (files: number) => void): ImportStats {
  const stats: ImportStats = { files: 0, records: 0, refused: [], ignored: [], bySource: new Map() };
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    fail('NOT_FOUND', `${path}: no such file or directory`);
  }
  const files: string[] = [];
  if (st.isDirectory()) collectJson(path, files);
  else files.push(path);
  for (const file of files) {
    stats.files++;
    if (stats.files % 2000 === 0) onProgress?.(stats.files);
    importFile(file, writer, stats);
  }
  return stats;
}

function collectJson(dir: string, out: string[]): void {
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop() as string;
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile() && e.name.endsWith('.json')) {
        out.push(p);
        if (out.length > MAX_FILES) fail('CONFIG_INVALID', `${dir}: more than ${MAX_FILES} files to import`);
      }
    }
  }
}

function record(stats: ImportStats, writer: AdvisoryDbWriter, advisory: Advisory, affected: readonly Affected[]): void {
  writer.put(advisory, affected);
  stats.records++;
  const s = stats.bySource.get(advisory.source) ?? { records: 0, newest: null };
  s.records++;
  if (s.newest === null || advisory.modified > s.newest) s.newest = advisory.modified;
  stats.bySource.set(advisory.source, s);
}

function importFile(file: string, writer: AdvisoryDbWriter, stats: ImportStats): void {
  // One open and one fstat per file: 45k small files make system calls the cost that matters.
  const fd = openSync(file, 'r');
  let text: string;
  let mtime: Date;
  try {
    const st = fstatSync(fd);
    if (st.size > MAX_FILE_BYTES) {
      stats.refused.push({ where: file, reason: `${st.size} bytes, over the ${MAX_FILE_BYTES}-byte limit` });
      return;
    }
    mtime = st.mtime;
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    stats.refused.push({ where: file, reason: `not valid JSON (${printable((err as Error).message, 120)})` });
    return;
  }
  const modified = mtime.toISOString();
  if (isAlpineSecdb(doc)) {
    for (const r of parseAlpineSecdb(doc, modified)) record(stats, writer, r.advisory, r.affected);
    return;
  }
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc) && 'id' in doc) {
    const r = parseOsv(doc);
    if (r.ok) record(stats, writer, r.advisory, r.affected);
    else stats.refused.push({ where: file, reason: r.reason });
    return;
  }
  if (isDebianTracker(doc)) {
    for (const r of parseDebianTracker(doc, modified)) record(stats, writer, r.advisory, r.affected);
    return;
  }
  stats.ignored.push(basename(file));
}
