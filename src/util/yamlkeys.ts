import type { Document } from 'yaml';
import { lazyRequire } from './lazy.js';

const yaml = lazyRequire<typeof import('yaml')>('yaml');

/**
 * The duplicate-key check of the yaml library's `uniqueKeys: true`, in linear time. The library compares each key of
 * a mapping with every earlier one, so a hostile file of 100k keys in one mapping takes minutes; parse with
 * `uniqueKeys: false` and call this on each document: it adds the same DUPLICATE_KEY error ('Map keys must be
 * unique', at the repeated key) using one set of scalar keys per mapping, and keeps the errors in source order.
 */
export function checkUniqueKeys(doc: Document.Parsed): void {
  const { isScalar, visit, YAMLParseError } = yaml();
  const found: InstanceType<typeof YAMLParseError>[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        // As the library compares: scalars by value, any other key only with itself.
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) {
          const at = (pair.key as { range?: [number, number, number] } | null)?.range?.[0] ?? map.range?.[0] ?? 0;
          found.push(new YAMLParseError([at, at + 1], 'DUPLICATE_KEY', 'Map keys must be unique'));
        }
        seen.add(key);
      }
    },
  });
  if (found.length === 0) return;
  doc.errors.push(...found);
  doc.errors.sort((a, b) => a.pos[0] - b.pos[0]);
}
