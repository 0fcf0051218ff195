import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { streamLayer } from '../../src/image/layerstream.js';
import { digestOf } from '../../src/oci/digest.js';

describe('streamLayer', () => {
  it('rejects (never hangs) when the consumer fails after the whole blob has arrived', async () => {
    const gz = gzipSync(Buffer.alloc(100_000, 1));
    const run = streamLayer(Readable.from([gz]), {
      digest: digestOf(gz),
      size: gz.length,
      compression: 'gzip',
      where: 'layer 0',
      onData: () => {
        throw new Error('sink failed');
      },
    });
    await expect(run).rejects.toThrow(/layer 0: sink failed/);
  }, 5000);

  it('enforces the descriptor size even when there is no stored digest to check', async () => {
    const tar = Buffer.alloc(4096);
    const run = streamLayer(Readable.from([tar]), {
      size: 1024,
      compression: 'none',
      where: 'layer 0',
      onData: () => {},
    });
    await expect(run).rejects.toThrow(/SIZE_MISMATCH|more than the 1024 bytes/);
  });

  it('judges the expansion ratio by the bytes read, not by the size the manifest claims', async () => {
    const gz = gzipSync(Buffer.alloc(300 * 1024 * 1024));
    const run = streamLayer(Readable.from([gz]), {
      size: 2 ** 50,
      compression: 'gzip',
      where: 'layer 0',
      onData: () => {},
    });
    await expect(run).rejects.toThrow(/expands more than 200x/);
  });
});
