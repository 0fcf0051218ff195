import { type FsNode, missingCode } from '../../image/filetree.js';
import type { CatalogContext, Cataloger, Package } from '../model.js';
import { distroQualifier, purl } from '../purl.js';
import { introducedIn, versionsOf } from './history.js';

/**
 * apk (Alpine, Wolfi): the installed database `lib/apk/db/installed`, stanzas of single-letter keys
 * separated by blank lines (ref: apk-tools doc/apk-package.5 and src/database.c). apk-tools 3 with a
 * merged /usr keeps it under `usr/lib/apk/db/installed`.
 */
const DB_PATHS = ['lib/apk/db/installed', 'usr/lib/apk/db/installed'];
/** Longest field value kept; longer ones are cut (descriptions and URLs are never this long). */
const MAX_VALUE = 4096;

/** One package of the installed database. */
export interface ApkEntry {
  readonly name: string;
  readonly version: string;
  readonly arch: string;
  /** The origin (source) package; the package's own name when the stanza has no `o:`. */
  readonly origin: string;
  readonly license?: string;
  readonly maintainer?: string;
  readonly description?: string;
  readonly url?: string;
  readonly size?: number;
  readonly installedSize?: number;
  readonly checksum?: string;
  readonly commit?: string;
  readonly buildTime?: number;
  /** Number of files (`R:` lines) the package owns. */
  readonly files: number;
}

/** The result of reading a database: its packages and the stanzas that could not be read. */
export interface ApkDb {
  readonly entries: ApkEntry[];
  /** Stanzas without a name or version (their first line numbers), and lines that are not `X:value`. */
  readonly badStanzas: number[];
  readonly badLines: number;
}

/** Parse an apk installed database; never throws. */
export function parseApkInstalled(text: string): ApkDb {
  const entries: ApkEntry[] = [];
  const badStanzas: number[] = [];
  let badLines = 0;
  let fields = new Map<string, string>();
  let files = 0;
  let start = 1;
  const flush = (): void => {
    if (fields.size === 0 && files === 0) return;
    const entry = toEntry(fields, files);
    if (entry) entries.push(entry);
    else badStanzas.push(start);
    fields = new Map();
    files = 0;
  };
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') {
      flush();
      start = lineNo + 1;
      continue;
    }
    if (line.length < 2 || line[1] !== ':') {
      badLines++;
      continue;
    }
    const key = line[0] as string;
    if (key === 'R') {
      files++;
      continue;
    }
    // First value wins, as apk's own reader keeps the first P/V of a stanza.
    if (!fields.has(key)) fields.set(key, line.slice(2, 2 + MAX_VALUE));
  }
  flush();
  return { entries, badStanzas, badLines };
}

function int(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
}

function toEntry(f: Map<string, string>, files: number): ApkEntry | undefined {
  const name = f.get('P');
  const version = f.get('V');
  if (!name || !version) return undefined;
  const opt = (key: string, field: string): Record<string, string> => {
    const v = f.get(key);
    return v ? { [field]: v } : {};
  };
  const size = int(f.get('S'));
  const installedSize = int(f.get('I'));
  const buildTime = int(f.get('t'));
  return {
    name,
    version,
    arch: f.get('A') ?? '',
    origin: f.get('o') || name,
    ...opt('L', 'license'),
    ...opt('m', 'maintainer'),
    ...opt('T', 'description'),
    ...opt('U', 'url'),
    ...opt('C', 'checksum'),
    ...opt('c', 'commit'),
    ...(size !== undefined ? { size } : {}),
    ...(installedSize !== undefined ? { installedSize } : {}),
    ...(buildTime !== undefined ? { buildTime } : {}),
    files,
  };
}

const key = (e: ApkEntry): string => `${e.name}\0${e.arch}\0${e.version}`;

/** The apk cataloger: every package of the installed database, attributed to the layer that added it. */
export const apkCataloger: Cataloger = {
  name: 'apk',
  version: 1,
  tags: ['os'],
  wants(info) {
    return DB_PATHS.includes(info.path) ? { kind: 'buffer', history: true } : undefined;
  },
  catalog(ctx: CatalogContext): Package[] {
    const out: Package[] = [];
    const seen = new Set<FsNode>();
    for (const path of DB_PATHS) {
      const node = ctx.tree.lookup(path);
      if (!node || seen.has(node)) continue;
      seen.add(node);
      out.push(...catalogDb(ctx, node));
    }
    return out;
  },
};

function catalogDb(ctx: CatalogContext, node: FsNode): Package[] {
  const path = node.info.path;
  const layer = node.info.layer;
  if (node.missing || !node.content) {
    const why = node.missing ?? `is a ${node.info.type}, not a regular file`;
    ctx.unknown({ path, layer, message: `apk database ${why}`, fatal: true, ...missingCode(node) });
    return [];
  }
  const db = parseApkInstalled(node.content.toString('utf8'));
  if (db.entries.length === 0 && (db.badLines > 0 || db.badStanzas.length > 0)) {
    ctx.unknown({ path, layer, message: 'apk database is not in the installed-database format', fatal: true });
    return [];
  }
  if (db.badStanzas.length > 0) {
    const lines = db.badStanzas.slice(0, 5).join(', ');
    ctx.unknown({
      path,
      layer,
      message: `${db.badStanzas.length} apk database stanza(s) without a name or version (from line ${lines})`,
      fatal: false,
    });
  }
  const versions = versionsOf(node);
  const present = versions.map((v) => new Set(parseApkInstalled(v.content.toString('utf8')).entries.map(key)));
  const distro = distroQualifier(ctx.os);
  const namespace = ctx.os?.id ?? 'alpine';
  return db.entries.map((e) => {
    const introduced = introducedIn(versions, present, key(e));
    return {
      name: e.name,
      version: e.version,
      type: 'apk',
      purl: purl('apk', namespace, e.name, e.version, {
        arch: e.arch,
        distro,
        upstream: e.origin !== e.name ? e.origin : undefined,
      }),
      source: { name: e.origin, version: e.version },
      ...(e.arch ? { arch: e.arch } : {}),
      licenses: e.license ? [e.license] : [],
      locations: [{ path, layer: introduced }],
      layer: introduced,
      foundBy: 'apk',
      metadata: {
        ...(e.maintainer ? { maintainer: e.maintainer } : {}),
        ...(e.description ? { description: e.description } : {}),
        ...(e.url ? { url: e.url } : {}),
        ...(e.installedSize !== undefined ? { installedSize: e.installedSize } : {}),
        ...(e.size !== undefined ? { size: e.size } : {}),
        ...(e.checksum ? { checksum: e.checksum } : {}),
        ...(e.commit ? { commit: e.commit } : {}),
        ...(e.buildTime !== undefined ? { buildTime: e.buildTime } : {}),
        files: e.files,
      },
    };
  });
}
