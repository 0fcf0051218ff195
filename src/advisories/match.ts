import { type Finding, type Severity, severityRank, type VulnerabilityEvidence } from '../findings/finding.js';
import type { Inventory } from '../inventory/image.js';
import type { OsRelease, Package } from '../inventory/model.js';
import type { InventoryGap } from '../policy/model.js';
import { lookup } from '../util/record.js';
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
  /**
   * Whether the store holds any advisory for the ecosystem (`Debian:12`, `npm`): a store built from some feeds only
   * can find nothing for the others' packages, which are then gaps. Without it, every ecosystem counts as covered.
   */
  covers?(ecosystem: string): boolean;
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
 * The OSV ecosystem of a Debian release: `Debian:12` from VERSION_ID. Testing and sid have none, and share one
 * os-release (testing's codename), so neither can be told apart from the other: reading sid as testing would call
 * every fix not yet migrated to testing open. They are left unmatched, and a gap says so.
 */
function debianEcosystem(os: OsRelease): string | undefined {
  const major = os.versionId?.split('.')[0];
  return major ? `Debian:${major}` : undefined;
}

/**
 * The OSV ecosystem of an Ubuntu release as Ubuntu's records name it: `Ubuntu:22.04:LTS` for a long-term release (the
 * `.04` of an even year, or one whose os-release says LTS), `Ubuntu:23.10` for the others.
 */
export function ubuntuEcosystem(os: OsRelease): string | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(os.versionId ?? '');
  if (!m) return undefined;
  const lts = (m[2] === '04' && Number(m[1]) % 2 === 0) || /\bLTS\b/.test(os.prettyName ?? '');
  return `Ubuntu:${m[1]}.${m[2]}${lts ? ':LTS' : ''}`;
}

/**
 * The advisory coordinates of a package. Distribution packages are matched by their source package and the
 * release (Debian's advisories name source packages; Alpine's name origins); language packages by their ecosystem.
 */
