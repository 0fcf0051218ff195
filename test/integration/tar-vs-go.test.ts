import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normaliseMemberPath, type TarEntry, TarReader } from '../../src/image/tar.js';
import { CACHE } from '../helpers/paths.js';

/**
 * Differential test: Portcullis's tar reader against Go's archive/tar (test/fixtures/tarlist, built by setup), the
 * reader container runtimes use. A layer must not show Portcullis one file system and the runtime another.
 */
const TARLIST = join(CACHE, 'go', 'bin', 'tarlist');

type Format = 'ustar' | 'gnu' | 'gnu-bad-atime' | 'star' | 'v7';
interface Spec {
  name: Uint8Array;
  flag: string;
  format: Format;
  split: boolean;
  /** decoy-*: a PAX value that differs from the GNU long name or link it travels with. */
  pax: 'none' | 'path' | 'empty-path' | 'empty-size' | 'empty-linkpath' | 'decoy-path' | 'decoy-linkpath';
  longName: 'none' | 'name' | 'empty';
  /** A GNU long link ('K') naming another target than the header's link field. */
  longLink: boolean;
  /** The GNU records before the PAX one, or after it. */
  gnuFirst: boolean;
  /** A PAX global header before the entry's extended headers, or between them and the entry. */
  global: 'none' | 'before' | 'after';
  /** How the entry header's size field is written (writers pad with spaces or NULs on either side). */
  sizeField: 'plain' | 'leading-nul' | 'leading-space' | 'embedded-space' | 'nul-then-garbage';
  link: string;
  data: Uint8Array;
}

function octal(buf: Buffer, at: number, len: number, v: number): void {
  buf.write(`${v.toString(8).padStart(len - 1, '0')}\0`, at, 'latin1');
}

/** A 12-byte size field written as `how` says. */
function sizeField(v: number, how: Spec['sizeField']): string {
  const o = v.toString(8);
  switch (how) {
    case 'plain':
      return `${o.padStart(11, '0')}\0`;
    case 'leading-nul':
      return `\0\0${o.padStart(9, '0')}\0`;
    case 'leading-space':
      return `  ${o.padStart(9, '0')} `;
    case 'embedded-space':
      return `00000 ${o.padStart(5, '0')}\0`;
    case 'nul-then-garbage':
      return `${o.padStart(10, '0')}\0x`;
  }
}

