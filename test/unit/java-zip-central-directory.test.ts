import { crc32, deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ArchiveScan, scanArchive } from '../../src/inventory/catalogers/java/archive.js';
import { ArchiveError, InflateBudget } from '../../src/inventory/catalogers/java/errors.js';
import { ZipStreamReader } from '../../src/inventory/catalogers/java/zipstream.js';
import { javaCataloger } from '../../src/inventory/catalogers/java.js';
import { makeZip, pushInPieces, u16, u32, u64 } from '../fixtures/java/zipwriter.js';
import { catalogTestLayers } from '../helpers/layers.js';

/**
 * The streaming reader walks local headers; Java, unzip and Spring Boot read the central directory the end
 * record points to. Archives where the two disagree (so a central-directory reader sees an entry the walk did
 * not) must fail with a problem naming what and where, never list fewer entries quietly; archives where they
 * agree must read exactly as before, without a problem.
 */

// ---- A zip writer whose headers can lie, and between whose entries raw bytes can be put. ----

interface Entry {
  readonly name: string;
  readonly data: Uint8Array;
  readonly method?: 0 | 8;
  /** Bit 3: sizes after the data, in a signed descriptor. */
  readonly descriptor?: boolean;
  /** Sizes in ZIP64 extra fields, 0xFFFFFFFF in both headers (and the offset too in the central directory). */
  readonly zip64?: boolean;
  /** Lies of the local header: its sizes, name and method (the data is encoded by the local method). */
  readonly localSize?: number;
  readonly localName?: string;
  readonly localMethod?: 0 | 8;
  /** A lie of the central directory: the compressed size. */
  readonly centralSize?: number;
}
type Part = Entry | { readonly raw: Uint8Array };

interface Layout {
  /** Bytes before the first entry (a launch script). */
  readonly prefix?: Uint8Array;
  /** Central directory offsets count from the first entry, not from the start of the file. */
  readonly relative?: boolean;
  /** A ZIP64 end record and locator, and 0xFFFF(FFFF) in the end record. */
  readonly zip64End?: boolean;
  /** Extensible data of the ZIP64 end record. */
  readonly extensible?: number;
  readonly comment?: Uint8Array;
}

interface Built {
  readonly zip: Buffer;
  /** Offset of each entry's local header, by central directory name. */
  readonly at: ReadonlyMap<string, number>;
  readonly central: number;
}

const MAGIC = 0xffffffff;

