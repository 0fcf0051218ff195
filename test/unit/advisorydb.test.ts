import { existsSync, mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Advisory, Affected } from '../../src/advisories/model.js';
import { updateDb } from '../../src/advisories/update.js';
import { PortcullisError } from '../../src/errors.js';
import { AdvisoryDb, AdvisoryDbWriter, dataAgeMs, lastUpdated } from '../../src/store/advisorydb.js';
import { runCli } from '../helpers/cli.js';

const adv = (id: string, source = 'osv/GHSA'): Advisory => ({
  id,
  source,
  modified: '2025-01-01T00:00:00Z',
  aliases: [],
  severity: [],
});
const aff = (id: string, pkg: string, fixed: string): Affected => ({
  ecosystem: 'npm',
  package: pkg,
  advisoryId: id,
  ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed }] }],
  versions: [],
});

function build(path: string, fill: (w: AdvisoryDbWriter) => void): void {
  const w = new AdvisoryDbWriter(path);
  fill(w);
  w.commit();
}

/** A file left in `dir`, eleven minutes old when `aged` (leftovers must be ten minutes untouched). */
function leaveIn(dir: string, name: string, aged: boolean): void {
  writeFileSync(join(dir, name), 'x');
  const old = (Date.now() - 11 * 60 * 1000) / 1000;
  if (aged) utimesSync(join(dir, name), old, old);
}

describe('advisory store', () => {
  it('replaces a re-imported advisory with its new affected packages only', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'advdb-')), 'a.db');
    build(path, (w) => {
      w.put(adv('GHSA-1'), [aff('GHSA-1', 'lodash', '4.17.21'), aff('GHSA-1', 'lodash-es', '4.17.21')]);
      w.put(adv('GHSA-2'), [aff('GHSA-2', 'lodash', '4.17.19')]);
    });
    build(path, (w) => {
      w.put(adv('GHSA-1'), [aff('GHSA-1', 'lodash', '4.17.22')]);
    });
    const db = AdvisoryDb.open(path);
    const lodash = db.affected('npm', 'lodash').map((r) => `${r.advisoryId}:${JSON.stringify(r.ranges[0]?.events[1])}`);
    expect(lodash.sort()).toEqual(['GHSA-1:{"fixed":"4.17.22"}', 'GHSA-2:{"fixed":"4.17.19"}']);
    expect(db.affected('npm', 'lodash-es')).toEqual([]);
    db.close();
  });

  it('keeps the newest put of an advisory put again within one batch of rows, across batches, and with no rows', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'advdb-')), 'a.db');
    const fixed = (n: number) => `1.0.${n}`;
    build(path, (w) => {
      // Rows go to the store 32 at a time: GHSA-A repeats inside one batch, GHSA-B across batches, and GHSA-C
      // is put again with no affected packages while its first rows may still be waiting to be inserted.
      w.put(adv('GHSA-A'), [aff('GHSA-A', 'a', fixed(1))]);
      w.put(adv('GHSA-C'), [aff('GHSA-C', 'c', fixed(1))]);
      w.put({ ...adv('GHSA-A'), modified: '2025-02-02T00:00:00Z' }, [aff('GHSA-A', 'a', fixed(2))]);
      w.put(adv('GHSA-C'), []);
      w.put(adv('GHSA-B'), [aff('GHSA-B', 'b', fixed(1))]);
      for (let i = 0; i < 100; i++) w.put(adv(`GHSA-F${i}`), [aff(`GHSA-F${i}`, 'filler', fixed(i))]);
      w.put({ ...adv('GHSA-B'), modified: '2025-03-03T00:00:00Z' }, [aff('GHSA-B', 'b', fixed(3))]);
    });
    const db = AdvisoryDb.open(path);
    const rows = (pkg: string) =>
      db
        .affected('npm', pkg)
        .map((r) => `${r.advisoryId} ${r.advisory.modified} ${JSON.stringify(r.ranges[0]?.events[1])}`);
    expect(rows('a')).toEqual(['GHSA-A 2025-02-02T00:00:00Z {"fixed":"1.0.2"}']);
    expect(rows('b')).toEqual(['GHSA-B 2025-03-03T00:00:00Z {"fixed":"1.0.3"}']);
    expect(rows('c')).toEqual([]);
    expect(rows('filler')).toHaveLength(100);
    expect(db.counts()).toMatchObject({ advisories: 103, affected: 102 });
    db.close();
  });

  it('keeps the previous database when an import is abandoned', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'advdb-')), 'a.db');
    build(path, (w) => w.put(adv('GHSA-1'), [aff('GHSA-1', 'lodash', '4.17.21')]));
    const w = new AdvisoryDbWriter(path);
    w.put(adv('GHSA-9'), [aff('GHSA-9', 'lodash', '1.0.0')]);
    w.abort();
    const db = AdvisoryDb.open(path);
    expect(db.affected('npm', 'lodash').map((r) => r.advisoryId)).toEqual(['GHSA-1']);
    db.close();
    expect(existsSync(`${path}.${process.pid}.tmp`)).toBe(false);
    expect(readdirSync(join(path, '..')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('removes what killed imports left beside the store (process gone, untouched for ten minutes), and only that', () => {
    const dir = mkdtempSync(join(tmpdir(), 'advdb-'));
    const path = join(dir, 'a.db');
    build(path, (w) => w.put(adv('GHSA-1'), [aff('GHSA-1', 'lodash', '4.17.21')]));
    const leave = (name: string, aged: boolean) => leaveIn(dir, name, aged);
    // A killed import (pid gone): its temporary store and shards, all old.
    for (const f of ['a.db.999999999.tmp', 'a.db.999999999.tmp.shard0', 'a.db.999999999.tmp.shard1']) leave(f, true);
    // Pid gone but a shard still changing (an import in another PID namespace): kept.
    leave('a.db.999999998.tmp', true);
    leave('a.db.999999998.tmp.shard0', false);
    // A live process's files, another store's, and a file that is no temporary: kept.
    leave(`a.db.${process.ppid}.tmp`, true);
    leave('b.db.999999999.tmp', true);
    leave('a.db.999999999.tmp.bak', true);
    const w = new AdvisoryDbWriter(path);
    w.abort();
    expect(readdirSync(dir).sort()).toEqual(
      [
        'a.db',
        'a.db.999999998.tmp',
        'a.db.999999998.tmp.shard0',
        `a.db.${process.ppid}.tmp`,
        'a.db.999999999.tmp.bak',
        'b.db.999999999.tmp',
      ].sort(),
    );
  });

  it('keeps the same id from two sources apart', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'advdb-')), 'a.db');
    build(path, (w) => {
      w.put(adv('CVE-1', 'debian-tracker'), [{ ...aff('CVE-1', 'openssl', '3.0.11-1'), ecosystem: 'Debian:12' }]);
      w.put(adv('CVE-1', 'osv/CVE'), [{ ...aff('CVE-1', 'openssl', '3.0.11-1'), ecosystem: 'Debian:12' }]);
    });
    const db = AdvisoryDb.open(path);
    expect(
      db
        .affected('Debian:12', 'openssl')
        .map((r) => r.advisory.source)
        .sort(),
    ).toEqual(['debian-tracker', 'osv/CVE']);
    db.close();
  });
});

