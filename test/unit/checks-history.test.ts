import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCreatedBy, stepsFromHistory } from '../../src/checks/history.js';
import { unreadHistory } from '../../src/checks/run.js';
import type { ImageConfig } from '../../src/oci/manifest.js';

const config = (history: ImageConfig['history'], layers: number): ImageConfig => ({
  architecture: 'amd64',
  os: 'linux',
  rootfs: {
    type: 'layers',
    diff_ids: Array.from({ length: layers }, (_, i) => `sha256:${String(i).padStart(64, '0')}`),
  },
  ...(history ? { history } : {}),
});

describe('readCreatedBy: the forms builders write', () => {
  it.each([
    // classic docker builder
    ['/bin/sh -c #(nop)  CMD ["nginx" "-g" "daemon off;"]', 'CMD', '["nginx" "-g" "daemon off;"]', undefined],
    [
      '/bin/sh -c #(nop) ADD file:4b03b5f551e3fbdf47ec609712007327828f7530cc3455c43bbcdcaf449a75a9 in / ',
      'ADD',
      'file:4b03b5f551e3fbdf47ec609712007327828f7530cc3455c43bbcdcaf449a75a9 /',
      undefined,
    ],
    [
      '/bin/sh -c #(nop) COPY --chown=101:101 dir:6e1c3b1b9c7f0c4a3e2d1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c in /srv/app ',
      'COPY',
      'dir:6e1c3b1b9c7f0c4a3e2d1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c /srv/app',
      ['--chown=101:101'],
    ],
    [
      '/bin/sh -c #(nop)  ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'ENV',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      undefined,
    ],
    [
      '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "30s" "3s" "0s" \'\\x03\'}',
      'HEALTHCHECK',
      '&{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "30s" "3s" "0s" \'\\x03\'}',
      undefined,
    ],
    ['/bin/sh -c #(nop)  EXPOSE 80/tcp', 'EXPOSE', '80/tcp', undefined],
    ['/bin/sh -c #(nop)  USER www-data', 'USER', 'www-data', undefined],
    [
      '/bin/sh -c #(nop)  LABEL maintainer=NGINX Docker Maintainers <docker-maint@nginx.com>',
      'LABEL',
      'maintainer=NGINX Docker Maintainers <docker-maint@nginx.com>',
      undefined,
    ],
    ['/bin/sh -c #(nop) WORKDIR /usr/src/app', 'WORKDIR', '/usr/src/app', undefined],
    ['/bin/sh -c #(nop)  ARG NODE_VERSION', 'ARG', 'NODE_VERSION', undefined],
    ['/bin/sh -c #(nop)  ENTRYPOINT ["docker-entrypoint.sh"]', 'ENTRYPOINT', '["docker-entrypoint.sh"]', undefined],
    [
      '/bin/sh -c apt-get update && apt-get install -y --no-install-recommends ca-certificates',
      'RUN',
      'apt-get update && apt-get install -y --no-install-recommends ca-certificates',
      undefined,
    ],
    [
      '|2 PYTHON_VERSION=3.12.4 PIP_OPTS=--no-cache-dir /bin/sh -c pip install $PIP_OPTS flask',
      'RUN',
      'pip install $PIP_OPTS flask',
      undefined,
    ],
    ['|1 GREETING=hello world /bin/sh -c echo "$GREETING"', 'RUN', 'echo "$GREETING"', undefined],
    [
      '/bin/bash -o pipefail -c curl -fsSL https://example.invalid/x | tar -xz',
      'RUN',
      'curl -fsSL https://example.invalid/x | tar -xz',
      undefined,
    ],
    [
      '/bin/bash -o pipefail -c #(nop)  SHELL [/bin/bash -o pipefail -c]',
      'SHELL',
      '[/bin/bash -o pipefail -c]',
      undefined,
    ],
    // the same shells the RUN reader knows (shell.ts), also behind busybox; other interpreters are not a RUN form
    ['/bin/busybox sh -c apk add --no-cache curl', 'RUN', 'apk add --no-cache curl', undefined],
    ['/bin/mksh -eu -c echo hi', 'RUN', 'echo hi', undefined],
    ['/bin/dash +x -o errexit -ec #(nop)  USER 10001', 'USER', '10001', undefined],
    ['/usr/bin/python3 -c print(1)', 'UNKNOWN', '/usr/bin/python3 -c print(1)', undefined],
    ['busybox -c true', 'UNKNOWN', 'busybox -c true', undefined],
    ['cmd /S /C #(nop)  WORKDIR C:\\app', 'WORKDIR', 'C:\\app', undefined],
    ['cmd /S /C powershell -Command Invoke-WebRequest x', 'RUN', 'powershell -Command Invoke-WebRequest x', undefined],
    // BuildKit
    ['RUN /bin/sh -c apt-get update # buildkit', 'RUN', 'apt-get update', undefined],
    [
      'RUN |1 TARGETARCH=amd64 /bin/sh -c go build -o /out/app . # buildkit',
      'RUN',
      'go build -o /out/app .',
      undefined,
    ],
    ['RUN apk add --no-cache ca-certificates # buildkit', 'RUN', 'apk add --no-cache ca-certificates', undefined],
    ['COPY /out/app /usr/local/bin/app # buildkit', 'COPY', '/out/app /usr/local/bin/app', undefined],
    [
      'COPY --chown=65532:65532 config.yaml /etc/app/ # buildkit',
      'COPY',
      'config.yaml /etc/app/',
      ['--chown=65532:65532'],
    ],
    [
      'ADD https://example.invalid/tool.tar.gz /opt/ # buildkit',
      'ADD',
      'https://example.invalid/tool.tar.gz /opt/',
      undefined,
    ],
    ['ENV APP_ENV=production', 'ENV', 'APP_ENV=production', undefined],
    ['USER 65532:65532', 'USER', '65532:65532', undefined],
    [
      'HEALTHCHECK &{["CMD" "/app" "health"] "30s" "3s" "0s" "0s" \'\\x00\'}',
      'HEALTHCHECK',
      '&{["CMD" "/app" "health"] "30s" "3s" "0s" "0s" \'\\x00\'}',
      undefined,
    ],
    ['EXPOSE map[8080/tcp:{}]', 'EXPOSE', 'map[8080/tcp:{}]', undefined],
    [
      'LABEL org.opencontainers.image.source=https://example.invalid/app',
      'LABEL',
      'org.opencontainers.image.source=https://example.invalid/app',
      undefined,
    ],
    ['WORKDIR /app', 'WORKDIR', '/app', undefined],
    ['ARG TARGETARCH=amd64', 'ARG', 'TARGETARCH=amd64', undefined],
    ['ENTRYPOINT ["/app"]', 'ENTRYPOINT', '["/app"]', undefined],
    ['CMD ["serve"]', 'CMD', '["serve"]', undefined],
    // buildah / podman
    [
      '/bin/sh -c #(nop) ADD file:0c6a4e1f6b3e2d9a8f7c6b5a4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d in / ',
      'ADD',
      'file:0c6a4e1f6b3e2d9a8f7c6b5a4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d /',
      undefined,
    ],
    [
      '/bin/sh -c #(nop) COPY multi:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b in /app/ ',
      'COPY',
      'multi:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b /app/',
      undefined,
    ],
    // kaniko (the instruction as written)
    ['RUN apt-get update && apt-get install -y curl', 'RUN', 'apt-get update && apt-get install -y curl', undefined],
    ['COPY . /workspace', 'COPY', '. /workspace', undefined],
    ['RUN --mount=type=secret,id=npmrc npm ci', 'RUN', 'npm ci', ['--mount=type=secret,id=npmrc']],
    // not an instruction
    ['umoci config', 'UNKNOWN', 'umoci config', undefined],
    [
      "# debian.sh --arch 'amd64' out/ 'bookworm' '@1719792000'",
      'UNKNOWN',
      "# debian.sh --arch 'amd64' out/ 'bookworm' '@1719792000'",
      undefined,
    ],
    ['apko', 'UNKNOWN', 'apko', undefined],
    ['', 'UNKNOWN', '', undefined],
    ['/bin/sh -c #(nop) frobnicate', 'UNKNOWN', '/bin/sh -c #(nop) frobnicate', undefined],
  ])('%s', (createdBy, keyword, args, flags) => {
    expect(readCreatedBy(createdBy)).toEqual({ keyword, args, ...(flags ? { flags } : {}) });
  });
});

