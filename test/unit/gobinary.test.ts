import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuildInfoScanner, decodeBlob, readBuildInfo } from '../../src/inventory/catalogers/go/buildinfo.js';
import { MAX_HEAD_BYTES, planScan } from '../../src/inventory/catalogers/go/exe.js';
import { goUnquotePrefix, parseModInfo } from '../../src/inventory/catalogers/go/modinfo.js';
import { goBinaryCataloger, goPurl, packagesOf, stdlibVersion } from '../../src/inventory/catalogers/gobinary.js';
import { catalogTestLayers, type LayerEntry } from '../helpers/layers.js';

// Hand-made executables for edge cases; the real-binary oracle is test/integration/gobinary-oracle.test.ts.
const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
// cmd/go modload infoStart / infoEnd.
const INFO_START = Buffer.from('3077af0c9274080241e1c107e6d618e6', 'hex');
const INFO_END = Buffer.from('f932433186182072008242104116d8f2', 'hex');

function uvarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** The Go 1.18+ inline blob: 32-byte header, then the version and the framed module info. */
function inlineBlob(version: string, modinfo: string, framed = true): Buffer {
  const header = Buffer.alloc(32);
  MAGIC.copy(header);
  header[14] = 8;
  header[15] = 2;
  const mod = framed ? Buffer.concat([INFO_START, Buffer.from(modinfo), INFO_END]) : Buffer.from(modinfo);
  const v = Buffer.from(version);
  return Buffer.concat([header, uvarint(v.length), v, uvarint(mod.length), mod]);
}

function pointerBlob(ptrSize: number): Buffer {
  const header = Buffer.alloc(32);
  MAGIC.copy(header);
  header[14] = ptrSize;
  header[15] = 0;
  return header;
}

interface ElfOptions {
  readonly is64?: boolean;
  readonly le?: boolean;
  /** Bytes of the writable PT_LOAD segment. */
  readonly data: Buffer;
  /** Bytes of a read-only segment before it (decoys there must be ignored). */
  readonly rodata?: Buffer;
  readonly dataVaddr?: number;
}

/** A minimal ELF executable: header, two program headers (R and RW PT_LOAD), the segments. */
function makeElf(o: ElfOptions): Buffer {
  const is64 = o.is64 ?? true;
  const le = o.le ?? true;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const rodata = o.rodata ?? Buffer.alloc(256, 0x41);
  const roOff = 0x1000;
  const dataOff = roOff + Math.ceil(rodata.length / 0x1000) * 0x1000 + 0x1000;
  const out = Buffer.alloc(dataOff + o.data.length);
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1], 0);
  const w16 = (v: number, at: number) => (le ? out.writeUInt16LE(v, at) : out.writeUInt16BE(v, at));
  const w32 = (v: number, at: number) => (le ? out.writeUInt32LE(v, at) : out.writeUInt32BE(v, at));
  const w64 = (v: number, at: number) =>
    le ? out.writeBigUInt64LE(BigInt(v), at) : out.writeBigUInt64BE(BigInt(v), at);
  const wa = is64 ? w64 : w32;
  w16(2, 16); // ET_EXEC
  wa(ehsize, is64 ? 0x20 : 0x1c);
  w16(phentsize, is64 ? 0x36 : 0x2a);
  w16(2, is64 ? 0x38 : 0x2c);
  const segs = [
    { flags: 4, off: roOff, vaddr: 0x400000 + roOff, size: rodata.length },
    { flags: 6, off: dataOff, vaddr: o.dataVaddr ?? 0x600000 + dataOff, size: o.data.length },
  ];
  segs.forEach((s, i) => {
    const p = ehsize + i * phentsize;
    w32(1, p);
    if (is64) {
      w32(s.flags, p + 4);
      w64(s.off, p + 8);
      w64(s.vaddr, p + 16);
      w64(s.size, p + 32);
      w64(s.size, p + 40);
    } else {
      w32(s.off, p + 4);
      w32(s.vaddr, p + 8);
      w32(s.size, p + 16);
      w32(s.size, p + 20);
      w32(s.flags, p + 24);
    }
  });
  rodata.copy(out, roOff);
  o.data.copy(out, dataOff);
  return out;
}

