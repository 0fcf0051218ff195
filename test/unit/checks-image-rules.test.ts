import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseChecksConfig } from '../../src/checks/config.js';
import { runMisconfigRules } from '../../src/checks/engine.js';
import {
  accountLines,
  checkFilesCollector,
  MAX_ACCOUNT_FILE_BYTES,
  parseGroup,
  parsePasswd,
  parseShadow,
} from '../../src/checks/files.js';
import type { BuildInput, ImageInput, Instruction, MisconfigRule, RuleHit } from '../../src/checks/model.js';
import { exposedPorts } from '../../src/checks/ports.js';
import { baseImageNotApproved } from '../../src/checks/rules/base-image-not-approved.js';
import { duplicateGid } from '../../src/checks/rules/duplicate-gid.js';
import { duplicateUid } from '../../src/checks/rules/duplicate-uid.js';
import { emptyPassword } from '../../src/checks/rules/empty-password.js';
import { imageTooOld } from '../../src/checks/rules/image-too-old.js';
import { MISCONFIG_RULES } from '../../src/checks/rules/index.js';
import { noHealthcheck } from '../../src/checks/rules/no-healthcheck.js';
import { packageCache } from '../../src/checks/rules/package-cache.js';
import { privilegedPort } from '../../src/checks/rules/privileged-port.js';
import { rootUser } from '../../src/checks/rules/root-user.js';
import { setuidSetgid } from '../../src/checks/rules/setuid-setgid.js';
import { sshPortExposed } from '../../src/checks/rules/ssh-port-exposed.js';
import { unnecessaryPackage } from '../../src/checks/rules/unnecessary-package.js';
import { weakPasswordHash } from '../../src/checks/rules/weak-password-hash.js';
import { worldWritable } from '../../src/checks/rules/world-writable.js';
import { type CheckSettings, DEFAULT_SETTINGS } from '../../src/checks/settings.js';
import { catalogTree, collectorsFor } from '../../src/inventory/build.js';
import { dpkgCataloger } from '../../src/inventory/catalogers/dpkg.js';
import type { ImageConfig } from '../../src/oci/manifest.js';
import { type LayerEntry, walkTestLayers } from '../helpers/layers.js';
import { ROOT } from '../helpers/paths.js';

type Cfg = NonNullable<ImageConfig['config']>;

const NOW = new Date('2025-06-01T00:00:00Z');

/** An ImageInput from hand-made layers walked for real, with the dpkg cataloger for packages. */
async function image(
  layers: LayerEntry[][],
  opts: {
    config?: Cfg;
    created?: string;
    settings?: Partial<CheckSettings>;
    annotations?: Record<string, string>;
  } = {},
): Promise<ImageInput> {
  const { tree } = await walkTestLayers(layers, [checkFilesCollector, ...collectorsFor([dpkgCataloger])]);
  const contents = catalogTree(tree, [dpkgCataloger]);
  return {
    subject: {
      kind: 'image',
      source: 'oci:test',
      layers: layers.map((_, index) => ({ index })),
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
    },
    config: {
      architecture: 'amd64',
      os: 'linux',
      ...(opts.created !== undefined ? { created: opts.created } : {}),
      config: opts.config ?? {},
      rootfs: { type: 'layers', diff_ids: [] },
    },
    tree,
    os: contents.os,
    packages: contents.packages,
    settings: { ...DEFAULT_SETTINGS, ...opts.settings },
    now: NOW,
  };
}

const check = (rule: MisconfigRule, input: ImageInput): RuleHit[] => rule.checkImage?.(input) ?? [];
const messages = (hits: RuleHit[]) => hits.map((h) => h.message);

const PASSWD =
  'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\napp:x:1000:1000::/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\ndaemon:x:1:\napp:x:1000:\n';
const SHADOW = 'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\napp:!:19000::::::\n';
const accounts = (o: { passwd?: string; group?: string; shadow?: string; gshadow?: string } = {}): LayerEntry[] => [
  { path: 'etc/passwd', content: o.passwd ?? PASSWD },
  { path: 'etc/group', content: o.group ?? GROUP },
  { path: 'etc/shadow', content: o.shadow ?? SHADOW, mode: 0o640 },
  ...(o.gshadow !== undefined ? [{ path: 'etc/gshadow', content: o.gshadow, mode: 0o640 }] : []),
];

