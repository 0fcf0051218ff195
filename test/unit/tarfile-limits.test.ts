import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { IndexedTarFile } from '../../src/oci/tarfile.js';
import { makeTar } from '../helpers/layers.js';

/** A tar of `n` members whose names are `len` bytes long (PAX headers past 100 bytes). */
async function archive(n: number, len: number): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'tarfile-')), 'a.tar');
  const name = (i: number) => `blobs/${String(i).padStart(8, '0')}-${'x'.repeat(Math.max(0, len - 15))}`;
  writeFileSync(file, await makeTar(Array.from({ length: n }, (_, i) => ({ path: name(i), content: 'x' }))));
  return file;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof PortcullisError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'opened';
}

describe('IndexedTarFile limits: an archive is refused before its member names fill memory', () => {
  it('counts members and the bytes of their names, exactly at each limit and one past it', async () => {
    const file = await archive(20, 200);
    expect(await refusal(IndexedTarFile.open(file, { members: 20, nameBytes: 20 * 200 }))).toBe('opened');
    expect(await refusal(IndexedTarFile.open(file, { members: 19, nameBytes: 1 << 30 }))).toBe(
      `ARCHIVE_INVALID: archive ${file}: more than 19 members`,
    );
    expect(await refusal(IndexedTarFile.open(file, { members: 100, nameBytes: 20 * 200 - 1 }))).toBe(
      `ARCHIVE_INVALID: archive ${file}: member names pass ${20 * 200 - 1} bytes in all`,
    );
  });
});