/** Writable data with `blob` at `at` (a multiple of 16 for a real Go binary). */
function dataWith(blob: Buffer, at = 0, size = 8192): Buffer {
  const d = Buffer.alloc(Math.max(size, at + blob.length + 64), 0x11);
  blob.copy(d, at);
  return d;
}

const MODINFO = [
  'path\texample.com/hello',
  'mod\texample.com/hello\t(devel)\t',
  'dep\tgithub.com/google/uuid\tv1.6.0\th1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=',
  'dep\tgithub.com/pkg/errors\tv0.9.1',
  '=>\tgithub.com/pkg/errors\tv0.8.1\th1:iURUrRGxPUNPdy5/HRSm+Yj6okJ6UtLINN0Q9M4+h3I=',
  'build\t-ldflags="-s -w"',
  'build\tGOARCH=amd64',
  'build\tGOOS=linux',
  '',
].join('\n');

describe('planScan: where the build info can be', () => {
  it('takes the writable PT_LOAD segments of 64-bit little-endian and 32-bit big-endian ELF', () => {
    for (const [is64, le] of [
      [true, true],
      [false, false],
    ] as const) {
      const elf = makeElf({ is64, le, data: Buffer.alloc(4096) });
      const plan = planScan(elf.subarray(0, 4096));
      expect(plan).toEqual({ kind: 'plan', format: 'elf', ranges: [{ start: 0x3000, end: 0x4000, vaddrMod16: 0 }] });
    }
  });

  it('asks for more bytes for a short head, and gives up on what is not a plausible executable', () => {
    const elf = makeElf({ data: Buffer.alloc(16) });
    expect(planScan(elf.subarray(0, 3))).toEqual({ kind: 'need', bytes: 64 });
    expect(planScan(elf.subarray(0, 80))).toEqual({ kind: 'need', bytes: 64 + 2 * 56 });
    expect(planScan(Buffer.from('#!/bin/sh\necho hello\n'))).toEqual({ kind: 'none' });
    const xnum = Buffer.from(elf);
    xnum.writeUInt16LE(0xffff, 0x38); // PN_XNUM: the real count lives in the section headers
    expect(planScan(xnum)).toEqual({ kind: 'none' });
    const far = Buffer.from(elf);
    far.writeBigUInt64LE(BigInt(MAX_HEAD_BYTES), 0x20); // program headers beyond the head cap
    expect(planScan(far)).toEqual({ kind: 'none' });
    const small = Buffer.from(elf);
    small.writeUInt16LE(8, 0x36);
    expect(planScan(small)).toEqual({ kind: 'none' });
  });
});

