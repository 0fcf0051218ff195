/**
 * SARIF 2.1.0 over findings of any kind (ref: docs.oasis-open.org/sarif/sarif/v2.1.0), shaped for GitHub code
 * scanning's subset (ref: docs.github.com "SARIF support for code scanning"): rules carry the short and full
 * description and help it requires, `security-severity` and `precision`; every result has one physical location with
 * a region and a partial fingerprint; each run has its own category so several runs can share one upload.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type CvssVersion, severityFromScore } from '../advisories/cvss.js';
import { type Finding, type Severity, severityRank } from '../findings/finding.js';
import type { Inventory, Subject } from '../inventory/image.js';
import { TOOL } from '../version.js';
import { advisoryUrls, osvUrl } from './advisory-links.js';

type Json = Record<string, unknown>;

/** The schema URI GitHub's documentation names for SARIF 2.1.0. */
export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

/** GitHub's limits: 1024 characters for descriptions, 255 for rule names. */
const MAX_DESCRIPTION = 1024;
const MAX_NAME = 255;

/** One run: the findings of one analysis target (one image platform, one repository). */
export interface SarifRunInput {
  readonly findings: readonly Finding[];
  /** What was analysed, e.g. `registry.example.com/team/app`; the location of image findings that have no path. */
  readonly target?: string;
  /** The analysis category (`automationDetails.id` up to its last slash); one run per category in an upload. */
  readonly category?: string;
  /** Facts about the run (image digest, platform, database); written to `run.properties`. */
  readonly properties?: Readonly<Record<string, unknown>>;
  /**
   * What the run could not assess (files not catalogued, packages not matched, checks not run), in
   * `invocations[0].toolExecutionNotifications`: for programs reading the SARIF (GitHub shows them for its own tools
   * only), as the JSON's lists are.
   */
  readonly notifications?: readonly string[];
}

/** A rule's texts, as a rule registry knows them; anything left out is derived from the rule's findings. */
export interface RuleDescription {
  readonly name?: string;
  readonly shortDescription?: string;
  readonly fullDescription?: string;
  readonly helpUri?: string;
  readonly help?: { readonly text: string; readonly markdown?: string };
  readonly tags?: readonly string[];
}

/** What a registered rule declares that its SARIF texts are made of. */
export interface RuleTexts {
  readonly id: string;
  readonly title: string;
  readonly rationale: string;
  readonly remediation: string;
}

/**
 * The SARIF texts of a registered rule (misconfiguration, secret, posture, CI, drift): title, rationale, remediation,
 * an optional line of benchmark mappings, and where docs/rules.md documents it.
 */
export function ruleDescription(r: RuleTexts, tags: readonly string[], mapping?: string): RuleDescription {
  const maps = mapping ? ['', `Maps to: ${mapping}.`] : [];
  return {
    shortDescription: r.title,
    fullDescription: `${r.title}. ${r.rationale}`,
    help: {
      text: [r.title, '', r.rationale, '', `Remediation: ${r.remediation}`, ...maps].join('\n'),
      markdown: [
        `**${r.title}**`,
        '',
        r.rationale,
        '',
        `**Remediation:** ${r.remediation}`,
        ...maps,
        '',
        `Documented in docs/rules.md (\`${r.id}\`).`,
      ].join('\n'),
    },
    tags,
  };
}

/** Options of the SARIF writer. */
export interface SarifOptions {
  /** The tool; defaults to Portcullis's name, version and home page from package.json. */
  readonly tool?: { readonly name: string; readonly version: string; readonly homepage?: string };
  /** Texts for a rule id from a rule registry; vulnerability rules are described from their advisories. */
  readonly describeRule?: (ruleId: string, findings: readonly Finding[]) => RuleDescription | undefined;
  /**
   * The repository root, which file URIs are relative to as code scanning resolves them, and relative file paths are
   * read against (default: the repository the current directory is in, relative paths read against the directory).
   */
  readonly root?: string;
}

