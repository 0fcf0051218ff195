import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { matchInventory } from '../advisories/match.js';
import { severityOf } from '../advisories/severity.js';
import { SCHEME_CHOOSER } from '../advisories/versions/index.js';
import { ExitCode, fail } from '../errors.js';
import { type Finding, SEVERITIES, type Severity } from '../findings/finding.js';
import type { Inventory } from '../inventory/image.js';
import type { Decision } from '../policy/model.js';
import { findingsTable } from '../report/findings-table.js';
import { decisionJson, decisionTable } from '../report/policy-decision.js';
import { scanRun, toSarif } from '../report/sarif.js';
import { suppressedTable } from '../report/vex-table.js';
import { toVulnerabilityCycloneDx } from '../report/vuln-cyclonedx.js';
import { AdvisoryDb, defaultDbPath } from '../store/advisorydb.js';
import { TOOL } from '../version.js';
import { applyVex, type VexNote, vexTargetOf } from '../vex/apply.js';
import { readVexFiles } from '../vex/load.js';
import { addRegistryOptions, documentTime } from './common.js';
import { setCommandExitCode } from './exitcode.js';
import { decideForScan, loadPolicyFlag } from './policyflag.js';
import { inventoryOf, type SbomFlags } from './sbom.js';

interface ScanFlags extends SbomFlags {
  db?: string;
  severity?: string;
  ignoreUnfixed?: boolean;
  includeUnimportant?: boolean;
  exitCode: string;
  maxDbAge?: string;
  dbWarnAge: string;
  vex: string[];
  showSuppressed?: boolean;
  policy?: string;
}

/** Parse 7d, 36h, 90m into milliseconds. */
function parseAge(flag: string, v: string): number {
  const m = /^(\d+)\s*([dhm])$/.exec(v.trim());
  if (!m) fail('USAGE', `${flag}: '${v}' is not an age (e.g. 7d, 36h)`);
  return Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as 'd' | 'h' | 'm'];
}

export function scanCommand(): Command {
  const cmd = new Command('scan')
    .description('inventory an image and match it against the advisory database')
    .argument(
      '<image>',
      'docker://host/repo:tag, host/repo@digest, oci:DIR[:ref], oci-archive:FILE, docker-archive:FILE, dir:ROOTFS',
    )
    .addOption(
      new Option('-f, --format <format>', 'output format')
        .choices(['table', 'json', 'sarif', 'cyclonedx'])
        .default('table'),
    )
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .option('-q, --quiet', 'no progress output')
    .option('--db <file>', 'advisory database (default: PORTCULLIS_DB or ~/.cache/portcullis/advisories.db)')
    .option('--severity <list>', `report only these severities (comma-separated: ${SEVERITIES.join(',')})`)
    .option('--ignore-unfixed', 'leave out vulnerabilities that have no fixed version yet')
    .option(
      '--include-unimportant',
      "show issues the distribution rates 'unimportant' (hidden by default, and counted)",
    )
    .option('--exit-code <n>', 'exit with N when vulnerabilities remain after filtering', '0')
    .option(
      '--vex <file>',
      'OpenVEX or CycloneDX VEX document; findings it states not_affected or fixed are suppressed (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--show-suppressed', 'list the findings VEX suppressed, with the statement each one cites')
    .option(
      '--policy <file>',
      'decide PASS or FAIL against this policy (docs/policy.md); the decision sets the exit code (1 on FAIL)',
    )
    .option('--max-db-age <age>', 'refuse to scan when the database is older than this (e.g. 7d)')
    .option('--db-warn-age <age>', 'warn when the database is older than this', '7d')
    .option('--max-file-size <size>', 'largest file whose content a cataloger reads (default 64MiB)')
    .option('--max-content-total <size>', 'most file content kept in memory for one image (default 256MiB)')
    .option('--max-layer-size <size>', 'largest uncompressed layer accepted (default 64GiB)');
  addRegistryOptions(cmd);
  cmd.action(async (ref: string, flags: ScanFlags) => {
    setCommandExitCode(await runScan(ref, flags));
  });
  return cmd;
}

