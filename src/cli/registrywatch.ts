import { writeFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { fail } from '../errors.js';
import { defaultDbPath } from '../store/advisorydb.js';
import type { WatchConfig } from '../watch/config.js';
import { loadWatchConfig } from '../watch/config.js';
import {
  applyInventory,
  deliver,
  quarantineStep,
  resolveSinks,
  runDaemon,
  type WatchContext,
  withRematch,
  withRematcher,
} from '../watch/daemon.js';
import { jsonLogger, type Logger } from '../watch/log.js';
import { watchMetrics } from '../watch/metrics.js';
import { type RegistryInventory, reconcile } from '../watch/reconcile.js';
import { watchJson, watchSarif, watchTable } from '../watch/report.js';
import { WatchState } from '../watch/state.js';
import type { LockOwner } from '../watch/statelock.js';
import { addConnectionOptions, documentTime, parseExitCode, type RegistryFlags, registryOptions } from './common.js';
import { setCommandExitCode } from './exitcode.js';

interface WatchFlags extends RegistryFlags {
  config: string;
  once?: boolean;
  state?: string;
  db?: string;
  format: 'table' | 'json' | 'sarif';
  output?: string;
  exitCode: string;
}

/** `portcullis registry watch --config FILE [--once]`: the watcher daemon, or one full reconcile. */
export function watchCommand(): Command {
  const cmd = new Command('watch')
    .description(
      'watch the configured registries: every tag approved (signed and freshly assessed PASS), or unsigned, unassessed, failed, stale, tampered or in an unknown repository; alerts, metrics, quarantine',
    )
    .requiredOption('--config <file>', 'the watch configuration (schemas/watch.schema.json)')
    .option('--once', 'one full reconcile and report, then exit (without it: run the watcher until SIGTERM)')
    .option('--state <file>', "the state file (overrides the config's state)")
    .option(
      '--db <file>',
      'advisory database for re-matching stored SBOMs (default: PORTCULLIS_DB or ~/.cache/portcullis/advisories.db)',
    )
    .addOption(
      new Option('-f, --format <format>', 'output format (--once)')
        .choices(['table', 'json', 'sarif'])
        .default('table'),
    )
    .option('-o, --output <file>', 'write to FILE instead of stdout (--once)')
    .option('--exit-code <n>', 'exit with N when any tag is not approved (--once)', '1')
    .exitOverride();
  return addConnectionOptions(cmd).action(async (flags: WatchFlags) => {
    setCommandExitCode(flags.once ? await runOnce(flags) : await runWatcher(flags));
  });
}

function statePath(flags: WatchFlags, config: WatchConfig): string | undefined {
  if (flags.state !== undefined) return isAbsolute(flags.state) ? flags.state : resolve(flags.state);
  return config.state;
}

async function runOnce(flags: WatchFlags): Promise<number> {
  const exitCode = parseExitCode(flags.exitCode);
  const config = loadWatchConfig(flags.config);
  const registry = registryOptions(flags);
  const started = new Date();
  const file = statePath(flags, config);
  const dbPath = flags.db ?? defaultDbPath();
  // Without a state file the re-match still works, on SBOMs kept in memory for this run.
  const state = WatchState.open(file ?? ':memory:', { onTakeover: takeoverLogger(jsonLogger(), file ?? '') });
  let inventories: RegistryInventory[];
  try {
    const log = jsonLogger();
    const ctx: WatchContext = {
      config,
      state,
      registry,
      sinks: file !== undefined ? resolveSinks(config, process.env) : [],
      log,
      metrics: watchMetrics(),
      now: Date.now,
      ...withRematcher(config, state, dbPath, log),
      rematchErrorsFatal: true,
    };
    inventories = await reconcile(config, {
      registry,
      now: () => Date.now(),
      ...(ctx.rematcher ? { onApproved: ctx.rematcher.onApproved } : {}),
    });
    inventories =
      file !== undefined
        ? await applyOnce(ctx, inventories, started)
        : inventories.map((inv) => ({ ...inv, verdicts: withRematch(ctx, inv.verdicts) }));
  } finally {
    state.close();
  }
  const view = { inventories, created: documentTime() };
  const text =
    flags.format === 'json' ? watchJson(view) : flags.format === 'sarif' ? watchSarif(view) : watchTable(view);
  if (flags.output) await writeFile(flags.output, text);
  else process.stdout.write(text);
  const notApproved = inventories.some((inv) => inv.verdicts.some((v) => v.classification.status !== 'approved'));
  return notApproved ? exitCode : 0;
}

/** --once with a state: the reconcile applied (tampered decided, alerts queued), alerts delivered beside quarantine. */
async function applyOnce(
  ctx: WatchContext,
  inventories: RegistryInventory[],
  started: Date,
): Promise<RegistryInventory[]> {
  const out: RegistryInventory[] = [];
  for (const inv of inventories) out.push({ ...inv, verdicts: applyInventory(ctx, inv, started).verdicts });
  // Alerts do not wait for quarantine (its re-checks and deletes may take long).
  const delivered = deliver(ctx);
  for (const inv of out) {
    const entry = ctx.config.registries.find((r) => r.host === inv.host);
    if (entry) await quarantineStep(ctx, entry, inv.verdicts);
  }
  await delivered;
  return out;
}

/** A stale lock (its pid gone) taken over is worth a line: the previous watcher died without closing. */
function takeoverLogger(log: Logger, file: string): (previous: LockOwner) => void {
  return (previous) =>
    log('warn', `took over the stale lock of ${file} from pid ${previous.pid}, which no longer runs`, {
      event: 'state.lock.takeover',
      pid: previous.pid,
      ...(previous.startedAt ? { startedAt: previous.startedAt } : {}),
    });
}

async function runWatcher(flags: WatchFlags): Promise<number> {
  const config = loadWatchConfig(flags.config);
  const file = statePath(flags, config);
  if (file === undefined) {
    fail('USAGE', `registry watch: the watcher needs a state file: set 'state:' in ${flags.config} or pass --state`);
  }
  const log = jsonLogger();
  const state = WatchState.open(file, { onTakeover: takeoverLogger(log, file) });
  let stop: (signal: string) => void = () => {};
  const stopped = new Promise<string>((r) => {
    stop = r;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    log('info', `${signal} received`, { event: 'signal', signal });
    stop(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await runDaemon({
      config,
      state,
      registry: registryOptions(flags),
      env: process.env,
      log,
      stopped,
      dbPath: flags.db ?? defaultDbPath(),
    });
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    state.close();
  }
  // An abandoned step may still hold a socket open; the state is closed, so nothing is left to finish.
  setImmediate(() => process.exit(0)).unref();
  return 0;
}
