import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { runMisconfigRules, secretFindings } from '../checks/engine.js';
import { describeCheckRule, ruleById } from '../checks/registry.js';
import { applyIgnores } from '../checks/suppress.js';
import { SEVERITIES } from '../findings/finding.js';
import { checksTable } from '../report/checks-table.js';
import { toSarif } from '../report/sarif.js';
import { suppressedTable } from '../report/vex-table.js';
import { SECRET_RULES } from '../secrets/rules.js';
import { SecretScanner } from '../secrets/scanner.js';
import { TOOL } from '../version.js';
import { addReportOptions, loadChecksSettings, parseExitCode, parseSeverityList } from './common.js';
import { readDockerfile } from './dockerfileflag.js';
import { setCommandExitCode } from './exitcode.js';
import { loadIgnoreFlag } from './ignoreflag.js';

interface LintFlags {
  format: 'table' | 'json' | 'sarif';
  output?: string;
  severity?: string;
  exitCode: string;
  checksConfig?: string;
  ignoreFile?: string;
  showSuppressed?: boolean;
}

export function lintCommand(): Command {
  const cmd = addReportOptions(new Command('lint'), `comma-separated: ${SEVERITIES.join(',')}`)
    .description('check a Dockerfile against the build rules (CIS Docker Benchmark 4) and for secrets')
    .argument('<dockerfile>', 'the Dockerfile')
    .option('--checks-config <file>', 'settings of the checks (schemas/checks.schema.json)')
    .option('--ignore-file <file>', 'findings silenced on purpose (default .portcullisignore.yaml when it exists)')
    .option('--show-suppressed', 'list the findings ignore entries suppressed, with the entry each cites');
  cmd.action(async (path: string, flags: LintFlags) => {
    setCommandExitCode(await runLint(path, flags));
  });
  return cmd;
}

async function runLint(path: string, flags: LintFlags): Promise<number> {
  const exitCode = parseExitCode(flags.exitCode);
  const wanted = parseSeverityList(flags.severity);
  const settings = loadChecksSettings(flags.checksConfig);
  const dockerfile = readDockerfile(path);
  const targets = { image: path, dockerfile: path };
  const misconfig = runMisconfigRules(
    { build: { steps: dockerfile.steps, from: 'dockerfile', path, settings } },
    targets,
  );
  const hits = new SecretScanner(settings.secrets).scanText(dockerfile.text, path);
  const secrets = secretFindings(hits, SECRET_RULES, targets);
  const ignored = applyIgnores(
    [...misconfig, ...secrets],
    [...loadIgnoreFlag(flags.ignoreFile), ...dockerfile.ignores],
    new Date(),
  );
  for (const n of ignored.notes) process.stderr.write(`portcullis: warning: ${n}\n`);
  const active = ignored.findings.filter((f) => !f.suppression);
  const suppressed = ignored.findings.filter((f) => f.suppression);
  const shown = wanted ? active.filter((f) => wanted.includes(f.severity)) : active;
  let text: string;
  if (flags.format === 'json') {
    text = `${JSON.stringify({ tool: TOOL, dockerfile: path, findings: shown, suppressed, ignoreNotes: ignored.notes }, null, 2)}\n`;
  } else if (flags.format === 'sarif') {
    const findings = flags.showSuppressed ? [...shown, ...suppressed] : shown;
    text = `${JSON.stringify(toSarif([{ findings, target: path, category: `portcullis-lint/${path}` }], { describeRule: describeCheckRule }), null, 2)}\n`;
  } else {
    const parts = [`Dockerfile: ${path}\n`, checksTable(shown, ['misconfiguration', 'secret'], ruleById)];
    if (flags.showSuppressed) parts.push(suppressedTable(suppressed));
    text = parts.join('\n');
  }
  if (flags.output) await writeFile(flags.output, text);
  else process.stdout.write(text);
  return shown.length > 0 ? exitCode : 0;
}
