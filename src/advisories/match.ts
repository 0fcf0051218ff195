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
  // evaluated once.
  const seen = new Map<string, { hits: Hit[]; problems: string[] }>();
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
      found = { hits: [], problems: [] };
      for (const row of db.affected(target.ecosystem, target.name)) {
        const ev = evaluate(target.version, row, scheme, schemes.semver(target.ecosystem));
        // The advisory itself is read only for the rows that matter (a hit, or a problem to report).
        if ((!ev.affected && ev.problems.length === 0) || row.advisory.withdrawn) continue;
        found.problems.push(...ev.problems);
        if (ev.affected) found.hits.push({ advisory: row.advisory, entry: row, fixedIn: ev.fixedIn });
      }
      seen.set(key, found);
    }
    problems.push(...found.problems.map((x) => `${p.purl}: ${x}`));
    for (const group of groupByIdentity(found.hits))
      findings.push(toFinding(inv, p, target, group, severityOf, scheme));
  }
  return { findings, problems, matched };
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

function toFinding(
  inv: Inventory,
  p: Package,
  target: MatchTarget,
  group: readonly Hit[],
  severityOf: SeverityOf,
  scheme: VersionScheme,
): Finding {
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
  const cvss = scored.flatMap((s) => s.cvss ?? []);
  const withUrgency = group.find((h) => h.entry.urgency);
  const withNoDsa = group.find((h) => h.entry.noDsa);
  const summary = group.map((h) => h.advisory.summary).find(Boolean);
  const published = group.map((h) => h.advisory.published).find(Boolean);
  const layer = inv.subject.layers[p.layer];
  const evidence: VulnerabilityEvidence = {
    package: { name: p.name, version: p.version, purl: p.purl, type: p.type },
    matched: target,
    aliases: [...ids].filter((i) => i !== ruleId).sort(),
    fixedVersions: fixed,
    status,
    ...(withUrgency?.entry.urgency ? { urgency: withUrgency.entry.urgency } : {}),
    ...(withNoDsa?.entry.noDsa ? { noDsa: withNoDsa.entry.noDsa } : {}),
    ...(cvss.length ? { cvss } : {}),
    sources: [...new Set(group.map((h) => h.advisory.source))].sort(),
    ...(published ? { published } : {}),
  };
  const fixText = fixed.length ? `upgrade ${p.name} to ${fixed[0]}` : undefined;
  return {
    ruleId,
    kind: 'vulnerability',
    severity,
    confidence: 'high',
    title: summary ?? `${ruleId} in ${target.name}`,
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
