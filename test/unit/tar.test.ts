import fc from 'fast-check';
import tarStream from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { normaliseMemberPath, type TarEntry, TarReader } from '../../src/image/tar.js';

interface Spec {
  name: string;
  type: 'file' | 'directory' | 'symlink';
  data: Uint8Array;
  linkname: string;
}

/** Pack entries with tar-stream, an independent writer, so our reader is held against another implementation. */
async function pack(entries: readonly Spec[]): Promise<Buffer> {
  const p = tarStream.pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    if (e.type === 'file')
      p.entry(
        { name: e.name, size: e.data.length, mode: 0o644, mtime: new Date(1_700_000_000_000) },
        Buffer.from(e.data),
      );
    else if (e.type === 'directory') p.entry({ name: e.name, type: 'directory', mode: 0o755 });
    else p.entry({ name: e.name, type: 'symlink', linkname: e.linkname });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

function read(buf: Uint8Array, splits: readonly number[] = []): { entries: TarEntry[]; data: Map<string, Buffer> } {
  const entries: TarEntry[] = [];
  const data = new Map<string, Buffer>();
  const r = new TarReader({
    where: 'test.tar',
    onEntry: (e) => {
      entries.push(e);
      if (e.type !== 'file') return undefined;
      const parts: Buffer[] = [];
      return { write: (c) => parts.push(Buffer.from(c)), end: () => data.set(e.path, Buffer.concat(parts)) };
    },
  });
  let pos = 0;
  for (const s of [...splits].sort((a, b) => a - b)) {
    if (s <= pos || s >= buf.length) continue;
    r.push(buf.subarray(pos, s));
    pos = s;
  }
  r.push(buf.subarray(pos));
  r.finish();
  return { entries, data };
}

const segment = fc
  .stringMatching(/^[a-zA-Z0-9._-]{1,40}$/)
  .filter((s) => s !== '.' && s !== '..' && !s.startsWith('.wh.'));
const specArb = fc.record({
  name: fc.array(segment, { minLength: 1, maxLength: 6 }).map((p) => p.join('/')),
  type: fc.constantFrom('file' as const, 'directory' as const, 'symlink' as const),
  data: fc.uint8Array({ maxLength: 1500 }),
  linkname: fc.array(segment, { minLength: 1, maxLength: 3 }).map((p) => `../${p.join('/')}`),
});

describe('TarReader', () => {
  it('reads what tar-stream writes, whatever the chunking (long names, PAX, empty files)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(specArb, { maxLength: 12, selector: (s) => s.name }),
        fc.array(fc.nat(20_000)),
        async (specs, splits) => {
          const buf = await pack(specs);
          const { entries, data } = read(buf, splits);
          expect(entries.map((e) => e.path)).toEqual(specs.map((s) => s.name));
          for (const [i, s] of specs.entries()) {
            const e = entries[i] as TarEntry;
            expect(e.type).toBe(s.type === 'directory' ? 'dir' : s.type);
            if (s.type === 'file') {
              expect(e.size).toBe(s.data.length);
              expect(data.get(s.name)?.equals(Buffer.from(s.data))).toBe(true);
            }
            if (s.type === 'symlink') expect(e.linkname).toBe(s.linkname);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never crashes on random bytes: either entries or a typed LAYER_INVALID error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 4096 }), (bytes) => {
        try {
          read(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(PortcullisError);
          expect((err as PortcullisError).code).toBe('LAYER_INVALID');
          expect((err as Error).message).not.toContain('\n');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never crashes on mutated real archives', async () => {
    const base = await pack([
      { name: 'etc/passwd', type: 'file', data: Buffer.from('root:x:0:0::/root:/bin/sh\n'), linkname: '' },
      { name: `${'deep/'.repeat(30)}file`, type: 'file', data: Buffer.alloc(700, 7), linkname: '' },
      { name: 'bin/sh', type: 'symlink', data: new Uint8Array(), linkname: 'busybox' },
    ]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (muts) => {
          const copy = Buffer.from(base);
          for (const [at, v] of muts) copy[at] = v;
          try {
            read(copy);
          } catch (err) {
            expect((err as PortcullisError).code).toBe('LAYER_INVALID');
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses path traversal and absolute names with a one-line error naming the entry', async () => {
    for (const name of ['../../etc/shadow', 'a/../../x', '/etc/passwd']) {
      const header = Buffer.alloc(512);
      header.write(name, 0);
      header.write('0000644\0', 100);
      header.write('0000000\0', 108);
      header.write('0000000\0', 116);
      header.write('00000000000\0', 124);
      header.write('00000000000\0', 136);
      header.write('0', 156);
      header.write('ustar\0', 257);
      header.write('00', 263);
      header.write('        ', 148);
      let sum = 0;
      for (const b of header) sum += b;
      header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
      const tar = Buffer.concat([header, Buffer.alloc(1024)]);
      expect(() => read(tar)).toThrow(/escapes the image root|absolute path/);
    }
  });

  it('refuses a lone zero block followed by a header, as Go archive/tar (containerd, Docker) does', async () => {
    const buf = await pack([
      { name: 'a', type: 'file', data: Buffer.alloc(2000, 1), linkname: '' },
      { name: 'b', type: 'file', data: Buffer.from('hidden'), linkname: '' },
    ]);
    const cut = 512 + 2048; // after a's header and its padded data
    const spliced = Buffer.concat([buf.subarray(0, cut), Buffer.alloc(512), buf.subarray(cut)]);
    expect(() => read(spliced)).toThrow(/lone zero block before the tar header at byte 3072/);
    expect(read(buf).entries.map((e) => e.path)).toEqual(['a', 'b']);
  });

  it('reports a truncated archive', async () => {
    const buf = await pack([{ name: 'a', type: 'file', data: Buffer.alloc(2000, 1), linkname: '' }]);
    expect(() => read(buf.subarray(0, 1000))).toThrow(/truncated at byte 1000/);
  });

  it('reads GNU base-256 fields with their sign, as Go archive/tar: a negative mtime is a date, a negative size bad', async () => {
    const buf = await pack([{ name: 'a', type: 'file', data: Buffer.from('hi'), linkname: '' }]);
    const withField = (at: number, bytes: number[]): Buffer => {
      const h = Buffer.from(buf);
      Buffer.from(bytes).copy(h, at);
      h.write('        ', 148, 'latin1');
      let sum = 0;
      for (const b of h.subarray(0, 512)) sum += b;
      h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      return h;
    };
    // -1 and -2 in 12-byte two's complement, with the base-256 marker bit.
    const minus = (n: number) => [0xff, ...Array(10).fill(0xff), 0x100 - n];
    expect(read(withField(136, minus(2))).entries[0]?.mtime).toBe(-2);
    expect(() => read(withField(124, minus(1)))).toThrow(/negative size in tar header/);
  });

  it('refuses oversized PAX headers instead of buffering them', () => {
    const header = Buffer.alloc(512);
    header.write('PaxHeader', 0);
    header.write('0000644\0', 100);
    header.write((64 * 1024 * 1024).toString(8).padStart(11, '0'), 124);
    header.write('x', 156);
    header.write('ustar\0', 257);
    header.write('        ', 148);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    expect(() => read(header)).toThrow(/extended header of 67108864 bytes exceeds/);
  });
});

describe('normaliseMemberPath', () => {
  it.each([
    ['./etc/passwd', 'etc/passwd'],
    ['etc//x/./y', 'etc/x/y'],
    ['a/b/../c', 'a/c'],
    ['./', ''],
  ])('%s -> %s', (input, out) => {
    expect(normaliseMemberPath(input, 't')).toBe(out);
  });
});
