import { createRequire } from 'node:module';
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';

/** Compression of a layer blob, as declared by its media type or sniffed from its first bytes. */
export type Compression = 'gzip' | 'zstd' | 'none';

/** Output buffer size for decompressors: zlib's 16 KiB default halves gunzip throughput on large layers. */
const CHUNK = 1024 * 1024;

/** Recognise gzip (1f 8b) and zstd (28 b5 2f fd) by magic; anything else is taken as a plain tar. */
export function sniffCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

type ZstdFactory = () => Transform;
let zstdFactory: ZstdFactory | undefined;

function zstd(): Transform {
  if (!zstdFactory) {
    const native = (zlib as unknown as { createZstdDecompress?: (o: object) => Transform }).createZstdDecompress;
    if (typeof native === 'function') {
      // Node >= 22.15 ships zstd in zlib; Node 20 needs the zstd-napi binding.
      zstdFactory = () => native({ chunkSize: CHUNK });
    } else {
      const require = createRequire(import.meta.url);
      const mod = require('zstd-napi') as { DecompressStream: new () => Transform };
      zstdFactory = () => new mod.DecompressStream();
    }
  }
  return zstdFactory();
}

/** A decompressing transform for the given compression (undefined for none). */
export function createDecompressor(c: Compression): Transform | undefined {
  switch (c) {
    case 'gzip':
      return zlib.createGunzip({ chunkSize: CHUNK });
    case 'zstd':
      return zstd();
    case 'none':
      return undefined;
  }
}