function build(parts: readonly Part[], layout: Layout = {}): Built {
  const prefix = Buffer.from(layout.prefix ?? new Uint8Array(0));
  const out: Buffer[] = [prefix];
  const central: Buffer[] = [];
  const at = new Map<string, number>();
  let pos = prefix.length;
  const rel = (p: number): number => (layout.relative ? p - prefix.length : p);
  let count = 0;
  for (const part of parts) {
    if ('raw' in part) {
      out.push(Buffer.from(part.raw));
      pos += part.raw.length;
      continue;
    }
    const method = part.method ?? 0;
    const localMethod = part.localMethod ?? method;
    const body = localMethod === 8 ? deflateRawSync(part.data) : Buffer.from(part.data);
    const crc = crc32(part.data);
    const dd = part.descriptor === true;
    const flags = (dd ? 8 : 0) | 0x800;
    const localName = Buffer.from(part.localName ?? part.name, 'utf8');
    const csize = part.localSize ?? body.length;
    const usize = part.localSize ?? part.data.length;
    const localExtra = part.zip64 ? Buffer.concat([u16(1), u16(16), u64(usize), u64(csize)]) : Buffer.alloc(0);
    const size = (v: number): Buffer => u32(part.zip64 ? MAGIC : dd ? 0 : v);
    const local = Buffer.concat([
      u32(0x04034b50),
      u16(part.zip64 ? 45 : 20),
      u16(flags),
      u16(localMethod),
      u32(0),
      u32(dd ? 0 : crc),
      size(csize),
      size(usize),
      u16(localName.length),
      u16(localExtra.length),
      localName,
      localExtra,
    ]);
    const sizes = part.zip64 ? [u64(body.length), u64(part.data.length)] : [u32(body.length), u32(part.data.length)];
    const desc = dd ? Buffer.concat([u32(0x08074b50), u32(crc), ...sizes]) : Buffer.alloc(0);
    out.push(local, body, desc);
    at.set(part.name, pos);
    const name = Buffer.from(part.name, 'utf8');
    const cenCsize = part.centralSize ?? body.length;
    const cenExtra = part.zip64
      ? Buffer.concat([u16(1), u16(24), u64(part.data.length), u64(cenCsize), u64(rel(pos))])
      : Buffer.alloc(0);
    central.push(
      Buffer.concat([
        u32(0x02014b50),
        u16(45),
        u16(part.zip64 ? 45 : 20),
        u16(flags),
        u16(method),
        u32(0),
        u32(crc),
        u32(part.zip64 ? MAGIC : cenCsize),
        u32(part.zip64 ? MAGIC : part.data.length),
        u16(name.length),
        u16(cenExtra.length),
        u16(0),
        u16(0),
        u16(0),
        u32(0),
        u32(part.zip64 ? MAGIC : rel(pos)),
        name,
        cenExtra,
      ]),
    );
    count++;
    pos += local.length + body.length + desc.length;
  }
  const cd = Buffer.concat(central);
  const cdAt = pos;
  const tail: Buffer[] = [cd];
  if (layout.zip64End) {
    const ext = layout.extensible ?? 0;
    const z64At = cdAt + cd.length;
    tail.push(
      Buffer.concat([
        u32(0x06064b50),
        u64(44 + ext),
        u16(45),
        u16(45),
        u32(0),
        u32(0),
        u64(count),
        u64(count),
        u64(cd.length),
        u64(rel(cdAt)),
        Buffer.alloc(ext, 0x5a),
      ]),
      Buffer.concat([u32(0x07064b50), u32(0), u64(rel(z64At)), u32(1)]),
    );
  }
  const comment = Buffer.from(layout.comment ?? new Uint8Array(0));
  tail.push(
    Buffer.concat([
      u32(0x06054b50),
      u16(0),
      u16(0),
      u16(layout.zip64End ? 0xffff : count),
      u16(layout.zip64End ? 0xffff : count),
      u32(layout.zip64End ? MAGIC : cd.length),
      u32(layout.zip64End ? MAGIC : rel(cdAt)),
      u16(comment.length),
      comment,
    ]),
  );
  return { zip: Buffer.concat([...out, ...tail]), at, central: cdAt };
}

const MANIFEST = {
  name: 'META-INF/MANIFEST.MF',
  data: Buffer.from('Manifest-Version: 1.0\r\n\r\n'),
  method: 8 as const,
};
const pom = (g: string, a: string, v: string): Entry => ({
  name: `META-INF/maven/${g}/${a}/pom.properties`,
  data: Buffer.from(`groupId=${g}\nartifactId=${a}\nversion=${v}\n`),
  method: 8,
});
const LOG4J = 'BOOT-INF/lib/log4j-core-2.14.1.jar';
const log4jJar = build([MANIFEST, pom('org.apache.logging.log4j', 'log4j-core', '2.14.1')]).zip;
const log4j: Entry = { name: LOG4J, data: log4jJar, method: 0 };
const APP = [MANIFEST, pom('com.example', 'app', '1.0')];
const LOG4J_POM = `app.jar!/${LOG4J} org.apache.logging.log4j:log4j-core:2.14.1`;
const APP_POM = 'app.jar com.example:app:1.0';

/** The pom.properties a scan found, as `archive-path group:artifact:version`. */
function poms(scan: ArchiveScan): string[] {
  return scan.archives.flatMap((a) => a.poms.map((p) => `${a.path} ${p.groupId}:${p.artifactId}:${p.version}`));
}