describe('stepsFromHistory', () => {
  it('numbers history entries and the layers the non-empty ones made', () => {
    const steps = stepsFromHistory(
      config(
        [
          { created_by: '/bin/sh -c #(nop) ADD file:aa in / ' },
          { created_by: '/bin/sh -c #(nop)  CMD ["bash"]', empty_layer: true },
          { created_by: 'RUN /bin/sh -c apt-get update # buildkit' },
          { created_by: 'USER app', empty_layer: true },
          { created_by: 'COPY app /app # buildkit' },
        ],
        3,
      ),
    );
    expect(steps.map((s) => [s.keyword, s.historyIndex, s.layer, s.source])).toEqual([
      ['ADD', 0, 0, 'history'],
      ['CMD', 1, undefined, 'history'],
      ['RUN', 2, 1, 'history'],
      ['USER', 3, undefined, 'history'],
      ['COPY', 4, 2, 'history'],
    ]);
  });

  it('gives no layer index past the layers the image has, and reads no history as no steps', () => {
    const steps = stepsFromHistory(config([{ created_by: 'RUN a' }, { created_by: 'RUN b' }], 1));
    expect(steps.map((s) => s.layer)).toEqual([0, undefined]);
    expect(stepsFromHistory(config(undefined, 2))).toEqual([]);
    expect(stepsFromHistory(config([{}], 1))).toEqual([
      { keyword: 'UNKNOWN', args: '', source: 'history', historyIndex: 0, layer: 0 },
    ]);
  });

  it('never throws and stays bounded on arbitrary history (fast-check)', () => {
    const fragment = fc.oneof(
      fc.constantFrom(
        '/bin/sh -c ',
        '#(nop) ',
        ' # buildkit',
        '|',
        '|2 ',
        '|9999 ',
        'A=1 ',
        'RUN ',
        'COPY ',
        'ADD ',
        '--chown=1:1 ',
        ' in ',
        'file:abc',
        'cmd /S /C ',
        'powershell -Command ',
        '/bin/bash -o pipefail -c ',
        '-o ',
        '-c ',
        ' ',
        '\n',
      ),
      fc.string({ maxLength: 10 }),
    );
    const entry = fc.oneof(
      fc.record(
        { created_by: fc.array(fragment, { maxLength: 20 }).map((p) => p.join('')), empty_layer: fc.boolean() },
        { requiredKeys: [] },
      ),
      fc.jsonValue({ maxDepth: 2 }),
    );
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 12 }), fc.nat(12), (history, layers) => {
        const steps = stepsFromHistory(config(history as ImageConfig['history'], layers));
        expect(steps).toHaveLength(history.length);
        for (const s of steps) {
          expect(typeof s.keyword).toBe('string');
          expect(typeof s.args).toBe('string');
          if (s.layer !== undefined) expect(s.layer).toBeLessThan(layers);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('reads a long hostile created_by in linear time', () => {
    const long = `|9 ${'A= '.repeat(200_000)}${'-o '.repeat(100_000)}`;
    const nop = `${'x '.repeat(3)}#(nop) ${'COPY '.repeat(1)}${'--a '.repeat(100_000)} in in in`;
    const steps = stepsFromHistory(
      config([{ created_by: long }, { created_by: nop }, { created_by: 'RUN '.repeat(300_000) }], 3),
    );
    expect(steps.map((s) => s.keyword)).toEqual(['RUN', 'COPY', 'RUN']);
  });
});

describe('history the build rules cannot read is said, never passed silently', () => {
  it('no entries, or only unknown forms, give a note; a Dockerfile or one readable step gives none', () => {
    const step = (keyword: string) => ({ keyword, args: '', source: 'history' as const });
    expect(unreadHistory([], 'history')).toMatch(/has no history/);
    expect(unreadHistory([step('UNKNOWN'), step('UNKNOWN')], 'history')).toMatch(/none of the 2 history entries/);
    expect(unreadHistory([step('UNKNOWN'), step('RUN')], 'history')).toBeUndefined();
    expect(unreadHistory([], 'dockerfile')).toBeUndefined();
  });
});
