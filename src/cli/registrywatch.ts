import { writeFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { fail } from '../errors.js';
import type { WatchConfig } from '../watch/config.js';
import { loadWatchConfig } from '../watch/config.js';
import {
  applyInventory,
  deliver,
  quarantineStep,
  resolveSinks,
  runDaemon,
  type WatchContext,
} from '../watch/daemon.js';
import { jsonLogger } from '../watch/log.js';
import { watchMetrics } from '../watch/metrics.js';
import { type RegistryInventory, reconcile } from '../watch/reconcile.js';
import { watchJson, watchSarif, watchTable } from '../watch/report.js';
import { WatchState } from '../watch/state.js';
import { addConnectionOptions, documentTime, parseExitCode, type RegistryFlags, registryOptions } from './common.js';
import { setCommandExitCode } from './exitcode.js';

interface WatchFlags extends RegistryFlags {
  config: string;
  once?: boolean;
  state?: string;
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
  let inventories = await reconcile(config, { registry, now: () => Date.now() });
  const file = statePath(flags, config);
  if (file !== undefined) inventories = await applyOnce(config, file, registry, inventories, started);
  const view = { inventories, created: documentTime() };
  const text =
    flags.format === 'json' ? watchJson(view) : flags.format === 'sarif' ? watchSarif(view) : watchTable(view);
  if (flags.output) await writeFile(flags.output, text);
  else process.stdout.write(text);
  const notApproved = inventories.some((inv) => inv.verdicts.some((v) => v.classification.status !== 'approved'));
  return notApproved ? exitCode : 0;
}

/** --once with a state: the reconcile applied (tampered decided, alerts queued), quarantine, alerts delivered. */
async function applyOnce(
  config: WatchConfig,
  file: string,
  registry: ReturnType<typeof registryOptions>,
  inventories: RegistryInventory[],
  started: Date,
): Promise<RegistryInventory[]> {
  const sinks = resolveSinks(config, process.env);
  const state = WatchState.open(file);
  try {
    const ctx: WatchContext = {
      config,
      state,
      registry,
      sinks,
      log: jsonLogger(),
      metrics: watchMetrics(),
      now: Date.now,
    };
    const out: RegistryInventory[] = [];
    for (const inv of inventories) {
      const { verdicts } = applyInventory(ctx, inv, started);
      const entry = config.registries.find((r) => r.host === inv.host);
      if (entry) await quarantineStep(ctx, entry, verdicts);
      out.push({ ...inv, verdicts });
    }
    await deliver(ctx);
    return out;
  } finally {
    state.close();
  }
}

async function runWatcher(flags: WatchFlags): Promise<number> {
  const config = loadWatchConfig(flags.config);
  const file = statePath(flags, config);
  if (file === undefined) {
    fail('USAGE', `registry watch: the watcher needs a state file: set 'state:' in ${flags.config} or pass --state`);
  }
  const state = WatchState.open(file);
  const log = jsonLogger();
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
    await runDaemon({ config, state, registry: registryOptions(flags), env: process.env, log, stopped });
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    state.close();
  }
  // An abandoned step may still hold a socket open; the state is closed, so nothing is left to finish.
  setImmediate(() => process.exit(0)).unref();
  return 0;
}
