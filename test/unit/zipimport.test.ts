import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { importPath } from '../../src/advisories/import.js';
import {
  DEFAULT_ZIP_LIMITS,
  readZipDocuments,
  readZipSource,
  type ZipLimits,
  type ZipSource,
} from '../../src/advisories/zipimport.js';
import { PortcullisError } from '../../src/errors.js';
import { AdvisoryDb, AdvisoryDbWriter } from '../../src/store/advisorydb.js';
import { advisoryData } from '../helpers/paths.js';

let tmp: string;
let records: string;
let names: string[];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-zipimport-'));
  // 25 real GHSA records, written as osv.dev's export holds them: one file per advisory at the top level.
  records = join(tmp, 'records');
  mkdirSync(records);
  const ghsa = join(advisoryData(), 'ghsa');
  names = readdirSync(ghsa).sort().slice(0, 25);
  for (const n of names) copyFileSync(join(ghsa, n), join(records, n));
});

function py(script: string, ...args: string[]): void {
  execFileSync('python3', ['-c', script, ...args], { stdio: 'pipe' });
}

interface Read {
  docs: Map<string, string>;
  ignored: string[];
  refused: string[];
}

function read(file: string, limits: ZipLimits = DEFAULT_ZIP_LIMITS): Read {
  const out: Read = { docs: new Map(), ignored: [], refused: [] };
  readZipDocuments(
    file,
    'test.zip',
    {
      document: (name, text) => out.docs.set(name, text),
      ignored: (name) => out.ignored.push(name),
      refused: (name, reason) => out.refused.push(`${name}: ${reason}`),
    },
    limits,
  );
  return out;
}

function refusal(fn: () => unknown): PortcullisError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PortcullisError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

/** Entry names and contents as unzip (Info-ZIP) itself lists and extracts them: the oracle. */
function unzipOracle(file: string): Map<string, string> {
  const list = execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' }).split('\n').filter(Boolean);
  return new Map(
    list
      .filter((n) => n.endsWith('.json'))
      .map((n) => [n, execFileSync('unzip', ['-p', file, n], { encoding: 'utf8' })]),
  );
}

