import { existsSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Advisory, Affected } from '../../src/advisories/model.js';
import { AdvisoryDb, AdvisoryDbWriter } from '../../src/store/advisorydb.js';

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
  });

  it('removes what killed imports left beside the store (process gone, untouched for ten minutes), and only that', () => {
    const dir = mkdtempSync(join(tmpdir(), 'advdb-'));
    const path = join(dir, 'a.db');
    build(path, (w) => w.put(adv('GHSA-1'), [aff('GHSA-1', 'lodash', '4.17.21')]));
    const old = (Date.now() - 11 * 60 * 1000) / 1000;
    const leave = (name: string, aged: boolean) => {
      writeFileSync(join(dir, name), 'x');
      if (aged) utimesSync(join(dir, name), old, old);
    };
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
