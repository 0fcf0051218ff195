import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanArchive } from '../../src/inventory/catalogers/java/archive.js';
import { ArchiveError, InflateBudget } from '../../src/inventory/catalogers/java/errors.js';
import { ZipStreamReader } from '../../src/inventory/catalogers/java/zipstream.js';

/**
 * The streaming zip reader against real writers (Info-ZIP zip, the JDK's jar, Python's zipfile), with readers
 * that use the central directory (Python's zipfile, Info-ZIP unzip) as the oracle for entry names and contents.
 */

let dir: string;
const archives = new Map<string, string>();

function sh(cmd: string, args: string[], cwd = dir): Buffer {
  return execFileSync(cmd, args, { cwd, maxBuffer: 1 << 28 });
}

// Names are decoded as Java decodes jar entry names, UTF-8 whether or not the language-encoding flag is set
// (zipfile follows APPNOTE and reads unflagged names as CP437).
const PY_READ = `
import base64, json, sys, zipfile
def name(i):
    return i.filename if i.flag_bits & 0x800 else i.filename.encode('cp437').decode('utf-8', 'replace')
with zipfile.ZipFile(sys.argv[1]) as zf:
    infos = zf.infolist()
    print(json.dumps({'names': [name(i) for i in infos],
                      'data': {name(i): base64.b64encode(zf.read(i)).decode() for i in infos if not i.is_dir()}}))
`;

/**
 * The oracles' view: entry names in central-directory order and file contents from Python's zipfile, with the
 * contents of ASCII-named entries cross-checked by Info-ZIP unzip (Debian's unzip mangles UTF-8-flagged names).
 */
function oracle(file: string): { names: string[]; data: Map<string, Buffer> } {
  const py = JSON.parse(sh('python3', ['-c', PY_READ, file]).toString()) as {
    names: string[];
    data: Record<string, string>;
  };
  const data = new Map(Object.entries(py.data).map(([n, b]) => [n, Buffer.from(b, 'base64')]));
  const list = spawnSync('unzip', ['-Z1', file], { maxBuffer: 1 << 26 });
  // Exit 1 is a warning (extra bytes before the archive, e.g. a launch script).
  expect([0, 1]).toContain(list.status);
  const ascii = py.names.filter((n) => /^[\x20-\x7e]+$/.test(n));
  expect(
    list.stdout
      .toString('utf8')
      .split('\n')
      .filter((n) => ascii.includes(n)),
  ).toEqual(ascii);
  for (const n of ascii) {
    if (n.endsWith('/')) continue;
    const r = spawnSync('unzip', ['-p', file, n], { maxBuffer: 1 << 28 });
    expect([0, 1]).toContain(r.status);
    expect(Buffer.compare(r.stdout, data.get(n) as Buffer), `unzip and zipfile disagree on ${n}`).toBe(0);
  }
  return { names: py.names, data };
}

/** Our reader's view of the same archive, pushed in pieces of random sizes. */
function ours(
  bytes: Buffer,
  seed: number,
  strict = true,
): { names: string[]; data: Map<string, Buffer>; done: boolean } {
  const names: string[] = [];
  const data = new Map<string, Buffer>();
  const reader = new ZipStreamReader({
    budget: new InflateBudget(1 << 30),
    onEntry: (e) => {
      names.push(e.name);
      const parts: Buffer[] = [];
      return {
        write: (c) => parts.push(Buffer.from(c)) > 0,
        end: () => data.set(e.name, Buffer.concat(parts)),
        abort: (reason) => {
          if (strict) throw new Error(`${e.name}: ${reason}`);
        },
      };
    },
  });
  let rng = seed;
  for (let i = 0; i < bytes.length; ) {
    rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
    const n = 1 + (rng % (rng % 3 === 0 ? 17 : 70_000));
    reader.push(bytes.subarray(i, i + n));
    i += n;
  }
  reader.finish();
  return { names, data, done: reader.done };
}