describe('two imports of one store at once', () => {
  it('never lets the later commit silently drop what the earlier one committed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'advdb-'));
    const path = join(dir, 'a.db');
    build(path, (w) => w.put(adv('GHSA-0'), [aff('GHSA-0', 'base', '1.0.0')]));
    // Two imports of one store overlap (two CI jobs, a cron `db update` beside a manual `db import`): this one copies
    // the store, then another process imports and commits before this one commits.
    const a = new AdvisoryDbWriter(path);
    a.put(adv('GHSA-A'), [aff('GHSA-A', 'a', '1.0.0')]);
    const record = join(dir, 'GHSA-b.json');
    writeFileSync(
      record,
      JSON.stringify({
        id: 'GHSA-B',
        modified: '2025-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'npm', name: 'b' }, versions: ['1.0.0'] }],
      }),
    );
    const other = await runCli(['db', 'import', record, '--db', path, '-q']);
    expect(other.code, other.stderr).toBe(0);
    // This copy predates the other import's records: renaming it over the store would lose them. It must fail.
    let refused: unknown;
    try {
      a.commit();
    } catch (err) {
      refused = err;
      a.abort();
    }
    expect(refused).toBeInstanceOf(PortcullisError);
    expect(refused).toMatchObject({ code: 'STATE_IN_USE' });
    expect((refused as Error).message).toContain(path);
    const db = AdvisoryDb.open(path);
    expect(['base', 'a', 'b'].filter((p) => db.affected('npm', p).length > 0)).toEqual(['base', 'b']);
    db.close();
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

describe('a database path that cannot be one', () => {
  it('refuses a directory, or a path under a file, in one typed line naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'advdb-'));
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    for (const path of [dir, join(file, 'a.db')]) {
      let err: unknown;
      try {
        new AdvisoryDbWriter(path).abort();
      } catch (e) {
        err = e;
      }
      expect(err, path).toBeInstanceOf(PortcullisError);
      expect(err).toMatchObject({ code: 'CONFIG_INVALID' });
      expect((err as Error).message).toContain(path);
    }
    // db update creates the directory itself, before it downloads anything.
    const update = updateDb({
      dbPath: join(file, 'a.db'),
      feeds: [],
      rebuild: false,
      download: { allowHttp: false, retries: 1, maxBytes: 1 },
      log: () => {},
    });
    await expect(update).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining(file) });
    expect(readdirSync(dir)).toEqual(['file']);
  });
});

