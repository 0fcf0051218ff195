import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  applyMirrors,
  defaultFeeds,
  mirrorsFromEnv,
  parseMirror,
  parseUpdateConfig,
  selectFeeds,
} from '../../src/advisories/feeds.js';
import type { ImportStats } from '../../src/advisories/import.js';
import type { Advisory, Affected } from '../../src/advisories/model.js';
import { feedProblem } from '../../src/advisories/update.js';
import { PortcullisError } from '../../src/errors.js';
import { AdvisoryDb, AdvisoryDbWriter } from '../../src/store/advisorydb.js';
import { ROOT } from '../helpers/paths.js';

const urls = (feeds: { id: string; url: URL }[]) => Object.fromEntries(feeds.map((f) => [f.id, f.url.href]));

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof PortcullisError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'no error';
}

describe('feeds, mirrors and --source', () => {
  it('lists osv.dev exports, the Debian tracker and Alpine secdb per release at their public URLs', () => {
    const u = urls(defaultFeeds(['3.20']));
    expect(u['osv:npm']).toBe('https://osv-vulnerabilities.storage.googleapis.com/npm/all.zip');
    expect(u['osv:crates.io']).toBe('https://osv-vulnerabilities.storage.googleapis.com/crates.io/all.zip');
    expect(u['debian-tracker']).toBe('https://security-tracker.debian.org/tracker/data/json');
    expect(u['alpine-secdb/v3.20/main']).toBe('https://secdb.alpinelinux.org/v3.20/main.json');
    expect(u['alpine-secdb/v3.20/community']).toBe('https://secdb.alpinelinux.org/v3.20/community.json');
    expect(Object.keys(u)).toHaveLength(11 + 1 + 2);
  });

  it('moves feeds to mirrors: the base replaces scheme and host, the most specific name wins', () => {
    const feeds = defaultFeeds(['3.20']);
    const u = urls(
      applyMirrors(feeds, [
        parseMirror('https://mirror.example/advisories/', 'm'),
        parseMirror('osv=https://osv.example', 'm'),
        parseMirror('osv:npm=https://npm.example/x', 'm'),
        parseMirror('alpine-secdb/v3.20/community=http://community.example', 'm'),
      ]),
    );
    expect(u['osv:npm']).toBe('https://npm.example/x/npm/all.zip');
    expect(u['osv:PyPI']).toBe('https://osv.example/PyPI/all.zip');
    expect(u['debian-tracker']).toBe('https://mirror.example/advisories/tracker/data/json');
    expect(u['alpine-secdb/v3.20/main']).toBe('https://mirror.example/advisories/v3.20/main.json');
    expect(u['alpine-secdb/v3.20/community']).toBe('http://community.example/v3.20/community.json');
    // Same rank: the later one (flags after the environment) wins.
    const later = applyMirrors(feeds, [...mirrorsFromEnv('https://a.example, https://b.example')]);
    expect(urls(later)['osv:Go']).toBe('https://b.example/Go/all.zip');
  });

  it('refuses mirror URLs with credentials, queries, other schemes, and names of no feed', () => {
    expect(code(() => parseMirror('https://user:pw@m.example', '--mirror'))).toMatch(/^USAGE: .*credentials/);
    expect(code(() => parseMirror('https://m.example/?token=1', '--mirror'))).toMatch(/^USAGE: .*query string/);
    expect(code(() => parseMirror('ftp://m.example', '--mirror'))).toMatch(/^USAGE: .*ftp: URLs are not supported/);
    expect(code(() => parseMirror('osv=not a url', '--mirror'))).toMatch(/^USAGE: .*is not a URL/);
    expect(code(() => applyMirrors(defaultFeeds(), [parseMirror('osx=https://m.example', 'm')]))).toMatch(
      /^USAGE: --mirror osx=\.\.\.: no feed is named osx/,
    );
  });

  it('selects feeds by name or prefix, comma lists included, and refuses unknown names', () => {
    const feeds = defaultFeeds(['3.20', '3.21']);
    const ids = (names: string[]) => selectFeeds(feeds, names).map((f) => f.id);
    expect(ids(['osv:npm,debian-tracker'])).toEqual(['osv:npm', 'debian-tracker']);
    expect(ids(['alpine-secdb/v3.21'])).toEqual(['alpine-secdb/v3.21/main', 'alpine-secdb/v3.21/community']);
    expect(ids(['osv'])).toHaveLength(11);
    expect(ids(['OSV:PYPI'])).toEqual(['osv:PyPI']);
    expect(ids([])).toHaveLength(feeds.length);
    expect(code(() => ids(['osv:cargo']))).toMatch(/^USAGE: --source osv:cargo: no such feed/);
  });
});

