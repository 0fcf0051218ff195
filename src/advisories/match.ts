import { type Finding, type Severity, severityRank, type VulnerabilityEvidence } from '../findings/finding.js';
import type { Inventory } from '../inventory/image.js';
import type { OsRelease, Package } from '../inventory/model.js';
import { evaluate } from './evaluate.js';
import type { Advisory, Affected } from './model.js';
import { normalizePackageName } from './names.js';
import type { VersionScheme } from './versions/scheme.js';

/** What the matcher looks up for a package: the advisory ecosystem, name and version it is known by. */
export interface MatchTarget {
  readonly ecosystem: string;
  readonly name: string;
  readonly version: string;
}

/** Lookup of advisories by (ecosystem, package), as the store provides it. */
export interface AdvisoryLookup {
  affected(ecosystem: string, pkg: string): readonly (Affected & { readonly advisory: Advisory })[];
  /** Targets already matched, shared by every inventory matched against this lookup (matchcache.ts). */
  readonly targets?: TargetMemo;
}

/** What matching one target gives, whatever the image holding it: its problems and vulnerabilities. */
export interface MatchedTarget {
  readonly problems: readonly string[];
  readonly vulnerabilities: readonly VulnerabilityFacts[];
}

/** A memo of matched targets by key (ecosystem, name, version), valid only with the schemes and severities given. */
export interface TargetMemo {
  get(key: string, schemes: SchemeChooser, severityOf: SeverityOf): MatchedTarget | undefined;
  set(key: string, schemes: SchemeChooser, severityOf: SeverityOf, matched: MatchedTarget): void;
}

/** The version scheme for an ecosystem, and the one its SEMVER-typed ranges use. */
export interface SchemeChooser {
  forEcosystem(ecosystem: string): VersionScheme;
  semver(ecosystem: string): VersionScheme;
}

/** Severity of an advisory for a package; CVSS scoring is plugged in here. */
export type SeverityOf = (
  advisory: Advisory,
  entry: Affected,
) => { severity: Severity; cvss?: VulnerabilityEvidence['cvss'] };

function purlNamespace(purl: string): string | undefined {
  const m = /^pkg:[^/]+\/(.+)\/[^/@]+@/.exec(purl);
  return m?.[1] ? decodeURIComponent(m[1]) : undefined;
}

/**
 * The advisory coordinates of a package. Distribution packages are matched by their source package and the
 * release (Debian's advisories name source packages; Alpine's name origins); language packages by their ecosystem.
 */
export function targetOf(p: Package, os: OsRelease | undefined): MatchTarget | undefined {
  switch (p.type) {
    case 'deb': {
      const major = os?.versionId?.split('.')[0];
      if (!major) return undefined;
      const ecosystem =
        os?.id === 'debian' ? `Debian:${major}` : os?.id === 'ubuntu' ? `Ubuntu:${os.versionId}` : undefined;
      if (!ecosystem) return undefined;
      return { ecosystem, name: p.source?.name ?? p.name, version: p.source?.version ?? p.version };
    }
    case 'apk': {
      const release = /^(\d+\.\d+)/.exec(os?.versionId ?? '')?.[1];
      if (!release) return undefined;
      return { ecosystem: `Alpine:v${release}`, name: p.source?.name ?? p.name, version: p.version };
    }
    case 'npm':
      return { ecosystem: 'npm', name: p.name, version: p.version };
    case 'pypi':
      return { ecosystem: 'PyPI', name: normalizePackageName('PyPI', p.name), version: p.version };
    case 'golang':
      // Go's vulnerability database names the toolchain "stdlib" and writes versions without the "v".
      return { ecosystem: 'Go', name: p.name, version: p.version };
    case 'maven': {
      const group = purlNamespace(p.purl);
      return group ? { ecosystem: 'Maven', name: `${group}:${p.name}`, version: p.version } : undefined;
    }
    case 'gem':
      return { ecosystem: 'RubyGems', name: p.name, version: p.version };
    case 'rpm':
      return undefined; // no RPM advisory source is imported yet
  }
}

