/**
 * Where signature and attestation images are read and written: one repository of an OCI layout or a registry. The
 * signing and verification code talks only to this interface; `layoutstore.ts` implements it for `oci:DIR`, the
 * registry writer for `docker://host/repo`.
 */

/** A manifest as stored: its bytes as read, the digest they were asked by or hash to, the media type it is stored as. */
export interface StoredManifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
}

/** One repository's manifests and blobs, read and written by tag or digest. */
export interface SignatureStore {
  /** Credential-free description for messages, e.g. `oci:./layout` or `docker://host/repo`. */
  readonly description: string;
  /**
   * The manifest a tag (or `sha256:...` digest) names, verified against the digest when asked by digest; undefined
   * when the repository has no such tag or manifest.
   */
  getManifest(ref: string): Promise<StoredManifest | undefined>;
  /**
   * A blob's bytes as stored, at most `max` bytes (more is FILE_TOO_LARGE); NOT_FOUND when absent. Callers check the
   * digest themselves, so a store may verify or not (a tampered blob then reads as DIGEST_MISMATCH or as bytes).
   */
  getBlob(digest: string, max: number): Promise<Buffer>;
  /** Store a blob under its digest; storing one that exists is a no-op. */
  putBlob(bytes: Uint8Array, digest: string): Promise<void>;
  /** Store a manifest and point `tag` at it, replacing what the tag named; returns its digest. */
  putManifest(bytes: Uint8Array, mediaType: string, tag: string): Promise<string>;
}
