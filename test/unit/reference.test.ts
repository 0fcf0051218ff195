import { describe, expect, it } from 'vitest';
import { parseDockerReference, parseImageLocation } from '../../src/oci/reference.js';

describe('parseDockerReference', () => {
  it.each([
    ['debian', { registry: 'docker.io', repository: 'library/debian', tag: 'latest' }],
    ['debian:12', { registry: 'docker.io', repository: 'library/debian', tag: '12' }],
    ['user/app:v1', { registry: 'docker.io', repository: 'user/app', tag: 'v1' }],
    ['127.0.0.1:5000/a/b:t', { registry: '127.0.0.1:5000', repository: 'a/b', tag: 't' }],
    ['localhost/x', { registry: 'localhost', repository: 'x', tag: 'latest' }],
    ['index.docker.io/library/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
    ['Registry.Example.COM/prod/api:1', { registry: 'registry.example.com', repository: 'prod/api', tag: '1' }],
    [
      `ghcr.io/o/r@sha256:${'a'.repeat(64)}`,
      { registry: 'ghcr.io', repository: 'o/r', digest: `sha256:${'a'.repeat(64)}` },
    ],
    [
      `h.io/r:t@sha256:${'b'.repeat(64)}`,
      { registry: 'h.io', repository: 'r', tag: 't', digest: `sha256:${'b'.repeat(64)}` },
    ],
  ])('%s', (input, expected) => {
    expect(parseDockerReference(input)).toEqual(expected);
  });

  it.each(['UPPER/case', 'a/b:bad tag', 'a@sha256:short', '', 'host:99999999/x'])('rejects %j', (bad) => {
    expect(() => parseDockerReference(bad)).toThrow();
  });

  it('parses a long valid reference whole, and refuses one over 4096 characters in a bounded message', () => {
    const repository = `team/${'a'.repeat(150)}`;
    const digest = `sha256:${'c'.repeat(64)}`;
    expect(parseDockerReference(`registry.example.com/${repository}@${digest}`)).toEqual({
      registry: 'registry.example.com',
      repository,
      digest,
    });
    const tooLong = `registry.example.com/${'b'.repeat(5000)}:t`;
    expect(() => parseDockerReference(tooLong)).toThrow(/^image reference '.{80}…' is empty or too long$/);
  });
});

describe('parseImageLocation', () => {
  it('knows the skopeo transports', () => {
    expect(parseImageLocation('oci:/tmp/layout:latest')).toEqual({
      transport: 'oci',
      path: '/tmp/layout',
      ref: 'latest',
    });
    expect(parseImageLocation('oci:/tmp/layout')).toEqual({ transport: 'oci', path: '/tmp/layout' });
    expect(parseImageLocation('oci-archive:img.tar')).toEqual({ transport: 'oci-archive', path: 'img.tar' });
    expect(parseImageLocation('docker-archive:img.tar:app:1')).toEqual({
      transport: 'docker-archive',
      path: 'img.tar',
      ref: 'app:1',
    });
    expect(parseImageLocation('dir:/rootfs')).toEqual({ transport: 'dir', path: '/rootfs' });
    expect(parseImageLocation('docker://127.0.0.1:5000/a:b')).toMatchObject({
      transport: 'docker',
      ref: { registry: '127.0.0.1:5000' },
    });
    expect(parseImageLocation('alpine:3.19')).toMatchObject({
      transport: 'docker',
      ref: { repository: 'library/alpine', tag: '3.19' },
    });
  });

  it('rejects unknown transports and malformed docker references', () => {
    expect(() => parseImageLocation('containers-storage://x')).toThrow(/unknown transport/);
    expect(() => parseImageLocation('docker:alpine')).toThrow(/docker:\/\//);
  });
});

describe('credentials typed into a reference', () => {
  it('are refused and never echoed', () => {
    expect(() => parseDockerReference('alice:hunter2@registry.example.com/app:1')).toThrow(
      /'\*\*\*@registry\.example\.com\/app:1' holds credentials/,
    );
    try {
      parseDockerReference('alice:hunter2@registry.example.com/app:1');
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('are refused when the password holds / or @ too, with or without a digest after the name', () => {
    for (const [input, shown] of [
      ['alice:pa/ss@reg.example/app:1', '***@reg.example/app:1'],
      ['alice:p@ss@reg.example/app:1', '***@reg.example/app:1'],
      ['alice:p@s/s@w@reg.example/app@sha256:' + 'a'.repeat(64), `***@reg.example/app@sha256:${'a'.repeat(64)}`],
    ] as const) {
      let message = '';
      try {
        parseDockerReference(input);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toBe(`image reference '${shown}' holds credentials; use --creds or an auth file`);
    }
    // A digest's @ is no credential.
    expect(parseDockerReference(`reg.example/app@sha256:${'b'.repeat(64)}`).digest).toBe(`sha256:${'b'.repeat(64)}`);
  });
});
