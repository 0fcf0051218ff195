import { type FsNode, introducedLayer, missingCode } from '../../image/filetree.js';
import type { CatalogContext, Cataloger, Package } from '../model.js';
import { distroQualifier, purl } from '../purl.js';
import { introducedIn, versionsOf } from './history.js';

/**
 * dpkg: /var/lib/dpkg/status (and distroless `status.d/` stanza files). A package counts as present
 * when its files are on disk (installed, half-configured, unpacked, ...), not in `config-files` or
 * `not-installed` state. Licences come from machine-readable /usr/share/doc/<pkg>/copyright.
 */
const STATUS = 'var/lib/dpkg/status';
const STATUS_D = 'var/lib/dpkg/status.d/';
const COPYRIGHT = /^usr\/share\/doc\/([^/]+)\/copyright$/;
const PRESENT_STATES = new Set([
  'installed',
  'half-configured',
  'unpacked',
  'half-installed',
  'triggers-awaited',
  'triggers-pending',
]);

/** One stanza of a dpkg database, keys as written. */
export type Stanza = Map<string, string>;

/** Parse deb822 stanzas (ref: deb822(5)); continuation lines are joined with newlines. */
export function parseStanzas(text: string): Stanza[] {
  const out: Stanza[] = [];
  let cur: Stanza = new Map();
  let lastKey: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (cur.size > 0) out.push(cur);
      cur = new Map();
      lastKey = undefined;
      continue;
    }
    if ((line[0] === ' ' || line[0] === '\t') && lastKey) {
      cur.set(lastKey, `${cur.get(lastKey)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    lastKey = line.slice(0, colon);
    cur.set(lastKey, line.slice(colon + 1).trim());
  }
  if (cur.size > 0) out.push(cur);
  return out;
}

export interface DpkgEntry {
  readonly name: string;
  readonly version: string;
  readonly arch: string;
  readonly sourceName: string;
  readonly sourceVersion: string;
  readonly maintainer?: string;
  readonly installedSize?: number;
}

/** Entries of a status file whose files are on disk. */
export function parseDpkgStatus(text: string): DpkgEntry[] {
  const out: DpkgEntry[] = [];
  for (const s of parseStanzas(text)) {
    const name = s.get('Package');
    const version = s.get('Version');
    if (!name || !version) continue;
    const status = s.get('Status');
    // Distroless status.d files carry no Status field: every stanza there is installed.
    if (status !== undefined && !PRESENT_STATES.has(status.split(/\s+/)[2] ?? '')) continue;
    const src = s.get('Source');
    const m = src ? /^(\S+)(?:\s+\(([^)]+)\))?/.exec(src) : null;
    const size = s.get('Installed-Size');
    const maintainer = s.get('Maintainer');
    out.push({
      name,
      version,
      arch: s.get('Architecture') ?? '',
      sourceName: m?.[1] ?? name,
      sourceVersion: m?.[2] ?? version,
      ...(maintainer ? { maintainer } : {}),
      ...(size && /^\d+$/.test(size) ? { installedSize: Number(size) } : {}),
    });
  }
  return out;
}

/** Licences of a DEP-5 copyright file: the distinct short names of its `License:` fields. */
export function parseCopyrightLicenses(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/^License:[ \t]*(\S[^\n]*)$/gm)) {
    const name = (m[1] as string).trim();
    if (name && name.length < 100) out.add(name);
  }
  return [...out];
}

const key = (e: DpkgEntry): string => `${e.name}\0${e.arch}\0${e.version}`;

/**
 * The text of a package database file (the status file, or one of distroless status.d), or undefined after a fatal
 * unknown when it cannot be read as one: not kept (over --max-file-size or the content budget), not a regular file,
 * or text with no stanza that names a package and a version. Each would leave packages out of the SBOM unseen.
 */
function readable(ctx: CatalogContext, node: FsNode): string | undefined {
  const { path, layer } = node.info;
  if (node.missing || !node.content) {
    const why = node.missing ?? `is a ${node.info.type}, not a regular file`;
    ctx.unknown({ path, layer, message: `dpkg database ${why}`, fatal: true, ...missingCode(node) });
    return undefined;
  }
  const text = node.content.toString('utf8');
  if (text.trim() !== '' && !parseStanzas(text).some((s) => s.get('Package') && s.get('Version'))) {
    ctx.unknown({
      path,
      layer,
      message: 'dpkg database is not in the status format (no Package and Version)',
      fatal: true,
    });
    return undefined;
  }
  return text;
}

export const dpkgCataloger: Cataloger = {
  name: 'dpkg',
  version: 1,
  tags: ['os'],
  wants(info) {
    if (info.path === STATUS) return { kind: 'buffer', history: true };
    if (info.path.startsWith(STATUS_D) && !info.path.endsWith('.md5sums')) return { kind: 'buffer' };
    if (COPYRIGHT.test(info.path) && info.size < 1024 * 1024) return { kind: 'buffer' };
    return undefined;
  },
  catalog(ctx: CatalogContext): Package[] {
    const found: { entry: DpkgEntry; path: string; layer: number }[] = [];
    const status = ctx.tree.lookup(STATUS);
    const text = status && readable(ctx, status);
    if (status && text !== undefined) {
      const versions = versionsOf(status);
      const parsed = versions.map((v) => new Set(parseDpkgStatus(v.content.toString('utf8')).map(key)));
      for (const entry of parseDpkgStatus(text)) {
        found.push({ entry, path: STATUS, layer: introducedIn(versions, parsed, key(entry)) });
      }
    }
    const dir = ctx.tree.lookup(STATUS_D.slice(0, -1));
    for (const node of dir?.children?.values() ?? []) {
      if (node.info.path.endsWith('.md5sums')) continue;
      const part = readable(ctx, node);
      if (part === undefined) continue;
      for (const entry of parseDpkgStatus(part)) {
        found.push({ entry, path: node.info.path, layer: introducedLayer(node) });
      }
    }
    const distro = distroQualifier(ctx.os);
    const namespace = ctx.os?.id === 'ubuntu' ? 'ubuntu' : 'debian';
    return found.map(({ entry, path, layer }) => {
      const licenses = licensesFor(ctx, entry.name);
      const upstream = entry.sourceName !== entry.name || entry.sourceVersion !== entry.version;
      return {
        name: entry.name,
        version: entry.version,
        type: 'deb',
        purl: purl('deb', namespace, entry.name, entry.version, {
          arch: entry.arch,
          distro,
          upstream: upstream
            ? entry.sourceVersion !== entry.version
              ? `${entry.sourceName}@${entry.sourceVersion}`
              : entry.sourceName
            : undefined,
        }),
        source: { name: entry.sourceName, version: entry.sourceVersion },
        ...(entry.arch ? { arch: entry.arch } : {}),
        licenses,
        locations: [{ path, layer }],
        layer,
        foundBy: 'dpkg',
        metadata: {
          ...(entry.maintainer ? { maintainer: entry.maintainer } : {}),
          ...(entry.installedSize !== undefined ? { installedSize: entry.installedSize } : {}),
        },
      };
    });
  },
};

function licensesFor(ctx: CatalogContext, name: string): string[] {
  let node: FsNode | undefined;
  try {
    node = ctx.tree.resolve(`usr/share/doc/${name}/copyright`)?.node;
  } catch {
    return [];
  }
  return node?.content ? parseCopyrightLicenses(node.content.toString('utf8')) : [];
}
