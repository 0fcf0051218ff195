import { fail, printable } from '../errors.js';
import { lazyRequire } from '../util/lazy.js';
import { checkUniqueKeys } from '../util/yamlkeys.js';
import { predicateTypeOf } from './attestation.js';
import { normalizeRepository } from './payload.js';

const yaml = lazyRequire<typeof import('yaml')>('yaml');

/**
 * The trust policy for `verify` without `--key`: which public keys may sign which repositories, and which attestation
 * types each repository must carry. YAML (or JSON), schema `schemas/trust-policy.schema.json`:
 *
 *     version: 1
 *     repositories:
 *       - match: registry.example.com/team/**     # `*`: within one path component, `**`: across them
 *         keys: [keys/team.pub]                   # paths relative to this file, or inline PEM
 *         attestations: [assessment]              # optional
 *         policies: [policies/production.yaml]    # optional: an assessment counts only under one of these
 *
 * The first entry whose pattern matches the repository applies; no entry matching means nothing is trusted.
 */

/** One entry, with its keys still as written (paths or PEM). */
export interface TrustEntry {
  readonly match: string;
  readonly keys: readonly string[];
  readonly attestations: readonly string[];
  /**
   * The gate policies an assessment must have been made under, as written: `sha256:` digests or policy files
   * (relative to this file). Empty: any policy.
   */
  readonly policies: readonly string[];
  /** 1-based line of the entry in the file, for messages. */
  readonly line: number;
  readonly pattern: RegExp;
}

/** A parsed trust policy. */
export interface TrustPolicy {
  readonly file: string;
  readonly entries: readonly TrustEntry[];
}

/** Policy files are small; a larger one is refused rather than parsed. */
export const MAX_POLICY_BYTES = 1024 * 1024;

const TOP_KEYS = new Set(['$schema', 'version', 'repositories']);
const ENTRY_KEYS = new Set(['match', 'keys', 'attestations', 'policies']);

/** A repository pattern as a regular expression over normalised repository names. */
export function compilePattern(pattern: string, where: string): RegExp {
  const host = pattern.split('/')[0] ?? '';
  if (!/^[a-zA-Z0-9*.[\]:-]+$/.test(host) || !pattern.includes('/') || pattern.endsWith('/') || /\s/.test(pattern)) {
    fail(
      'CONFIG_INVALID',
      `${where}: '${printable(pattern, 200)}' is not a repository pattern (host/path, * and ** allowed)`,
    );
  }
  // Docker Hub's names, as cosignRepositoryName writes them.
  const normal = pattern.replace(/^docker\.io\//, 'index.docker.io/');
  let re = '';
  for (let i = 0; i < normal.length; i++) {
    const c = normal[i] as string;
    if (c === '*' && normal[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') {
      re += '[^/]*';
    } else {
      re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

/** Parse a policy file's text; every problem is CONFIG_INVALID naming the file, line and field. */
export function parseTrustPolicy(text: string, file: string): TrustPolicy {
  if (text.length > MAX_POLICY_BYTES) fail('CONFIG_INVALID', `${file}: over ${MAX_POLICY_BYTES} bytes`);
  const { isNode, LineCounter, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  checkUniqueKeys(doc);
  const first = doc.errors[0];
  if (first) {
    const line = lines.linePos(first.pos[0]).line;
    fail('CONFIG_INVALID', `${file}:${line}: not valid YAML (${printable(first.message.split('\n')[0] ?? '', 200)})`);
  }
  const lineOf = (path: readonly (string | number)[]): number => {
    for (let p = [...path]; p.length >= 0; p = p.slice(0, -1)) {
      const node = p.length === 0 ? doc.contents : doc.getIn(p, true);
      if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
      if (p.length === 0) break;
    }
    return 1;
  };
  const bad = (path: readonly (string | number)[], what: string): never => {
    const field = path.length === 0 ? '(top level)' : formatPath(path);
    return fail('CONFIG_INVALID', `${file}:${lineOf(path)}: ${field}: ${what}`);
  };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 0 });
  } catch (err) {
    return fail('CONFIG_INVALID', `${file}: ${printable((err as Error).message, 200)}`);
  }
  if (!isObject(value)) return bad([], 'must be a mapping with version and repositories');
  for (const k of Object.keys(value)) if (!TOP_KEYS.has(k)) bad([k], 'unknown field');
  if (value.version !== 1) bad(['version'], 'must be 1');
  const repos = value.repositories;
  if (!Array.isArray(repos) || repos.length === 0) return bad(['repositories'], 'must be a non-empty list');
  const entries = repos.map((e, i): TrustEntry => {
    const at = ['repositories', i];
    if (!isObject(e)) return bad(at, 'must be a mapping with match and keys');
    for (const k of Object.keys(e)) if (!ENTRY_KEYS.has(k)) bad([...at, k], 'unknown field');
    if (typeof e.match !== 'string' || e.match === '') return bad([...at, 'match'], 'must be a repository pattern');
    const pattern = compilePattern(e.match, `${file}:${lineOf([...at, 'match'])}: repositories[${i}].match`);
    const keys = e.keys;
    if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string' && k.trim() !== '')) {
      return bad([...at, 'keys'], 'must be a non-empty list of public key files or PEM texts');
    }
    const att = e.attestations ?? [];
    if (!Array.isArray(att) || !att.every((a) => typeof a === 'string' && a !== '')) {
      return bad([...at, 'attestations'], 'must be a list of attestation types');
    }
    att.forEach((a, j) => {
      try {
        predicateTypeOf(a as string);
      } catch {
        bad([...at, 'attestations', j], `'${printable(a as string, 100)}' is neither assessment, cyclonedx nor a URI`);
      }
    });
    const policies = e.policies ?? [];
    const listed = Array.isArray(policies) && (e.policies === undefined || policies.length > 0);
    if (!listed || !policies.every((x) => typeof x === 'string' && x.trim() !== '')) {
      return bad([...at, 'policies'], 'must be a non-empty list of policy files or sha256: digests');
    }
    policies.forEach((x, j) => {
      if ((x as string).startsWith('sha256:') && !/^sha256:[0-9a-f]{64}$/.test(x as string)) {
        bad(
          [...at, 'policies', j],
          `'${printable(x as string, 100)}' is not a sha256: digest (64 lowercase hex digits)`,
        );
      }
    });
    return {
      match: e.match,
      keys: keys as string[],
      attestations: att as string[],
      policies: policies as string[],
      line: lineOf(at),
      pattern,
    };
  });
  return { file, entries };
}

/** The entry that governs a repository (any spelling `normalizeRepository` accepts), or undefined. */
export function findTrustEntry(policy: TrustPolicy, repository: string): TrustEntry | undefined {
  const name = normalizeRepository(repository);
  return policy.entries.find((e) => e.pattern.test(name));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function formatPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
