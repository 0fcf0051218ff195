import { normalizePackageName } from '../advisories/names.js';
import type { Finding } from '../findings/finding.js';
import type { Inventory } from '../inventory/image.js';
import { packageId, parsePurl } from './identity.js';
import {
  citation,
  suppresses,
  type VexImageId,
  type VexPackageId,
  type VexProduct,
  type VexStatement,
  type VexStatus,
} from './model.js';

/** The image the findings are about, as VEX products name it. */
export interface VexTarget {
  /** The manifest digest. */
  readonly digest?: string;
  /** The index the manifest was chosen from, when there was one. */
  readonly indexDigest?: string;
  /** The platform's architecture (a purl `arch` qualifier on an image must equal it). */
  readonly architecture?: string;
  /** Every package in the image, with its paths (a package product with subcomponents must be one of them). */
  readonly packages: readonly VexTargetPackage[];
}

/** A package of the image as VEX products are matched against it: its purl and where it was found. */
export interface VexTargetPackage {
  readonly purl: string;
  readonly paths: readonly string[];
}

/** A statement that matched a finding but does not suppress it (affected, under_investigation). */
export interface VexNote {
  readonly ruleId: string;
  readonly purl: string;
  readonly status: VexStatus;
  readonly statedStatus: string;
  readonly actionStatement?: string;
  readonly source: string;
}

export interface VexApplied {
  /** The findings in their order; those a not_affected or fixed statement covers carry `suppression`. */
  readonly findings: Finding[];
  readonly notes: VexNote[];
}

// Qualifiers that say where a package was fetched from, not what it is: a statement may carry them when the finding
// does not. Every other qualifier the statement gives (arch, distro, classifier, ...) must agree with the finding's.
const LOCATION_QUALIFIERS = new Set(['repository_url', 'download_url', 'vcs_url', 'file_name']);

/**
 * Mark the findings that VEX statements cover. A statement covers a finding when its vulnerability's name is the
 * finding's id or an alias, or one of its aliases is the finding's id or a CVE id among its aliases, and a product is this image (by digest) or the finding's package (by purl), narrowed by
 * subcomponents when it lists any. Of all statements covering a finding the latest wins (timestamp, then order);
 * when one of them has no time and they disagree, the one that leaves the finding shown wins.
 * Anything that cannot be matched exactly (no purl, no digest) matches nothing: fail closed. Pure.
 */
export function applyVex(
  findings: readonly Finding[],
  statements: readonly VexStatement[],
  target: VexTarget,
): VexApplied {
  if (statements.length === 0) return { findings: [...findings], notes: [] };
  const byName = new Map<string, number[]>();
  const byAlias = new Map<string, number[]>();
  statements.forEach((s, i) => {
    add(byName, key(s.vulnerability.id), i);
    for (const a of new Set(s.vulnerability.aliases.map(key))) add(byAlias, a, i);
  });
  const purls = new PurlCache();
  let inventory: ImagePackage[] | undefined;
  const imagePackages = () => {
    inventory ??= target.packages.flatMap((p) => {
      const id = purls.get(p.purl);
      return id ? [{ id, paths: p.paths }] : [];
    });
    return inventory;
  };
  const notes: VexNote[] = [];
  const out = findings.map((f) => {
    const v = f.vulnerability;
    if (!v || f.suppression) return f;
    const pkg = purls.get(v.package.purl);
    if (!pkg) return f;
    const where = f.location.kind === 'image' ? f.location.path : undefined;
    const candidates = new Set<number>();
    for (const id of [f.ruleId, ...v.aliases]) for (const i of byName.get(key(id)) ?? []) candidates.add(i);
    // A statement's aliases say what else its vulnerability is called: they reach the finding named by one of them,
    // and through the finding's aliases only by a CVE id, which names one vulnerability (a GHSA or a DSA covering
    // several CVEs is an alias of each one's finding).
    for (const id of [f.ruleId, ...v.aliases.filter((a) => CVE.test(a))])
      for (const i of byAlias.get(key(id)) ?? []) candidates.add(i);
    let best: { s: VexStatement; time: number; i: number } | undefined;
    let bestShown: typeof best;
    let undated = false;
    for (const i of candidates) {
      const s = statements[i];
      if (!s?.products.some((p) => covers(p, pkg, where, target, imagePackages))) continue;
      undated ||= s.timestamp === undefined;
      const time = s.timestamp ? Date.parse(s.timestamp) : Number.NEGATIVE_INFINITY;
      if (!best || time > best.time || (time === best.time && i > best.i)) best = { s, time, i };
      if (
        !suppresses(s.status) &&
        (!bestShown || time > bestShown.time || (time === bestShown.time && i > bestShown.i))
      )
        bestShown = { s, time, i };
    }
    // Which is the latest cannot be told when a statement has no time: if they disagree, the finding stays shown.
    if (undated && bestShown) best = bestShown;
    if (!best) return f;
    const s = best.s;
    if (!suppresses(s.status)) {
      notes.push({
        ruleId: f.ruleId,
        purl: v.package.purl,
        status: s.status,
        statedStatus: s.statedStatus,
        ...(s.actionStatement ? { actionStatement: s.actionStatement } : {}),
        source: citation(s.origin),
      });
      return f;
    }
    const why = [s.justification, s.impactStatement].filter(Boolean).join(': ');
    return {
      ...f,
      suppression: {
        kind: 'vex',
        status: s.statedStatus,
        ...(why ? { justification: why } : {}),
        source: citation(s.origin),
      },
    } satisfies Finding;
  });
  return { findings: out, notes };
}

