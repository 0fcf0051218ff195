// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text with its own ${VAR} references, literally
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_DOCKERFILE_CHARS, parseDockerfile } from '../../src/checks/dockerfile.js';
import { PortcullisError } from '../../src/errors.js';

const parse = (text: string) => parseDockerfile(text, 'Dockerfile');
const brief = (text: string) =>
  parse(text).steps.map((s) => ({ k: s.keyword, a: s.args, l: s.line, e: s.endLine, st: s.stage, f: s.flags }));

describe('parseDockerfile: instructions as BuildKit reads them', () => {
  it('joins continuations, drops comment and blank lines inside them, and keeps the lines it spans', () => {
    const text = [
      'FROM debian:12-slim AS build',
      'RUN apt-get update \\',
      '    # tools for the build',
      '    && apt-get install -y --no-install-recommends \\',
      '',
      '       build-essential \\  ',
      '    && rm -rf /var/lib/apt/lists/*',
      'WORKDIR /src',
    ].join('\n');
    expect(brief(text)).toEqual([
      { k: 'FROM', a: 'debian:12-slim AS build', l: 1, e: 1, st: 0, f: undefined },
      {
        k: 'RUN',
        a: 'apt-get update     && apt-get install -y --no-install-recommends        build-essential     && rm -rf /var/lib/apt/lists/*',
        l: 2,
        e: 7,
        st: 0,
        f: undefined,
      },
      { k: 'WORKDIR', a: '/src', l: 8, e: 8, st: 0, f: undefined },
    ]);
  });

  it('honours the escape directive (backtick, as Windows Dockerfiles use) and reads CRLF line ends', () => {
    const text =
      '# escape=`\r\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\r\nRUN Write-Host a `\r\n    b\r\nCOPY C:\\app\\ C:\\app\\\r\n';
    expect(brief(text)).toEqual([
      { k: 'FROM', a: 'mcr.microsoft.com/windows/servercore:ltsc2022', l: 2, e: 2, st: 0, f: undefined },
      { k: 'RUN', a: 'Write-Host a     b', l: 3, e: 4, st: 0, f: undefined },
      // With the backtick as escape, a trailing backslash is a path, not a continuation.
      { k: 'COPY', a: 'C:\\app\\ C:\\app\\', l: 5, e: 5, st: 0, f: undefined },
    ]);
  });

  it('a parser directive after the first instruction is a plain comment: the backslash stays the escape', () => {
    const text = 'FROM alpine:3.20\n# escape=`\nRUN echo a \\\n  b\n';
    expect(brief(text)[1]).toMatchObject({ k: 'RUN', a: 'echo a   b', l: 3, e: 4 });
  });

  it('keeps heredoc bodies verbatim on their own lines, and the lines they span', () => {
    const text = [
      'FROM alpine:3.20',
      'RUN <<EOF',
      'set -eu',
      'apk add --no-cache curl \\',
      '  jq',
      'EOF',
      'COPY --chmod=0755 <<-"SCRIPT" /usr/local/bin/entry',
      '\t#!/bin/sh',
      '\texec "$@"',
      '\tSCRIPT',
      'CMD ["entry"]',
    ].join('\n');
    expect(brief(text)).toEqual([
      { k: 'FROM', a: 'alpine:3.20', l: 1, e: 1, st: 0, f: undefined },
      { k: 'RUN', a: '<<EOF\nset -eu\napk add --no-cache curl \\\n  jq\nEOF', l: 2, e: 6, st: 0, f: undefined },
      {
        k: 'COPY',
        a: '<<-"SCRIPT" /usr/local/bin/entry\n\t#!/bin/sh\n\texec "$@"\n\tSCRIPT',
        l: 7,
        e: 10,
        st: 0,
        f: ['--chmod=0755'],
      },
      { k: 'CMD', a: '["entry"]', l: 11, e: 11, st: 0, f: undefined },
    ]);
  });

  it('keeps the JSON (exec) form as written and the shell form as written', () => {
    const text = 'FROM nginx:1.27\nCMD ["nginx", "-g", "daemon off;"]\nENTRYPOINT /docker-entrypoint.sh nginx\n';
    const steps = parse(text).steps;
    expect(steps[1]?.args).toBe('["nginx", "-g", "daemon off;"]');
    expect(JSON.parse(steps[1]?.args ?? '')).toEqual(['nginx', '-g', 'daemon off;']);
    expect(steps[2]?.args).toBe('/docker-entrypoint.sh nginx');
  });

  it('separates flags, upper-cases keywords, numbers stages, and leaves global ARGs without a stage', () => {
    const text = [
      'ARG GO_VERSION=1.22',
      'from --platform=$BUILDPLATFORM golang:${GO_VERSION} as build',
      'run --mount=type=cache,target=/root/.cache/go-build go build -o /out/app ./cmd/app',
      'FROM gcr.io/distroless/static-debian12:nonroot',
      'COPY --from=build --chown=65532:65532 --link /out/app /app',
      'HEALTHCHECK --interval=30s --timeout=3s CMD ["/app", "health"]',
      'ONBUILD RUN echo child',
    ].join('\n');
    expect(brief(text)).toEqual([
      { k: 'ARG', a: 'GO_VERSION=1.22', l: 1, e: 1, st: undefined, f: undefined },
      { k: 'FROM', a: 'golang:${GO_VERSION} as build', l: 2, e: 2, st: 0, f: ['--platform=$BUILDPLATFORM'] },
      {
        k: 'RUN',
        a: 'go build -o /out/app ./cmd/app',
        l: 3,
        e: 3,
        st: 0,
        f: ['--mount=type=cache,target=/root/.cache/go-build'],
      },
      { k: 'FROM', a: 'gcr.io/distroless/static-debian12:nonroot', l: 4, e: 4, st: 1, f: undefined },
      {
        k: 'COPY',
        a: '/out/app /app',
        l: 5,
        e: 5,
        st: 1,
        f: ['--from=build', '--chown=65532:65532', '--link'],
      },
      { k: 'HEALTHCHECK', a: 'CMD ["/app", "health"]', l: 6, e: 6, st: 1, f: ['--interval=30s', '--timeout=3s'] },
      { k: 'ONBUILD', a: 'RUN echo child', l: 7, e: 7, st: 1, f: undefined },
    ]);
    expect(parse(text).steps.every((s) => s.source === 'dockerfile')).toBe(true);
  });

  it('reads a UTF-8 byte order mark, an empty file and a file of comments', () => {
    expect(brief('\uFEFFFROM alpine:3.20\n')).toEqual([
      { k: 'FROM', a: 'alpine:3.20', l: 1, e: 1, st: 0, f: undefined },
    ]);
    expect(parse('').steps).toEqual([]);
    expect(parse('# nothing\n\n# here\n').steps).toEqual([]);
  });
});