describe('root-user', () => {
  it('flags an empty, root or uid-0 User, and not an unprivileged one', async () => {
    for (const User of ['', 'root', '0', '0:0', 'root:staff', '000']) {
      const hits = check(rootUser, await image([accounts()], { config: { User } }));
      expect(hits, User).toHaveLength(1);
      expect(hits[0]?.severity).toBeUndefined();
    }
    expect(messages(check(rootUser, await image([accounts()], {})))).toEqual([
      'The image runs as root: the config sets no User',
    ]);
    for (const User of ['app', '1000', '1000:0', 'app:root', 'nobody-known']) {
      expect(check(rootUser, await image([accounts()], { config: { User } })), User).toEqual([]);
    }
  });

  it('flags a named user that /etc/passwd maps to uid 0, with the line', async () => {
    const passwd = `${PASSWD}toor:x:0:0::/root:/bin/sh\n`;
    const hits = check(rootUser, await image([accounts({ passwd })], { config: { User: 'toor' } }));
    expect(hits).toEqual([
      {
        message: "The image runs as root: User 'toor' has uid 0 in /etc/passwd (line 4)",
        path: 'etc/passwd',
        layer: 0,
      },
    ]);
    // The twin: the same name at uid 1001, replaced in a later layer (the merged tree is what counts).
    const later = `${PASSWD}toor:x:1001:1001::/home/toor:/bin/sh\n`;
    expect(
      check(
        rootUser,
        await image([accounts({ passwd }), [{ path: 'etc/passwd', content: later }]], { config: { User: 'toor' } }),
      ),
    ).toEqual([]);
  });

  it('cannot tell for a named user when /etc/passwd is over the size limit: an unknown-severity hit', async () => {
    const huge = `${PASSWD}${'#'.repeat(MAX_ACCOUNT_FILE_BYTES)}\n`;
    const hits = check(rootUser, await image([accounts({ passwd: huge })], { config: { User: 'app' } }));
    expect(hits).toHaveLength(1);
    expect(hits[0]?.severity).toBe('unknown');
    expect(hits[0]?.message).toMatch(
      /^Cannot tell whether User 'app' is root: \/etc\/passwd could not be read \(file of \d+ bytes is over the 1048576-byte/,
    );
  });

  const step = (keyword: string, args: string, stage: number, line: number): Instruction => ({
    keyword,
    args,
    source: 'dockerfile',
    stage,
    line,
  });
  const build = (steps: Instruction[], from: 'dockerfile' | 'history' = 'dockerfile'): BuildInput => ({
    steps,
    from,
    settings: DEFAULT_SETTINGS,
  });

  it('checkBuild: an explicit root USER in the final stage is high, whatever came before', () => {
    const builder = [step('FROM', 'golang AS build', 0, 1), step('USER', 'app', 0, 2)];
    for (const spec of ['root', '0', '0:0', 'root:staff']) {
      const hits = rootUser.checkBuild?.(
        build([...builder, step('FROM', 'debian', 1, 3), step('USER', 'app', 1, 4), step('USER', spec, 1, 5)]),
      );
      expect(hits, spec).toEqual([
        { message: `The last USER of the final stage is '${spec}': root`, step: expect.objectContaining({ line: 5 }) },
      ]);
      expect(hits?.[0]?.severity, spec).toBeUndefined(); // the rule's own: high
    }
    // Twins: the final stage ends with an unprivileged USER (a later one overrides root); history is not read.
    for (const spec of ['app', '10001', '65532:65532', '1000:0']) {
      expect(
        rootUser.checkBuild?.(
          build([...builder, step('FROM', 'debian', 1, 3), step('USER', 'root', 1, 4), step('USER', spec, 1, 5)]),
        ),
        spec,
      ).toEqual([]);
    }
    expect(rootUser.checkBuild?.(build([step('FROM', 'debian', 0, 1)], 'history'))).toEqual([]);
  });

  it('checkBuild: no USER anywhere is medium, naming the base image the user comes from', () => {
    const hits = rootUser.checkBuild?.(
      build([
        step('FROM', 'golang:1.22 AS build', 0, 1),
        step('USER', 'app', 0, 2),
        step('FROM', 'gcr.io/distroless/static:nonroot', 1, 3),
        step('COPY', '--from=build /out/app /app', 1, 4),
      ]),
    );
    expect(hits).toEqual([
      {
        message:
          'The last stage sets no USER: the user comes from the base image FROM gcr.io/distroless/static:nonroot; set it explicitly with USER',
        severity: 'medium',
        step: expect.objectContaining({ line: 3 }),
      },
    ]);
  });

  it('checkBuild: a final stage built FROM an earlier stage inherits its USER', () => {
    const chain = (user: Instruction[]) =>
      rootUser.checkBuild?.(
        build([
          step('FROM', 'debian:12 AS Base', 0, 1),
          ...user,
          step('FROM', 'base AS app', 1, 5),
          step('RUN', 'true', 1, 6),
          step('FROM', 'app', 2, 7),
          step('CMD', '["/app"]', 2, 8),
        ]),
      );
    // Stage names are case-insensitive; the walk goes app -> base -> debian:12.
    expect(chain([])?.map((h) => [h.severity, h.message, h.step?.line])).toEqual([
      [
        'medium',
        'The last stage sets no USER: the user comes from the base image FROM debian:12; set it explicitly with USER',
        7,
      ],
    ]);
    expect(chain([step('USER', '0', 0, 2)])?.map((h) => [h.severity, h.message, h.step?.line])).toEqual([
      [undefined, "The final stage inherits USER '0' from the stage it is built FROM: root", 2],
    ]);
    // Twin: the inherited user is unprivileged.
    expect(chain([step('USER', 'nobody', 0, 2)])).toEqual([]);
    // A FROM naming a later stage, or its own, is an image, not a stage: the walk cannot loop.
    const self = rootUser.checkBuild?.(
      build([step('FROM', 'x AS y', 0, 1), step('USER', '0', 0, 2), step('FROM', 'z AS z', 1, 3)]),
    );
    expect(self?.map((h) => [h.severity, h.step?.line])).toEqual([['medium', 3]]);
  });
});

describe('no-healthcheck', () => {
  it('flags a config without Healthcheck or with NONE, not one with a test', async () => {
    expect(messages(check(noHealthcheck, await image([[]])))).toEqual(['The image config has no Healthcheck']);
    expect(check(noHealthcheck, await image([[]], { config: { Healthcheck: { Test: ['NONE'] } } }))).toHaveLength(1);
    expect(check(noHealthcheck, await image([[]], { config: { Healthcheck: { Test: [] } } }))).toHaveLength(1);
    expect(
      check(
        noHealthcheck,
        await image([[]], { config: { Healthcheck: { Test: ['CMD-SHELL', 'curl -f localhost'] } } }),
      ),
    ).toEqual([]);
  });

  it('checkBuild: the final stage needs a HEALTHCHECK that is not NONE', () => {
    const s = (keyword: string, args: string, stage: number, line: number): Instruction => ({
      keyword,
      args,
      source: 'dockerfile',
      stage,
      line,
    });
    const b = (steps: Instruction[]): BuildInput => ({ steps, from: 'dockerfile', settings: DEFAULT_SETTINGS });
    const first = [s('FROM', 'a AS x', 0, 1), s('HEALTHCHECK', 'CMD true', 0, 2)];
    expect(noHealthcheck.checkBuild?.(b([...first, s('FROM', 'b', 1, 3)]))?.map((h) => h.step?.line)).toEqual([3]);
    expect(
      noHealthcheck
        .checkBuild?.(b([...first, s('FROM', 'b', 1, 3), s('HEALTHCHECK', 'NONE', 1, 4)]))
        ?.map((h) => h.step?.line),
    ).toEqual([4]);
    expect(noHealthcheck.checkBuild?.(b([...first, s('FROM', 'b', 1, 3), s('HEALTHCHECK', 'CMD true', 1, 4)]))).toEqual(
      [],
    );
    // A final stage built FROM the earlier stage inherits its HEALTHCHECK (and its NONE).
    expect(noHealthcheck.checkBuild?.(b([...first, s('FROM', 'x', 1, 3)]))).toEqual([]);
    const none = [s('FROM', 'a AS x', 0, 1), s('HEALTHCHECK', 'NONE', 0, 2), s('FROM', 'x', 1, 3)];
    expect(noHealthcheck.checkBuild?.(b(none))?.map((h) => h.step?.line)).toEqual([2]);
  });
});

describe('ssh-port-exposed and privileged-port', () => {
  const ports = (...keys: string[]) => ({ ExposedPorts: Object.fromEntries(keys.map((k) => [k, {}])) });

  it('22/tcp (or 22, or a range over it) is the SSH port; 22/udp and 2222 are not', async () => {
    for (const k of ['22/tcp', '22', '20-25/tcp', '22/TCP']) {
      expect(check(sshPortExposed, await image([[]], { config: ports(k) })), k).toHaveLength(1);
    }
    for (const k of ['22/udp', '2222/tcp', '8080/tcp']) {
      expect(check(sshPortExposed, await image([[]], { config: ports(k) })), k).toEqual([]);
    }
  });

  it('every port below 1024 is reported by name; 1024 and up are not; malformed keys are not ports', async () => {
    const hits = check(
      privilegedPort,
      await image([[]], { config: ports('80/tcp', '53/udp', '8080/tcp', '1024/tcp', 'x/tcp', '70000') }),
    );
    expect(messages(hits)).toEqual([
      'The image exposes privileged port 80/tcp (below 1024)',
      'The image exposes privileged port 53/udp (below 1024)',
    ]);
    expect(check(privilegedPort, await image([[]], { config: ports('8080/tcp', '8443/tcp') }))).toEqual([]);
    expect(check(privilegedPort, await image([[]], { config: { ExposedPorts: null } }))).toEqual([]);
  });
});

describe('setuid-setgid', () => {
  it('reports each setuid or setgid regular file with its layer, sorted by path; plain files are silent', async () => {
    const input = await image([
      [
        { path: 'usr/bin/su', content: 'elf', mode: 0o4755 },
        { path: 'usr/bin/wall', content: 'elf', mode: 0o2755, gid: 5 },
        { path: 'usr/bin/ls', content: 'elf', mode: 0o755 },
        { path: 'srv/shared', dir: true, mode: 0o2775 },
      ],
      [
        { path: 'opt/tool', content: 'elf', mode: 0o6755 },
        { path: 'usr/bin/su2', hardlink: 'usr/bin/su' },
      ],
    ]);
    const hits = check(setuidSetgid, input);
    expect(hits.map((h) => [h.path, h.layer])).toEqual([
      ['opt/tool', 1],
      ['usr/bin/su', 0],
      ['usr/bin/su2', 1],
      ['usr/bin/wall', 0],
    ]);
    expect(hits[0]?.message).toBe('/opt/tool is setuid (owner uid 0) and setgid (group gid 0), mode 6755');
    expect(hits[3]?.message).toBe('/usr/bin/wall is setgid (group gid 5), mode 2755');
  });

  it('the twin: the bits removed (a later layer rewrites the file) or the file deleted leave nothing', async () => {
    const input = await image([
      [
        { path: 'usr/bin/su', content: 'elf', mode: 0o4755 },
        { path: 'usr/bin/mount', content: 'elf', mode: 0o4755 },
      ],
      [
        { path: 'usr/bin/su', content: 'elf', mode: 0o755 },
        { path: 'usr/bin/.wh.mount', content: '' },
      ],
    ]);
    expect(check(setuidSetgid, input)).toEqual([]);
  });
});

describe('world-writable', () => {
  it('flags world-writable files and non-sticky directories in system paths only', async () => {
    const input = await image([
      [
        { path: 'etc/app.conf', content: 'x', mode: 0o666 },
        { path: 'usr/share/drop', dir: true, mode: 0o777 },
        { path: 'lib64/x.so', content: 'x', mode: 0o757 },
        { path: 'tmp', dir: true, mode: 0o1777 },
        { path: 'var/tmp', dir: true, mode: 0o1777 },
        { path: 'var/tmp/scratch', content: 'x', mode: 0o666 },
        { path: 'home/app/notes', content: 'x', mode: 0o666 },
        { path: 'etc/ok', content: 'x', mode: 0o664 },
        { path: 'etc/link', symlink: 'ok' },
      ],
    ]);
    expect(check(worldWritable, input).map((h) => h.message)).toEqual([
      '/etc/app.conf is a world-writable file (mode 0666)',
      '/lib64/x.so is a world-writable file (mode 0757)',
      '/usr/share/drop is a world-writable directory (mode 0777)',
    ]);
  });

  it('the twin: the same tree with o-w (and sticky shared dirs) is silent', async () => {
    const input = await image([
      [
        { path: 'etc/app.conf', content: 'x', mode: 0o664 },
        { path: 'usr/share/drop', dir: true, mode: 0o1777 },
        { path: 'var/tmp', dir: true, mode: 0o1777 },
      ],
    ]);
    expect(check(worldWritable, input)).toEqual([]);
  });
});

describe('package-cache', () => {
  it('reports each cache once per layer, with file count and size; apt lock, partial/ and empty files are not cache', async () => {
    const input = await image([
      [
        { path: 'var/lib/apt/lists/lock', content: '' },
        { path: 'var/lib/apt/lists/partial/x', content: 'half' },
        { path: 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease', content: 'a'.repeat(2048) },
        {
          path: 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages',
          content: 'b'.repeat(2048),
        },
      ],
      [
        { path: 'var/cache/apt/archives/curl_7.88_amd64.deb', content: 'deb' },
        { path: 'var/cache/apt/archives/lock', content: '' },
        { path: 'root/.cache/pip/http/a/b', content: 'wheel' },
        { path: 'home/app/.npm/_cacache/index-v5/x', content: 'idx' },
        { path: 'var/cache/apk/APKINDEX.1.tar.gz', content: 'idx' },
        { path: 'var/lib/apt/lists/extra_Packages', content: 'c' },
        { path: 'var/cache/apt/pkgcache.bin', content: 'bin' },
        { path: 'var/cache/dnf/fedora-1/repodata/primary.xml.zst', content: 'xml' },
        { path: 'var/cache/yum/x86_64/7/base/packages/a.rpm', content: 'rpm' },
      ],
    ]);
    expect(messages(check(packageCache, input))).toEqual([
      'Layer 0 leaves 2 files (4 KiB) of apt package lists in /var/lib/apt/lists',
      'Layer 1 leaves 1 file (1 KiB) of apt package lists in /var/lib/apt/lists',
      'Layer 1 leaves 1 file (1 KiB) of downloaded .deb files in /var/cache/apt/archives',
      'Layer 1 leaves 1 file (1 KiB) of apt package caches in /var/cache/apt',
      'Layer 1 leaves 1 file (1 KiB) of apk cache in /var/cache/apk',
      'Layer 1 leaves 1 file (1 KiB) of yum cache in /var/cache/yum',
      'Layer 1 leaves 1 file (1 KiB) of dnf cache in /var/cache/dnf',
      'Layer 1 leaves 1 file (1 KiB) of pip cache in ~/.cache/pip',
      'Layer 1 leaves 1 file (1 KiB) of npm cache in ~/.npm/_cacache',
    ]);
    expect(check(packageCache, input)[0]).toMatchObject({
      path: 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease',
      layer: 0,
    });
  });

  it('the twin: what apt leaves after `rm -rf /var/lib/apt/lists/*` and `apt-get clean` is silent', async () => {
    const input = await image([
      [
        { path: 'var/lib/apt/lists/lock', content: '' },
        { path: 'var/lib/apt/lists/partial', dir: true },
        { path: 'var/cache/apt/archives/lock', content: '' },
        { path: 'var/cache/apt/archives/partial', dir: true },
        { path: 'var/cache/apk', dir: true },
      ],
    ]);
    expect(check(packageCache, input)).toEqual([]);
  });
});

describe('empty-password and weak-password-hash', () => {
  it('an empty shadow or passwd password field is flagged; locked and hashed ones are not', async () => {
    const shadow = 'root::19000:0:99999:7:::\nbin:*:19000::::::\napp:!:19000::::::\nweb:$6$salt$abc:19000::::::\n';
    const passwd = `${PASSWD}guest::1001:1001::/home/guest:/bin/sh\n`;
    const hits = check(emptyPassword, await image([accounts({ shadow, passwd })]));
    expect(hits).toEqual([
      {
        message: "User 'root' has an empty password in /etc/shadow (line 1): it can log in without one",
        path: 'etc/shadow',
        layer: 0,
      },
      {
        message: "User 'guest' has an empty password field in /etc/passwd (line 4): it can log in without one",
        path: 'etc/passwd',
        layer: 0,
      },
    ]);
    expect(check(emptyPassword, await image([accounts()]))).toEqual([]);
    expect(check(emptyPassword, await image([[]]))).toEqual([]); // no account files at all: nothing to log in with
  });

  it('a shadow file it cannot read is an unknown-severity hit, never a pass', async () => {
    const shadow = `root::1:::::\n${'x'.repeat(MAX_ACCOUNT_FILE_BYTES)}`;
    const hits = check(emptyPassword, await image([accounts({ shadow })]));
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ path: 'etc/shadow', severity: 'unknown' });
    expect(hits[0]?.message).toMatch(/^Cannot check for empty passwords: \/etc\/shadow could not be read/);
  });

  it('DES, BSDi, MD5-crypt and NT hashes are weak (low when the account is locked); SHA-512 and yescrypt are not', async () => {
    const shadow = [
      'a:$1$saltsalt$qjXMvbEw8oaL.CzflDugX/:1::::::',
      'b:abJnggxhB/yWI:1::::::',
      'c:!$1$saltsalt$qjXMvbEw8oaL.CzflDugX/:1::::::',
      'd:$6$salt$IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6WouIL9AjRbLCelDCy.g.:1::::::',
      'e:$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7:1::::::',
      'f:_J9..rasmBYk8r9AiWNc:1::::::',
      'g:*:1::::::',
      '',
    ].join('\n');
    const gshadow = 'root:*::\nstaff:$1$x$abcdefghijklmnopqrstuv::\n';
    const hits = check(weakPasswordHash, await image([accounts({ shadow, gshadow })]));
    expect(hits.map((h) => [h.message, h.severity])).toEqual([
      ["User 'a' has a MD5-crypt ($1$) password hash in /etc/shadow (line 1)", undefined],
      ["User 'b' has a traditional DES password hash in /etc/shadow (line 2)", undefined],
      ["User 'c' has a MD5-crypt ($1$) password hash in /etc/shadow (line 3), on a locked account", 'low'],
      ["User 'f' has a BSDi extended DES (_) password hash in /etc/shadow (line 6)", undefined],
      ["Group 'staff' has a MD5-crypt ($1$) password hash in /etc/gshadow (line 2)", undefined],
    ]);
    expect(check(weakPasswordHash, await image([accounts({ gshadow: 'root:*::\n' })]))).toEqual([]);
  });
});

