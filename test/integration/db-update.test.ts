import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AdvisoryDb } from '../../src/store/advisorydb.js';
import { runCli } from '../helpers/cli.js';
import { type FeedServer, startFeedServer } from '../helpers/feedserver.js';
import { advisoryData, CLI } from '../helpers/paths.js';
import { makePki, type TestPki } from '../helpers/registry.js';

let tmp: string;
let pki: TestPki;
let server: FeedServer;
/** Real GHSA records that name npm packages only, in file-name order. */
let npmRecords: { file: string; id: string; pkg: string }[];

/** A zip export as osv.dev lays it out (one JSON file per advisory), made by Info-ZIP zip from the given records. */
function npmExport(name: string, records: { file: string }[]): Buffer {
  const dir = join(tmp, `export-${name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const r of records) copyFileSync(r.file, join(dir, r.file.split('/').pop() as string));
  const out = join(tmp, `${name}.zip`);
  rmSync(out, { force: true });
  execFileSync('zip', ['-q', '-X', '-r', out, '.'], { cwd: dir });
  return readFileSync(out);
}

/** 100 MiB of zeros deflated into about 100 KB, beside a harmless record: made by Python's zipfile. */
function zipBomb(): string {
  const bomb = join(tmp, 'bomb.zip');
  execFileSync('python3', [
    '-c',
    `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('GHSA-aaaa-bbbb-cccc.json', '{}')
    z.writestr('GHSA-zzzz-zzzz-zzzz.json', bytes(100 * 1024 * 1024))`,
    bomb,
  ]);
  return bomb;
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

const update = (db: string, ...args: string[]) =>
  runCli(['db', 'update', '--db', db, '--mirror', server.url, '--ca-cert', pki.caCert, '--retries', '2', ...args]);

async function status(db: string): Promise<{
  advisories: number;
  sources: { name: string; records: number; etag: string | null; lastModified: string | null }[];
}> {
  const r = await runCli(['db', 'status', '--db', db, '-f', 'json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

function holds(db: string, pkg: string): string[] {
  const store = AdvisoryDb.open(db);
  try {
    return store.affected('npm', pkg).map((r) => r.advisoryId);
  } finally {
    store.close();
  }
}

/** Nothing of an update is left beside the database: no download directory, no half-built copy. */
function leftovers(db: string): string[] {
  const dir = join(db, '..');
  return readdirSync(dir).filter(
    (n) => n.startsWith('.portcullis-update-') || n.endsWith('.tmp') || n.includes('.rebuild-'),
  );
}

const FEEDS = ['--source', 'osv:npm,debian-tracker,alpine-secdb/v3.21', '--alpine-release', '3.21'];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-dbupdate-'));
  pki = makePki(join(tmp, 'pki'));
  server = await startFeedServer(pki);
  const data = advisoryData();
  npmRecords = [];
  for (const f of readdirSync(join(data, 'ghsa')).sort()) {
    const doc = JSON.parse(readFileSync(join(data, 'ghsa', f), 'utf8'));
    const ecos = new Set<string>(doc.affected.map((a: { package: { ecosystem: string } }) => a.package.ecosystem));
    if (ecos.size === 1 && ecos.has('npm') && doc.affected.length === 1 && !doc.withdrawn) {
      npmRecords.push({ file: join(data, 'ghsa', f), id: doc.id, pkg: doc.affected[0].package.name });
    }
    if (npmRecords.length === 30) break;
  }
});

afterAll(async () => {
  await server?.stop();
});

// The tests of this block run in order against one database, as successive updates of one site would.
describe('portcullis db update against a loopback HTTPS mirror', () => {
  const db = () => join(tmp, 'main', 'advisories.db');
  const data = () => advisoryData();

  beforeEach(() => {
    server.requests.length = 0;
    server.fault = () => undefined;
  });

  it('downloads every selected feed, unconditionally the first time, and records its validators', async () => {
    server.files.set('/npm/all.zip', { body: npmExport('a', npmRecords.slice(0, 20)), etag: '"npm-a"' });
    // The tracker carries only Last-Modified (and is sent gzip-encoded), the secdb files only an ETag.
    server.files.set('/tracker/data/json', {
      body: readFileSync(join(data(), 'debian-12', 'tracker.json')),
      lastModified: 'Wed, 12 Feb 2025 18:06:49 GMT',
      gzip: true,
    });
    for (const repo of ['main', 'community']) {
      server.files.set(`/v3.21/${repo}.json`, {
        body: readFileSync(join(data(), 'alpine', 'v3.21', `${repo}.json`)),
        etag: `W/"secdb-${repo}"`,
      });
    }
    const r = await update(db(), ...FEEDS);
    expect(r.stderr).toMatch(/updated .*: 4 of 4 feeds changed/);
    expect(r.code).toBe(0);
    expect(server.requests.map((q) => [q.path, q.status, q.ifNoneMatch, q.ifModifiedSince])).toEqual([
      ['/npm/all.zip', 200, undefined, undefined],
      ['/tracker/data/json', 200, undefined, undefined],
      ['/v3.21/main.json', 200, undefined, undefined],
      ['/v3.21/community.json', 200, undefined, undefined],
    ]);
    const s = await status(db());
    const src = Object.fromEntries(s.sources.map((x) => [x.name, x]));
    expect(src['osv:npm']).toMatchObject({ records: 20, etag: '"npm-a"', lastModified: null });
    expect(src['debian-tracker']).toMatchObject({
      records: 30918,
      etag: null,
      lastModified: 'Wed, 12 Feb 2025 18:06:49 GMT',
    });
    expect(src['alpine-secdb/v3.21/main']?.etag).toBe('W/"secdb-main"');
    expect(src['alpine-secdb/v3.21/community']?.records).toBeGreaterThan(0);
    const first = npmRecords[0]!;
    expect(holds(db(), first.pkg)).toContain(first.id);
    expect(leftovers(db())).toEqual([]);
  });

  it('sends the validators back, keeps every record on 304', async () => {
    const before = await status(db());
    const r = await update(db(), ...FEEDS);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/osv:npm: not modified, keeping 20 records/);
    expect(r.stderr).toMatch(/0 of 4 feeds changed, 4 not modified/);
    expect(server.requests.map((q) => [q.path, q.status, q.ifNoneMatch, q.ifModifiedSince])).toEqual([
      ['/npm/all.zip', 304, '"npm-a"', undefined],
      ['/tracker/data/json', 304, undefined, 'Wed, 12 Feb 2025 18:06:49 GMT'],
      ['/v3.21/main.json', 304, 'W/"secdb-main"', undefined],
      ['/v3.21/community.json', 304, 'W/"secdb-community"', undefined],
    ]);
    const after = await status(db());
    expect(after.advisories).toBe(before.advisories);
    expect(after.sources).toEqual(before.sources);
  });

  it('downloads again when the ETag changed, and replaces exactly that feed`s records', async () => {
    const before = await status(db());
    // Records 0-4 were withdrawn from the export, 20-24 added.
    server.files.set('/npm/all.zip', { body: npmExport('b', npmRecords.slice(5, 25)), etag: '"npm-b"' });
    const r = await update(db(), ...FEEDS);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/1 of 4 feeds changed, 3 not modified/);
    expect(server.requests.filter((q) => q.path === '/npm/all.zip')).toEqual([
      { path: '/npm/all.zip', ifNoneMatch: '"npm-a"', ifModifiedSince: undefined, status: 200 },
    ]);
    const gone = npmRecords[0]!;
    const added = npmRecords[24]!;
    expect(holds(db(), gone.pkg)).not.toContain(gone.id);
    expect(holds(db(), added.pkg)).toContain(added.id);
    const after = await status(db());
    expect(after.advisories).toBe(before.advisories); // 5 out, 5 in; the tracker and secdb untouched
    const src = Object.fromEntries(after.sources.map((x) => [x.name, x]));
    expect(src['osv:npm']).toMatchObject({ records: 20, etag: '"npm-b"' });
    expect(src['debian-tracker']?.records).toBe(30918);
  });

  it('renews the data age only when no feed of the database is left out of the update', async () => {
    const updatedAt = async () => (await runCli(['db', 'status', '--db', db(), '-f', 'json'])).stdout;
    const before = JSON.parse(await updatedAt()).updated as string;
    // Only npm, and it changed: its records are replaced, but the tracker and secdb data are as old as they were.
    server.files.set('/npm/all.zip', { body: npmExport('b2', npmRecords.slice(6, 26)), etag: '"npm-b2"' });
    // -q as in CI: the line is a warning, which quiet does not silence.
    const partial = await update(db(), '--source', 'osv:npm', '-q');
    expect(partial.code, partial.stderr).toBe(0);
    expect(partial.stderr).toContain(
      'portcullis: warning: the data age that scan --max-db-age checks is not renewed: 3 feeds of the database not in this update (alpine-secdb/v3.21/community, alpine-secdb/v3.21/main, debian-tracker); update them too, or --rebuild without them',
    );
    expect(holds(db(), npmRecords[25]!.pkg)).toContain(npmRecords[25]!.id);
    expect(JSON.parse(await updatedAt()).updated).toBe(before);
    // Every feed it holds, even all answering 304 but npm: renewed.
    const full = await update(db(), ...FEEDS);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stderr).not.toContain('not renewed');
    const after = JSON.parse(await updatedAt()).updated as string;
    expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
    // Back to the export the next tests start from.
    server.files.set('/npm/all.zip', { body: npmExport('b', npmRecords.slice(5, 25)), etag: '"npm-b"' });
    expect((await update(db(), ...FEEDS)).code).toBe(0);
  });

  it('leaves the previous database untouched and exits non-zero when a feed answers 500', async () => {
    const before = sha256(db());
    server.files.set('/npm/all.zip', { body: npmExport('c', npmRecords.slice(10, 30)), etag: '"npm-c"' });
    server.fault = (path) => (path === '/v3.21/main.json' ? { kind: 'status', status: 500 } : undefined);
    const r = await update(db(), ...FEEDS);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /^portcullis: FEED_ERROR: alpine-secdb\/v3\.21\/main: https:\/\/127\.0\.0\.1:\d+\/v3\.21\/main\.json: HTTP 500 \(after 2 attempts\)$/m,
    );
    // The npm export had changed and was downloaded, but nothing was built from it.
    expect(server.requests.filter((q) => q.path === '/v3.21/main.json').map((q) => q.status)).toEqual([500, 500]);
    expect(sha256(db())).toBe(before);
    expect(leftovers(db())).toEqual([]);
    expect(holds(db(), npmRecords[5]!.pkg)).toContain(npmRecords[5]!.id);
  });

  it('refuses a truncated body, even after retrying', async () => {
    const before = sha256(db());
    server.fault = (path) => (path === '/npm/all.zip' ? { kind: 'truncate', bytes: 1000 } : undefined);
    const r = await update(db(), '--source', 'osv:npm');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /^portcullis: FEED_ERROR: osv:npm: .*\/npm\/all\.zip: .*truncated.* \(after 2 attempts\)$/m,
    );
    expect(sha256(db())).toBe(before);
    expect(leftovers(db())).toEqual([]);
  });

  it('refuses a zip export that is itself truncated (complete download, cut archive)', async () => {
    const before = sha256(db());
    const whole = npmExport('d', npmRecords.slice(0, 30));
    server.files.set('/npm/all.zip', { body: whole.subarray(0, whole.length - 100), etag: '"npm-d"' });
    const r = await update(db(), '--source', 'osv:npm');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^portcullis: ZIP_INVALID: osv:npm: no end of central directory record/m);
    expect(sha256(db())).toBe(before);
  });

  it('refuses a zip bomb served as an export, naming the feed and the entry', async () => {
    const before = sha256(db());
    server.files.set('/npm/all.zip', { body: readFileSync(zipBomb()), etag: '"bomb"' });
    const r = await update(db(), '--source', 'osv:npm');
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-2)).toMatch(
      /^portcullis: DECOMPRESSION_BOMB: osv:npm!GHSA-zzzz-zzzz-zzzz\.json: declares 104857600 bytes from \d+, more than 100:1; refusing the archive \(zip bomb\?\)$/,
    );
    expect(sha256(db())).toBe(before);
  });

  it('bounds downloads: the size limit, and gzip bodies that inflate past 100:1', async () => {
    const before = sha256(db());
    const small = await update(db(), '--source', 'osv:npm', '--max-download-size', '1KiB');
    expect(small.code).toBe(3);
    expect(small.stderr).toMatch(
      /^portcullis: FEED_ERROR: osv:npm: .*: \d+ bytes, over the 1024-byte download limit$/m,
    );
    server.files.set('/tracker/data/json', { body: Buffer.alloc(50 * 1024 * 1024), gzip: true, etag: '"zeros"' });
    const gz = await update(db(), '--source', 'debian-tracker');
    expect(gz.code).toBe(2);
    expect(gz.stderr).toMatch(
      /^portcullis: DECOMPRESSION_BOMB: debian-tracker: .*\/tracker\/data\/json: gzip body inflates to more than 100 times its size/m,
    );
    expect(sha256(db())).toBe(before);
    expect(leftovers(db())).toEqual([]);
  });

  it('refuses an export that is not the feed it claims to be (another ecosystem at the npm URL)', async () => {
    const before = sha256(db());
    const pypa = join(data(), 'pypa');
    const some = readdirSync(pypa)
      .sort()
      .slice(0, 5)
      .map((f) => ({ file: join(pypa, f) }));
    server.files.set('/npm/all.zip', { body: npmExport('pypi', some), etag: '"pypi"' });
    const r = await update(db(), '--source', 'osv:npm');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /^portcullis: FEED_ERROR: osv:npm: .*\/npm\/all\.zip holds no advisories for ecosystem npm$/m,
    );
    expect(sha256(db())).toBe(before);
  });

  it('verifies TLS: without the mirror CA the update fails, says how to trust it, and creates no database', async () => {
    const fresh = join(tmp, 'tls', 'a.db');
    const r = await runCli(
      ['db', 'update', '--db', fresh, '--mirror', server.url, '--source', 'osv:npm', '--retries', '1'],
      { NODE_EXTRA_CA_CERTS: '' },
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /^portcullis: TLS_FAILED: osv:npm: https:\/\/127\.0\.0\.1:\d+\/npm\/all\.zip: .*--ca-cert/m,
    );
    expect(existsSync(fresh)).toBe(false);
    expect(leftovers(fresh)).toEqual([]);
  });

  it('refuses to update a damaged database, and --rebuild builds a new one from the selected feeds alone', async () => {
    writeFileSync(db(), 'SQLite format 3\0 but not really a database');
    const damaged = await update(db(), '--source', 'osv:npm');
    expect(damaged.code).toBe(2);
    expect(damaged.stderr).toMatch(
      /^portcullis: CONFIG_INVALID: .*advisories\.db: .*'portcullis db update --rebuild' builds a new one$/m,
    );
    expect(server.requests).toEqual([]);
    server.files.set('/npm/all.zip', { body: npmExport('e', npmRecords.slice(0, 10)), etag: '"npm-e"' });
    const r = await update(db(), '--source', 'osv:npm', '--rebuild');
    expect(r.code).toBe(0);
    expect(server.requests.map((q) => q.ifNoneMatch)).toEqual([undefined]);
    const s = await status(db());
    expect(s.sources.map((x) => x.name)).toEqual(['osv:npm']);
    expect(s.advisories).toBe(10);
    expect(leftovers(db())).toEqual([]);
  });
});