/** SARIF result levels from severities: GitHub shows error, warning and note. */
export function sarifLevel(s: Severity): 'error' | 'warning' | 'note' {
  return s === 'critical' || s === 'high' ? 'error' : s === 'medium' ? 'warning' : 'note';
}

/** Scores standing for a severity band when no CVSS score is known, so GitHub files the alert in the same band. */
const BAND_SCORE: Partial<Record<Severity, number>> = { critical: 9.5, high: 8.0, medium: 5.5, low: 2.0 };

const PRECISION = { high: 'very-high', medium: 'high', low: 'medium' } as const;

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function sentence(s: string): string {
  const t = s.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/** A sentence that starts with a capital, for texts such as fixes that are written as clauses ("upgrade x to 1.2"). */
function capitalSentence(s: string): string {
  const t = sentence(s);
  return `${t.charAt(0).toUpperCase()}${t.slice(1)}`;
}

function md(s: string): string {
  return s.replace(/([\\`*_[\]<>|#~])/g, '\\$1');
}

/**
 * A path as a relative URI reference: each segment percent-encoded, with ':' kept out of the first segment so the
 * reference is never read as having a scheme (GitHub wants relative paths; ref: RFC 3986 §4.2).
 */
export function pathUri(path: string): string {
  return path
    .replace(/^\/+/, '')
    .split('/')
    .map((seg, i) => {
      // A lone surrogate has no UTF-8 form to percent-encode: it becomes U+FFFD, as a UTF-8 decoder would make it.
      const wellFormed = seg.replace(
        /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
        '\uFFFD',
      );
      const e = encodeURIComponent(wellFormed).replace(/%(40|2B|3D|2C|24|26|3B)/g, (_, h: string) =>
        String.fromCharCode(Number.parseInt(h, 16)),
      );
      return i === 0 ? e : e.replace(/%3A/g, ':');
    })
    .join('/');
}

/**
 * The URI of a file on disk (`path`, relative ones read against `base`): relative to the repository root when the file
 * is inside it, else an absolute file:// URI, since a relative reference that climbs out of the repository names
 * nothing in it.
 */
export function fileUri(path: string, root: string, base = root): string {
  const abs = resolve(base, path);
  const rel = relative(resolve(root), abs);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return pathToFileURL(abs).href;
  return pathUri(rel.split(sep).join('/'));
}

/**
 * The root SARIF file locations are relative to: the repository the directory is in (the nearest ancestor holding
 * `.git`, a directory or a worktree's file), as code scanning resolves paths from it; else the directory itself.
 */
export function repositoryRoot(dir: string): string {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return d;
    if (dirname(d) === d) return resolve(dir);
  }
}

/**
 * A package's identity across upgrades: purl type, namespace, name and the arch qualifier. Not the version, nor the
 * other qualifiers, some of which carry one (deb `upstream=src@ver`, apk `distro=alpine-3.19.1`).
 */
function purlIdentity(purl: string): string {
  const [head = '', query = ''] = (purl.split('#')[0] ?? '').split('?');
  const at = head.lastIndexOf('@');
  const name = at > head.lastIndexOf('/') ? head.slice(0, at) : head;
  const arch = new URLSearchParams(query).get('arch');
  return arch ? `${name}?arch=${arch}` : name;
}

function maxSeverity(findings: readonly Finding[]): Severity {
  return findings.map((f) => f.severity).sort((a, b) => severityRank(b) - severityRank(a))[0] ?? 'unknown';
}

/**
 * The score behind a rule's severity: of the vectors of its gravest findings that rate at that severity, the highest
 * 3.x score, else the highest of any version (as severityOf). A finding joins records of one vulnerability, each
 * scored on its own (GHSA's CVSS 4.0 critical, another record's 3.1 medium): a vector rated below the severity is
 * not what it stands on, and GitHub would file the alert lower. Undefined when a label or an urgency set it.
 */
function cvssScore(findings: readonly Finding[], severity: Severity): number | undefined {
  const all = findings
    .filter((f) => f.severity === severity)
    .flatMap((f) => f.vulnerability?.cvss ?? [])
    .filter((c) => {
      const band = severityFromScore(c.score, c.version as CvssVersion);
      return (band === 'none' ? 'info' : band) === severity;
    });
  const v3 = all.filter((c) => c.version.startsWith('3'));
  const pick = v3.length ? v3 : all;
  return pick.length ? Math.max(...pick.map((c) => c.score)) : undefined;
}

function vulnerabilityRule(ruleId: string, group: readonly Finding[], severity: Severity): RuleDescription {
  const first = group[0] as Finding;
  const v = first.vulnerability;
  const aliases = [...new Set(group.flatMap((f) => f.vulnerability?.aliases ?? []))].sort();
  const cvss = [
    ...new Map(group.flatMap((f) => f.vulnerability?.cvss ?? []).map((c) => [c.vector, c] as const)).values(),
  ];
  const ids = [ruleId, ...aliases];
  const links = advisoryUrls(ids, v?.matched.ecosystem);
  const scoreText = cvss.map((c) => `CVSS ${c.version} score ${c.score.toFixed(1)} (${c.vector})`).join(', ');
  const also = aliases.length ? ` (also ${aliases.join(', ')})` : '';
  const full = `${sentence(first.title)} ${ruleId}${also}: severity ${severity}${scoreText ? `, ${scoreText}` : ''}.`;
  const text = [
    sentence(first.title),
    `Advisory: ${ruleId}${also}.`,
    `Severity: ${severity}${scoreText ? `; ${scoreText}` : ''}.`,
    v?.urgency ? `Distribution urgency: ${v.urgency}.` : '',
    `Sources: ${[...new Set(group.flatMap((f) => f.vulnerability?.sources ?? []))].sort().join(', ')}.`,
    `References: ${links.join(' ')}`,
  ].filter(Boolean);
  const markdown = [
    `**${md(first.title)}**`,
    '',
    `| | |`,
    `|---|---|`,
    `| Advisory | ${md(ruleId)}${md(also)} |`,
    `| Severity | ${severity}${scoreText ? `; ${md(scoreText)}` : ''} |`,
    ...(v?.urgency ? [`| Distribution urgency | ${md(v.urgency)} |`] : []),
    '',
    ...links.map((u) => `- <${u}>`),
  ];
  return {
    shortDescription: first.title,
    fullDescription: full,
    helpUri: osvUrl(ruleId),
    help: { text: text.join('\n'), markdown: markdown.join('\n') },
    tags: ['security', 'vulnerability', severity],
  };
}

function genericRule(group: readonly Finding[], severity: Severity): RuleDescription {
  const first = group[0] as Finding;
  const fix = first.fix ? ` ${capitalSentence(first.fix.text)}` : '';
  return {
    shortDescription: first.title,
    fullDescription: `${sentence(first.title)}${fix}`,
    help: { text: `${sentence(first.title)}${fix}`, markdown: `**${md(first.title)}**${md(fix)}` },
    tags: ['security', first.kind, severity],
  };
}

function rule(ruleId: string, group: readonly Finding[], opts: SarifOptions): Json {
  const severity = maxSeverity(group);
  const derived = group[0]?.vulnerability ? vulnerabilityRule(ruleId, group, severity) : genericRule(group, severity);
  const d = { ...derived, ...opts.describeRule?.(ruleId, group) };
  const score = group[0]?.vulnerability ? (cvssScore(group, severity) ?? BAND_SCORE[severity]) : BAND_SCORE[severity];
  const confidence = group.some((f) => f.confidence === 'high')
    ? 'high'
    : group.some((f) => f.confidence === 'medium')
      ? 'medium'
      : 'low';
  const help = d.help ?? { text: d.fullDescription ?? ruleId };
  // SARIF §3.49.7: a name that only repeats the id is left out.
  const name = d.name && d.name !== ruleId ? clip(d.name, MAX_NAME) : undefined;
  return {
    id: ruleId,
    ...(name ? { name } : {}),
    shortDescription: { text: clip(d.shortDescription ?? ruleId, MAX_DESCRIPTION) },
    fullDescription: { text: clip(d.fullDescription ?? d.shortDescription ?? ruleId, MAX_DESCRIPTION) },
    defaultConfiguration: { level: sarifLevel(severity) },
    ...(d.helpUri ? { helpUri: d.helpUri } : {}),
    help: { text: help.text, ...(help.markdown ? { markdown: help.markdown } : {}) },
    properties: {
      tags: [...new Set(d.tags ?? ['security'])].slice(0, 20),
      precision: PRECISION[confidence],
      // GitHub reads a score from 0.1 to 10.0 as a security severity; a score of 0 would mean "none".
      ...(score !== undefined && score > 0 ? { 'security-severity': score.toFixed(1) } : {}),
    },
  };
}

/** What a result's fingerprint hashes; `withVersion` tells apart two versions of one package at one path. */
function identity(f: Finding, withVersion = false): string {
  const loc = f.location;
  const v = f.vulnerability;
  const parts =
    loc.kind === 'image'
      ? ['image', f.kind, f.ruleId, v ? purlIdentity(v.package.purl) : '', loc.path ?? '']
      : loc.kind === 'registry'
        ? ['registry', f.kind, f.ruleId, loc.host, loc.path ?? '']
        : ['file', f.kind, f.ruleId, loc.path, String(loc.line ?? ''), String(loc.column ?? '')];
  return JSON.stringify(withVersion && v ? [...parts, v.package.version] : parts);
}

/** Each finding's identity, with the version added where two results of the run would otherwise share one. */
function identities(findings: readonly Finding[]): string[] {
  const plain = findings.map((f) => identity(f));
  const count = new Map<string, number>();
  for (const k of plain) count.set(k, (count.get(k) ?? 0) + 1);
  return findings.map((f, i) => ((count.get(plain[i] as string) ?? 0) > 1 ? identity(f, true) : (plain[i] as string)));
}

function fingerprints(f: Finding, id: string): Record<string, string> {
  const loc = f.location;
  const hash = createHash('sha256').update(id).digest('hex');
  // A file inside an image is not in the repository, so GitHub's upload action cannot hash its line: the identity
  // stands in for primaryLocationLineHash. For repository files the action hashes the line's content itself, which
  // survives edits above the line better than any identity that includes the line number.
  return loc.kind !== 'file'
    ? { primaryLocationLineHash: `${hash.slice(0, 16)}:1`, 'portcullis/v1': hash }
    : { 'portcullis/v1': hash };
}

/** Where file URIs are relative to (`root`), and relative paths read against (`base`). */
interface FileRoot {
  readonly root: string;
  readonly base: string;
}

function location(f: Finding, target: string | undefined, files: FileRoot): Json {
  const loc = f.location;
  if (loc.kind === 'file') {
    const region: Json = { startLine: loc.line ?? 1 };
    if (loc.column !== undefined) region.startColumn = loc.column;
    return { physicalLocation: { artifactLocation: { uri: fileUri(loc.path, files.root, files.base) }, region } };
  }
  if (loc.kind === 'registry') {
    // A registry is no file either: its host (and API path) stands for the artifact, on line 1 as for images.
    return {
      physicalLocation: {
        // API paths start with a slash; a watched tag's `repo:tag` does not.
        artifactLocation: {
          uri: pathUri(
            `${loc.host}${loc.path === undefined || loc.path.startsWith('/') ? (loc.path ?? '') : `/${loc.path}`}`,
          ),
        },
        region: { startLine: 1, startColumn: 1, endLine: 1, endColumn: 1 },
      },
      message: { text: sentence(`Registry ${loc.host}${loc.path ? `, ${loc.path}` : ''}`) },
    };
  }
  const where = [
    loc.layer !== undefined ? `layer ${loc.layer}${loc.layerDiffId ? ` (${loc.layerDiffId})` : ''}` : '',
    `image ${loc.image}`,
  ].filter(Boolean);
  return {
    physicalLocation: {
      artifactLocation: { uri: pathUri(loc.path ?? target ?? loc.image) },
      // GitHub places every alert on a line; the package's line inside its database is not known, so line 1.
      region: { startLine: 1, startColumn: 1, endLine: 1, endColumn: 1 },
    },
    message: { text: sentence(`${loc.path ? `/${loc.path} in ` : ''}${where.join(' of ')}`) },
  };
}

function resultProperties(f: Finding): Json | undefined {
  const v = f.vulnerability;
  if (!v) return undefined;
  return {
    severity: f.severity,
    purl: v.package.purl,
    installedVersion: v.package.version,
    fixedVersions: v.fixedVersions,
    status: v.status,
    ...(v.matched.name !== v.package.name ? { sourcePackage: `${v.matched.name} ${v.matched.version}` } : {}),
    ...(f.location.kind === 'image' && f.location.layerDiffId ? { layerDiffId: f.location.layerDiffId } : {}),
  };
}

function result(f: Finding, ruleIndex: number, target: string | undefined, where: FileRoot, id: string): Json {
  const props = resultProperties(f);
  const s = f.suppression;
  return {
    ruleId: f.ruleId,
    ruleIndex,
    level: sarifLevel(f.severity),
    message: { text: `${sentence(f.message)}${f.fix ? ` ${capitalSentence(f.fix.text)}` : ''}` },
    locations: [location(f, target, where)],
    partialFingerprints: fingerprints(f, id),
    ...(s
      ? {
          suppressions: [
            {
              kind: 'external',
              status: 'accepted',
              justification: `${s.status}${s.justification ? `: ${s.justification}` : ''} (${s.source})`,
              properties: { statementKind: s.kind, statementStatus: s.status, statement: s.source },
            },
          ],
        }
      : {}),
    ...(props ? { properties: props } : {}),
  };
}

function run(input: SarifRunInput, opts: SarifOptions): Json {
  const groups = new Map<string, Finding[]>();
  for (const f of input.findings) {
    const g = groups.get(f.ruleId) ?? [];
    g.push(f);
    groups.set(f.ruleId, g);
  }
  const ids = [...groups.keys()];
  const index = new Map(ids.map((id, i) => [id, i]));
  const tool = opts.tool ?? TOOL;
  // Paths given on the command line are the current directory's; URIs are the repository's.
  const where: FileRoot = opts.root
    ? { root: opts.root, base: opts.root }
    : { root: repositoryRoot(process.cwd()), base: process.cwd() };
  const fingerprintIds = identities(input.findings);
  const semver = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.test(tool.version);
  return {
    tool: {
      driver: {
        name: tool.name,
        version: tool.version,
        ...(semver ? { semanticVersion: tool.version } : {}),
        ...(tool.homepage ? { informationUri: tool.homepage } : {}),
        rules: ids.map((id) => rule(id, groups.get(id) as Finding[], opts)),
      },
    },
    ...(input.category ? { automationDetails: { id: `${input.category}/` } } : {}),
    results: input.findings.map((f, i) =>
      result(f, index.get(f.ruleId) as number, input.target, where, fingerprintIds[i] as string),
    ),
    ...(input.notifications?.length ? { invocations: [invocation(input.notifications)] } : {}),
    // Columns of file findings count UTF-16 code units, as JavaScript strings do.
    columnKind: 'utf16CodeUnits',
    ...(input.properties ? { properties: input.properties } : {}),
  };
}

/** Most notifications written in one run; the rest are counted in one more. */
const MAX_NOTIFICATIONS = 1000;

/**
 * The run's one invocation: it ran to the end, with a notification for each thing it could not assess. Level `error`
 * is how SARIF says the results cannot be assumed complete (SARIF 2.1.0 Appendix I); `executionSuccessful: false`
 * would say the tool itself failed.
 */
function invocation(notes: readonly string[]): Json {
  const listed = notes.length > MAX_NOTIFICATIONS ? notes.slice(0, MAX_NOTIFICATIONS - 1) : notes;
  const more = notes.length - listed.length;
  return {
    executionSuccessful: true,
    toolExecutionNotifications: [...listed, ...(more > 0 ? [`… and ${more} more`] : [])].map((text) => ({
      level: 'error',
      message: { text },
    })),
  };
}

/** Categories made distinct: GitHub rejects an upload with two runs in one category, so a repeat gets -2, -3, .... */
function distinctCategories(runs: readonly SarifRunInput[]): SarifRunInput[] {
  const used = new Set(runs.flatMap((r) => (r.category ? [r.category] : [])));
  const seen = new Set<string>();
  return runs.map((r) => {
    if (!r.category) return r;
    if (!seen.has(r.category)) {
      seen.add(r.category);
      return r;
    }
    let n = 2;
    while (used.has(`${r.category}-${n}`)) n++;
    const category = `${r.category}-${n}`;
    used.add(category);
    return { ...r, category };
  });
}

/** A SARIF 2.1.0 log with one run per input. */
export function toSarif(runs: readonly SarifRunInput[], opts: SarifOptions = {}): Json {
  return { $schema: SARIF_SCHEMA, version: '2.1.0', runs: distinctCategories(runs).map((r) => run(r, opts)) };
}

/** The repository of an image reference: transport, tag, layout ref and digest removed. */
export function imageRepository(source: string): string {
  let s = source.replace(/^(docker:\/\/|oci-archive:|docker-archive:|oci:|dir:)/, '').replace(/@sha256:[0-9a-f]+$/, '');
  const colon = s.lastIndexOf(':');
  if (colon > s.lastIndexOf('/')) s = s.slice(0, colon);
  return s.replace(/^\/+/, '') || 'image';
}

function platformOf(s: Subject): string | undefined {
  const p = s.platform;
  return p ? `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}` : undefined;
}

/** The platform in a category: os-arch[-variant][-os.version] (Windows images differ by os.version alone). */
function platformCategory(s: Subject): string | undefined {
  const p = s.platform;
  const osVersion = p?.['os.version'];
  return p && `${platformOf(s)}${osVersion ? `/${osVersion}` : ''}`.replaceAll('/', '-');
}

/**
 * The run for one scanned inventory. Its category is `portcullis/REPOSITORY[/os-arch[-variant][-os.version]]`:
 * stable across tags and digests so alerts carry over between builds, and distinct per platform so a multi-platform
 * log is accepted (toSarif numbers any that still collide).
 */
export function scanRun(
  inv: Inventory,
  findings: readonly Finding[],
  extra: Json = {},
  notifications: readonly string[] = [],
): SarifRunInput {
  const s = inv.subject;
  const repository = imageRepository(s.source);
  const platform = platformOf(s);
  const inCategory = platformCategory(s);
  return {
    findings,
    target: repository,
    category: `portcullis/${repository}${inCategory ? `/${inCategory}` : ''}`,
    properties: {
      reference: s.source,
      ...(s.digest ? { digest: s.digest } : {}),
      ...(s.indexDigest ? { indexDigest: s.indexDigest } : {}),
      ...(platform ? { platform } : {}),
      ...(inv.os ? { os: inv.os.prettyName ?? inv.os.id } : {}),
      packages: inv.packages.length,
      ...extra,
    },
    notifications,
  };
}
