import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readBdbHash } from '../../src/inventory/catalogers/rpm/bdb.js';
import { type RpmdbFormat, readRpmdb } from '../../src/inventory/catalogers/rpm/db.js';
import { RpmdbError } from '../../src/inventory/catalogers/rpm/errors.js';
import { parseRpmHeader, parseSourceRpm, RPMTAG } from '../../src/inventory/catalogers/rpm/header.js';
import { readNdb } from '../../src/inventory/catalogers/rpm/ndb.js';
import { readSqliteRpmdb } from '../../src/inventory/catalogers/rpm/sqlite.js';
import { rpmHeaders } from '../../src/inventory/catalogers/rpm.js';
import { small } from '../fixtures/rpm/image.js';

/** Run `f`; anything thrown must be the typed RpmdbError. */
function typedOrOk(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof RpmdbError)) throw err;
  }
}

interface RawEntry {
  readonly tag: number;
  readonly type: number;
  readonly count: number;
  readonly data: Buffer;
}

/** Lay out a header blob (il, dl, index, data) from raw entries, INT32 data 4-aligned. Only for crafting bad input. */
function header(entries: readonly RawEntry[]): Buffer {
  const index = Buffer.alloc(entries.length * 16);
  const parts: Buffer[] = [];
  let dl = 0;
  entries.forEach((e, i) => {
    const pad = e.type === 4 ? (4 - (dl % 4)) % 4 : 0;
    parts.push(Buffer.alloc(pad), e.data);
    dl += pad;
    index.writeUInt32BE(e.tag, i * 16);
    index.writeUInt32BE(e.type, i * 16 + 4);
    index.writeUInt32BE(dl, i * 16 + 8);
    index.writeUInt32BE(e.count, i * 16 + 12);
    dl += e.data.length;
  });
  const pre = Buffer.alloc(8);
  pre.writeUInt32BE(entries.length, 0);
  pre.writeUInt32BE(dl, 4);
  return Buffer.concat([pre, index, ...parts]);
}

const str = (tag: number, s: string): RawEntry => ({ tag, type: 6, count: 1, data: Buffer.from(`${s}\0`) });
const NEVR = [str(RPMTAG.NAME, 'x'), str(RPMTAG.VERSION, '1'), str(RPMTAG.RELEASE, '1')];

/** Byte writes at random places (positions wrap around the input), and an optional truncation. */
const mutation = fc.record({
  writes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
});

function mutate(orig: Uint8Array, m: { writes: [number, number][]; cut: number | undefined }): Buffer {
  const b = Buffer.from(orig);
  for (const [pos, val] of m.writes) b[pos % b.length] = val;
  return m.cut === undefined ? b : b.subarray(0, m.cut % (b.length + 1));
}

describe('rpm header parser on hostile input', () => {
  const real = readRpmdb('sqlite', small('rpmdb.sqlite')).records.map((r) => Buffer.from(r.blob));

  it('survives random bytes with a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) =>
        typedOrOk(() => parseRpmHeader(bytes, { files: true })),
      ),
      { numRuns: 2000 },
    );
  });

  it('survives mutated real headers with a typed error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: real.length - 1 }), mutation, (i, m) =>
        typedOrOk(() => parseRpmHeader(mutate(real[i] as Buffer, m), { files: true })),
      ),
      { numRuns: 2000 },
    );
  });

  it('survives well-framed headers with random entries', () => {
    const tags = Object.values(RPMTAG);
    const entry = fc.record({
      tag: fc.constantFrom(...tags),
      type: fc.integer({ min: 0, max: 10 }),
      count: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.nat()),
      data: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    });
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 12 }), (entries) =>
        typedOrOk(() => parseRpmHeader(header([...NEVR, ...entries]), { files: true })),
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses absurd index counts and sizes before touching the data', () => {
    const b = Buffer.alloc(64);
    b.writeUInt32BE(0xffffffff, 0);
    expect(() => parseRpmHeader(b)).toThrow(/index entries/);
    b.writeUInt32BE(1, 0);
    b.writeUInt32BE(0x7fffffff, 4);
    expect(() => parseRpmHeader(b)).toThrow(/data bytes/);
    expect(() => parseRpmHeader(header([str(RPMTAG.VERSION, '1')]))).toThrow(/NAME/);
    const unterminated = header([...NEVR, { tag: RPMTAG.LICENSE, type: 6, count: 1, data: Buffer.from('MIT') }]);
    expect(() => parseRpmHeader(unterminated)).toThrow(/past the end/);
  });

  it('refuses a file list that would multiply a long directory name by many base names', () => {
    const n = 20_000;
    const blob = header([
      ...NEVR,
      { tag: RPMTAG.DIRNAMES, type: 8, count: 1, data: Buffer.from(`/${'d'.repeat(10_000)}/\0`) },
      { tag: RPMTAG.BASENAMES, type: 8, count: n, data: Buffer.alloc(n * 2, 'b\0') },
      { tag: RPMTAG.DIRINDEXES, type: 4, count: n, data: Buffer.alloc(n * 4) },
    ]);
    expect(() => parseRpmHeader(blob, { files: true })).toThrow(/file list is over/);
    expect(parseRpmHeader(blob).name).toBe('x'); // without the file list, the package is still read
  });

  it('parses source RPM names of any shape in linear time', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const r = parseSourceRpm(`${s}.src.rpm`);
        if (r) expect(`${r.name}-${r.version}-${r.release}.src.rpm`).toBe(`${s}.src.rpm`);
      }),
      { numRuns: 2000 },
    );
    const t = Date.now();
    parseSourceRpm(`${'-'.repeat(1_000_000)}.src.rpm`);
    parseSourceRpm(`${'a-'.repeat(500_000)}.src.rpm`);
    expect(Date.now() - t).toBeLessThan(500);
  });
});

