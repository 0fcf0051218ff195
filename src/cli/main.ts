#!/usr/bin/env node
import { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { TOOL } from '../version.js';
import { ciCommand } from './ci.js';
import { reportError } from './common.js';
import { dbCommand } from './db.js';
import { getCommandExitCode } from './exitcode.js';
import { gateCommand } from './gate.js';
import { k8sCommand } from './k8s.js';
import { keygenCommand } from './keygen.js';
import { lintCommand } from './lint.js';
import { registryCommand } from './registry.js';
import { rulesCommand } from './rules.js';
import { sbomCommand } from './sbom.js';
import { scanCommand } from './scan.js';
import { attestCommand, signCommand } from './sign.js';
import { verifyCommand } from './verify.js';
import { versionCommand } from './version.js';

/** The `portcullis` command line: one thin file per command, errors mapped to documented exit codes. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('portcullis')
    .description('Container-pipeline security: inventory, assess and gate container images')
    .version(TOOL.version)
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.addCommand(sbomCommand().exitOverride());
  program.addCommand(scanCommand().exitOverride());
  program.addCommand(dbCommand().exitOverride());
  program.addCommand(versionCommand().exitOverride());
  program.addCommand(keygenCommand().exitOverride());
  program.addCommand(signCommand().exitOverride());
  program.addCommand(attestCommand().exitOverride());
  program.addCommand(verifyCommand().exitOverride());
  program.addCommand(gateCommand().exitOverride());
  program.addCommand(lintCommand().exitOverride());
  program.addCommand(rulesCommand().exitOverride());
  program.addCommand(registryCommand().exitOverride());
  program.addCommand(ciCommand().exitOverride());
  program.addCommand(k8sCommand().exitOverride());
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return getCommandExitCode() ?? ExitCode.ok;
  } catch (err) {
    return reportError(err);
  }
}

// A command that handles SIGINT itself (the `registry watch` daemon shuts down cleanly) adds its own listener.
process.on('SIGINT', () => {
  if (process.listenerCount('SIGINT') === 1) process.exit(130);
});

// Fail closed: if the event loop ever empties before main settles (a promise that can never resolve), the
// process must not exit 0. The code is set to "infrastructure" until main says otherwise.
let settled = false;
process.exitCode = ExitCode.infrastructure;
process.on('beforeExit', () => {
  if (!settled) {
    settled = true;
    process.stderr.write('portcullis: INTERNAL: the run stopped before finishing (nothing left to wait for)\n');
    process.exitCode = ExitCode.infrastructure;
  }
});
main(process.argv.slice(2)).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (err: unknown) => {
    settled = true;
    process.exitCode = reportError(err);
  },
);
