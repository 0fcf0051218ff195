/**
 * The CI baseline file (`ci baseline` writes it, `ci drift` reads it): the summary of src/ci/summary.ts with a schema
 * reference, a format version, the tool and the time. Read back fail-closed: bounded size, strict JSON, the version,
 * then schemas/ci-baseline.schema.json; any problem is one CI_BASELINE_INVALID line naming the file. Signed like
 * `cosign sign-blob --key`: a detached `FILE.sig` holding the base64 ECDSA P-256 signature of the file's bytes.
 */
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import BASELINE_SCHEMA from '../../schemas/ci-baseline.schema.json' with { type: 'json' };
import { fail, PortcullisError, printable } from '../errors.js';
import { validateWithSchema } from '../policy/schema.js';
import { dottedPath } from '../policy/yaml.js';
import { signBytes, verifyBytes } from '../sign/keys.js';
import { readBoundedFile } from '../util/boundedfile.js';
import { TOOL } from '../version.js';
import { loadRepository } from './audit.js';
import type { CiAuditConfig } from './config.js';
import { errorLine } from './report.js';
import { type CiSummary, type FileHash, sha256, summarise } from './summary.js';

export const BASELINE_VERSION = 1;
export const BASELINE_SCHEMA_ID = 'https://portcullis.dev/schemas/ci-baseline.schema.json';
/** Where `ci baseline` writes and `ci drift` reads, relative to the repository root. */
export const DEFAULT_BASELINE_PATH = join('.portcullis', 'ci-baseline.json');
/** A baseline of thousands of workflows is a few MiB; anything larger is refused unread. */
export const MAX_BASELINE_BYTES = 16 * 1024 * 1024;
/** A detached signature is ~100 bytes of base64. */
const MAX_SIGNATURE_BYTES = 4096;

export interface BaselineDoc extends CiSummary {
  readonly $schema: string;
  readonly version: number;
  readonly tool: typeof TOOL;
  readonly createdAt: string;
}

export function buildBaseline(summary: CiSummary, created: Date): BaselineDoc {
  return {
    $schema: BASELINE_SCHEMA_ID,
    version: BASELINE_VERSION,
    tool: TOOL,
    createdAt: created.toISOString(),
    files: summary.files,
    workflows: summary.workflows,
  };
}

export const serialiseBaseline = (doc: BaselineDoc): string => `${JSON.stringify(doc, null, 2)}\n`;

const invalid = (where: string, what: string): never => fail('CI_BASELINE_INVALID', `${printable(where)}: ${what}`);

/** Parse and check a baseline's bytes; CI_BASELINE_INVALID with one line otherwise. */
export function parseBaseline(bytes: Uint8Array, where: string): BaselineDoc {
  if (bytes.length > MAX_BASELINE_BYTES) invalid(where, `larger than ${MAX_BASELINE_BYTES / 1024 / 1024} MiB`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return invalid(where, 'not UTF-8 text');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return invalid(where, `not JSON (${printable((err as Error).message, 120)})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return invalid(where, 'not a JSON object');
  const version = (doc as { version?: unknown }).version;
  if (version !== BASELINE_VERSION)
    invalid(
      where,
      `format version ${printable(JSON.stringify(version) ?? 'missing', 40)} is not one this portcullis reads (${BASELINE_VERSION}); record the baseline again`,
    );
  const problems = validateWithSchema(BASELINE_SCHEMA, doc);
  const first = problems[0];
  if (first) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    invalid(where, `${dottedPath(first.path) || '(top)'}: ${first.message}${more}`);
  }
  return doc as BaselineDoc;
}

/** A baseline file's bytes, bounded (the signature is checked over them before they are parsed). */
export function readBaselineBytes(path: string): Buffer {
  const r = readBoundedFile(path, MAX_BASELINE_BYTES);
  if (r.ok) return r.bytes;
  if (r.problem === 'missing')
    fail('NOT_FOUND', `${printable(path)}: no baseline (record one with 'portcullis ci baseline')`);
  return invalid(
    path,
    r.problem === 'too-large'
      ? `larger than ${MAX_BASELINE_BYTES / 1024 / 1024} MiB`
      : r.problem === 'not-a-file'
        ? 'not a regular file'
        : `cannot be read (${r.code ?? 'error'})`,
  );
}

/** The detached signature of a baseline's bytes, as `cosign sign-blob --key` writes it: base64, no newline. */
export function signBaseline(bytes: Uint8Array, key: KeyObject): string {
  return signBytes(key, bytes).toString('base64');
}

/** Check `path.sig` against the baseline's bytes; CI_BASELINE_NOT_VERIFIED (one line) for anything but a match. */
export function verifyBaseline(path: string, bytes: Uint8Array, key: KeyObject, keyName: string): void {
  const sigPath = `${path}.sig`;
  const r = readBoundedFile(sigPath, MAX_SIGNATURE_BYTES);
  if (!r.ok)
    fail(
      'CI_BASELINE_NOT_VERIFIED',
      `${printable(sigPath)}: ${r.problem === 'missing' ? 'no signature beside the baseline' : r.problem === 'too-large' ? 'too large to be a signature' : 'cannot be read'}`,
    );
  const text = (r as { bytes: Buffer }).bytes.toString('latin1').trim();
  // cosign writes base64; it also accepts the raw DER, so both are read.
  const sig = /^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0 ? Buffer.from(text, 'base64') : r.bytes;
  if (!verifyBytes(key, bytes, sig))
    fail(
      'CI_BASELINE_NOT_VERIFIED',
      `${printable(path)}: the signature in ${printable(sigPath)} does not verify with ${printable(keyName)} (the baseline or its signature was changed, or another key signed it)`,
    );
}

/**
 * Load and summarise the pipelines under `root` (a directory, or one file). Files that cannot be read make it fail
 * (CI_INVALID): a baseline or comparison of part of the pipelines is never a clean one.
 */
export async function snapshot(root: string, config: CiAuditConfig): Promise<CiSummary> {
  const repo = await loadRepository(root);
  const first = repo.errors[0];
  if (first) {
    const more = repo.errors.length > 1 ? ` (and ${repo.errors.length - 1} more)` : '';
    throw new PortcullisError('CI_INVALID', `${errorLine(first)}${more}`);
  }
  const base = repo.base ?? root;
  const hashes: FileHash[] = [];
  for (const file of new Set(repo.workflows.flatMap((w) => [w.file, ...(w.included ?? [])]))) {
    // The loaders read these files a moment ago and bounded them; a file that changed meanwhile is an error.
    const r = readBoundedFile(join(base, ...file.split('/')), 2 * 1024 * 1024);
    if (!r.ok) throw new PortcullisError('CI_INVALID', `${printable(file)}:1:1: cannot be read again (${r.problem})`);
    hashes.push({ file, sha256: sha256(r.bytes) });
  }
  return summarise(repo.workflows, hashes, config);
}
