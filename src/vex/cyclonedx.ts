import { printable } from '../errors.js';
import { digestFromHash, readIdentifier } from './identity.js';
import { at, isObject, type Json, JsonReader } from './json.js';
import type { VexComponent, VexDocument, VexIdentifier, VexProduct, VexStatement, VexStatus } from './model.js';

/**
 * CycloneDX VEX, spec 1.4 to 1.6 (ref: https://cyclonedx.org/docs/1.6/json/#vulnerabilities): each
 * `vulnerabilities[]` entry with an `analysis.state` is one statement about the components its `affects[].ref` names
 * (a bom-ref into this document, a BOM-Link to it, or a purl). When `metadata.component` describes the product (an
 * image, an application), the affected packages are read as subcomponents of it, so the statement never speaks for
 * another product.
 */

export const CYCLONEDX_SPEC_VERSIONS = ['1.4', '1.5', '1.6'] as const;

const STATES: Record<string, VexStatus> = {
  not_affected: 'not_affected',
  false_positive: 'not_affected',
  resolved: 'fixed',
  resolved_with_pedigree: 'fixed',
  exploitable: 'affected',
  in_triage: 'under_investigation',
};
/** CycloneDX's `analysis.justification` values (1.4-1.6). */
export const CYCLONEDX_JUSTIFICATIONS = [
  'code_not_present',
  'code_not_reachable',
  'requires_configuration',
  'requires_dependency',
  'requires_environment',
  'protected_by_compiler',
  'protected_at_runtime',
  'protected_at_perimeter',
  'protected_by_mitigating_control',
] as const;

// The keys CycloneDX 1.4-1.6 defines for what a statement is read from (its schema allows no others there): a
// misspelt key is refused, not ignored. Components are read leniently; a misspelling there matches nothing.
const VULNERABILITY_KEYS = new Set([
  'bom-ref',
  'id',
  'source',
  'references',
  'ratings',
  'cwes',
  'description',
  'detail',
  'recommendation',
  'workaround',
  'proofOfConcept',
  'advisories',
  'created',
  'published',
  'updated',
  'rejected',
  'credits',
  'tools',
  'analysis',
  'affects',
  'properties',
]);
const ANALYSIS_KEYS = new Set(['state', 'justification', 'response', 'detail', 'firstIssued', 'lastUpdated']);
const AFFECTS_KEYS = new Set(['ref', 'versions']);
const VERSION_KEYS = new Set(['version', 'range', 'status']);

const MAX_COMPONENTS = 500_000;
const MAX_DEPTH = 64;
const MAX_VULNERABILITIES = 100_000;
const MAX_AFFECTS = 10_000;

/** True when a parsed JSON document says it is CycloneDX. */
export function isCycloneDx(doc: unknown): boolean {
  return isObject(doc) && doc.bomFormat === 'CycloneDX';
}

