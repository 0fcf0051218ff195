import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_CACHE, CLI, nodeProfileArgs } from './env.js';
import { bestRatio, type FigureResult, mb, rate, secs, spread } from './figure.js';
import { gunzipHashFloor, layoutBlobs } from './floor.js';
import { assertOk, interleaved, median, runChild } from './measure.js';
import { debPackages } from './rootfs-vs-trivy.js';
import { ensureSyntheticImage, SYNTHETIC_REF } from './synthetic.js';

const MAX_RSS_TARGET = 300e6;

/**
 * Figure 3: peak memory and time of `portcullis sbom oci:` on a synthetic ~1 GiB, 100k-file image, run as
 * a child under /usr/bin/time, against the gunzip+SHA-256 floor of the same blobs in this process.
 */
export async function bigImageFigure(runs: number, log: (msg: string) => void): Promise<FigureResult> {
  const { layout, summary } = await ensureSyntheticImage(log);
  const blobs = await layoutBlobs(layout, SYNTHETIC_REF);
  const outDir = join(BENCH_CACHE, 'out');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, 'synthetic.portcullis.cdx.json');
  const args = [...nodeProfileArgs(), CLI, 'sbom', `oci:${layout}:${SYNTHETIC_REF}`, '-q', '--format', 'cyclonedx'];
  args.push('-o', out);
  log(
    `figure 3: ${runs} interleaved runs of floor and 'portcullis sbom oci:' on ${mb(summary.compressedBytes)} of gzip`,
  );
  const rss: number[] = [];
  let uncompressed = 0;
  // Warm the page cache with the floor only: a warm-up CLI run would cost as much as a timed one.
  await gunzipHashFloor(blobs);
  const samples = await interleaved(
    runs,
    {
      floor: async () => {
        uncompressed = await gunzipHashFloor(blobs);
      },
      portcullis: async () => {
        const run = await runChild(process.execPath, args, { maxRss: true });
        assertOk(run, 'portcullis sbom oci:');
        if (run.maxRssBytes === undefined) throw new Error('figure 3: /usr/bin/time reported no max RSS');
        rss.push(run.maxRssBytes);
      },
    },
    { warmup: false },
  );
  const packages = debPackages(out).size;
  if (packages !== 300) throw new Error(`figure 3: the SBOM lists ${packages} deb packages, the image has 300`);
  const floor = median(samples.floor);
  const ours = median(samples.portcullis);
  const ratio = ours / floor;
  const best = bestRatio(samples.portcullis, samples.floor);
  const peak = Math.max(...rss);
  return {
    id: 3,
    title: `synthetic image (${summary.layers} layers, ${summary.files} files, ${mb(uncompressed)} tar, ${mb(summary.compressedBytes)} gzip)`,
    rows: [
      {
        measure: 'max RSS of sbom oci: (whole process)',
        ours: mb(peak),
        reference: '',
        target: `< ${mb(MAX_RSS_TARGET)}`,
        met: peak < MAX_RSS_TARGET,
      },
      {
        measure: 'sbom oci: time vs gunzip+SHA-256 floor',
        ours: `${secs(ours)} (${rate(uncompressed, ours)})`,
        reference: `${secs(floor)} (${rate(uncompressed, floor)})`,
        ratio,
        target: 'informative',
      },
    ],
    notes: [
      `medians of ${runs}; floor ${spread(samples.floor)}, sbom ${spread(samples.portcullis)}; best-run ratio ${best.toFixed(2)}x; node startup included`,
      `max RSS per run: ${rss.map(mb).join(', ')}`,
    ],
    data: {
      layout,
      summary,
      uncompressedBytes: uncompressed,
      command: [process.execPath, ...args],
      samples,
      maxRssBytes: rss,
      peakRssBytes: peak,
      medianSeconds: { floor, portcullis: ours },
      ratio,
      bestRunRatio: best,
      rssTarget: MAX_RSS_TARGET,
      met: peak < MAX_RSS_TARGET,
    },
  };
}
