import type { FileVersion, FsNode } from '../../image/filetree.js';

/** Every buffered version of a database file, bottom layer first, the current one last. */
export function versionsOf(node: FsNode): FileVersion[] {
  const current = node.content ? [{ layer: node.info.layer, content: node.content }] : [];
  return [...(node.history ?? []), ...current];
}

/**
 * The layer that introduced a package found in the current version of a database file: the
 * bottom-most version of the unbroken run of versions, ending at the current one, that lists it.
 * `present[i]` holds the keys listed by `versions[i]`.
 */
export function introducedIn(versions: readonly FileVersion[], present: readonly Set<string>[], key: string): number {
  let i = versions.length - 1;
  while (i > 0 && present[i - 1]?.has(key)) i--;
  return versions[i]?.layer ?? 0;
}
