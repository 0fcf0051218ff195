/**
 * Records keyed by text read from input (a workflow's `env:` names, a licence, an os-release ID). On an ordinary
 * object `__proto__` set as a key replaces the prototype instead of adding an entry (which then hides from
 * Object.entries), and `constructor` or `toString` looked up reads Object's function.
 */

/** An empty record with no prototype: every key, `__proto__` included, is an entry like any other. */
export function emptyRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** A prototype-less copy of `from`, for adding entries read from input. */
export function copyRecord<T>(from: Readonly<Record<string, T>>): Record<string, T> {
  return Object.assign(emptyRecord<T>(), from);
}

/** `table[key]` for a fixed table, own keys only. */
export function lookup<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