describe('duplicate-uid and duplicate-gid', () => {
  it('names every user sharing a uid; a second uid 0 is high', async () => {
    const passwd = `${PASSWD}toor:x:0:0::/root:/bin/sh\nweb:x:1000:1000::/srv:/bin/sh\n`;
    const hits = check(duplicateUid, await image([accounts({ passwd })]));
    expect(hits).toEqual([
      {
        message: "uid 0 is shared by 'root' (line 1), 'toor' (line 4) in /etc/passwd: more than one name for root",
        path: 'etc/passwd',
        layer: 0,
        severity: 'high',
      },
      { message: "uid 1000 is shared by 'app' (line 3), 'web' (line 5) in /etc/passwd", path: 'etc/passwd', layer: 0 },
    ]);
    expect(check(duplicateUid, await image([accounts()]))).toEqual([]);
  });

  it('names every group sharing a gid', async () => {
    const group = `${GROUP}staff:x:1000:\n`;
    expect(messages(check(duplicateGid, await image([accounts({ group })])))).toEqual([
      "gid 1000 is shared by 'app' (line 3), 'staff' (line 4) in /etc/group",
    ]);
    expect(check(duplicateGid, await image([accounts()]))).toEqual([]);
  });
});

describe('unnecessary-package', () => {
  const status = (...pkgs: [string, string][]) =>
    pkgs
      .map(([n, v]) => `Package: ${n}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${v}\n`)
      .join('\n');

  it('one finding per listed package with version and the layer that introduced it', async () => {
    const base = status(['bash', '5.2.15-2+b2']);
    const withTools = status(['bash', '5.2.15-2+b2'], ['openssh-server', '1:9.2p1-2+deb12u3'], ['GCC', '4:12.2.0-3']);
    const input = await image([
      [{ path: 'var/lib/dpkg/status', content: base }],
      [{ path: 'var/lib/dpkg/status', content: withTools }],
    ]);
    expect(check(unnecessaryPackage, input).map((h) => [h.message, h.layer])).toEqual([
      ['GCC 4:12.2.0-3 (deb) is installed, introduced in layer 1 (/var/lib/dpkg/status)', 1],
      ['openssh-server 1:9.2p1-2+deb12u3 (deb) is installed, introduced in layer 1 (/var/lib/dpkg/status)', 1],
    ]);
    // Twins: no listed package; or the same image with an empty list.
    expect(check(unnecessaryPackage, await image([[{ path: 'var/lib/dpkg/status', content: base }]]))).toEqual([]);
    const off = await image([[{ path: 'var/lib/dpkg/status', content: withTools }]], {
      settings: { unnecessaryPackages: [] },
    });
    expect(check(unnecessaryPackage, off)).toEqual([]);
  });
});

