/**
 * AdmissionReview v1 (admission.k8s.io/v1) in and out, pure. A body that is not a well-formed review is refused with
 * a reason and never reaches the checks; answers carry the request's uid, as the API server requires.
 */
import { printable } from '../../errors.js';
import { asRecord } from '../model.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/** The parts of `request` the webhook reads. */
export interface AdmissionRequest {
  readonly uid: string;
  /** The kind of the object as the API server names it (`{group: 'apps', version: 'v1', kind: 'Deployment'}`). */
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  readonly subResource?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly operation: Operation;
  /** The new object (CREATE, UPDATE); absent for DELETE. */
  readonly object?: unknown;
  /** The stored object an UPDATE changes, as the API server sends it. */
  readonly oldObject?: unknown;
  readonly dryRun: boolean;
}

export type ParsedReview =
  | { readonly ok: true; readonly request: AdmissionRequest }
  /** Not a review the webhook can answer: HTTP 400 with this message. */
  | { readonly ok: false; readonly message: string };

const UID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

function bad(message: string): ParsedReview {
  return { ok: false, message };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Parse a request body (already bounded by the server). */
export function parseAdmissionReview(body: Buffer): ParsedReview {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return bad('the body is not JSON');
  }
  const top = asRecord(doc);
  if (!top) return bad('the body is not a JSON object');
  if (top.apiVersion !== ADMISSION_API_VERSION) {
    return bad(`apiVersion '${printable(String(top.apiVersion), 60)}' is not ${ADMISSION_API_VERSION}`);
  }
  if (top.kind !== 'AdmissionReview') return bad(`kind '${printable(String(top.kind), 60)}' is not AdmissionReview`);
  const req = asRecord(top.request);
  if (!req) return bad('no request object');
  const uid = str(req.uid);
  if (uid === undefined || !UID_RE.test(uid)) return bad('request.uid is missing or not a uid');
  const kind = asRecord(req.kind);
  const k = { group: str(kind?.group), version: str(kind?.version), kind: str(kind?.kind) };
  if (k.group === undefined || k.version === undefined || !k.kind) {
    return bad('request.kind must have group, version and kind strings');
  }
  const operation = str(req.operation);
  if (operation === undefined || !OPERATIONS.includes(operation)) {
    return bad(`request.operation '${printable(String(req.operation), 40)}' is not one of ${OPERATIONS.join(', ')}`);
  }
  for (const f of ['namespace', 'name', 'subResource'] as const) {
    if (req[f] !== undefined && typeof req[f] !== 'string') return bad(`request.${f} is not a string`);
  }
  return {
    ok: true,
    request: {
      uid,
      kind: { group: k.group, version: k.version, kind: k.kind },
      ...(req.subResource ? { subResource: req.subResource as string } : {}),
      ...(req.namespace ? { namespace: req.namespace as string } : {}),
      ...(req.name ? { name: req.name as string } : {}),
      operation: operation as Operation,
      ...(req.object !== undefined && req.object !== null ? { object: req.object } : {}),
      ...(operation === 'UPDATE' && req.oldObject !== undefined && req.oldObject !== null
        ? { oldObject: req.oldObject }
        : {}),
      dryRun: req.dryRun === true,
    },
  };
}

export type JsonPatchOp =
  | { readonly op: 'replace' | 'add'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

/** What the webhook answers for one request. */
export interface AdmissionAnswer {
  readonly allowed: boolean;
  /** Shown to the user: why it was denied (or what was not checked). */
  readonly message?: string;
  readonly warnings?: readonly string[];
  readonly auditAnnotations?: Readonly<Record<string, string>>;
  readonly patch?: readonly JsonPatchOp[];
}

/** The API server may truncate a warning over 256 characters and drops them past 4096 in all; keep within that. */
const MAX_WARNINGS = 15;
const MAX_WARNING_CHARS = 256;
const MAX_MESSAGE_CHARS = 4000;
const MAX_ANNOTATION_CHARS = 4000;

/**
 * A warning as the API server passes it on: a `Warning:` HTTP header, whose bytes clients read as Latin-1 (node, the
 * JavaScript client), so anything outside printable ASCII (printable's '…' included) would arrive garbled. Shortened
 * with '...' to at most `max` characters.
 */
export function warningText(w: string, max = MAX_WARNING_CHARS): string {
  const ascii = w.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length > max ? `${ascii.slice(0, max - 3)}...` : ascii;
}

/** The AdmissionReview answer to `uid`. */
export function reviewResponse(uid: string, a: AdmissionAnswer): Record<string, unknown> {
  const warnings = (a.warnings ?? []).map((w) => warningText(w));
  if (warnings.length > MAX_WARNINGS) {
    const more = warnings.length - (MAX_WARNINGS - 1);
    warnings.splice(MAX_WARNINGS - 1, warnings.length, `... and ${more} more`);
  }
  const response: Record<string, unknown> = { uid, allowed: a.allowed };
  if (!a.allowed) {
    response.status = {
      code: 403,
      reason: 'Forbidden',
      message: printable(a.message ?? 'denied', MAX_MESSAGE_CHARS),
    };
  } else if (a.message) {
    response.status = { code: 200, message: printable(a.message, MAX_MESSAGE_CHARS) };
  }
  if (warnings.length > 0) response.warnings = warnings;
  if (a.auditAnnotations && Object.keys(a.auditAnnotations).length > 0) {
    response.auditAnnotations = Object.fromEntries(
      Object.entries(a.auditAnnotations).map(([k, v]) => [k, printable(v, MAX_ANNOTATION_CHARS)]),
    );
  }
  if (a.allowed && a.patch && a.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(a.patch)).toString('base64');
  }
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

/** A JSON Pointer (RFC 6901) for a path into an object. */
export function jsonPointer(path: readonly (string | number)[]): string {
  return path.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}
