import { digestFromHash, readIdentifier } from './identity.js';
import { at, isObject, JsonReader } from './json.js';
import {
  VEX_STATUSES,
  type VexComponent,
  type VexDocument,
  type VexIdentifier,
  type VexProduct,
  type VexStatement,
} from './model.js';

/**
 * OpenVEX documents, v0.2.0 (ref: https://github.com/openvex/spec OPENVEX-SPEC.md and openvex_json_schema.json,
 * context https://openvex.dev/ns/v0.2.0), and the v0.0.1 shape older vexctl releases wrote (vulnerability and
 * products as plain strings, subcomponents on the statement).
 */

export const OPENVEX_CONTEXT = 'https://openvex.dev/ns';

/** The status justifications of the VEX working group, which OpenVEX takes as its only labels. */
export const OPENVEX_JUSTIFICATIONS = [
  'component_not_present',
  'vulnerable_code_not_present',
  'vulnerable_code_not_in_execute_path',
  'vulnerable_code_cannot_be_controlled_by_adversary',
  'inline_mitigations_already_exist',
] as const;

// The keys OpenVEX v0.2.0 defines (its JSON schema allows no others), and v0.0.1's statement-level subcomponents.
const STATEMENT_KEYS = new Set([
  '@id',
  'vulnerability',
  'timestamp',
  'last_updated',
  'products',
  'status',
  'supplier',
  'status_notes',
  'justification',
  'impact_statement',
  'action_statement',
  'action_statement_timestamp',
  'version',
  'subcomponents',
]);
const VULNERABILITY_KEYS = new Set(['@id', 'name', 'description', 'aliases']);
const PRODUCT_KEYS = new Set(['@id', 'identifiers', 'hashes', 'subcomponents']);
const SUBCOMPONENT_KEYS = new Set(['@id', 'identifiers', 'hashes']);
// The spec's text writes cpe22/cpe23, its JSON schema @cpe22/@cpe23: both are read.
const IDENTIFIER_KEYS = new Set(['purl', 'cpe22', 'cpe23', '@cpe22', '@cpe23']);

const MAX_STATEMENTS = 100_000;
const MAX_PRODUCTS = 10_000;
const MAX_ALIASES = 1_000;

/** True when a parsed JSON document declares the OpenVEX context. */
export function isOpenVex(doc: unknown): boolean {
  const ctx = isObject(doc) ? doc['@context'] : undefined;
  return typeof ctx === 'string' && (ctx === OPENVEX_CONTEXT || ctx.startsWith(`${OPENVEX_CONTEXT}/`));
}

/** Parse one OpenVEX document (already JSON-parsed). Throws VEX_INVALID naming `file` and the JSON path. */
export function parseOpenVex(doc: unknown, file: string): VexDocument {
  const r = new JsonReader(file);
  const root = r.object(doc, '$');
  if (!isOpenVex(root)) r.fail('$["@context"]', `expected the OpenVEX context ${OPENVEX_CONTEXT}[/vX.Y.Z]`);
  const documentId = r.string(root['@id'], '$["@id"]');
  const docTime =
    r.optTime(root.timestamp, '$.timestamp') ??
    r.fail('$.timestamp', 'missing (an OpenVEX document must say when it was issued)');
  const warnings: string[] = [];
  const statements: VexStatement[] = [];
  const list = r.array(root.statements, '$.statements', MAX_STATEMENTS);
  list.forEach((raw, i) => {
    statements.push(statement(r, raw, at('$.statements', i), { file, documentId, docTime }, warnings));
  });
  return { statements, warnings };
}

