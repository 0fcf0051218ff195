import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMisconfigRules } from '../../src/checks/engine.js';
import { stepsFromHistory } from '../../src/checks/history.js';
import { DEFAULT_SETTINGS } from '../../src/checks/settings.js';
import { openOciLayout } from '../../src/oci/layout.js';
import { resolveImages } from '../../src/oci/source.js';

/**
 * The build rules on image history, as `scan` runs them when no Dockerfile is given: real images built by umoci whose
 * history entries carry the created_by text of the builders (classic docker, BuildKit, buildah, kaniko), one image
 * that triggers each rule and a twin that does not. Each is opened as an OCI layout and resolved as the product does.
 */
let tmp: string;
let layout: string;

const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: 'pipe' });

/** A real uncompressed layer tar from real files, written by GNU tar. */
function layerTar(name: string, files: Record<string, string>): string {
  const root = join(tmp, `${name}-root`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  const tar = join(tmp, `${name}.tar`);
  execFileSync('tar', ['--sort=name', '--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
  return tar;
}

interface Case {
  readonly tag: string;
  /** The build rules that must fire (exactly these); empty for a twin. */
  readonly rules: readonly string[];
  /** A layer made by this history entry... */
  readonly layer?: { readonly createdBy: string; readonly files: Record<string, string> };
  /** ...or a config change (an empty_layer entry). */
  readonly config?: { readonly createdBy: string; readonly args: readonly string[] };
}

const CASES: readonly Case[] = [
  {
    tag: 'update-alone',
    rules: ['apt-get-update-alone'],
    layer: {
      createdBy: '/bin/sh -c apt-get update',
      files: { 'var/lib/apt/lists/lock': '' },
    },
  },
  {
    tag: 'update-alone-twin',
    rules: [],
    layer: {
      createdBy:
        'RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/* # buildkit',
      files: { 'usr/bin/curl': 'ELF' },
    },
  },
  {
    tag: 'add-remote',
    rules: ['add-instead-of-copy'],
    layer: {
      createdBy: 'ADD https://github.com/krallin/tini/releases/download/v0.19.0/tini /tini # buildkit',
      files: { tini: 'ELF' },
    },
  },
  {
    tag: 'add-twin',
    rules: [],
    layer: {
      createdBy: 'ADD vendor.tar.gz /opt/vendor/ # buildkit',
      files: { 'opt/vendor/lib.so': 'ELF' },
    },
  },
  {
    tag: 'curl-pipe-sh',
    rules: ['unverified-install'],
    layer: {
      createdBy: 'RUN curl -fsSL https://deb.nodesource.com/setup_20.x | bash -',
      files: { 'etc/apt/sources.list.d/nodesource.list': 'deb https://deb.nodesource.com/node_20.x nodistro main\n' },
    },
  },
  {
    tag: 'tls-off-env',
    rules: ['unverified-install'],
    config: {
      createdBy: '/bin/sh -c #(nop)  ENV NODE_TLS_REJECT_UNAUTHORIZED=0',
      args: ['--config.env', 'NODE_TLS_REJECT_UNAUTHORIZED=0'],
    },
  },
  {
    tag: 'verified-twin',
    rules: [],
    layer: {
      createdBy:
        'RUN |1 NODE_SHA256=9d1ec4d5a6c0cfa3d8d6a3b5f0e8c5a7b9d1e3f5a7c9e1b3d5f7a9c1e3b5d7f9 /bin/sh -c curl -fsSLo /tmp/node.tar.xz https://nodejs.org/dist/v20.15.0/node-v20.15.0-linux-x64.tar.xz && echo "$NODE_SHA256  /tmp/node.tar.xz" | sha256sum -c - && tar -xJf /tmp/node.tar.xz -C /usr/local --strip-components=1 # buildkit',
      files: { 'usr/local/bin/node': 'ELF' },
    },
  },
  {
    tag: 'sudo',
    rules: ['sudo-usage'],
    layer: {
      createdBy: '/bin/sh -c sudo -E make -C /src install',
      files: { 'usr/local/bin/app': 'ELF' },
    },
  },
  {
    tag: 'sudo-twin',
    rules: [],
    layer: {
      createdBy: '/bin/sh -c apt-get update && apt-get install -y --no-install-recommends sudo',
      files: { 'usr/bin/sudo': 'ELF' },
    },
  },
  {
    tag: 'dist-upgrade',
    rules: ['apt-dist-upgrade'],
    layer: {
      createdBy: 'RUN /bin/sh -c apt-get update && apt-get -y dist-upgrade # buildkit',
      files: { 'var/lib/dpkg/status': '' },
    },
  },
  {
    tag: 'dist-upgrade-twin',
    rules: [],
    layer: {
      createdBy: 'RUN /bin/sh -c apt-get update && apt-get -y upgrade # buildkit',
      files: { 'var/lib/dpkg/status': '' },
    },
  },
  {
    tag: 'apk-cache',
    rules: ['apk-no-cache'],
    layer: {
      createdBy: '/bin/sh -c apk add curl',
      files: { 'var/cache/apk/APKINDEX.00000000.tar.gz': 'index' },
    },
  },
  {
    tag: 'apk-cache-twin',
    rules: [],
    layer: {
      createdBy: '/bin/sh -c apk add --no-cache curl',
      files: { 'usr/bin/curl': 'ELF' },
    },
  },
];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-build-rules-'));
  layout = join(tmp, 'layout');
  umoci('init', '--layout', layout);
  umoci('new', '--image', `${layout}:base`);
  const base = layerTar('base', { 'etc/os-release': 'ID=debian\nVERSION_ID="12"\n', 'bin/sh': 'ELF' });
  umoci(
    'raw',
    'add-layer',
    '--image',
    `${layout}:base`,
    '--history.created_by',
    '/bin/sh -c #(nop) ADD file:4b03b5f551e3fbdf47ec609712007327828f7530cc3455c43bbcdcaf449a75a9 in / ',
    base,
  );
  umoci(
    'config',
    '--image',
    `${layout}:base`,
    '--os',
    'linux',
    '--architecture',
    'amd64',
    '--config.cmd',
    'bash',
    '--history.created_by',
    '/bin/sh -c #(nop)  CMD ["bash"]',
  );
  for (const c of CASES) {
    if (c.layer) {
      const tar = layerTar(c.tag, c.layer.files);
      umoci(
        'raw',
        'add-layer',
        '--image',
        `${layout}:base`,
        '--tag',
        c.tag,
        '--history.created_by',
        c.layer.createdBy,
        tar,
      );
    } else if (c.config) {
      umoci(
        'config',
        '--image',
        `${layout}:base`,
        '--tag',
        c.tag,
        '--history.created_by',
        c.config.createdBy,
        ...c.config.args,
      );
    }
  }
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function findingsOf(tag: string) {
  const [image] = await resolveImages(openOciLayout(layout, tag));
  if (!image) throw new Error(`no image for ${tag}`);
  const steps = stepsFromHistory(image.config);
  const findings = runMisconfigRules(
    { build: { steps, from: 'history', settings: DEFAULT_SETTINGS } },
    { image: `oci:${layout}:${tag}`, diffIds: image.config.rootfs.diff_ids },
  );
  return { image, steps, findings };
}

describe('build rules on the history of real images', () => {
  it('reads the base image history as umoci wrote it: ADD of a content hash, then a metadata CMD', async () => {
    const { image, steps, findings } = await findingsOf('base');
    expect(image.config.history?.map((h) => [h.created_by, h.empty_layer ?? false])).toEqual([
      ['/bin/sh -c #(nop) ADD file:4b03b5f551e3fbdf47ec609712007327828f7530cc3455c43bbcdcaf449a75a9 in / ', false],
      ['/bin/sh -c #(nop)  CMD ["bash"]', true],
    ]);
    expect(steps.map((s) => [s.keyword, s.historyIndex, s.layer])).toEqual([
      ['ADD', 0, 0],
      ['CMD', 1, undefined],
    ]);
    expect(findings).toEqual([]);
  });

  it.each(CASES)('$tag: fires exactly $rules', async (c) => {
    const { image, steps, findings } = await findingsOf(c.tag);
    expect(findings.map((f) => f.ruleId).sort()).toEqual([...c.rules].sort());
    // No FROM in a history: latest-tag never reads anything here.
    expect(findings.some((f) => f.ruleId === 'latest-tag')).toBe(false);
    const last = steps[steps.length - 1];
    expect(last?.historyIndex).toBe(2);
    for (const f of findings) {
      if (c.layer) {
        // The finding points at the layer the entry made, with its diff_id from the real config.
        expect(f.location).toEqual({
          kind: 'image',
          image: `oci:${layout}:${c.tag}`,
          layer: 1,
          layerDiffId: image.config.rootfs.diff_ids[1],
        });
      } else {
        expect(f.location).toEqual({ kind: 'image', image: `oci:${layout}:${c.tag}` });
        expect(image.config.history?.[2]?.empty_layer).toBe(true);
      }
      expect(f.message).toMatch(/of history entry 2 /);
    }
  });
});
