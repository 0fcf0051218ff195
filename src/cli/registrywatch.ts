import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { fail } from '../errors.js';
import { loadWatchConfig } from '../watch/config.js';
import { reconcile } from '../watch/reconcile.js';
import { watchJson, watchSarif, watchTable } from '../watch/report.js';
import { addConnectionOptions, documentTime, parseExitCode, type RegistryFlags, registryOptions } from './common.js';
import { setCommandExitCode } from './exitcode.js';

interface WatchFlags extends RegistryFlags {
  config: string;
  once?: boolean;
  format: 'table' | 'json' | 'sarif';
  output?: string;
  exitCode: string;
}

/** `portcullis registry watch --config FILE --once`: one full reconcile of the configured registries. */
export function watchCommand(): Command {
  const cmd = new Command('watch')
    .description(
      'classify every tag of the configured registries: approved (signed and freshly assessed PASS), unsigned, unassessed, failed, stale or unknown repository',
    )
    .requiredOption('--config <file>', 'the watch configuration (schemas/watch.schema.json)')
    .option('--once', 'one full reconcile, then exit (continuous watching is not there yet)')
    .addOption(
      new Option('-f, --format <format>', 'output format').choices(['table', 'json', 'sarif']).default('table'),
    )
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .option('--exit-code <n>', 'exit with N when any tag is not approved', '1')
    .exitOverride();
  return addConnectionOptions(cmd).action(async (flags: WatchFlags) => {
    setCommandExitCode(await runWatch(flags));
  });
}

async function runWatch(flags: WatchFlags): Promise<number> {
  const exitCode = parseExitCode(flags.exitCode);
  if (!flags.once) fail('USAGE', 'registry watch: only --once (one full reconcile) is implemented so far');
  const config = loadWatchConfig(flags.config);
  const inventories = await reconcile(config, { registry: registryOptions(flags), now: () => Date.now() });
  const view = { inventories, created: documentTime() };
  const text =
    flags.format === 'json' ? watchJson(view) : flags.format === 'sarif' ? watchSarif(view) : watchTable(view);
  if (flags.output) await writeFile(flags.output, text);
  else process.stdout.write(text);
  const notApproved = inventories.some((inv) => inv.verdicts.some((v) => v.classification.status !== 'approved'));
  return notApproved ? exitCode : 0;
}
