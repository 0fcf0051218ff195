import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMisconfigRules } from '../../src/checks/engine.js';
import { checkFilesCollector } from '../../src/checks/files.js';
import type { ImageInput } from '../../src/checks/model.js';
import { type CheckSettings, DEFAULT_SETTINGS } from '../../src/checks/settings.js';
import type { Finding } from '../../src/findings/finding.js';
import type { FileTree } from '../../src/image/filetree.js';
import type { Contents } from '../../src/inventory/build.js';
import { inventoryImage } from '../../src/inventory/image.js';
import { openOciLayout } from '../../src/oci/layout.js';
import { resolveImages } from '../../src/oci/source.js';
import { type LayerEntry, makeTar } from '../helpers/layers.js';
import { LayoutWriter } from '../helpers/oci.js';
import { bookwormRootfs } from '../helpers/paths.js';

/**
 * Every image rule on real images built by umoci: a "good" image that no rule flags, and for each rule a variant of
 * it with one change (a umoci config flag or one more layer) that the rule, and only the rule, flags. A bookworm image
 * from the debootstrap rootfs is held against `find` for its setuid files. Each image is opened as an OCI layout and
 * walked by inventoryImage, as the product walks it.
 */
const NOW = new Date('2025-06-01T00:00:00Z');
const BASE_NAME = 'org.opencontainers.image.base.name';
const SETTINGS: CheckSettings = {
  ...DEFAULT_SETTINGS,
  maxImageAgeDays: 30,
  approvedRegistries: ['registry.example.com'],
};

let tmp: string;
let layout: string;

const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: 'pipe' });

async function layerFile(name: string, entries: LayerEntry[]): Promise<string> {
  const file = join(tmp, `${name}.tar`);
  writeFileSync(file, await makeTar(entries));
  return file;
}

/**
 * umoci has no flag for Healthcheck (and drops it when it rewrites a config), so the test writes it into the config
 * blob itself: a new config, a new manifest, and the tag's index entry pointed at it.
 */
function setHealthcheck(tag: string, test: string[]): void {
  const blobs = new LayoutWriter(layout);
  const indexPath = join(layout, 'index.json');
  const index = JSON.parse(readFileSync(indexPath, 'utf8'));
  const entry = index.manifests.find(
    (m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === tag,
  );
  const read = (digest: string) => JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)), 'utf8'));
  const manifest = read(entry.digest);
  const config = read(manifest.config.digest);
  config.config = { ...config.config, Healthcheck: { Test: test, Interval: 30_000_000_000 } };
  manifest.config = blobs.blob(JSON.stringify(config), manifest.config.mediaType);
  const desc = blobs.blob(JSON.stringify(manifest), entry.mediaType);
  Object.assign(entry, { digest: desc.digest, size: desc.size });
  writeFileSync(indexPath, JSON.stringify(index));
}

const PASSWD =
  'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\napp:x:1000:1000::/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\ndaemon:x:1:\nshadow:x:42:\napp:x:1000:\n';
const SHADOW = 'root:*:20000:0:99999:7:::\ndaemon:*:20000:0:99999:7:::\napp:!:20000::::::\n';
const GSHADOW = 'root:*::\ndaemon:*::\nshadow:*::\napp:!::\n';
const stanza = (name: string, version: string) =>
  `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n`;
const STATUS = stanza('base-files', '12.4+deb12u10');

/** One more layer (or one config change) on top of the good image, and the rules it must trigger. */
interface Variant {
  readonly tag: string;
  readonly rules: readonly string[];
  readonly layer?: LayerEntry[];
  readonly config?: string[];
  /** The variant keeps the good image's health check unless told otherwise. */
  readonly healthcheck?: false;
}

