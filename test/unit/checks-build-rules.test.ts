// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text with its own ${VAR} references, literally
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../src/checks/dockerfile.js';
import { runMisconfigRules } from '../../src/checks/engine.js';
import { stepsFromHistory } from '../../src/checks/history.js';
import type { BuildInput, MisconfigRule } from '../../src/checks/model.js';
import { addInsteadOfCopy } from '../../src/checks/rules/add-instead-of-copy.js';
import { apkNoCache } from '../../src/checks/rules/apk-no-cache.js';
import { aptDistUpgrade } from '../../src/checks/rules/apt-dist-upgrade.js';
import { aptGetUpdateAlone } from '../../src/checks/rules/apt-get-update-alone.js';
import { MISCONFIG_RULES } from '../../src/checks/rules/index.js';
import { latestTag } from '../../src/checks/rules/latest-tag.js';
import { sudoUsage } from '../../src/checks/rules/sudo-usage.js';
import { unverifiedInstall } from '../../src/checks/rules/unverified-install.js';
import { DEFAULT_SETTINGS } from '../../src/checks/settings.js';
import {
  apkSubcommand,
  aptSubcommand,
  isShell,
  parseShell,
  runPipelines,
  SHELL_NAMES,
  shellScriptIndex,
} from '../../src/checks/shell.js';
import type { ImageConfig } from '../../src/oci/manifest.js';
import { ROOT } from '../helpers/paths.js';

const build = (text: string): BuildInput => ({
  steps: parseDockerfile(text, 'Dockerfile').steps,
  from: 'dockerfile',
  path: 'Dockerfile',
  settings: DEFAULT_SETTINGS,
});
const hits = (rule: MisconfigRule, text: string) => rule.checkBuild?.(build(text)) ?? [];
/** Lines of the steps the rule reports, for short expectations. */
const lines = (rule: MisconfigRule, text: string) => hits(rule, text).map((h) => h.step?.line);

describe('shell reading', () => {
  it('splits on operators, removes quotes, skips comments and heredoc bodies, reads substitutions', () => {
    const words = (s: string) => parseShell(s).map((p) => p.map((c) => c.words.join(' ')));
    expect(words(`set -eux; apt-get update && apt-get install -y 'a b' "c\\"d" || exit 1 & wait`)).toEqual([
      ['set -eux'],
      ['apt-get update'],
      ['apt-get install -y a b c"d'],
      ['exit 1'],
      ['wait'],
    ]);
    expect(words('curl -fsSL https://x.invalid/i.sh 2>/dev/null | sudo -E bash - # comment | sh')).toEqual([
      ['curl -fsSL https://x.invalid/i.sh', 'sudo -E bash -'],
    ]);
    expect(words('cat > /etc/x.sh <<EOF\ncurl x | sh\nEOF\necho done')).toEqual([['cat'], ['echo done']]);
    expect(words('sh -c "$(wget -qO- https://x.invalid)"; echo `id -u` $(apt-get update)')).toEqual([
      ['sh -c $(wget -qO- https://x.invalid)'],
      // Substitutions run before the command that holds them.
      ['id -u'],
      ['apt-get update'],
      ['echo `id -u` $(apt-get update)'],
    ]);
  });

  it('reads the exec form and heredoc scripts of RUN', () => {
    const steps = parseDockerfile(
      [
        'FROM alpine:3.20',
        'RUN ["/bin/sh", "-c", "apk update && apk add curl"]',
        'RUN ["apk", "update"]',
        'RUN <<EOF',
        'apk update',
        'EOF',
        'RUN python3 <<EOF',
        'import os; os.system("apk update")',
        'EOF',
        'RUN <<EOF',
        '#!/usr/bin/env python3',
        'print("apk update")',
        'EOF',
      ].join('\n'),
      'Dockerfile',
    ).steps;
    const cmds = steps.map((s) => runPipelines(s).flatMap((p) => p.map((c) => c.words.join(' '))));
    expect(cmds).toEqual([[], ['apk update', 'apk add curl'], ['apk update'], ['apk update'], ['python3'], []]);
  });
});

