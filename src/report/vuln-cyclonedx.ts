/**
 * CycloneDX 1.6 with vulnerabilities (ref: cyclonedx.org/docs/1.6/json/#vulnerabilities): the image's SBOM as
 * `portcullis sbom -f cyclonedx` writes it, plus one vulnerability per advisory with the components it affects.
 * Several platforms of one image make one BOM: the index is the subject and each platform's image is a component
 * that nests its own packages, so one document answers for one image reference.
 */
import { randomUUID } from 'node:crypto';
import { fail } from '../errors.js';
import type { Finding, Suppression } from '../findings/finding.js';
import type { Inventory } from '../inventory/image.js';
import { CYCLONEDX_JUSTIFICATIONS } from '../vex/cyclonedx.js';
import { advisoryUrls, idSource } from './advisory-links.js';
import { packageRefs, type SbomOptions, subjectName, subjectPurl } from './sbom/common.js';
import { toCycloneDx } from './sbom/cyclonedx.js';

type Json = Record<string, unknown>;

/** One scanned inventory and the findings to report for it. */
export interface ScannedInventory {
  readonly inv: Inventory;
  readonly findings: readonly Finding[];
}

const METHOD: Readonly<Record<string, string>> = {
  '2.0': 'CVSSv2',
  '3.0': 'CVSSv3',
  '3.1': 'CVSSv31',
  '4.0': 'CVSSv4',
};

/** The qualitative rating of a CVSS score (CVSS 2.0 has no none/critical bands). */
function ratingOf(version: string, score: number): string {
  if (version === '2.0') return score < 4 ? 'low' : score < 7 ? 'medium' : 'high';
  if (score === 0) return 'none';
  return score < 4 ? 'low' : score < 7 ? 'medium' : score < 9 ? 'high' : 'critical';
}

/** CycloneDX impact-analysis states for the statuses VEX statements use (OpenVEX and CycloneDX's own). */
const STATE: Readonly<Record<string, string>> = {
  not_affected: 'not_affected',
  false_positive: 'false_positive',
  fixed: 'resolved',
  resolved: 'resolved',
  resolved_with_pedigree: 'resolved_with_pedigree',
  under_investigation: 'in_triage',
  in_triage: 'in_triage',
  affected: 'exploitable',
  exploitable: 'exploitable',
};

const CDX_JUSTIFICATIONS: ReadonlySet<string> = new Set(CYCLONEDX_JUSTIFICATIONS);

/** OpenVEX justifications that have a CycloneDX counterpart; the others are kept verbatim in the detail only. */
const FROM_OPENVEX: Readonly<Record<string, string>> = {
  component_not_present: 'code_not_present',
  vulnerable_code_not_present: 'code_not_present',
  vulnerable_code_not_in_execute_path: 'code_not_reachable',
  inline_mitigations_already_exist: 'protected_by_mitigating_control',
};

/** States that say the installed version is not vulnerable: only a VEX statement can claim one. */
const CLEARED: ReadonlySet<string> = new Set(['not_affected', 'false_positive', 'resolved', 'resolved_with_pedigree']);

function cleared(s: Suppression | undefined): boolean {
  return s?.kind === 'vex' && CLEARED.has(STATE[s.status] ?? '');
}

/** A policy exception or ignore entry accepts a risk: the code stays exploitable and the response is not to fix it. */
function acceptedRisk(s: Suppression): Json {
  const said = s.kind === 'exception' ? 'accepted by a policy exception' : 'ignored by an ignore entry';
  const why = s.justification ? `, reason: ${s.justification}` : '';
  return { state: 'exploitable', response: ['will_not_fix'], detail: `${said}${why}; statement: ${s.source}` };
}

