import { printable } from '../errors.js';
import type { Collector } from '../image/collect.js';
import type { FileInfo, FileTree } from '../image/filetree.js';
import type { ImageInput, RuleHit } from './model.js';

/** The account files the image rules read (no leading slash, as the tree spells paths). */
export const ACCOUNT_FILES = ['etc/passwd', 'etc/shadow', 'etc/group', 'etc/gshadow'] as const;
export type AccountFile = (typeof ACCOUNT_FILES)[number];

/** Larger account files are not read: real ones are a few KiB, a hostile one must not cost memory. */
export const MAX_ACCOUNT_FILE_BYTES = 1024 * 1024;

const WANTED = new Set<string>(ACCOUNT_FILES);

/** Buffers the account files during the walk, for the password, user and group rules. */
export const checkFilesCollector: Collector = {
  name: 'image-checks',
  wants(info) {
    if (!WANTED.has(info.path) || (info.type !== 'file' && info.type !== 'hardlink')) return undefined;
    return { kind: 'buffer', maxBytes: MAX_ACCOUNT_FILE_BYTES };
  },
};

/** An account file as the rules see it: absent, present but unreadable (why), or its text and layer. */
export type AccountText =
  | { readonly kind: 'absent' }
  | { readonly kind: 'unreadable'; readonly reason: string; readonly layer: number }
  | { readonly kind: 'text'; readonly text: string; readonly layer: number };

/** Read one account file from the tree. A file the walk could not keep is `unreadable`, never `absent`. */
export function accountText(tree: FileTree, path: AccountFile): AccountText {
  const node = tree.lookup(path);
  if (!node || node.info.type === 'dir') return { kind: 'absent' };
  if (node.content) return { kind: 'text', text: node.content.toString('utf8'), layer: node.info.layer };
  const reason =
    node.missing ??
    (node.info.type === 'symlink'
      ? `a symbolic link to ${printable(node.info.linkname, 100)}, not read`
      : node.wantedBy?.includes(checkFilesCollector.name)
        ? 'its content was not kept'
        : 'it was not collected (the image-checks collector was not part of the walk)');
  return { kind: 'unreadable', reason, layer: node.info.layer };
}

/** One line of a colon-separated account file, with its 1-based line number. */
export interface AccountLine {
  readonly fields: readonly string[];
  readonly line: number;
}

/** Split an account file into its entries: comments, blank lines and NIS `+`/`-` lines are skipped. */
export function accountLines(text: string): AccountLine[] {
  const out: AccountLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).replace(/\r$/, '');
    if (raw === '' || raw.startsWith('#') || raw.startsWith('+') || raw.startsWith('-')) continue;
    out.push({ fields: raw.split(':'), line: i + 1 });
  }
  return out;
}

/** A numeric id field (uid, gid): decimal digits only, else undefined. */
export function idField(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,10}$/.test(v)) return undefined;
  return Number(v);
}

/** Users of /etc/passwd with a valid numeric uid and gid. */
export interface PasswdUser {
  readonly name: string;
  readonly password: string;
  readonly uid: number;
  readonly gid: number;
  readonly line: number;
}

export function parsePasswd(text: string): PasswdUser[] {
  const out: PasswdUser[] = [];
  for (const { fields, line } of accountLines(text)) {
    const uid = idField(fields[2]);
    const gid = idField(fields[3]);
    if (uid === undefined || gid === undefined) continue;
    out.push({ name: fields[0] as string, password: fields[1] ?? '', uid, gid, line });
  }
  return out;
}

/** Groups of /etc/group with a valid numeric gid. */
export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly line: number;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const { fields, line } of accountLines(text)) {
    const gid = idField(fields[2]);
    if (gid !== undefined) out.push({ name: fields[0] as string, gid, line });
  }
  return out;
}

/** Entries of /etc/shadow (or /etc/gshadow): the name and the password field as written. */
export interface ShadowEntry {
  readonly name: string;
  readonly password: string;
  readonly line: number;
}

export function parseShadow(text: string): ShadowEntry[] {
  return accountLines(text)
    .filter((l) => l.fields.length >= 2)
    .map(({ fields, line }) => ({ name: fields[0] as string, password: fields[1] as string, line }));
}

/** An account name or field for messages: image-controlled text, so made printable and short. */
export function shown(text: string): string {
  return printable(text, 64);
}

/** A hit for an account file that exists but could not be read: the rule cannot say it passed. */
export function unreadableHit(input: ImageInput, path: AccountFile, what: string): RuleHit[] {
  const t = accountText(input.tree, path);
  if (t.kind !== 'unreadable') return [];
  return [
    {
      message: `Cannot check ${what}: /${path} could not be read (${t.reason})`,
      path,
      layer: t.layer,
      severity: 'unknown',
    },
  ];
}

/** Ids shared by more than one name, in order of first appearance. */
export function sharedIds<T extends { name: string; line: number }>(entries: readonly T[], id: (e: T) => number) {
  const byId = new Map<number, T[]>();
  for (const e of entries) {
    const list = byId.get(id(e));
    if (list) list.push(e);
    else byId.set(id(e), [e]);
  }
  return [...byId.entries()].filter(([, list]) => list.length > 1);
}

/**
 * The metadata a path has once extracted (mode, owner). A hard link is the same inode as its target, so the
 * target's count, whatever the link's own tar header says.
 */
export function inodeInfo(tree: FileTree, info: FileInfo): FileInfo {
  if (info.type !== 'hardlink') return info;
  const target = tree.lookup(info.linkname);
  return target && target.info.type === 'file' ? target.info : info;
}
