import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The median of a non-empty list of numbers. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no samples');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Seconds taken by one call of an async function. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Samples in seconds per named contender, in run order. */
export type Samples<K extends string> = Record<K, number[]>;

/**
 * Run each contender once untimed (warm page cache, JIT), then `runs` rounds in which every contender
 * runs once, in the same order, so drift on a shared machine hits all of them alike. `beforeRound` runs
 * untimed before the warm-up and before every round (e.g. a fresh destination).
 */
export async function interleaved<K extends string>(
  runs: number,
  contenders: Readonly<Record<K, () => Promise<unknown>>>,
  opts: { warmup?: boolean; onRound?: (round: number) => void; beforeRound?: () => Promise<void> } = {},
): Promise<Samples<K>> {
  const names = Object.keys(contenders) as K[];
  const out = Object.fromEntries(names.map((k) => [k, [] as number[]])) as Samples<K>;
  if (opts.warmup ?? true) {
    await opts.beforeRound?.();
    for (const k of names) await contenders[k]();
  }
  for (let r = 0; r < runs; r++) {
    await opts.beforeRound?.();
    for (const k of names) {
      // Collect garbage from the previous contender so it is not billed to this one.
      (globalThis as { gc?: () => void }).gc?.();
      out[k].push(await timed(contenders[k]));
    }
    opts.onRound?.(r + 1);
  }
  return out;
}

/** How a child process ended. */
export interface ChildRun {
  readonly code: number;
  readonly seconds: number;
  /** Maximum resident set size in bytes, when run under /usr/bin/time. */
  readonly maxRssBytes?: number;
  readonly stderr: string;
}

/** Run a command to completion (stdout discarded); optionally under `/usr/bin/time -f %M` for its peak RSS. */
export async function runChild(
  cmd: string,
  args: readonly string[],
  opts: { maxRss?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<ChildRun> {
  const rssFile = join(tmpdir(), `portcullis-bench-rss-${process.pid}-${Date.now()}`);
  const argv = opts.maxRss ? ['/usr/bin/time', '-f', '%M', '-o', rssFile, cmd, ...args] : [cmd, ...args];
  const t0 = process.hrtime.bigint();
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    const err: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c ?? -1, stderr: Buffer.concat(err).toString('utf8') }));
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  let maxRssBytes: number | undefined;
  if (opts.maxRss) {
    // GNU time prints "Command exited with non-zero status N" before the figure when the command fails.
    const text = await readFile(rssFile, 'utf8').catch(() => '');
    await rm(rssFile, { force: true });
    const kb = Number(text.trim().split('\n').pop());
    if (Number.isFinite(kb) && kb > 0) maxRssBytes = kb * 1024;
  }
  return { code, seconds, stderr, ...(maxRssBytes !== undefined ? { maxRssBytes } : {}) };
}

/** Throw with the command's own words unless it exited 0. */
export function assertOk(run: ChildRun, what: string): void {
  if (run.code !== 0) throw new Error(`${what} exited ${run.code}: ${run.stderr.trim().slice(-2000)}`);
}