describe('command-line knowledge, defined once in shell.ts', () => {
  it('shellScriptIndex finds the script after the -c group of any known shell, also behind busybox', () => {
    expect(shellScriptIndex(['sh', '-c', 'x'])).toBe(2);
    expect(shellScriptIndex(['/bin/bash', '-o', 'pipefail', '-c', 'x'])).toBe(4);
    expect(shellScriptIndex(['/bin/busybox', 'sh', '-ec', 'x'])).toBe(3);
    expect(shellScriptIndex(['mksh', '+x', '-euc', 'x'])).toBe(3);
    for (const words of [['python3', '-c', 'x'], ['sh', 'script.sh'], ['busybox', '-c', 'x'], ['bash', '-e'], []]) {
      expect(shellScriptIndex(words), words.join(' ')).toBeUndefined();
    }
    expect([...SHELL_NAMES].every((name) => isShell(`/usr/bin/${name}`))).toBe(true);
    expect(isShell('python3')).toBe(false);
  });

  it('every RUN form reads the same shells: exec form with options, heredoc and shebang with mksh', () => {
    const steps = parseDockerfile(
      [
        'FROM alpine:3.20',
        'RUN ["/bin/bash", "-o", "pipefail", "-c", "apk update | cat"]',
        'RUN ["busybox", "sh", "-c", "apk add jq"]',
        'RUN mksh <<EOF',
        'apk update',
        'EOF',
        'RUN <<EOF',
        '#!/bin/mksh',
        'apk add curl',
        'EOF',
        'RUN ["/usr/bin/python3", "-c", "print(1)"]',
      ].join('\n'),
      'Dockerfile',
    ).steps;
    const cmds = steps.map((s) => runPipelines(s).flatMap((p) => p.map((c) => c.words.join(' '))));
    expect(cmds).toEqual([
      [],
      ['apk update', 'cat'],
      ['apk add jq'],
      ['apk update'],
      ['apk add curl'], // the shebang is a comment to the shell
      ['/usr/bin/python3 -c print(1)'],
    ]);
  });

  it('apt and apk subcommands skip the values of the options before them', () => {
    expect(aptSubcommand(['apt-get', '-o', 'Dpkg::Options::=--force-confold', '-t', 'bookworm', 'dist-upgrade'])).toBe(
      'dist-upgrade',
    );
    expect(aptSubcommand(['/usr/bin/aptitude', '-c', '/etc/apt.conf', 'update'])).toBe('update');
    expect(aptSubcommand(['apk', 'update'])).toBeUndefined();
    expect(apkSubcommand(['apk', '--repository', 'http://x.invalid/edge', '-X', 'y', 'add', 'curl'])).toBe('add');
    expect(apkSubcommand(['apt-get', 'update'])).toBeUndefined();
    // The rules that use them: an option value named like a subcommand is not the subcommand.
    const df = [
      'FROM debian:12',
      'RUN apt-get -o Dpkg::Options::=update -t full-upgrade install -y x',
      'RUN apt-get -t bookworm-backports full-upgrade -y',
      'RUN apk --repository add update',
      'RUN apk -X update add curl',
    ].join('\n');
    expect(lines(aptDistUpgrade, df)).toEqual([3]);
    expect(lines(aptGetUpdateAlone, df)).toEqual([4]);
    expect(lines(apkNoCache, df)).toEqual([5]);
  });

  it('no rule keeps its own copy of these lists', () => {
    const dir = join(ROOT, 'src/checks');
    const sources = ['history.ts', 'shell.ts', ...readdirSync(join(dir, 'rules')).map((f) => `rules/${f}`)].map(
      (f) => [f, readFileSync(join(dir, f), 'utf8')] as const,
    );
    const definers = (pattern: RegExp) => sources.filter(([, text]) => pattern.test(text)).map(([f]) => f);
    expect(definers(/const (?:APT|APK|RPM)_VALUE_OPTIONS\b/)).toEqual(['shell.ts']);
    expect(definers(/'dash'|\bdash\|/)).toEqual(['shell.ts']);
    expect(definers(/Math\.max\(\.\.\..*stage/)).toEqual([]);
  });
});

describe('apt-get-update-alone', () => {
  it('triggers on an index refresh with no install in the same RUN', () => {
    const text = [
      'FROM debian:12-slim',
      'RUN apt-get update',
      'RUN apt-get install -y --no-install-recommends curl',
      'RUN set -eux; \\',
      '    apk update',
      'RUN apt update -q && pip install requests',
      'FROM rockylinux:9',
      'RUN yum -q makecache',
      'RUN ["apt-get", "update"]',
    ].join('\n');
    expect(lines(aptGetUpdateAlone, text)).toEqual([2, 4, 6, 8, 9]);
    expect(hits(aptGetUpdateAlone, text)[0]?.message).toBe(
      "RUN at line 2 runs 'apt-get update' without installing anything in the same RUN: a cached layer keeps stale package lists for later installs",
    );
  });

  it('twin: refresh and install together, in any of the usual spellings', () => {
    const text = [
      'FROM debian:12-slim',
      'RUN apt-get update \\',
      '    && DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Options::=--force-confold install -y ca-certificates \\',
      '    && rm -rf /var/lib/apt/lists/*',
      'RUN apt-get update; apt-get -y upgrade',
      'RUN if [ -n "$X" ]; then apt-get update && apt-get install -y "$X"; fi',
      'RUN apk update && apk add --no-cache tzdata',
      'RUN dnf makecache && dnf install -y git',
      'RUN apt-get update -qq && xargs -a /tmp/packages.txt apt-get install -y',
      'RUN <<EOF',
      'apt-get update',
      'apt-get install -y jq',
      'EOF',
      'RUN echo "apt-get update" > /notes.txt',
    ].join('\n');
    expect(hits(aptGetUpdateAlone, text)).toEqual([]);
  });
});

describe('add-instead-of-copy', () => {
  it('triggers on ADD of local files and directories, and worse on a download without --checksum', () => {
    const text = [
      'FROM node:20-bookworm-slim',
      'ADD package.json package-lock.json /app/',
      'ADD ./src /app/src',
      'ADD https://github.com/krallin/tini/releases/download/v0.19.0/tini /tini',
      'ADD ["config.yaml", "/etc/app/"]',
      'ADD git@github.com:example/private.git /src',
    ].join('\n');
    const h = hits(addInsteadOfCopy, text);
    expect(h.map((x) => x.step?.line)).toEqual([2, 3, 4, 5, 6]);
    expect(h.map((x) => x.severity)).toEqual([undefined, undefined, 'medium', undefined, 'medium']);
    expect(h[2]?.message).toMatch(/^ADD at line 4 downloads https:\/\/github\.com\/\S+ without --checksum/);
    expect(h[0]?.message).toMatch(/adds package\.json, which is no local tar archive: COPY does the same/);
  });

  it('twin: local tar archives it extracts, downloads with --checksum, and COPY', () => {
    const text = [
      'FROM scratch',
      'ADD alpine-minirootfs-3.20.3-x86_64.tar.gz /',
      'ADD vendor.tar.xz app.tgz /opt/',
      'ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.invalid/tool /usr/local/bin/tool',
      'COPY . /app',
    ].join('\n');
    expect(hits(addInsteadOfCopy, text)).toEqual([]);
  });

  it('in history: a classic dir: content hash is a directory (COPY fits), a file: hash may be an archive', () => {
    const input: BuildInput = {
      steps: stepsFromHistory({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: ['sha256:a', 'sha256:b'] },
        history: [
          {
            created_by:
              '/bin/sh -c #(nop) ADD file:4b03b5f551e3fbdf47ec609712007327828f7530cc3455c43bbcdcaf449a75a9 in / ',
          },
          {
            created_by:
              '/bin/sh -c #(nop) ADD dir:6e1c3b1b9c7f0c4a3e2d1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c in /app ',
          },
        ],
      }),
      from: 'history',
      settings: DEFAULT_SETTINGS,
    };
    expect(addInsteadOfCopy.checkBuild?.(input).map((h) => h.step?.layer)).toEqual([1]);
  });
});

