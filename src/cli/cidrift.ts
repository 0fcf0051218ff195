/** `ci baseline` and `ci drift`: integrity monitoring of the pipeline definitions. */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { repositoryBase } from '../ci/audit.js';
import {
  buildBaseline,
  DEFAULT_BASELINE_PATH,
  parseBaseline,
  readBaselineBytes,
  serialiseBaseline,
  signBaseline,
  snapshot,
  verifyBaseline,
} from '../ci/baseline.js';
import { loadCiConfig } from '../ci/config.js';
import { compareSummaries, driftFindings } from '../ci/drift.js';
import { type DriftView, driftJson, driftSarif, driftTable } from '../ci/driftreport.js';
import { checkoutRevision } from '../ci/gitrev.js';
import { CI_RULES } from '../ci/rules/index.js';
import type { CiSummary } from '../ci/summary.js';
import { fail, PortcullisError, printable } from '../errors.js';
import { severityRank } from '../findings/finding.js';
import { loadPrivateKey, loadTrustedKey } from '../sign/open.js';
import { readPassword } from '../sign/password.js';
import { documentTime, parseExitCode } from './common.js';
import { setCommandExitCode } from './exitcode.js';

interface BaselineFlags {
  output?: string;
  signKey?: string;
  config?: string;
}

interface DriftFlags {
  baseline?: string;
  verifyKey?: string;
  since?: string;
  format: 'table' | 'json' | 'sarif';
  output?: string;
  exitCode: string;
  config?: string;
}

const CONFIG_HELP =
  'CI audit configuration: production registries and assessment commands (default PATH/.portcullis/ci.yaml when it exists)';

function rootOf(path: string): string {
  const root = resolve(path);
  if (!existsSync(root)) fail('NOT_FOUND', `${printable(path)}: no such file or directory`);
  return root;
}

const dirOf = (root: string): string => (statSync(root).isFile() ? dirname(root) : root);

function config(root: string, explicit: string | undefined) {
  return loadCiConfig(
    dirOf(root),
    explicit === undefined ? undefined : resolve(explicit),
    CI_RULES.map((r) => r.id),
  );
}