describe('inline ignore comments', () => {
  it('apply to the instruction after them, with reason and expiry', () => {
    const text = [
      'FROM ubuntu:24.04',
      '# portcullis:ignore apt-get-update-alone,sudo-usage reason="the base image needs it" expires=2026-03-31',
      '',
      '# refresh first',
      'RUN sudo apt-get update \\',
      '    -q',
      '# portcullis:ignore latest-tag',
      'FROM busybox',
    ].join('\n');
    const r = parse(text);
    expect(r.problems).toEqual([]);
    expect(r.ignores).toEqual([
      {
        ruleIds: ['apt-get-update-alone', 'sudo-usage'],
        line: 2,
        appliesTo: { line: 5, endLine: 6 },
        reason: 'the base image needs it',
        expires: '2026-03-31',
      },
      { ruleIds: ['latest-tag'], line: 7, appliesTo: { line: 8, endLine: 8 } },
    ]);
  });

  it('report malformed and misplaced comments with their line, and silence nothing for them', () => {
    const text = [
      'FROM alpine:3.20',
      '# portcullis:ignore',
      'RUN true',
      '# portcullis:ignore Sudo_Usage',
      'RUN true',
      '# portcullis:ignore sudo-usage expires=2026-02-30',
      'RUN true',
      '# portcullis:ignore sudo-usage reason="unterminated',
      'RUN true',
      '# portcullis:ignore sudo-usage until=2027-01-01',
      'RUN true',
      '# portcullis:ignroe sudo-usage',
      'RUN true',
      'RUN apk add \\',
      '  # portcullis:ignore apk-no-cache',
      '  curl',
      '# portcullis:ignore sudo-usage reason=x reason=y',
      'RUN true',
      '# portcullis:ignore latest-tag',
    ].join('\n');
    const r = parse(text);
    expect(r.ignores).toEqual([]);
    expect(r.problems).toHaveLength(9);
    const lines = r.problems.map((p) => Number(/^line (\d+): /.exec(p)?.[1]));
    expect(lines).toEqual([2, 4, 6, 8, 10, 12, 15, 17, 19]);
    expect(r.problems[0]).toMatch(/without a rule id/);
    expect(r.problems[1]).toMatch(/'Sudo_Usage' is not a rule id/);
    expect(r.problems[2]).toMatch(/expires=2026-02-30 is not a date/);
    expect(r.problems[3]).toMatch(/cannot read/);
    expect(r.problems[4]).toMatch(/unknown option 'until'/);
    expect(r.problems[5]).toMatch(/unknown directive 'portcullis:ignroe'/);
    expect(r.problems[6]).toMatch(/inside the RUN of lines 14-16/);
    expect(r.problems[7]).toMatch(/reason given twice/);
    expect(r.problems[8]).toMatch(/no instruction after it/);
    expect(r.problems.every((p) => !p.includes('\n'))).toBe(true);
  });
});