async function runScan(ref: string, flags: ScanFlags): Promise<number> {
  const exitCode = Number(flags.exitCode);
  if (!Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255)
    fail('USAGE', `--exit-code must be 0-255, not '${flags.exitCode}'`);
  const wanted = flags.severity?.split(',').map((s) => s.trim().toLowerCase()) as Severity[] | undefined;
  for (const s of wanted ?? [])
    if (!SEVERITIES.includes(s)) fail('USAGE', `--severity: '${s}' is not one of ${SEVERITIES.join(', ')}`);
  // With a policy the decision sets the exit code; --exit-code would contradict it.
  if (flags.policy !== undefined && exitCode !== 0)
    fail('USAGE', '--exit-code and --policy conflict: with --policy, the decision sets the exit code (1 on FAIL)');
  const policy = flags.policy !== undefined ? loadPolicyFlag(flags.policy) : undefined;
  const vex = readVexFiles(flags.vex);
  for (const w of vex.warnings.slice(0, 20)) process.stderr.write(`portcullis: warning: vex: ${w}\n`);
  // Open the database first: a missing or stale one must fail before minutes of pulling.
  const db = AdvisoryDb.open(flags.db ?? defaultDbPath());
  try {
    const updated = db.meta('updated_at');
    const age = updated ? Date.now() - Date.parse(updated) : Number.POSITIVE_INFINITY;
    if (flags.maxDbAge && age > parseAge('--max-db-age', flags.maxDbAge)) {
      fail(
        'CONFIG_INVALID',
        `the advisory database ${db.path} was last updated ${updated ?? 'never'}, older than --max-db-age ${flags.maxDbAge}`,
      );
    }
    if (age > parseAge('--db-warn-age', flags.dbWarnAge)) {
      process.stderr.write(
        `portcullis: warning: the advisory database was last updated ${updated ?? 'never'}; run 'portcullis db update'\n`,
      );
    }
    const inventories = await inventoryOf(ref, flags);
    const fatal = inventories.flatMap((inv) => inv.unknowns.filter((u) => u.fatal));
    if (fatal[0])
      fail(fatal[0].code ?? 'LAYER_INVALID', `${ref}: ${fatal[0].cataloger}: /${fatal[0].path}: ${fatal[0].message}`);
    const results = inventories.map((inv) => ({ inv, ...matchInventory(inv, db, SCHEME_CHOOSER, severityOf) }));
    let remaining = 0;
    let policyFailed = false;
    const outputs: string[] = [];
    const scans: ScanDocumentInput[] = [];
    for (const r of results) {
      for (const p of r.problems.slice(0, 20)) process.stderr.write(`portcullis: warning: ${p}\n`);
      // VEX first: a suppressed finding is neither shown nor counted by the filters below (it is listed apart).
      const applied = applyVex(r.findings, vex.statements, vexTargetOf(r.inv));
      const active = applied.findings.filter((f) => !f.suppression);
      const suppressed = applied.findings.filter((f) => f.suppression);
      const unimportant = active.filter((f) => f.vulnerability?.urgency === 'unimportant');
      let shown: Finding[] = flags.includeUnimportant ? active : active.filter((f) => !unimportant.includes(f));
      if (flags.ignoreUnfixed) shown = shown.filter((f) => f.vulnerability?.status === 'fixed');
      if (wanted) shown = shown.filter((f) => wanted.includes(f.severity));
      remaining += shown.length;
      const vexOut = { suppressed, notes: applied.notes };
      // The policy sees every finding VEX left, whatever --severity or --ignore-unfixed hide from the listing.
      const decision = policy ? decideForScan(policy, r.inv, applied.findings) : undefined;
      if (decision && !decision.pass) policyFailed = true;
      if (flags.format === 'sarif' || flags.format === 'cyclonedx') {
        scans.push({ inv: r.inv, shown, suppressed, hidden: active.length - shown.length });
        if (decision) process.stderr.write(decisionTable(decision));
      } else {
        const out = render(r.inv, shown, flags, db, active.length - shown.length, unimportant.length, vexOut, decision);
        outputs.push(out);
      }
    }
    const text = scans.length ? renderDocument(scans, flags, db) : outputs.join(flags.format === 'json' ? '' : '\n');
    if (flags.output) await writeFile(flags.output, text);
    else process.stdout.write(text);
    if (policy) return policyFailed ? ExitCode.failed : ExitCode.ok;
    return remaining > 0 ? exitCode : ExitCode.ok;
  } finally {
    db.close();
  }
}