describe('image-too-old', () => {
  const CHECKS_HEAD = 'apiVersion: portcullis.dev/v1alpha1\nkind: CheckSettings\n';
  const days = (n: number) => new Date(NOW.getTime() - n * 86_400_000).toISOString();
  const run = async (created: string | undefined, maxImageAgeDays: number | undefined) =>
    check(
      imageTooOld,
      await image([[]], {
        ...(created !== undefined ? { created } : {}),
        settings: maxImageAgeDays === undefined ? {} : { maxImageAgeDays },
      }),
    );

  it('older than the limit is flagged with its age; within the limit or with no limit set is not', async () => {
    expect(messages(await run(days(100), 30))).toEqual([
      `The image was created ${days(100)}, 100 days ago: older than the 30 days allowed`,
    ]);
    expect(await run(days(30), 30)).toEqual([]);
    expect(await run(days(100), undefined)).toEqual([]);
  });

  it('hour limits from the config are compared to the millisecond, with ages in hours below 2 days', async () => {
    const hours = (n: number) => new Date(NOW.getTime() - n * 3_600_000).toISOString();
    const limit = (text: string) => parseChecksConfig(`${CHECKS_HEAD}maxImageAge: ${text}\n`, 'c.yaml').maxImageAgeDays;
    // 23 hours against 12h was a pass when ages were whole days.
    expect(messages(await run(hours(23), limit('12h')))).toEqual([
      `The image was created ${hours(23)}, 23 hours ago: older than the 12 hours allowed`,
    ]);
    expect(messages(await run(hours(37), limit('36h')))).toEqual([
      `The image was created ${hours(37)}, 37 hours ago: older than the 36 hours allowed`,
    ]);
    // One millisecond over the limit is over it; the limit itself is not.
    const ms = (n: number) => new Date(NOW.getTime() - n).toISOString();
    expect(await run(ms(12 * 3_600_000 + 1), limit('12h'))).toHaveLength(1);
    expect(await run(ms(12 * 3_600_000), limit('12h'))).toEqual([]);
    expect(await run(ms(36 * 3_600_000), limit('36h'))).toEqual([]);
    expect(await run(ms(14 * 86_400_000), limit('2w'))).toEqual([]);
    expect(await run(ms(14 * 86_400_000 + 1), limit('2w'))).toHaveLength(1);
    // Days from 2 days on, for the age and for a whole-day limit; 1 day is still 24 hours.
    expect(messages(await run(hours(50), limit('1d')))).toEqual([
      `The image was created ${hours(50)}, 2 days ago: older than the 24 hours allowed`,
    ]);
    expect(messages(await run(days(20), limit('2w')))).toEqual([
      `The image was created ${days(20)}, 20 days ago: older than the 14 days allowed`,
    ]);
    expect((await run(undefined, limit('12h')))[0]?.message).toBe(
      'Cannot tell the age of the image (at most 12 hours allowed): the config has no created time',
    );
  });

  it('rationale and docs name the config key users write, maxImageAge', () => {
    const section = readFileSync(join(ROOT, 'docs/rules.md'), 'utf8').split('### image-too-old')[1]?.split('###')[0];
    for (const text of [imageTooOld.rationale, section ?? '']) {
      expect(text).toContain('`maxImageAge`');
      expect(text).not.toContain('maxImageAgeDays');
    }
  });

  it('an image whose age cannot be told fails the rule at low severity', async () => {
    const cases: [string | undefined, RegExp][] = [
      [undefined, /the config has no created time/],
      ['yesterday', /'yesterday' is not a date/],
      ['1970-01-01T00:00:00Z', /reproducible-build placeholder/],
      ['0001-01-01T00:00:00Z', /reproducible-build placeholder/],
      [new Date(NOW.getTime() + 10 * 86_400_000).toISOString(), /in the future/],
    ];
    for (const [created, why] of cases) {
      const hits = await run(created, 30);
      expect(hits, String(created)).toHaveLength(1);
      expect(hits[0]?.severity).toBe('low');
      expect(hits[0]?.message).toMatch(why);
    }
  });
});

