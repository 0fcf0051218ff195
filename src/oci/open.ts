import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { openDockerArchive } from './dockerarchive.js';
import { openOciArchive, openOciLayout } from './layout.js';
import type { ImageLocation } from './reference.js';
import type { RegistryOptions } from './registry/client.js';
import { openRegistryImage } from './registry/source.js';
import { openSkopeoDir } from './skopeodir.js';
import type { ImageSource } from './source.js';

/** An opened location: an image source, or a plain root file system (`dir:` without image metadata). */
export type Opened =
  | { readonly kind: 'image'; readonly source: ImageSource }
  | { readonly kind: 'rootfs'; readonly path: string };

/** Open any transport. `dir:` is a root file system unless it holds a skopeo `dir:` image copy. */
export async function openLocation(loc: ImageLocation, registry: RegistryOptions = {}): Promise<Opened> {
  switch (loc.transport) {
    case 'docker':
      return { kind: 'image', source: openRegistryImage(loc.ref, registry) };
    case 'oci':
      return { kind: 'image', source: openOciLayout(loc.path, loc.ref) };
    case 'oci-archive':
      return { kind: 'image', source: await openOciArchive(loc.path, loc.ref) };
    case 'docker-archive':
      return { kind: 'image', source: await openDockerArchive(loc.path, loc.ref) };
    case 'dir': {
      // skopeo's own dir: transport writes manifest.json + version; a root file system has neither.
      const isCopy = await stat(join(loc.path, 'version'))
        .then(() => stat(join(loc.path, 'manifest.json')))
        .then(
          () => true,
          () => false,
        );
      return isCopy ? { kind: 'image', source: openSkopeoDir(loc.path) } : { kind: 'rootfs', path: loc.path };
    }
  }
}
