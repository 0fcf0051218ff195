import type { Readable } from 'node:stream';
import { fail, printable } from '../../errors.js';
import { digestOf, parseDigest, verifyBytes } from '../digest.js';
import { type Descriptor, MAX_MANIFEST_BYTES, parseManifest } from '../manifest.js';
import { MANIFEST_ACCEPT } from '../mediatypes.js';
import { type DockerReference, formatDockerReference } from '../reference.js';
import type { FetchedManifest, ImageSource } from '../source.js';
import { RegistryClient, type RegistryOptions } from './client.js';
import { readBody } from './http.js';

/** An image in a registry, read through the distribution API (ref: distribution-spec spec.md). */
class RegistryImageSource implements ImageSource {
  readonly description: string;
  private readonly client: RegistryClient;
  private rootManifest: Promise<FetchedManifest> | undefined;

  constructor(
    private readonly ref: DockerReference,
    opts: RegistryOptions,
  ) {
    this.description = `docker://${formatDockerReference(ref)}`;
    this.client = new RegistryClient(ref.registry, opts);
  }

  /** Resolve the reference once: a tag is read a single time and everything after uses its digest. */
  root(): Promise<FetchedManifest> {
    this.rootManifest ??= this.fetchManifest(this.ref.digest ?? (this.ref.tag as string), this.ref.digest);
    return this.rootManifest;
  }

  manifest(desc: Descriptor): Promise<FetchedManifest> {
    return this.fetchManifest(desc.digest, desc.digest, desc.size);
  }

  private async fetchManifest(
    reference: string,
    expected: string | undefined,
    size?: number,
  ): Promise<FetchedManifest> {
    const what = `manifest ${this.ref.repository}:${printable(reference, 80)} on ${this.ref.registry}`;
    const res = await this.client.fetch(`/v2/${this.ref.repository}/manifests/${reference}`, this.ref.repository, {
      // Without Accept, distribution 404s OCI manifests and down-converts Docker ones to schema 1.
      headers: { accept: MANIFEST_ACCEPT },
      what,
    });
    const bytes = await readBody(res, MAX_MANIFEST_BYTES, what);
    const headerDigest = res.headers['docker-content-digest'] as string | undefined;
    let digest: string;
    if (expected) {
      verifyBytes(bytes, expected, what);
      digest = expected;
    } else {
      const algorithm = headerDigest ? parseDigest(headerDigest, `${what} Docker-Content-Digest`).algorithm : 'sha256';
      digest = digestOf(bytes, algorithm);
      if (headerDigest && headerDigest !== digest) {
        fail('DIGEST_MISMATCH', `${what}: content hashes to ${digest}, the registry says ${headerDigest}`);
      }
    }
    if (size !== undefined && bytes.length !== size)
      fail('SIZE_MISMATCH', `${what}: ${bytes.length} bytes, its descriptor declares ${size}`);
    const contentType = (res.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    if (contentType && !contentType.includes('json')) {
      // A registry that answers an HTML page or plain text for a manifest is broken, not the image.
      fail('REGISTRY_ERROR', `${what}: the registry answered ${printable(contentType, 60)} instead of a manifest`);
    }
    return { digest, bytes, manifest: parseManifest(bytes, `manifest ${digest}`, contentType || undefined) };
  }

  async blob(desc: Descriptor, max: number): Promise<Buffer> {
    if (desc.size > max)
      fail('MANIFEST_TOO_LARGE', `blob ${desc.digest}: ${desc.size} bytes, over the ${max}-byte limit`);
    const what = `blob ${desc.digest} in ${this.ref.repository} on ${this.ref.registry}`;
    const res = await this.client.fetch(`/v2/${this.ref.repository}/blobs/${desc.digest}`, this.ref.repository, {
      what,
    });
    const bytes = await readBody(res, max, what);
    verifyBytes(bytes, desc.digest, what);
    return bytes;
  }

  async openBlob(desc: Descriptor): Promise<Readable> {
    parseDigest(desc.digest, 'blob');
    const what = `blob ${desc.digest} in ${this.ref.repository} on ${this.ref.registry}`;
    const res = await this.client.fetch(`/v2/${this.ref.repository}/blobs/${desc.digest}`, this.ref.repository, {
      what,
    });
    return res.body;
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

/** `docker://host/repo:tag` and plain `host/repo:tag`. */
export function openRegistryImage(ref: DockerReference, opts: RegistryOptions = {}): ImageSource {
  return new RegistryImageSource(ref, opts);
}