/** Length of an entry's local header and data as `build` writes it (no descriptor). */
function entryBytes(e: Entry): number {
  const body = (e.localMethod ?? e.method ?? 0) === 8 ? deflateRawSync(e.data).length : e.data.length;
  return 30 + Buffer.byteLength(e.localName ?? e.name) + body;
}

// Distinct names, so an entry is known by its name.
const entryArb: fc.Arbitrary<Entry> = fc
  .record({
    id: fc.nat(1_000_000),
    data: fc.uint8Array({ maxLength: 600 }),
    method: fc.constantFrom(0 as const, 8 as const),
    descriptor: fc.boolean(),
    zip64: fc.boolean(),
  })
  .map(({ id, ...e }) => ({ ...e, name: `e${id}.bin` }));

interface Read {
  names: string[];
  error?: ArchiveError;
  done: boolean;
}

/** Read with ZipStreamReader directly, pushed in pieces cut at `splits`. */
function read(zip: Uint8Array, splits: readonly number[] = []): Read {
  const r: Read = { names: [], done: false };
  const reader = new ZipStreamReader({
    budget: new InflateBudget(1 << 30),
    onEntry: (e) => {
      r.names.push(e.name);
      return undefined;
    },
  });
  const error = pushInPieces(reader, zip, splits);
  if (error) r.error = error;
  r.done = reader.done;
  return r;
}