function statement(
  r: JsonReader,
  raw: unknown,
  path: string,
  doc: { file: string; documentId: string; docTime: string },
  warnings: string[],
): VexStatement {
  const s = r.object(raw, path);
  r.knownKeys(s, path, STATEMENT_KEYS);
  const vulnerability = vuln(r, s.vulnerability, at(path, 'vulnerability'));
  const status = r.oneOf(s.status, at(path, 'status'), VEX_STATUSES);
  const justification =
    s.justification === undefined
      ? undefined
      : r.oneOf(s.justification, at(path, 'justification'), OPENVEX_JUSTIFICATIONS);
  const impactStatement = r.optString(s.impact_statement, at(path, 'impact_statement'));
  const actionStatement = r.optString(s.action_statement, at(path, 'action_statement'));
  if (status === 'not_affected' && justification === undefined && impactStatement === undefined) {
    r.fail(path, 'a not_affected statement needs a justification or an impact_statement');
  }
  const timestamp = r.optTime(s.timestamp, at(path, 'timestamp')) ?? doc.docTime;
  r.optTime(s.last_updated, at(path, 'last_updated'));
  // v0.0.1: statement-level subcomponents (strings) apply to every product of the statement.
  const legacySubs = r
    .optArray(s.subcomponents, at(path, 'subcomponents'), MAX_PRODUCTS)
    .map((c, j) => component(r, c, at(at(path, 'subcomponents'), j), warnings, SUBCOMPONENT_KEYS));
  const productsPath = at(path, 'products');
  const rawProducts = r.array(s.products, productsPath, MAX_PRODUCTS);
  if (rawProducts.length === 0) r.fail(productsPath, 'a statement must name at least one product');
  const products: VexProduct[] = rawProducts.map((p, j) => {
    const pp = at(productsPath, j);
    const c = component(r, p, pp, warnings, PRODUCT_KEYS);
    const subs = isObject(p)
      ? r
          .optArray(p.subcomponents, at(pp, 'subcomponents'), MAX_PRODUCTS)
          .map((sc, k) => component(r, sc, at(at(pp, 'subcomponents'), k), warnings, SUBCOMPONENT_KEYS))
      : [];
    return { ...c, subcomponents: [...subs, ...legacySubs] };
  });
  return {
    vulnerability,
    products,
    status,
    statedStatus: status,
    ...(justification ? { justification } : {}),
    ...(impactStatement ? { impactStatement } : {}),
    ...(actionStatement ? { actionStatement } : {}),
    timestamp,
    origin: { format: 'openvex', file: doc.file, documentId: doc.documentId, path },
  };
}

function vuln(r: JsonReader, v: unknown, path: string): VexStatement['vulnerability'] {
  if (typeof v === 'string') return { id: r.string(v, path), aliases: [] }; // v0.0.1
  const o = r.object(v, path);
  r.knownKeys(o, path, VULNERABILITY_KEYS);
  const id = r.string(o.name, at(path, 'name'));
  const aliases = r
    .optArray(o.aliases, at(path, 'aliases'), MAX_ALIASES)
    .map((a, i) => r.string(a, at(at(path, 'aliases'), i)));
  return { id, aliases };
}

/** A product or subcomponent: `@id`, `identifiers.purl` and sha-256/512 `hashes` all identify it; v0.0.1 a string. */
function component(
  r: JsonReader,
  v: unknown,
  path: string,
  warnings: string[],
  keys: ReadonlySet<string>,
): VexComponent {
  const ids: VexIdentifier[] = [];
  const reasons: string[] = [];
  const take = (s: string) => {
    const read = readIdentifier(s);
    if ('id' in read) ids.push(read.id);
    else reasons.push(read.reason);
  };
  let text: string;
  if (typeof v === 'string') {
    text = r.string(v, path);
    take(text);
  } else {
    const o = r.object(v, path);
    r.knownKeys(o, path, keys);
    const id = r.optString(o['@id'], at(path, '@id'));
    if (id !== undefined) take(id);
    let purl: string | undefined;
    if (o.identifiers !== undefined) {
      const idents = r.object(o.identifiers, at(path, 'identifiers'));
      r.knownKeys(idents, at(path, 'identifiers'), IDENTIFIER_KEYS);
      for (const [k, val] of Object.entries(idents)) {
        const s = r.string(val, at(at(path, 'identifiers'), k));
        if (k === 'purl') {
          purl = s;
          take(s);
        }
      }
    }
    let hash: string | undefined;
    if (o.hashes !== undefined) {
      const hashes = r.object(o.hashes, at(path, 'hashes'));
      for (const [alg, val] of Object.entries(hashes)) {
        const d = digestFromHash(alg, r.string(val, at(at(path, 'hashes'), alg)));
        if (d) {
          ids.push({ kind: 'image', digest: d });
          hash ??= d;
        }
      }
    }
    const shown = id ?? purl ?? hash;
    if (shown === undefined) r.fail(path, 'a component needs an @id, an identifiers.purl or a hash');
    text = shown;
  }
  if (ids.length === 0) warnings.push(`${r.file}: ${path}: ${reasons.join('; ')}; no finding can match it`);
  return { ids, text };
}
