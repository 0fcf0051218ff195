import type { StreamAnalyzer } from '../../../image/collect.js';
import { ArchiveError, InflateBudget } from './errors.js';
import {
  type ArchiveFacts,
  type PomProperties,
  pomEntryCoordinates,
  pomProperties,
  pomXmlEntryCoordinates,
  pomXmlProperties,
} from './identify.js';
import { type Manifest, parseManifest } from './manifest.js';
import { parsePomXml } from './pomxml.js';
import { parseProperties } from './properties.js';
import { type ZipEntry, type ZipSink, ZipStreamReader } from './zipstream.js';

/**
 * Scans one Java archive as it streams: reads its MANIFEST.MF, pom.properties and pom.xml entries, and walks
 * nested archives (Spring Boot `BOOT-INF/lib/*.jar`, `WEB-INF/lib/*.jar`, ...) the same way, entry data feeding
 * the nested reader directly. Nothing is buffered but those small entries; every failure becomes a problem.
 */

/** Limits of one scan; each default is given with its field. */
export interface ArchiveScanOptions {
  /** Levels of archives inside the outer one that are opened (default 4). */
  readonly maxDepth?: number;
  /** Largest MANIFEST.MF, pom.properties or pom.xml that is read (default 4 MiB). */
  readonly maxEntryBytes?: number;
  /** Bytes inflated for one outer archive, nested ones included, at most (default 1 GiB). */
  readonly maxInflatedBytes?: number;
  /**
   * Bytes inflated per byte of the outer archive (default 8, with a floor of 64 MiB): nested jars hardly
   * compress, so a real archive inflates about its own size, while a zip bomb inflates a thousand times it.
   */
  readonly maxInflateRatio?: number;
  /**
   * Bytes inflated only to find where an entry ends and then thrown away (entries with a data descriptor
   * that nobody reads), at most (default 32 per byte of the outer archive, at least 256 MiB): the inflater
   * must produce every byte, so this bounds the time a zip bomb hidden in such an entry costs.
   */
  readonly maxDiscardedBytes?: number;
  /** Bytes tolerated before the first entry, e.g. an executable jar's launch script (default 16 MiB). */
  readonly maxPrefixBytes?: number;
  /** Archives and pom.properties kept per outer archive, counted together, and pom.xml files apart (default 10000 each). */
  readonly maxRecords?: number;
}

/** Something in the archive that could not be read; `path` uses `outer.jar!/inner.jar` for nested ones. */
export interface ArchiveProblem {
  readonly path: string;
  readonly message: string;
}

/** What a scan found: every archive opened (outer first) with what identifies it, and the problems met. */
export interface ArchiveScan {
  readonly archives: readonly ArchiveFacts[];
  readonly problems: readonly ArchiveProblem[];
}

/** File names of archives the cataloger opens, outer or nested. */
export const ARCHIVE_NAME = /\.(?:jar|war|ear|jpi|hpi)$/i;

type Limits = Required<Omit<ArchiveScanOptions, 'maxDiscardedBytes'>>;

const DEFAULTS: Limits = {
  maxDepth: 4,
  maxEntryBytes: 4 * 1024 * 1024,
  maxInflatedBytes: 1024 * 1024 * 1024,
  maxInflateRatio: 8,
  maxPrefixBytes: 16 * 1024 * 1024,
  maxRecords: 10_000,
};

interface Facts {
  readonly path: string;
  readonly depth: number;
  manifest: Manifest | undefined;
  readonly poms: PomProperties[];
}

interface Shared {
  readonly opts: Limits;
  readonly budget: InflateBudget;
  readonly archives: Facts[];
  readonly problems: ArchiveProblem[];
  /** Archives and pom.properties kept, and pom.xml files apart: Maven writes one beside each pom.properties. */
  readonly records: Record<RecordKind, { count: number; capped: boolean }>;
}

type RecordKind = 'archives and pom.properties' | 'pom.xml files';

function describe(e: ZipEntry): string {
  return (e.flags & 1) !== 0 ? 'entry is encrypted' : `entry uses unsupported compression method ${e.method}`;
}

/** One archive being read, outer or nested. */
class ArchiveWalk {
  private readonly reader: ZipStreamReader;
  private readonly facts: Facts;

  constructor(
    path: string,
    depth: number,
    private readonly shared: Shared,
  ) {
    this.facts = { path, depth, manifest: undefined, poms: [] };
    if (this.record()) shared.archives.push(this.facts);
    this.reader = new ZipStreamReader({
      budget: shared.budget,
      maxPrefixBytes: shared.opts.maxPrefixBytes,
      onEntry: (e) => this.onEntry(e),
    });
  }

  /** Feed bytes; false when the rest of this archive is not needed (read to its end, or failed). */
  push(chunk: Uint8Array): boolean {
    try {
      this.reader.push(chunk);
    } catch (err) {
      this.fail(err);
      return false;
    }
    return !this.reader.done;
  }

