import { Command, Option } from 'commander';
import { allRules } from '../checks/registry.js';
import { rulesTable } from '../report/checks-table.js';

export function rulesCommand(): Command {
  return new Command('rules')
    .description('list every misconfiguration and secret rule with its CIS Docker Benchmark and Dockle mapping')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action((flags: { format: 'table' | 'json' }) => {
      const rules = allRules();
      process.stdout.write(flags.format === 'json' ? `${JSON.stringify(rules, null, 2)}\n` : rulesTable(rules));
    });
}
