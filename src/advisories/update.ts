import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PortcullisError } from '../errors.js';
import { HttpTransport, redactUrl } from '../oci/registry/http.js';
import {
  AdvisoryDb,
  AdvisoryDbWriter,
  ageKeptWarning,
  leftOver,
  type SourceInfo,
  typedFileError,
} from '../store/advisorydb.js';
import { checkScheme, type DownloadOptions, downloadFeed, type Validators } from './download.js';
import type { Feed } from './feeds.js';
import { type ImportStats, importText, newImportStats } from './import.js';
import { MAX_FILE_BYTES } from './readfile.js';
import { DEFAULT_ZIP_LIMITS, readZipDocuments, type ZipLimits } from './zipimport.js';

/**
 * `db update`: download every selected feed first (conditional GETs into a private directory beside the database),
 * then build the next database in one writer: the store is copied, the records of each changed feed are dropped
 * and its download imported, feeds that answered 304 keep theirs untouched, and the copy is renamed over the old
 * file. Any failure before the rename leaves the previous database exactly as it was.
 */

export interface UpdateOptions {
  readonly dbPath: string;
  readonly feeds: readonly Feed[];
  /** Ignore the current database: build a new one from the selected feeds, downloaded unconditionally. */
  readonly rebuild: boolean;
  readonly download: Omit<DownloadOptions, 'onProgress'>;
  readonly zipLimits?: ZipLimits;
  /** One line per feed and step (stderr). */
  readonly log: (line: string) => void;
  /** What the user must see even when quiet (stderr); `log` when not given. */
  readonly warn?: (line: string) => void;
  /** Download progress of one feed (for a terminal). */
  readonly progress?: (feed: Feed, got: number, total: number | undefined) => void;
}

/** What happened to one feed. */
export interface FeedOutcome {
  readonly id: string;
  readonly status: 'unchanged' | 'updated';
  /** Records now held for the feed (for an unchanged feed: as recorded by its last download). */
  readonly records: number;
  readonly refused: readonly { where: string; reason: string }[];
}

interface Fetched {
  readonly feed: Feed;
  readonly file: string;
  readonly bytes: number;
  readonly etag: string | null;
  readonly lastModified: string | null;
}

/** Run one update; resolves after the new database is in place, rejects with the previous one untouched. */
export async function updateDb(opts: UpdateOptions): Promise<FeedOutcome[]> {
  // Every URL is checked before the first download: a refused one must not cost the others' bandwidth.
  for (const feed of opts.feeds) checkScheme(feed.url, opts.download.allowHttp, feed.id);
  const previous = opts.rebuild ? new Map<string, SourceInfo>() : previousSources(opts.dbPath);
  try {
    mkdirSync(dirname(opts.dbPath), { recursive: true });
  } catch (err) {
    throw typedFileError(opts.dbPath, err);
  }
  removeAbandonedDownloads(dirname(opts.dbPath));
  // The pid in the name lets a later update tell a killed one's downloads (SIGKILL, SIGTERM) from a running one's.
  const tmp = mkdtempSync(join(dirname(opts.dbPath), `${DOWNLOADS}${process.pid}-`));
  // Interrupted (Ctrl-C exits at once): the downloads are removed all the same.
  const cleanup = (): void => rmSync(tmp, { recursive: true, force: true });
  process.once('exit', cleanup);
  const transport = new HttpTransport();
  try {
    const fetched: Fetched[] = [];
    const outcomes: FeedOutcome[] = [];
    for (const [i, feed] of opts.feeds.entries()) {
      const location = redactUrl(feed.url);
      const last = previous.get(feed.id);
      // Validators belong to the URL they came from: after a mirror change the download starts afresh.
      const validators: Validators = last?.location === location ? last : {};
      const file = join(tmp, `${i}.${feed.format}`);
      const result = await downloadFeed(transport, feed.url, file, validators, {
        ...opts.download,
        onProgress: (got, total) => opts.progress?.(feed, got, total),
      }).catch((err: unknown) => {
        throw withFeed(feed, err);
      });
      if (result.kind === 'unchanged') {
        opts.log(`${feed.id}: not modified, keeping ${last?.records ?? 0} records`);
        outcomes.push({ id: feed.id, status: 'unchanged', records: last?.records ?? 0, refused: [] });
      } else {
        opts.log(`${feed.id}: downloaded ${result.bytes} bytes`);
        fetched.push({ feed, file, bytes: result.bytes, etag: result.etag, lastModified: result.lastModified });
      }
    }
    // Feeds an earlier update stored and this one did not fetch (`--source` picked others; a release dropped from the
    // config) keep their age: the store's data age is renewed only when none is left behind.
    const ids = new Set(opts.feeds.map((f) => f.id));
    const behind = [...previous.values()].filter((s) => FEED_LOCATION.test(s.location) && !ids.has(s.name));
    if (behind.length > 0)
      (opts.warn ?? opts.log)(
        ageKeptWarning(
          'feed',
          behind.map((s) => s.name),
          'update',
        ),
      );
    outcomes.push(...build(opts, fetched, behind.length === 0));
    return outcomes;
  } finally {
    transport.close();
    process.removeListener('exit', cleanup);
    cleanup();
  }
}

const DOWNLOADS = '.portcullis-update-';

/** Sources `db update` wrote have the feed's URL as location; `db import` writes a path. */
const FEED_LOCATION = /^https?:\/\//;