function header(
  name: Uint8Array,
  flag: string,
  size: number,
  link: string,
  format: Format,
  prefix?: Uint8Array,
  size12: Spec['sizeField'] = 'plain',
): Buffer {
  const h = Buffer.alloc(512);
  Buffer.from(name.subarray(0, 100)).copy(h, 0);
  octal(h, 100, 8, 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  h.write(sizeField(size, size12), 124, 'latin1');
  octal(h, 136, 12, 1_700_000_000);
  h.write(flag, 156, 'latin1');
  h.write(link.slice(0, 100), 157, 'latin1');
  if (format === 'ustar' || format === 'star') {
    h.write('ustar\0', 257, 'latin1');
    h.write('00', 263, 'latin1');
    if (format === 'star') h.write('tar\0', 508, 'latin1');
  } else if (format === 'gnu' || format === 'gnu-bad-atime') {
    h.write('ustar  \0', 257, 'latin1');
    if (format === 'gnu-bad-atime') h.write('xyz', 345, 'latin1');
  }
  if (prefix) Buffer.from(prefix).copy(h, 345);
  h.write('        ', 148, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function padded(data: Uint8Array): Buffer {
  const pad = (512 - (data.length % 512)) % 512;
  return Buffer.concat([Buffer.from(data), Buffer.alloc(pad)]);
}

function paxRecord(key: string, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value) : value;
  const body = Buffer.concat([Buffer.from(` ${key}=`), v, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function build(specs: readonly Spec[]): Buffer {
  const parts: Buffer[] = [];
  const globalHeader = (): Buffer[] => {
    const rec = paxRecord('comment', 'global');
    return [header(Buffer.from('GlobalHead'), 'g', rec.length, '', 'ustar'), padded(rec)];
  };
  for (const s of specs) {
    const gnu: Buffer[] = [];
    if (s.longName !== 'none') {
      const ln = s.longName === 'name' ? Buffer.concat([Buffer.from(s.name), Buffer.from([0])]) : Buffer.from([0]);
      gnu.push(header(Buffer.from('././@LongLink'), 'L', ln.length, '', 'gnu'), padded(ln));
    }
    if (s.longLink) {
      const ll = Buffer.from(`k${s.link}\0`);
      gnu.push(header(Buffer.from('././@LongLink'), 'K', ll.length, '', 'gnu'), padded(ll));
    }
    const pax: Buffer[] = [];
    if (s.pax !== 'none') {
      const rec =
        s.pax === 'path'
          ? paxRecord('path', Buffer.from(s.name))
          : s.pax === 'decoy-path'
            ? paxRecord('path', 'decoy/path')
            : s.pax === 'decoy-linkpath'
              ? paxRecord('linkpath', 'decoy-link')
              : paxRecord(s.pax === 'empty-path' ? 'path' : s.pax === 'empty-size' ? 'size' : 'linkpath', '');
      pax.push(header(Buffer.from('PaxHeader'), 'x', rec.length, '', 'ustar'), padded(rec));
    }
    if (s.global === 'before') parts.push(...globalHeader());
    parts.push(...(s.gnuFirst ? [...gnu, ...pax] : [...pax, ...gnu]));
    if (s.global === 'after') parts.push(...globalHeader());
    let name = s.name;
    let prefix: Uint8Array | undefined;
    if (s.split && name.length > 1) {
      const cut = name.lastIndexOf(0x2f, Math.min(name.length - 2, 154));
      if (cut > 0 && name.length - cut - 1 <= 100) {
        prefix = name.subarray(0, cut);
        name = name.subarray(cut + 1);
      }
    }
    parts.push(header(name, s.flag, s.data.length, s.link, s.format, prefix, s.sizeField), padded(s.data));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** What Go's archive/tar makes of the archive, with names cleaned the way Portcullis cleans them. */
function goView(tar: Buffer): { entries: string[] } | { error: string } {
  const r = spawnSync(TARLIST, [], { input: tar, encoding: 'utf8' });
  const lines = r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const err = lines.find((l) => l.error);
  if (err) return { error: err.error };
  const entries: string[] = [];
  for (const l of lines) {
    if (l.type === 'g') continue;
    // Runtimes (containerd, moby) refuse other types such as '7' (contiguous); Portcullis refuses them too.
    if (!['0', '1', '2', '5'].includes(l.type)) return { error: `type ${l.type} is not extracted by runtimes` };
    const raw = Buffer.from(l.name, 'hex');
    const type =
      l.type === '5'
        ? 'dir'
        : l.type === '2'
          ? 'symlink'
          : l.type === '1'
            ? 'hardlink'
            : l.type === '0'
              ? 'file'
              : l.type;
    let path: string;
    let link = '';
    try {
      path = normaliseMemberPath(decodeLikeUs(raw), 'go');
      // Hardlink targets are member names, cleaned as names are; symlink targets are kept as written.
      if (type === 'hardlink') link = normaliseMemberPath(decodeLikeUs(Buffer.from(l.link, 'hex')), 'go');
      if (type === 'symlink') link = decodeLikeUs(Buffer.from(l.link, 'hex'));
    } catch {
      return { error: 'name rejected by policy' };
    }
    if (path === '') continue;
    entries.push(`${type} ${path} ${type === 'file' ? l.data : link}`);
  }
  return { entries };
}

/** Portcullis's own view, in the same shape. */
function ourView(tar: Buffer): { entries: string[] } | { error: string } {
  const entries: string[] = [];
  try {
    const r = new TarReader({
      where: 't',
      onEntry: (e: TarEntry) => {
        if (e.type !== 'file') {
          entries.push(`${e.type} ${e.path} ${e.type === 'symlink' || e.type === 'hardlink' ? e.linkname : ''}`);
          return undefined;
        }
        const chunks: Buffer[] = [];
        return {
          write: (c) => chunks.push(Buffer.from(c)),
          end: () => entries.push(`file ${e.path} ${Buffer.concat(chunks).toString('hex')}`),
        };
      },
    });
    r.push(tar);
    r.finish();
  } catch (err) {
    return { error: (err as Error).message };
  }
  return { entries: entries.filter((e) => !/^\w+ {2}$/.test(e)) };
}

function decodeLikeUs(raw: Buffer): string {
  const s = raw.toString('utf8');
  if (Buffer.from(s, 'utf8').equals(raw)) return s;
  let out = '';
  for (const b of raw) out += b < 0x80 ? String.fromCharCode(b) : String.fromCharCode(0xdc00 + b);
  return out;
}

const segment = fc.oneof(
  fc.stringMatching(/^[a-z0-9_-]{1,30}$/),
  fc.constantFrom('é', 'ünïcødé', 'x\u00ff'),
  fc.constant('bad\udcff'),
);
const nameArb = fc.array(segment, { minLength: 1, maxLength: 8 }).map((parts) => {
  const bufs = parts.map((p) =>
    p.includes('\udcff') ? Buffer.concat([Buffer.from('bad'), Buffer.from([0xff])]) : Buffer.from(p),
  );
  return new Uint8Array(Buffer.concat(bufs.flatMap((b, i) => (i ? [Buffer.from('/'), b] : [b]))));
});
const specArb: fc.Arbitrary<Spec> = fc.record({
  name: fc
    .tuple(nameArb, fc.boolean())
    .map(([n, slash]) => (slash ? new Uint8Array(Buffer.concat([Buffer.from(n), Buffer.from('/')])) : n)),
  flag: fc.constantFrom('0', '\0', '7', '5', '2', '1'),
  format: fc.constantFrom<Format>('ustar', 'gnu', 'gnu-bad-atime', 'star', 'v7'),
  split: fc.boolean(),
  pax: fc.constantFrom<Spec['pax']>(
    'none',
    'path',
    'empty-path',
    'empty-size',
    'empty-linkpath',
    'decoy-path',
    'decoy-linkpath',
  ),
  longName: fc.constantFrom<Spec['longName']>('none', 'name', 'empty'),
  longLink: fc.boolean(),
  gnuFirst: fc.boolean(),
  global: fc.constantFrom<Spec['global']>('none', 'none', 'before', 'after'),
  sizeField: fc.constantFrom<Spec['sizeField']>(
    'plain',
    'plain',
    'leading-nul',
    'leading-space',
    'embedded-space',
    'nul-then-garbage',
  ),
  link: fc.stringMatching(/^[a-z/]{1,20}$/),
  data: fc.uint8Array({ maxLength: 700 }),
});

describe('tar reader against Go archive/tar', () => {
  it('sees the same entries, names and contents as the runtime would, for odd but valid headers', () => {
    if (!existsSync(TARLIST)) throw new Error(`${TARLIST} is missing: run 'npm run setup'`);
    fc.assert(
      fc.property(fc.array(specArb, { minLength: 1, maxLength: 5 }), (specs) => {
        const tar = build(specs);
        const go = goView(tar);
        const ours = ourView(tar);
        if ('error' in go) {
          expect('error' in ours, `Go rejects (${go.error}) but Portcullis accepts`).toBe(true);
          return;
        }
        expect(ours).toEqual(go);
      }),
      { numRuns: 600 },
    );
  });
});