function analysis(s: Suppression): Json {
  if (s.kind !== 'vex') return acceptedRisk(s);
  const state = STATE[s.status];
  const j = s.justification;
  const justification = j && (CDX_JUSTIFICATIONS.has(j) ? j : FROM_OPENVEX[j]);
  return {
    ...(state ? { state } : {}),
    ...(justification ? { justification } : {}),
    detail: `VEX status ${s.status}${j ? `, justification ${j}` : ''}; statement: ${s.source}`,
  };
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

function dateTime(s: string | undefined): string | undefined {
  if (!s) return undefined;
  if (RFC3339.test(s)) return s;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

function ratings(group: readonly Finding[]): Json[] {
  const out = new Map<string, Json>();
  for (const f of group) {
    const cvss = f.vulnerability?.cvss ?? [];
    for (const c of cvss) {
      out.set(c.vector, {
        score: c.score,
        severity: ratingOf(c.version, c.score),
        method: METHOD[c.version] ?? 'other',
        vector: c.vector,
      });
    }
    if (cvss.length === 0) {
      out.set(`other:${f.severity}`, {
        // Portcullis's severities are all CycloneDX severities (critical ... info, unknown).
        severity: f.severity,
        method: 'other',
        justification: "no CVSS vector is known: the source's severity label or the distribution's urgency",
      });
    }
  }
  return [...out.values()];
}

function recommendation(f: Finding): string {
  if (f.fix) return f.fix.text;
  switch (f.vulnerability?.status) {
    case 'will-not-fix':
      return `no fix for ${f.vulnerability.package.name}: the distribution will not fix this issue`;
    case 'end-of-life':
      return `no fix for ${f.vulnerability.package.name}: the release is at its end of life`;
    default:
      return `no fixed version of ${f.vulnerability?.package.name ?? 'the package'} yet`;
  }
}

function affectedVersions(f: Finding): Json[] {
  const v = f.vulnerability;
  if (!v) return [];
  // A finding a VEX statement cleared (not affected, fixed) is, by that statement, not affected at this version.
  const out: Json[] = [{ version: v.package.version, status: cleared(f.suppression) ? 'unaffected' : 'affected' }];
  // Fixed versions are the advisory's, of the package it names (a distribution's source package): they are this
  // component's versions only when the advisory names the component itself.
  if (v.matched.name === v.package.name && v.matched.version === v.package.version)
    for (const fixed of v.fixedVersions) out.push({ version: fixed, status: 'unaffected' });
  return out;
}

function vulnerability(id: string, group: readonly Finding[], refOf: (f: Finding) => string | undefined): Json {
  const first = group[0] as Finding;
  const aliases = [...new Set(group.flatMap((f) => f.vulnerability?.aliases ?? []))].sort();
  const published = dateTime(group.map((f) => f.vulnerability?.published).find(Boolean));
  const affects = new Map<string, Json>();
  for (const f of group) {
    const ref = refOf(f);
    if (ref && !affects.has(ref)) affects.set(ref, { ref, versions: affectedVersions(f) });
  }
  const props: Json[] = [];
  for (const [name, values] of [
    ['portcullis:status', group.map((f) => f.vulnerability?.status)],
    ['portcullis:urgency', group.map((f) => f.vulnerability?.urgency)],
    ['portcullis:noDsa', group.map((f) => f.vulnerability?.noDsa)],
    ['portcullis:source', group.flatMap((f) => f.vulnerability?.sources ?? [])],
  ] as const) {
    for (const value of new Set(values)) if (value) props.push({ name, value });
  }
  return {
    id,
    source: idSource(id),
    ...(aliases.length ? { references: aliases.map((a) => ({ id: a, source: idSource(a) })) } : {}),
    ratings: ratings(group),
    description: first.title,
    recommendation: [...new Set(group.map(recommendation))].join('; '),
    advisories: advisoryUrls([id, ...aliases], first.vulnerability?.matched.ecosystem).map((url) => ({ url })),
    ...(published ? { published } : {}),
    affects: [...affects.values()],
    ...(first.suppression ? { analysis: analysis(first.suppression) } : {}),
    ...(props.length ? { properties: props } : {}),
  };
}

/** Findings grouped by advisory id and suppression: one CycloneDX vulnerability affects many components. */
function vulnerabilities(findings: readonly Finding[], refOf: (f: Finding) => string | undefined): Json[] {
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    if (f.kind !== 'vulnerability' || !f.vulnerability) continue;
    const key = JSON.stringify([f.ruleId, f.suppression ?? null]);
    const g = groups.get(key) ?? [];
    g.push(f);
    groups.set(key, g);
  }
  const used = new Map<string, number>();
  return [...groups.values()].map((g) => {
    const id = (g[0] as Finding).ruleId;
    const n = (used.get(id) ?? 0) + 1;
    used.set(id, n);
    // The same id twice means it is suppressed for some components and not for others.
    return { 'bom-ref': n === 1 ? `vulnerability:${id}` : `vulnerability:${id}#${n}`, ...vulnerability(id, g, refOf) };
  });
}

/** Map a finding to the bom-ref of its package in an inventory (purl and path name one package). */
function refResolver(inv: Inventory, prefix = ''): (f: Finding) => string | undefined {
  const refs = packageRefs(inv.packages);
  const byKey = new Map<string, string>();
  inv.packages.forEach((p, i) => {
    const key = `${p.purl}\0${p.locations[0]?.path ?? ''}`;
    if (!byKey.has(key)) byKey.set(key, `${prefix}${refs[i]}`);
  });
  return (f) => {
    const v = f.vulnerability;
    if (!v) return undefined;
    return byKey.get(`${v.package.purl}\0${f.location.kind === 'image' ? (f.location.path ?? '') : ''}`);
  };
}

type Component = Json & { 'bom-ref': string };

/** Several platforms as one BOM: the index is the subject, each platform image a component nesting its packages. */
function mergePlatforms(scans: readonly ScannedInventory[], opts: SbomOptions): Json {
  const first = (scans[0] as ScannedInventory).inv.subject;
  const docs = scans.map((s) => toCycloneDx(s.inv, opts));
  const rootRef = first.indexDigest ?? `index:${first.source}`;
  const used = new Set<string>([rootRef]);
  const components: Json[] = [];
  const dependencies: Json[] = [];
  const compositions: Json[] = [];
  const platformRefs: string[] = [];
  const vulns: Finding[] = [];
  const resolvers = new Map<Finding, string | undefined>();
  docs.forEach((doc, k) => {
    const meta = (doc.metadata as { component: Component }).component;
    let prefix = meta['bom-ref'];
    for (let n = 2; used.has(prefix); n++) prefix = `${meta['bom-ref']}#${n}`;
    used.add(prefix);
    platformRefs.push(prefix);
    // Package refs are purls, which repeat across platforms (npm, PyPI): each platform's refs get its own prefix.
    const rename = (r: string) => (r === meta['bom-ref'] ? prefix : `${prefix}/${r}`);
    const nested = (doc.components as Component[]).map((c) => ({ ...c, 'bom-ref': rename(c['bom-ref']) }));
    components.push({ ...meta, 'bom-ref': prefix, components: nested });
    for (const d of doc.dependencies as { ref: string; dependsOn: string[] }[])
      dependencies.push({ ref: rename(d.ref), dependsOn: d.dependsOn.map(rename) });
    for (const c of doc.compositions as { aggregate: string; assemblies: string[] }[])
      compositions.push({ aggregate: c.aggregate, assemblies: c.assemblies.map(rename) });
    const scan = scans[k] as ScannedInventory;
    const resolve = refResolver(scan.inv, `${prefix}/`);
    for (const f of scan.findings) {
      vulns.push(f);
      resolvers.set(f, resolve(f));
    }
  });
  const { platform: _one, ...index } = first;
  const purl = first.indexDigest ? subjectPurl({ ...index, digest: first.indexDigest }) : undefined;
  const base = docs[0] as Json;
  return {
    $schema: base.$schema,
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${opts.uuid ?? randomUUID()}`,
    version: 1,
    metadata: {
      ...(base.metadata as Json),
      component: {
        type: 'container',
        'bom-ref': rootRef,
        name: subjectName(first),
        ...(first.indexDigest ? { version: first.indexDigest } : {}),
        ...(purl ? { purl } : {}),
        properties: [{ name: 'portcullis:image:platforms', value: String(scans.length) }],
      },
    },
    components,
    dependencies: [{ ref: rootRef, dependsOn: platformRefs }, ...dependencies],
    compositions,
    vulnerabilities: vulnerabilities(vulns, (f) => resolvers.get(f)),
  };
}

/**
 * CycloneDX 1.6 with a `vulnerabilities` array for the scanned inventories of one image reference (one, or one per
 * platform). Suppressed findings carry an `analysis` citing their statement.
 */
export function toVulnerabilityCycloneDx(scans: readonly ScannedInventory[], opts: SbomOptions = {}): Json {
  const only = scans[0];
  if (!only) fail('INTERNAL', 'CycloneDX vulnerabilities: no inventory to describe');
  if (scans.length > 1) return mergePlatforms(scans, opts);
  return { ...toCycloneDx(only.inv, opts), vulnerabilities: vulnerabilities(only.findings, refResolver(only.inv)) };
}