function add(index: Map<string, number[]>, id: string, i: number): void {
  const list = index.get(id);
  if (list) list.push(i);
  else index.set(id, [i]);
}

const CVE = /^\s*CVE-\d{4}-\d+\s*$/i;

/** Vulnerability ids compare without case (CVE-2023-1 and cve-2023-1 are one id). */
function key(id: string): string {
  return id.trim().toUpperCase();
}

interface ImagePackage {
  readonly id: VexPackageId;
  readonly paths: readonly string[];
}

/** Does product `p` cover the finding's package `pkg`, found at `where` in the image? */
function covers(
  p: VexProduct,
  pkg: VexPackageId,
  where: string | undefined,
  target: VexTarget,
  imagePackages: () => ImagePackage[],
): boolean {
  const isImage = p.ids.some((id) => id.kind === 'image' && imageMatches(id, target));
  if (p.subcomponents.length === 0) {
    return isImage || p.ids.some((id) => id.kind === 'package' && purlCovers(id, pkg));
  }
  const sub = p.subcomponents.some((c) => c.ids.some((id) => id.kind === 'package' && purlCovers(id, pkg)));
  if (!sub) return false;
  if (isImage) return true;
  // A package product (an application) with the vulnerable package inside: the application must be in this image,
  // and this copy of the package inside it. The statement speaks for the application's copy only, not for the same
  // package elsewhere in the image.
  if (where === undefined) return false;
  return p.ids.some(
    (id) =>
      id.kind === 'package' &&
      imagePackages().some((q) => purlCovers(id, q.id) && q.paths.some((root) => inside(where, root))),
  );
}

/**
 * Is the package found at `path` part of the package found at `root`? The same file (a Go binary's modules, the
 * artifacts of a shaded jar), an archive nested in it (`app.jar!/BOOT-INF/lib/x.jar`), or, for an npm package, a
 * package under its own node_modules. Where an ecosystem installs dependencies beside the package (hoisted npm
 * packages, Python, Ruby), nothing says which package a copy belongs to, and it is not inside.
 */
export function inside(path: string, root: string): boolean {
  if (path === root || path.startsWith(`${root}!/`)) return true;
  const npm = root === 'package.json' || root.endsWith('/package.json');
  return npm && path.startsWith(`${root.slice(0, -'package.json'.length)}node_modules/`);
}

/** An image product names this image: its manifest or index digest, and its architecture when the purl gives one. */
export function imageMatches(id: VexImageId, target: VexTarget): boolean {
  const d = id.digest.toLowerCase();
  if (d !== target.digest?.toLowerCase() && d !== target.indexDigest?.toLowerCase()) return false;
  return id.arch === undefined || id.arch === target.architecture;
}

/**
 * Does the statement's purl cover the finding's package? Type, namespace and name equal (as normalised by
 * packageurl-js); version and subpath equal when the statement gives them; each qualifier the statement gives is
 * present on the finding with the same value (`distro` debian-12 and debian-12.5 are one release), except for the
 * location qualifiers.
 */
export function purlCovers(s: VexPackageId, f: VexPackageId): boolean {
  if (s.type !== f.type || s.namespace !== f.namespace || !sameName(s.type, s.name, f.name)) return false;
  if (s.version !== undefined && s.version !== f.version) return false;
  if (s.subpath !== undefined && s.subpath !== f.subpath) return false;
  for (const [k, v] of Object.entries(s.qualifiers)) {
    const fv = f.qualifiers[k];
    if (fv === undefined) {
      if (LOCATION_QUALIFIERS.has(k)) continue;
      return false;
    }
    if (k === 'distro' ? !sameRelease(v, fv) : v !== fv) return false;
  }
  return true;
}

/** PyPI names one project by any spelling that PEP 503 normalises alike (`zope.interface`, `Zope_Interface`). */
function sameName(type: string, a: string, b: string): boolean {
  return a === b || (type === 'pypi' && normalizePackageName('PyPI', a) === normalizePackageName('PyPI', b));
}

function sameRelease(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
}

class PurlCache {
  readonly #m = new Map<string, VexPackageId | undefined>();
  get(purl: string): VexPackageId | undefined {
    if (this.#m.has(purl)) return this.#m.get(purl);
    const p = parsePurl(purl);
    const id = p && p.type !== 'oci' ? packageId(p) : undefined;
    this.#m.set(purl, id);
    return id;
  }
}

/** The VEX target of an inventory: its digests, architecture and package purls. */
export function vexTargetOf(inv: Inventory): VexTarget {
  const s = inv.subject;
  return {
    ...(s.digest ? { digest: s.digest } : {}),
    ...(s.indexDigest ? { indexDigest: s.indexDigest } : {}),
    ...(s.platform?.architecture ? { architecture: s.platform.architecture } : {}),
    packages: inv.packages.map((p) => ({ purl: p.purl, paths: p.locations.map((l) => l.path) })),
  };
}