const VARIANTS: readonly Variant[] = [
  { tag: 'root-user', rules: ['root-user'], config: ['--config.user', '0'] },
  {
    // A second name for uid 0 is also a duplicate uid: both rules must say so.
    tag: 'root-by-passwd',
    rules: ['root-user', 'duplicate-uid'],
    config: ['--config.user', 'admin'],
    layer: [{ path: 'etc/passwd', content: `${PASSWD}admin:x:0:1000::/root:/bin/sh\n` }],
  },
  { tag: 'no-healthcheck', rules: ['no-healthcheck'], healthcheck: false },
  { tag: 'ssh-port', rules: ['ssh-port-exposed', 'privileged-port'], config: ['--config.exposedports', '22/tcp'] },
  { tag: 'privileged-port', rules: ['privileged-port'], config: ['--config.exposedports', '443/tcp'] },
  {
    tag: 'setuid',
    rules: ['setuid-setgid'],
    layer: [{ path: 'usr/local/bin/helper', content: 'ELF', mode: 0o4755 }],
  },
  {
    tag: 'world-writable',
    rules: ['world-writable'],
    layer: [{ path: 'etc/app.conf', content: 'listen=8080\n', mode: 0o666 }],
  },
  {
    tag: 'package-cache',
    rules: ['package-cache'],
    layer: [
      {
        path: 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages',
        content: stanza('curl', '7.88.1-10+deb12u12'),
      },
      { path: 'root/.cache/pip/http-v2/a/b/c', content: 'cached wheel' },
    ],
  },
  {
    tag: 'empty-password',
    rules: ['empty-password'],
    layer: [{ path: 'etc/shadow', content: SHADOW.replace('root:*:', 'root::'), mode: 0o640, gid: 42 }],
  },
  {
    tag: 'weak-hash',
    rules: ['weak-password-hash'],
    layer: [
      {
        path: 'etc/shadow',
        content: SHADOW.replace('app:!:', 'app:$1$saltsalt$qjXMvbEw8oaL.CzflDugX/:'),
        mode: 0o640,
        gid: 42,
      },
    ],
  },
  {
    tag: 'duplicate-uid',
    rules: ['duplicate-uid'],
    layer: [{ path: 'etc/passwd', content: `${PASSWD}web:x:1000:1000::/srv:/bin/sh\n` }],
  },
  {
    tag: 'duplicate-gid',
    rules: ['duplicate-gid'],
    layer: [{ path: 'etc/group', content: `${GROUP}staff:x:1000:\n` }],
  },
  {
    tag: 'unnecessary-package',
    rules: ['unnecessary-package'],
    layer: [{ path: 'var/lib/dpkg/status', content: `${STATUS}\n${stanza('openssh-server', '1:9.2p1-2+deb12u5')}` }],
  },
  { tag: 'too-old', rules: ['image-too-old'], config: ['--created', '2020-01-01T00:00:00Z'] },
  { tag: 'no-created', rules: ['image-too-old'], config: ['--created', '1970-01-01T00:00:00Z'] },
  {
    tag: 'base-not-approved',
    rules: ['base-image-not-approved'],
    config: ['--config.label', `${BASE_NAME}=docker.io/library/debian:12`],
  },
];