/** A zip with the given entries, deflated and described truthfully: the base for hand-made hostile variants. */
function miniZip(entries: { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const comp = deflateRawSync(e.data);
    const name = Buffer.from(e.name);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(8, 8);
    h.writeUInt32LE(crc32(e.data), 14);
    h.writeUInt32LE(comp.length, 18);
    h.writeUInt32LE(e.data.length, 22);
    h.writeUInt16LE(name.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(8, 10);
    c.writeUInt32LE(crc32(e.data), 16);
    c.writeUInt32LE(comp.length, 20);
    c.writeUInt32LE(e.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(offset, 42);
    locals.push(h, name, comp);
    centrals.push(c, name);
    offset += 30 + name.length + comp.length;
  }
  return Buffer.concat([...locals, ...centrals, eocd(entries.length, Buffer.concat(centrals).length, offset)]);
}

function eocd(count: number, size: number, offset: number): Buffer {
  const b = Buffer.alloc(22);
  b.writeUInt32LE(0x06054b50, 0);
  b.writeUInt16LE(count, 8);
  b.writeUInt16LE(count, 10);
  b.writeUInt32LE(size, 12);
  b.writeUInt32LE(offset, 16);
  return b;
}

function memory(b: Buffer): ZipSource {
  return {
    size: b.length,
    read: (pos, len) => {
      if (pos < 0 || pos + len > b.length) throw new Error(`read outside the buffer: ${pos}+${len}`);
      return b.subarray(pos, pos + len);
    },
  };
}

describe('zip exports read through the central directory, held against unzip', () => {
  it('reads an archive made by Info-ZIP zip exactly as unzip does', () => {
    const file = join(tmp, 'infozip.zip');
    execFileSync('zip', ['-q', '-X', file, ...names], { cwd: records });
    const got = read(file);
    expect(got.docs).toEqual(unzipOracle(file));
    expect(got.docs.size).toBe(25);
  });

  it('reads a streamed archive (data descriptors after each entry) as unzip does', () => {
    const file = join(tmp, 'streamed.zip');
    // Output to a pipe: zip cannot seek back, so sizes and CRC follow the data in descriptors.
    writeFileSync(file, execFileSync('zip', ['-q', '-', ...names.slice(0, 5)], { cwd: records }));
    expect(readFileSync(file).readUInt16LE(6) & 8).toBe(8);
    expect(read(file).docs).toEqual(unzipOracle(file));
  });

  it('reads a ZIP64 archive of 70,000 entries made by Python zipfile', () => {
    const file = join(tmp, 'zip64.zip');
    py(
      `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    for i in range(70000): z.writestr(f'r{i:05}.json', '{"n": %d}' % i)`,
      file,
    );
    const got = read(file);
    expect(got.docs.size).toBe(70_000);
    expect(got.docs.get('r69999.json')).toBe('{"n": 69999}');
  });

  it('reports entries that are no JSON, and refuses methods it cannot decode, without failing the archive', () => {
    const file = join(tmp, 'mixed.zip');
    py(
      `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('dir/', '')
    z.writestr('README.txt', 'hello')
    z.writestr('a.json', '{"id": "A"}')
    z.writestr('b.json', '{"id": "B"}', compress_type=zipfile.ZIP_BZIP2)`,
      file,
    );
    const got = read(file);
    expect([...got.docs.keys()]).toEqual(['a.json']);
    expect(got.ignored).toEqual(['README.txt']);
    expect(got.refused).toEqual(['b.json: compression method 12 is not supported']);
  });

  it('never uses entry names as paths: a traversing name is only a label', () => {
    const file = join(tmp, 'traversal.zip');
    py(
      `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z: z.writestr('../../../tmp/evil.json', '{"id": "E"}')`,
      file,
    );
    const before = readdirSync(tmp).sort();
    expect([...read(file).docs.keys()]).toEqual(['../../../tmp/evil.json']);
    expect(readdirSync(tmp).sort()).toEqual(before);
  });
});

describe('zip bombs and damaged archives are refused with one line naming archive and entry', () => {
  const zerosZip = (name: string, mib: number): string => {
    const file = join(tmp, name);
    py(
      `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('ok.json', '{"id": "OK"}')
    z.writestr('zeros.json', bytes(int(sys.argv[2]) * 1024 * 1024))`,
      file,
      String(mib),
    );
    return file;
  };

  it('refuses a deflate stream of zeros by its ratio before inflating it', () => {
    const file = zerosZip('zeros.zip', 50);
    const compressed = readFileSync(file).length;
    expect(compressed).toBeLessThan(100_000); // 50 MiB in about 50 KB: a bomb
    const e = refusal(() => read(file));
    expect(e.code).toBe('DECOMPRESSION_BOMB');
    expect(e.message).toMatch(/^test\.zip!zeros\.json: declares 52428800 bytes from \d+, more than 100:1/);
    expect(e.message).not.toContain('\n');
  });

  it('stops inflating at the declared size when the headers lie about it', () => {
    const buf = readFileSync(zerosZip('liar.zip', 50));
    // Declare 2000 bytes in both headers: the ratio looks harmless, the data is not.
    const central = buf.lastIndexOf(Buffer.from('zeros.json')) - 46;
    const local = buf.indexOf(Buffer.from('zeros.json')) - 30;
    buf.writeUInt32LE(2000, central + 24);
    buf.writeUInt32LE(2000, local + 22);
    const e = refusal(() => readZipSource(memory(buf), 'liar.zip', { document() {}, ignored() {}, refused() {} }));
    expect(e.code).toBe('DECOMPRESSION_BOMB');
    expect(e.message).toMatch(/^liar\.zip!zeros\.json: inflates past its declared 2000 bytes/);
  });

  it('refuses overlapping entries (a non-recursive zip bomb), as unzip does', () => {
    // Fifield's construction: each file's deflate data quotes the next local header in a stored block and then
    // runs into the next file's data, so every file inflates the same kernel (ref: https://www.bamsoftware.com/hacks/zipbomb/).
    // An incompressible kernel, so no entry's ratio gives it away: only the overlap does.
    const kernelSize = 256 * 1024;
    const plain = randomBytes(kernelSize);
    const kernel = deflateRawSync(plain);
    const files = 8;
    const nameOf = (i: number): Buffer => Buffer.from(`f${i}.json`);
    const headers: Buffer[] = new Array(files);
    let after = kernel.length; // compressed bytes after file i's local header
    let inflated = kernelSize;
    let tail: Buffer = plain; // what file i inflates to
    for (let i = files - 1; i >= 0; i--) {
      const h = Buffer.alloc(30 + nameOf(i).length);
      h.writeUInt32LE(0x04034b50, 0);
      h.writeUInt16LE(20, 4);
      h.writeUInt16LE(8, 8);
      h.writeUInt32LE(crc32(tail), 14);
      h.writeUInt32LE(after, 18);
      h.writeUInt32LE(inflated, 22);
      h.writeUInt16LE(nameOf(i).length, 26);
      nameOf(i).copy(h, 30);
      headers[i] = h;
      if (i > 0) {
        // The quote before header i: a non-final stored block of its length.
        after += 5 + h.length;
        inflated += h.length;
        tail = Buffer.concat([h, tail]);
      }
    }
    const parts: Buffer[] = [];
    const offsets: number[] = [];
    let pos = 0;
    for (let i = 0; i < files; i++) {
      const h = headers[i] as Buffer;
      offsets.push(pos);
      parts.push(h);
      pos += h.length;
      const next = headers[i + 1];
      if (next) {
        const q = Buffer.from([
          0,
          next.length & 0xff,
          next.length >> 8,
          ~next.length & 0xff,
          (~next.length >> 8) & 0xff,
        ]);
        parts.push(q);
        pos += 5;
      }
    }
    parts.push(kernel);
    pos += kernel.length;
    const centrals = headers.map((h, i) => {
      const c = Buffer.alloc(46 + nameOf(i).length);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE(20, 4);
      c.writeUInt16LE(20, 6);
      c.writeUInt16LE(8, 10);
      h.copy(c, 16, 14, 26); // crc, sizes
      c.writeUInt16LE(nameOf(i).length, 28);
      c.writeUInt32LE(offsets[i] as number, 42);
      nameOf(i).copy(c, 46);
      return c;
    });
    const cd = Buffer.concat(centrals);
    const bomb = Buffer.concat([...parts, cd, eocd(files, cd.length, pos)]);
    const file = join(tmp, 'overlap.zip');
    writeFileSync(file, bomb);
    // The oracle: unzip sees the same archive as a bomb.
    const unzip = (() => {
      try {
        execFileSync('unzip', ['-t', file], { stdio: 'pipe' });
        return '';
      } catch (err) {
        return String((err as { stderr?: Buffer }).stderr ?? '') + String((err as { stdout?: Buffer }).stdout ?? '');
      }
    })();
    expect(unzip).toMatch(/overlapped components \(possible zip bomb\)/);
    const e = refusal(() => read(file));
    expect(e.code).toBe('DECOMPRESSION_BOMB');
    expect(e.message).toMatch(/^test\.zip!f0\.json: overlaps entry f1\.json \(overlapping entries\)/);
  });

  it('does not open nested archives: a bomb inside a zip is an entry that is not read', () => {
    const inner = zerosZip('inner.zip', 50);
    const outer = join(tmp, 'outer.zip');
    writeFileSync(join(tmp, 'real.json'), '{"id": "R"}');
    execFileSync('zip', ['-q', '-0', '-j', outer, inner, join(tmp, 'real.json')]);
    const got = read(outer);
    expect([...got.docs.keys()]).toEqual(['real.json']);
    expect(got.ignored).toEqual(['inner.zip']);
  });

  it('enforces the entry-size, total, entry-count and ratio limits', () => {
    const file = join(tmp, 'limits.zip');
    execFileSync('zip', ['-q', '-X', file, ...names], { cwd: records });
    const sizes = names.map((n) => readFileSync(join(records, n)).length);
    const biggest = Math.max(...sizes);
    const total = sizes.reduce((a, b) => a + b, 0);
    const limit = (l: Partial<ZipLimits>) => refusal(() => read(file, { ...DEFAULT_ZIP_LIMITS, ...l }));
    expect(limit({ maxEntryBytes: biggest - 1 }).message).toMatch(/over the \d+-byte limit for one entry/);
    expect(limit({ maxTotalBytes: total - 1 }).message).toMatch(/more than the \d+-byte limit in all/);
    expect(limit({ maxEntries: 24 }).message).toMatch(/^test\.zip: declares 25 entries, over the limit of 24/);
    expect(limit({ maxRatio: 1.5, ratioFloorBytes: 0 }).message).toMatch(/more than 1\.5:1/);
    expect(read(file, { ...DEFAULT_ZIP_LIMITS, maxEntryBytes: biggest, maxTotalBytes: total }).docs.size).toBe(25);
  });

  it('refuses a truncated archive, damaged data and a file that is no zip', () => {
    const file = join(tmp, 'whole.zip');
    execFileSync('zip', ['-q', '-X', file, ...names], { cwd: records });
    const whole = readFileSync(file);
    const cut = refusal(() => readZipSource(memory(whole.subarray(0, whole.length >> 1)), 'cut.zip', sinkNone));
    expect(cut.code).toBe('ZIP_INVALID');
    expect(cut.message).toMatch(/^cut\.zip: no end of central directory record/);
    const damaged = Buffer.from(whole);
    const at = damaged.indexOf(Buffer.from(names[3] as string)) + (names[3] as string).length + 40;
    damaged[at] = (damaged[at] as number) ^ 0x55;
    const bad = refusal(() => readZipSource(memory(damaged), 'bad.zip', sinkNone));
    expect(bad.code).toBe('ZIP_INVALID');
    expect(bad.message).toMatch(
      new RegExp(
        `^bad\\.zip!${(names[3] as string).replace(/\./g, '\\.')}: (CRC-32 mismatch|invalid deflate data|holds \\d+ bytes)`,
      ),
    );
    const notZip = refusal(() => readZipSource(memory(Buffer.from('{"id": "not a zip"}')), 'x.zip', sinkNone));
    expect(notZip.code).toBe('ZIP_INVALID');
  });

  it('never fails other than with a typed refusal, whatever the bytes (fuzz)', () => {
    const base = miniZip([
      { name: 'a.json', data: Buffer.from('{"id": "A", "x": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}') },
      { name: 'b.json', data: Buffer.from('{"id": "B"}') },
      { name: 'c.txt', data: Buffer.from('c') },
    ]);
    expect(
      (() => {
        const docs: string[] = [];
        readZipSource(memory(base), 'm.zip', { document: (n) => docs.push(n), ignored() {}, refused() {} });
        return docs;
      })(),
    ).toEqual(['a.json', 'b.json']);
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(base.length - 1), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 8 }),
        fc.option(fc.nat(base.length), { nil: undefined }),
        (edits, cutAt) => {
          const b = Buffer.from(base);
          for (const e of edits) b[e.at] = e.value;
          const input = cutAt === undefined ? b : b.subarray(0, cutAt);
          try {
            readZipSource(memory(input), 'f.zip', { document() {}, ignored() {}, refused() {} });
          } catch (err) {
            if (!(err instanceof PortcullisError)) throw err;
            expect(['ZIP_INVALID', 'DECOMPRESSION_BOMB']).toContain(err.code);
            expect(err.message).not.toContain('\n');
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

const sinkNone = { document() {}, ignored() {}, refused() {} };

describe('db import of zip exports', () => {
  it('imports a zip and a directory holding one, naming entries archive!entry', async () => {
    const dir = join(tmp, 'import-dir');
    mkdirSync(dir);
    execFileSync('zip', ['-q', '-X', join(dir, 'all.zip'), ...names.slice(0, 20)], { cwd: records });
    copyFileSync(join(records, names[20] as string), join(dir, names[20] as string));
    writeFileSync(join(dir, 'broken.json'), '{"id": "GHSA-xxxx-xxxx-xxxx"}');
    const db = join(tmp, 'import.db');
    const writer = new AdvisoryDbWriter(db);
    const stats = await importPath(dir, writer);
    writer.commit();
    expect(stats.records).toBe(21);
    expect(stats.refused.map((r) => r.where)).toEqual([join(dir, 'broken.json')]);
    const store = AdvisoryDb.open(db);
    expect(store.counts().advisories).toBe(21);
    store.close();
  });

  it('commits nothing when an archive is a bomb: the previous database stays', async () => {
    const db = join(tmp, 'keep.db');
    const first = new AdvisoryDbWriter(db);
    await importPath(join(records, names[0] as string), first);
    first.commit();
    const before = readFileSync(db);
    const writer = new AdvisoryDbWriter(db);
    const bomb = zerosZipFile();
    await expect(importPath(bomb, writer)).rejects.toMatchObject({ code: 'DECOMPRESSION_BOMB' });
    writer.abort();
    expect(readFileSync(db).equals(before)).toBe(true);
  });
});

function zerosZipFile(): string {
  const file = join(tmp, 'import-bomb.zip');
  py(
    `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z: z.writestr('x.json', bytes(30 * 1024 * 1024))`,
    file,
  );
  return file;
}
