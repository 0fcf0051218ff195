import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanArchive } from '../../src/inventory/catalogers/java/archive.js';
import { ArchiveError, InflateBudget } from '../../src/inventory/catalogers/java/errors.js';
import { type ZipEntry, ZipStreamReader } from '../../src/inventory/catalogers/java/zipstream.js';
import { makeZip, pushInPieces, type ZipSpec } from '../fixtures/java/zipwriter.js';

interface Read {
  entries: ZipEntry[];
  data: Map<number, Buffer>;
  aborted: Map<number, string>;
  done: boolean;
  error?: ArchiveError;
}

/** Read `zip` pushed in pieces cut at `splits`, taking every entry's data; checks the sink protocol as it goes. */
function read(zip: Uint8Array, splits: readonly number[] = [], budget = 1 << 30): Read {
  const r: Read = { entries: [], data: new Map(), aborted: new Map(), done: false };
  const reader = new ZipStreamReader({
    budget: new InflateBudget(budget),
    onEntry: (e) => {
      const i = r.entries.push(e) - 1;
      const parts: Buffer[] = [];
      let closed = false;
      const once = (): void => {
        expect(closed, `entry ${i} ended twice`).toBe(false);
        closed = true;
      };
      return {
        write: (c) => {
          expect(closed, `entry ${i} written after its end`).toBe(false);
          parts.push(Buffer.from(c));
          return true;
        },
        end: () => {
          once();
          r.data.set(i, Buffer.concat(parts));
        },
        abort: (reason) => {
          once();
          r.aborted.set(i, reason);
        },
      };
    },
  });
  const error = pushInPieces(reader, zip, splits);
  if (error) r.error = error;
  r.done = reader.done;
  return r;
}

const nameArb = fc.stringMatching(/^[A-Za-z0-9_./-]{1,30}$/).filter((n) => !n.endsWith('/'));
const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc.array(fc.constantFrom('PK\x07\x08', 'PK\x03\x04', 'abc', '\0\0\0\0'), { maxLength: 200 }).map((ws) => {
    return new Uint8Array(Buffer.from(ws.join(''), 'latin1'));
  }),
);
/** Entries any correct reader must read back: stored ones with a descriptor need its signature to be found. */
const specArb: fc.Arbitrary<ZipSpec> = fc
  .record({
    name: nameArb,
    data: bytesArb,
    method: fc.constantFrom(0 as const, 8 as const),
    descriptor: fc.constantFrom(undefined, 'signed' as const, 'unsigned' as const),
    sizesInHeader: fc.boolean(),
    zip64: fc.boolean(),
  })
  .map((s) => {
    const { descriptor, ...rest } = s;
    if (descriptor === undefined) return rest;
    if (s.method === 0 && descriptor === 'unsigned') return { ...rest, descriptor: 'signed' as const };
    return { ...rest, descriptor };
  });