describe('unverified-install', () => {
  it('triggers on each way of switching verification off', () => {
    const cases: [string, RegExp][] = [
      ['RUN apt-get install -y --allow-unauthenticated nginx', /apt-get --allow-unauthenticated/],
      ['RUN apt-get -y --force-yes install nginx', /apt-get --force-yes/],
      ['RUN apt-get -o APT::Get::AllowUnauthenticated=true install -y x', /AllowUnauthenticated/],
      ['RUN apk add --allow-untrusted /tmp/pkgs/*.apk', /apk --allow-untrusted/],
      ['RUN rpm -ivh --nosignature /tmp/app.rpm', /rpm --nosignature/],
      ['RUN rpm -Uvh --nodigest app.rpm', /rpm --nodigest/],
      ['RUN yum install -y --nogpgcheck https://example.invalid/app.rpm', /yum --nogpgcheck/],
      ['RUN dnf --setopt=*.gpgcheck=0 install -y app', /dnf --setopt=gpgcheck=0/],
      ['RUN curl -fsSL https://deb.nodesource.com/setup_20.x | bash -', /curl \| bash/],
      ['RUN wget -qO- https://get.example.invalid | sudo sh', /wget \| sh/],
      ['RUN curl -sSL https://install.python-poetry.org | python3 -', /curl \| python3/],
      [
        'RUN sh -c "$(curl -fsSL https://raw.githubusercontent.com/ohmyzsh/ohmyzsh/master/tools/install.sh)"',
        /sh running a script fetched/,
      ],
      ['RUN pip install --trusted-host pypi.internal.example -r requirements.txt', /pip --trusted-host/],
      ['RUN python3 -m pip install -i http://pypi.internal.example/simple app', /pip index over plain http/],
      ['RUN pip install --index-url=http://10.0.0.5:8080/simple app', /pip index over plain http/],
      ['RUN npm config set strict-ssl false && npm ci', /npm strict-ssl false/],
      ['RUN NODE_TLS_REJECT_UNAUTHORIZED=0 npm ci', /NODE_TLS_REJECT_UNAUTHORIZED=0/],
      ['ENV NODE_TLS_REJECT_UNAUTHORIZED=0', /NODE_TLS_REJECT_UNAUTHORIZED=0/],
      ['ENV PIP_TRUSTED_HOST=pypi.internal.example', /PIP_TRUSTED_HOST/],
      ['RUN git config --global http.sslVerify false', /git http\.sslVerify false/],
      ['RUN git -c http.sslVerify=false clone https://git.example.invalid/app.git', /git http\.sslVerify false/],
      ['RUN wget --no-check-certificate https://example.invalid/app.tgz', /wget --no-check-certificate/],
      ['RUN curl -fsSLk -o /tmp/a https://example.invalid/a', /curl --insecure/],
      ['RUN curl --insecure -O https://example.invalid/a', /curl --insecure/],
      [
        'RUN echo "deb [trusted=yes] http://repo.example.invalid/ stable main" > /etc/apt/sources.list.d/x.list',
        /trusted=yes/,
      ],
      [
        'RUN printf "[app]\\nbaseurl=http://repo.example.invalid\\ngpgcheck=0\\n" > /etc/yum.repos.d/app.repo',
        /gpgcheck=0/,
      ],
    ];
    for (const [line, what] of cases) {
      const h = hits(unverifiedInstall, `FROM debian:12-slim\n${line}\n`);
      expect(h, line).toHaveLength(1);
      expect(h[0]?.message, line).toMatch(/^(RUN|ENV) at line 2 installs without verification: /);
      expect(h[0]?.message, line).toMatch(what);
    }
    expect(hits(unverifiedInstall, 'FROM a:1\nRUN curl -fsSL https://x.invalid | sh\n')[0]?.severity).toBe('medium');
    // Every shell of shell.ts counts as an interpreter, mksh included.
    expect(hits(unverifiedInstall, 'FROM a:1\nRUN wget -qO- https://x.invalid | /bin/mksh\n')[0]?.message).toMatch(
      /wget \| mksh/,
    );
    expect(hits(unverifiedInstall, 'FROM a:1\nRUN apk add --allow-untrusted x.apk\n')[0]?.severity).toBe('high');
  });

  it('twin: verified downloads and ordinary installs', () => {
    const text = [
      'FROM debian:12-slim',
      'RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates',
      'RUN curl -fsSLo /tmp/node.tar.xz https://nodejs.org/dist/v20.15.0/node-v20.15.0-linux-x64.tar.xz \\',
      '    && echo "f3c5fd4ebd9a3c5b2b4b3e6b3d1c0c7b0a2e1f4d5c6b7a8e9f0a1b2c3d4e5f6a  /tmp/node.tar.xz" | sha256sum -c - \\',
      '    && tar -xJf /tmp/node.tar.xz -C /usr/local --strip-components=1',
      'RUN curl -fsSL https://example.invalid/key.asc | gpg --dearmor -o /usr/share/keyrings/example.gpg',
      'RUN curl -H "-k: x" -o out https://example.invalid/f && wget -q https://example.invalid/g',
      'RUN pip install --no-cache-dir -i https://pypi.internal.example/simple app',
      'RUN npm config set registry https://registry.npmjs.org/ && git config --global http.sslVerify true',
      'RUN yum install -y --setopt=tsflags=nodocs httpd',
      'ENV NODE_ENV=production PIP_NO_CACHE_DIR=1',
      'RUN apk add --no-cache ca-certificates',
    ].join('\n');
    expect(hits(unverifiedInstall, text)).toEqual([]);
  });
});