describe('base-image-not-approved', () => {
  const KEY = 'org.opencontainers.image.base.name';
  const run = async (approvedRegistries: string[], opts: { label?: string; annotation?: string } = {}) =>
    check(
      baseImageNotApproved,
      await image([[]], {
        config: opts.label ? { Labels: { [KEY]: opts.label } } : {},
        ...(opts.annotation ? { annotations: { [KEY]: opts.annotation } } : {}),
        settings: { approvedRegistries },
      }),
    );

  it('a base from an approved registry (or repository prefix) passes; docker.io names are normalized', async () => {
    expect(await run(['registry.example.com'], { label: 'registry.example.com/base/debian:12' })).toEqual([]);
    expect(
      await run(['registry.example.com/base'], {
        annotation: 'registry.example.com/base/debian@sha256:' + 'a'.repeat(64),
      }),
    ).toEqual([]);
    expect(await run(['https://index.docker.io/library/'], { label: 'debian:bookworm' })).toEqual([]);
    expect(await run([], { label: 'evil.example/x:1' })).toEqual([]); // not configured: not checked
  });

  it('another registry, a look-alike host, no name or a name that is no reference are flagged', async () => {
    expect(messages(await run(['registry.example.com'], { label: 'debian:12' }))).toEqual([
      `The base image docker.io/library/debian (label ${KEY}) is not from an approved registry (registry.example.com)`,
    ]);
    expect(await run(['registry.example.com'], { label: 'registry.example.com.evil.io/base:1' })).toHaveLength(1);
    expect(await run(['registry.example.com/base'], { label: 'registry.example.com/basement/x:1' })).toHaveLength(1);
    // The annotation (the manifest's) wins over a label.
    expect(
      messages(
        await run(['registry.example.com'], { label: 'registry.example.com/ok:1', annotation: 'quay.io/x/y:1' }),
      ),
    ).toEqual([
      `The base image quay.io/x/y (annotation ${KEY}) is not from an approved registry (registry.example.com)`,
    ]);
    expect(messages(await run(['registry.example.com']))).toEqual([
      `The image names no base image (no ${KEY} annotation or label): approved registries are registry.example.com`,
    ]);
    expect(messages(await run(['registry.example.com'], { label: 'Not A Ref!' }))).toEqual([
      `The label ${KEY} 'Not A Ref!' is not an image reference: approved registries are registry.example.com`,
    ]);
  });
});