describe('rpm database readers on hostile input', () => {
  const cases: [string, RpmdbFormat, string, number][] = [
    ['Berkeley DB (le)', 'bdb', 'Packages.bdb-le', 600],
    ['Berkeley DB (be)', 'bdb', 'Packages.bdb-be', 300],
    ['NDB', 'ndb', 'Packages.db', 600],
    ['sqlite', 'sqlite', 'rpmdb.sqlite', 150],
  ];
  for (const [label, format, file, runs] of cases) {
    it(`${label}: mutated real databases give records, problems or a typed error`, () => {
      const orig = small(file);
      fc.assert(
        fc.property(mutation, (m) => typedOrOk(() => rpmHeaders(format, mutate(orig, m)))),
        { numRuns: runs },
      );
    });
    it(`${label}: random bytes give a typed error`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 8192 }), (bytes) => typedOrOk(() => readRpmdb(format, bytes))),
        { numRuns: 300 },
      );
    });
  }

  it('Berkeley DB: mutations in the page headers only (the structure) stay bounded', () => {
    const orig = small('Packages.bdb-le');
    const pages = orig.length / 4096;
    const headerWrite = fc.tuple(fc.integer({ min: 0, max: pages - 1 }), fc.integer({ min: 8, max: 25 }), fc.nat(255));
    fc.assert(
      fc.property(fc.array(headerWrite, { minLength: 1, maxLength: 6 }), (writes) => {
        const b = Buffer.from(orig);
        for (const [page, off, val] of writes) b[page * 4096 + off] = val;
        typedOrOk(() => readBdbHash(b));
      }),
      { numRuns: 1000 },
    );
  });

  it('NDB: mutations in the header and slots (the structure) stay bounded', () => {
    const orig = small('Packages.db');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(4095), fc.nat(255)), { minLength: 1, maxLength: 6 }), (writes) => {
        const b = Buffer.from(orig);
        for (const [off, val] of writes) b[off] = val;
        typedOrOk(() => readNdb(b));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('sqlite rpmdb with a hostile schema', () => {
  const build = (sql: string): Buffer => {
    const db = new Database(':memory:');
    db.exec(sql);
    const out = db.serialize();
    db.close();
    return out;
  };

  it('refuses Packages as an endless recursive view', () => {
    const buf = build(`CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
      SELECT x AS hnum, zeroblob(1000000) AS blob FROM c`);
    expect(() => readSqliteRpmdb(buf)).toThrow(/view, not a table/);
  });

  it('refuses a generated blob column', () => {
    const buf = build(`CREATE TABLE Packages (hnum INTEGER PRIMARY KEY,
      blob BLOB GENERATED ALWAYS AS (zeroblob(100000000)) VIRTUAL); INSERT INTO Packages (hnum) VALUES (1)`);
    expect(() => readSqliteRpmdb(buf)).toThrow(/plain column blob/);
  });

  it('refuses a database without Packages, and reports rows that are not blobs', () => {
    expect(() => readSqliteRpmdb(build('CREATE TABLE other (x)'))).toThrow(/no Packages/);
    const read = readSqliteRpmdb(
      build(`CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB);
        INSERT INTO Packages VALUES (1, 'text'), (2, NULL), (3, x'00')`),
    );
    expect(read.records).toEqual([{ id: 3, blob: Buffer.from([0]) }]);
    expect(read.problems).toHaveLength(2);
  });
});
