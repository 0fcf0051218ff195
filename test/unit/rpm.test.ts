import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { readBdbHash } from '../../src/inventory/catalogers/rpm/bdb.js';
import { type RpmdbFormat, readRpmdb, rpmdbFormatOf } from '../../src/inventory/catalogers/rpm/db.js';
import { parseRpmHeader, parseSourceRpm, type RpmHeader } from '../../src/inventory/catalogers/rpm/header.js';
import { adler32, readNdb } from '../../src/inventory/catalogers/rpm/ndb.js';
import { rpmEvr, rpmHeaders, rpmNamespace } from '../../src/inventory/catalogers/rpm.js';
import { catalogLayers, RHEL_OS_RELEASE, SMALL, small } from '../fixtures/rpm/image.js';

/** The line `rpm -qa --qf '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH} %{SOURCERPM} %{LICENSE} %{EVR}'` prints. */
function qaLine(h: RpmHeader): string {
  const none = (s: string | undefined) => s ?? '(none)';
  return `${h.name} ${h.epoch ?? 0}:${h.version}-${h.release} ${none(h.arch)} ${none(h.sourceRpm)} ${none(h.license)} ${rpmEvr(h)}`;
}

const lines = (file: string): string[] =>
  readFileSync(join(SMALL, file), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .sort();

const FIXTURES: [string, RpmdbFormat][] = [
  ['rpmdb.sqlite', 'sqlite'],
  ['Packages.db', 'ndb'],
  ['Packages.bdb-le', 'bdb'],
  ['Packages.bdb-be', 'bdb'],
];

/** The header blobs of `rpmdb --exportdb` output: 8 bytes of header magic before each blob. */
function exportedBlobs(): Buffer[] {
  const data = small('export.hdrs');
  const out: Buffer[] = [];
  for (let o = 0; o < data.length; ) {
    const len = 8 + 16 * data.readUInt32BE(o + 8) + data.readUInt32BE(o + 12);
    out.push(data.subarray(o + 8, o + 8 + len));
    o += 8 + len;
  }
  return out;
}

describe('rpm databases written by rpm 4.18 (committed fixtures, rpm -qa recorded beside them)', () => {
  for (const [file, format] of FIXTURES) {
    it(`${file} (${format}) holds exactly the headers rpm -qa lists`, () => {
      const read = readRpmdb(format, small(file));
      expect(read.problems).toEqual([]);
      const got = read.records.map((r) => qaLine(parseRpmHeader(r.blob))).sort();
      expect(got).toEqual(lines('rpm-qa.txt'));
    });
  }

  it('stores the same header bytes that rpmdb --exportdb writes', () => {
    const exported = exportedBlobs().map((b) => b.toString('hex'));
    for (const [file, format] of FIXTURES) {
      const stored = readRpmdb(format, small(file)).records.map((r) => Buffer.from(r.blob).toString('hex'));
      expect(stored.sort(), file).toEqual([...exported].sort());
    }
  });

  it('decodes the file lists rpm reports', () => {
    const got = readRpmdb('sqlite', small('rpmdb.sqlite'))
      .records.map((r) => parseRpmHeader(r.blob, { files: true }))
      .flatMap((h) => (h.files ?? []).map((f) => `${h.name}\t${f}`))
      .sort();
    expect(got).toEqual(lines('rpm-files.txt'));
  });

  it('leaves gpg-pubkey out of the packages', () => {
    const { headers, problems } = rpmHeaders('ndb', small('Packages.db'));
    expect(problems).toEqual([]);
    expect(headers.map((h) => h.name).sort()).toEqual(
      lines('rpm-qa.txt')
        .map((l) => l.split(' ')[0])
        .filter((n) => n !== 'gpg-pubkey'),
    );
  });
});

describe('rpm names and versions', () => {
  it.each([
    ['bash-5.1.8-6.el9.src.rpm', { name: 'bash', version: '5.1.8', release: '6.el9' }],
    ['python3.11-pip-22.3.1-4.el9_3.1.src.rpm', { name: 'python3.11-pip', version: '22.3.1', release: '4.el9_3.1' }],
    ['glibc-2.34-100.el9.nosrc.rpm', { name: 'glibc', version: '2.34', release: '100.el9' }],
    ['bash-5.1.8-6.el9.noarch.rpm', undefined],
    ['bash-5.1.8.src.rpm', undefined],
    ['-1-2.src.rpm', undefined],
    ['a--2.src.rpm', undefined],
    ['a-1-.src.rpm', undefined],
    ['(none)', undefined],
  ])('parseSourceRpm(%s)', (file, want) => {
    expect(parseSourceRpm(file)).toEqual(want);
  });

  it.each([
    ['rhel', 'redhat'],
    ['centos', 'centos'],
    ['fedora', 'fedora'],
    ['amzn', 'amzn'],
    ['rocky', 'rocky'],
    ['almalinux', 'almalinux'],
    ['ol', 'ol'],
    ['opensuse-leap', 'opensuse'],
    ['opensuse-tumbleweed', 'opensuse'],
    ['sles', 'sles'],
  ])('namespace of %s is %s', (id, ns) => {
    expect(rpmNamespace({ id })).toBe(ns);
  });

  it('writes [epoch:]version-release as rpm %{EVR} does, keeping an explicit 0', () => {
    expect(rpmEvr({ version: '1', release: '2' })).toBe('1-2');
    expect(rpmEvr({ epoch: 0, version: '1', release: '2' })).toBe('0:1-2');
    expect(rpmEvr({ epoch: 3, version: '1', release: '2' })).toBe('3:1-2');
  });

  it('knows the database files in both rpm directories', () => {
    expect(rpmdbFormatOf('var/lib/rpm/rpmdb.sqlite')).toBe('sqlite');
    expect(rpmdbFormatOf('usr/lib/sysimage/rpm/Packages.db')).toBe('ndb');
    expect(rpmdbFormatOf('var/lib/rpm/Packages')).toBe('bdb');
    expect(rpmdbFormatOf('var/lib/rpm/Name')).toBeUndefined();
    expect(rpmdbFormatOf('srv/var/lib/rpm/Packages')).toBeUndefined();
  });

  it('computes adler32 as zlib does (the trailer of a zlib stream)', () => {
    for (const data of [Buffer.alloc(0), Buffer.from('Wikipedia'), Buffer.alloc(100_000, 255), randomBytes(70_000)]) {
      const z = deflateSync(data);
      expect(adler32(data)).toBe(z.readUInt32BE(z.length - 4));
    }
  });
});

/** A copy of the fixture sqlite database with some headers deleted by SQLite itself. */
function sqliteWithout(names: string[]): Buffer {
  const copy = Buffer.from(small('rpmdb.sqlite'));
  copy[18] = 1;
  copy[19] = 1;
  const db = new Database(copy);
  db.pragma('foreign_keys = OFF'); // rpm's index tables reference Packages; the test only needs Packages
  for (const r of readRpmdb('sqlite', small('rpmdb.sqlite')).records) {
    if (names.includes(parseRpmHeader(r.blob).name)) db.prepare('DELETE FROM Packages WHERE hnum = ?').run(r.id);
  }
  const out = db.serialize();
  db.close();
  return out;
}

describe('rpm cataloger over a layered image', () => {
  it('reports the packages of rpmdb.sqlite with purl, source, licence and layer', async () => {
    const inv = await catalogLayers([
      [
        { path: 'etc/os-release', content: RHEL_OS_RELEASE },
        { path: 'usr/lib/sysimage/rpm/rpmdb.sqlite', content: small('rpmdb.sqlite') },
        { path: 'usr/lib/sysimage/rpm/rpmdb.sqlite-wal', content: '' },
        { path: 'var/lib/rpm', symlink: '../../usr/lib/sysimage/rpm' },
      ],
    ]);
    expect(inv.unknowns).toEqual([]);
    const byName = new Map(inv.packages.map((p) => [p.name, p]));
    expect([...byName.keys()].sort()).toEqual([
      'portcullis-demo',
      'portcullis-demo-libs',
      'portcullis-tool',
      'portcullis-zero',
    ]);
    const libs = byName.get('portcullis-demo-libs');
    expect(libs).toMatchObject({
      version: '3:1.2.3-4.fx1',
      type: 'rpm',
      arch: 'noarch',
      purl: 'pkg:rpm/redhat/portcullis-demo-libs@1.2.3-4.fx1?arch=noarch&distro=rhel-9.4&epoch=3',
      source: { name: 'portcullis-demo', version: '3:1.2.3-4.fx1' },
      licenses: ['LGPL-2.1-or-later'],
      locations: [{ path: 'usr/lib/sysimage/rpm/rpmdb.sqlite', layer: 0 }],
      layer: 0,
      foundBy: 'rpm',
    });
    expect(byName.get('portcullis-demo')?.metadata).toMatchObject({ vendor: 'Portcullis Test Vendor' });
    expect(byName.get('portcullis-zero')).toMatchObject({
      version: '0:2024.1-0.1.rc1',
      purl: 'pkg:rpm/redhat/portcullis-zero@2024.1-0.1.rc1?arch=noarch&distro=rhel-9.4',
      licenses: ['Public Domain'],
    });
    expect(byName.get('portcullis-tool')).toMatchObject({
      version: '0.9-1',
      arch: 'x86_64',
      purl: 'pkg:rpm/redhat/portcullis-tool@0.9-1?arch=x86_64&distro=rhel-9.4',
      source: { name: 'portcullis-tool', version: '0.9-1' },
    });
  });

  it('merges the packages of every database present, so a decoy cannot hide one', async () => {
    const inv = await catalogLayers([
      [{ path: 'var/lib/rpm/Packages', content: small('Packages.bdb-le') }],
      [{ path: 'usr/lib/sysimage/rpm/Packages.db', content: small('Packages.db') }],
    ]);
    expect(inv.unknowns).toEqual([]);
    expect(inv.packages).toHaveLength(4);
    for (const p of inv.packages) {
      expect(p.locations).toEqual([
        { path: 'var/lib/rpm/Packages', layer: 0 },
        { path: 'usr/lib/sysimage/rpm/Packages.db', layer: 1 },
      ]);
      expect(p.layer).toBe(0);
      expect(p.purl).toMatch(/^pkg:rpm\/portcullis-/); // no OS: no namespace, no distro
    }
  });

  it('records a database that cannot be read as a fatal unknown', async () => {
    const inv = await catalogLayers([[{ path: 'var/lib/rpm/rpmdb.sqlite', content: 'not a database at all' }]]);
    expect(inv.packages).toEqual([]);
    expect(inv.unknowns).toMatchObject([{ path: 'var/lib/rpm/rpmdb.sqlite', cataloger: 'rpm', fatal: true }]);
  });

  it('records a database over the content limit as a fatal unknown', async () => {
    const inv = await catalogLayers([[{ path: 'var/lib/rpm/rpmdb.sqlite', content: small('rpmdb.sqlite') }]], {
      maxFileBytes: 1000,
    });
    expect(inv.packages).toEqual([]);
    expect(inv.unknowns).toMatchObject([{ fatal: true, path: 'var/lib/rpm/rpmdb.sqlite' }]);
  });

  it('records one corrupt header as a non-fatal unknown and keeps the others', async () => {
    const db = Buffer.from(small('Packages.db'));
    const victim = readNdb(db).records[1];
    if (!victim) throw new Error('fixture has no second record');
    const at = victim.blob.byteOffset - db.byteOffset + 100;
    db.writeUInt8(db.readUInt8(at) ^ 0xff, at);
    const inv = await catalogLayers([[{ path: 'usr/lib/sysimage/rpm/Packages.db', content: db }]]);
    expect(inv.unknowns).toHaveLength(1);
    expect(inv.unknowns[0]).toMatchObject({ fatal: false, path: 'usr/lib/sysimage/rpm/Packages.db' });
    expect(inv.unknowns[0]?.message).toMatch(/adler32/);
    expect(inv.packages.length).toBeGreaterThanOrEqual(3);
  });

  it('records a malformed header in a Berkeley DB (which has no checksums) as a non-fatal unknown', async () => {
    const db = Buffer.from(small('Packages.bdb-le'));
    const victim = readBdbHash(db).records[0];
    if (!victim) throw new Error('fixture has no record');
    const at = db.indexOf(Buffer.from(victim.blob).subarray(0, 64));
    expect(at).toBeGreaterThan(0);
    db.writeUInt32BE(0x00ff0000, at); // il: far more index entries than the blob holds
    const inv = await catalogLayers([[{ path: 'var/lib/rpm/Packages', content: db }]]);
    expect(inv.unknowns).toHaveLength(1);
    expect(inv.unknowns[0]).toMatchObject({ fatal: false, path: 'var/lib/rpm/Packages', cataloger: 'rpm' });
    expect(inv.unknowns[0]?.message).toMatch(new RegExp(`^header #${victim.id}: .*index entries`));
    expect(inv.packages.length).toBeGreaterThanOrEqual(3);
  });

  it('notes a non-empty rpmdb.sqlite-wal, whose transactions are not read', async () => {
    const inv = await catalogLayers([
      [
        { path: 'var/lib/rpm/rpmdb.sqlite', content: small('rpmdb.sqlite') },
        { path: 'var/lib/rpm/rpmdb.sqlite-wal', content: Buffer.alloc(4096, 1) },
      ],
    ]);
    expect(inv.packages).toHaveLength(4);
    expect(inv.unknowns).toMatchObject([{ fatal: false, path: 'var/lib/rpm/rpmdb.sqlite-wal' }]);
  });

  it('attributes a package to the layer whose database version first listed it', async () => {
    const inv = await catalogLayers([
      [{ path: 'var/lib/rpm/rpmdb.sqlite', content: sqliteWithout(['portcullis-tool', 'portcullis-zero']) }],
      [{ path: 'var/lib/rpm/rpmdb.sqlite', content: small('rpmdb.sqlite') }],
      [{ path: 'etc/motd', content: 'unrelated layer' }],
      [{ path: 'var/lib/rpm/rpmdb.sqlite', content: sqliteWithout(['portcullis-demo']) }],
    ]);
    expect(inv.unknowns).toEqual([]);
    expect(Object.fromEntries(inv.packages.map((p) => [p.name, [p.layer, p.locations[0]?.layer]]))).toEqual({
      'portcullis-demo-libs': [0, 0],
      'portcullis-tool': [1, 1],
      'portcullis-zero': [1, 1],
    });
  });

  it('counts an unreadable older version of a database as listing nothing', async () => {
    const inv = await catalogLayers([
      [{ path: 'var/lib/rpm/Packages', content: Buffer.alloc(4096) }],
      [{ path: 'var/lib/rpm/Packages', content: small('Packages.bdb-be') }],
    ]);
    expect(inv.unknowns).toEqual([]);
    expect(inv.packages.map((p) => p.layer)).toEqual([1, 1, 1, 1]);
  });
});

describe('readBdbHash on hand-damaged copies of a real Packages file', () => {
  const pageSize = 4096;
  const pagesOfType = (db: Buffer, type: number) => {
    const out: number[] = [];
    for (let p = 1; p * pageSize < db.length; p++) if (db[p * pageSize + 25] === type) out.push(p);
    return out;
  };

  it('stops at an overflow chain that loops back on itself', () => {
    const db = Buffer.from(small('Packages.bdb-le'));
    const overflow = pagesOfType(db, 7);
    expect(overflow.length).toBeGreaterThan(0);
    const first = overflow[0] as number;
    db.writeUInt32LE(first, first * pageSize + 16); // next page = itself
    db.writeUInt16LE(1, first * pageSize + 22); // one byte per page, so the chain needs more pages
    const read = readBdbHash(db);
    expect(read.problems.join('\n')).toMatch(/reached twice|holds/);
    expect(read.records.length).toBeLessThan(5);
  });

  it('stops at a bucket chain that loops back on itself', () => {
    const db = Buffer.from(small('Packages.bdb-le'));
    const hash = pagesOfType(db, 13).concat(pagesOfType(db, 2));
    const page = hash[0] as number;
    db.writeUInt32LE(page, page * pageSize + 16);
    const read = readBdbHash(db);
    expect(read.problems.join('\n')).toMatch(/reached twice/);
  });

  it('refuses a meta page that claims more buckets than pages', () => {
    const db = Buffer.from(small('Packages.bdb-le'));
    db.writeUInt32LE(1_000_000, 72);
    expect(() => readBdbHash(db)).toThrow(/buckets/);
  });

  it('refuses a btree and other files', () => {
    const db = Buffer.from(small('Packages.bdb-le'));
    db.writeUInt32LE(0x00053162, 12);
    expect(() => readBdbHash(db)).toThrow(/btree/);
    expect(() => readBdbHash(Buffer.alloc(100))).toThrow(/too short/);
  });
});

describe('readNdb on hand-damaged copies of a real Packages.db', () => {
  it('skips a slot whose blob overlaps another', () => {
    const db = Buffer.from(small('Packages.db'));
    // Point the second used slot at the first one's blob (same blkoff and blkcnt).
    const used: number[] = [];
    for (let o = 32; o < 4096; o += 16) if (db.readUInt32LE(o + 8) !== 0) used.push(o);
    const [a, b] = used as [number, number];
    db.writeUInt32LE(db.readUInt32LE(a + 8), b + 8);
    db.writeUInt32LE(db.readUInt32LE(a + 12), b + 12);
    const read = readNdb(db);
    expect(read.problems.join('\n')).toMatch(/overlaps/);
    expect(read.records).toHaveLength(4);
  });

  it('refuses a bad slot magic like rpm does', () => {
    const db = Buffer.from(small('Packages.db'));
    db.write('Slox', 32, 'latin1');
    expect(() => readNdb(db)).toThrow(/slot/);
  });
});