describe('a store whose rows are damaged (the file still reads as SQLite)', () => {
  it('refuses a damaged row in one typed line naming the file, never a bare JSON error', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'advdb-')), 'a.db');
    build(path, (w) => {
      w.put(adv('GHSA-1'), [aff('GHSA-1', 'ranges', '1.0.0')]);
      w.put(adv('GHSA-2'), [{ ...aff('GHSA-2', 'versions', '1.0.0'), versions: ['0.9.0'] }]);
      w.put(adv('GHSA-3'), [aff('GHSA-3', 'advisory', '1.0.0')]);
    });
    // Bytes changed inside the text of a row, as a flipped bit or a bad sector leaves them.
    const raw = new Database(path);
    raw.prepare('UPDATE affected SET ranges = \'[{"type":"SEMVER","events":{\' WHERE package = \'ranges\'').run();
    raw.prepare("UPDATE affected SET versions = '[\"0.9.0\"' WHERE package = 'versions'").run();
    raw.prepare("UPDATE affected SET advisory = '{\"id\":' WHERE package = 'advisory'").run();
    raw.close();
    const db = AdvisoryDb.open(path);
    const typed = (read: () => unknown) => {
      let err: unknown;
      try {
        read();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PortcullisError);
      expect(err).toMatchObject({ code: 'CONFIG_INVALID' });
      expect((err as Error).message).toContain(`${path}: the advisory database is damaged`);
    };
    typed(() => db.affected('npm', 'ranges'));
    typed(() => db.affected('npm', 'versions'));
    typed(() => db.affected('npm', 'advisory')[0]?.advisory);
    db.close();
  });
});

describe('two imports with the same pid (containers that each run Portcullis as pid 1, one shared cache)', () => {
  it('keep their temporary copies apart: neither commits the other one`s half-built file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'advdb-'));
    const path = join(dir, 'a.db');
    build(path, (w) => w.put(adv('GHSA-0'), [aff('GHSA-0', 'base', '1.0.0')]));
    // In one process both writers have the same pid, as two imports in two PID namespaces can.
    const a = new AdvisoryDbWriter(path);
    const b = new AdvisoryDbWriter(path);
    a.put(adv('GHSA-A'), [aff('GHSA-A', 'a', '1.0.0')]);
    b.put(adv('GHSA-B'), [aff('GHSA-B', 'b', '1.0.0')]);
    a.commit();
    let err: unknown;
    try {
      b.commit();
    } catch (e) {
      err = e;
      b.abort();
    }
    // b started from the store a replaced: refused as any overlapping import is.
    expect(err).toMatchObject({ code: 'STATE_IN_USE' });
    const db = AdvisoryDb.open(path);
    expect(['base', 'a', 'b'].filter((p) => db.affected('npm', p).length > 0)).toEqual(['base', 'a']);
    db.close();
    expect(readdirSync(dir)).toEqual(['a.db']);
  });

  it('removes what a killed import with this pid left once it is old, and only then', () => {
    const dir = mkdtempSync(join(tmpdir(), 'advdb-'));
    const path = join(dir, 'a.db');
    build(path, (w) => w.put(adv('GHSA-1'), [aff('GHSA-1', 'lodash', '4.17.21')]));
    const leave = (name: string, aged: boolean) => leaveIn(dir, name, aged);
    // An earlier process with this pid (a killed import in the same container), and one of a pid now gone.
    leave(`a.db.${process.pid}-0badf00d.tmp`, true);
    leave(`a.db.${process.pid}-0badf00d.tmp.shard0`, true);
    leave('a.db.999999999-12345678.tmp', true);
    // Same pid, still changing: an import in another PID namespace, kept.
    leave(`a.db.${process.pid}-cafe0001.tmp`, false);
    new AdvisoryDbWriter(path).abort();
    expect(readdirSync(dir).sort()).toEqual(['a.db', `a.db.${process.pid}-cafe0001.tmp`].sort());
  });
});

