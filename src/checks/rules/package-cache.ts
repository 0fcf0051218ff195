import type { ImageInput, MisconfigRule, RuleHit } from '../model.js';

/** A package manager's cache: what it is called, and which files of it count. */
interface Cache {
  readonly what: string;
  readonly dir: string;
  readonly test: RegExp;
}

// Paths as the tree spells them (no leading slash); only non-empty regular files count.
const CACHES: readonly Cache[] = [
  // apt itself keeps `lock` and the `partial/` download area: they are not cache.
  { what: 'apt package lists', dir: '/var/lib/apt/lists', test: /^var\/lib\/apt\/lists\/(?!lock$|partial\/)[^/]+$/ },
  { what: 'downloaded .deb files', dir: '/var/cache/apt/archives', test: /^var\/cache\/apt\/archives\/[^/]+\.deb$/ },
  { what: 'apt package caches', dir: '/var/cache/apt', test: /^var\/cache\/apt\/[^/]+\.bin$/ },
  { what: 'apk cache', dir: '/var/cache/apk', test: /^var\/cache\/apk\/.+/ },
  { what: 'yum cache', dir: '/var/cache/yum', test: /^var\/cache\/yum\/.+/ },
  { what: 'dnf cache', dir: '/var/cache/dnf', test: /^var\/cache\/dnf\/.+/ },
  { what: 'pip cache', dir: '~/.cache/pip', test: /^(?:root|home\/[^/]+)\/\.cache\/pip\/.+/ },
  { what: 'npm cache', dir: '~/.npm/_cacache', test: /^(?:root|home\/[^/]+)\/\.npm\/_cacache\/.+/ },
];

function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
    : `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}

function checkImage(input: ImageInput): RuleHit[] {
  // One hit per cache and layer: the layer is where the cleanup belongs (a later `rm` does not shrink it).
  const found = new Map<string, { cache: Cache; layer: number; files: number; bytes: number; first: string }>();
  for (const { info } of input.tree.nodes()) {
    if (info.type !== 'file' || info.size === 0 || !/^(?:var|root|home)\//.test(info.path)) continue;
    const cache = CACHES.find((c) => c.test.test(info.path));
    if (!cache) continue;
    const key = `${cache.what}\0${info.layer}`;
    const f = found.get(key);
    if (f) {
      f.files++;
      f.bytes += info.size;
      if (info.path < f.first) f.first = info.path;
    } else found.set(key, { cache, layer: info.layer, files: 1, bytes: info.size, first: info.path });
  }
  return [...found.values()]
    .sort((a, b) => a.layer - b.layer || CACHES.indexOf(a.cache) - CACHES.indexOf(b.cache))
    .map((f) => ({
      message: `Layer ${f.layer} leaves ${f.files} file${f.files === 1 ? '' : 's'} (${sizeText(f.bytes)}) of ${f.cache.what} in ${f.cache.dir}`,
      path: f.first,
      layer: f.layer,
    }));
}

export const packageCache: MisconfigRule = {
  id: 'package-cache',
  kind: 'misconfiguration',
  title: 'Package manager cache left in the image',
  severity: 'low',
  dockle: 'DKL-DI-0005',
  rationale:
    'Package indexes and downloaded packages make the image larger and carry stale repository metadata that scanners and later installs may trust; nothing at run time needs them.',
  remediation:
    'Clean up in the same RUN that installs: `apt-get install ... && rm -rf /var/lib/apt/lists/*`, `apk add --no-cache`, `dnf clean all`, `pip install --no-cache-dir`, `npm ci && npm cache clean --force` (or use cache mounts).',
  checkImage,
};
