import { stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { auditPath } from '../ci/audit.js';
import { ciJson, ciSarif, ciTable, errorLine } from '../ci/report.js';
import { fail } from '../errors.js';
import { baselineCommand, driftCommand } from './cidrift.js';
import { addReportOptions, documentTime, parseExitCode, parseSeverityList } from './common.js';
import { setCommandExitCode } from './exitcode.js';

interface AuditFlags {
  format: 'table' | 'json' | 'sarif';
  output?: string;
  severity?: string;
  exitCode: string;
  config?: string;
}

export function ciCommand(): Command {
  const cmd = new Command('ci').description(
    'CI pipeline security: audit workflow definitions, record a baseline of them, report drift from it',
  );
  const audit = addReportOptions(new Command('audit'))
    .description(
      'audit GitHub Actions workflows and actions (.github/workflows, action.yml) GitLab CI (.gitlab-ci.yml and its local includes) and Jenkinsfiles (best effort) for pwn requests, injection, token and secret exposure, unpinned actions and deploys from CI',
    )
    .argument('[path]', 'repository root (or one workflow file, a .gitlab-ci.yml or a Jenkinsfile)', '.')
    .option(
      '--config <file>',
      'where the pipelines sit in the image path: production and staging registries, assessment commands, ignores (schemas/ci.schema.json; default PATH/.portcullis/ci.yaml when it exists)',
    )
    .action(async (path: string, flags: AuditFlags) => {
      setCommandExitCode(await runCiAudit(path, flags));
    });
  cmd.addCommand(audit.exitOverride());
  cmd.addCommand(baselineCommand());
  cmd.addCommand(driftCommand());
  return cmd;
}

async function runCiAudit(path: string, flags: AuditFlags): Promise<number> {
  const exitCode = parseExitCode(flags.exitCode);
  const wanted = parseSeverityList(flags.severity);
  const root = resolve(path);
  try {
    await stat(root);
  } catch {
    fail('NOT_FOUND', `${path}: no such file or directory`);
  }
  const result = await auditPath(root, flags.config !== undefined ? { config: resolve(flags.config) } : {});
  const shown = wanted ? result.findings.filter((f) => wanted.includes(f.severity)) : result.findings;
  const view = { result, shown, created: documentTime() };
  const text = flags.format === 'json' ? ciJson(view) : flags.format === 'sarif' ? ciSarif(view) : ciTable(view);
  if (flags.output) await writeFile(flags.output, text);
  else process.stdout.write(text);
  // Fail closed: a file that could not be read is never a clean pass.
  for (const e of result.errors) process.stderr.write(`portcullis: CI_INVALID: ${errorLine(e)}\n`);
  if (result.errors.length) return 2;
  return shown.length > 0 ? exitCode : 0;
}
