import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { fail } from '../errors.js';
import { collectFacts } from '../posture/audit.js';
import { auditJson, auditSarif, auditTable } from '../posture/report.js';
import { judge } from '../posture/verdicts.js';
import { addReportOptions, collect, documentTime, parseExitCode, parseSeverityList } from './common.js';
import { setCommandExitCode } from './exitcode.js';
import { watchCommand } from './registrywatch.js';

interface AuditFlags {
  format: 'table' | 'json' | 'sarif';
  output?: string;
  repository?: string;
  expiryWarning: string;
  timeout: string;
  severity?: string;
  exitCode: string;
  creds?: string;
  authfile?: string;
  caCert: string[];
  certDir?: string;
}

/** `30d`, `12h`, `90m`, `10s` in milliseconds. */
export function parseDuration(flag: string, v: string): number {
  const m = /^(\d{1,6})\s*([dhms])$/.exec(v.trim());
  if (!m) fail('USAGE', `${flag}: '${v.slice(0, 40)}' is not a duration (e.g. 30d, 12h, 10s)`);
  return Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[m[2] as 'd' | 'h' | 'm' | 's'];
}

export function registryCommand(): Command {
  const cmd = new Command('registry').description("a registry's security posture");
  const audit = addReportOptions(new Command('audit'))
    .description('probe a registry: TLS, certificate, anonymous catalog/pull/push/delete, token scopes, plain HTTP')
    .argument('<host>', 'HOST[:PORT] of the registry (443 for TLS and 80 for plain HTTP without a port)')
    .option(
      '--repository <repo>',
      'repository for the pull, push and delete probes (default: the first the catalog lists)',
    )
    .option('--expiry-warning <duration>', 'report a certificate that expires within this horizon', '30d')
    .option('--timeout <duration>', 'deadline of each probe', '10s')
    .option(
      '--creds <user:password>',
      'credentials for the catalog listing and the token-scope probe (never sent over plain HTTP)',
    )
    .option('--authfile <file>', 'auth file (containers auth.json or docker config.json)')
    .option('--ca-cert <file>', 'extra CA certificate (PEM) to trust; repeatable', collect, [])
    .option('--cert-dir <dir>', 'directory with *.crt CAs and *.cert/*.key client certificates')
    .action(async (host: string, flags: AuditFlags) => {
      setCommandExitCode(await runAudit(host, flags));
    });
  cmd.addCommand(audit.exitOverride());
  cmd.addCommand(watchCommand());
  return cmd;
}

async function runAudit(target: string, flags: AuditFlags): Promise<number> {
  const exitCode = parseExitCode(flags.exitCode);
  const wanted = parseSeverityList(flags.severity);
  const expiryWarningMs = parseDuration('--expiry-warning', flags.expiryWarning);
  const timeoutMs = parseDuration('--timeout', flags.timeout);
  if (timeoutMs === 0) fail('USAGE', '--timeout must be more than 0');
  const facts = await collectFacts(target, {
    ...(flags.creds !== undefined ? { creds: flags.creds } : {}),
    ...(flags.authfile !== undefined ? { authFile: flags.authfile } : {}),
    caCerts: flags.caCert,
    ...(flags.certDir !== undefined ? { certDir: flags.certDir } : {}),
    ...(flags.repository !== undefined ? { repository: flags.repository } : {}),
    timeoutMs,
  });
  const result = judge(facts, { now: new Date(), expiryWarningMs });
  const shown = wanted ? result.findings.filter((f) => wanted.includes(f.severity)) : result.findings;
  const view = { facts, result, shown, created: documentTime() };
  const text =
    flags.format === 'json' ? auditJson(view) : flags.format === 'sarif' ? auditSarif(view) : auditTable(view);
  if (flags.output) await writeFile(flags.output, text);
  else process.stdout.write(text);
  return shown.length > 0 ? exitCode : 0;
}
