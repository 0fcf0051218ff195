import { lazyRequire } from '../../../util/lazy.js';
import { checkUniqueKeys } from '../../../util/yamlkeys.js';

const yaml = lazyRequire<typeof import('yaml')>('yaml');

/**
 * A YAML lockfile (pnpm-lock.yaml, yarn berry's yarn.lock) as plain data, or why it is not one. Duplicate keys are
 * refused through checkUniqueKeys, in linear time: the yaml library's own check made a lockfile of 40k entries take
 * 90 s.
 */
export function readLockYaml(text: string, what: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  const doc = yaml().parseDocument(text, { uniqueKeys: false, logLevel: 'error' });
  checkUniqueKeys(doc);
  const error = doc.errors[0];
  if (error) {
    const why = error.code === 'DUPLICATE_KEY' ? 'a duplicate key' : error.message.slice(0, 200);
    return { ok: false, reason: `${what} is not valid YAML: ${why}` };
  }
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (err) {
    return { ok: false, reason: `${what} is not valid YAML: ${(err as Error).message.slice(0, 200)}` };
  }
}