async function findingsOf(tag: string): Promise<{ findings: Finding[]; tree: FileTree }> {
  const source = openOciLayout(layout, tag);
  try {
    const [resolved] = await resolveImages(source);
    if (!resolved) throw new Error(`no image at ${tag}`);
    let seen: { tree: FileTree; contents: Contents } | undefined;
    const inv = await inventoryImage(resolved, {
      collectors: [checkFilesCollector],
      inspect: (tree, contents) => {
        seen = { tree, contents };
      },
    });
    if (!seen) throw new Error('inspect was not called');
    const input: ImageInput = {
      subject: inv.subject,
      config: resolved.config,
      tree: seen.tree,
      os: seen.contents.os,
      packages: seen.contents.packages,
      settings: SETTINGS,
      now: NOW,
    };
    const findings = runMisconfigRules(
      { image: input },
      { image: `oci:${tag}`, diffIds: resolved.config.rootfs.diff_ids },
    );
    return { findings, tree: seen.tree };
  } finally {
    await source.close();
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-image-rules-'));
  layout = join(tmp, 'layout');
  umoci('init', '--layout', layout);
  umoci('new', '--image', `${layout}:base`);
  const base = await layerFile('base', [
    { path: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n' },
    { path: 'etc/passwd', content: PASSWD },
    { path: 'etc/group', content: GROUP },
    { path: 'etc/shadow', content: SHADOW, mode: 0o640, gid: 42 },
    { path: 'etc/gshadow', content: GSHADOW, mode: 0o640, gid: 42 },
    { path: 'var/lib/dpkg/status', content: STATUS },
    { path: 'usr/bin/app', content: 'ELF', mode: 0o755 },
    { path: 'tmp', dir: true, mode: 0o1777 },
    { path: 'var/tmp', dir: true, mode: 0o1777 },
    { path: 'var/lib/apt/lists/partial', dir: true, mode: 0o700 },
    { path: 'var/lib/apt/lists/lock', content: '', mode: 0o640 },
    { path: 'home/app', dir: true, mode: 0o755, uid: 1000, gid: 1000 },
  ]);
  umoci('raw', 'add-layer', '--image', `${layout}:base`, base);
  umoci(
    'config',
    '--image',
    `${layout}:base`,
    '--os',
    'linux',
    '--architecture',
    'amd64',
    '--config.user',
    'app',
    '--config.exposedports',
    '8080/tcp',
    '--config.label',
    `${BASE_NAME}=registry.example.com/base/debian:12`,
    '--created',
    '2025-05-20T00:00:00Z',
  );
  umoci('tag', '--image', `${layout}:base`, 'good');
  setHealthcheck('good', ['CMD', '/usr/bin/app', '--health']);
  for (const v of VARIANTS) {
    let from = 'base';
    if (v.layer) {
      umoci('raw', 'add-layer', '--image', `${layout}:${from}`, '--tag', v.tag, await layerFile(v.tag, v.layer));
      from = v.tag;
    }
    if (v.config) umoci('config', '--image', `${layout}:${from}`, '--tag', v.tag, ...v.config);
    else if (!v.layer) umoci('tag', '--image', `${layout}:${from}`, v.tag);
    if (v.healthcheck !== false) setHealthcheck(v.tag, ['CMD', '/usr/bin/app', '--health']);
  }
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('image rules on real umoci images', () => {
  it('the good image triggers no rule', async () => {
    const { findings } = await findingsOf('good');
    expect(findings.map((f) => `${f.ruleId}: ${f.message}`)).toEqual([]);
  });

  it.each(VARIANTS.map((v) => [v.tag, v] as const))('%s: one change triggers exactly its rules', async (_, v) => {
    const { findings } = await findingsOf(v.tag);
    expect([...new Set(findings.map((f) => f.ruleId))].sort()).toEqual([...v.rules].sort());
  });

  it('findings name what and where: the layer the variant added, with its diff_id', async () => {
    const setuid = (await findingsOf('setuid')).findings;
    expect(setuid).toHaveLength(1);
    expect(setuid[0]?.message).toBe('/usr/local/bin/helper is setuid (owner uid 0), mode 4755');
    expect(setuid[0]?.location).toMatchObject({ kind: 'image', layer: 1, path: 'usr/local/bin/helper' });
    expect(setuid[0]?.location.kind === 'image' && setuid[0].location.layerDiffId).toMatch(/^sha256:[0-9a-f]{64}$/);

    const pkg = (await findingsOf('unnecessary-package')).findings;
    expect(pkg.map((f) => [f.message, f.severity])).toEqual([
      ['openssh-server 1:9.2p1-2+deb12u5 (deb) is installed, introduced in layer 1 (/var/lib/dpkg/status)', 'medium'],
    ]);

    const cache = (await findingsOf('package-cache')).findings.map((f) => f.message);
    expect(cache).toEqual([
      'Layer 1 leaves 1 file (1 KiB) of apt package lists in /var/lib/apt/lists',
      'Layer 1 leaves 1 file (1 KiB) of pip cache in ~/.cache/pip',
    ]);

    const old = (await findingsOf('too-old')).findings;
    expect(old.map((f) => [f.message, f.severity])).toEqual([
      ['The image was created 2020-01-01T00:00:00Z, 1978 days ago: older than the 30 days allowed', 'medium'],
    ]);
    const epoch = (await findingsOf('no-created')).findings;
    expect(epoch.map((f) => f.severity)).toEqual(['low']);

    const base = (await findingsOf('base-not-approved')).findings.map((f) => f.message);
    expect(base).toEqual([
      `The base image docker.io/library/debian (label ${BASE_NAME}) is not from an approved registry (registry.example.com)`,
    ]);
    const ssh = (await findingsOf('ssh-port')).findings.map((f) => f.message).sort();
    expect(ssh).toEqual([
      'The image exposes privileged port 22/tcp (below 1024)',
      'The image exposes the SSH port (22/tcp)',
    ]);
  });
});

describe('a bookworm image from the debootstrap rootfs', () => {
  let rootfs: string;
  let result: { findings: Finding[]; tree: FileTree };

  beforeAll(async () => {
    rootfs = bookwormRootfs();
    const tar = join(tmp, 'bookworm.tar');
    execFileSync('tar', [
      '--sort=name',
      '--numeric-owner',
      '-C',
      rootfs,
      '-cf',
      tar,
      '--exclude=./var/cache/apt/archives/*.deb',
      '--exclude=./.complete',
      '--exclude=./dev/*',
      '--exclude=./proc/*',
      '--exclude=./sys/*',
      '.',
    ]);
    umoci('new', '--image', `${layout}:bookworm`);
    umoci('raw', 'add-layer', '--image', `${layout}:bookworm`, tar);
    umoci(
      'config',
      '--image',
      `${layout}:bookworm`,
      '--os',
      'linux',
      '--architecture',
      'amd64',
      '--created',
      '2025-05-25T00:00:00Z',
    );
    rmSync(tar);
    result = await findingsOf('bookworm');
  });

  const find = (...args: string[]) =>
    execFileSync('find', args, { cwd: rootfs, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((p) => p.replace(/^\.\//, ''))
      .sort();
  const of = (rule: string) => result.findings.filter((f) => f.ruleId === rule);

  it("reports exactly the setuid and setgid files `find -perm /6000 -type f` lists, from Debian's own packages", () => {
    const oracle = find('.', '-perm', '/6000', '-type', 'f');
    expect(oracle.length).toBeGreaterThan(5);
    const hits = of('setuid-setgid');
    expect(hits.map((f) => (f.location.kind === 'image' ? f.location.path : '')).sort()).toEqual(oracle);
    expect(new Set(hits.map((f) => f.severity))).toEqual(new Set(['low']));
    expect(hits.find((f) => f.location.kind === 'image' && f.location.path === 'usr/bin/su')?.message).toBe(
      '/usr/bin/su is setuid (owner uid 0), mode 4755',
    );
  });

  it('flags the root user, the missing health check and the apt lists; account files agree with awk', () => {
    expect(of('root-user').map((f) => f.message)).toEqual(['The image runs as root: the config sets no User']);
    expect(of('no-healthcheck')).toHaveLength(1);
    const lists = find('var/lib/apt/lists', '-maxdepth', '1', '-type', 'f', '-size', '+0', '!', '-name', 'lock');
    expect(lists.length).toBeGreaterThan(0);
    expect(of('package-cache').map((f) => f.message)).toEqual([
      expect.stringMatching(
        new RegExp(`^Layer 0 leaves ${lists.length} files \\(.*\\) of apt package lists in /var/lib/apt/lists$`),
      ),
    ]);
    const awk = (prog: string, file: string) =>
      execFileSync('awk', ['-F:', prog, join(rootfs, file)], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
    expect(of('empty-password')).toHaveLength(awk('$2 == ""', 'etc/shadow').length);
    expect(of('duplicate-uid')).toHaveLength(new Set(awk('seen[$3]++ == 1 { print $3 }', 'etc/passwd')).size);
    expect(of('duplicate-gid')).toHaveLength(new Set(awk('seen[$3]++ == 1 { print $3 }', 'etc/group')).size);
    const worldWritable = find(
      'etc',
      'usr',
      'var',
      'boot',
      '-perm',
      '-0002',
      '!',
      '-type',
      'l',
      '!',
      '(',
      '-type',
      'd',
      '-perm',
      '-1000',
      ')',
    ).filter((p) => !p.startsWith('var/tmp/'));
    expect(of('world-writable').map((f) => (f.location.kind === 'image' ? f.location.path : ''))).toEqual(
      worldWritable,
    );
    // No user, no health check, no base name; a recent created time, no listed package.
    expect([...new Set(result.findings.map((f) => f.ruleId))].sort()).toEqual([
      'base-image-not-approved',
      'no-healthcheck',
      'package-cache',
      'root-user',
      'setuid-setgid',
    ]);
  });
});
