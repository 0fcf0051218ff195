import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { matchInventory, remedyOf } from '../advisories/match.js';
import { severityOf } from '../advisories/severity.js';
import { SCHEME_CHOOSER } from '../advisories/versions/index.js';
import { baseAgeFindings } from '../checks/baseage.js';
import { describeCheckRule, ruleById } from '../checks/registry.js';
import { prepareImageChecks, skippedRules } from '../checks/run.js';
import { settingsUsed } from '../checks/settings.js';
import { isRegistryImage, unsignedFindings } from '../checks/signature.js';
import { applyIgnores } from '../checks/suppress.js';
import { ExitCode, fail, printable } from '../errors.js';
import { type Finding, type FindingKind, SEVERITIES } from '../findings/finding.js';
import type { Inventory } from '../inventory/image.js';
import { describeUnknown } from '../inventory/model.js';
import type { ImageConfig } from '../oci/manifest.js';
import { globMatch } from '../policy/match.js';
import type { Decision, InventoryGap } from '../policy/model.js';
import { checksTable } from '../report/checks-table.js';
import { findingsTable } from '../report/findings-table.js';
import { decisionJson, decisionTable } from '../report/policy-decision.js';
import { scanRun, toSarif } from '../report/sarif.js';
import { suppressedTable } from '../report/vex-table.js';
import { toVulnerabilityCycloneDx } from '../report/vuln-cyclonedx.js';
import { scrubSubject } from '../secrets/scrub.js';
import { loadTrustPolicyFile } from '../sign/trustcheck.js';
import { AdvisoryDb, dataAgeMs, defaultDbPath, lastUpdated } from '../store/advisorydb.js';
import { TOOL } from '../version.js';
import { applyVex, type VexNote, vexTargetOf } from '../vex/apply.js';
import { readVexFiles } from '../vex/load.js';
import {
  addRegistryOptions,
  documentTime,
  loadChecksSettings,
  parseExitCode,
  parseSeverityList,
  registryOptions,
} from './common.js';
import { readDockerfile } from './dockerfileflag.js';
import { setCommandExitCode } from './exitcode.js';
import { DEFAULT_IGNORE_FILE, loadIgnoreFlag } from './ignoreflag.js';
import { decideForScan, loadPolicyFlag } from './policyflag.js';
import { type ChecksFactory, inventoryOf, type SbomFlags } from './sbom.js';

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
  scanners?: string;
  dockerfile?: string;
  checksConfig?: string;
  ignoreFile?: string;
  trustPolicy?: string;
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
    .option('--exit-code <n>', 'exit with N when findings remain after filtering', '0')
    .option(
      '--vex <file>',
      'OpenVEX or CycloneDX VEX document; findings it states not_affected or fixed are suppressed (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--show-suppressed', 'list the findings VEX or ignore entries suppressed, with the statement each cites')
    .option(
      '--policy <file>',
      'decide PASS or FAIL against this policy (docs/policy.md); the decision sets the exit code (1 on FAIL)',
    )
    .option(
      '--scanners <list>',
      'what to look for (comma-separated): vuln (advisories), misconfig (image rules, CIS 4), secret; default vuln,secret, plus misconfig when --policy has a misconfigurations rule or --dockerfile, --checks-config or --trust-policy is given',
    )
    .option(
      '--dockerfile <file>',
      "the image's Dockerfile: build rules read it (with line numbers) instead of the history",
    )
    .option('--checks-config <file>', 'settings of the misconfiguration and secret checks (schemas/checks.schema.json)')
    .option(
      '--ignore-file <file>',
      `findings silenced on purpose, each with a reason and an optional expiry (default ${DEFAULT_IGNORE_FILE} when it exists)`,
    )
    .option(
      '--trust-policy <file>',
      'check the image signature against this trust policy (CIS 4.5, rule image-unsigned; as `portcullis verify`)',
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
  const exitCode = parseExitCode(flags.exitCode);
  const wanted = parseSeverityList(flags.severity);
  // With a policy the decision sets the exit code; --exit-code would contradict it.
  if (flags.policy !== undefined && exitCode !== 0)
    fail('USAGE', '--exit-code and --policy conflict: with --policy, the decision sets the exit code (1 on FAIL)');
  const policy = flags.policy !== undefined ? loadPolicyFlag(flags.policy) : undefined;
  // As Trivy: vulnerabilities and secrets by default; the image rules when something asks for them.
  const wantsMisconfig = !!(
    policy?.rules.misconfigurations ||
    flags.dockerfile ||
    flags.checksConfig ||
    flags.trustPolicy
  );
  const sel = parseScanners(flags.scanners ?? (wantsMisconfig ? 'vuln,misconfig,secret' : 'vuln,secret'));
  const now = new Date();
  const settings = loadChecksSettings(flags.checksConfig);
  const dockerfile = flags.dockerfile ? readDockerfile(flags.dockerfile) : undefined;
  const ignores = [...loadIgnoreFlag(flags.ignoreFile), ...(dockerfile?.ignores ?? [])];
  const trust =
    flags.trustPolicy !== undefined && sel.misconfig ? await loadTrustPolicyFile(flags.trustPolicy) : undefined;
  // A policy that fails on image-unsigned must not pass because the signature was never looked at.
  if (!trust && policy?.rules.misconfigurations?.fail.some((p) => globMatch(p, 'image-unsigned')))
    fail('USAGE', `the policy fails on image-unsigned; give --trust-policy FILE so the signature is checked`);
  if (trust && !isRegistryImage(ref))
    fail('USAGE', `--trust-policy checks the signature of a registry image; ${ref} is not one (docker://host/repo...)`);
  const signatures = new Map<string, Promise<{ findings: Finding[]; notes: string[] }>>();
  const checksFactory: ChecksFactory = (config) =>
    config
      ? prepareImageChecks(config, sel, settings, now, dockerfile)
      : // A root file system has no config to read rules from: only its files are looked at for secrets.
        sel.secret
        ? prepareImageChecks(EMPTY_CONFIG, { misconfig: false, secret: true }, settings, now)
        : undefined;
  const vex = readVexFiles(flags.vex);
  for (const w of vex.warnings.slice(0, 20)) process.stderr.write(`portcullis: warning: vex: ${w}\n`);
  // Open the database first: a missing or stale one must fail before minutes of pulling.
  const db = AdvisoryDb.open(flags.db ?? defaultDbPath());
  try {
    const updated = db.meta('updated_at');
    const age = dataAgeMs(updated);
    if (flags.maxDbAge && age > parseAge('--max-db-age', flags.maxDbAge)) {
      fail(
        'CONFIG_INVALID',
        `the advisory database ${db.path} was ${lastUpdated(updated)}: refused by --max-db-age ${flags.maxDbAge}`,
      );
    }
    if (age > parseAge('--db-warn-age', flags.dbWarnAge)) {
      process.stderr.write(
        `portcullis: warning: the advisory database was ${lastUpdated(updated)}; run 'portcullis db update'\n`,
      );
    }
    const scanned = await inventoryOf(ref, flags, sel.misconfig || sel.secret ? checksFactory : undefined);
    const fatal = scanned.flatMap(({ inv }) => inv.unknowns.filter((u) => u.fatal));
    if (fatal[0]) fail(fatal[0].code ?? 'LAYER_INVALID', `${ref}: ${describeUnknown(fatal[0])}`);
    let remaining = 0;
    let policyFailed = false;
    const outputs: string[] = [];
    const scans: ScanDocumentInput[] = [];
    for (const { inv, checks: ran0 } of scanned) {
      let checks = ran0;
      const signed = inv.subject.indexDigest ?? inv.subject.digest;
      // The image checks that need a registry: the signature (CIS 4.5) and the base image's age (CIS 4.4).
      const edge: { findings: Finding[]; notes: string[] }[] = [];
      if (trust && checks && signed) {
        let verdict = signatures.get(signed);
        if (!verdict) {
          verdict = unsignedFindings(ref, signed, trust, registryOptions(flags));
          signatures.set(signed, verdict);
        }
        edge.push(await verdict);
      }
      if (checks && sel.misconfig) edge.push(await baseAgeFindings(inv.subject, settings, now, registryOptions(flags)));
      if (checks)
        checks = {
          ...checks,
          findings: [...checks.findings, ...edge.flatMap((e) => e.findings)],
          notes: [...checks.notes, ...edge.flatMap((e) => e.notes)],
        };
      const matched = sel.vuln
        ? matchInventory(inv, db, SCHEME_CHOOSER, severityOf)
        : { findings: [], problems: [], gaps: [] };
      // Warnings quote the image's text (a version no scheme reads): control characters are printed as `?`.
      // At most 20 matcher warnings, the rest counted: each may be a package never matched, or a range not read.
      const more = matched.problems.length > 20 ? [`… and ${matched.problems.length - 20} more matcher warnings`] : [];
      for (const p of [...notCatalogued(inv), ...matched.problems.slice(0, 20), ...more, ...(checks?.notes ?? [])])
        process.stderr.write(`portcullis: warning: ${printable(p, 1000)}\n`);
      // VEX and ignore entries first: a suppressed finding is neither shown nor counted by the filters below.
      const applied = applyVex([...matched.findings, ...(checks?.findings ?? [])], vex.statements, vexTargetOf(inv));
      const ignored = applyIgnores(applied.findings, ignores, now);
      for (const n of ignored.notes) process.stderr.write(`portcullis: warning: ${n}\n`);
      const active = ignored.findings.filter((f) => !f.suppression);
      const suppressed = ignored.findings.filter((f) => f.suppression);
      const unimportant = active.filter((f) => f.vulnerability?.urgency === 'unimportant');
      let shown: Finding[] = flags.includeUnimportant ? active : active.filter((f) => !unimportant.includes(f));
      if (flags.ignoreUnfixed)
        shown = shown.filter((f) => f.kind !== 'vulnerability' || f.vulnerability?.status === 'fixed');
      if (wanted) shown = shown.filter((f) => wanted.includes(f.severity));
      remaining += shown.length;
      const vexOut = { suppressed, notes: applied.notes };
      const ran: FindingKind[] = [...(sel.vuln ? (['vulnerability'] as const) : []), ...(checks?.checks ?? [])];
      // The policy sees every finding VEX left, whatever --severity or --ignore-unfixed hide. Ignore entries (a
      // developer's file) shape the listing only: the organisation's policy has its own exceptions, which expire.
      const decision = policy
        ? decideForScan(policy, inv, applied.findings, {
            checks: ran,
            skipped: [...skippedRules(settings, !!trust), ...(checks?.skipped ?? [])],
            matcherGaps: matched.gaps,
            settings: settingsUsed(settings),
          })
        : undefined;
      if (decision && !decision.pass) policyFailed = true;
      if (flags.format === 'sarif' || flags.format === 'cyclonedx') {
        const notAssessed = [
          ...inv.unknowns.map(notCataloguedLine),
          ...matched.gaps.map((g) => g.message),
          ...(checks?.notes ?? []),
        ];
        scans.push({ inv, shown, suppressed, hidden: active.length - shown.length, notAssessed });
        if (decision) process.stderr.write(decisionTable(decision));
      } else {
        const notes = checks?.notes ?? [];
        const view = {
          shown,
          hidden: active.length - shown.length,
          unimportant: unimportant.length,
          ran,
          notes,
          notMatched: matched.gaps,
        };
        outputs.push(render(inv, view, flags, db, vexOut, ignored.notes, decision));
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

/** What one image's listing shows: the findings left after filtering, and what the filters hid. */
interface ScanView {
  readonly shown: Finding[];
  readonly hidden: number;
  readonly unimportant: number;
  readonly ran: readonly FindingKind[];
  /** What the checks could not do (files not read, rules not run): in JSON too, so CI can see it. */
  readonly notes: readonly string[];
  /** Packages catalogued but not (fully) matched: the matcher's gaps, in JSON as on stderr. */
  readonly notMatched: readonly InventoryGap[];
}

function notCataloguedLine(u: Inventory['unknowns'][number]): string {
  return `not catalogued: ${describeUnknown(u)}`;
}

/** Files a cataloger found but could not read (at most 20, then a count): their packages are never matched. */
function notCatalogued(inv: Inventory): string[] {
  const out = inv.unknowns.slice(0, 20).map(notCataloguedLine);
  if (inv.unknowns.length > 20) out.push(`… and ${inv.unknowns.length - 20} more not catalogued`);
  return out;
}

function render(
  inv: Inventory,
  view: ScanView,
  flags: ScanFlags,
  db: AdvisoryDb,
  vex: { suppressed: Finding[]; notes: VexNote[] },
  ignoreNotes: readonly string[],
  decision?: Decision,
): string {
  const { shown, hidden, unimportant } = view;
  if (flags.format === 'json') {
    return `${JSON.stringify(
      {
        tool: TOOL,
        created: documentTime().toISOString(),
        subject: scrubSubject(inv.subject),
        os: inv.os ?? null,
        database: { path: db.path, updated: db.meta('updated_at') ?? null },
        packages: inv.packages.length,
        unknowns: inv.unknowns,
        notMatched: view.notMatched,
        checks: view.ran,
        checkNotes: view.notes,
        findings: shown,
        hidden: { total: hidden, unimportant: flags.includeUnimportant ? 0 : unimportant },
        suppressed: vex.suppressed,
        vexNotes: vex.notes,
        ignoreNotes,
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
    `OS:       ${inv.os ? printable(inv.os.prettyName ?? inv.os.id) : 'unknown'}`,
    `Packages: ${inv.packages.length}; advisories from ${db.path} (updated ${db.meta('updated_at') ?? 'unknown'})`,
  ];
  if (inv.unknowns.length > 0) {
    header.push(`Not catalogued: ${inv.unknowns.length} (never matched: see the warnings, or JSON unknowns)`);
  }
  if (hidden > 0) {
    header.push(
      `Not shown: ${hidden}${!flags.includeUnimportant && unimportant ? ` (${unimportant} rated unimportant by the distribution: --include-unimportant)` : ''}`,
    );
  }
  const byVex = vex.suppressed.filter((f) => f.suppression?.kind === 'vex').length;
  const byIgnore = vex.suppressed.length - byVex;
  const lists = flags.showSuppressed ? '' : ' (--show-suppressed lists them)';
  if (byVex > 0) header.push(`Suppressed by VEX: ${byVex}${lists}`);
  if (byIgnore > 0) header.push(`Ignored by ignore entries: ${byIgnore}${lists}`);
  if (vex.notes.length > 0) {
    header.push(`VEX: ${vex.notes.length} shown findings stated affected or under investigation (JSON: vexNotes)`);
  }
  const vulns = shown.filter((f) => f.kind === 'vulnerability');
  const parts: string[] = [];
  if (view.ran.includes('vulnerability'))
    parts.push(
      findingsTable(vulns, header, {
        compare: (eco, a, b) => SCHEME_CHOOSER.forEcosystem(eco).compare(a, b),
        ...remedyOf(db, SCHEME_CHOOSER),
      }),
    );
  else parts.push(`${header.join('\n')}\n`);
  const kinds = view.ran.filter((k): k is 'misconfiguration' | 'secret' => k === 'misconfiguration' || k === 'secret');
  if (kinds.length > 0) parts.push(checksTable(shown, kinds, ruleById));
  if (flags.showSuppressed) parts.push(suppressedTable(vex.suppressed));
  const body = parts.join('\n');
  return decision ? `${body}\n${decisionTable(decision)}` : body;
}

interface ScanDocumentInput {
  readonly inv: Inventory;
  readonly shown: Finding[];
  readonly suppressed: Finding[];
  readonly hidden: number;
  /** Files not catalogued, packages not matched, checks that could not run: SARIF notifications. */
  readonly notAssessed: readonly string[];
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
            scanRun(
              s.inv,
              flags.showSuppressed ? [...s.shown, ...s.suppressed] : s.shown,
              { database, hidden: s.hidden, suppressed: s.suppressed.length },
              s.notAssessed,
            ),
          ),
          { describeRule: describeCheckRule },
        )
      : toVulnerabilityCycloneDx(
          // CycloneDX's vulnerabilities are advisories; misconfigurations and secrets are not expressed there.
          scans.map((s) => ({
            inv: s.inv,
            findings: [...s.shown, ...s.suppressed].filter((f) => f.kind === 'vulnerability'),
          })),
          { timestamp: documentTime() },
        );
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** An image config with nothing in it, for root file systems (their only image checks read files). */
const EMPTY_CONFIG: ImageConfig = { architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [] } };

function parseScanners(list: string): { vuln: boolean; misconfig: boolean; secret: boolean } {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const known = ['vuln', 'misconfig', 'secret'];
  for (const n of names) if (!known.includes(n)) fail('USAGE', `--scanners: '${n}' is not one of ${known.join(', ')}`);
  if (names.length === 0) fail('USAGE', '--scanners: name at least one of vuln, misconfig, secret');
  return { vuln: names.includes('vuln'), misconfig: names.includes('misconfig'), secret: names.includes('secret') };
}
