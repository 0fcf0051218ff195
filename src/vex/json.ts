import { type ErrorCode, fail, printable } from '../errors.js';

/** Reading untrusted JSON with the path of every value at hand, so each refusal names file and JSON path. */
export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `$.a.b[2]["@id"]`: JSONPath-style, bracket-quoted where a key is not an identifier. */
export function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(printable(key, 60))}]`;
}

/** A short, printable rendering of a value for messages. */
export function shown(v: unknown): string {
  if (typeof v === 'string') return `'${printable(v, 80)}'`;
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : printable(String(v), 40);
}

/** Field readers bound to one file: each throws `code` (VEX_INVALID unless told) naming the file and the path. */
export class JsonReader {
  constructor(
    readonly file: string,
    readonly code: ErrorCode = 'VEX_INVALID',
  ) {}

  fail(path: string, what: string): never {
    fail(this.code, `${this.file}: ${path}: ${what}`);
  }

  object(v: unknown, path: string): Json {
    if (!isObject(v)) this.fail(path, `expected an object, found ${shown(v)}`);
    return v;
  }

  /**
   * Refuse a key the format does not define: a misspelt key (`subcomponets`, `version` for `versions`) would
   * otherwise be ignored and leave the statement wider than its author wrote it.
   */
  knownKeys(o: Json, path: string, keys: ReadonlySet<string>): void {
    for (const k of Object.keys(o)) {
      if (!keys.has(k)) this.fail(at(path, k), `unknown key (expected one of ${[...keys].join(', ')})`);
    }
  }

  array(v: unknown, path: string, max: number): unknown[] {
    if (!Array.isArray(v)) this.fail(path, `expected an array, found ${shown(v)}`);
    if (v.length > max) this.fail(path, `more than ${max} entries`);
    return v;
  }

  optArray(v: unknown, path: string, max: number): unknown[] {
    return v === undefined ? [] : this.array(v, path, max);
  }

  string(v: unknown, path: string): string {
    if (typeof v !== 'string' || v.trim() === '') this.fail(path, `expected a non-empty string, found ${shown(v)}`);
    if (v.length > MAX_STRING) this.fail(path, `string longer than ${MAX_STRING} characters`);
    return v;
  }

  optString(v: unknown, path: string): string | undefined {
    return v === undefined ? undefined : this.string(v, path);
  }

  /** RFC 3339 date-time, as both formats require. */
  optTime(v: unknown, path: string): string | undefined {
    if (v === undefined) return undefined;
    const s = this.string(v, path);
    if (!RFC3339.test(s) || Number.isNaN(Date.parse(s))) this.fail(path, `${shown(s)} is not an RFC 3339 date-time`);
    return s;
  }

  oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
    const s = this.string(v, path);
    if (!(allowed as readonly string[]).includes(s)) this.fail(path, `${shown(s)} is not one of ${allowed.join(', ')}`);
    return s as T;
  }
}

const MAX_STRING = 64 * 1024;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
