import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { walkLayers } from '../../src/image/walk.js';
import { SecretScanner } from '../../src/secrets/scanner.js';
import { leaks, makeTokens, SETTINGS } from '../helpers/secrets.js';

/** A ustar header for a regular file (written here so a million entries stream without holding the archive). */
function header(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'latin1');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h[156] = 0x30;
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

function entry(name: string, content: Buffer): Buffer {
  const pad = (512 - (content.length % 512)) % 512;
  return Buffer.concat([header(name, content.length), content, Buffer.alloc(pad)]);
}

/** A layer of `count` tiny text files, with one real secret among them; produced lazily, 1000 entries a chunk. */
function* millionFiles(count: number, plantAt: number, secret: string): Generator<Buffer> {
  for (let base = 0; base < count; base += 1000) {
    const parts: Buffer[] = [];
    for (let i = base; i < Math.min(count, base + 1000); i++) {
      const body = i === plantAt ? `token=${secret}\n` : `v${i} ghp_ AKIA\n`;
      parts.push(entry(`d${i % 997}/f${i}.txt`, Buffer.from(body)));
    }
    yield Buffer.concat(parts);
  }
  yield Buffer.alloc(1024);
}

describe('secret scanner: hostile layers', () => {
  it('a layer of a million tiny files completes and finds the one real secret among them', async () => {
    const { ghp } = makeTokens();
    const scanner = new SecretScanner(SETTINGS);
    const { tree, stats } = await walkLayers(
      [
        {
          index: 0,
          where: 'layer 0',
          compression: 'none',
          open: async () => Readable.from(millionFiles(1_000_000, 654_321, ghp)),
        },
      ],
      [scanner],
    );
    expect(stats[0]?.entries).toBe(1_000_000);
    const hits = scanner.finish(tree);
    expect(hits.map((h) => [h.ruleId, h.path, h.line, h.layer])).toEqual([
      ['github-token', `d${654_321 % 997}/f654321.txt`, 1, 0],
    ]);
    expect(leaks(hits, ghp)).toBe(false);
  });

  it('huge and binary files in a layer: skipped or dropped early, the secret after them still found', async () => {
    const { npm } = makeTokens();
    const scanner = new SecretScanner({ ...SETTINGS, maxFileBytes: 4 * 1024 * 1024 });
    const big = Buffer.alloc(16 * 1024 * 1024, 'npm_ AKIA PRIVATE KEY----- \n');
    const binary = Buffer.concat([
      Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0]),
      Buffer.alloc(3 * 1024 * 1024, `${npm}\n`),
    ]);
    const layer = [
      entry('srv/huge.log', big),
      entry('usr/bin/tool', binary),
      entry('srv/app/.npmrc', Buffer.from(`//registry.npmjs.org/:_authToken=${npm}\n`)),
      Buffer.alloc(1024),
    ];
    const { tree } = await walkLayers(
      [{ index: 0, where: 'layer 0', compression: 'none', open: async () => Readable.from(layer) }],
      [scanner],
    );
    expect(scanner.finish(tree).map((h) => [h.ruleId, h.path])).toEqual([['npm-token', 'srv/app/.npmrc']]);
  });
});
