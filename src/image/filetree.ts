import { isDeepStrictEqual } from 'node:util';
import { fail } from '../errors.js';
import type { EntryType } from './tar.js';

/** Metadata of one path in the image, with the index of the layer that last wrote it. */
export interface FileInfo {
  readonly path: string;
  readonly type: EntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly linkname: string;
  readonly layer: number;
}

/** One version of a buffered file: its bytes and the layer that wrote them. */
export interface FileVersion {
  readonly layer: number;
  readonly content: Buffer;
}

/** A node in the merged file system. Content and analyses exist only for paths some cataloger asked for. */
export interface FsNode {
  info: FileInfo;
  children?: Map<string, FsNode>;
  content?: Buffer;
  /** Results of streaming analyses, keyed by cataloger name. */
  analyses?: Map<string, unknown>;
  /** Earlier versions of this file in lower layers, kept when a cataloger asked for history. */
  history?: FileVersion[];
  /** Set when a cataloger wanted the content but it could not be kept (too large, hardlink target not kept). */
  missing?: string;
  /** Set with `missing` when a content limit (--max-file-size, --max-content-total) is why, not the image. */
  overLimit?: true;
  /** Names of the collectors that asked for this path during the walk. */
  wantedBy?: readonly string[];
  /**
   * For a hardlink whose target an earlier entry of the same layer wrote: that entry, as it was when the link was
   * read (a later entry of the layer may replace the path; the link still names the file it was made to).
   */
  linkTarget?: FsNode;
  /**
   * The bottom layer of the unbroken run of identical versions of this wanted file that ends at this one, when a
   * lower one was rewritten unchanged (`chown -R`, a repeated COPY): the layer that introduced what it describes.
   */
  since?: number;
}

/** The layer that introduced a wanted file's content: the lowest of its unchanged rewrites, else its own. */
export function introducedLayer(node: FsNode): number {
  return node.since ?? node.info.layer;
}

/** Whether two versions of a wanted file hold the same thing, by what was kept of them (bytes, analyses). */
function sameKept(a: FsNode, b: FsNode): boolean {
  if (a.content === undefined && a.analyses === undefined) return false; // nothing kept: nothing to compare
  if ((a.content === undefined) !== (b.content === undefined)) return false;
  if (a.content && b.content && !a.content.equals(b.content)) return false;
  return isDeepStrictEqual(a.analyses, b.analyses);
}

/**
 * A path a layer writes (or whites out) below a symbolic link of the tree. Docker's overlay2 replaces the link
 * with a directory (what Portcullis models); containerd follows the link and writes at `alternative`.
 */
export interface Ambiguity {
  readonly path: string;
  readonly link: string;
  readonly alternative: string | undefined;
  readonly info: FileInfo;
}

/** What one layer changes: entries added or replaced, paths whited out, directories made opaque. */
export interface LayerChanges {
  readonly index: number;
  readonly entries: Map<string, FsNode>;
  readonly whiteouts: string[];
  readonly opaques: string[];
  /** Paths that want history for their content; versions of these are kept when overwritten. */
  readonly keepHistory: Set<string>;
}

/** The error code of a fatal unknown for a node whose content is missing: CONTENT_LIMIT when a limit is why. */
export function missingCode(node: FsNode): { code?: 'CONTENT_LIMIT' } {
  return node.overLimit ? { code: 'CONTENT_LIMIT' } : {};
}