interface Hit {
  readonly advisory: Advisory;
  readonly entry: Affected;
  readonly fixedIn: readonly string[];
}

/** Group hits that are the same vulnerability under different ids (GHSA and PYSEC, the tracker and osv.dev). */
function groupByIdentity(hits: readonly Hit[]): Hit[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== undefined && parent.get(r) !== r) r = parent.get(r) as string;
    parent.set(x, r);
    return r;
  };
  const union = (a: string, b: string): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra, rb);
  };
  for (const h of hits) {
    parent.set(h.advisory.id, parent.get(h.advisory.id) ?? h.advisory.id);
    for (const a of h.advisory.aliases) {
      parent.set(a, parent.get(a) ?? a);
      union(a, h.advisory.id);
    }
  }
  const groups = new Map<string, Hit[]>();
  for (const h of hits) {
    const root = find(h.advisory.id);
    const g = groups.get(root) ?? [];
    g.push(h);
    groups.set(root, g);
  }
  return [...groups.values()];
}

const STATUS_ORDER: VulnerabilityEvidence['status'][] = [
  'fixed',
  'will-not-fix',
  'end-of-life',
  'undetermined',
  'not-fixed',
];

/**
 * Match every package of an inventory against the advisories: one store lookup per distinct target. Problems
 * (unreadable versions) are reported, not fatal.
 */
export function matchInventory(
  inv: Inventory,
  db: AdvisoryLookup,
  schemes: SchemeChooser,
  severityOf: SeverityOf,
): { findings: Finding[]; problems: string[]; matched: number } {
  const findings: Finding[] = [];
  const problems: string[] = [];
  let matched = 0;
  // Binary packages of one source package (libc6 and libc-bin from glibc) share their target: looked up and
  // evaluated once (once for many inventories when the lookup carries a memo).
  const seen = new Map<string, MatchedTarget>();
  for (const p of inv.packages) {
    const target = targetOf(p, inv.os);
    if (!target) continue;
    matched++;
    const scheme = schemes.forEcosystem(target.ecosystem);
    if (!scheme.valid(target.version)) {
      problems.push(`${p.purl}: ${scheme.name} cannot read the installed version '${target.version}'; not matched`);
      continue;
    }
    const key = `${target.ecosystem}\0${target.name}\0${target.version}`;
    let found = seen.get(key);
    if (!found) {
      found = db.targets?.get(key, schemes, severityOf);
      if (!found) {
        found = matchTarget(db, target, scheme, schemes, severityOf);
        db.targets?.set(key, schemes, severityOf, found);
      }
      seen.set(key, found);
    }
    for (const x of found.problems) problems.push(`${p.purl}: ${x}`);
    for (const v of found.vulnerabilities) findings.push(toFinding(inv, p, target, v));
  }
  return { findings, problems, matched };
}

/** One target's rows evaluated, the hits grouped into vulnerabilities: a pure function of the advisory data. */
function matchTarget(
  db: AdvisoryLookup,
  target: MatchTarget,
  scheme: VersionScheme,
  schemes: SchemeChooser,
  severityOf: SeverityOf,
): MatchedTarget {
  const hits: Hit[] = [];
  const problems: string[] = [];
  for (const row of db.affected(target.ecosystem, target.name)) {
    const ev = evaluate(target.version, row, scheme, schemes.semver(target.ecosystem));
    // The advisory itself is read only for the rows that matter (a hit, or a problem to report).
    if ((!ev.affected && ev.problems.length === 0) || row.advisory.withdrawn) continue;
    problems.push(...ev.problems);
    if (ev.affected) hits.push({ advisory: row.advisory, entry: row, fixedIn: ev.fixedIn });
  }
  return { problems, vulnerabilities: groupByIdentity(hits).map((g) => factsOf(g, severityOf, scheme)) };
}

function statusOf(h: Hit): VulnerabilityEvidence['status'] {
  if (h.fixedIn.length > 0) return 'fixed';
  switch (h.entry.status) {
    case 'will-not-fix':
      return 'will-not-fix';
    case 'end-of-life':
      return 'end-of-life';
    case 'undetermined':
      return 'undetermined';
    default:
      return 'not-fixed';
  }
}

