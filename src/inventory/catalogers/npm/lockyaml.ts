import type { Node as YamlNode } from 'yaml';
import { lazyRequire } from '../../../util/lazy.js';

const yaml = lazyRequire<typeof import('yaml')>('yaml');

/**
 * A YAML lockfile (pnpm-lock.yaml, yarn berry's yarn.lock) as plain data, or why it is not one. The yaml library's
 * own duplicate-key check compares each key with every earlier one in its mapping, so a lockfile of 40k entries took
 * 90 s: it is off, and duplicates are found here with one set per mapping instead (linear), and still refused.
 */
export function readLockYaml(text: string, what: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  const lib = yaml();
  const doc = lib.parseDocument(text, { uniqueKeys: false, logLevel: 'error' });
  const error = doc.errors[0];
  if (error) return { ok: false, reason: `${what} is not valid YAML: ${error.message.slice(0, 200)}` };
  let duplicate: string | undefined;
  lib.visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = lib.isScalar(pair.key) ? pair.key.value : (pair.key as YamlNode | null)?.toString();
        if (seen.has(key)) {
          duplicate = String(key).slice(0, 120);
          return lib.visit.BREAK;
        }
        seen.add(key);
      }
      return undefined;
    },
  });
  if (duplicate !== undefined) return { ok: false, reason: `${what} is not valid YAML: duplicate key '${duplicate}'` };
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (err) {
    return { ok: false, reason: `${what} is not valid YAML: ${(err as Error).message.slice(0, 200)}` };
  }
}