describe('BuildInfoScanner on hand-made executables', () => {
  const blob = inlineBlob('go1.22.5', MODINFO);

  it('reads the inline format in 64-bit LE and 32-bit BE ELF', () => {
    for (const [is64, le] of [
      [true, true],
      [false, false],
    ] as const) {
      const r = readBuildInfo(makeElf({ is64, le, data: dataWith(blob, 48) }));
      expect(r).toEqual({ kind: 'inline', format: 'elf', goVersion: 'go1.22.5', modinfo: MODINFO });
    }
  });

  it('skips misaligned magics and magics outside writable segments, like Go', () => {
    const data = dataWith(blob, 64);
    MAGIC.copy(data, 5); // misaligned decoy
    const rodata = Buffer.alloc(4096, 0);
    inlineBlob('go0.0.0', 'decoy\n').copy(rodata, 0);
    const r = readBuildInfo(makeElf({ data, rodata }));
    expect(r).toMatchObject({ goVersion: 'go1.22.5' });
  });

  it('aligns by virtual address, not by file offset', () => {
    // The segment starts at vaddr ...8, so file offset 8 in it is the first 16-byte aligned address.
    const data = dataWith(blob, 8);
    const r = readBuildInfo(makeElf({ data, dataVaddr: 0x601008 }));
    expect(r).toMatchObject({ goVersion: 'go1.22.5' });
    expect(readBuildInfo(makeElf({ data: dataWith(blob, 16), dataVaddr: 0x601008 }))).toBeUndefined();
  });

  it('gives the same result whatever the chunking', () => {
    const elf = makeElf({ data: dataWith(blob, 4096 + 16 * 7) });
    const whole = readBuildInfo(elf);
    expect(whole).toMatchObject({ kind: 'inline' });
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 64 }), (sizes) => {
        const s = new BuildInfoScanner();
        let i = 0;
        for (let k = 0; i < elf.length; k++) {
          const n = sizes[k % sizes.length] as number;
          s.write(elf.subarray(i, i + n));
          i += n;
        }
        s.end();
        expect(s.result()).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });

  it('decides as soon as the blob is read, before the end of the file', () => {
    const elf = makeElf({ data: dataWith(blob, 0, 1 << 20) });
    const s = new BuildInfoScanner();
    s.write(elf.subarray(0, 0x3000 + blob.length));
    expect(s.result()).toMatchObject({ kind: 'inline', goVersion: 'go1.22.5' });
  });

  it('reports the pre-1.18 pointer format, truncation and over-long strings; not Go gives nothing', () => {
    expect(readBuildInfo(makeElf({ data: dataWith(pointerBlob(8)) }))).toEqual({ kind: 'pointer', format: 'elf' });
    expect(readBuildInfo(makeElf({ data: dataWith(pointerBlob(3)) }))).toBeUndefined();
    expect(readBuildInfo(makeElf({ data: dataWith(inlineBlob('', MODINFO)) }))).toBeUndefined();
    expect(readBuildInfo(makeElf({ data: Buffer.alloc(8192, 0x11) }))).toBeUndefined();
    const elf = makeElf({ data: blob.subarray(0, 60) });
    expect(readBuildInfo(elf)).toMatchObject({ kind: 'malformed', reason: 'the build info is cut short' });
    const huge = Buffer.concat([blob.subarray(0, 32), uvarint(2000), Buffer.alloc(2000, 0x61)]);
    expect(readBuildInfo(makeElf({ data: dataWith(huge) }))).toMatchObject({
      kind: 'malformed',
      reason: 'toolchain version is over the 1024-byte limit',
    });
    const overlong = Buffer.concat([blob.subarray(0, 32), Buffer.alloc(12, 0x80)]);
    expect(readBuildInfo(makeElf({ data: dataWith(overlong) }))).toMatchObject({ kind: 'malformed' });
    expect(readBuildInfo(Buffer.from('#!/bin/sh\nexec true\n'))).toBeUndefined();
    expect(readBuildInfo(Buffer.alloc(0))).toBeUndefined();
  });

  it('needs room for the 32-byte header inside the segment, and drops module info without its framing', () => {
    const tail = makeElf({ data: Buffer.concat([Buffer.alloc(16, 0x11), blob.subarray(0, 20)]) });
    expect(readBuildInfo(tail)).toBeUndefined();
    const unframed = readBuildInfo(makeElf({ data: dataWith(inlineBlob('go1.22.5', MODINFO, false)) }));
    expect(unframed).toMatchObject({ kind: 'inline', modinfo: '' });
  });

  it('decodeBlob asks for exactly the bytes it still needs', () => {
    expect(decodeBlob(blob.subarray(0, 10), 'elf')).toEqual({ need: 32 });
    expect(decodeBlob(blob.subarray(0, 32), 'elf')).toEqual({ need: 33 });
    expect(decodeBlob(blob.subarray(0, 35), 'elf')).toEqual({ need: 33 + 'go1.22.5'.length });
  });

  it('survives random and mutated input (fast-check)', () => {
    const base = makeElf({ data: dataWith(blob, 32) });
    const isResult = (r: unknown) =>
      r === undefined ||
      (typeof r === 'object' &&
        r !== null &&
        ['inline', 'pointer', 'malformed'].includes((r as { kind: string }).kind));
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 4096 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 700 }),
        (bytes, elfPrefix, chunk) => {
          const input = elfPrefix ? Buffer.concat([base.subarray(0, 64), bytes]) : Buffer.from(bytes);
          expect(isResult(readBuildInfo(input, chunk))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }),
        fc.nat({ max: base.length }),
        fc.integer({ min: 1, max: 4096 }),
        (flips, cut, chunk) => {
          const m = Buffer.from(base.subarray(0, Math.max(cut, 64)));
          for (const [at, v] of flips) if (at < m.length) m[at] = v;
          // Hit the header and the blob more often than the filler.
          for (const [at, v] of flips) m[(at % 200) + (at % 2 ? 0 : 0x3000)] = v;
          const r = readBuildInfo(m, chunk);
          expect(isResult(r)).toBe(true);
          if (r?.kind === 'inline') parseModInfo(r.modinfo);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('parseModInfo: the rules of runtime/debug.ParseBuildInfo', () => {
  it('parses path, main module, deps, replacements and quoted settings', () => {
    const r = parseModInfo(MODINFO);
    expect(r).toEqual({
      ok: true,
      info: {
        path: 'example.com/hello',
        main: { path: 'example.com/hello', version: '(devel)', sum: '' },
        deps: [
          {
            path: 'github.com/google/uuid',
            version: 'v1.6.0',
            sum: 'h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=',
          },
          {
            path: 'github.com/pkg/errors',
            version: 'v0.9.1',
            sum: '',
            replace: {
              path: 'github.com/pkg/errors',
              version: 'v0.8.1',
              sum: 'h1:iURUrRGxPUNPdy5/HRSm+Yj6okJ6UtLINN0Q9M4+h3I=',
            },
          },
        ],
        settings: [
          { key: '-ldflags', value: '-s -w' },
          { key: 'GOARCH', value: 'amd64' },
          { key: 'GOOS', value: 'linux' },
        ],
      },
    });
  });

  it.each([
    ['mod\tx\n', 1, 'expected 2 or 3 columns; got 1'],
    ['path\tp\ndep\ta\tb\tc\td\n', 2, 'expected 2 or 3 columns; got 4'],
    ['=>\ta\tb\tc\n', 1, 'replacement with no module on previous line'],
    ['dep\ta\tv1\n=>\tb\tv2\n', 2, 'expected 3 columns for replacement; got 2'],
    ['dep\ta\tv1\n=>\tb\tv2\t\n=>\tc\tv3\t\n', 3, 'replacement with no module on previous line'],
    ['build\t\n', 1, "build line missing '='"],
    ['build\t=x\n', 1, 'build line with missing key'],
    ['build\tkey\n', 1, "build line missing '=' after key"],
    ['build\ta b=c\n', 1, 'unquoted key "a b" must be quoted'],
    ['build\tk=a b\n', 1, 'unquoted value "a b" must be quoted'],
    ['build\tk="a\n', 1, 'invalid quoted value in build line'],
    ['build\t"k\n', 1, 'invalid quoted key in build line'],
    ['build\t"k"\n', 1, "build line missing '=' after quoted key"],
    ['build\t"k"x\n', 1, 'unexpected character after quoted key'],
  ])('rejects %j at line %i: %s', (text, line, message) => {
    expect(parseModInfo(text)).toEqual({ ok: false, line, message });
  });

  it('keeps quoted keys, backquoted values, unknown lines, and drops a last line without newline', () => {
    const r = parseModInfo('build\t"a b"=`x y`\ngo\tignored\nbuild\tGOOS=linux');
    expect(r).toEqual({ ok: true, info: { path: '', deps: [], settings: [{ key: 'a b', value: 'x y' }] } });
  });

  it('never throws on arbitrary text (fast-check)', () => {
    const line = fc.oneof(
      fc.string(),
      fc
        .tuple(fc.constantFrom('path', 'mod', 'dep', '=>', 'build'), fc.array(fc.string(), { maxLength: 4 }))
        .map(([k, cols]) => [k, ...cols].join('\t')),
      fc.tuple(fc.string(), fc.string()).map(([k, v]) => `build\t${k}="${v}"`),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), (lines) => {
        const r = parseModInfo(lines.join('\n'));
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 1000 },
    );
  });
});

describe('goUnquotePrefix: Go string literals', () => {
  it.each([
    ['"plain"', 'plain', 7],
    ['"a\\tb\\n\\\\\\"" tail', 'a\tb\n\\"', 12],
    ['"\\x41\\101\\u00e9\\U0001F600"', 'AAé😀', 26],
    ['"\\a\\b\\f\\v\\r"', '\x07\b\f\v\r', 12],
    ['`raw \\n\r"`=', 'raw \\n"', 10],
  ])('%j → %j', (text, value, length) => {
    expect(goUnquotePrefix(text)).toEqual({ value, length });
  });

  it.each(['"', '"abc', '"a\nb"', '"\\q"', '"\\x4"', '"\\400"', '"\\uD800"', '"\\U00110000"', '`abc', 'x'])(
    'rejects %j',
    (text) => {
      expect(goUnquotePrefix(text)).toBeUndefined();
    },
  );

  it('reverses JSON-style quoting of any valid string, and never throws (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }).filter((s) => !/\p{Cs}/u.test(s)),
        (s) => {
          const q = JSON.stringify(s);
          expect(goUnquotePrefix(`${q}=rest`)).toEqual({ value: s, length: q.length });
        },
      ),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        goUnquotePrefix(`"${s}`);
        goUnquotePrefix(`\`${s}`);
      }),
    );
  });
});