export function newLayerChanges(index: number): LayerChanges {
  return { index, entries: new Map(), whiteouts: [], opaques: [], keepHistory: new Set() };
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const MAX_SYMLINK_HOPS = 40; // Linux's MAXSYMLINKS

/** Classify a layer path: a whiteout of a lower path, an opaque marker for a directory, or a plain entry. */
export function whiteoutTarget(path: string): { kind: 'whiteout' | 'opaque'; target: string } | undefined {
  const slash = path.lastIndexOf('/');
  const base = path.slice(slash + 1);
  if (!base.startsWith(WHITEOUT)) return undefined;
  const dir = slash >= 0 ? path.slice(0, slash) : '';
  if (base === OPAQUE) return { kind: 'opaque', target: dir };
  // ref: image-spec layer.md#whiteouts; other `.wh..wh.` names are aufs metadata, not whiteouts.
  if (base.startsWith(`${WHITEOUT}${WHITEOUT}`)) return { kind: 'whiteout', target: '' };
  const name = base.slice(WHITEOUT.length);
  return { kind: 'whiteout', target: dir ? `${dir}/${name}` : name };
}

/** A walk-wide count of entries and name bytes kept (see TreeBudget in collect.ts): `take` throws past the limit. */
export interface NodeBudget {
  take(nameBytes: number, where: string): void;
}

function dirInfo(path: string, layer: number): FileInfo {
  return { path, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0, linkname: '', layer };
}

/**
 * The merged file system of an image: layers are applied bottom-up with whiteouts, opaque
 * directories and hardlinks handled as the OCI layer spec describes. Symlinks resolve inside the
 * image only: `..` stops at the root and absolute targets start at the image root, as in a chroot.
 */
export class FileTree {
  readonly root: FsNode = { info: dirInfo('', 0), children: new Map() };
  private fileCount = 0;
  /** Where the layer being applied is named in messages. */
  private where = '';

  /**
   * `budget` counts the directories the tree makes for parents a layer did not list (a layer of deep, distinct
   * paths would otherwise make thousands of nodes per entry), with the walk's entries; it throws past its limit.
   */
  constructor(private readonly budget?: NodeBudget) {}

  /** Number of non-directory entries currently in the tree. */
  get size(): number {
    return this.fileCount;
  }

  /** Apply one layer's changes on top of the tree (`where` names the layer in messages). Layers must be applied in order. */
  apply(changes: LayerChanges, where = `layer ${changes.index}`): void {
    this.where = where;
    this.lastParent = undefined;
    this.wantedIndex = undefined;
    // Whiteouts hide lower-layer content only, so they go first; entries of the same layer then land.
    for (const w of changes.whiteouts) this.remove(w, changes.index);
    for (const d of changes.opaques) {
      const node = this.lookup(d);
      if (node?.children) {
        for (const child of node.children.values()) this.countRemoved(child);
        node.children.clear();
      }
    }
    for (const node of changes.entries.values()) {
      if (node.info.type === 'hardlink') this.linkContent(node);
      this.put(node, changes);
    }
  }

  private linkContent(node: FsNode): void {
    // Not in this layer before the link: a lower layer's file (entries are applied in tar order, so a same-layer
    // replacement listed after the link is not in the tree yet).
    let target = node.linkTarget ?? this.lookup(node.info.linkname);
    delete node.linkTarget;
    // A link to a same-layer link that a later entry replaced (so it was never applied): follow it to its file.
    for (let hops = 0; target?.info.type === 'hardlink' && !target.content && !target.analyses && hops < 8; hops++) {
      target = target.linkTarget ?? this.lookup(target.info.linkname);
    }
    if (!target) return;
    if (target.info.type === 'symlink') {
      // link(2) on a symlink names the symlink itself (no AT_SYMLINK_FOLLOW): this path is that symlink too.
      node.info = { ...node.info, type: 'symlink', linkname: target.info.linkname };
      delete node.missing;
      delete node.overLimit;
      return;
    }
    if (target.content) node.content = target.content;
    if (target.analyses) node.analyses = target.analyses;
    // A hardlink is the same file: whoever wanted the target's content wants the link's too.
    if (target.wantedBy) node.wantedBy = [...new Set([...(node.wantedBy ?? []), ...target.wantedBy])];
    if (node.missing && (target.content || target.analyses)) {
      delete node.missing;
      delete node.overLimit;
    } else if (target.missing && (node.missing === undefined || target.overLimit)) {
      // A link to a file over a content limit is missing for that reason, not for being a link.
      node.missing = target.missing;
      if (target.overLimit) node.overLimit = true;
    }
  }

  private countRemoved(node: FsNode): void {
    const stack = [node]; // iterative: a hostile layer can nest thousands of directories
    while (stack.length > 0) {
      const n = stack.pop() as FsNode;
      if (n.info.type !== 'dir') this.fileCount--;
      if (n.children) for (const c of n.children.values()) stack.push(c);
    }
  }

  private remove(path: string, layer: number): void {
    if (path === '') return;
    const slash = path.lastIndexOf('/');
    const parentPath = slash >= 0 ? path.slice(0, slash) : '';
    const linkPrefix = this.symlinkPrefix(parentPath);
    if (linkPrefix !== undefined) {
      // A whiteout below a symlink: hides nothing under overlay semantics, the link's target under containerd's.
      this.noteAmbiguity(linkPrefix, path, { ...dirInfo(path, layer), type: 'file' });
      return;
    }
    const parent = this.lookup(parentPath);
    const name = path.slice(slash + 1);
    const node = parent?.children?.get(name);
    if (node && parent?.children) {
      this.countRemoved(node);
      parent.children.delete(name);
    }
  }

  /** The parent directory of the last put: tar entries come grouped by directory, so most lookups hit it. */
  private lastParent: { key: string; dir: FsNode; prefix: string } | undefined;

  private parentOf(path: string, changes: LayerChanges, info: FileInfo): { dir: FsNode; prefix: string } {
    const slash = path.lastIndexOf('/');
    const key = slash >= 0 ? path.slice(0, slash) : '';
    if (this.lastParent?.key === key) return this.lastParent;
    let dir = this.root;
    let prefix = '';
    if (key !== '') {
      for (const part of key.split('/')) {
        prefix = prefix ? `${prefix}/${part}` : part;
        let next = dir.children?.get(part);
        if (next?.info.type === 'symlink') this.noteAmbiguity(prefix, path, info);
        if (next?.info.type !== 'dir') {
          // Overlay semantics (Docker's overlay2, the kernel's view of layer diffs): a directory in an upper
          // layer replaces a lower non-directory, symlinks included. containerd instead follows the symlink.
          if (next) this.countRemoved(next);
          this.budget?.take(Buffer.byteLength(prefix), this.where);
          next = { info: dirInfo(prefix, changes.index), children: new Map() };
          dir.children?.set(part, next);
        }
        dir = next;
      }
    }
    this.lastParent = { key, dir, prefix };
    return this.lastParent;
  }

  /** Paths written below a symbolic link: runtimes disagree on where they land (see `ambiguities`). */
  readonly ambiguities: Ambiguity[] = [];

  private noteAmbiguity(linkPath: string, path: string, info: FileInfo): void {
    if (this.ambiguities.length >= 1000) return; // enough to fail the image; resolving more only costs time
    const real = this.resolveQuiet(linkPath);
    const alternative = real ? `${real.path ? `${real.path}/` : ''}${path.slice(linkPath.length + 1)}` : undefined;
    this.ambiguities.push({ path, link: linkPath, alternative, info });
  }

  private put(node: FsNode, changes: LayerChanges): void {
    const { dir, prefix } = this.parentOf(node.info.path, changes, node.info);
    const slash = node.info.path.lastIndexOf('/');
    const name = node.info.path.slice(slash + 1);
    const realPath = prefix ? `${prefix}/${name}` : name;
    if (realPath !== node.info.path) node.info = { ...node.info, path: realPath };
    const old = dir.children?.get(name);
    // Replacing a directory or a symlink can detach or redirect the cached parent.
    if (old && (old.children || old.info.type === 'symlink')) this.lastParent = undefined;
    if (node.info.type === 'dir') {
      if (old?.info.type === 'dir') {
        old.info = node.info; // a directory entry over a directory updates metadata, keeps children
        return;
      }
      node.children = new Map();
    } else {
      this.fileCount++;
    }
    if (old) {
      this.countRemoved(old);
      if (node.wantedBy && old.info.type !== 'dir' && sameKept(node, old)) node.since = introducedLayer(old);
      if (old.content && changes.keepHistory.has(node.info.path)) {
        node.history = [...(old.history ?? []), { layer: old.info.layer, content: old.content }];
      }
    }
    dir.children?.set(name, node);
  }

  /** The first proper prefix of `path` that is a symlink in the tree, if any. */
  private symlinkPrefix(path: string): string | undefined {
    let node: FsNode | undefined = this.root;
    let prefix = '';
    for (const part of path.split('/')) {
      if (part === '') continue;
      prefix = prefix ? `${prefix}/${part}` : part;
      node = node?.children?.get(part);
      if (!node) return undefined;
      if (node.info.type === 'symlink') return prefix;
    }
    return undefined;
  }

  /** The node at `path` without following symlinks in any component. */
  lookup(path: string): FsNode | undefined {
    if (path === '' || path === '/') return this.root;
    let node: FsNode | undefined = this.root;
    for (const part of path.split('/')) {
      if (part === '') continue;
      node = node?.children?.get(part);
      if (!node) return undefined;
    }
    return node;
  }

  /**
   * Resolve `path` following symlinks inside the image (and the final one when `followFinal`).
   * Returns the node and its real path, undefined when it does not exist; throws SYMLINK_LOOP.
   */
  resolve(path: string, followFinal = true): { node: FsNode; path: string } | undefined {
    let hops = 0;
    let stack = path.split('/').filter((p) => p !== '' && p !== '.');
    const real: FsNode[] = [this.root];
    const names: string[] = [];
    while (stack.length > 0) {
      const part = stack.shift() as string;
      if (part === '..') {
        if (real.length > 1) {
          real.pop();
          names.pop();
        }
        continue;
      }
      const parent = real[real.length - 1] as FsNode;
      const child = parent.children?.get(part);
      if (!child) return undefined;
      if (child.info.type === 'symlink' && (stack.length > 0 || followFinal)) {
        if (++hops > MAX_SYMLINK_HOPS) fail('SYMLINK_LOOP', `symbolic-link loop while resolving /${path} in the image`);
        const target = child.info.linkname;
        const rest = target.split('/').filter((p) => p !== '' && p !== '.');
        if (target.startsWith('/')) {
          real.length = 1;
          names.length = 0;
        }
        stack = [...rest, ...stack];
        continue;
      }
      real.push(child);
      names.push(part);
    }
    return { node: real[real.length - 1] as FsNode, path: names.join('/') };
  }

  private resolveQuiet(path: string): { node: FsNode; path: string } | undefined {
    try {
      return this.resolve(path);
    } catch {
      return undefined;
    }
  }

  private wantedIndex: Map<string, FsNode[]> | undefined;

  /**
   * The nodes of the final tree that a collector asked for during the walk, so each cataloger looks
   * at its own few files instead of walking every path. Built on first use, after all layers applied.
   */
  wanted(collector: string): readonly FsNode[] {
    if (!this.wantedIndex) {
      const index = new Map<string, FsNode[]>();
      for (const node of this.nodes()) {
        for (const name of node.wantedBy ?? []) {
          const list = index.get(name);
          if (list) list.push(node);
          else index.set(name, [node]);
        }
      }
      this.wantedIndex = index;
    }
    return this.wantedIndex.get(collector) ?? [];
  }

  /** Every node in the tree (depth first, children in insertion order). */
  *nodes(): Generator<FsNode> {
    const stack: FsNode[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop() as FsNode;
      if (node !== this.root) yield node;
      if (node.children) for (const c of node.children.values()) stack.push(c);
    }
  }
}