describe('the config file agrees with its JSON schema', () => {
  const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'db-update-config.schema.json'), 'utf8'));
  const validate = new Ajv({ strict: true, allErrors: true }).compile(schema);
  const parse = (doc: unknown) => parseUpdateConfig(doc, 'update.json', (p) => join('/etc/portcullis', p));
  const cases: [string, unknown][] = [
    [
      'everything',
      {
        mirror: 'https://m.example/a',
        mirrors: { 'osv:npm': 'http://n.example' },
        sources: ['osv'],
        alpineReleases: ['3.20', 'v3.21'],
        caCerts: ['ca.pem'],
        allowHttp: true,
        maxDownloadBytes: 1000,
      },
    ],
    ['empty', {}],
    ['unknown field', { mirorr: 'https://m.example' }],
    ['mirror with credentials', { mirror: 'https://u:p@m.example' }],
    ['mirror with a query', { mirror: 'https://m.example/?x=1' }],
    ['mirror not a string', { mirror: 1 }],
    ['mirrors not an object', { mirrors: ['https://m.example'] }],
    ['bad feed name', { mirrors: { '-x': 'https://m.example' } }],
    ['sources not strings', { sources: [1] }],
    ['empty source', { sources: [''] }],
    ['bad alpine release', { alpineReleases: ['edge'] }],
    ['allowHttp not boolean', { allowHttp: 'yes' }],
    ['negative size', { maxDownloadBytes: -1 }],
    ['fractional size', { maxDownloadBytes: 1.5 }],
    ['not an object', ['https://m.example']],
  ];
  for (const [name, doc] of cases) {
    it(`${name}: schema and parser agree`, () => {
      const schemaOk = validate(doc) === true;
      const parsed = code(() => parse(doc));
      expect(parsed === 'no error').toBe(schemaOk);
      if (!schemaOk) expect(parsed).toMatch(/^CONFIG_INVALID: update\.json: \S+/);
    });
  }

  it('resolves CA paths against the file and keeps mirror names', () => {
    const c = parseUpdateConfig(
      {
        mirror: 'https://m.example',
        mirrors: { osv: 'https://o.example' },
        caCerts: ['ca.pem', '/abs.pem'],
        alpineReleases: ['v3.21'],
      },
      'update.json',
      (p) => resolve('/etc/portcullis', p),
    );
    expect(c.caCerts).toEqual(['/etc/portcullis/ca.pem', '/abs.pem']);
    expect(c.mirrors.map((m) => `${m.name}=${m.base.href}`)).toEqual([
      '*=https://m.example/',
      'osv=https://o.example/',
    ]);
    expect(c.alpineReleases).toEqual(['3.21']);
  });
});