describe('packages of one binary', () => {
  const info = parseModInfo(MODINFO);
  if (!info.ok) throw new Error('fixture');

  it('reports the main module (marked devel), dependencies with replace applied, and stdlib', () => {
    const { packages, rejected } = packagesOf('go1.22.5 X:boringcrypto', info.info, [{ path: 'usr/bin/x', layer: 2 }]);
    expect(rejected).toEqual([]);
    expect(packages.map((p) => [p.name, p.version, p.purl])).toEqual([
      ['example.com/hello', '(devel)', 'pkg:golang/example.com/hello@(devel)'],
      ['github.com/google/uuid', 'v1.6.0', 'pkg:golang/github.com/google/uuid@v1.6.0'],
      ['github.com/pkg/errors', 'v0.8.1', 'pkg:golang/github.com/pkg/errors@v0.8.1'],
      ['stdlib', 'v1.22.5', 'pkg:golang/stdlib@v1.22.5'],
    ]);
    for (const p of packages) {
      expect(p).toMatchObject({
        type: 'golang',
        arch: 'amd64',
        layer: 2,
        locations: [{ path: 'usr/bin/x', layer: 2 }],
      });
    }
    expect(packages[0]?.metadata).toMatchObject({ main: true, devel: true, goVersion: 'go1.22.5 X:boringcrypto' });
    expect(packages[0]?.metadata?.['buildSettings']).toEqual({ '-ldflags': '-s -w', GOARCH: 'amd64', GOOS: 'linux' });
    expect(packages[2]?.metadata).toMatchObject({
      replaces: { path: 'github.com/pkg/errors', version: 'v0.9.1' },
      h1Digest: 'h1:iURUrRGxPUNPdy5/HRSm+Yj6okJ6UtLINN0Q9M4+h3I=',
    });
  });

  it('keeps the imported module path for a local-directory replacement', () => {
    const r = parseModInfo('dep\texample.com/greet\tv0.1.0\n=>\t./greet\t(devel)\t\n');
    if (!r.ok) throw new Error('fixture');
    const { packages } = packagesOf('go1.26.0', r.info, [{ path: 'bin/x', layer: 0 }]);
    expect(packages[0]).toMatchObject({
      name: 'example.com/greet',
      version: '(devel)',
      metadata: { replaces: { path: 'example.com/greet', version: 'v0.1.0' }, replacedBy: { path: './greet' } },
    });
  });

  it('keeps a hostile __proto__ build key as a plain key', () => {
    const r = parseModInfo('build\t__proto__=x\nbuild\tGOARCH=arm64\n');
    if (!r.ok) throw new Error('fixture');
    const std = packagesOf('go1.22.1', r.info, [{ path: 'a', layer: 0 }]).packages[0];
    const settings = std?.metadata?.['buildSettings'] as Record<string, string>;
    expect(Object.getPrototypeOf(settings)).toBe(Object.prototype);
    expect(Object.keys(settings)).toEqual(['__proto__', 'GOARCH']);
    expect(std?.arch).toBe('arm64');
  });

  it('refuses module paths that no purl can hold', () => {
    expect(goPurl('a/', 'v1')).toBeUndefined();
    const r = parseModInfo('dep\tbad/\tv1.0.0\t\ndep\tok.com/m\tv1.0.0\t\ndep\tok.com/n\tv1.0\t\n');
    if (!r.ok) throw new Error('fixture');
    const { packages, rejected } = packagesOf('go1.26.0', r.info, [{ path: 'bin/x', layer: 0 }]);
    expect(rejected).toEqual(['bad/', 'ok.com/n']); // packageurl-js wants semver after a leading v
    expect(packages.map((p) => p.name)).toEqual(['ok.com/m', 'stdlib']);
  });

  it.each([
    ['go1.22.5', 'v1.22.5'],
    ['go1.20', 'v1.20.0'],
    ['go1.21rc2', 'v1.21.0-rc.2'],
    ['go1.19beta1', 'v1.19.0-beta.1'],
    ['go1.24.1 X:nocoverageredesign', 'v1.24.1'],
    ['devel go1.23-abcdef Tue Jan 2 2024', undefined],
    ['go1.x', undefined],
  ])('stdlib version of %j is %j', (go, v) => {
    expect(stdlibVersion(go)).toBe(v);
  });
});

