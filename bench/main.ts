import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { importFigure, matchFigure } from './advisories.js';
import { bigImageFigure } from './big-image.js';
import { ciAuditFigure } from './ci-audit.js';
import { BENCH_CACHE, BenchConfigError, missingPrerequisites, ROOT, runsFor, selectedFigures } from './env.js';
import type { FigureResult } from './figure.js';
import { gateFigure } from './gate.js';
import { imageScanFigure } from './image-scan.js';
import { k8sAuditFigure } from './k8s-audit.js';
import { rematchFigure } from './rematch.js';
import { renderTable } from './report.js';
import { rootfsVsTrivyFigure } from './rootfs-vs-trivy.js';
import { secretsFigure } from './secrets.js';
import { watchFigure } from './watch.js';
import { webhookFigure } from './webhook.js';

/**
 * The benchmark proper (started by run.ts): prints figures, each as a ratio against a floor or peer measured
 * in the same run, and writes them to .cache/bench/results.json. It never fails on speed; it exits non-zero
 * only when a figure could not be measured. BENCH_ONLY=1,3 picks figures, BENCH_RUNS=N sets the timed runs.
 */
async function main(): Promise<number> {
  const started = process.hrtime.bigint();
  const t0 = Date.now();
  const log = (msg: string): void => {
    process.stderr.write(`bench [${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}\n`);
  };
  const figures = selectedFigures();
  for (const id of figures) runsFor(id); // a bad BENCH_RUNS is a usage error, not a failed figure
  const missing = missingPrerequisites(figures);
  if (missing.length > 0) {
    process.stderr.write(`bench: cannot run, setup is incomplete:\n${missing.map((m) => `  - ${m}\n`).join('')}`);
    return 2;
  }
  const runners: Record<number, (runs: number, log: (m: string) => void) => Promise<FigureResult>> = {
    1: imageScanFigure,
    2: rootfsVsTrivyFigure,
    3: bigImageFigure,
    4: importFigure,
    5: matchFigure,
    6: gateFigure,
    7: secretsFigure,
    8: watchFigure,
    9: rematchFigure,
    10: ciAuditFigure,
    11: webhookFigure,
    12: k8sAuditFigure,
  };
  const loadBefore = loadavg()[0] as number;
  const results: FigureResult[] = [];
  const errors: { figure: number; message: string }[] = [];
  for (const id of [...figures].sort((a, b) => a - b)) {
    try {
      results.push(await (runners[id] as (typeof runners)[1])(runsFor(id), log));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      errors.push({ figure: id, message });
      log(`figure ${id} could not be measured: ${message}`);
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const load = { before: loadBefore, after: loadavg()[0] as number };
  const file = join(BENCH_CACHE, 'results.json');
  mkdirSync(BENCH_CACHE, { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        commit: gitCommit(),
        node: process.version,
        machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryBytes: totalmem() },
        totalSeconds: seconds,
        loadAverage1m: load,
        figures: Object.fromEntries(results.map((r) => [r.id, { title: r.title, ...r.data }])),
        errors,
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`\n${renderTable(results)}`);
  for (const e of errors) process.stdout.write(`figure ${e.figure}: NOT MEASURED: ${e.message}\n`);
  if (Math.max(load.before, load.after) > cpus().length) {
    process.stdout.write(
      `\nnote: the machine was busy (load ${load.before.toFixed(1)} -> ${load.after.toFixed(1)} on ${cpus().length} cores): ` +
        'absolute times are noisy; the interleaved ratios less so\n',
    );
  }
  process.stdout.write(`\n${results.length} figure(s) in ${seconds.toFixed(0)} s; results in ${file}\n`);
  return errors.length > 0 ? 1 : 0;
}

function gitCommit(): string | undefined {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return undefined;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const text =
      err instanceof BenchConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : err;
    process.stderr.write(`bench: ${String(text)}\n`);
    process.exitCode = 2;
  },
);
