import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A blob store in an OCI layout directory; returns descriptors of what it writes. */
export class LayoutWriter {
  readonly manifests: object[] = [];
  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  }

  blob(data: Buffer | string, mediaType: string): { mediaType: string; digest: string; size: number } {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = sha(buf);
    writeFileSync(join(this.dir, 'blobs', 'sha256', digest.slice(7)), buf);
    return { mediaType, digest, size: buf.length };
  }

  /** Write an image from uncompressed layer tars; returns the manifest descriptor. */
  image(
    tars: readonly Buffer[],
    opts: { arch?: string; variant?: string; config?: object; compress?: 'gzip' | 'none'; manifestExtra?: object } = {},
  ) {
    const compress = opts.compress ?? 'gzip';
    const layers = tars.map((t) =>
      this.blob(
        compress === 'gzip' ? gzipSync(t) : t,
        compress === 'gzip' ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
      ),
    );
    const config = {
      architecture: opts.arch ?? 'amd64',
      os: 'linux',
      ...(opts.variant ? { variant: opts.variant } : {}),
      config: {},
      rootfs: { type: 'layers', diff_ids: tars.map((t) => sha(t)) },
      history: tars.map((_, i) => ({ created_by: `layer ${i}` })),
      ...opts.config,
    };
    const cfg = this.blob(JSON.stringify(config), 'application/vnd.oci.image.config.v1+json');
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: cfg,
      layers,
      ...opts.manifestExtra,
    };
    return this.blob(JSON.stringify(manifest), 'application/vnd.oci.image.manifest.v1+json');
  }

  /** Write an image whose single layer is stored as the given bytes, claiming `tar` as its uncompressed content. */
  rawLayerImage(stored: Buffer, mediaType: string, tar: Buffer) {
    const layer = this.blob(stored, mediaType);
    const config = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(tar)] } };
    const cfg = this.blob(JSON.stringify(config), 'application/vnd.oci.image.config.v1+json');
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: cfg,
      layers: [layer],
    };
    return this.blob(JSON.stringify(manifest), 'application/vnd.oci.image.manifest.v1+json');
  }

  /** Write an image index over manifests with their platforms (a multi-platform image); returns its descriptor. */
  platformIndex(entries: readonly (readonly [manifest: object, platform: object])[]) {
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: entries.map(([manifest, platform]) => ({ ...manifest, platform })),
    };
    return this.blob(JSON.stringify(index), 'application/vnd.oci.image.index.v1+json');
  }

  /** Write index.json naming the given descriptors (with ref names and platforms as given). */
  index(entries: readonly object[]): void {
    writeFileSync(
      join(this.dir, 'index.json'),
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }),
    );
  }
}