describe('goBinaryCataloger over a real layer walk', () => {
  async function walk(layers: LayerEntry[][]) {
    return catalogTestLayers(layers, [goBinaryCataloger]);
  }

  it('attributes packages to the layer of the binary, groups hardlinks, and notes unsupported formats', async () => {
    const go = makeElf({ data: dataWith(inlineBlob('go1.22.5', MODINFO)) });
    const newer = makeElf({ data: dataWith(inlineBlob('go1.23.1', MODINFO)) });
    const old = makeElf({ data: dataWith(pointerBlob(8)) });
    const bad = makeElf({ data: dataWith(inlineBlob('go1.22.5', 'path\tx\nmod\tonly-one-column\n')) });
    const contents = await walk([
      [
        { path: 'usr/bin/app', content: go, mode: 0o755 },
        { path: 'usr/bin/keep', content: go, mode: 0o755 },
        { path: 'usr/bin/old', content: old, mode: 0o755 },
        { path: 'usr/bin/notexec', content: go, mode: 0o644 },
        { path: 'usr/bin/script', content: `#!/bin/sh\n${'#'.repeat(2000)}\n`, mode: 0o755 },
        { path: 'usr/bin/tiny', content: go.subarray(0, 1000), mode: 0o755 },
      ],
      [
        { path: 'usr/bin/app', content: newer, mode: 0o755 },
        { path: 'usr/local/bin/app2', hardlink: 'usr/bin/app' },
        { path: 'usr/bin/bad', content: bad, mode: 0o755 },
      ],
    ]);
    const std = contents.packages.filter((p) => p.name === 'stdlib');
    expect(std.map((p) => [p.version, p.layer, p.locations])).toEqual([
      ['v1.22.5', 1, [{ path: 'usr/bin/bad', layer: 1 }]],
      ['v1.22.5', 0, [{ path: 'usr/bin/keep', layer: 0 }]],
      [
        'v1.23.1',
        1,
        [
          { path: 'usr/bin/app', layer: 1 },
          { path: 'usr/local/bin/app2', layer: 1 },
        ],
      ],
    ]);
    expect(contents.packages.filter((p) => p.locations[0]?.path === 'usr/bin/keep')).toHaveLength(4);
    expect([...contents.unknowns].sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      {
        path: 'usr/bin/bad',
        layer: 1,
        cataloger: 'go-binary',
        message: 'could not parse Go build info: line 2: expected 2 or 3 columns; got 1',
        fatal: false,
      },
      {
        path: 'usr/bin/old',
        layer: 0,
        cataloger: 'go-binary',
        message: 'Go build info in the pre-Go 1.18 pointer format is not supported',
        fatal: false,
      },
    ]);
  });

  it('asks for a stream only for executable files over 1 KiB', () => {
    const info = { path: 'x', type: 'file', mode: 0o755, uid: 0, gid: 0, size: 4096, mtime: 0, linkname: '', layer: 0 };
    expect(goBinaryCataloger.wants(info as never)?.kind).toBe('stream');
    expect(goBinaryCataloger.wants({ ...info, mode: 0o644 } as never)).toBeUndefined();
    expect(goBinaryCataloger.wants({ ...info, size: 1024 } as never)).toBeUndefined();
    expect(goBinaryCataloger.wants({ ...info, type: 'dir' } as never)).toBeUndefined();
  });
});