describe('ZipStreamReader', () => {
  it('reads back every entry of a written zip, at any chunking, and checks the central directory against them', () => {
    fc.assert(
      fc.property(
        fc.array(specArb, { minLength: 1, maxLength: 8 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(30_000), { maxLength: 20 }),
        (specs, prefix, splits) => {
          const clean = prefix.filter((b) => b !== 0x50); // a prefix must not itself hold a header signature
          const zip = makeZip(specs, clean);
          const r = read(zip, splits);
          expect(r.error).toBeUndefined();
          expect(r.done).toBe(true);
          expect(r.entries.map((e) => e.name)).toEqual(specs.map((s) => s.name));
          specs.forEach((s, i) => {
            expect(Buffer.compare(r.data.get(i) ?? Buffer.alloc(1), Buffer.from(s.data)), s.name).toBe(0);
          });
        },
      ),
      { numRuns: 400 },
    );
  });

  it('survives random bytes and mutated zips: typed errors only, and each entry ends at most once', () => {
    const mutated = fc
      .tuple(
        fc.array(specArb, { minLength: 1, maxLength: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 10 }),
        fc.nat(),
      )
      .map(([specs, flips, cut]) => {
        const zip = makeZip(specs);
        for (const [at, v] of flips) zip[at % zip.length] = v;
        return zip.subarray(0, zip.length - (cut % 8 === 0 ? cut % zip.length : 0));
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 5000 }), mutated), fc.array(fc.nat(6000)), (zip, splits) => {
        const r = read(zip, splits, 1 << 20);
        expect(r.error === undefined || r.error instanceof ArchiveError).toBe(true);
        const scan = scanArchive('fuzz.jar', zip, { maxInflatedBytes: 1 << 20 }, 997);
        expect(scan.archives.length).toBeGreaterThan(0);
        for (const p of scan.problems) expect(p.message).not.toMatch(/^internal error/);
      }),
      { numRuns: 1500 },
    );
  });

  it('tells entries it cannot decode and entries with a lying deflate stream apart from the walk', () => {
    const good = { name: 'b.txt', data: Buffer.from('after'), method: 8 as const };
    const zip = makeZip([{ name: 'a.txt', data: Buffer.from('x'.repeat(1000)), method: 8 }, good]);
    // Corrupt the first entry's deflate data: its size is in the header, so the walk goes on.
    const dataStart = 30 + 'a.txt'.length;
    zip[dataStart] = 0xff;
    const r = read(zip);
    expect(r.error).toBeUndefined();
    expect(r.aborted.get(0)).toMatch(/invalid deflate data/);
    expect(r.data.get(1)?.toString()).toBe('after');
  });

  it('fails the archive when a stored entry with a descriptor has no signature to find', () => {
    const zip = makeZip([{ name: 'a', data: Buffer.from('hello'), method: 0, descriptor: 'unsigned' }]);
    const r = read(zip);
    expect(r.error?.code).toBe('TRUNCATED');
    expect(r.aborted.get(0)).toBeDefined();
  });

  it('says when input is not a zip, or is cut before the central directory', () => {
    expect(read(Buffer.from('hello world')).error?.code).toBe('NOT_ZIP');
    const zip = makeZip([{ name: 'a', data: Buffer.from('hello'), method: 8 }]);
    const centralAt = zip.indexOf(Buffer.from('PK\x01\x02', 'latin1'));
    for (const cut of [centralAt, centralAt - 2, 20, 33]) {
      expect(read(zip.subarray(0, cut)).error?.code, `cut at ${cut}`).toBe('TRUNCATED');
    }
    expect(read(zip).done).toBe(true);
    expect(read(makeZip([])).done).toBe(true);
    expect(read(Buffer.alloc(0)).error?.code).toBe('NOT_ZIP');
  });
});