describe('sudo-usage', () => {
  it('triggers on sudo running a command in a RUN', () => {
    const text = [
      'FROM ubuntu:24.04',
      'USER ubuntu',
      'RUN sudo apt-get update && sudo apt-get install -y make',
      'RUN DEBIAN_FRONTEND=noninteractive /usr/bin/sudo -E make install',
    ].join('\n');
    expect(lines(sudoUsage, text)).toEqual([3, 4]);
    expect(hits(sudoUsage, text)[0]?.message).toBe("RUN at line 3 uses sudo: 'sudo apt-get update'");
  });

  it('twin: installing or configuring sudo is not running it', () => {
    const text = [
      'FROM ubuntu:24.04',
      'RUN apt-get update && apt-get install -y sudo && echo "dev ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/dev',
      'RUN gosu nobody true',
      'LABEL note="sudo is available"',
    ].join('\n');
    expect(hits(sudoUsage, text)).toEqual([]);
  });
});

describe('latest-tag', () => {
  it('triggers on :latest and on no tag, also through ARG defaults', () => {
    const text = [
      'ARG BASE=node',
      'ARG TAG=latest',
      'FROM ubuntu',
      'FROM python:latest AS tools',
      'FROM ${BASE}:${TAG}',
      'FROM registry.example.invalid:5000/team/app',
      'FROM ${MISSING:-alpine}',
    ].join('\n');
    const h = hits(latestTag, text);
    expect(h.map((x) => x.step?.line)).toEqual([3, 4, 5, 6, 7]);
    expect(h[0]?.message).toBe(
      'FROM at line 3 uses ubuntu with no tag or digest: it means :latest, whatever that is on the day of the build',
    );
    expect(h[2]?.message).toMatch(/uses node:latest \(\$\{BASE\}:\$\{TAG\} with its ARG defaults\)/);
  });

  it('twin: versions, digests, scratch, earlier stages, and ARGs without a default', () => {
    const text = [
      'ARG GO_VERSION=1.22.5',
      'ARG BASE_IMAGE',
      'FROM golang:${GO_VERSION}-bookworm AS Build',
      'FROM build AS test',
      'FROM registry.example.invalid:5000/team/app:2.3.1',
      'FROM alpine@sha256:0a4eaa0eecf5f8c050e5bba433f58c052be7587ee8af3e8b3910ef9ab5fbe9f5',
      'FROM scratch',
      'FROM ${BASE_IMAGE}',
      'FROM --platform=$TARGETPLATFORM gcr.io/distroless/static-debian12:nonroot',
    ].join('\n');
    expect(hits(latestTag, text)).toEqual([]);
  });

  it('reads nothing from history (there is no FROM there)', () => {
    const input: BuildInput = {
      steps: [{ keyword: 'RUN', args: 'true', source: 'history', historyIndex: 0 }],
      from: 'history',
      settings: DEFAULT_SETTINGS,
    };
    expect(latestTag.checkBuild?.(input)).toEqual([]);
  });
});

