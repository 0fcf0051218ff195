import { fail } from '../errors.js';
import type { Cover } from '../store/advisorydb.js';

/**
 * The public advisory feeds `db update` downloads, and how mirrors and `--source` pick and move them. Pure: no I/O.
 */

/** One downloadable feed: a zip export of OSV records, or one JSON document. */
export interface Feed {
  /** Stable name, used by `--source`, `--mirror NAME=URL` and the `sources` table: `osv:npm`, `debian-tracker`, ... */
  readonly id: string;
  readonly format: 'zip' | 'json';
  readonly url: URL;
  /** The records this feed owns in the store: replaced when it changes, kept when the server answers 304. */
  readonly cover: Cover;
}

const OSV_HOST = 'https://osv-vulnerabilities.storage.googleapis.com';
const TRACKER_URL = 'https://security-tracker.debian.org/tracker/data/json';
const SECDB_HOST = 'https://secdb.alpinelinux.org';

/** osv.dev ecosystems whose exports the matcher uses (ref: https://google.github.io/osv.dev/data/#data-dumps). */
export const OSV_ECOSYSTEMS = [
  'Alpine',
  'Debian',
  'Ubuntu',
  'npm',
  'PyPI',
  'Go',
  'Maven',
  'RubyGems',
  'NuGet',
  'crates.io',
  'Packagist',
] as const;

/** Alpine releases whose secdb files are fetched unless configured otherwise (osv.dev's Alpine export covers all). */
export const DEFAULT_ALPINE_RELEASES = ['3.19', '3.20', '3.21', '3.22'] as const;

/** Normalise an Alpine release (`3.20`, `v3.20`) to `3.20`; anything else is a usage error. */
export function alpineRelease(value: string, where: string): string {
  const m = /^v?(\d{1,2}\.\d{1,3})$/.exec(value.trim());
  if (!m) fail('USAGE', `${where}: '${value}' is not an Alpine release like 3.20`);
  return m[1] as string;
}

/** The default feeds: every osv.dev export above, the Debian tracker, Alpine secdb main and community per release. */
export function defaultFeeds(alpineReleases: readonly string[] = DEFAULT_ALPINE_RELEASES): Feed[] {
  const feeds: Feed[] = OSV_ECOSYSTEMS.map((eco) => ({
    id: `osv:${eco}`,
    format: 'zip',
    url: new URL(`${OSV_HOST}/${encodeURIComponent(eco)}/all.zip`),
    cover: { sourcePrefix: 'osv/', ecosystem: eco },
  }));
  feeds.push({ id: 'debian-tracker', format: 'json', url: new URL(TRACKER_URL), cover: { source: 'debian-tracker' } });
  for (const release of new Set(alpineReleases)) {
    for (const repo of ['main', 'community']) {
      // The secdb parser names its records alpine-secdb/vX.Y/<reponame>: the feed owns exactly that source.
      const id = `alpine-secdb/v${release}/${repo}`;
      feeds.push({ id, format: 'json', url: new URL(`${SECDB_HOST}/v${release}/${repo}.json`), cover: { source: id } });
    }
  }
  return feeds;
}

/** Whether `name` selects feed `id`: the id itself, or a prefix ending at `:` or `/` (`osv`, `alpine-secdb/v3.20`). */
export function nameMatches(name: string, id: string): boolean {
  const n = name.toLowerCase();
  const i = id.toLowerCase();
  return i === n || i.startsWith(`${n}:`) || i.startsWith(`${n}/`);
}

/** Keep the feeds `--source` names (comma-separated lists allowed); an unknown name is a usage error. */
export function selectFeeds(feeds: readonly Feed[], names: readonly string[]): Feed[] {
  const wanted = names.flatMap((n) => n.split(',')).map((n) => n.trim());
  if (wanted.length === 0) return [...feeds];
  for (const n of wanted) {
    if (!feeds.some((f) => nameMatches(n, f.id))) {
      fail('USAGE', `--source ${n}: no such feed (known: osv, ${feeds.map((f) => f.id).join(', ')})`);
    }
  }
  return feeds.filter((f) => wanted.some((n) => nameMatches(n, f.id)));
}

/** One mirror: a base URL that replaces the scheme and host of the feeds it names (all feeds when `name` is '*'). */
export interface Mirror {
  readonly name: string;
  readonly base: URL;
}

/** Parse `--mirror [NAME=]URL`: credentials, query strings and fragments are refused, the path is kept as a prefix. */
export function parseMirror(spec: string, where: string): Mirror {
  const m = /^([A-Za-z][\w.:/-]*)=(.+)$/.exec(spec.trim());
  const name = m && !/^[a-z][a-z0-9+.-]*:\/\//i.test(spec.trim()) ? (m[1] as string) : '*';
  const raw = name === '*' ? spec.trim() : (m?.[2] as string);
  let base: URL;
  try {
    base = new URL(raw);
  } catch {
    fail('USAGE', `${where}: '${raw}' is not a URL`);
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    fail('USAGE', `${where}: ${base.protocol} URLs are not supported (https, or http with --allow-http)`);
  }
  if (base.username || base.password) fail('USAGE', `${where}: credentials in a mirror URL are not supported`);
  if (base.search || base.hash) fail('USAGE', `${where}: a mirror URL takes no query string or fragment`);
  return { name, base };
}

