/** Media types of OCI image-spec v1.1 and Docker image manifest v2 schema 2. */
export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** The Accept header for manifest requests: every kind we can read, so the registry never down-converts. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
].join(', ');

export const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.ociIndex, MediaType.dockerManifestList]);
export const IMAGE_MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaType.ociManifest, MediaType.dockerManifest]);
export const CONFIG_TYPES: ReadonlySet<string> = new Set([MediaType.ociConfig, MediaType.dockerConfig]);

/** Layer media types we can read, with the compression they declare (`sniff` = look at the bytes). */
export const LAYER_TYPES: ReadonlyMap<string, 'gzip' | 'zstd' | 'none' | 'sniff'> = new Map([
  [MediaType.ociLayer, 'none'],
  [MediaType.ociLayerGzip, 'gzip'],
  [MediaType.ociLayerZstd, 'zstd'],
  [MediaType.ociLayerNondistGzip, 'gzip'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar', 'none'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', 'zstd'],
  [MediaType.dockerLayerGzip, 'sniff'],
  [MediaType.dockerLayerForeignGzip, 'sniff'],
  // docker save writes plain tars (older Docker versions could gzip them); sniff the bytes.
  [MediaType.dockerLayer, 'sniff'],
]);