describe('plain HTTP, mirrors from the environment and the config file', () => {
  let plain: FeedServer;
  beforeAll(async () => {
    plain = await startFeedServer();
    plain.files.set('/mirror/npm/all.zip', { body: npmExport('plain', npmRecords.slice(0, 3)), etag: '"p"' });
  });
  afterAll(async () => {
    await plain?.stop();
  });

  it('refuses a plain-HTTP mirror unless --allow-http, before sending anything', async () => {
    const db = join(tmp, 'plain', 'a.db');
    const r = await runCli(['db', 'update', '--db', db, '--mirror', `${plain.url}/mirror`, '--source', 'osv:npm']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^portcullis: USAGE: osv:npm http:\/\/127\.0\.0\.1:\d+\/mirror\/npm\/all\.zip: plain HTTP is refused/,
    );
    expect(plain.requests).toEqual([]);
    const ok = await runCli(['db', 'update', '--db', db, '--source', 'osv:npm', '--allow-http'], {
      PORTCULLIS_DB_MIRROR: `osv=${plain.url}/mirror`,
    });
    expect(ok.code).toBe(0);
    expect((await status(db)).advisories).toBe(3);
  });

  it("refuses to update a database damaged where only the feed's drop reads, in one line, leaving it as it was", async () => {
    const dir = join(tmp, 'damaged-update');
    const data = join(dir, 'data');
    mkdirSync(data, { recursive: true });
    // Enough rows for affected to span many pages: the update's writer opens it reading only the last one.
    for (let i = 0; i < 2000; i++) {
      const doc = {
        id: `GHSA-many-${i}`,
        modified: '2024-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'npm', name: `pkg-${i}-${'x'.repeat(200)}` }, versions: ['1.0.0'] }],
      };
      writeFileSync(join(data, `${i}.json`), JSON.stringify(doc));
    }
    const db = join(dir, 'a.db');
    expect((await runCli(['db', 'import', data, '--db', db, '-q'])).code).toBe(0);
    const meta = new Database(db, { readonly: true });
    const pageSize = meta.pragma('page_size', { simple: true }) as number;
    const leaf = meta
      .prepare("SELECT min(pageno) AS n FROM dbstat WHERE name = 'affected' AND pagetype = 'leaf'")
      .get() as { n: number };
    meta.close();
    const bytes = readFileSync(db);
    bytes.fill(0x5a, (leaf.n - 1) * pageSize, leaf.n * pageSize);
    writeFileSync(db, bytes);
    const r = await runCli(['db', 'update', '--db', db, '--source', 'osv:npm', '--allow-http', '-q'], {
      PORTCULLIS_DB_MIRROR: `osv=${plain.url}/mirror`,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^portcullis: CONFIG_INVALID: ${db}: the advisory database is damaged`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(db).equals(bytes)).toBe(true);
    expect(leftovers(db)).toEqual([]);
  });

  it('prints refused entries one line each, whatever control characters their names hold', async () => {
    const zip = join(tmp, 'forged.zip');
    const forged = 'updated elsewhere.db: 9 of 9 feeds changed';
    execFileSync('python3', [
      '-c',
      `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[2], 'good.json')
    z.writestr('bad\\n' + sys.argv[3] + '\\x1b[2K.json', '{')`,
      zip,
      npmRecords[0]!.file,
      forged,
    ]);
    plain.files.set('/forged/npm/all.zip', { body: readFileSync(zip), etag: '"f"' });
    const db = join(tmp, 'forged', 'a.db');
    const r = await runCli(['db', 'update', '--db', db, '--source', 'osv:npm', '--allow-http', '-q'], {
      PORTCULLIS_DB_MIRROR: `osv=${plain.url}/forged`,
    });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith(forged))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('portcullis: warning: refused osv:npm!bad'))).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\u001b/);
  });

  it('follows redirects, but never from HTTPS down to plain HTTP', async () => {
    const db = join(tmp, 'redirect', 'a.db');
    server.requests.length = 0;
    plain.requests.length = 0;
    server.files.set('/moved/npm/all.zip', { body: npmExport('moved', npmRecords.slice(0, 4)), etag: '"m"' });
    server.fault = (path) =>
      path === '/npm/all.zip'
        ? { kind: 'status', status: 301, headers: { location: '/moved/npm/all.zip' } }
        : undefined;
    const ok = await update(db, '--source', 'osv:npm');
    expect(ok.code).toBe(0);
    expect(server.requests.map((q) => [q.path, q.status])).toEqual([
      ['/npm/all.zip', 301],
      ['/moved/npm/all.zip', 200],
    ]);
    expect((await status(db)).advisories).toBe(4);
    server.fault = (path) =>
      path === '/npm/all.zip'
        ? { kind: 'status', status: 302, headers: { location: `${plain.url}/mirror/npm/all.zip` } }
        : undefined;
    const down = await update(db, '--source', 'osv:npm', '--rebuild');
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(
      /^portcullis: USAGE: osv:npm: redirect from https:\/\/.* to http:\/\/.*: plain HTTP is refused/m,
    );
    // --allow-http is for mirrors given as http: it does not let an https feed be redirected down.
    const allowed = await update(db, '--source', 'osv:npm', '--rebuild', '--allow-http');
    expect(allowed.code).toBe(2);
    expect(allowed.stderr).toMatch(/redirect from https:\/\/.* to http:\/\/.*: plain HTTP is refused/);
    expect(plain.requests).toEqual([]);
    server.fault = () => undefined;
  });

  it('reads mirrors, sources and releases from a config file; flags and the environment come after it', async () => {
    const config = join(tmp, 'update.json');
    writeFileSync(
      config,
      JSON.stringify({
        $schema: '../schemas/db-update-config.schema.json',
        mirror: 'https://mirror.example/all',
        mirrors: { 'alpine-secdb': 'https://alpine.example' },
        sources: ['debian-tracker', 'alpine-secdb'],
        alpineReleases: ['3.20'],
      }),
    );
    const r = await runCli(['db', 'update', '--config', config, '--list'], { PORTCULLIS_DB_MIRROR: '' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'debian-tracker\thttps://mirror.example/all/tracker/data/json',
        'alpine-secdb/v3.20/main\thttps://alpine.example/v3.20/main.json',
        'alpine-secdb/v3.20/community\thttps://alpine.example/v3.20/community.json',
        '',
      ].join('\n'),
    );
    const env = await runCli(['db', 'update', '--config', config, '--list', '--source', 'debian-tracker'], {
      PORTCULLIS_DB_MIRROR: 'https://env.example',
    });
    expect(env.stdout).toBe('debian-tracker\thttps://env.example/tracker/data/json\n');
    writeFileSync(config, JSON.stringify({ mirrors: { osv: 'https://u:p@m.example' } }));
    const bad = await runCli(['db', 'update', '--config', config, '--list']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /^portcullis: CONFIG_INVALID: .*update\.json: mirrors\.osv: credentials in a mirror URL are not supported/,
    );
  });
});

describe('portcullis db import of zip exports', () => {
  it('imports an all.zip, and refuses a bomb with one line, leaving the database as it was', async () => {
    const db = join(tmp, 'import', 'a.db');
    const zip = join(tmp, 'import-all.zip');
    writeFileSync(zip, npmExport('import', npmRecords.slice(0, 12)));
    const r = await runCli(['db', 'import', zip, '--db', db]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/import-all\.zip: 12 records from 12 files/);
    const before = sha256(db);
    const b = await runCli(['db', 'import', zipBomb(), '--db', db]);
    expect(b.code).toBe(2);
    expect(b.stdout).toBe('');
    expect(b.stderr.trim().split('\n')[0]).toMatch(
      /^portcullis: DECOMPRESSION_BOMB: .*bomb\.zip!GHSA-zzzz-zzzz-zzzz\.json: /,
    );
    expect(b.stderr.trim().split('\n')).toHaveLength(2);
    expect(sha256(db)).toBe(before);
  });
});

describe('an update killed mid-way', () => {
  it('leaves its downloads to be removed by the next update once its process is gone and they are old', async () => {
    const dir = join(tmp, 'killed');
    const db = join(dir, 'advisories.db');
    const good = npmExport('killed', npmRecords.slice(0, 3));
    // The first request sends half of a large body and stalls; later ones are served whole.
    let first = true;
    const stalled = http.createServer((_req, res) => {
      if (first) {
        first = false;
        res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) });
        res.write(Buffer.alloc(1024 * 1024));
        return;
      }
      res.writeHead(200, { 'content-length': String(good.length), etag: '"k"' });
      res.end(good);
    });
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`;
    const args = ['db', 'update', '--db', db, '--mirror', url, '--allow-http', '--source', 'osv:npm', '-q'];
    try {
      const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
      const downloads = () =>
        existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('.portcullis-update-')) : [];
      for (let i = 0; i < 200 && !downloads().some((d) => readdirSync(join(dir, d)).length > 0); i++) await sleep(50);
      expect(downloads()).toHaveLength(1);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      // Eleven minutes later: the killed update's download is still there, its process gone.
      const old = (Date.now() - 11 * 60 * 1000) / 1000;
      for (const d of downloads()) {
        for (const f of readdirSync(join(dir, d))) utimesSync(join(dir, d, f), old, old);
        utimesSync(join(dir, d), old, old);
      }
      const r = await runCli(args);
      expect(r.code, r.stderr).toBe(0);
      expect(downloads()).toEqual([]);
    } finally {
      await new Promise((resolve) => stalled.close(resolve));
    }
  });
});