/** Mirrors from PORTCULLIS_DB_MIRROR: one or more `[NAME=]URL`, separated by commas or white space. */
export function mirrorsFromEnv(value: string | undefined): Mirror[] {
  if (!value?.trim()) return [];
  return value
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((s) => parseMirror(s, 'PORTCULLIS_DB_MIRROR'));
}

/**
 * Point feeds at mirrors. For each feed the most specific mirror whose name selects it wins (a named one over the
 * bare `URL`); its base replaces the feed's scheme and host and the original path is appended, so a mirror lays out
 * files as the origins do (`BASE/npm/all.zip`, `BASE/tracker/data/json`, `BASE/v3.20/main.json`).
 */
export function applyMirrors(feeds: readonly Feed[], mirrors: readonly Mirror[]): Feed[] {
  for (const m of mirrors) {
    if (m.name !== '*' && !feeds.some((f) => nameMatches(m.name, f.id))) {
      fail('USAGE', `--mirror ${m.name}=...: no feed is named ${m.name}`);
    }
  }
  return feeds.map((f) => {
    let best: Mirror | undefined;
    for (const m of mirrors) {
      if (m.name !== '*' && !nameMatches(m.name, f.id)) continue;
      const rank = m.name === '*' ? 0 : m.name.length;
      const bestRank = best === undefined ? -1 : best.name === '*' ? 0 : best.name.length;
      // Later mirrors of the same rank win: flags come after the environment and the config file.
      if (rank >= bestRank) best = m;
    }
    if (!best) return f;
    const url = new URL(best.base.href.replace(/\/+$/, '') + f.url.pathname);
    return { ...f, url };
  });
}

/** What a `db update` config file may hold; every field is optional (schemas/db-update-config.schema.json). */
export interface UpdateConfig {
  readonly mirrors: Mirror[];
  readonly sources: string[];
  readonly alpineReleases: string[] | undefined;
  readonly caCerts: string[];
  readonly allowHttp: boolean | undefined;
  readonly maxDownloadBytes: number | undefined;
}

const CONFIG_KEYS = new Set([
  '$schema',
  'mirror',
  'mirrors',
  'sources',
  'alpineReleases',
  'caCerts',
  'allowHttp',
  'maxDownloadBytes',
]);

/**
 * Check a parsed config file against the schema's rules and turn it into options; `resolvePath` makes relative CA
 * paths relative to the file. Every problem is a CONFIG_INVALID naming the field.
 */
export function parseUpdateConfig(doc: unknown, file: string, resolvePath: (p: string) => string): UpdateConfig {
  const bad = (field: string, what: string): never => fail('CONFIG_INVALID', `${file}: ${field}: ${what}`);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) bad('(top level)', 'must be a JSON object');
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!CONFIG_KEYS.has(k)) bad(k, 'unknown field');
  const strings = (field: string): string[] => {
    const v = o[field];
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s.length > 0)) {
      return bad(field, 'must be an array of non-empty strings');
    }
    return v as string[];
  };
  const mirrors: Mirror[] = [];
  const asMirror = (field: string, name: string, v: unknown): void => {
    if (typeof v !== 'string') bad(field, 'must be a URL string');
    try {
      mirrors.push({ name, base: parseMirror(v as string, field).base });
    } catch (err) {
      bad(field, (err as Error).message.slice(field.length + 2));
    }
  };
  if (o.mirror !== undefined) asMirror('mirror', '*', o.mirror);
  if (o.mirrors !== undefined) {
    if (typeof o.mirrors !== 'object' || o.mirrors === null || Array.isArray(o.mirrors)) {
      bad('mirrors', 'must be an object of feed name to URL');
    }
    for (const [name, v] of Object.entries(o.mirrors as Record<string, unknown>)) {
      if (!/^[A-Za-z][\w.:/-]*$/.test(name)) bad(`mirrors.${name}`, 'is not a feed name');
      asMirror(`mirrors.${name}`, name, v);
    }
  }
  const alpine = o.alpineReleases === undefined ? undefined : strings('alpineReleases');
  if (o.allowHttp !== undefined && typeof o.allowHttp !== 'boolean') bad('allowHttp', 'must be true or false');
  const max = o.maxDownloadBytes;
  if (max !== undefined && !(typeof max === 'number' && Number.isSafeInteger(max) && max > 0)) {
    bad('maxDownloadBytes', 'must be a positive integer');
  }
  return {
    mirrors,
    sources: strings('sources'),
    alpineReleases: alpine?.map((r) => {
      try {
        return alpineRelease(r, 'alpineReleases');
      } catch {
        return bad('alpineReleases', `'${r}' is not an Alpine release like 3.20`);
      }
    }),
    caCerts: strings('caCerts').map(resolvePath),
    allowHttp: o.allowHttp as boolean | undefined,
    maxDownloadBytes: max as number | undefined,
  };
}
