import type { DockerReference } from '../oci/reference.js';
import { RegistryClient, type RegistryOptions } from '../oci/registry/client.js';
import { RegistryRepository } from '../oci/registry/push.js';
import { openRegistryImage } from '../oci/registry/source.js';
import type { ImageSource } from '../oci/source.js';
import { RegistrySignatureStore } from '../sign/registrystore.js';
import type { SignatureStore } from '../sign/store.js';
import type { GateRefs } from './resolve.js';

/** The registries one gate run talks to; the gate's only I/O besides the advisory database and the record. */
export interface GateRegistries {
  readonly source: RegistryRepository;
  readonly dest: RegistryRepository;
  /** The source image by digest, for the assessment (every read verified against that digest). */
  openSource(digest: string): ImageSource;
  /** Where an approved base image's signatures are: its own repository. */
  baseStore(ref: DockerReference): SignatureStore;
  close(): void;
}

/** How to reach each side: staging, production, and any other registry (an approved base image's). */
export interface GateRegistryOptions {
  readonly source: RegistryOptions;
  readonly dest: RegistryOptions;
  readonly other: RegistryOptions;
}

/** Open clients for a gate run: one per side, and one per other registry a base image lives on. */
export function openGateRegistries(refs: GateRefs, opts: GateRegistryOptions): GateRegistries {
  const clients = new Map<string, RegistryClient>();
  const client = (registry: string, o: RegistryOptions, key: string) => {
    let c = clients.get(key);
    if (!c) {
      c = new RegistryClient(registry, o);
      clients.set(key, c);
    }
    return c;
  };
  const srcClient = client(refs.source.registry, opts.source, 'source');
  const dstClient = client(refs.dest.registry, opts.dest, 'dest');
  return {
    source: new RegistryRepository(srcClient, refs.source.repository),
    dest: new RegistryRepository(dstClient, refs.dest.repository),
    openSource: (digest) =>
      openRegistryImage({ registry: refs.source.registry, repository: refs.source.repository, digest }, opts.source),
    baseStore: (ref) => {
      // A base on staging or production is read with that side's credentials; elsewhere with the shared ones.
      const c =
        ref.registry === refs.source.registry
          ? srcClient
          : ref.registry === refs.dest.registry
            ? dstClient
            : client(ref.registry, opts.other, `other:${ref.registry}`);
      return new RegistrySignatureStore(new RegistryRepository(c, ref.repository));
    },
    close: () => {
      for (const c of clients.values()) c.close();
    },
  };
}
