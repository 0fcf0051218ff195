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
export const MAX_MERGE_WORK = 1_000_000;

type YamlNode = import('yaml').Node;
type YamlMap = import('yaml').YAMLMap;

/**
 * Merge keys (`<<`, YAML 1.1) are read two ways: by the yaml library an explicit key wins over a merged one wherever it
 * is written; by go-yaml v2 (kubectl, sigs.k8s.io/yaml) whichever comes later in the mapping wins, and of a list of
 * sources the first. So a mapping where a merge brings in a key the mapping set before it, or two `<<` entries give
 * one key different values, may not mean here what it means to the cluster: each such key is a DUPLICATE_KEY error,
 * at its `<<`, whose message (starting with MERGE_COLLISION) names it. Merges that bring only new keys are left alone.
 */
export function checkMergeKeys(doc: Document.Parsed): void {
  const Y = yaml();
  const merges = new MergeReader(doc);
  const found: InstanceType<typeof Y.YAMLParseError>[] = [];
  try {
    Y.visit(doc, {
      Map(_, map) {
        for (const c of merges.collisions(map)) {
          const at = (c.at as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
          found.push(new Y.YAMLParseError([at, at + 1], 'DUPLICATE_KEY', `${MERGE_COLLISION} ${c.message}`));
        }
      },
    });
  } catch (err) {
    if (err !== TOO_MUCH) throw err;
    found.push(
      new Y.YAMLParseError([0, 1], 'DUPLICATE_KEY', `${MERGE_COLLISION} merges bring in too many keys to check`),
    );
  }
  if (found.length === 0) return;
  doc.errors.push(...found);
  doc.errors.sort((a, b) => a.pos[0] - b.pos[0]);
}

/** Thrown when the merges of a document bring in more keys than MAX_MERGE_WORK: checked in every loop, so memory and time stay bounded. */
const TOO_MUCH = Symbol('too many merged keys');

/** Merge sources resolved through aliases, and each mapping's keys once its merges are applied, counted as work. */
class MergeReader {
  private work = 0;
  private readonly aliased: Map<unknown, YamlNode | undefined>;
  private readonly memo = new Map<YamlMap, Map<unknown, unknown>>();

  constructor(doc: Document.Parsed) {
    this.aliased = aliasTargets(doc);
  }

  private tick(): void {
    if (++this.work > MAX_MERGE_WORK) throw TOO_MUCH;
  }

  resolve(n: unknown): unknown {
    return yaml().isAlias(n) ? this.aliased.get(n) : n;
  }

  /** The mappings a `<<` value merges: one mapping, or a list of them (aliases resolved). */
  sources(v: unknown): YamlMap[] {
    const { isMap, isSeq } = yaml();
    const r = this.resolve(v);
    if (isMap(r)) return [r];
    return isSeq(r) ? r.items.map((x) => this.resolve(x)).filter((x): x is YamlMap => isMap(x)) : [];
  }

  /** The keys one `<<` brings in, with one value each: of a list of sources the first wins, for both readers. */
  mergedBy(value: unknown, open = new Set<YamlMap>()): Map<unknown, unknown> {
    const out = new Map<unknown, unknown>();
    for (const s of this.sources(value))
      for (const [k, v] of this.effective(s, open)) {
        this.tick();
        if (!out.has(k)) out.set(k, v);
      }
    return out;
  }

  /** The keys a mapping holds once its merges are applied, with one value each (sources are checked apart). */
  effective(map: YamlMap, open = new Set<YamlMap>()): Map<unknown, unknown> {
    const known = this.memo.get(map);
    if (known) return known;
    const out = new Map<unknown, unknown>();
    if (open.has(map)) return out; // an anchor merged into itself: the library refuses it when it reads the value
    open.add(map);
    for (const p of map.items) {
      this.tick();
      if (!isMergeKey(p.key)) out.set(keyOf(p.key), p.value);
      else
        for (const [k, v] of this.mergedBy(p.value, open)) {
          this.tick();
          if (!out.has(k)) out.set(k, v);
        }
    }
    open.delete(map);
    this.memo.set(map, out);
    return out;
  }

  /** Each key of a mapping that its merges make ambiguous, once, at the `<<` that brings it in. */
  collisions(map: YamlMap): { at: unknown; message: string }[] {
    if (!map.items.some((p) => isMergeKey(p.key))) return [];
    // go-yaml applies the mapping's entries in order, each `<<` overwriting what came before it; the yaml library
    // keeps an explicit key, and of two `<<` entries the first. They agree on keys set after a merge (the usual
    // `<<: *base` then overrides) and on the sources of one `<<` list (the first wins for both).
    const before = new Set<unknown>();
    const merged = new Map<unknown, unknown>();
    const out: { at: unknown; message: string }[] = [];
    const reported = new Set<unknown>();
    for (const p of map.items) {
      this.tick();
      if (!isMergeKey(p.key)) {
        before.add(keyOf(p.key));
        continue;
      }
      for (const [k, v] of this.mergedBy(p.value)) {
        this.tick();
        if (reported.has(k)) continue;
        const earlier = merged.has(k);
        const why = before.has(k)
          ? `brings in key '${shownKey(k)}', which this mapping sets before it: kubectl reads the merged value, this reader the other; set it once`
          : earlier && !sameValue(this.resolve(merged.get(k)), this.resolve(v))
            ? `brings in key '${shownKey(k)}', which an earlier << gives another value: kubectl reads the later, this reader the earlier; set it once`
            : undefined;
        if (why !== undefined) {
          reported.add(k);
          out.push({ at: p.key, message: why });
        } else if (!earlier) merged.set(k, v);
      }
    }
    return out;
  }
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
function sameValue(x: unknown, y: unknown): boolean {
  const { isScalar } = yaml();
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