describe('archive scan limits', () => {
  const jar = (inner: Uint8Array, name = 'lib/inner.jar', method: 0 | 8 = 0): Buffer =>
    makeZip([{ name, data: inner, method }]);

  it('caps archives and pom.properties, and pom.xml files apart: a pom.xml beside each pom.properties costs no share', () => {
    const dep = (i: number) => [
      {
        name: `META-INF/maven/g/a${i}/pom.xml`,
        data: Buffer.from(`<project><artifactId>a${i}</artifactId></project>`),
      },
      { name: `META-INF/maven/g/a${i}/pom.properties`, data: Buffer.from(`groupId=g\nartifactId=a${i}\nversion=1\n`) },
    ];
    const two = makeZip([...dep(1), ...dep(2)].map((e) => ({ ...e, method: 8 as const })));
    // The outer archive is one record, its two pom.properties two more; the two pom.xml count apart.
    expect(scanArchive('app.jar', two, { maxRecords: 3 }).problems).toEqual([]);
    const over = scanArchive('app.jar', two, { maxRecords: 2 });
    expect(over.problems.map((p) => p.message)).toEqual([
      'more than 2 archives and pom.properties; the rest are ignored',
    ]);
    const xmls = makeZip(
      [0, 1, 2].map((i) => ({ ...(dep(i)[0] as { name: string; data: Buffer }), method: 8 as const })),
    );
    expect(scanArchive('app.jar', xmls, { maxRecords: 2 }).problems.map((p) => p.message)).toEqual([
      'more than 2 pom.xml files; the rest are ignored',
    ]);
  });

  it('stops opening archives more than four levels deep, with a problem, and keeps the outer levels', () => {
    let z = makeZip([{ name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\n'), method: 8 }]);
    for (let i = 0; i < 6; i++) z = jar(z, `l${i}.jar`, i % 2 === 0 ? 0 : 8);
    const scan = scanArchive('outer.jar', z);
    expect(scan.archives.map((a) => a.depth)).toEqual([0, 1, 2, 3, 4]);
    expect(scan.problems).toHaveLength(1);
    expect(scan.problems[0]?.message).toMatch(/nested more than 4 levels/);
    expect(scan.problems[0]?.path).toBe('outer.jar!/l5.jar!/l4.jar!/l3.jar!/l2.jar!/l1.jar');
  });

  it('stops a zip bomb at the inflation limit with a problem, quickly and in bounded memory', () => {
    // A nested "jar" whose first entry claims 4 GiB of stored zeros: the reader wants all of it, so the
    // outer inflater must produce it, until the budget stops it.
    const claim = Buffer.alloc(30);
    claim.writeUInt32LE(0x04034b50, 0);
    claim.writeUInt32LE(0xfffffffe, 18);
    claim.writeUInt32LE(0xfffffffe, 22);
    const inner = Buffer.concat([claim, Buffer.alloc(256 * 1024 * 1024)]);
    const bomb = makeZip([{ name: 'BOOT-INF/lib/bomb.jar', data: inner, method: 8 }]);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    const scan = scanArchive('bomb.jar', bomb);
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    expect(scan.problems.map((p) => p.path)).toEqual(['bomb.jar']);
    expect(scan.problems[0]?.message).toMatch(/stopped after inflating more than 67108864 bytes/);
  });

  it('stops a zip bomb in an entry nobody reads, which must be inflated to find its end, at the discard limit', () => {
    const junk = {
      name: 'junk.bin',
      data: Buffer.alloc(64 * 1024 * 1024),
      method: 8 as const,
      descriptor: 'signed' as const,
    };
    const props = Buffer.from('version=2');
    const pom = { name: 'META-INF/maven/g/a/pom.properties', data: props, method: 8 as const };
    const limits = { maxInflatedBytes: 1024, maxDiscardedBytes: 16 * 1024 * 1024 };
    const flat = makeZip([junk, pom]);
    const t0 = performance.now();
    const scan = scanArchive('bomb.jar', flat, limits);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(scan.problems).toEqual([
      {
        path: 'bomb.jar',
        message: 'stopped after inflating more than 16777216 bytes of entries that are not read (zip bomb?)',
      },
    ]);
    expect(scan.archives[0]?.poms).toEqual([]);
    // Nested archives share the outer archive's limit.
    const nested = makeZip([{ name: 'WEB-INF/lib/inner.jar', data: makeZip([junk, pom]), method: 0 }]);
    const deep = scanArchive('app.war', nested, limits);
    expect(deep.problems.map((p) => [p.path, p.message])).toEqual([
      ['app.war', 'stopped after inflating more than 16777216 bytes of entries that are not read (zip bomb?)'],
    ]);
    // Under the limit the same archive reads as before.
    expect(scanArchive('bomb.jar', flat, { maxInflatedBytes: 1024 }).archives[0]?.poms).toHaveLength(1);
  });

  it('caps MANIFEST.MF and pom.properties at the entry limit', () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 'a');
    const scan = scanArchive('x.jar', makeZip([{ name: 'META-INF/MANIFEST.MF', data: big, method: 8 }]));
    expect(scan.archives[0]?.manifest).toBeUndefined();
    expect(scan.problems[0]).toEqual({
      path: 'x.jar!/META-INF/MANIFEST.MF',
      message: 'entry is larger than the 4194304-byte limit',
    });
  });

  it('reads an executable jar with a launch script before its first entry', () => {
    const script = Buffer.from('#!/bin/bash\nexec java -jar "$0" "$@"\n'.repeat(50));
    const props = Buffer.from('groupId=com.example\nartifactId=demo\nversion=1.0.0\n');
    const z = makeZip([{ name: 'META-INF/maven/com.example/demo/pom.properties', data: props, method: 8 }], script);
    const scan = scanArchive('demo.jar', z, {}, 7);
    expect(scan.problems).toEqual([]);
    expect(scan.archives[0]?.poms[0]?.version).toBe('1.0.0');
  });

  it('does not inflate what it skips into memory: a 64 MiB entry nobody wants costs no budget', () => {
    const z = makeZip([
      { name: 'big.bin', data: Buffer.alloc(64 * 1024 * 1024), method: 8, descriptor: 'signed' },
      { name: 'META-INF/maven/g/a/pom.properties', data: Buffer.from('version=2'), method: 8, descriptor: 'signed' },
    ]);
    const scan = scanArchive('a-2.jar', z, { maxInflatedBytes: 1024 });
    expect(scan.problems).toEqual([]);
    expect(scan.archives[0]?.poms).toEqual([
      { entry: 'META-INF/maven/g/a/pom.properties', groupId: 'g', artifactId: 'a', version: '2' },
    ]);
  });
});
