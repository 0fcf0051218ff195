import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_CACHE, CLI, nodeProfileArgs, ROOTFS, trivyBinary } from './env.js';
import { bestRatio, type FigureResult, secs, spread } from './figure.js';
import { assertOk, interleaved, median, runChild } from './measure.js';

const TARGET = 0.25;

/** `name@version` of every deb package in a CycloneDX SBOM, told apart by purl type. */
export function debPackages(file: string): Set<string> {
  const bom = JSON.parse(readFileSync(file, 'utf8')) as {
    components?: { name?: string; version?: string; purl?: string }[];
  };
  const out = new Set<string>();
  for (const c of bom.components ?? []) {
    if (c.purl?.startsWith('pkg:deb/')) out.add(`${c.name}@${c.version}`);
  }
  return out;
}

/** Figure 2: `sbom dir:ROOTFS` against Trivy's OS-package SBOM of the same rootfs, both as whole commands. */
export async function rootfsVsTrivyFigure(runs: number, log: (msg: string) => void): Promise<FigureResult> {
  const trivy = trivyBinary() as string;
  const outDir = join(BENCH_CACHE, 'out');
  mkdirSync(outDir, { recursive: true });
  const oursOut = join(outDir, 'bookworm-rootfs.portcullis.cdx.json');
  const trivyOut = join(outDir, 'bookworm-rootfs.trivy.cdx.json');
  const oursArgs = [...nodeProfileArgs(), CLI, 'sbom', `dir:${ROOTFS}`, '-q', '--format', 'cyclonedx', '-o', oursOut];
  const trivyArgs = ['rootfs', '-q', '--format', 'cyclonedx', '--output', trivyOut, ROOTFS];
  log(`figure 2: ${runs} interleaved runs of 'portcullis sbom dir:' and 'trivy-cdxgen rootfs'`);
  const samples = await interleaved(runs, {
    portcullis: async () => assertOk(await runChild(process.execPath, oursArgs), 'portcullis sbom dir:'),
    trivy: async () => assertOk(await runChild(trivy, trivyArgs), 'trivy-cdxgen rootfs'),
  });
  const ours = median(samples.portcullis);
  const peer = median(samples.trivy);
  const ratio = ours / peer;
  const best = bestRatio(samples.portcullis, samples.trivy);
  const a = debPackages(oursOut);
  const b = debPackages(trivyOut);
  const onlyOurs = [...a].filter((p) => !b.has(p)).sort();
  const onlyTrivy = [...b].filter((p) => !a.has(p)).sort();
  const same = onlyOurs.length === 0 && onlyTrivy.length === 0;
  const version = trivyVersion(trivy);
  const notes = [
    `medians of ${runs}, node startup included; portcullis ${spread(samples.portcullis)}, trivy ${spread(samples.trivy)}; best-run ratio ${best.toFixed(2)}x`,
    `trivy-cdxgen ${version}: ${trivy}`,
  ];
  if (!same) {
    if (onlyOurs.length > 0) notes.push(`only in portcullis: ${onlyOurs.join(', ')}`);
    if (onlyTrivy.length > 0) notes.push(`only in trivy: ${onlyTrivy.join(', ')}`);
  }
  return {
    id: 2,
    title: `sbom dir:ROOTFS vs Trivy (bookworm rootfs, ${a.size} deb packages)`,
    rows: [
      {
        measure: 'whole-command time vs trivy-cdxgen rootfs',
        ours: secs(ours),
        reference: secs(peer),
        ratio,
        target: `< ${TARGET}x`,
        met: ratio < TARGET,
      },
      {
        measure: 'deb packages (name@version) vs trivy',
        ours: `${a.size}`,
        reference: `${b.size}`,
        target: 'same set',
        met: same,
      },
    ],
    notes,
    data: {
      rootfs: ROOTFS,
      trivy: { binary: trivy, version },
      commands: { portcullis: [process.execPath, ...oursArgs], trivy: [trivy, ...trivyArgs] },
      samples,
      medianSeconds: { portcullis: ours, trivy: peer },
      ratio,
      bestRunRatio: best,
      target: TARGET,
      met: ratio < TARGET,
      packages: { portcullis: a.size, trivy: b.size, onlyPortcullis: onlyOurs, onlyTrivy },
    },
  };
}

/** The peer's version, e.g. `0.74.0-cdx` from its "Version: 0.74.0-cdx" line. */
function trivyVersion(bin: string): string {
  const text = execFileSync(bin, ['--version'], { encoding: 'utf8' });
  return /Version:\s*(\S+)/.exec(text)?.[1] ?? 'unknown';
}
