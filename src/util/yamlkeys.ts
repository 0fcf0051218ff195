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

/** How a merge-key collision's message starts (callers tell it from the library's plain duplicate key). */
export const MERGE_COLLISION = 'merge key (<<)';

/** Key comparisons the merge check may make per document; past it the document is refused (a merge bomb). */
export const MAX_MERGE_WORK = 2_000_000;

type YamlNode = import('yaml').Node;
type YamlMap = import('yaml').YAMLMap;

/**
 * Merge keys (`<<`, YAML 1.1) are read two ways: by the yaml library an explicit key wins over a merged one wherever it
 * is written; by go-yaml v2 (kubectl, sigs.k8s.io/yaml) whichever comes later in the mapping wins, and of a list of
 * sources the first. So a mapping where a merged key meets an explicit key of the same name, or two merge sources give
 * one key different values, may not mean here what it means to the cluster: each such key is a DUPLICATE_KEY error,
 * at its `<<`, whose message (starting with MERGE_COLLISION) names it. Merges that bring only new keys are left alone.
 */
export function checkMergeKeys(doc: Document.Parsed): void {
  const Y = yaml();
  const aliased = aliasTargets(doc);
  const resolve = (n: unknown): unknown => (Y.isAlias(n) ? aliased.get(n) : n);
  const memo = new Map<YamlMap, Map<unknown, unknown>>();
  const found: InstanceType<typeof Y.YAMLParseError>[] = [];
  let work = 0;
  const sourcesOf = (v: unknown): YamlMap[] => {
    const r = resolve(v);
    if (Y.isMap(r)) return [r];
    return Y.isSeq(r) ? r.items.map(resolve).filter((x): x is YamlMap => Y.isMap(x)) : [];
  };
  // The keys a mapping holds once its merges are applied (any one value of each: the sources are checked apart).
  const effective = (map: YamlMap, open: Set<YamlMap>): Map<unknown, unknown> => {
    const known = memo.get(map);
    if (known) return known;
    const out = new Map<unknown, unknown>();
    if (open.has(map)) return out; // an anchor merged into itself: the library refuses it when it reads the value
    open.add(map);
    for (const p of map.items) {
      work++;
      if (!isMergeKey(p.key)) out.set(keyOf(p.key), p.value);
      else
        for (const s of sourcesOf(p.value))
          for (const [k, v] of effective(s, open)) {
            work++;
            if (!out.has(k)) out.set(k, v);
          }
    }
    open.delete(map);
    memo.set(map, out);
    return out;
  };
  const collide = (at: unknown, key: unknown, why: string) => {
    const start = (at as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
    found.push(
      new Y.YAMLParseError(
        [start, start + 1],
        'DUPLICATE_KEY',
        `${MERGE_COLLISION} ${why.replace('%k', shownKey(key))}`,
      ),
    );
  };
  Y.visit(doc, {
    Map(_, map) {
      if (work > MAX_MERGE_WORK) return Y.visit.BREAK;
      const merges = map.items.filter((p) => isMergeKey(p.key));
      if (merges.length === 0) return undefined;
      const explicit = new Set(map.items.filter((p) => !isMergeKey(p.key)).map((p) => keyOf(p.key)));
      const merged = new Map<unknown, unknown>();
      const reported = new Set<unknown>();
      for (const p of merges)
        for (const s of sourcesOf(p.value))
          for (const [k, v] of effective(s, new Set())) {
            work++;
            if (reported.has(k)) continue;
            if (explicit.has(k)) {
              reported.add(k);
              collide(
                p.key,
                k,
                "brings in key '%k', which this mapping also sets: kubectl may read either value; set it once",
              );
            } else if (merged.has(k) && !sameValue(merged.get(k), v, resolve)) {
              reported.add(k);
              collide(p.key, k, "sources give key '%k' different values: kubectl may read either; set it once");
            } else if (!merged.has(k)) merged.set(k, v);
          }
      return undefined;
    },
  });
  if (work > MAX_MERGE_WORK)
    found.push(
      new Y.YAMLParseError(
        [0, 1],
        'DUPLICATE_KEY',
        `${MERGE_COLLISION} merges bring in too many keys to check (over ${MAX_MERGE_WORK})`,
      ),
    );
  if (found.length === 0) return;
  doc.errors.push(...found);
  doc.errors.sort((a, b) => a.pos[0] - b.pos[0]);
}

/** A `<<` key as the library's YAML 1.1 schema reads it (plain, not quoted). */
function isMergeKey(key: unknown): boolean {
  const { isScalar } = yaml();
  if (!isScalar(key) || (key.type !== undefined && key.type !== 'PLAIN')) return false;
  const v = key.value;
  return v === '<<' || (typeof v === 'symbol' && v.description === '<<');
}

/** As checkUniqueKeys compares keys: scalars by value, any other key only with itself. */
function keyOf(key: unknown): unknown {
  return yaml().isScalar(key) ? key.value : key;
}

function shownKey(k: unknown): string {
  return typeof k === 'string' || typeof k === 'number' || typeof k === 'boolean' || k === null
    ? String(k).slice(0, 100)
    : '(a complex key)';
}

/** The same node, or scalars of equal value; anything else counts as different (the check fails closed). */
function sameValue(a: unknown, b: unknown, resolve: (n: unknown) => unknown): boolean {
  const { isScalar } = yaml();
  const x = resolve(a);
  const y = resolve(b);
  return x === y || (isScalar(x) && isScalar(y) && x.value === y.value);
}

/** Each alias's node, as the library resolves it (the last anchor of its name before it), in one pass. */
function aliasTargets(doc: Document.Parsed): Map<unknown, YamlNode | undefined> {
  const { isAlias, visit } = yaml();
  const anchors = new Map<string, YamlNode>();
  const out = new Map<unknown, YamlNode | undefined>();
  visit(doc, {
    Node(_, node) {
      if (isAlias(node)) out.set(node, anchors.get(node.source));
      else if (typeof node.anchor === 'string') anchors.set(node.anchor, node);
    },
  });
  return out;
}