function render(
  inv: Inventory,
  findings: Finding[],
  flags: ScanFlags,
  db: AdvisoryDb,
  hidden: number,
  unimportant: number,
  vex: { suppressed: Finding[]; notes: VexNote[] },
  decision?: Decision,
): string {
  if (flags.format === 'json') {
    return `${JSON.stringify(
      {
        tool: TOOL,
        created: documentTime().toISOString(),
        subject: inv.subject,
        os: inv.os ?? null,
        database: { path: db.path, updated: db.meta('updated_at') ?? null },
        packages: inv.packages.length,
        findings,
        hidden: { total: hidden, unimportant: flags.includeUnimportant ? 0 : unimportant },
        suppressed: vex.suppressed,
        vexNotes: vex.notes,
        ...(decision ? { policy: decisionJson(decision) } : {}),
      },
      null,
      2,
    )}\n`;
  }
  const s = inv.subject;
  const header = [
    `${s.kind === 'image' ? 'Image' : 'Root file system'}: ${s.source}`,
    ...(s.digest ? [`Digest:   ${s.digest}`] : []),
    `OS:       ${inv.os ? (inv.os.prettyName ?? inv.os.id) : 'unknown'}`,
    `Packages: ${inv.packages.length}; advisories from ${db.path} (updated ${db.meta('updated_at') ?? 'unknown'})`,
  ];
  if (hidden > 0) {
    header.push(
      `Not shown: ${hidden}${!flags.includeUnimportant && unimportant ? ` (${unimportant} rated unimportant by the distribution: --include-unimportant)` : ''}`,
    );
  }
  if (vex.suppressed.length > 0) {
    header.push(
      `Suppressed by VEX: ${vex.suppressed.length}${flags.showSuppressed ? '' : ' (--show-suppressed lists them)'}`,
    );
  }
  if (vex.notes.length > 0) {
    header.push(`VEX: ${vex.notes.length} shown findings stated affected or under investigation (JSON: vexNotes)`);
  }
  const table = findingsTable(findings, header, (eco, a, b) => SCHEME_CHOOSER.forEcosystem(eco).compare(a, b));
  const body = flags.showSuppressed ? `${table}\n${suppressedTable(vex.suppressed)}` : table;
  return decision ? `${body}\n${decisionTable(decision)}` : body;
}

interface ScanDocumentInput {
  readonly inv: Inventory;
  readonly shown: Finding[];
  readonly suppressed: Finding[];
  readonly hidden: number;
}

/**
 * SARIF and CycloneDX are one document for all platforms: SARIF with one run per platform, CycloneDX with the
 * platforms' images as components of the index. CycloneDX always lists suppressed findings with their analysis;
 * SARIF only with --show-suppressed, as GitHub code scanning would open alerts for them (it ignores `suppressions`).
 */
function renderDocument(scans: readonly ScanDocumentInput[], flags: ScanFlags, db: AdvisoryDb): string {
  const database = { path: db.path, updated: db.meta('updated_at') ?? null };
  const doc =
    flags.format === 'sarif'
      ? toSarif(
          scans.map((s) =>
            scanRun(s.inv, flags.showSuppressed ? [...s.shown, ...s.suppressed] : s.shown, {
              database,
              hidden: s.hidden,
              suppressed: s.suppressed.length,
            }),
          ),
        )
      : toVulnerabilityCycloneDx(
          scans.map((s) => ({ inv: s.inv, findings: [...s.shown, ...s.suppressed] })),
          { timestamp: documentTime() },
        );
  return `${JSON.stringify(doc, null, 2)}\n`;
}
