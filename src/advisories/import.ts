import { type Dirent, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fail } from '../errors.js';
import type { AdvisoryDbWriter, AdvisoryRows } from '../store/advisorydb.js';
import { type FileOutcome, outcomeOf, readAdvisoryFile } from './readfile.js';
import { knownEcosystem } from './versions/index.js';
import { ImportWorkers, importWorkerCount } from './workers.js';
import { importZipFile, isZipName } from './zipimport.js';

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
  /** Affected packages per ecosystem that no version scheme knows: stored, but never matched. */
  unknownEcosystems: Map<string, number>;
}

/** Empty statistics for one import. */
export function newImportStats(): ImportStats {
  return { files: 0, records: 0, refused: [], ignored: [], bySource: new Map(), unknownEcosystems: new Map() };
}

/**
 * Import advisories from a file or a directory tree (OSV JSON of any ecosystem, the Debian tracker JSON, Alpine
 * secdb). Malformed records are counted and reported, never fatal; the writer commits only if the caller says so.
 * Many files are shared between this thread, which inserts straight into the store, and worker threads, each inserting
 * into a shard file that is copied in afterwards in file order, so the result is the same as a sequential import.
 */
export async function importPath(
  path: string,
  writer: AdvisoryDbWriter,
  onProgress?: (files: number) => void,
): Promise<ImportStats> {
  const stats = newImportStats();
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    fail('NOT_FOUND', `${path}: no such file or directory`);
  }
  const files: string[] = [];
  const zips: string[] = [];
  // For a directory that looks large (subdirectories, or many files), the workers start before the walk, so their
  // start-up overlaps it; too few files after all, and they are stopped.
  let workers: ImportWorkers | undefined;
  try {
    const root = st.isDirectory() ? readdirSync(path, { withFileTypes: true }) : undefined;
    const early = root && looksLarge(root) ? importWorkerCount(Number.POSITIVE_INFINITY) : 0;
    if (early > 0) workers = new ImportWorkers(writer, early);
    if (root) collectJson(path, root, files, zips);
    else (isZipName(path) ? zips : files).push(path);
    const count = importWorkerCount(files.length);
    if (count === 0 && workers) {
      await workers.stop();
      workers = undefined;
    } else if (count > 0 && !workers) workers = new ImportWorkers(writer, count);
    let done = 0;
    const progress = (files: number): void => {
      if (Math.floor((done + files) / 2000) > Math.floor(done / 2000)) onProgress?.(done + files);
      done += files;
    };
    // A walk lists regular files only; a path given as such may be a pipe (/dev/stdin, <(...)).
    const regular = root !== undefined || st.isFile();
    const importOne = (file: string, into: ImportStats): void =>
      countOutcome(readAdvisoryFile(file, regular), into, (rows) => writer.putRows(rows));
    if (workers) {
      const importOwn = (batch: readonly string[]): ImportStats => {
        const part = newImportStats();
        part.files = batch.length;
        for (const file of batch) importOne(file, part);
        return part;
      };
      await workers.run(files, importOwn, (part) => addStats(stats, part), progress);
    } else {
      for (const file of files) {
        stats.files++;
        importOne(file, stats);
        progress(1);
      }
    }
  } finally {
    await workers?.stop();
  }
  // Zip exports (osv.dev all.zip) are read here, entry by entry, after the plain files.
  for (const zip of zips) {
    importZipFile(zip, statSync(zip).mtime.toISOString(), stats, (where, text, modified) => {
      importText(where, text, modified, writer, stats);
      if (stats.files % 2000 === 0) onProgress?.(stats.files);
    });
  }
  return stats;
}

/** Whether a directory to import has subdirectories or a few hundred entries (the advisory data sets do). */
function looksLarge(entries: readonly Dirent[]): boolean {
  return entries.length >= 256 || entries.some((e) => e.isDirectory());
}

/** Every JSON and zip file under `dir`, whose own entries (`rootEntries`) the caller has read already. */
function collectJson(dir: string, rootEntries: Dirent[], out: string[], zips: string[]): void {
  // Paths are joined by hand below the root: path.join normalises each of 45k names, twice the cost of the walk.
  const stack = [join(dir).replace(/(.)\/+$/, '$1')];
  let read: Dirent[] | undefined = rootEntries;
  while (stack.length > 0) {
    const d = stack.pop() as string;
    const entries = read ?? readdirSync(d, { withFileTypes: true });
    read = undefined;
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const p = d === '.' ? e.name : d === '/' ? `/${e.name}` : `${d}/${e.name}`;
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile() && e.name.endsWith('.json')) {
        out.push(p);
        if (out.length > MAX_FILES) fail('CONFIG_INVALID', `${dir}: more than ${MAX_FILES} files to import`);
      } else if (e.isFile() && isZipName(e.name)) zips.push(p);
    }
  }
}

/**
 * Count one document's outcome (records, refusals, sources) into `stats` and hand each record's rows to `put` (the store, or an import worker's
 * shard).
 */
export function countOutcome(outcome: FileOutcome, stats: ImportStats, put: (rows: AdvisoryRows) => void): void {
  if (outcome.refused !== undefined) stats.refused.push({ where: outcome.where, reason: outcome.refused });
  if (outcome.ignored) stats.ignored.push(basename(outcome.where));
  for (const r of outcome.records) {
    put(r.rows);
    stats.records++;
    const s = stats.bySource.get(r.source) ?? { records: 0, newest: null };
    s.records++;
    if (s.newest === null || r.modified > s.newest) s.newest = r.modified;
    stats.bySource.set(r.source, s);
    for (const a of r.rows.affected) {
      const ecosystem = a[0] as string;
      if (!knownEcosystem(ecosystem))
        stats.unknownEcosystems.set(ecosystem, (stats.unknownEcosystems.get(ecosystem) ?? 0) + 1);
    }
  }
}

/** Import one JSON document (a file, or an entry of a zip export); `where` names it in messages. */
export function importText(
  where: string,
  text: string,
  modified: string,
  writer: AdvisoryDbWriter,
  stats: ImportStats,
): void {
  countOutcome(outcomeOf(where, text, modified), stats, (rows) => writer.putRows(rows));
}

/** Add the statistics of a part of an import (a worker's batch) to the whole, in file order. */
function addStats(into: ImportStats, part: ImportStats): void {
  into.files += part.files;
  into.records += part.records;
  into.refused.push(...part.refused);
  into.ignored.push(...part.ignored);
  for (const [name, s] of part.bySource) {
    const t = into.bySource.get(name);
    if (t === undefined) into.bySource.set(name, { ...s });
    else {
      t.records += s.records;
      if (t.newest === null || (s.newest !== null && s.newest > t.newest)) t.newest = s.newest;
    }
  }
  for (const [e, n] of part.unknownEcosystems) into.unknownEcosystems.set(e, (into.unknownEcosystems.get(e) ?? 0) + n);
}