describe('apt-dist-upgrade and apk-no-cache', () => {
  it('apt-dist-upgrade triggers on dist-upgrade and full-upgrade, not on upgrade', () => {
    const text = [
      'FROM debian:12',
      'RUN apt-get update && apt-get -y dist-upgrade',
      'RUN apt-get update && apt full-upgrade -y',
      'RUN apt-get update && apt-get upgrade -y',
    ].join('\n');
    expect(lines(aptDistUpgrade, text)).toEqual([2, 3]);
  });

  it('apk-no-cache triggers on apk add that leaves the index, not with --no-cache, a cleanup or a cache mount', () => {
    const text = [
      'FROM alpine:3.20',
      'RUN apk update && apk add curl',
      'RUN apk add --no-cache curl',
      'RUN apk add --update git && rm -rf /var/cache/apk/*',
      'RUN --mount=type=cache,target=/var/cache/apk apk add build-base',
      'RUN apk --no-cache add jq',
    ].join('\n');
    expect(lines(apkNoCache, text)).toEqual([2]);
  });
});

describe('through the engine', () => {
  it('every build rule is registered and documented, and reports file locations with lines', () => {
    const ids = MISCONFIG_RULES.map((r) => r.id);
    const docs = readFileSync(join(ROOT, 'docs/rules.md'), 'utf8');
    const misconf = docs.slice(docs.indexOf('## Misconfigurations'), docs.indexOf('## Secrets'));
    for (const r of [
      aptGetUpdateAlone,
      addInsteadOfCopy,
      unverifiedInstall,
      sudoUsage,
      latestTag,
      aptDistUpgrade,
      apkNoCache,
    ]) {
      expect(ids).toContain(r.id);
      expect(MISCONFIG_RULES).toContain(r);
      const line = [r.severity, r.cis && `CIS ${r.cis}`, r.dockle && `Dockle ${r.dockle}`].filter(Boolean).join(' · ');
      expect(misconf, r.id).toContain(`### ${r.id}\n\n${line}\n`);
    }
    const text = 'FROM ubuntu\nRUN apt-get update\nRUN sudo true\n';
    const findings = runMisconfigRules({ build: build(text) }, { image: 'img', dockerfile: 'Dockerfile' });
    const mine = findings.filter((f) => ['latest-tag', 'apt-get-update-alone', 'sudo-usage'].includes(f.ruleId));
    expect(mine.map((f) => [f.ruleId, f.location])).toEqual([
      ['apt-get-update-alone', { kind: 'file', path: 'Dockerfile', line: 2 }],
      ['sudo-usage', { kind: 'file', path: 'Dockerfile', line: 3 }],
      ['latest-tag', { kind: 'file', path: 'Dockerfile', line: 1 }],
    ]);
  });

  it('on history, findings point at the layer the step made', () => {
    const config: ImageConfig = {
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: ['sha256:l0', 'sha256:l1'] },
      history: [
        { created_by: '/bin/sh -c #(nop) ADD file:aa in / ' },
        { created_by: '/bin/sh -c #(nop)  ENV A=b', empty_layer: true },
        { created_by: '|1 V=1 /bin/sh -c sudo apt-get update' },
      ],
    };
    const findings = runMisconfigRules(
      { build: { steps: stepsFromHistory(config), from: 'history', settings: DEFAULT_SETTINGS } },
      { image: 'img', diffIds: config.rootfs.diff_ids },
    );
    const mine = findings.filter((f) => ['apt-get-update-alone', 'sudo-usage'].includes(f.ruleId));
    expect(mine.map((f) => [f.ruleId, f.message, f.location])).toEqual([
      [
        'apt-get-update-alone',
        "RUN of history entry 2 runs 'apt-get update' without installing anything in the same RUN: a cached layer keeps stale package lists for later installs",
        { kind: 'image', image: 'img', layer: 1, layerDiffId: 'sha256:l1' },
      ],
      [
        'sudo-usage',
        "RUN of history entry 2 uses sudo: 'sudo apt-get update'",
        { kind: 'image', image: 'img', layer: 1, layerDiffId: 'sha256:l1' },
      ],
    ]);
  });
});

