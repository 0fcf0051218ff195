import type { Readable } from 'node:stream';
import { fail } from '../../errors.js';
import { parseDigest, verifyBytes } from '../digest.js';
import type { Descriptor } from '../manifest.js';
import { type DockerReference, formatDockerReference } from '../reference.js';
import type { FetchedManifest, ImageSource } from '../source.js';
import { RegistryClient, type RegistryOptions } from './client.js';
import { RegistryRepository } from './push.js';

/** An image in a registry, read through the distribution API (ref: distribution-spec spec.md). */
class RegistryImageSource implements ImageSource {
  readonly description: string;
  private readonly client: RegistryClient;
  private readonly repo: RegistryRepository;
  private rootManifest: Promise<FetchedManifest> | undefined;

  constructor(
    private readonly ref: DockerReference,
    opts: RegistryOptions,
  ) {
    this.description = `docker://${formatDockerReference(ref)}`;
    this.client = new RegistryClient(ref.registry, opts);
    this.repo = new RegistryRepository(this.client, ref.repository);
  }

  /** Resolve the reference once: a tag is read a single time and everything after uses its digest. */
  root(): Promise<FetchedManifest> {
    this.rootManifest ??= this.fetchManifest(this.ref.digest ?? (this.ref.tag as string), this.ref.digest);
    return this.rootManifest;
  }

  manifest(desc: Descriptor): Promise<FetchedManifest> {
    return this.fetchManifest(desc.digest, desc.digest, desc.size);
  }

  private fetchManifest(reference: string, expected: string | undefined, size?: number): Promise<FetchedManifest> {
    return this.repo.getManifest(reference, {
      ...(expected ? { expected } : {}),
      ...(size !== undefined ? { size } : {}),
    });
  }

  async blob(desc: Descriptor, max: number): Promise<Buffer> {
    if (desc.size > max)
      fail('MANIFEST_TOO_LARGE', `blob ${desc.digest}: ${desc.size} bytes, over the ${max}-byte limit`);
    const what = `blob ${desc.digest} in ${this.ref.repository} on ${this.ref.registry}`;
    const res = await this.client.fetchBody(`/v2/${this.ref.repository}/blobs/${desc.digest}`, this.ref.repository, {
      what,
      maxBytes: max,
    });
    verifyBytes(res.bytes, desc.digest, what);
    return res.bytes;
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
