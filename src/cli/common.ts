import { createHash } from 'node:crypto';
import { type Command, Option } from 'commander';
import { decodeConfig, parseChecksConfig, readConfigBytes } from '../checks/config.js';
import { type CheckSettings, DEFAULT_SETTINGS } from '../checks/settings.js';
import { ERROR_CATALOGUE, ExitCode, type ExitCodeValue, oneLine, PortcullisError } from '../errors.js';
import { SEVERITIES, type Severity } from '../findings/finding.js';
import type { WalkProgress } from '../image/walk.js';
import type { RegistryOptions } from '../oci/registry/client.js';

/** Registry flags every image-reading command takes, skopeo-style. */
export function addRegistryOptions(cmd: Command): Command {
  return addConnectionOptions(cmd)
    .option('--platform <os/arch[/variant]>', 'platform to pick from a multi-platform image (default: this host)')
    .option('--all-platforms', 'assess every platform of a multi-platform image');
}

/**
 * The report options the audits share: output format (table, JSON, SARIF), output file, a severity filter, and the
 * exit code when findings remain (1).
 */
export function addReportOptions(cmd: Command, severities = 'comma-separated'): Command {
  return cmd
    .addOption(
      new Option('-f, --format <format>', 'output format').choices(['table', 'json', 'sarif']).default('table'),
    )
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .option('--severity <list>', `report only these severities (${severities})`)
    .option('--exit-code <n>', 'exit with N when findings remain after filtering', '1');
}

/** How to reach and authenticate to registries (no platform choice): for commands that read or write one image. */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option(
      '--creds <user:password>',
      'registry credentials (never printed); default: auth files and credential helpers',
    )
    .option(
      '--authfile <file>',
      'auth file (containers auth.json or docker config.json); default: REGISTRY_AUTH_FILE, ~/.docker/config.json',
    )
    .option('--ca-cert <file>', 'extra CA certificate (PEM) to trust; repeatable', collect, [])
    .option('--cert-dir <dir>', 'directory with *.crt CAs and *.cert/*.key client certificates')
    .option('--insecure-registry <host>', 'reach HOST over plain HTTP; repeatable', collect, [])
    .addOption(
      new Option('--retries <n>', 'attempts for retryable registry errors')
        .default('5')
        .argParser(positiveInt('--retries')),
    );
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function positiveInt(flag: string): (v: string) => string {
  return (v) => {
    if (!/^\d+$/.test(v) || Number(v) < 1)
      throw new PortcullisError('USAGE', `${flag} must be a positive integer, not '${v}'`);
    return v;
  };
}

/** Parse a size like 64MiB, 1g, 500000. */
export function parseSize(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(v.trim());
  if (!m) throw new PortcullisError('USAGE', `${flag}: '${v}' is not a size (e.g. 64MiB, 2GiB)`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[
    (m[2] ?? '').toLowerCase() as '' | 'k'
  ] as number;
  return Math.floor(Number(m[1]) * unit);
}

export interface RegistryFlags {
  creds?: string;
  authfile?: string;
  caCert: string[];
  certDir?: string;
  insecureRegistry: string[];
  retries: string;
}

export function registryOptions(f: RegistryFlags): RegistryOptions {
  return {
    ...(f.creds !== undefined ? { creds: f.creds } : {}),
    ...(f.authfile !== undefined ? { authFile: f.authfile } : {}),
    caCerts: f.caCert,
    ...(f.certDir !== undefined ? { certDir: f.certDir } : {}),
    insecureRegistries: f.insecureRegistry,
    retries: Number(f.retries),
  };
}

/** Progress on a terminal, nothing in CI or when piped (`--quiet` silences it too). */
export function progressReporter(quiet: boolean, layers: number): ((p: WalkProgress) => void) | undefined {
  const tty = process.stderr.isTTY && !process.env.CI && !quiet;
  if (!tty) return undefined;
  let last = 0;
  const seen = new Map<number, WalkProgress>();
  return (p) => {
    seen.set(p.layer, p);
    const now = Date.now();
    if (now - last < 100 && !p.done) return;
    last = now;
    let bytes = 0;
    let total = 0;
    let done = 0;
    for (const s of seen.values()) {
      bytes += s.bytes;
      total += s.total ?? s.bytes;
      if (s.done) done++;
    }
    const mb = (n: number): string => (n / 1e6).toFixed(1);
    process.stderr.write(`\r\x1b[Klayers ${done}/${layers}  ${mb(bytes)}/${mb(total)} MB`);
    if (done === layers) process.stderr.write('\r\x1b[K');
  };
}

/** Print one line for an error, plus how to solve it, and give the exit code. */
export function reportError(err: unknown): ExitCodeValue {
  if (err instanceof PortcullisError) {
    process.stderr.write(`portcullis: ${err.code}: ${oneLine(err)}\n  hint: ${ERROR_CATALOGUE[err.code].solve}\n`);
    return err.exitCode;
  }
  const e = err as { code?: string };
  // helpDisplayed: -h/--help; help: the `help COMMAND` command.
  if (e?.code === 'commander.helpDisplayed' || e?.code === 'commander.help' || e?.code === 'commander.version')
    return ExitCode.ok;
  if (typeof e?.code === 'string' && e.code.startsWith('commander.')) return ExitCode.input;
  process.stderr.write(`portcullis: internal error: ${oneLine(err)}\n`);
  if (process.env.PORTCULLIS_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
  return ExitCode.infrastructure;
}

/** Document timestamp: SOURCE_DATE_EPOCH when set (reproducible builds), else now. */
export function documentTime(): Date {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  return epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
}

/** `--exit-code N`: 0-255. */
export function parseExitCode(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 255)
    throw new PortcullisError('USAGE', `--exit-code must be 0-255, not '${v}'`);
  return n;
}

/** `--severity critical,high`: the severities to report, undefined when not given. */
export function parseSeverityList(list: string | undefined): Severity[] | undefined {
  if (list === undefined) return undefined;
  const wanted = list.split(',').map((s) => s.trim().toLowerCase()) as Severity[];
  for (const s of wanted)
    if (!SEVERITIES.includes(s))
      throw new PortcullisError('USAGE', `--severity: '${s}' is not one of ${SEVERITIES.join(', ')}`);
  return wanted;
}

/** `--checks-config FILE`, or the defaults. */
export function loadChecksSettings(path: string | undefined): CheckSettings {
  if (path === undefined) return DEFAULT_SETTINGS;
  // The digest is of the file's bytes, as sha256sum gives it (a policy's check-settings rule pins it).
  const bytes = readConfigBytes(path, '--checks-config');
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  return { ...parseChecksConfig(decodeConfig(bytes), path), source: { file: path, digest } };
}