/** Parse the VEX part of one CycloneDX document (already JSON-parsed). Throws VEX_INVALID naming file and path. */
export function parseCycloneDxVex(doc: unknown, file: string): VexDocument {
  const r = new JsonReader(file);
  const root = r.object(doc, '$');
  if (root.bomFormat !== 'CycloneDX') r.fail('$.bomFormat', "expected 'CycloneDX'");
  r.oneOf(root.specVersion, '$.specVersion', CYCLONEDX_SPEC_VERSIONS);
  const serial = r.optString(root.serialNumber, '$.serialNumber');
  if (root.version !== undefined && !(Number.isInteger(root.version) && (root.version as number) >= 1))
    r.fail('$.version', 'expected an integer of at least 1');
  const bomVersion = (root.version as number | undefined) ?? 1;
  const metadata = root.metadata === undefined ? undefined : r.object(root.metadata, '$.metadata');
  const docTime = r.optTime(metadata?.timestamp, '$.metadata.timestamp');
  const warnings: string[] = [];
  const refs = indexComponents(r, root, metadata);

  // The product the document speaks for, when it names one.
  let product: (VexComponent & { ref?: string }) | undefined;
  if (metadata?.component !== undefined) {
    const mc = r.object(metadata.component, '$.metadata.component');
    const c = identify(r, mc, '$.metadata.component');
    if (c.ids.length === 0) {
      warnings.push(`${file}: $.metadata.component: ${c.reason}; no statement of this document can match`);
    }
    product = typeof mc['bom-ref'] === 'string' ? { ...c, ref: mc['bom-ref'] } : c;
  }

  const statements: VexStatement[] = [];
  let noAnalysis = 0;
  const vulns = r.optArray(root.vulnerabilities, '$.vulnerabilities', MAX_VULNERABILITIES);
  vulns.forEach((raw, i) => {
    const path = at('$.vulnerabilities', i);
    const v = r.object(raw, path);
    r.knownKeys(v, path, VULNERABILITY_KEYS);
    const id = r.string(v.id, at(path, 'id'));
    const aliases = r.optArray(v.references, at(path, 'references'), MAX_AFFECTS).map((ref, j) => {
      const rp = at(at(path, 'references'), j);
      return r.string(r.object(ref, rp).id, at(rp, 'id'));
    });
    if (v.analysis === undefined) {
      noAnalysis++;
      return;
    }
    const ap = at(path, 'analysis');
    const analysis = r.object(v.analysis, ap);
    r.knownKeys(analysis, ap, ANALYSIS_KEYS);
    if (analysis.state === undefined) {
      noAnalysis++;
      return;
    }
    const state = r.oneOf(analysis.state, at(ap, 'state'), Object.keys(STATES));
    const justification =
      analysis.justification === undefined
        ? undefined
        : r.oneOf(analysis.justification, at(ap, 'justification'), CYCLONEDX_JUSTIFICATIONS);
    const detail = r.optString(analysis.detail, at(ap, 'detail'));
    const response = r.optArray(analysis.response, at(ap, 'response'), 16);
    for (const [j, x] of response.entries()) r.string(x, at(at(ap, 'response'), j));
    const timestamp =
      r.optTime(analysis.lastUpdated, at(ap, 'lastUpdated')) ??
      r.optTime(analysis.firstIssued, at(ap, 'firstIssued')) ??
      docTime;
    const recommendation = r.optString(v.recommendation, at(path, 'recommendation'));
    const affects = r.optArray(v.affects, at(path, 'affects'), MAX_AFFECTS);
    if (affects.length === 0) {
      warnings.push(`${file}: ${at(path, 'affects')}: names no affected component; the statement cannot match`);
      return;
    }
    const read = affects.map((a, j) =>
      affected(r, a, at(at(path, 'affects'), j), { refs, serial, bomVersion, product, state }, warnings),
    );
    const origin = { format: 'cyclonedx', file, ...(serial ? { documentId: serial } : {}), path } as const;
    statements.push({
      vulnerability: { id, aliases },
      products: read.map((x) => x.product),
      status: STATES[state] as VexStatus,
      statedStatus: state,
      ...(justification ? { justification } : {}),
      ...(detail ? { impactStatement: detail } : {}),
      ...(recommendation ? { actionStatement: recommendation } : {}),
      ...(timestamp ? { timestamp } : {}),
      origin,
    });
    // The versions a clearing analysis marks affected (or unknown) are a statement of their own, as recent as the
    // analysis: an older statement clearing them must not win over it.
    const marked = read.flatMap((x) => (x.markedAffected ? [x.markedAffected] : []));
    if (marked.length > 0) {
      statements.push({
        vulnerability: { id, aliases },
        products: marked,
        status: 'affected',
        statedStatus: `${state}, this version marked affected`,
        ...(timestamp ? { timestamp } : {}),
        origin,
      });
    }
  });
  if (noAnalysis > 0) {
    warnings.push(`${file}: ${noAnalysis} vulnerabilities carry no analysis.state and say nothing about this image`);
  }
  return { statements, warnings };
}

/** A container image a component is nested in; `metadata` when it is the document's own product. */
interface Owner extends VexComponent {
  readonly reason: string;
  readonly metadata: boolean;
}

type Identified = VexComponent & { readonly reason: string; readonly ref?: string; readonly owner?: Owner };

/**
 * Every component with a bom-ref, metadata.component included, walked without recursion; each with the nearest
 * container it is nested in, so a package inside another image is never read as this image's or any image's.
 */
