import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { parseImageConfig, parseManifest } from '../../src/oci/manifest.js';

const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
const descriptor = fc.record({
  mediaType: fc.constantFrom(
    'application/vnd.oci.image.layer.v1.tar+gzip',
    'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ),
  digest: hex.map((h) => `sha256:${h}`),
  size: fc.nat(),
});
const manifest = fc.record({
  schemaVersion: fc.constant(2),
  mediaType: fc.constantFrom(
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.docker.distribution.manifest.v2+json',
  ),
  config: descriptor.map((d) => ({ ...d, mediaType: 'application/vnd.oci.image.config.v1+json' })),
  layers: fc.array(descriptor, { maxLength: 5 }),
});

const enc = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('parseManifest', () => {
  it('accepts every well-formed manifest and keeps its layers', () => {
    fc.assert(
      fc.property(manifest, (m) => {
        const parsed = parseManifest(enc(m), 'm');
        expect(parsed.kind).toBe('image');
        expect(parsed.kind === 'image' && parsed.layers.map((l) => l.digest)).toEqual(m.layers.map((l) => l.digest));
      }),
    );
  });

  it('answers any JSON value or byte string with a manifest or a one-line typed error', () => {
    const anyInput = fc.oneof(
      fc.jsonValue().map(enc),
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      // structurally close to a manifest, with fields of the wrong kinds
      fc
        .record(
          {
            schemaVersion: fc.jsonValue(),
            mediaType: fc.jsonValue(),
            config: fc.jsonValue(),
            layers: fc.jsonValue(),
            manifests: fc.jsonValue(),
          },
          { requiredKeys: [] },
        )
        .map(enc),
      manifest.chain((m) =>
        fc
          .record({ k: fc.constantFrom('config', 'layers', 'mediaType'), v: fc.jsonValue() })
          .map(({ k, v }) => enc({ ...m, [k]: v })),
      ),
    );
    fc.assert(
      fc.property(anyInput, (bytes) => {
        try {
          parseManifest(bytes, 'manifest sha256:test');
        } catch (err) {
          expect(err).toBeInstanceOf(PortcullisError);
          expect(['MANIFEST_INVALID', 'UNSUPPORTED_MEDIA_TYPE']).toContain((err as PortcullisError).code);
          expect((err as Error).message).toMatch(/^manifest sha256:test/);
          expect((err as Error).message).not.toContain('\n');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a document whose mediaType contradicts how it was served', () => {
    expect(() =>
      parseManifest(
        enc({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }),
        'm',
        'application/vnd.oci.image.manifest.v1+json',
      ),
    ).toThrow(/document says mediaType .*index.* but was served as .*manifest/);
  });
});

describe('parseImageConfig', () => {
  it('checks that diff_ids and layers agree', () => {
    const cfg = enc({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [`sha256:${'a'.repeat(64)}`] },
    });
    expect(parseImageConfig(cfg, 'c', 1).rootfs.diff_ids).toHaveLength(1);
    expect(() => parseImageConfig(cfg, 'c', 2)).toThrow(/1 diff_ids for 2 layers/);
  });
});
