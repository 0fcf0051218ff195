import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import schema from '../../schemas/policy.schema.json' with { type: 'json' };
import { printable } from '../errors.js';
import { lazyRequire } from '../util/lazy.js';

const require = createRequire(import.meta.url);

const ajvModule = lazyRequire<typeof import('ajv')>('ajv');

/** The published schema (schemas/policy.schema.json), the one source of what a policy may hold. */
export const POLICY_SCHEMA = schema;

const compiled = new WeakMap<object, ValidateFunction>();

/** Ajv's settings for every config schema; scripts/bundle.mjs compiles the published schemas with the same. */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: true, strictRequired: false };

/** What a built validator must carry to be used for `schema`: it was compiled from this schema with these settings. */
export function schemaFingerprint(schema: object): string {
  return createHash('sha256')
    .update(JSON.stringify({ options: AJV_OPTIONS, schema }))
    .digest('hex');
}

/**
 * A schema's validator: the one the build compiled (dist/validators/, beside the bundled CLI) when its fingerprint
 * says it was compiled from this schema with these settings, else compiled here once per process (~20-80 ms; most
 * runs have no config file).
 */
function validator(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = precompiled(schema);
    if (!v) {
      const { Ajv } = ajvModule();
      v = new Ajv(AJV_OPTIONS).compile(schema);
    }
    compiled.set(schema, v);
  }
  return v;
}

function precompiled(schema: object): ValidateFunction | undefined {
  const id = (schema as { $id?: unknown }).$id;
  const name = typeof id === 'string' ? /([\w.-]+)\.json$/.exec(id)?.[1] : undefined;
  if (!name) return undefined;
  const file = fileURLToPath(new URL(`./validators/${name}.cjs`, import.meta.url));
  if (!existsSync(file)) return undefined;
  const mod = require(file) as ValidateFunction & { fingerprint?: string };
  return mod.fingerprint === schemaFingerprint(schema) ? mod : undefined;
}

/** A schema problem: where (JSON path, and the key when it is an unknown key) and what. */
export interface SchemaProblem {
  readonly path: readonly string[];
  readonly key?: string;
  readonly message: string;
}

/** Validate a parsed policy against the schema; each problem is one readable sentence. */
export function validatePolicySchema(value: unknown): SchemaProblem[] {
  return validateWithSchema(POLICY_SCHEMA, value);
}

/** Validate a parsed config file against one of the published schemas; each problem is one readable sentence. */
export function validateWithSchema(schema: object, value: unknown): SchemaProblem[] {
  const validate = validator(schema);
  if (validate(value)) return [];
  return describe(validate.errors ?? [], value);
}

function pointer(p: string): string[] {
  if (p === '') return [];
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function show(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `'${printable(v, 60)}'`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return printable(String(v), 60);
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  boolean: 'true or false',
  integer: 'a whole number',
  number: 'a number',
  null: 'null',
};

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

function suggestion(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : distance(key, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  if (best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 4))) return ` (did you mean '${best}'?)`;
  return known.length > 0 && known.length <= 12 ? ` (expected one of: ${known.join(', ')})` : '';
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let v = root;
  for (const s of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[s];
  }
  return v;
}

function message(e: ErrorObject, data: unknown): string {
  const p = e.params as Record<string, unknown>;
  const parent = e.parentSchema as { title?: string; pattern?: string } | undefined;
  switch (e.keyword) {
    case 'required':
      return `missing required key '${String(p.missingProperty)}'`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')} (got ${show(data)})`;
    case 'const':
      return `must be '${String(p.allowedValue)}' (got ${show(data)})`;
    case 'type':
      return `must be ${TYPE_WORDS[String(p.type)] ?? String(p.type)} (got ${show(data)})`;
    case 'pattern':
      return `must be ${parent?.title ?? `text matching ${String(p.pattern)}`} (got ${show(data)})`;
    case 'minLength':
      return 'must not be empty';
    case 'maxLength':
      return `must be at most ${String(p.limit)} characters long`;
    case 'minItems':
      return `must list at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`;
    case 'maxItems':
      return `must list at most ${String(p.limit)} items`;
    case 'minProperties':
      return 'must not be empty';
    case 'minimum':
      return `must be at least ${String(p.limit)} (got ${show(data)})`;
    default:
      return printable(e.message ?? e.keyword, 120);
  }
}

function describe(errors: readonly ErrorObject[], root: unknown): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  // anyOf branches say the same thing several times; keep the anyOf itself, phrased from its branches.
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf').map((e) => `${e.schemaPath}/`);
  for (const e of errors) {
    if (e.keyword === 'if') continue;
    if (anyOfs.some((a) => e.schemaPath.startsWith(a))) continue;
    const path = pointer(e.instancePath);
    const data = valueAt(root, path);
    if (e.keyword === 'additionalProperties') {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
      out.push({ path: [...path, key], key, message: `unknown key '${printable(key, 60)}'${suggestion(key, known)}` });
      continue;
    }
    if (e.keyword === 'anyOf') {
      const branches = (e.schema as { required?: string[] }[]) ?? [];
      const keys = branches.flatMap((b) => b.required ?? []);
      const msg =
        keys.length === branches.length
          ? `needs at least one of ${keys.map((k) => `'${k}'`).join(', ')}`
          : printable(e.message ?? 'does not match', 120);
      out.push({ path, message: msg });
      continue;
    }
    out.push({ path, message: message(e, data) });
  }
  return out;
}