function indexComponents(r: JsonReader, root: Json, metadata: Json | undefined): Map<string, Identified> {
  const out = new Map<string, Identified>();
  const stack: { v: unknown; path: string; depth: number; owner?: Owner; isMetadata?: boolean }[] = [];
  if (metadata?.component !== undefined)
    stack.push({ v: metadata.component, path: '$.metadata.component', depth: 0, isMetadata: true });
  r.optArray(root.components, '$.components', MAX_COMPONENTS).forEach((v, i) => {
    stack.push({ v, path: at('$.components', i), depth: 0 });
  });
  let seen = 0;
  while (stack.length > 0) {
    const { v, path, depth, owner, isMetadata } = stack.pop()!;
    if (++seen > MAX_COMPONENTS) r.fail(path, `more than ${MAX_COMPONENTS} components`);
    if (depth > MAX_DEPTH) r.fail(path, `components nested deeper than ${MAX_DEPTH}`);
    const c = r.object(v, path);
    const ref = r.optString(c['bom-ref'], at(path, 'bom-ref'));
    const self = ref !== undefined || c.type === 'container' ? identify(r, c, path) : undefined;
    if (ref !== undefined && self) {
      if (out.has(ref)) r.fail(at(path, 'bom-ref'), `bom-ref '${printable(ref, 80)}' is used twice`);
      out.set(ref, { ...self, ref, ...(owner ? { owner } : {}) });
    }
    const inner = c.type === 'container' && self ? { ...self, metadata: isMetadata === true } : owner;
    r.optArray(c.components, at(path, 'components'), MAX_COMPONENTS).forEach((sub, i) => {
      stack.push({ v: sub, path: at(at(path, 'components'), i), depth: depth + 1, ...(inner ? { owner: inner } : {}) });
    });
  }
  return out;
}

/** A component's identity: its purl; for a container also a digest version or a SHA-256/512 hash. */
function identify(r: JsonReader, c: Json, path: string): Identified {
  const ids: VexIdentifier[] = [];
  const reasons: string[] = [];
  const purl = r.optString(c.purl, at(path, 'purl'));
  if (purl !== undefined) {
    const read = readIdentifier(purl);
    if ('id' in read) ids.push(read.id);
    else reasons.push(read.reason);
  }
  const name = r.optString(c.name, at(path, 'name'));
  if (c.type === 'container') {
    const version = r.optString(c.version, at(path, 'version'));
    if (version !== undefined) {
      const read = readIdentifier(version);
      if ('id' in read && read.id.kind === 'image') ids.push(read.id);
    }
    r.optArray(c.hashes, at(path, 'hashes'), 64).forEach((h, i) => {
      const hp = at(at(path, 'hashes'), i);
      const o = r.object(h, hp);
      const d = digestFromHash(r.string(o.alg, at(hp, 'alg')), r.string(o.content, at(hp, 'content')));
      if (d) ids.push({ kind: 'image', digest: d });
    });
  }
  if (ids.length === 0 && reasons.length === 0) {
    reasons.push(
      c.type === 'container'
        ? `container '${printable(name ?? '?', 80)}' has no digest (purl pkg:oci/...@sha256:..., version or hash)`
        : `component '${printable(name ?? '?', 80)}' has no purl`,
    );
  }
  return { ids, text: purl ?? name ?? '?', reason: reasons.join('; ') };
}

interface Context {
  readonly refs: Map<string, Identified>;
  readonly serial: string | undefined;
  readonly bomVersion: number;
  readonly product: (VexComponent & { ref?: string }) | undefined;
  /** The statement's `analysis.state`. */
  readonly state: string;
}

/**
 * One `affects[]` entry as a product: the image itself, or a package (inside the document's product, if any); and
 * under a clearing state, the versions the entry marks affected or unknown, which it does not clear.
 */