const PY_STREAM = `
import sys, zipfile
class Unseekable:
    def __init__(self, f): self.f = f
    def write(self, b): return self.f.write(b)
    def flush(self): self.f.flush()
out, src, zip64 = sys.argv[1], sys.argv[2:-1], sys.argv[-1] == '1'
with open(out, 'wb') as f:
    zf = zipfile.ZipFile(Unseekable(f), 'w')
    for i, path in enumerate(src):
        info = zipfile.ZipInfo(path)
        info.compress_type = zipfile.ZIP_STORED if i % 2 == 0 else zipfile.ZIP_DEFLATED
        with open(path, 'rb') as s, zf.open(info, 'w', force_zip64=zip64) as d:
            d.write(s.read())
    zf.close()
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-zip-'));
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub', 'deeper'), { recursive: true });
  writeFileSync(join(src, 'random.bin'), randomBytes(70_000));
  writeFileSync(join(src, 'sub', 'numbers.txt'), Array.from({ length: 30_000 }, (_, i) => `${i}\n`).join(''));
  writeFileSync(join(src, 'sub', 'deeper', 'empty'), '');
  // Descriptor signatures and local header signatures inside the data, to mislead a careless scanner.
  writeFileSync(join(src, 'sub', 'decoy.txt'), Buffer.from('PK\x07\x08PK\x03\x04PK\x01\x02'.repeat(500), 'latin1'));
  writeFileSync(join(src, 'café.txt'), 'non-ASCII name\n');
  const files = ['random.bin', 'sub/numbers.txt', 'sub/deeper/empty', 'sub/decoy.txt', 'café.txt'];
  const bash = (script: string): void => {
    sh('bash', ['-c', script], src);
  };
  const add = (name: string, make: () => void): void => {
    make();
    archives.set(name, join(dir, name));
  };
  add('zip-deflate.zip', () => sh('zip', ['-q', '-r', join(dir, 'zip-deflate.zip'), '.'], src));
  add('zip-stored.zip', () => sh('zip', ['-q', '-0', '-r', join(dir, 'zip-stored.zip'), '.'], src));
  add('zip-zip64.zip', () => sh('zip', ['-q', '-fz', '-r', join(dir, 'zip-zip64.zip'), '.'], src));
  // Written to a pipe, zip cannot seek back: data descriptors (bit 3) for every file.
  add('zip-stream.zip', () => bash(`zip -q -r - . | cat > ${join(dir, 'zip-stream.zip')}`));
  add('zip-stream-stored.zip', () => bash(`zip -q -0 -r - . | cat > ${join(dir, 'zip-stream-stored.zip')}`));
  add('jar.jar', () => sh('jar', ['--create', '--file', join(dir, 'jar.jar'), '-C', src, '.']));
  add('jar-stored.jar', () =>
    sh('jar', ['--create', '--no-compress', '--file', join(dir, 'jar-stored.jar'), '-C', src, '.']),
  );
  add('python-stream.zip', () => sh('python3', ['-c', PY_STREAM, join(dir, 'python-stream.zip'), ...files, '0'], src));
  add('python-zip64.zip', () => sh('python3', ['-c', PY_STREAM, join(dir, 'python-zip64.zip'), ...files, '1'], src));
  add('executable.jar', () => {
    const script = Buffer.from('#!/bin/sh\nexec java -jar "$0" "$@"\nexit 1\n');
    writeFileSync(join(dir, 'executable.jar'), Buffer.concat([script, readFileSync(join(dir, 'jar.jar'))]));
  });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ZipStreamReader against unzip, over archives from real writers', () => {
  it('writers made the features under test: data descriptors, stored with descriptors, ZIP64', () => {
    const info = (name: string): string => sh('zipinfo', ['-v', archives.get(name) as string]).toString();
    expect(info('zip-stream.zip')).toMatch(/extended local header:\s+yes/);
    expect(info('jar.jar')).toMatch(/extended local header:\s+yes/);
    expect(info('python-stream.zip')).toMatch(/compression method:\s+none \(stored\)/);
    expect(info('python-stream.zip')).toMatch(/extended local header:\s+yes/);
    expect(info('zip-zip64.zip')).toMatch(/Zip64/i);
  });

  for (const name of [
    'zip-deflate.zip',
    'zip-stored.zip',
    'zip-zip64.zip',
    'zip-stream.zip',
    'zip-stream-stored.zip',
    'jar.jar',
    'jar-stored.jar',
    'python-stream.zip',
    'python-zip64.zip',
    'executable.jar',
  ]) {
    it(`reads ${name} as the central-directory readers do, at any chunking`, () => {
      const file = archives.get(name) as string;
      const want = oracle(file);
      expect(want.names.length).toBeGreaterThan(4);
      const bytes = readFileSync(file);
      for (const seed of [1, 2, 3]) {
        const r = ours(bytes, seed);
        expect(r.done).toBe(true);
        expect(r.names).toEqual(want.names);
        for (const [n, b] of want.data) expect(Buffer.compare(r.data.get(n) ?? Buffer.alloc(0), b), n).toBe(0);
      }
    });
  }

  it('survives mutations of real archives: only typed errors, never a hang', () => {
    const bases = [...archives.values()].map((f) => readFileSync(f));
    fc.assert(
      fc.property(
        fc.nat(bases.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 20 }),
        fc.option(fc.nat()),
        (which, flips, cut) => {
          const z = Buffer.from(bases[which] as Buffer);
          for (const [at, v] of flips) z[at % z.length] = v;
          const input = cut === null ? z : z.subarray(0, cut % z.length);
          try {
            ours(input, which + 1, false);
          } catch (err) {
            if (!(err instanceof ArchiveError)) throw err;
          }
          const scan = scanArchive('mutated.jar', input, { maxInflatedBytes: 1 << 24 });
          for (const p of scan.problems) expect(p.message).not.toMatch(/^internal error/);
        },
      ),
      { numRuns: 300 },
    );
  });
});