describe('downloads a killed db update left', () => {
  it('are removed once old, also when their pid is this process`s (pid 1 in each container)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'advdb-'));
    const old = (Date.now() - 11 * 60 * 1000) / 1000;
    const leave = (name: string, aged: boolean) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, '0.zip'), 'x');
      if (aged) {
        utimesSync(join(dir, name, '0.zip'), old, old);
        utimesSync(join(dir, name), old, old);
      }
    };
    leave(`.portcullis-update-${process.pid}-AbC123`, true);
    leave('.portcullis-update-999999999-XyZ789', true);
    // Still being written: an update in another PID namespace.
    leave(`.portcullis-update-${process.pid}-fresh1`, false);
    await updateDb({
      dbPath: join(dir, 'a.db'),
      feeds: [],
      rebuild: false,
      download: { allowHttp: false, retries: 1, maxBytes: 1 },
      log: () => {},
    });
    expect(readdirSync(dir).sort()).toEqual(['a.db', `.portcullis-update-${process.pid}-fresh1`].sort());
  });
});

describe('the age of the data (scan --max-db-age, the gate warning)', () => {
  it('is infinite when the store has no date or one that does not parse, else the time since it', () => {
    const now = Date.parse('2026-11-30T12:00:00Z');
    expect(dataAgeMs(undefined, now)).toBe(Number.POSITIVE_INFINITY);
    expect(dataAgeMs(null, now)).toBe(Number.POSITIVE_INFINITY);
    expect(dataAgeMs('', now)).toBe(Number.POSITIVE_INFINITY);
    // NaN passed every comparison: an unreadable date was as good as fresh.
    expect(dataAgeMs('yesterday, more or less', now)).toBe(Number.POSITIVE_INFINITY);
    expect(dataAgeMs('2026-11-29T12:00:00Z', now)).toBe(24 * 3600 * 1000);
  });

  it('is infinite for a date more than a day ahead (a wrong clock), which messages name as such', () => {
    const now = Date.parse('2026-11-30T12:00:00Z');
    // A negative age passed every limit, for as long as the clock that dated the store was wrong.
    expect(dataAgeMs('2027-11-30T12:00:00Z', now)).toBe(Number.POSITIVE_INFINITY);
    expect(dataAgeMs('2026-12-01T12:00:01Z', now)).toBe(Number.POSITIVE_INFINITY);
    // Another machine's clock a few hours ahead is no reason to refuse its store.
    expect(dataAgeMs('2026-11-30T18:00:00Z', now)).toBe(-6 * 3600 * 1000);
    expect(lastUpdated('2027-11-30T12:00:00Z', now)).toBe(
      'dated 2027-11-30T12:00:00Z, in the future (a wrong clock here or where it was built), so of unknown age',
    );
    expect(lastUpdated('2026-11-30T18:00:00Z', now)).toBe('last updated 2026-11-30T18:00:00Z');
    expect(lastUpdated(null, now)).toBe('last updated never');
  });
});

describe('a disk that fills up while the store is committed', () => {
  it('is not called a damaged database (rebuilding would fail the same way), and leaves the store as it was', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'advdb-full-')), 'a.db');
    build(path, (w) => w.put(adv('GHSA-1'), [aff('GHSA-1', 'lodash', '4.17.21')]));
    const w = new AdvisoryDbWriter(path);
    for (let i = 0; i < 2000; i++)
      w.put(adv(`GHSA-f${i}`), [aff(`GHSA-f${i}`, `pkg-${i}-${'x'.repeat(100)}`, '1.0.0')]);
    // The writer keeps the whole store in its page cache: the index is written at commit. A file that cannot grow
    // (SQLite's max_page_count) fails as a full disk does, with SQLITE_FULL.
    const db = (w as unknown as { db: Database.Database }).db;
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    let thrown: unknown;
    try {
      w.commit();
    } catch (err) {
      thrown = err;
    } finally {
      w.abort();
    }
    expect((thrown as { code?: string }).code).toBe('SQLITE_FULL');
    expect(String((thrown as Error).message)).not.toMatch(/damaged|rebuild/);
    const store = AdvisoryDb.open(path);
    expect(store.counts().advisories).toBe(1);
    store.close();
    expect(readdirSync(join(path, '..')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