  finish(): void {
    try {
      this.reader.finish();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Only the inflation limit stops the outer archive; other faults stay with the archive that has them. */
  private fail(err: unknown): void {
    if (!(err instanceof ArchiveError) || err.code === 'LIMIT') throw err;
    this.problem(err.message);
  }

  problem(message: string, entry?: string): void {
    this.shared.problems.push({ path: entry ? `${this.facts.path}!/${entry}` : this.facts.path, message });
  }

  /** Count one record of `kind` under its cap; past it, say so once and keep nothing more. */
  private record(kind: RecordKind = 'archives and pom.properties'): boolean {
    const s = this.shared;
    const r = s.records[kind];
    if (r.count < s.opts.maxRecords) {
      r.count++;
      return true;
    }
    if (!r.capped) {
      r.capped = true;
      s.problems.push({
        path: s.archives[0]?.path ?? this.facts.path,
        message: `more than ${s.opts.maxRecords} ${kind}; the rest are ignored`,
      });
    }
    return false;
  }

  private onEntry(e: ZipEntry): ZipSink | undefined {
    if (e.name.endsWith('/')) return undefined;
    if (e.name.toUpperCase() === 'META-INF/MANIFEST.MF') {
      return this.buffered(e, (b) => {
        this.facts.manifest ??= parseManifest(b);
      });
    }
    if (pomEntryCoordinates(e.name)) {
      return this.buffered(e, (b) => {
        if (this.record()) this.facts.poms.push(pomProperties(e.name, parseProperties(b)));
      });
    }
    if (pomXmlEntryCoordinates(e.name)) {
      return this.buffered(e, (b) => {
        if (this.record('pom.xml files')) this.facts.poms.push(pomXmlProperties(e.name, parsePomXml(b)));
      });
    }
    if (ARCHIVE_NAME.test(e.name)) return this.nested(e);
    return undefined;
  }

  private buffered(e: ZipEntry, done: (data: Buffer) => void): ZipSink | undefined {
    if (!e.readable) {
      this.problem(describe(e), e.name);
      return undefined;
    }
    const max = this.shared.opts.maxEntryBytes;
    const parts: Buffer[] = [];
    let got = 0;
    return {
      write: (c) => {
        got += c.length;
        if (got > max) {
          this.problem(`entry is larger than the ${max}-byte limit`, e.name);
          return false;
        }
        parts.push(Buffer.from(c));
        return true;
      },
      end: () => done(Buffer.concat(parts, got)),
      abort: (reason) => this.problem(reason, e.name),
    };
  }

  private nested(e: ZipEntry): ZipSink | undefined {
    const { maxDepth } = this.shared.opts;
    if (this.facts.depth >= maxDepth) {
      this.problem(`not opened: archives nested more than ${maxDepth} levels deep`, e.name);
      return undefined;
    }
    if (!e.readable) {
      this.problem(describe(e), e.name);
      return undefined;
    }
    const child = new ArchiveWalk(`${this.facts.path}!/${e.name}`, this.facts.depth + 1, this.shared);
    return {
      write: (c) => child.push(c),
      end: () => child.finish(),
      abort: (reason) => child.problem(reason),
    };
  }
}

const RATIO_FLOOR = 64 * 1024 * 1024;
const DISCARD_RATIO = 32;
const DISCARD_FLOOR = 256 * 1024 * 1024;

/**
 * A StreamAnalyzer for one archive file at `path` of `size` bytes; its result() is an ArchiveScan. It never
 * throws: every failure, the inflation limit included, ends up in the scan's problems.
 */
export function createArchiveScanner(path: string, size: number, options: ArchiveScanOptions = {}): StreamAnalyzer {
  const { maxDiscardedBytes, ...rest } = options;
  const opts: Limits = { ...DEFAULTS, ...rest };
  const byRatio = Math.max(RATIO_FLOOR, size * opts.maxInflateRatio);
  const discard = maxDiscardedBytes ?? Math.max(DISCARD_FLOOR, size * DISCARD_RATIO);
  const shared: Shared = {
    opts,
    budget: new InflateBudget(Math.min(opts.maxInflatedBytes, byRatio), discard),
    archives: [],
    problems: [],
    records: {
      'archives and pom.properties': { count: 0, capped: false },
      'pom.xml files': { count: 0, capped: false },
    },
  };
  const root = new ArchiveWalk(path, 0, shared);
  let stopped = false;
  const stop = (err: unknown): void => {
    stopped = true;
    const message = err instanceof ArchiveError ? err.message : `internal error: ${String(err)}`;
    shared.problems.push({ path, message });
  };
  return {
    write(chunk) {
      if (stopped) return;
      try {
        if (!root.push(chunk)) stopped = true;
      } catch (err) {
        stop(err);
      }
    },
    end() {
      if (stopped) return;
      stopped = true;
      try {
        root.finish();
      } catch (err) {
        stop(err);
      }
    },
    result(): ArchiveScan {
      return { archives: shared.archives, problems: shared.problems };
    },
  };
}

/** Scan an archive already in memory (tests, small files), fed in `chunkSize` pieces. */
export function scanArchive(
  path: string,
  data: Uint8Array,
  options: ArchiveScanOptions = {},
  chunkSize = 64 * 1024,
): ArchiveScan {
  const scanner = createArchiveScanner(path, data.length, options);
  for (let i = 0; i < data.length; i += chunkSize) scanner.write(data.subarray(i, i + chunkSize));
  scanner.end();
  return scanner.result() as ArchiveScan;
}