export function baselineCommand(): Command {
  return new Command('baseline')
    .description(
      'record what the pipelines do (per job: triggers, token, runners, secrets, pushes, the assessment gate, step fingerprints; per file: sha256) for `ci drift`',
    )
    .argument('[path]', 'repository root (or one workflow file)', '.')
    .option('-o, --output <file>', `where to write it (default PATH/${DEFAULT_BASELINE_PATH})`)
    .option(
      '--sign-key <key>',
      'sign it with a cosign private key (password: COSIGN_PASSWORD or a prompt): a detached FILE.sig, as cosign sign-blob writes',
    )
    .option('--config <file>', CONFIG_HELP)
    .exitOverride()
    .action(async (path: string, flags: BaselineFlags) => {
      const root = rootOf(path);
      const cfg = config(root, flags.config);
      // The key is opened before anything is written: a wrong password leaves the old baseline as it was.
      const key = flags.signKey ? await loadPrivateKey(flags.signKey, (await readPassword(false)).bytes) : undefined;
      const summary = await snapshot(root, cfg);
      const text = serialiseBaseline(buildBaseline(summary, documentTime()));
      const out = flags.output ?? join(dirOf(root), DEFAULT_BASELINE_PATH);
      const bytes = Buffer.from(text, 'utf8');
      try {
        mkdirSync(dirname(out), { recursive: true });
        writeFileSync(out, bytes);
        if (key) writeFileSync(`${out}.sig`, signBaseline(bytes, key.privateKey));
        // A signature left from an earlier baseline would not match; removing it says plainly that this one is unsigned.
        else rmSync(`${out}.sig`, { force: true });
      } catch (err) {
        fail('OUTPUT_FAILED', `${printable(out)}: cannot write (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      const jobs = summary.workflows.reduce((n, w) => n + w.jobs.length, 0);
      process.stderr.write(
        `Baseline written to ${out} (${summary.files.length} files, ${jobs} jobs)${key ? `; signature written to ${out}.sig` : ''}\n`,
      );
    });
}

export function driftCommand(): Command {
  return new Command('drift')
    .description(
      'compare the pipelines with the baseline (or a git revision) and explain each change by meaning and severity',
    )
    .argument('[path]', 'repository root (or one workflow file)', '.')
    .option('--baseline <file>', `the baseline to compare with (default PATH/${DEFAULT_BASELINE_PATH})`)
    .option('--verify-key <key>', 'refuse the baseline unless FILE.sig verifies with this cosign public key')
    .option('--since <rev>', "compare with the definitions at this git revision (the repository's own git, no network)")
    .addOption(
      new Option('-f, --format <format>', 'output format').choices(['table', 'json', 'sarif']).default('table'),
    )
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .option('--exit-code <n>', 'exit with N when there is drift above info', '1')
    .option('--config <file>', CONFIG_HELP)
    .exitOverride()
    .action(async (path: string, flags: DriftFlags) => {
      setCommandExitCode(await runDrift(path, flags));
    });
}

async function baselineSummary(root: string, flags: DriftFlags): Promise<{ base: CiSummary; verifiedWith?: string }> {
  const file = flags.baseline ? resolve(flags.baseline) : join(dirOf(root), DEFAULT_BASELINE_PATH);
  const bytes = readBaselineBytes(file);
  let verifiedWith: string | undefined;
  // The signature is checked over the bytes before they are parsed: an unverified baseline is never read.
  if (flags.verifyKey) {
    const key = await loadTrustedKey(flags.verifyKey);
    verifyBaseline(file, bytes, key.key, key.name);
    verifiedWith = key.name;
  }
  return { base: parseBaseline(bytes, file), ...(verifiedWith ? { verifiedWith } : {}) };
}

async function runDrift(path: string, flags: DriftFlags): Promise<number> {
  const exitCode = parseExitCode(flags.exitCode);
  if (flags.since !== undefined && (flags.baseline !== undefined || flags.verifyKey !== undefined))
    fail('USAGE', '--since compares with a git revision; it does not take --baseline or --verify-key');
  const root = rootOf(path);
  const cfg = config(root, flags.config);
  let base: CiSummary;
  let verifiedWith: string | undefined;
  let against: DriftView['against'];
  if (flags.since !== undefined) {
    if (statSync(root).isFile()) fail('USAGE', '--since takes a repository directory, not one file');
    const rev = await checkoutRevision(root, flags.since);
    try {
      base = await snapshot(rev.dir, cfg);
    } catch (err) {
      // The files of the revision could not all be read: say which revision they belong to.
      if (err instanceof PortcullisError && err.code === 'CI_INVALID')
        fail('CI_INVALID', `at ${printable(flags.since, 100)}: ${err.message}`);
      throw err;
    } finally {
      rev.remove();
    }
    against = { revision: flags.since };
  } else {
    const b = await baselineSummary(root, flags);
    base = b.base;
    verifiedWith = b.verifiedWith;
    against = { baseline: flags.baseline ?? join(dirOf(root), DEFAULT_BASELINE_PATH) };
  }
  const current = await snapshot(root, cfg);
  const result = compareSummaries(base, current, cfg);
  const findings = driftFindings(result.hits);
  const view: DriftView = {
    root,
    base: repositoryBase(root),
    against,
    findings,
    notes: result.notes,
    ...(verifiedWith ? { verifiedWith } : {}),
    created: documentTime(),
  };
  const text =
    flags.format === 'json' ? driftJson(view) : flags.format === 'sarif' ? driftSarif(view) : driftTable(view);
  if (flags.output) writeFileSync(flags.output, text);
  else process.stdout.write(text);
  return findings.some((f) => severityRank(f.severity) > severityRank('info')) ? exitCode : 0;
}