describe('the image rules through the engine', () => {
  it('findings carry the rule metadata, the path and the layer diff_id', async () => {
    const input = await image([[], [{ path: 'usr/bin/su', content: 'elf', mode: 0o4755 }]], {
      config: { User: 'app', Healthcheck: { Test: ['CMD', 'true'] } },
    });
    const findings = runMisconfigRules({ image: input }, { image: 'oci:test', diffIds: ['sha256:0', 'sha256:1'] });
    expect(findings.map((f) => f.ruleId)).toEqual(['setuid-setgid']);
    expect(findings[0]).toMatchObject({
      kind: 'misconfiguration',
      severity: 'low',
      title: 'setuid or setgid file',
      location: { kind: 'image', image: 'oci:test', layer: 1, layerDiffId: 'sha256:1', path: 'usr/bin/su' },
      fix: { text: setuidSetgid.remediation },
    });
    const off = runMisconfigRules(
      { image: { ...input, settings: { ...input.settings, disabled: ['setuid-setgid'] } } },
      { image: 'oci:test' },
    );
    expect(off).toEqual([]);
  });

  it('each image rule is registered and documented in docs/rules.md under Misconfigurations', () => {
    const docs = readFileSync(join(ROOT, 'docs/rules.md'), 'utf8');
    const misconf = docs.slice(docs.indexOf('## Misconfigurations'), docs.indexOf('## Secrets'));
    for (const rule of [
      rootUser,
      baseImageNotApproved,
      unnecessaryPackage,
      imageTooOld,
      noHealthcheck,
      setuidSetgid,
      packageCache,
      emptyPassword,
      weakPasswordHash,
      duplicateUid,
      duplicateGid,
      worldWritable,
      sshPortExposed,
      privilegedPort,
    ]) {
      expect(MISCONFIG_RULES).toContain(rule);
      expect(misconf, rule.id).toContain(`### ${rule.id}\n`);
      const line = [rule.severity, rule.cis && `CIS ${rule.cis}`, rule.dockle && `Dockle ${rule.dockle}`]
        .filter(Boolean)
        .join(' · ');
      expect(misconf, rule.id).toContain(`### ${rule.id}\n\n${line}\n`);
    }
  });
});

describe('account file and port parsers on hostile input', () => {
  it('never throw, and keep only entries with numeric ids', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400, unit: 'binary' }), (text) => {
        for (const u of parsePasswd(text))
          expect(Number.isSafeInteger(u.uid) && Number.isSafeInteger(u.gid)).toBe(true);
        for (const g of parseGroup(text)) expect(Number.isSafeInteger(g.gid)).toBe(true);
        for (const s of parseShadow(text)) expect(typeof s.password).toBe('string');
        expect(accountLines(text).every((l) => l.line >= 1)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('port keys: only well-formed ports in 0..65535 come out', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 20 }), { maxLength: 8 }), (keys) => {
        for (const p of exposedPorts(Object.fromEntries(keys.map((k) => [k, {}])))) {
          expect(p.low).toBeGreaterThanOrEqual(0);
          expect(p.high).toBeLessThanOrEqual(65535);
          expect(p.low).toBeLessThanOrEqual(p.high);
        }
      }),
      { numRuns: 500 },
    );
  });
});