describe('entries hidden from the walk of local headers are reported', () => {
  it("the reviewer's case: a fake central directory signature between entries hides a nested jar", async () => {
    const plain = build([...APP, log4j]).zip;
    expect(scanArchive('app.jar', plain)).toEqual(expect.objectContaining({ problems: [] }));
    expect(poms(scanArchive('app.jar', plain)).sort()).toEqual([APP_POM, LOG4J_POM]);

    const fake = Buffer.concat([Buffer.from('PK\x01\x02', 'latin1'), Buffer.alloc(60)]);
    const { zip, at } = build([...APP, { raw: fake }, log4j]);
    const fakeAt = (at.get(LOG4J) as number) - fake.length;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4096 }), (chunk) => {
        const scan = scanArchive('app.jar', zip, {}, chunk);
        expect(poms(scan)).toEqual([APP_POM]);
        expect(scan.problems).toEqual([
          {
            path: 'app.jar',
            message:
              `damaged central directory at offset ${fakeAt}: 0x00000000 at offset ${fakeAt + 46} where a central ` +
              `directory record or an end record should be; nothing after offset ${fakeAt} was read`,
          },
        ]);
      }),
      { numRuns: 50 },
    );

    // Through the cataloger, as `portcullis sbom` runs it: a non-fatal unknown on the jar, as for other damage.
    const hidden = await catalogTestLayers([[{ path: 'app/app.jar', content: zip }]], [javaCataloger]);
    expect(hidden.packages.map((p) => p.purl)).toEqual(['pkg:maven/com.example/app@1.0']);
    expect(hidden.unknowns).toEqual([
      expect.objectContaining({
        path: 'app/app.jar',
        cataloger: 'java',
        fatal: false,
        message: expect.stringMatching(/^damaged central directory at offset \d+: /),
      }),
    ]);
    const clean = await catalogTestLayers([[{ path: 'app/app.jar', content: plain }]], [javaCataloger]);
    expect(clean.unknowns).toEqual([]);
    expect(clean.packages.map((p) => p.purl).sort()).toEqual([
      'pkg:maven/com.example/app@1.0',
      'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1',
    ]);
  });

  it('a well-formed fake central directory record whose extra field covers the hidden entry: the entry is named', () => {
    // The fake record's fields span the hidden entry exactly, so the records after it are the real ones.
    const fake = Buffer.alloc(46);
    fake.writeUInt32LE(0x02014b50, 0);
    fake.writeUInt16LE(entryBytes(log4j), 30);
    const { zip, at } = build([...APP, { raw: fake }, log4j]);
    const scan = scanArchive('app.jar', zip);
    expect(poms(scan)).toEqual([APP_POM]);
    expect(scan.problems).toEqual([
      {
        path: 'app.jar',
        message: `central directory entry "${LOG4J}" at offset ${at.get(LOG4J)} was not read: the walk of local headers found no entry there`,
      },
    ]);
  });

  it('a local header whose compressed size swallows the next entry', () => {
    const readme = { name: 'README.txt', data: Buffer.from('read me\n'), method: 0 as const };
    for (const order of ['middle', 'last'] as const) {
      const swallow = { ...readme, localSize: readme.data.length + entryBytes(log4j) };
      const parts = order === 'middle' ? [...APP, swallow, log4j, MANIFEST] : [...APP, swallow, log4j];
      const { zip, at } = build(parts);
      // Java and unzip list the nested jar; the walk skips over it as README.txt's data.
      expect(zip.indexOf(Buffer.from(LOG4J))).toBeGreaterThan(0);
      const scan = scanArchive('app.jar', zip, {}, 13);
      expect(poms(scan), order).toEqual([APP_POM]);
      expect(scan.problems, order).toEqual([
        {
          path: 'app.jar',
          message: `central directory entry "${LOG4J}" at offset ${at.get(LOG4J)} was not read: the walk of local headers found no entry there`,
        },
      ]);
      // Without the lie, the same archive reads whole.
      expect(poms(scanArchive('app.jar', build([...APP, readme, log4j]).zip)).sort()).toEqual([APP_POM, LOG4J_POM]);
    }
  });

  it('the same hidden nested jar one level down is reported on the nested jar', () => {
    const fake = Buffer.concat([Buffer.from('PK\x01\x02', 'latin1'), Buffer.alloc(60)]);
    const inner = build([MANIFEST, pom('com.example', 'lib', '2.0'), { raw: fake }, log4j]).zip;
    const outer = build([...APP, { name: 'BOOT-INF/lib/lib-2.0.jar', data: inner, method: 8 }]).zip;
    const scan = scanArchive('app.jar', outer);
    expect(poms(scan)).toEqual([APP_POM, 'app.jar!/BOOT-INF/lib/lib-2.0.jar com.example:lib:2.0']);
    expect(scan.problems.map((p) => p.path)).toEqual(['app.jar!/BOOT-INF/lib/lib-2.0.jar']);
    expect(scan.problems[0]?.message).toMatch(/^damaged central directory at offset \d+: 0x00000000 at offset \d+/);
  });

  it('a central directory that describes an entry otherwise than its local header', () => {
    const notes = { name: 'notes.txt', data: Buffer.from('notes\n'), method: 0 as const };
    const cases: [string, Part[], RegExp][] = [
      [
        'name',
        [...APP, { ...log4j, localName: 'notes.txt' }],
        new RegExp(`^central directory entry "${LOG4J}" at offset \\d+ has another name in its local header$`),
      ],
      [
        'method',
        [...APP, { ...log4j, localMethod: 8 }],
        new RegExp(`^central directory entry "${LOG4J}" at offset \\d+ has method 0, its local header method 8$`),
      ],
      [
        'stored size',
        [...APP, { ...notes, centralSize: 120 }],
        /^central directory entry "notes\.txt" at offset \d+ has 120 bytes of stored data, its local header 6$/,
      ],
    ];
    for (const [what, parts, message] of cases) {
      const scan = scanArchive('app.jar', build(parts).zip);
      expect(
        scan.problems.map((p) => p.path),
        what,
      ).toEqual(['app.jar']);
      expect(scan.problems[0]?.message, what).toMatch(message);
    }
  });

  it('names past the 8 MiB kept as they are are compared by keyed hash, and still tell a renamed entry', () => {
    // 150 names of 60,000 bytes: the last ones are past the pool.
    const long = (i: number, c = 'a'): string => `${String(i).padStart(4, '0')}/${c.repeat(60_000 - 5)}`;
    const entries: Entry[] = Array.from({ length: 150 }, (_, i) => ({ name: long(i), data: Buffer.from([i]) }));
    expect(read(build(entries).zip)).toEqual({ names: entries.map((e) => e.name), done: true });
    const renamed = entries.map((e, i) => (i === 149 ? { ...e, localName: long(i, 'b') } : e));
    const { zip, at } = build(renamed);
    const r = read(zip);
    expect(r.names.length).toBe(150);
    expect(r.error?.message).toBe(
      `central directory entry ${JSON.stringify(`0149/${'a'.repeat(195)}...`)} at offset ${at.get(long(149))} has another name in its local header`,
    );
  });

  it('an archive appended after another: readers take the last end record, so a second one is reported', () => {
    const first = build(APP).zip;
    // Deflated, so that the nested jar's own end record is not in the bytes.
    const second = build([...APP, { ...log4j, method: 8 }]).zip;
    const both = Buffer.concat([first, second]);
    const end = first.length - 22;
    const secondEnd = both.length - 22;
    expect(both.indexOf(Buffer.from('PK\x05\x06', 'latin1'), end + 1)).toBe(secondEnd);
    const scan = scanArchive('app.jar', both);
    expect(poms(scan)).toEqual([APP_POM]);
    expect(scan.problems).toEqual([
      {
        path: 'app.jar',
        message: `another end record signature at offset ${secondEnd} follows the end record at offset ${end}`,
      },
    ]);
  });

  it('bytes after the end record: tolerated as readers tolerate them, reported where readers would not find it', () => {
    const plain = build([...APP, log4j]).zip;
    const padded = scanArchive('app.jar', Buffer.concat([plain, Buffer.alloc(100)]));
    expect(padded.problems).toEqual([]);
    expect(poms(padded).sort()).toEqual([APP_POM, LOG4J_POM]);
    const far = scanArchive('app.jar', Buffer.concat([plain, Buffer.alloc(70_000)]));
    expect(far.problems).toEqual([
      {
        path: 'app.jar',
        message: `end record at offset ${plain.length - 22} is followed by 70000 bytes, more than a zip comment can hold`,
      },
    ]);
    // An empty archive has no central directory to vouch for a wrong comment length.
    const empty = build([]).zip;
    expect(read(Buffer.concat([empty, Buffer.alloc(5)])).error?.message).toBe(
      'end record at offset 0 has a 0-byte comment but 5 bytes follow it',
    );
  });

  it('an end record that does not match where the walk ended, or cut inside the central directory', () => {
    const { zip, central } = build([...APP, log4j]);
    const end = zip.length - 22;
    const moved = Buffer.from(zip);
    moved.writeUInt32LE(zip.readUInt32LE(end + 12) - 46, end + 12); // central directory size
    expect(read(moved).error?.message).toBe(
      `end record at offset ${end} puts the central directory at offset ${central + 46}, but the local headers end at offset ${central}`,
    );
    const shifted = Buffer.from(zip);
    shifted.writeUInt32LE(central - 7, end + 16); // central directory offset
    expect(read(shifted).error?.message).toBe(
      'central directory counts entry offsets from offset 7, neither the start of the archive nor its first entry',
    );
    // Cut inside the first record's signature, the walk is still reading a header.
    expect(read(zip.subarray(0, central + 1)).error?.message).toBe(
      `archive ends inside a header at offset ${central + 1}`,
    );
    for (const cut of [central + 4, central + 50, end, end + 21]) {
      const r = read(zip.subarray(0, cut));
      expect(r.error?.code, `cut at ${cut}`).toBe('TRUNCATED');
      expect(r.error?.message, `cut at ${cut}`).toBe(
        `archive ends at offset ${cut} inside its central directory, before its end record`,
      );
    }
  });

  it('a ZIP64 end record that disagrees with the end record, or a locator that points elsewhere', () => {
    const { zip } = build([...APP, log4j], { zip64End: true });
    expect(read(zip).error).toBeUndefined();
    const end = zip.length - 22;
    const disagree = Buffer.from(zip);
    disagree.writeUInt32LE(12345, end + 16);
    expect(read(disagree).error?.message).toMatch(
      new RegExp(`^end record at offset ${end} and ZIP64 end record at offset \\d+ disagree on the central directory$`),
    );
    const elsewhere = Buffer.from(zip);
    elsewhere.writeUInt32LE(3, end - 20 + 8);
    expect(read(elsewhere).error?.message).toMatch(
      /^ZIP64 end locator points to offset 3, not to the ZIP64 end record at offset \d+$/,
    );
  });

  it('never lists fewer entries than the central directory quietly: random archives, fake records at any boundary', () => {
    const endSigs = [0x02014b50, 0x06064b50, 0x07064b50, 0x06054b50, 0x05054b50];
    fc.assert(
      fc.property(
        fc.uniqueArray(entryArb, { minLength: 2, maxLength: 6, selector: (e) => e.name }),
        fc.nat(),
        fc.constantFrom(...endSigs),
        fc.uint8Array({ maxLength: 80 }),
        fc.array(fc.nat(20_000), { maxLength: 8 }),
        (entries, k, sig, junk, splits) => {
          const boundary = 1 + (k % (entries.length - 1));
          const raw = Buffer.concat([u32(sig), Buffer.from(junk)]);
          const parts: Part[] = [...entries.slice(0, boundary), { raw }, ...entries.slice(boundary)];
          const { zip } = build(parts);
          const r = read(zip, splits);
          expect(r.names).toEqual(entries.slice(0, boundary).map((e) => e.name));
          expect(r.error).toBeInstanceOf(ArchiveError);
          expect(r.error?.message).not.toMatch(/\n/);
          expect(scanArchive('x.jar', zip, {}, 509).problems).toHaveLength(1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never lists fewer entries than the central directory quietly: a stored entry swallowing any later ones', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(entryArb, { minLength: 2, maxLength: 6, selector: (e) => e.name }),
        fc.nat(),
        fc.nat(),
        fc.array(fc.nat(20_000), { maxLength: 8 }),
        (entries, a, b, splits) => {
          const i = a % (entries.length - 1);
          const j = i + 1 + (b % (entries.length - 1 - i));
          const plain = entries.map((e) => ({ ...e, method: 0 as const, descriptor: false, zip64: false }));
          const swallowed = plain.slice(i + 1, j + 1);
          const victim = plain[i] as Entry;
          const size = victim.data.length + swallowed.reduce((n, e) => n + entryBytes(e), 0);
          const parts = plain.map((e, n) => (n === i ? { ...e, localSize: size } : e));
          const { zip, at } = build(parts);
          const r = read(zip, splits);
          expect(r.names).toEqual([...plain.slice(0, i + 1), ...plain.slice(j + 1)].map((e) => e.name));
          const first = swallowed[0] as Entry;
          expect(r.error?.message).toBe(
            `central directory entry ${JSON.stringify(first.name)} at offset ${at.get(first.name)} was not read: the walk of local headers found no entry there`,
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('archives whose central directory agrees with the walk read as before, with no problem', () => {
  /** A nested jar of random entries around one pom.properties. */
  const nestedArb = fc
    .tuple(fc.array(entryArb, { maxLength: 3 }), fc.nat(99), fc.boolean(), fc.boolean())
    .map(([noise, v, deflated, dd]) => ({
      version: `1.${v}`,
      entry: {
        name: `BOOT-INF/lib/dep-1.${v}.jar`,
        data: build([MANIFEST, ...noise, pom('org.example', 'dep', `1.${v}`)]).zip,
        method: deflated ? (8 as const) : (0 as const),
        descriptor: dd,
      } satisfies Entry,
    }));

  it('random archives of stored and deflated entries, descriptors, ZIP64, nested jars, launch scripts', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(entryArb, { maxLength: 6, selector: (e) => e.name }),
        fc.uniqueArray(nestedArb, { maxLength: 3, selector: (n) => n.version }),
        fc.record({
          script: fc.boolean(),
          relative: fc.boolean(),
          zip64End: fc.boolean(),
          extensible: fc.nat(40),
          comment: fc.uint8Array({ maxLength: 40 }).map((c) => c.filter((b) => b !== 0x50)),
        }),
        fc.array(fc.nat(30_000), { maxLength: 10 }),
        fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8192 })),
        (entries, nested, layout, splits, chunk) => {
          const prefix = layout.script ? Buffer.from('#!/bin/sh\nexec java -jar "$0" "$@"\n') : undefined;
          const parts = [...APP, ...entries, ...nested.map((n) => n.entry)];
          const { zip } = build(parts, { ...layout, ...(prefix ? { prefix } : {}) });
          const r = read(zip, splits);
          expect(r.error).toBeUndefined();
          expect(r.done).toBe(true);
          expect(r.names).toEqual(parts.map((p) => p.name));
          const scan = scanArchive('app.jar', zip, {}, chunk);
          expect(scan.problems).toEqual([]);
          expect(poms(scan)).toEqual([
            APP_POM,
            ...nested.map((n) => `app.jar!/${n.entry.name} org.example:dep:${n.version}`),
          ]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('archives from the shared test writer (stored with unsigned descriptors, ZIP64 extras, prefixes) as well', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(entryArb, { minLength: 1, maxLength: 6, selector: (e) => e.name }),
        fc.uint8Array({ maxLength: 200 }).map((p) => p.filter((b) => b !== 0x50)),
        fc.array(fc.nat(10_000), { maxLength: 10 }),
        (entries, prefix, splits) => {
          // Deflated entries may use an unsigned descriptor: their end is found by inflating.
          const specs = entries.map((e) => ({
            name: e.name,
            data: e.data,
            method: e.method ?? 0,
            zip64: e.zip64 === true,
            ...(e.descriptor ? { descriptor: e.method === 8 ? ('unsigned' as const) : ('signed' as const) } : {}),
          }));
          const zip = makeZip(specs, prefix);
          const r = read(zip, splits);
          expect(r.error).toBeUndefined();
          expect(r.names).toEqual(specs.map((s) => s.name));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a stored entry with a descriptor, fed a few bytes at a time: the next header is not lost', () => {
    // The descriptor is only confirmed by the signature after it, so it can end inside bytes held from
    // earlier pieces; those bytes start the next header.
    const nested = { name: 'BOOT-INF/lib/dep-1.0.jar', data: build(APP).zip, method: 0 as const, descriptor: true };
    const zip = build([...APP, nested, pom('org.example', 'last', '3')]).zip;
    for (let chunk = 1; chunk <= 40; chunk++) {
      const scan = scanArchive('app.jar', zip, {}, chunk);
      expect(scan.problems, `pieces of ${chunk}`).toEqual([]);
      expect(poms(scan), `pieces of ${chunk}`).toEqual([
        APP_POM,
        'app.jar org.example:last:3',
        `app.jar!/${nested.name} com.example:app:1.0`,
      ]);
    }
  });

  it('an empty archive, and one with a comment', () => {
    expect(read(build([]).zip)).toEqual({ names: [], done: true });
    const commented = build([...APP, log4j], { comment: Buffer.from('built by hand') }).zip;
    expect(read(commented)).toEqual({ names: [...APP, log4j].map((e) => e.name), done: true });
    expect(scanArchive('app.jar', commented).problems).toEqual([]);
  });
});
