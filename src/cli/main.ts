#!/usr/bin/env node
import { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { TOOL } from '../version.js';
import { reportError } from './common.js';
import { getCommandExitCode } from './exitcode.js';

/**
 * The commands, each loaded on demand: a run loads the code of its own command only (the bundle is split along these
 * imports), which saves most of the start-up that compiling everything costs. Help without a command loads all.
 */
const COMMANDS: Record<string, () => Promise<Command[]>> = {
  sbom: async () => [(await import('./sbom.js')).sbomCommand()],
  scan: async () => [(await import('./scan.js')).scanCommand()],
  db: async () => [(await import('./db.js')).dbCommand()],
  version: async () => [(await import('./version.js')).versionCommand()],
  keygen: async () => [(await import('./keygen.js')).keygenCommand()],
  sign: async () => [(await import('./sign.js')).signCommand()],
  attest: async () => [(await import('./sign.js')).attestCommand()],
  verify: async () => [(await import('./verify.js')).verifyCommand()],
  gate: async () => [(await import('./gate.js')).gateCommand()],
  lint: async () => [(await import('./lint.js')).lintCommand()],
  rules: async () => [(await import('./rules.js')).rulesCommand()],
  registry: async () => [(await import('./registry.js')).registryCommand()],
  ci: async () => [(await import('./ci.js')).ciCommand()],
  k8s: async () => [(await import('./k8s.js')).k8sCommand()],
};

/** The commands a command line needs: the one it names (its first word), none for the version, else all (help). */
async function commandsFor(argv: readonly string[]): Promise<Command[]> {
  const first = argv[0];
  if (argv.length === 1 && (first === '--version' || first === '-V')) return [];
  const one = first !== undefined && Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (one) return one();
  return (await Promise.all(Object.values(COMMANDS).map((load) => load()))).flat();
}

/** The `portcullis` command line: one thin file per command, errors mapped to documented exit codes. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('portcullis')
    .description('Container-pipeline security: inventory, assess and gate container images')
    .version(TOOL.version)
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    for (const command of await commandsFor(argv)) program.addCommand(command.exitOverride());
    await program.parseAsync([...argv], { from: 'user' });
    return getCommandExitCode() ?? ExitCode.ok;
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    if ((code === 'commander.helpDisplayed' || code === 'commander.help') && !helpOnly(program, argv)) {
      // A script that passes an untrusted image name ('--help') must not read help as verified or promoted.
      process.stderr.write('portcullis: USAGE: --help was given with other arguments: help shown, nothing run\n');
      return ExitCode.input;
    }
    return reportError(err);
  }
}

/** Whether the command line asks for help and nothing else: help flags and command names only. */
function helpOnly(program: Command, argv: readonly string[]): boolean {
  let cmd = program;
  for (const a of argv) {
    if (a === '-h' || a === '--help' || a === 'help') continue;
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!sub) return false;
    cmd = sub;
  }
  return true;
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
