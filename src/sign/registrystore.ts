import { verifyBytes } from '../oci/digest.js';
import type { RegistryRepository } from '../oci/registry/push.js';
import type { SignatureStore, StoredManifest } from './store.js';

/**
 * A `SignatureStore` over one registry repository (`docker://host/repo`): signature and attestation images live beside
 * the image under cosign's `sha256-<hex>.sig` / `.att` tags, as `cosign verify` looks for them. Reads are verified by
 * digest (a tag against the registry's Docker-Content-Digest); blobs go up before the manifest that names them.
 */
export class RegistrySignatureStore implements SignatureStore {
  readonly description: string;
  constructor(readonly repo: RegistryRepository) {
    this.description = `docker://${repo}`;
  }

  async getManifest(ref: string): Promise<StoredManifest | undefined> {
    const m = await this.repo.findManifest(ref);
    return m ? { digest: m.digest, mediaType: m.mediaType, bytes: m.bytes } : undefined;
  }

  getBlob(digest: string, max: number): Promise<Buffer> {
    return this.repo.getBlob(digest, max);
  }

  async putBlob(bytes: Uint8Array, digest: string): Promise<void> {
    verifyBytes(bytes, digest, `blob to store in ${this.description}`);
    await this.repo.putBlob(bytes);
  }

  async putManifest(bytes: Uint8Array, mediaType: string, tag: string): Promise<string> {
    return (await this.repo.putManifest(bytes, { reference: tag, mediaType })).digest;
  }
}
