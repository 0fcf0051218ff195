import type { Collector } from '../image/collect.js';
import type { FileTree } from '../image/filetree.js';
import type { OsRelease } from './model.js';

/**
 * Operating-system detection. os-release is authoritative (ref: freedesktop os-release(5));
 * the distribution-specific files fill in for images that lack it or carry a finer version.
 */
const OS_FILES = [
  'etc/os-release',
  'usr/lib/os-release',
  'etc/alpine-release',
  'etc/debian_version',
  'etc/redhat-release',
  'etc/system-release',
  'etc/centos-release',
  'etc/lsb-release',
];

export const osCollector: Collector = {
  name: 'os-release',
  wants: (info) => (OS_FILES.includes(info.path) && info.size < 64 * 1024 ? { kind: 'buffer' } : undefined),
};

/** Parse os-release's shell-like `KEY="value"` assignments. */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    if (!/^[A-Z0-9_]+$/.test(key)) continue;
    let value = line.slice(eq + 1);
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\([$"`\\])/g, '$1');
    }
    out.set(key, value);
  }
  return out;
}

/** Content of an OS file; a symlink loop on one throws, and the caller records the OS as unreadable. */
function text(tree: FileTree, path: string): string | undefined {
  return tree.resolve(path)?.node.content?.toString('utf8');
}

/** Detect the OS of the merged tree; undefined for scratch images and bare binaries. */
export function detectOs(tree: FileTree): OsRelease | undefined {
  let fromOsRelease: OsRelease | undefined;
  for (const path of ['etc/os-release', 'usr/lib/os-release']) {
    const t = text(tree, path);
    if (t === undefined) continue;
    const kv = parseOsRelease(t);
    const id = kv.get('ID')?.toLowerCase();
    if (!id) continue;
    const versionId = kv.get('VERSION_ID');
    const codename = kv.get('VERSION_CODENAME');
    const pretty = kv.get('PRETTY_NAME');
    const idLike = kv.get('ID_LIKE')?.split(/\s+/).filter(Boolean);
    fromOsRelease = {
      id,
      ...(versionId ? { versionId } : {}),
      ...(codename ? { versionCodename: codename } : {}),
      ...(pretty ? { prettyName: pretty } : {}),
      ...(idLike?.length ? { idLike } : {}),
      ...(pretty?.toLowerCase().includes('distroless') ? { distroless: true } : {}),
      source: path,
    };
    break;
  }
  const alpine = text(tree, 'etc/alpine-release')?.trim();
  if (alpine && (!fromOsRelease || fromOsRelease.id === 'alpine')) {
    // alpine-release carries the full x.y.z; os-release on old Alpine only has x.y.
    return { ...(fromOsRelease ?? { id: 'alpine', source: 'etc/alpine-release' }), id: 'alpine', versionId: alpine };
  }
  if (fromOsRelease) {
    // Debian testing/sid have no VERSION_ID; debian_version then says e.g. "trixie/sid".
    if (fromOsRelease.id === 'debian' && !fromOsRelease.versionId) {
      const dv = text(tree, 'etc/debian_version')?.trim();
      if (dv && /^\d+(\.\d+)*$/.test(dv)) return { ...fromOsRelease, versionId: dv.split('.')[0] as string };
    }
    return fromOsRelease;
  }
  const debian = text(tree, 'etc/debian_version')?.trim();
  if (debian) {
    const major = /^(\d+)/.exec(debian)?.[1];
    return { id: 'debian', ...(major ? { versionId: major } : {}), source: 'etc/debian_version' };
  }
  for (const path of ['etc/system-release', 'etc/redhat-release', 'etc/centos-release']) {
    const t = text(tree, path)?.trim();
    if (!t) continue;
    const version = /release\s+(\d+(?:\.\d+)*)/i.exec(t)?.[1];
    const id = /amazon/i.test(t)
      ? 'amzn'
      : /centos/i.test(t)
        ? 'centos'
        : /rocky/i.test(t)
          ? 'rocky'
          : /alma/i.test(t)
            ? 'almalinux'
            : /fedora/i.test(t)
              ? 'fedora'
              : /oracle/i.test(t)
                ? 'ol'
                : 'rhel';
    return { id, ...(version ? { versionId: version } : {}), prettyName: t, source: path };
  }
  const lsb = text(tree, 'etc/lsb-release');
  if (lsb) {
    const kv = parseOsRelease(lsb);
    const id = kv.get('DISTRIB_ID')?.toLowerCase();
    const ver = kv.get('DISTRIB_RELEASE');
    if (id) return { id, ...(ver ? { versionId: ver } : {}), source: 'etc/lsb-release' };
  }
  return undefined;
}