export function targetOf(p: Package, os: OsRelease | undefined): MatchTarget | undefined {
  switch (p.type) {
    case 'deb': {
      const ecosystem =
        os?.id === 'debian' ? debianEcosystem(os) : os?.id === 'ubuntu' ? ubuntuEcosystem(os) : undefined;
      if (!ecosystem) return undefined;
      return { ecosystem, name: p.source?.name ?? p.name, version: p.source?.version ?? p.version };
    }
    case 'apk': {
      // Alpine's advisories only: another apk distribution's VERSION_ID is no Alpine release, whatever it looks like.
      const release = os?.id === 'alpine' ? /^(\d+\.\d+)/.exec(os.versionId ?? '')?.[1] : undefined;
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
  if (hits.length <= 1) return hits.length === 0 ? [] : [[hits[0] as Hit]];
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
  const link = (a: string, id: string): void => {
    parent.set(a, parent.get(a) ?? a);
    union(a, id);
  };
  for (const h of hits) {
    parent.set(h.advisory.id, parent.get(h.advisory.id) ?? h.advisory.id);
    for (const a of h.advisory.aliases) link(a, h.advisory.id);
    for (const u of h.advisory.upstream ?? []) link(u, h.advisory.id);
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

/**
 * A group of hits to report as one vulnerability. `cve`: the CVE it is about, when records of their own single it
 * out; `exclude`: CVEs that are not this finding (another finding's, or cleared by their own record), never its
 * id or aliases, so an exception or VEX statement for one of them does not reach it.
 */
interface HitGroup {
  readonly hits: readonly Hit[];
  readonly cve?: string;
  readonly exclude?: Excluded;
}

/** A set of ids to leave out, as factsOf reads it. */
interface Excluded {
  has(id: string): boolean;
  readonly size: number;
}

/** `set` without `id`, not copied: a notice may fix hundreds of CVEs, each a group of its own. */
function without(set: ReadonlySet<string>, id: string | undefined): Excluded {
  return { has: (x) => x !== id && set.has(x), size: set.size - (id !== undefined && set.has(id) ? 1 : 0) };
}

/** Whether an advisory names two CVEs or more (most name one or none): checked for every group, so no allocation. */
function namesSeveralCves(a: Advisory): boolean {
  const first = cveAfter(a.aliases, a.id.startsWith('CVE-') ? a.id : undefined);
  return first === null || (a.upstream !== undefined && cveAfter(a.upstream, first) === null);
}

/** The one CVE seen once `list` is read after `first`, or null when a second, different one turns up. */
function cveAfter(list: readonly string[], first: string | undefined): string | undefined | null {
  let seen = first;
  for (const x of list)
    if (x.startsWith('CVE-')) {
      if (seen === undefined) seen = x;
      else if (x !== seen) return null;
    }
  return seen;
}

/** The CVE ids an advisory names: its own id, its aliases and its upstream (a set: a record may list thousands). */
function cvesOf(a: Advisory): string[] {
  const out = new Set<string>(a.id.startsWith('CVE-') ? [a.id] : []);
  for (const list of [a.aliases, a.upstream ?? []]) for (const x of list) if (x.startsWith('CVE-')) out.add(x);
  return [...out];
}

/**
 * A group joined by an advisory that covers several CVEs (a GHSA aliasing two) is not one vulnerability when the CVEs
 * have records of their own (a PYSEC each, the Debian tracker's per-CVE records): each has its own fixes, and a fix
 * for one must not read as a fix for all. `own` lists the CVEs of this package that a record names alone, whether or
 * not that record matched. CVEs whose own record matched each get a group: the hits naming them (the broad advisory
 * joins each), and the other hits with whichever group they share an advisory id with (every group, sharing none). A CVE whose
 * own record did not match (fixed in the installed version) is no finding, whatever the broad advisory says. The CVEs
 * a notice fixes (its upstream: a DSA's) are distinct vulnerabilities, not names of one: each that no own record
 * clears gets a group too, own record or none.
 */
function splitByCve(group: readonly Hit[], own: () => ReadonlySet<string>): HitGroup[] {
  if (!group.some((h) => namesSeveralCves(h.advisory))) return [{ hits: group }];
  const named = group.map((h) => cvesOf(h.advisory));
  const keys = new Set<string>();
  for (const c of named) if (c.length === 1 && own().has(c[0] as string)) keys.add(c[0] as string);
  for (const h of group)
    for (const u of h.advisory.upstream ?? []) if (u.startsWith('CVE-') && !own().has(u)) keys.add(u);
  const mine = new Set<string>();
  for (const c of named) for (const x of c) if (own().has(x)) mine.add(x);
  if (keys.size <= 1) {
    const cve = keys.values().next().value;
    return [{ hits: group, ...(cve ? { cve } : {}), exclude: without(mine, cve) }];
  }
  // Each hit's groups: those of the CVEs it names; for a hit naming none, those of hits sharing an advisory id with it.
  const into = group.map((_, i) => new Set((named[i] as string[]).filter((x) => keys.has(x))));
  // Through advisory ids only: two advisories covering the same other CVE are not the same advisory.
  const idsOf = group.map(
    (h) =>
      new Set(
        [h.advisory.id, ...h.advisory.aliases, ...(h.advisory.upstream ?? [])].filter((x) => !x.startsWith('CVE-')),
      ),
  );
  // Grown until nothing changes (so whatever the hits' order, the same): a hit naming a split CVE keeps just that.
  const settled = into.map((set) => set.size > 0);
  for (let changed = true; changed; ) {
    changed = false;
    group.forEach((_, i) => {
      if (settled[i]) return;
      const set = into[i] as Set<string>;
      const ids = idsOf[i] as Set<string>;
      group.forEach((_, j) => {
        if (i === j || !sharesAny(idsOf[j] as Set<string>, ids)) return;
        for (const k of into[j] as Set<string>)
          if (!set.has(k)) {
            set.add(k);
            changed = true;
          }
      });
    });
  }
  const others = new Set([...mine, ...keys]);
  return [...keys].sort().map((cve) => ({
    hits: group.filter((_, i) => (into[i] as Set<string>).size === 0 || (into[i] as Set<string>).has(cve)),
    cve,
    exclude: without(others, cve),
  }));
}

function sharesAny(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  for (const x of a) if (b.has(x)) return true;
  return false;
}

/** CVEs that some of these advisories name alone (its id, or its one CVE alias). */
function singleCveRecords(advisories: readonly Advisory[]): Set<string> {
  const out = new Set<string>();
  for (const a of advisories) {
    if (a.withdrawn) continue;
    const c = cvesOf(a);
    if (c.length === 1) out.add(c[0] as string);
  }
  return out;
}

const STATUS_ORDER: VulnerabilityEvidence['status'][] = [
  'fixed',
  'will-not-fix',
  'end-of-life',
  'undetermined',
  'not-fixed',
];

/**
 * Match every package of an inventory against the advisories: one store lookup per distinct (ecosystem, package),
 * each of its versions evaluated against the same rows. Problems are reported, not fatal; packages that could not be
 * matched at all (a version the scheme cannot read, a distribution no advisory source here covers) are also gaps,
 * which a policy requiring a complete inventory fails on: no advisory could ever have been found for them.
 */
export function matchInventory(
  inv: Inventory,
  db: AdvisoryLookup,
  schemes: SchemeChooser,
  severityOf: SeverityOf,
): { findings: Finding[]; problems: string[]; gaps: InventoryGap[]; matched: number } {
  const findings: Finding[] = [];
  const problems: string[] = [];
  /** Packages never matched (an unreadable version, no advisory coordinates): gaps in what was assessed. */
  const gaps: InventoryGap[] = [];
  /** Packages with no advisory coordinates, by why: reported once per reason, not once per package. */
  const uncovered = new Map<string, { first: Package; count: number }>();
  let matched = 0;
  // Binary packages of one source package (libc6 and libc-bin from glibc) share their target, and copies of one
  // library at other versions share its rows: each target is evaluated once (once for many inventories when the
  // lookup carries a memo), and each (ecosystem, package) read once. Pass 1 plans, pass 2 reports in package order.
  const targets: (MatchTarget | undefined)[] = new Array(inv.packages.length);
  const keys: (string | undefined)[] = new Array(inv.packages.length);
  const seen = new Map<string, MatchedTarget | undefined>();
  const groups = new Map<string, { target: MatchTarget; scheme: VersionScheme; todo: [string, MatchTarget][] }>();
  /** Ecosystems the store holds no advisory for, by whether it does (asked once each). */
  const covered = new Map<string, boolean>();
  const hasData = (ecosystem: string): boolean => {
    let c = covered.get(ecosystem);
    if (c === undefined) {
      c = db.covers?.(ecosystem) ?? true;
      covered.set(ecosystem, c);
    }
    return c;
  };
  inv.packages.forEach((p, i) => {
    const target = targetOf(p, inv.os);
    if (!target) return;
    targets[i] = target;
    if (!hasData(target.ecosystem)) return;
    const scheme = schemes.forEcosystem(target.ecosystem);
    if (!scheme.valid(target.version)) return;
    const key = `${target.ecosystem}\0${target.name}\0${target.version}`;
    keys[i] = key;
    if (seen.has(key)) return;
    const found = db.targets?.get(key, schemes, severityOf);
    seen.set(key, found);
    if (found) return;
    const byPackage = `${target.ecosystem}\0${target.name}`;
    let group = groups.get(byPackage);
    if (!group) {
      group = { target, scheme, todo: [] };
      groups.set(byPackage, group);
    }
    group.todo.push([key, target]);
  });
  for (const { target, scheme, todo } of groups.values()) {
    const rows = db.affected(target.ecosystem, target.name);
    for (const [key, t] of todo) {
      const found = matchTarget(rows, t, scheme, schemes, severityOf);
      db.targets?.set(key, schemes, severityOf, found);
      seen.set(key, found);
    }
  }
  inv.packages.forEach((p, i) => {
    const target = targets[i];
    const noData = target !== undefined && !hasData(target.ecosystem);
    const why = noData
      ? `not matched: the advisory database holds no advisories for ${target.ecosystem} (it was built from other feeds, or before the release was published: 'portcullis db update' fetches them all)`
      : target
        ? partlyWhy(p, target)
        : uncoveredWhy(p, inv.os);
    if (why !== undefined) {
      const u = uncovered.get(why);
      if (u) u.count++;
      else uncovered.set(why, { first: p, count: 1 });
    }
    if (!target || noData) return;
    matched++;
    const key = keys[i];
    if (key === undefined) {
      const scheme = schemes.forEcosystem(target.ecosystem);
      const message = `${p.purl}: ${scheme.name} cannot read the installed version '${target.version}'; not matched`;
      problems.push(message);
      gaps.push({ path: p.locations[0]?.path ?? '', cataloger: 'matcher', message });
      return;
    }
    const found = seen.get(key) as MatchedTarget;
    for (const x of found.problems) problems.push(`${p.purl}: ${x}`);
    for (const v of found.vulnerabilities) findings.push(toFinding(inv, p, target, v));
  });
  // First: callers show the first 20 problems, and these are about whole kinds of packages.
  const kinds = [...uncovered].map(([why, { first, count }]) => ({
    why,
    path: first.locations[0]?.path ?? '',
    cataloger: 'matcher',
    message: `${count === 1 ? first.purl : `${count} ${first.type} packages (${first.purl}, ...)`}: ${why}`,
  }));
  problems.unshift(...kinds.map((k) => k.message));
  gaps.unshift(
    ...kinds
      .filter((k) => k.why !== GUESSED_GROUP)
      .map(({ path, cataloger, message }) => ({ path, cataloger, message })),
  );
  return { findings, problems, gaps, matched };
}

/**
 * A jar without pom.properties is catalogued as `artifact:artifact` (as syft does: many old artifacts are named so,
 * log4j:log4j among them), so its lookup is a guess that finds nothing for any other group. A warning, not a gap:
 * every JDK holds such jars (jrt-fs.jar), and a policy requiring a complete inventory would refuse every Java image.
 */
const GUESSED_GROUP =
  'matched as artifact:artifact only: the archive names no Maven group (no pom.properties), and advisories name group:artifact';

/**
 * Ubuntu LTS releases past their standard support, with its last day: Ubuntu publishes the CVEs found since for Ubuntu
 * Pro only (`Ubuntu:Pro:20.04:LTS`), which is not read (for a release still in standard support, a CVE named under
 * Pro alone is one Ubuntu judged the release itself not affected by). Add 22.04 when its support ends (2027-06).
 */
const UBUNTU_STANDARD_SUPPORT_ENDED: Readonly<Record<string, string>> = {
  'Ubuntu:14.04:LTS': '2019-04-30',
  'Ubuntu:16.04:LTS': '2021-04-30',
  'Ubuntu:18.04:LTS': '2023-05-31',
  'Ubuntu:20.04:LTS': '2025-05-31',
};

/** Why a package that was matched may have findings missing: its group was guessed, or its release is past support. */
function partlyWhy(p: Package, target: MatchTarget): string | undefined {
  if (p.metadata?.groupIdUnknown === true) return GUESSED_GROUP;
  const ended = p.type === 'deb' ? lookup(UBUNTU_STANDARD_SUPPORT_ENDED, target.ecosystem) : undefined;
  return ended
    ? `matched against ${target.ecosystem} only: its standard support ended on ${ended}, and Ubuntu publishes the CVEs found since for Ubuntu Pro only, which is not read, so what is found is incomplete`
    : undefined;
}

/** Why a package has no advisory coordinates: the image does not say its release, or no source here covers it. */
function uncoveredWhy(p: Package, os: OsRelease | undefined): string {
  switch (p.type) {
    case 'deb':
    case 'apk': {
      const known = p.type === 'deb' ? 'Debian and Ubuntu' : 'Alpine';
      if (!os)
        return `not matched: the image has no os-release, so the ${known} release its advisories are for is unknown`;
      if (!os.versionId)
        return `not matched: ${os.id}'s os-release has no VERSION_ID (Debian testing and sid have none), so no release's advisories apply`;
      return `not matched: no advisories for ${os.id} ${os.versionId} are read here (${p.type} packages: ${known} releases only)`;
    }
    case 'rpm':
      return `not matched: no advisory source for rpm distributions is read yet (${os ? [os.id, os.versionId].filter(Boolean).join(' ') : 'no os-release'})`;
    case 'maven':
      return 'not matched: the package names no Maven group, and advisories name group:artifact';
    default:
      return 'not matched: no advisory ecosystem for this package type';
  }
}

/** One target's rows evaluated, the hits grouped into vulnerabilities: a pure function of the advisory data. */
function matchTarget(
  rows: ReturnType<AdvisoryLookup['affected']>,
  target: MatchTarget,
  scheme: VersionScheme,
  schemes: SchemeChooser,
  severityOf: SeverityOf,
): MatchedTarget {
  const hits: Hit[] = [];
  const problems: string[] = [];
  const semver = schemes.semver(target.ecosystem);
  for (const row of rows) {
    const ev = evaluate(target.version, row, scheme, semver);
    // The advisory itself is read only for the rows that matter (a hit, or a problem to report).
    if ((!ev.affected && ev.problems.length === 0) || row.advisory.withdrawn) continue;
    for (const x of ev.problems) problems.push(x);
    if (ev.affected) hits.push({ advisory: row.advisory, entry: row, fixedIn: ev.fixedIn });
  }
  // CVEs with a record of their own that was read (affected or not): evaluated again only for the rare group an
  // advisory covering several CVEs joined. A GIT-only record says nothing of a package version, so it is not one; a
  // distribution's word that the package is not affected (the tracker's fixed version 0) is one, with no ranges.
  let own: Set<string> | undefined;
  const readRecords = () =>
    rows.filter((row) => {
      const ev = evaluate(target.version, row, scheme, semver);
      return (
        ev.affected ||
        (ev.problems.length === 0 &&
          (row.status === 'not-affected' || row.versions.length > 0 || row.ranges.some((r) => r.type !== 'GIT')))
      );
    });
  const groups = groupByIdentity(hits).flatMap((g) =>
    splitByCve(g, () => (own ??= singleCveRecords(readRecords().map((r) => r.advisory)))),
  );
  return { problems, vulnerabilities: groups.map((g) => factsOf(g, severityOf, scheme)) };
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

/** Debian's urgencies, least grave first (the tracker's `**` marks a guess); any other text ranks above `unimportant`. */
const URGENCY_RANK: Readonly<Record<string, number>> = { unimportant: 0, low: 2, medium: 3, high: 4 };

function urgencyRank(u: string): number {
  return lookup(URGENCY_RANK, u.replace(/\*+$/, '')) ?? 1;
}

/** Whether time `a` is before `b` (as instants; unparseable text sorts after parseable, then by text). */
function earlier(a: string, b: string): boolean {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (Number.isFinite(ta) && Number.isFinite(tb) && ta !== tb) return ta < tb;
  if (Number.isFinite(ta) !== Number.isFinite(tb)) return Number.isFinite(ta);
  return a < b;
}

/** The smallest of `ids` that `ok` accepts. */
function smallest(ids: Iterable<string>, ok: (id: string) => boolean): string | undefined {
  let min: string | undefined;
  for (const i of ids) if (ok(i) && (min === undefined || i < min)) min = i;
  return min;
}

function factsOf(
  { hits: group, cve, exclude }: HitGroup,
  severityOf: SeverityOf,
  scheme: VersionScheme,
): VulnerabilityFacts {
  // One pass over the group (most hold one hit), giving what sorting each list and taking its first would give.
  const ids = new Set<string>();
  let status: VulnerabilityEvidence['status'] | undefined;
  let severity: Severity | undefined;
  let urgency: string | undefined;
  let noDsa: string | undefined;
  let summary: string | undefined;
  let published: string | undefined;
  const fixedSet = new Set<string>();
  const cvss: NonNullable<VulnerabilityEvidence['cvss']>[number][] = [];
  const sourceSet = new Set<string>();
  for (const h of group) {
    const a = h.advisory;
    ids.add(a.id);
    for (const x of a.aliases) ids.add(x);
    for (const x of a.upstream ?? []) ids.add(x);
    const st = statusOf(h);
    if (status === undefined || STATUS_ORDER.indexOf(st) < STATUS_ORDER.indexOf(status)) status = st;
    for (const f of h.fixedIn) fixedSet.add(f);
    const scored = severityOf(a, h.entry);
    if (severity === undefined || severityRank(scored.severity) > severityRank(severity)) severity = scored.severity;
    if (scored.cvss) for (const c of scored.cvss) cvss.push(c);
    // Whatever order the store returns the hits in, the same facts: the gravest urgency (unimportant only when every
    // hit with one says so), the earliest publication, and the smallest text of the rest.
    const u = h.entry.urgency;
    if (
      u &&
      (urgency === undefined ||
        urgencyRank(u) > urgencyRank(urgency) ||
        (urgencyRank(u) === urgencyRank(urgency) && u < urgency))
    )
      urgency = u;
    if (h.entry.noDsa && (noDsa === undefined || h.entry.noDsa < noDsa)) noDsa = h.entry.noDsa;
    if (a.summary && (summary === undefined || a.summary < summary)) summary = a.summary;
    if (a.published && (published === undefined || earlier(a.published, published))) published = a.published;
    sourceSet.add(a.source);
  }
  // The id people search for: the CVE when there is one (the group's own, when records of their own single it out).
  // Every CVE cleared by its own record: the smallest id left (whatever order the hits came in).
  const ruleId =
    cve ??
    smallest(ids, (i) => i.startsWith('CVE-') && !exclude?.has(i)) ??
    (exclude?.size ? smallest(ids, (i) => !exclude.has(i)) : undefined) ??
    group[0]?.advisory.id ??
    'unknown';
  const aliases: string[] = [];
  for (const i of ids) if (i !== ruleId && !exclude?.has(i)) aliases.push(i);
  const fixed = [...fixedSet];
  if (fixed.length > 1) fixed.sort((a, b) => scheme.compare(a, b));
  const facts: Partial<Mutable<VulnerabilityFacts>> = {
    ruleId,
    aliases: aliases.sort(),
    fixed,
    status: status ?? 'not-fixed',
    severity: severity ?? 'unknown',
    cvss,
  };
  // Set in this order, present only when known: the key order of the facts (and of the JSON made from them).
  if (urgency) facts.urgency = urgency;
  if (noDsa) facts.noDsa = noDsa;
  facts.sources = sourceSet.size > 1 ? [...sourceSet].sort() : [...sourceSet];
  if (summary) facts.summary = summary;
  if (published) facts.published = published;
  return facts as VulnerabilityFacts;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A finding for a package; its arrays are its own (facts may be shared by many findings). */
function toFinding(inv: Inventory, p: Package, target: MatchTarget, v: VulnerabilityFacts): Finding {
  const { ruleId, fixed, status } = v;
  const layer = inv.subject.layers[p.layer];
  // Optional keys are set in the order the type lists them: the key order of the JSON made from a finding.
  const evidence: Partial<Mutable<VulnerabilityEvidence>> = {
    package: { name: p.name, version: p.version, purl: p.purl, type: p.type },
    matched: target,
    aliases: v.aliases.slice(),
    fixedVersions: fixed.slice(),
    status,
  };
  if (v.urgency) evidence.urgency = v.urgency;
  if (v.noDsa) evidence.noDsa = v.noDsa;
  if (v.cvss.length) evidence.cvss = v.cvss.map((c) => ({ ...c }));
  evidence.sources = v.sources.slice();
  if (v.published) evidence.published = v.published;
  const location: Mutable<Extract<Finding['location'], { kind: 'image' }>> = {
    kind: 'image',
    image: inv.subject.digest ?? inv.subject.source,
    layer: p.layer,
  };
  if (layer?.diffId) location.layerDiffId = layer.diffId;
  if (p.locations[0]) location.path = p.locations[0].path;
  const finding: Mutable<Finding> = {
    ruleId,
    kind: 'vulnerability',
    severity: v.severity,
    confidence: 'high',
    title: v.summary ?? `${ruleId} in ${target.name}`,
    message: `${p.name} ${p.version} is affected by ${ruleId}${fixed.length ? `, fixed in ${fixed[0]}` : ` (${status})`}`,
    location,
  };
  if (fixed.length) finding.fix = { text: `upgrade ${p.name} to ${fixed[0]}` };
  finding.vulnerability = evidence as VulnerabilityEvidence;
  return finding;
}

/** What the remediation view asks of the advisories behind a finding (see remedyOf). */
export interface FindingRemedy {
  /** Whether `version` of the finding's package is affected by none of the advisories the finding stands for. */
  clears(finding: Finding, version: string): boolean;
  /** Every fixed version those advisories name above the installed one, whichever branch (affected entry) it is on. */
  fixesOf(finding: Finding): string[];
}

/**
 * The advisories a finding stands for (its id and aliases, a record of the same vulnerability that did not match the
 * installed version included), read again for the remediation view. A range that cannot be read at a version counts
 * as affecting it: a fix is never claimed on a guess.
 */
export function remedyOf(db: AdvisoryLookup, schemes: SchemeChooser): FindingRemedy {
  type Rows = ReturnType<AdvisoryLookup['affected']>;
  /**
   * Each package's rows by the ids they name (id, aliases, upstream), as row indexes: read once per package, not once
   * per finding (the kernel has thousands of advisories, and as many findings at an old version).
   */
  const byName = new Map<string, { rows: Rows; named: Map<string, number[]> }>();
  const indexOf = (ecosystem: string, name: string): { rows: Rows; named: Map<string, number[]> } => {
    const key = `${ecosystem}\0${name}`;
    let held = byName.get(key);
    if (!held) {
      const rows = db.affected(ecosystem, name);
      const named = new Map<string, number[]>();
      rows.forEach((row, i) => {
        const a = row.advisory;
        if (a.withdrawn) return;
        for (const x of [a.id, ...a.aliases, ...(a.upstream ?? [])]) {
          const list = named.get(x);
          if (!list) named.set(x, [i]);
          else if (list[list.length - 1] !== i) list.push(i);
        }
      });
      held = { rows, named };
      byName.set(key, held);
    }
    return held;
  };
  // Each finding's rows, picked once: a package with hundreds of advisories is asked about for every candidate.
  const mine = new WeakMap<Finding, Rows>();
  const rowsFor = (finding: Finding): Rows => {
    const held = mine.get(finding);
    if (held) return held;
    const v = finding.vulnerability;
    if (!v) return [];
    const { rows, named } = indexOf(v.matched.ecosystem, v.matched.name);
    const picked = new Set<number>();
    for (const x of [finding.ruleId, ...v.aliases]) for (const i of named.get(x) ?? []) picked.add(i);
    const out = [...picked].sort((a, b) => a - b).map((i) => rows[i] as Rows[number]);
    mine.set(finding, out);
    return out;
  };
  return {
    clears(finding, version) {
      const v = finding.vulnerability;
      if (!v) return false;
      const scheme = schemes.forEcosystem(v.matched.ecosystem);
      if (!scheme.valid(version)) return false;
      const semver = schemes.semver(v.matched.ecosystem);
      return rowsFor(finding).every((row) => {
        const ev = evaluate(version, row, scheme, semver);
        return !ev.affected && ev.problems.length === 0;
      });
    },
    fixesOf(finding) {
      const v = finding.vulnerability;
      if (!v) return [];
      const scheme = schemes.forEcosystem(v.matched.ecosystem);
      const out = new Set<string>();
      for (const row of rowsFor(finding))
        for (const range of row.ranges) {
          // A GIT range's fix is a commit, not a version to upgrade to (a hash can read as one in some schemes).
          if (range.type === 'GIT') continue;
          for (const e of range.events)
            if (
              'fixed' in e &&
              e.fixed !== '0' &&
              scheme.valid(e.fixed) &&
              scheme.compare(e.fixed, v.matched.version) > 0
            )
              out.add(e.fixed);
        }
      return [...out];
    },
  };
}