function affected(
  r: JsonReader,
  raw: unknown,
  path: string,
  ctx: Context,
  warnings: string[],
): { product: VexProduct; markedAffected?: VexProduct } {
  const a = r.object(raw, path);
  r.knownKeys(a, path, AFFECTS_KEYS);
  const ref = r.string(a.ref, at(path, 'ref'));
  let target: Identified | undefined = ctx.refs.get(ref);
  const link = /^urn:cdx:([^/]+)\/([1-9][0-9]*)#(.+)$/.exec(ref);
  if (!target && link) {
    const same = ctx.serial === `urn:uuid:${link[1]}` && Number(link[2]) === ctx.bomVersion;
    target = same ? ctx.refs.get(safeDecode(link[3] ?? '')) : undefined;
    if (!same) target = { ids: [], text: ref, reason: `'${printable(ref, 120)}' refers to another BOM` };
  }
  if (!target) {
    const read = ref.startsWith('pkg:') ? readIdentifier(ref) : undefined;
    target =
      read && 'id' in read
        ? { ids: [read.id], text: ref, reason: '' }
        : { ids: [], text: ref, reason: read?.reason ?? `no component has bom-ref '${printable(ref, 120)}'` };
  }
  let ids = target.ids;
  let kept: VexIdentifier[] = [];
  const versions = r.optArray(a.versions, at(path, 'versions'), MAX_AFFECTS);
  if (versions.length > 0) {
    const clears = STATES[ctx.state] === 'not_affected' || STATES[ctx.state] === 'fixed';
    const narrowed = narrowToVersions(r, ids, versions, at(path, 'versions'), warnings, clears);
    ids = narrowed.covered;
    kept = narrowed.markedAffected;
  }
  if (ids.length === 0) {
    const why =
      target.ids.length === 0
        ? target.reason
        : kept.length > 0
          ? 'every version it lists is marked affected or unknown (affected when no status is given), which this analysis does not clear'
          : 'none of its listed versions is an exact version';
    warnings.push(`${r.file}: ${at(path, 'ref')}: ${why}; no finding can match it`);
  }
  // Nested in another image than the document's product: a subcomponent of that image, matched by its digest only.
  const owner = target.owner && !target.owner.metadata ? target.owner : undefined;
  if (owner && owner.ids.length === 0 && ids.length > 0)
    warnings.push(`${r.file}: ${at(path, 'ref')}: inside ${owner.reason}; no finding can match it`);
  const asProduct = (ids: readonly VexIdentifier[]): VexProduct => {
    const component: VexComponent = { ids, text: target.text };
    const isImage = ids.some((i) => i.kind === 'image');
    if (owner && !isImage) return { ids: owner.ids, text: owner.text, subcomponents: [component] };
    const isProduct = ctx.product !== undefined && target.ref !== undefined && target.ref === ctx.product.ref;
    if (isImage || isProduct || ctx.product === undefined) return { ...component, subcomponents: [] };
    return { ids: ctx.product.ids, text: ctx.product.text, subcomponents: [component] };
  };
  return { product: asProduct(ids), ...(kept.length > 0 ? { markedAffected: asProduct(kept) } : {}) };
}

/**
 * `affects[].versions`: the statement covers only the exact versions listed (a vers range is not evaluated, so an
 * entry with only ranges covers nothing). A package whose purl has another version is left out. For a state that
 * clears a finding (not affected, resolved), a version the entry itself marks `affected` or `unknown` is not cleared
 * but returned apart (`resolved` with 4.17.20 affected and 4.17.21 unaffected says the fix is 4.17.21); a version
 * with no status is `affected`, the schema's default.
 */
function narrowToVersions(
  r: JsonReader,
  ids: readonly VexIdentifier[],
  versions: unknown[],
  path: string,
  warnings: string[],
  clears: boolean,
): { covered: VexIdentifier[]; markedAffected: VexIdentifier[] } {
  const exact: string[] = [];
  const marked: string[] = [];
  versions.forEach((v, i) => {
    const o = r.object(v, at(path, i));
    r.knownKeys(o, at(path, i), VERSION_KEYS);
    const version = r.optString(o.version, at(at(path, i), 'version'));
    const range = r.optString(o.range, at(at(path, i), 'range'));
    const status =
      o.status === undefined
        ? 'affected'
        : r.oneOf(o.status, at(at(path, i), 'status'), ['affected', 'unaffected', 'unknown']);
    if (version === undefined && range === undefined) r.fail(at(path, i), 'expected a version or a range');
    if (version === undefined) warnings.push(`${r.file}: ${at(path, i)}: version ranges are not evaluated`);
    else if (clears && status !== 'unaffected') marked.push(version);
    else exact.push(version);
  });
  const narrow = (list: readonly string[]): VexIdentifier[] => {
    const out: VexIdentifier[] = [];
    for (const id of ids) {
      if (id.kind === 'image') out.push(id);
      else for (const v of list) if (id.version === undefined || id.version === v) out.push({ ...id, version: v });
    }
    return out;
  };
  return {
    covered: narrow(exact),
    markedAffected: marked.length > 0 ? narrow(marked).filter((i) => i.kind === 'package') : [],
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
