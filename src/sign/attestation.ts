import { fail, printable } from '../errors.js';
import { parseDigest } from '../oci/digest.js';
import { lookup } from '../util/record.js';
import { goJson } from './gojson.js';

/**
 * in-toto attestation statements (ref: in-toto/attestation spec/v1/statement.md): what is attested (`subject`: name and
 * digests), what kind of claim (`predicateType`, a URI) and the claim itself (`predicate`).
 */
export const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** cosign (v2) still writes the v0.1 type; both are read. */
export const STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';

/** Predicate types by short name (`--type`); any other `--type` must be a URI. */
export const PREDICATE_TYPES: Readonly<Record<string, string>> = {
  /** Portcullis's assessment of an image: inventory summary, findings and the policy decision. */
  assessment: 'https://portcullis.dev/attestation/assessment/v1',
  /** A CycloneDX SBOM, with the URI cosign uses for `--type cyclonedx`. */
  cyclonedx: 'https://cyclonedx.org/bom',
};

/** A `--type` value as a predicate type URI. */
export function predicateTypeOf(name: string): string {
  const known = lookup(PREDICATE_TYPES, name);
  if (known) return known;
  if (/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(name)) return name;
  return fail(
    'USAGE',
    `attestation type '${printable(name, 100)}' is neither ${Object.keys(PREDICATE_TYPES).join(', ')} nor a URI`,
  );
}

/** One statement subject. */
export interface Subject {
  readonly name: string;
  readonly digest: Readonly<Record<string, string>>;
}

/** A parsed statement. */
export interface Statement {
  readonly type: string;
  readonly subjects: readonly Subject[];
  readonly predicateType: string;
  readonly predicate: unknown;
}

/** Statement JSON for one image (name = its repository, digest = its manifest digest). */
export function buildStatement(subjectName: string, digest: string, predicateType: string, predicate: unknown): Buffer {
  const { algorithm, hex } = parseDigest(digest, 'the image digest');
  return Buffer.from(
    goJson({
      _type: STATEMENT_V1,
      subject: [{ name: subjectName, digest: { [algorithm]: hex } }],
      predicateType,
      predicate,
    }),
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse a statement; SIGNATURE_MALFORMED naming the field otherwise. */
export function parseStatement(bytes: Uint8Array, where: string): Statement {
  const bad = (what: string): never => fail('SIGNATURE_MALFORMED', `${where}: ${what}`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return bad('the in-toto statement is not JSON');
  }
  if (!isObject(doc)) return bad('the in-toto statement is not a JSON object');
  if (doc._type !== STATEMENT_V1 && doc._type !== STATEMENT_V01)
    bad(`_type '${printable(String(doc._type), 100)}' is not an in-toto Statement (v1 or v0.1)`);
  if (!Array.isArray(doc.subject) || doc.subject.length === 0) return bad("statement has no 'subject'");
  const subjects = doc.subject.map((s, i): Subject => {
    if (!isObject(s) || !isObject(s.digest)) return bad(`subject[${i}] has no 'digest' object`);
    const digest: Record<string, string> = {};
    for (const [alg, v] of Object.entries(s.digest)) {
      if (typeof v !== 'string') return bad(`subject[${i}].digest.${printable(alg, 40)} is not a string`);
      digest[alg] = v;
    }
    return { name: typeof s.name === 'string' ? s.name : '', digest };
  });
  if (typeof doc.predicateType !== 'string' || doc.predicateType === '') return bad("statement has no 'predicateType'");
  return { type: doc._type as string, subjects, predicateType: doc.predicateType, predicate: doc.predicate };
}

/** True when some subject names `digest` (`alg:hex`) under the same algorithm. */
export function subjectMatches(statement: Statement, digest: string): boolean {
  const colon = digest.indexOf(':');
  const alg = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  return statement.subjects.some((s) => s.digest[alg] === hex);
}