/**
 * Remove the download directories that killed updates left beside the database (up to --max-download-size per
 * feed): those whose process is gone and in which nothing changed for ten minutes (an update in another PID
 * namespace sharing the directory keeps writing).
 */
function removeAbandonedDownloads(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^\.portcullis-update-(\d+)-[^/]+$/.exec(name)?.[1]);
    if (!pid) continue;
    const path = join(dir, name);
    try {
      if (leftOver(pid, [path, ...readdirSync(path).map((f) => join(path, f))])) {
        rmSync(path, { recursive: true, force: true });
      }
    } catch {
      // removed meanwhile by another update, or not a directory: nothing to do
    }
  }
}

/** The sources table of the current database, or nothing when there is none yet. */
function previousSources(path: string): Map<string, SourceInfo> {
  if (!existsSync(path)) return new Map();
  let db: AdvisoryDb;
  try {
    db = AdvisoryDb.open(path);
  } catch (err) {
    if (!(err instanceof PortcullisError)) throw err;
    throw new PortcullisError(err.code, `${err.message}; 'portcullis db update --rebuild' builds a new one`, {
      cause: err,
    });
  }
  try {
    return new Map(db.sources().map((s) => [s.name, s]));
  } finally {
    db.close();
  }
}

/** Build and swap in the next database: drops first, so no feed's import can be undone by another's drop. */
function build(opts: UpdateOptions, fetched: readonly Fetched[], renewAge: boolean): FeedOutcome[] {
  // A rebuild's copy is the writer's own temporary file, which the next import removes if this one is killed.
  const writer = new AdvisoryDbWriter(opts.dbPath, { rebuild: opts.rebuild });
  const outcomes: FeedOutcome[] = [];
  try {
    for (const f of fetched) writer.drop(f.feed.cover);
    for (const f of fetched) {
      const stats: ImportStats = newImportStats();
      importFeed(f, writer, stats, opts.zipLimits ?? DEFAULT_ZIP_LIMITS);
      const problem = feedProblem(f.feed, stats, writer.covered(f.feed.cover));
      if (problem) throw new PortcullisError('FEED_ERROR', `${f.feed.id}: ${redactUrl(f.feed.url)} ${problem}`);
      let newest: string | null = null;
      for (const s of stats.bySource.values())
        if (s.newest !== null && (newest === null || s.newest > newest)) newest = s.newest;
      writer.source({
        name: f.feed.id,
        location: redactUrl(f.feed.url),
        importedAt: new Date().toISOString(),
        records: stats.records,
        newestModified: newest,
        etag: f.etag,
        lastModified: f.lastModified,
      });
      opts.log(
        `${f.feed.id}: ${stats.records} records${stats.refused.length ? `, ${stats.refused.length} refused` : ''}`,
      );
      outcomes.push({ id: f.feed.id, status: 'updated', records: stats.records, refused: stats.refused });
    }
    writer.commit({ renewAge });
  } catch (err) {
    writer.abort();
    throw err;
  }
  return outcomes;
}

function importFeed(f: Fetched, writer: AdvisoryDbWriter, stats: ImportStats, limits: ZipLimits): void {
  // Formats without dates of their own (tracker, secdb) are dated by the server's Last-Modified.
  const lm = f.lastModified ? new Date(f.lastModified) : undefined;
  const modified = (lm && !Number.isNaN(lm.getTime()) ? lm : new Date()).toISOString();
  if (f.feed.format === 'zip') {
    readZipDocuments(
      f.file,
      f.feed.id,
      {
        document: (name, text) => {
          stats.files++;
          importText(`${f.feed.id}!${name}`, text, modified, writer, stats);
        },
        ignored: (name) => stats.ignored.push(name),
        refused: (name, reason) => stats.refused.push({ where: `${f.feed.id}!${name}`, reason }),
      },
      limits,
    );
    return;
  }
  const size = statSync(f.file).size;
  if (size > MAX_FILE_BYTES) {
    throw new PortcullisError('FEED_ERROR', `${f.feed.id}: ${size} bytes, over the ${MAX_FILE_BYTES}-byte limit`);
  }
  stats.files++;
  importText(f.feed.id, readFileSync(f.file, 'utf8'), modified, writer, stats);
}

/**
 * Why a downloaded feed cannot replace what the store holds for it, or undefined when it can. A feed must be the
 * data it is named for: a mirror serving an HTML page, another release's secdb or another ecosystem's export is
 * refused rather than allowed to empty the feed's records.
 */
export function feedProblem(feed: Feed, stats: ImportStats, covered: number): string | undefined {
  if (feed.format === 'json' && stats.refused.length > 0) return `is not usable: ${stats.refused[0]?.reason}`;
  if (stats.records === 0) return `holds no advisories${stats.ignored.length ? ' (not an advisory format)' : ''}`;
  const cover = feed.cover;
  for (const source of stats.bySource.keys()) {
    const ok = 'source' in cover ? source === cover.source : source.startsWith(cover.sourcePrefix);
    if (!ok) return `holds ${source} records, not ${'source' in cover ? cover.source : `${cover.sourcePrefix}...`}`;
  }
  if (covered === 0) {
    return `holds no advisories for ${'ecosystem' in cover ? `ecosystem ${cover.ecosystem}` : cover.source}`;
  }
  return undefined;
}

/** Prefix an error with the feed it came from, keeping its code and class. */
function withFeed(feed: Feed, err: unknown): unknown {
  if (!(err instanceof PortcullisError)) return err;
  return new PortcullisError(err.code, `${feed.id}: ${err.message}`, { cause: err, retryable: err.retryable });
}