describe('what a feed owns in the store', () => {
  const adv = (id: string, source: string): Advisory => ({
    id,
    source,
    modified: '2025-01-01T00:00:00Z',
    aliases: [],
    severity: [],
  });
  const aff = (id: string, ecosystem: string, pkg: string): Affected => ({
    ecosystem,
    package: pkg,
    advisoryId: id,
    ranges: [],
    versions: ['1.0.0'],
  });
  const ids = (db: AdvisoryDb, eco: string, pkg: string) =>
    db
      .affected(eco, pkg)
      .map((r) => `${r.advisory.source}:${r.advisoryId}`)
      .sort();

  it('drops one ecosystem of a source family, whole sources, and advisories left with no rows', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'feeds-')), 'a.db');
    const w0 = new AdvisoryDbWriter(path);
    w0.put(adv('GHSA-1', 'osv/GHSA'), [aff('GHSA-1', 'npm', 'a'), aff('GHSA-1', 'Maven', 'g:a')]);
    w0.put(adv('GHSA-2', 'osv/GHSA'), [aff('GHSA-2', 'npm', 'b')]);
    w0.put(adv('CVE-1', 'osv/CVE'), [aff('CVE-1', 'Debian:12', 'openssl')]);
    w0.put(adv('CVE-1', 'debian-tracker'), [aff('CVE-1', 'Debian:12', 'openssl')]);
    w0.put(adv('CVE-2', 'alpine-secdb/v3.20/main'), [aff('CVE-2', 'Alpine:v3.20', 'musl')]);
    w0.commit();

    const w = new AdvisoryDbWriter(path);
    expect(w.covered({ sourcePrefix: 'osv/', ecosystem: 'npm' })).toBe(2);
    expect(w.drop({ sourcePrefix: 'osv/', ecosystem: 'npm' })).toBe(2);
    expect(w.drop({ sourcePrefix: 'osv/', ecosystem: 'Debian' })).toBe(1);
    expect(w.covered({ source: 'debian-tracker' })).toBe(1);
    // The new npm export brings GHSA-1 back for npm (and, as osv.dev exports do, with its Maven entry too).
    w.put(adv('GHSA-1', 'osv/GHSA'), [aff('GHSA-1', 'npm', 'a2'), aff('GHSA-1', 'Maven', 'g:a')]);
    w.commit();

    const db = AdvisoryDb.open(path);
    expect(ids(db, 'npm', 'a')).toEqual([]);
    expect(ids(db, 'npm', 'a2')).toEqual(['osv/GHSA:GHSA-1']);
    expect(ids(db, 'npm', 'b')).toEqual([]);
    expect(ids(db, 'Maven', 'g:a')).toEqual(['osv/GHSA:GHSA-1']); // once, not twice
    expect(ids(db, 'Debian:12', 'openssl')).toEqual(['debian-tracker:CVE-1']);
    expect(ids(db, 'Alpine:v3.20', 'musl')).toEqual(['alpine-secdb/v3.20/main:CVE-2']);
    expect(db.counts().advisories).toBe(3); // GHSA-1, tracker CVE-1, secdb CVE-2: GHSA-2 and osv/CVE-1 are gone
    db.close();
  });

  it('refuses a download that is not the data its feed is named for', () => {
    const feeds = Object.fromEntries(defaultFeeds(['3.20']).map((f) => [f.id, f]));
    const stats = (sources: Record<string, number>, extra: Partial<ImportStats> = {}): ImportStats => ({
      files: 1,
      records: Object.values(sources).reduce((a, b) => a + b, 0),
      refused: [],
      ignored: [],
      bySource: new Map(Object.entries(sources).map(([k, n]) => [k, { records: n, newest: null }])),
      unknownEcosystems: new Map(),
      ...extra,
    });
    const npm = feeds['osv:npm']!;
    const main = feeds['alpine-secdb/v3.20/main']!;
    expect(feedProblem(npm, stats({ 'osv/GHSA': 3 }), 3)).toBeUndefined();
    expect(feedProblem(npm, stats({ 'osv/PYSEC': 3 }), 0)).toBe('holds no advisories for ecosystem npm');
    expect(feedProblem(npm, stats({}, { ignored: ['index.html'] }), 0)).toBe(
      'holds no advisories (not an advisory format)',
    );
    expect(feedProblem(npm, stats({ 'debian-tracker': 3 }), 0)).toBe('holds debian-tracker records, not osv/...');
    expect(feedProblem(main, stats({ 'alpine-secdb/v3.19/main': 9 }), 0)).toBe(
      'holds alpine-secdb/v3.19/main records, not alpine-secdb/v3.20/main',
    );
    expect(
      feedProblem(main, stats({}, { refused: [{ where: 'x', reason: 'not valid JSON (Unexpected end)' }] }), 0),
    ).toBe('is not usable: not valid JSON (Unexpected end)');
  });
});
