import { statSync } from 'node:fs';
import { DEFAULT_SETTINGS } from '../src/checks/settings.js';
import { walkLayers } from '../src/image/walk.js';
import { openOciLayout } from '../src/oci/layout.js';
import { type ResolvedImage, resolveImages } from '../src/oci/source.js';
import { SecretScanner } from '../src/secrets/scanner.js';
import { BOOKWORM_REF, ensureBookwormImage } from './bookworm.js';
import { bestRatio, type FigureResult, mb, rate, secs, spread } from './figure.js';
import { layoutBlobs } from './floor.js';
import { interleaved, median } from './measure.js';

const TARGET = 2;

/**
 * Figure 7: secret scanning of the bookworm layer (every regular file up to the default 10 MiB, allow list on)
 * against the same walk with no collector at all: read, SHA-256, gunzip, SHA-256, tar parse, file tree.
 */
export async function secretsFigure(runs: number, log: (msg: string) => void): Promise<FigureResult> {
  const layout = ensureBookwormImage(log);
  const compressed = (await layoutBlobs(layout, BOOKWORM_REF)).reduce((n, b) => n + statSync(b.path).size, 0);
  const source = openOciLayout(layout, BOOKWORM_REF);
  let image: ResolvedImage;
  try {
    const images = await resolveImages(source);
    if (images.length !== 1) throw new Error(`figure 7: expected one bookworm image, got ${images.length}`);
    image = images[0] as ResolvedImage;
    let uncompressed = 0;
    let files = 0;
    let hits = -1;
    log(
      `figure 7: ${runs} interleaved runs of the bare walk and the walk with the secret scanner on ${mb(compressed)} of gzip`,
    );
    const samples = await interleaved(runs, {
      floor: async () => {
        const { stats } = await walkLayers(image.layers, []);
        uncompressed = stats.reduce((n, s) => n + s.uncompressedBytes, 0);
        files = stats.reduce((n, s) => n + s.entries, 0);
      },
      secrets: async () => {
        const scanner = new SecretScanner(DEFAULT_SETTINGS.secrets);
        const { tree } = await walkLayers(image.layers, [scanner]);
        hits = scanner.finish(tree).length;
      },
    });
    const floor = median(samples.floor);
    const ours = median(samples.secrets);
    const ratio = ours / floor;
    const best = bestRatio(samples.secrets, samples.floor);
    return {
      id: 7,
      title: `secret scanning, Debian bookworm layer (${mb(compressed)} gzip, ${mb(uncompressed)} tar, ${files} entries)`,
      rows: [
        {
          measure: 'walk + secret scanner vs bare walk',
          ours: `${secs(ours)} (${rate(uncompressed, ours)})`,
          reference: `${secs(floor)} (${rate(uncompressed, floor)})`,
          ratio,
          target: `<= ${TARGET}x`,
          met: ratio <= TARGET,
        },
      ],
      notes: [
        `medians of ${runs}; floor ${spread(samples.floor)}, secrets ${spread(samples.secrets)}; best-run ratio ${best.toFixed(2)}x`,
        `floor = walkLayers with no collector (read, SHA-256, gunzip, SHA-256, tar parse, file tree); ${hits} secret(s) found`,
      ],
      data: {
        layout,
        compressedBytes: compressed,
        uncompressedBytes: uncompressed,
        entries: files,
        hits,
        samples,
        medianSeconds: { floor, secrets: ours },
        ratio,
        bestRunRatio: best,
        target: TARGET,
        met: ratio <= TARGET,
      },
    };
  } finally {
    await source.close();
  }
}