describe('hostile Dockerfiles: refused or read in bounded time, never a crash', () => {
  const refused = (text: string, pattern: RegExp) => {
    let err: unknown;
    try {
      parse(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('DOCKERFILE_INVALID');
    expect((err as PortcullisError).message).toMatch(pattern);
    expect((err as PortcullisError).message).not.toContain('\n');
  };

  it('refuses more than 1 MiB', () => {
    refused(
      `FROM alpine\nRUN ${'a'.repeat(MAX_DOCKERFILE_CHARS)}\n`,
      /Dockerfile Dockerfile: \d+ characters, over the 1 MiB limit/,
    );
  });

  it('refuses a flag flood that would make the parser quadratic, however the flags are spelled', () => {
    refused(`FROM alpine\nRUN ${'--mount=type=cache '.repeat(50_000)}true\n`, /option-like words in a row/);
    refused(`FROM alpine\nRUN ${'-\\\n-m '.repeat(20_000)}${'x '.repeat(200_000)}\n`, /option-like words in a row/);
    refused(`FROM alpine\nCOPY ${'"--a" '.repeat(5_000)}${'x '.repeat(100_000)}\n`, /option-like words in a row/);
  });

  it('reads 10k continuation lines into one step', () => {
    const text = `FROM alpine\nRUN echo \\\n${'  word \\\n'.repeat(10_000)}  end\n`;
    const steps = parse(text).steps;
    expect(steps).toHaveLength(2);
    expect(steps[1]).toMatchObject({ keyword: 'RUN', line: 2, endLine: 10_003 });
    expect(steps[1]?.args.split('word')).toHaveLength(10_001);
  });

  it('reads invalid UTF-8 (decoded with replacement characters) and NUL bytes', () => {
    const bytes = Buffer.concat([
      Buffer.from('FROM alpine:3.20\nRUN echo '),
      Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]),
      Buffer.from('\nRUN echo a\u0000b\nUSER \u0000\n'),
    ]);
    const steps = parse(bytes.toString('utf8')).steps;
    expect(steps.map((s) => s.keyword)).toEqual(['FROM', 'RUN', 'RUN', 'USER']);
    expect(steps[1]?.args).toContain('\uFFFD');
    expect(steps[2]?.args).toBe('echo a\u0000b');
  });

  it('reads just under 1 MiB of many small instructions', () => {
    const text = `FROM alpine\n${'RUN true\n'.repeat(Math.floor((MAX_DOCKERFILE_CHARS - 12) / 9))}`;
    expect(text.length).toBeLessThanOrEqual(MAX_DOCKERFILE_CHARS);
    expect(parse(text).steps.length).toBe(1 + Math.floor((MAX_DOCKERFILE_CHARS - 12) / 9));
  });

  it('never throws anything but a typed error on arbitrary text (fast-check)', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        'FROM ',
        'RUN ',
        'COPY ',
        'ADD ',
        'ONBUILD ',
        'HEALTHCHECK ',
        'ARG ',
        '# escape=`\n',
        '# escape=\\\n',
        '# portcullis:ignore ',
        'sudo-usage',
        ' reason="',
        ' expires=2025-01-01',
        '\\\n',
        '`\n',
        '\n',
        '\r\n',
        '<<EOF\n',
        '<<-"EOF"\n',
        'EOF\n',
        '--mount=type=cache ',
        '--from=',
        '["a", "b"]',
        '[',
        '"',
        "'",
        '$',
        '${',
        '}',
        '\u0000',
        '\uFEFF',
        '\uFFFD',
        ' ',
        '\t',
      ),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        const text = pieces.join('');
        try {
          const r = parse(text);
          for (const s of r.steps) {
            expect(s.line).toBeGreaterThanOrEqual(1);
            expect(s.endLine).toBeGreaterThanOrEqual(s.line ?? 1);
          }
          for (const ig of r.ignores) expect(ig.appliesTo.line).toBeGreaterThan(ig.line);
          for (const p of r.problems) expect(p).toMatch(/^line \d+: /);
        } catch (e) {
          expect(e).toBeInstanceOf(PortcullisError);
        }
      }),
      { numRuns: 1500 },
    );
  });
});