describe('hostile scripts', () => {
  const rules = [
    aptGetUpdateAlone,
    addInsteadOfCopy,
    unverifiedInstall,
    sudoUsage,
    latestTag,
    aptDistUpgrade,
    apkNoCache,
  ];

  it('rules read nested substitutions, open quotes and heredoc floods of a near-1 MiB RUN without failing', () => {
    const scripts = [
      '$('.repeat(300_000),
      '$(a)'.repeat(200_000),
      "'".repeat(500_001),
      '"\\'.repeat(300_000),
      `cat <<EOF ${'<<A '.repeat(100_000)}\n${'x\n'.repeat(100_000)}`,
      '`'.repeat(500_001),
      `${'sudo -u '.repeat(100_000)}apt-get update`,
      `${'sudo '.repeat(150_000)}apt-get update`,
      `${'env A=1 '.repeat(100_000)}xargs apt-get update`,
      `${'[ '.repeat(300_000)}trusted=yes`,
      `pip ${'-i http://x '.repeat(70_000)}`,
    ];
    const from = `FROM ${'${A:-'.repeat(150_000)}\n`;
    for (const rule of rules) expect(rule.checkBuild?.(build(from))).toEqual([]);
    for (const script of scripts) {
      const text = `FROM alpine:3.20\nRUN ${script.replace(/\n/g, '\\\n')}\n`;
      const input = build(text);
      for (const rule of rules) expect(() => rule.checkBuild?.(input)).not.toThrow();
    }
  });

  it('rules never throw on arbitrary Dockerfiles and history (fast-check)', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        'FROM ',
        'RUN ',
        'ADD ',
        'ENV ',
        'ARG X=',
        '${X:-',
        '}',
        ' AS ',
        'apt-get ',
        'update',
        'install ',
        'apk ',
        'add ',
        'sudo ',
        '-u ',
        'curl ',
        '| sh',
        '$(',
        ')',
        '`',
        '<<EOF\n',
        'EOF\n',
        '"',
        "'",
        '\\\n',
        '\n',
        ' && ',
        '; ',
        '[',
        ']',
        '--checksum=',
        'https://x/',
        '.tar.gz',
        'pip ',
        '-i ',
        'http://',
        ' ',
      ),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 50 }), (pieces) => {
        const text = pieces.join('');
        const input = build(text);
        const history: BuildInput = {
          steps: stepsFromHistory({
            architecture: 'amd64',
            os: 'linux',
            rootfs: { type: 'layers', diff_ids: [] },
            history: text.split('\n').map((l) => ({ created_by: l })),
          }),
          from: 'history',
          settings: DEFAULT_SETTINGS,
        };
        for (const rule of rules) {
          for (const h of [...(rule.checkBuild?.(input) ?? []), ...(rule.checkBuild?.(history) ?? [])]) {
            expect(h.message).not.toMatch(/[\n\r]/);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
