#!/usr/bin/env node
import { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { TOOL } from '../version.js';
import { reportError } from './common.js';
import { sbomCommand } from './sbom.js';

/** The `portcullis` command line: one thin file per command, errors mapped to documented exit codes. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('portcullis')
    .description('Container-pipeline security: inventory, assess and gate container images')
    .version(TOOL.version)
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.addCommand(sbomCommand().exitOverride());
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    return reportError(err);
  }
}

process.on('SIGINT', () => process.exit(130));
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportError(err);
  },
);