/** What a finding says of one vulnerability (a group of hits), whichever package of which image it is found in. */
export interface VulnerabilityFacts {
  readonly ruleId: string;
  readonly aliases: readonly string[];
  readonly fixed: readonly string[];
  readonly status: VulnerabilityEvidence['status'];
  readonly severity: Severity;
  readonly cvss: NonNullable<VulnerabilityEvidence['cvss']>;
  readonly urgency?: string;
  readonly noDsa?: string;
  readonly sources: readonly string[];
  readonly summary?: string;
  readonly published?: string;
}

function factsOf(group: readonly Hit[], severityOf: SeverityOf, scheme: VersionScheme): VulnerabilityFacts {
  const ids = new Set<string>();
  for (const h of group) {
    ids.add(h.advisory.id);
    for (const a of h.advisory.aliases) ids.add(a);
  }
  // The id people search for: the CVE when there is one.
  const ruleId = [...ids].filter((i) => i.startsWith('CVE-')).sort()[0] ?? group[0]?.advisory.id ?? 'unknown';
  const status =
    group.map(statusOf).sort((a, b) => STATUS_ORDER.indexOf(a) - STATUS_ORDER.indexOf(b))[0] ?? 'not-fixed';
  const fixed = [...new Set(group.flatMap((h) => h.fixedIn))].sort((a, b) => scheme.compare(a, b));
  const scored = group.map((h) => severityOf(h.advisory, h.entry));
  const severity = scored.map((s) => s.severity).sort((a, b) => severityRank(b) - severityRank(a))[0] ?? 'unknown';
  const urgency = group.find((h) => h.entry.urgency)?.entry.urgency;
  const noDsa = group.find((h) => h.entry.noDsa)?.entry.noDsa;
  const summary = group.map((h) => h.advisory.summary).find(Boolean);
  const published = group.map((h) => h.advisory.published).find(Boolean);
  return {
    ruleId,
    aliases: [...ids].filter((i) => i !== ruleId).sort(),
    fixed,
    status,
    severity,
    cvss: scored.flatMap((s) => s.cvss ?? []),
    ...(urgency ? { urgency } : {}),
    ...(noDsa ? { noDsa } : {}),
    sources: [...new Set(group.map((h) => h.advisory.source))].sort(),
    ...(summary ? { summary } : {}),
    ...(published ? { published } : {}),
  };
}

/** A finding for a package; its arrays are its own (facts may be shared by many findings). */
function toFinding(inv: Inventory, p: Package, target: MatchTarget, v: VulnerabilityFacts): Finding {
  const { ruleId, fixed, status } = v;
  const layer = inv.subject.layers[p.layer];
  const evidence: VulnerabilityEvidence = {
    package: { name: p.name, version: p.version, purl: p.purl, type: p.type },
    matched: target,
    aliases: [...v.aliases],
    fixedVersions: [...fixed],
    status,
    ...(v.urgency ? { urgency: v.urgency } : {}),
    ...(v.noDsa ? { noDsa: v.noDsa } : {}),
    ...(v.cvss.length ? { cvss: v.cvss.map((c) => ({ ...c })) } : {}),
    sources: [...v.sources],
    ...(v.published ? { published: v.published } : {}),
  };
  const fixText = fixed.length ? `upgrade ${p.name} to ${fixed[0]}` : undefined;
  return {
    ruleId,
    kind: 'vulnerability',
    severity: v.severity,
    confidence: 'high',
    title: v.summary ?? `${ruleId} in ${target.name}`,
    message: `${p.name} ${p.version} is affected by ${ruleId}${fixed.length ? `, fixed in ${fixed[0]}` : ` (${status})`}`,
    location: {
      kind: 'image',
      image: inv.subject.digest ?? inv.subject.source,
      layer: p.layer,
      ...(layer?.diffId ? { layerDiffId: layer.diffId } : {}),
      ...(p.locations[0] ? { path: p.locations[0].path } : {}),
    },
    ...(fixText ? { fix: { text: fixText } } : {}),
    vulnerability: evidence,
  };
}
